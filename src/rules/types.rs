//! The language's types and runtime values (reference §3.1).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::error::ValueError;

/// A type: scalars, and arrays and maps that nest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bytes,
    Int,
    Bool,
    Ip,
    Array(Box<Type>),
    Map(Box<Type>),
}

impl Type {
    pub fn array(t: Type) -> Type {
        Type::Array(Box::new(t))
    }

    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }

    /// The element type of an array or map.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::Array(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bytes => f.write_str("Bytes"),
            Type::Int => f.write_str("Int"),
            Type::Bool => f.write_str("Bool"),
            Type::Ip => f.write_str("Ip"),
            Type::Array(t) => write!(f, "Array<{t}>"),
            Type::Map(t) => write!(f, "Map<{t}>"),
        }
    }
}

/// A runtime value. Maps are ordered by key bytes, as wirefilter's are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bytes(Vec<u8>),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    Array(Vec<Value>),
    Map(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(b.into())
    }

    /// An array of byte strings.
    pub fn strings<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        Value::Array(items.into_iter().map(|s| Value::Bytes(s.into())).collect())
    }

    /// True when the value has type `t` (checked deeply for arrays and maps).
    pub fn has_type(&self, t: &Type) -> bool {
        match (self, t) {
            (Value::Bytes(_), Type::Bytes)
            | (Value::Int(_), Type::Int)
            | (Value::Bool(_), Type::Bool)
            | (Value::Ip(_), Type::Ip) => true,
            (Value::Array(a), Type::Array(e)) => a.iter().all(|v| v.has_type(e)),
            (Value::Map(m), Type::Map(e)) => m.values().all(|v| v.has_type(e)),
            _ => false,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value as JSON, the form `rulegate eval` prints: Bytes as strings (lossy UTF-8),
    /// Ip as text, maps as objects.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
            Value::Int(i) => J::from(*i),
            Value::Bool(b) => J::Bool(*b),
            Value::Ip(ip) => J::String(ip.to_string()),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Reads a value of type `t` from JSON: Bytes from strings, Int from integers, Ip from
    /// strings, arrays from arrays, maps from objects. A scalar where an array is expected
    /// is taken as a one-element array, so `{"x": "a"}` works for `Map<Array<Bytes>>`.
    pub fn from_json(t: &Type, j: &serde_json::Value) -> Result<Value, ValueError> {
        use serde_json::Value as J;
        match (t, j) {
            (Type::Bytes, J::String(s)) => Ok(Value::Bytes(s.as_bytes().to_vec())),
            (Type::Int, J::Number(n)) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| ValueError::NotI64(n.to_string())),
            (Type::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Ip, J::String(s)) => s
                .parse::<IpAddr>()
                .map(Value::Ip)
                .map_err(|_| ValueError::NotIp(s.clone())),
            (Type::Array(e), J::Array(a)) => a
                .iter()
                .map(|x| Value::from_json(e, x))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            (Type::Array(e), scalar) if !matches!(scalar, J::Object(_) | J::Null) => {
                Ok(Value::Array(vec![Value::from_json(e, scalar)?]))
            }
            (Type::Map(e), J::Object(o)) => o
                .iter()
                .map(|(k, v)| Ok((k.as_bytes().to_vec(), Value::from_json(e, v)?)))
                .collect::<Result<_, ValueError>>()
                .map(Value::Map),
            (t, j) => Err(ValueError::Expected {
                expected: t.to_string(),
                got: json_kind(j),
            }),
        }
    }
}

fn json_kind(j: &serde_json::Value) -> &'static str {
    match j {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
