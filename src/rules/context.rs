//! The execution context: the value of each field a request sets, found by field id, built
//! once per request. A field not set is a missing value.

use std::sync::OnceLock;

use super::error::FieldError;
use super::scheme::{FIELDS, FieldId, Scheme, T};
use super::types::Value;

/// The field called `name`, or an error with a "did you mean".
fn field(name: &str) -> Result<FieldId, FieldError> {
    let scheme = Scheme::http();
    scheme.field(name).ok_or_else(|| FieldError::Unknown {
        name: name.to_string(),
        suggestion: crate::text::did_you_mean(name, scheme.names()).map(String::from),
    })
}

fn wrong_type(id: FieldId) -> FieldError {
    FieldError::WrongType {
        name: id.name().to_string(),
        ty: id.ty().to_string(),
    }
}

/// The set fields' values, densely, and for every field of the scheme the position of its value
/// (0: missing). A request sets a few dozen of the ~200 fields: building, cloning and dropping
/// a context touches those and a 200-byte index, not a slot per field. Bytes set with
/// [`Context::set_bytes`] are copied into one arena instead of one allocation each.
#[derive(Debug, Clone)]
pub struct Context {
    /// Fields not set read as their type's zero value (request fields only), as the Trace
    /// API fills them: a flag, not ~150 values to build and drop per request.
    zero_defaults: bool,
    index: [u8; FIELDS.len()],
    values: Vec<Slot>,
    arena: Vec<u8>,
    /// Arena Bytes made `Value`s and derived values, by position in `values`: only when
    /// something asks for one (a function call, an index, [`Context::get`]); comparisons read
    /// arena bytes in place. Allocated on the first such request.
    made: OnceLock<Box<[OnceLock<Value>]>>,
}

/// A value, or Bytes in the arena, or a value derived from other fields when first read (32
/// bytes either way).
#[derive(Debug, Clone)]
enum Slot {
    Value(Value),
    Bytes { start: u32, end: u32 },
    Derived(Derive),
}

/// A field whose value is computed from other fields of the context the first time something
/// reads it: the maps of headers, cookies and query arguments, and the accepted languages,
/// which cost more to build than most rules cost to evaluate, and which most requests never
/// reach a rule reading. Computed by `request::derive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derive {
    /// `http.request.headers`, from the header names and values.
    HeaderMap,
    /// `http.request.cookies`, from `http.cookie`.
    Cookies,
    /// `http.request.accepted_languages`, from the Accept-Language header.
    Languages,
    /// The query arguments (`raw.` when `raw`), from the query.
    Args { raw: bool, part: ArgsPart },
}

/// Which of the argument fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgsPart {
    Map,
    Names,
    Values,
}

/// A field's value as a comparison reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ref<'a> {
    Bytes(&'a [u8]),
    Value(&'a Value),
}

/// Each request field's zero value (response fields: none), shared by every context with
/// `zero_defaults`.
static ZEROS: std::sync::LazyLock<Vec<Option<Slot>>> = std::sync::LazyLock::new(|| {
    FIELDS
        .iter()
        .map(|(name, t)| (!super::scheme::is_response_field(name)).then(|| Slot::Value(t.zero())))
        .collect()
});

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
            zero_defaults: false,
            index: [0; FIELDS.len()],
            values: Vec::new(),
            arena: Vec::new(),
            made: OnceLock::new(),
        }
    }

    /// Every request field at its type's zero value (as Cloudflare fills them); response
    /// fields missing.
    pub fn request_defaults() -> Self {
        Context {
            zero_defaults: true,
            ..Context::new()
        }
    }

    #[inline]
    fn entry(&self, i: usize) -> Option<&Slot> {
        match self.index.get(i) {
            Some(&at) if at != 0 => self.values.get(usize::from(at) - 1),
            Some(_) if self.zero_defaults => ZEROS.get(i)?.as_ref(),
            _ => None,
        }
    }

    /// The cell of the value made for the slot at `pos` (in `values`).
    #[inline]
    fn made_at(&self, pos: usize) -> Option<&OnceLock<Value>> {
        self.made
            .get_or_init(|| (0..self.values.len()).map(|_| OnceLock::new()).collect())
            .get(pos)
    }

    #[inline]
    pub(crate) fn slot(&self, i: usize) -> Option<&Value> {
        match self.entry(i)? {
            Slot::Value(v) => Some(v),
            Slot::Derived(d) => {
                let pos = usize::from(self.index[i]) - 1;
                Some(
                    self.made_at(pos)?
                        .get_or_init(|| super::request::derive(self, *d)),
                )
            }
            Slot::Bytes { start, end } => {
                let pos = usize::from(self.index[i]) - 1;
                let bytes = self.arena.get(*start as usize..*end as usize);
                Some(
                    self.made_at(pos)?
                        .get_or_init(|| Value::Bytes(bytes.unwrap_or_default().to_vec())),
                )
            }
        }
    }

    /// The value of field `i` for a comparison: Bytes as a slice wherever they are kept.
    #[inline]
    pub(crate) fn slot_ref(&self, i: usize) -> Option<Ref<'_>> {
        match self.entry(i)? {
            Slot::Value(Value::Bytes(b)) => Some(Ref::Bytes(b)),
            Slot::Value(v) => Some(Ref::Value(v)),
            Slot::Derived(d) => {
                let pos = usize::from(self.index[i]) - 1;
                Some(Ref::Value(
                    self.made_at(pos)?
                        .get_or_init(|| super::request::derive(self, *d)),
                ))
            }
            Slot::Bytes { start, end } => Some(Ref::Bytes(
                self.arena
                    .get(*start as usize..*end as usize)
                    .unwrap_or_default(),
            )),
        }
    }

    /// Sets a Bytes field through its handle, copying `b` into the context's arena.
    #[inline]
    pub fn set_bytes(&mut self, id: FieldId, b: &[u8]) -> Result<(), FieldError> {
        if id.t() != T::B {
            return Err(wrong_type(id));
        }
        if self.arena.capacity() == 0 {
            self.arena.reserve(1024);
        }
        let start = self.arena.len();
        let end = start + b.len();
        // Offsets are u32: past 4 GiB of fields, a value of its own.
        let slot = match (u32::try_from(start), u32::try_from(end)) {
            (Ok(start), Ok(end)) => {
                self.arena.extend_from_slice(b);
                Slot::Bytes { start, end }
            }
            _ => Slot::Value(Value::Bytes(b.to_vec())),
        };
        self.store(id.0 as usize, slot);
        Ok(())
    }

    /// Sets slot `i` (a field id known to exist).
    #[inline]
    fn store(&mut self, i: usize, v: Slot) {
        match self.index[i] {
            0 => {
                // Made values are kept by position: a new position makes the table short.
                if self.made.get().is_some() {
                    self.made = OnceLock::new();
                }
                if self.values.capacity() == 0 {
                    // A request sets a few dozen fields: one allocation instead of five.
                    self.values.reserve(32);
                }
                self.values.push(v);
                // At most FIELDS.len() < 256 values: one per field.
                self.index[i] = self.values.len() as u8;
            }
            at => {
                let pos = usize::from(at) - 1;
                // A value made from the field's earlier Bytes is stale now.
                if let Some(made) = self.made.get_mut()
                    && let Some(old) = made.get_mut(pos)
                {
                    *old = OnceLock::new();
                }
                self.values[pos] = v;
            }
        }
    }

    /// Whether field `id` holds a value (is not missing).
    pub fn is_set(&self, id: FieldId) -> bool {
        self.entry(id.0 as usize).is_some()
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
            return Err(wrong_type(id));
        }
        self.store(id.0 as usize, Slot::Value(v));
        Ok(())
    }

    /// Sets a field by name after checking the value's type.
    pub fn set(&mut self, name: &str, v: Value) -> Result<(), FieldError> {
        self.set_field(field(name)?, v)
    }

    /// Sets a Bytes field by name, copying `b` into the context's arena (no allocation of its
    /// own): the by-name path for callers that read values from somewhere else.
    pub fn set_bytes_named(&mut self, name: &str, b: &[u8]) -> Result<(), FieldError> {
        self.set_bytes(field(name)?, b)
    }

    /// Makes field `id` derived: computed from the other fields when first read.
    #[inline]
    pub(crate) fn derive(&mut self, id: FieldId, d: Derive) {
        self.store(id.0 as usize, Slot::Derived(d));
    }

    /// Sets a field the request builder names (through its handle) with a value of its type.
    /// The types are the builder's own, so a mismatch is a bug: it stops the program in every
    /// build (and the tests, which build every field), never a field silently left wrong.
    #[inline]
    pub(crate) fn put(&mut self, id: FieldId, v: Value) {
        assert!(
            id.t().admits(&v),
            "request builder bug: `{}` set with a value of the wrong type",
            id.name()
        );
        self.store(id.0 as usize, Slot::Value(v));
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
            self.store(id.0 as usize, Slot::Value(v));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile_filter;

    #[test]
    fn bytes_in_the_arena_read_like_values() {
        let host = Context::field("http.host").unwrap();
        let path = Context::field("http.request.uri.path").unwrap();
        let mut a = Context::new();
        a.set_bytes(host, b"www.example.com").unwrap();
        a.set_bytes(path, b"/old").unwrap();
        // Made a Value before being set again: the new bytes are read.
        assert_eq!(a.get(path), Some(&Value::bytes("/old")));
        a.set_bytes(path, b"/admin/users").unwrap();
        let mut b = Context::new();
        b.set_field(path, Value::bytes("/admin/users")).unwrap();
        b.set_field(host, Value::bytes("www.example.com")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get(path), Some(&Value::bytes("/admin/users")));
        let lists = crate::rules::Lists::new();
        for (expr, want) in [
            (r#"http.host eq "www.example.com""#, true),
            (r#"http.request.uri.path contains "admin""#, true),
            (r#"http.request.uri.path eq "/old""#, false),
            (r#"starts_with(http.request.uri.path, "/admin")"#, true),
            (r#"lower(http.host) wildcard "*.EXAMPLE.com""#, true),
        ] {
            let f = compile_filter(expr, &lists).unwrap();
            assert_eq!(f.execute(&a), want, "{expr}");
            assert_eq!(f.execute(&b), want, "{expr}");
        }
    }

    #[test]
    fn a_slot_is_no_larger_than_a_value() {
        assert!(size_of::<Slot>() <= size_of::<Value>());
    }

    #[test]
    fn set_bytes_refuses_other_types() {
        let port = Context::field("cf.edge.server_port").unwrap();
        let err = Context::new().set_bytes(port, b"443").unwrap_err();
        assert!(err.to_string().contains("cf.edge.server_port"), "{err}");
        assert!(Context::field("http.hots").is_err());
    }
}
