//! The execution context: one slot per scheme field, indexed by field id, built once per
//! request. An empty slot is a missing value.

use super::error::FieldError;
use super::scheme::{FIELDS, FieldId, Scheme};
use super::types::Value;

/// The field called `name`, or an error with a "did you mean".
fn field(name: &str) -> Result<FieldId, FieldError> {
    let scheme = Scheme::http();
    scheme.field(name).ok_or_else(|| FieldError::Unknown {
        name: name.to_string(),
        suggestion: crate::text::did_you_mean(name, scheme.names()).map(String::from),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    values: Vec<Option<Value>>,
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl Context {
    /// Every field missing.
    pub fn new() -> Self {
        Context {
            values: vec![None; FIELDS.len()],
        }
    }

    /// Every request field at its type's zero value (as Cloudflare fills them); response
    /// fields missing.
    pub fn request_defaults() -> Self {
        static ZERO: std::sync::OnceLock<Vec<Option<Value>>> = std::sync::OnceLock::new();
        let values = ZERO
            .get_or_init(|| {
                FIELDS
                    .iter()
                    .map(|(name, t)| (!super::scheme::is_response_field(name)).then(|| t.zero()))
                    .collect()
            })
            .clone();
        Context { values }
    }

    #[inline]
    pub(crate) fn slot(&self, i: usize) -> Option<&Value> {
        self.values.get(i).and_then(Option::as_ref)
    }

    pub fn get(&self, id: FieldId) -> Option<&Value> {
        self.slot(id.0 as usize)
    }

    pub fn get_by_name(&self, name: &str) -> Option<&Value> {
        Scheme::http().field(name).and_then(|id| self.get(id))
    }

    /// Sets a field after checking the value's type.
    pub fn set(&mut self, name: &str, v: Value) -> Result<(), FieldError> {
        let id = field(name)?;
        let ty = id.ty();
        if !v.has_type(&ty) {
            return Err(FieldError::WrongType {
                name: name.to_string(),
                ty: ty.to_string(),
            });
        }
        self.values[id.0 as usize] = Some(v);
        Ok(())
    }

    /// Sets a field known to exist with a value of its type (for the request builder).
    pub(crate) fn put(&mut self, name: &str, v: Value) {
        if let Some(id) = Scheme::http().field(name) {
            debug_assert!(v.has_type(&id.ty()), "{name}");
            self.values[id.0 as usize] = Some(v);
        }
    }

    /// Sets fields from a JSON object of name → value (`rulegate eval --fields`).
    pub fn set_json(
        &mut self,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), FieldError> {
        for (name, j) in fields {
            let id = field(name)?;
            let v = Value::from_json(&id.ty(), j).map_err(|reason| FieldError::BadValue {
                name: name.clone(),
                reason,
            })?;
            self.values[id.0 as usize] = Some(v);
        }
        Ok(())
    }
}
