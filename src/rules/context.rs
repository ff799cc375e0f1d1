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

/// The set fields' values, densely, and for every field of the scheme the position of its value
/// (0: missing). A request sets a few dozen of the ~200 fields: building, cloning and dropping
/// a context touches those and a 200-byte index, not a slot per field.
#[derive(Debug, Clone)]
pub struct Context {
    index: [u8; FIELDS.len()],
    values: Vec<Value>,
}

// Positions are stored as u8 + 1.
const _: () = assert!(FIELDS.len() < 256);

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        (0..FIELDS.len()).all(|i| self.slot(i) == other.slot(i))
    }
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
            index: [0; FIELDS.len()],
            values: Vec::new(),
        }
    }

    /// Every request field at its type's zero value (as Cloudflare fills them); response
    /// fields missing.
    pub fn request_defaults() -> Self {
        static ZERO: std::sync::OnceLock<Context> = std::sync::OnceLock::new();
        ZERO.get_or_init(|| {
            let mut ctx = Context::new();
            ctx.values.reserve(FIELDS.len());
            for (i, (name, t)) in FIELDS.iter().enumerate() {
                if !super::scheme::is_response_field(name) {
                    ctx.store(i, t.zero());
                }
            }
            ctx
        })
        .clone()
    }

    #[inline]
    pub(crate) fn slot(&self, i: usize) -> Option<&Value> {
        match self.index.get(i) {
            Some(&at) if at != 0 => self.values.get(usize::from(at) - 1),
            _ => None,
        }
    }

    /// Sets slot `i` (a field id known to exist).
    #[inline]
    fn store(&mut self, i: usize, v: Value) {
        match self.index[i] {
            0 => {
                if self.values.capacity() == 0 {
                    // A request sets a few dozen fields: one allocation instead of five.
                    self.values.reserve(32);
                }
                self.values.push(v);
                // At most FIELDS.len() < 256 values: one per field.
                self.index[i] = self.values.len() as u8;
            }
            at => self.values[usize::from(at) - 1] = v,
        }
    }

    pub fn get(&self, id: FieldId) -> Option<&Value> {
        self.slot(id.0 as usize)
    }

    pub fn get_by_name(&self, name: &str) -> Option<&Value> {
        Scheme::http().field(name).and_then(|id| self.get(id))
    }

    /// The handle of the field called `name`, to set it with [`Context::set_field`] without
    /// looking the name up for every request; an unknown name has a "did you mean".
    pub fn field(name: &str) -> Result<FieldId, FieldError> {
        field(name)
    }

    /// Sets a field through its handle after checking the value's type.
    #[inline]
    pub fn set_field(&mut self, id: FieldId, v: Value) -> Result<(), FieldError> {
        if !id.t().admits(&v) {
            return Err(FieldError::WrongType {
                name: id.name().to_string(),
                ty: id.ty().to_string(),
            });
        }
        self.store(id.0 as usize, v);
        Ok(())
    }

    /// Sets a field after checking the value's type.
    pub fn set(&mut self, name: &str, v: Value) -> Result<(), FieldError> {
        let id = field(name)?;
        if !id.t().admits(&v) {
            return Err(FieldError::WrongType {
                name: name.to_string(),
                ty: id.ty().to_string(),
            });
        }
        self.store(id.0 as usize, v);
        Ok(())
    }

    /// Sets a field known to exist with a value of its type (for the request builder).
    pub(crate) fn put(&mut self, name: &str, v: Value) {
        if let Some(id) = Scheme::http().field(name) {
            debug_assert!(v.has_type(&id.ty()), "{name}");
            self.store(id.0 as usize, v);
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
            self.store(id.0 as usize, v);
        }
        Ok(())
    }
}
