//! Functions (reference §4.1, all but `bit_slice`): signatures with argument kinds (field vs
//! literal), arity and types, availability by use and phase (§4.3) as data, and the
//! implementations with their missing-value behaviour.

use std::borrow::Cow;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::types::{Type, Value};
use super::wildcard::Pattern;

/// Whether an argument must be a literal, must not be one, or may be either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Not a literal: a field, call or expression ("cannot be a literal" in the docs).
    Field,
    Literal,
    Any,
}

/// Argument types a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PTy {
    Bytes,
    Int,
    Ip,
    ArrayBytes,
    AnyMap,
    BytesOrArray,
    BytesOrInt,
    IntBoolIp,
    /// The type of the first argument (concat).
    First,
}

impl PTy {
    pub fn accepts(self, t: &Type, first: Option<&Type>) -> bool {
        match self {
            PTy::Bytes => *t == Type::Bytes,
            PTy::Int => *t == Type::Int,
            PTy::Ip => *t == Type::Ip,
            PTy::ArrayBytes => *t == Type::array(Type::Bytes),
            PTy::AnyMap => matches!(t, Type::Map(_)),
            PTy::BytesOrArray => matches!(t, Type::Bytes | Type::Array(_)),
            PTy::BytesOrInt => matches!(t, Type::Bytes | Type::Int),
            PTy::IntBoolIp => matches!(t, Type::Int | Type::Bool | Type::Ip),
            PTy::First => first == Some(t),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            PTy::Bytes => "Bytes",
            PTy::Int => "Int",
            PTy::Ip => "Ip",
            PTy::ArrayBytes => "Array<Bytes>",
            PTy::AnyMap => "a Map",
            PTy::BytesOrArray => "Bytes or an Array",
            PTy::BytesOrInt => "Bytes or Int",
            PTy::IntBoolIp => "Int, Bool or Ip",
            PTy::First => "the first argument's type",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub ty: PTy,
}

const fn p(name: &'static str, kind: Kind, ty: PTy) -> Param {
    Param { name, kind, ty }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Bytes,
    Int,
    Bool,
    Ip,
    ArrayBytes,
    First,
}

/// Which function, for dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F {
    Concat,
    Len,
    Lower,
    Upper,
    StartsWith,
    EndsWith,
    Substring,
    UrlDecode,
    LookupJsonString,
    LookupJsonInteger,
    RemoveBytes,
    DecodeBase64,
    EncodeBase64,
    Sha256,
    Cidr,
    Cidr6,
    Join,
    Split,
    RegexReplace,
    WildcardReplace,
    RemoveQueryArgs,
    ToString,
    Uuidv4,
    IsTimedHmacValidV0,
    HasKey,
    HasValue,
}

/// Where a function may be used (reference §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Filter,
    Value,
}

/// A function's signature and availability.
#[derive(Debug, PartialEq, Eq)]
pub struct FuncDef {
    pub name: &'static str,
    pub f: F,
    pub params: &'static [Param],
    /// Trailing parameters that may be left out.
    pub optional: usize,
    /// The last parameter repeats without limit.
    pub variadic: bool,
    pub ret: Ret,
    pub in_filter: bool,
    pub in_value: bool,
    /// Phases where it is available; empty: all.
    pub phases: &'static [&'static str],
}

const CUSTOM_RL: &[&str] = &["http_request_firewall_custom", "http_ratelimit"];
const CUSTOM_RL_TRANSFORM: &[&str] = &[
    "http_request_firewall_custom",
    "http_ratelimit",
    "http_request_transform",
    "http_request_late_transform",
    "http_response_headers_transform",
];
const JOIN_PHASES: &[&str] = &[
    "http_request_firewall_custom",
    "http_request_transform",
    "http_request_late_transform",
    "http_response_headers_transform",
    "http_custom_errors",
];
const REWRITE: &[&str] = &[
    "http_request_transform",
    "http_request_late_transform",
    "http_response_headers_transform",
];
const REWRITE_REDIRECT: &[&str] = &[
    "http_request_transform",
    "http_request_late_transform",
    "http_response_headers_transform",
    "http_request_dynamic_redirect",
];
const RESPONSE: &[&str] = &["http_response_headers_transform", "http_custom_errors"];

use Kind::{Any as A, Field as Fd, Literal as L};

macro_rules! def {
    ($name:literal, $f:ident, [$($param:expr),*], $opt:expr, $var:expr, $ret:ident, $filter:expr, $value:expr, $phases:expr) => {
        FuncDef { name: $name, f: F::$f, params: &[$($param),*], optional: $opt, variadic: $var, ret: Ret::$ret, in_filter: $filter, in_value: $value, phases: $phases }
    };
}

/// Every function. `any` and `all` are syntax (see the parser), not entries here.
pub(crate) static FUNCTIONS: &[FuncDef] = &[
    def!(
        "concat",
        Concat,
        [p("value", A, PTy::BytesOrArray), p("value", A, PTy::First)],
        0,
        true,
        First,
        true,
        true,
        &[]
    ),
    def!(
        "len",
        Len,
        [p("value", Fd, PTy::BytesOrArray)],
        0,
        false,
        Int,
        true,
        true,
        &[]
    ),
    def!(
        "lower",
        Lower,
        [p("value", Fd, PTy::Bytes)],
        0,
        false,
        Bytes,
        true,
        true,
        &[]
    ),
    def!(
        "upper",
        Upper,
        [p("value", Fd, PTy::Bytes)],
        0,
        false,
        Bytes,
        true,
        true,
        &[]
    ),
    def!(
        "starts_with",
        StartsWith,
        [p("source", Fd, PTy::Bytes), p("substring", L, PTy::Bytes)],
        0,
        false,
        Bool,
        true,
        true,
        &[]
    ),
    def!(
        "ends_with",
        EndsWith,
        [p("source", Fd, PTy::Bytes), p("substring", L, PTy::Bytes)],
        0,
        false,
        Bool,
        true,
        true,
        &[]
    ),
    def!(
        "substring",
        Substring,
        [
            p("field", Fd, PTy::Bytes),
            p("start", L, PTy::Int),
            p("end", L, PTy::Int)
        ],
        1,
        false,
        Bytes,
        true,
        true,
        &[]
    ),
    def!(
        "url_decode",
        UrlDecode,
        [p("source", Fd, PTy::Bytes), p("options", L, PTy::Bytes)],
        1,
        false,
        Bytes,
        true,
        true,
        &[]
    ),
    def!(
        "lookup_json_string",
        LookupJsonString,
        [p("field", Fd, PTy::Bytes), p("key", L, PTy::BytesOrInt)],
        0,
        true,
        Bytes,
        true,
        true,
        &[]
    ),
    def!(
        "lookup_json_integer",
        LookupJsonInteger,
        [p("field", Fd, PTy::Bytes), p("key", L, PTy::BytesOrInt)],
        0,
        true,
        Int,
        true,
        true,
        &[]
    ),
    def!(
        "remove_bytes",
        RemoveBytes,
        [p("field", Fd, PTy::Bytes), p("bytes", L, PTy::Bytes)],
        0,
        false,
        Bytes,
        true,
        true,
        &[]
    ),
    def!(
        "decode_base64",
        DecodeBase64,
        [p("source", Fd, PTy::Bytes)],
        0,
        false,
        Bytes,
        true,
        true,
        CUSTOM_RL_TRANSFORM
    ),
    def!(
        "encode_base64",
        EncodeBase64,
        [p("input", A, PTy::Bytes), p("flags", L, PTy::Bytes)],
        1,
        false,
        Bytes,
        false,
        true,
        REWRITE
    ),
    def!(
        "sha256",
        Sha256,
        [p("input", A, PTy::Bytes)],
        0,
        false,
        Bytes,
        false,
        true,
        REWRITE
    ),
    def!(
        "cidr",
        Cidr,
        [
            p("address", Fd, PTy::Ip),
            p("ipv4_network_bits", L, PTy::Int),
            p("ipv6_network_bits", L, PTy::Int)
        ],
        0,
        false,
        Ip,
        true,
        true,
        CUSTOM_RL
    ),
    def!(
        "cidr6",
        Cidr6,
        [
            p("address", Fd, PTy::Ip),
            p("ipv6_network_bits", L, PTy::Int)
        ],
        0,
        false,
        Ip,
        true,
        true,
        CUSTOM_RL
    ),
    def!(
        "join",
        Join,
        [
            p("items", Fd, PTy::ArrayBytes),
            p("separator", L, PTy::Bytes)
        ],
        0,
        false,
        Bytes,
        true,
        true,
        JOIN_PHASES
    ),
    def!(
        "split",
        Split,
        [
            p("input", A, PTy::Bytes),
            p("separator", L, PTy::Bytes),
            p("limit", L, PTy::Int)
        ],
        0,
        false,
        ArrayBytes,
        true,
        true,
        RESPONSE
    ),
    def!(
        "regex_replace",
        RegexReplace,
        [
            p("source", A, PTy::Bytes),
            p("regular_expression", L, PTy::Bytes),
            p("replacement", L, PTy::Bytes)
        ],
        0,
        false,
        Bytes,
        false,
        true,
        REWRITE_REDIRECT
    ),
    def!(
        "wildcard_replace",
        WildcardReplace,
        [
            p("source", Fd, PTy::Bytes),
            p("wildcard_pattern", L, PTy::Bytes),
            p("replacement", L, PTy::Bytes),
            p("flags", L, PTy::Bytes)
        ],
        1,
        false,
        Bytes,
        false,
        true,
        REWRITE_REDIRECT
    ),
    def!(
        "remove_query_args",
        RemoveQueryArgs,
        [p("field", Fd, PTy::Bytes), p("query_param", L, PTy::Bytes)],
        0,
        true,
        Bytes,
        false,
        true,
        REWRITE
    ),
    def!(
        "to_string",
        ToString,
        [p("value", A, PTy::IntBoolIp)],
        0,
        false,
        Bytes,
        false,
        true,
        REWRITE_REDIRECT
    ),
    def!(
        "uuidv4",
        Uuidv4,
        [p("source", A, PTy::Bytes)],
        0,
        false,
        Bytes,
        false,
        true,
        REWRITE
    ),
    def!(
        "is_timed_hmac_valid_v0",
        IsTimedHmacValidV0,
        [
            p("key", L, PTy::Bytes),
            p("message_mac", Fd, PTy::Bytes),
            p("ttl", L, PTy::Int),
            p("current_timestamp", A, PTy::Int),
            p("separator_length", L, PTy::Int),
            p("flags", L, PTy::Bytes)
        ],
        2,
        false,
        Bool,
        true,
        true,
        &[]
    ),
    def!(
        "has_key",
        HasKey,
        [p("map", Fd, PTy::AnyMap), p("key", L, PTy::Bytes)],
        0,
        false,
        Bool,
        true,
        true,
        &[]
    ),
    def!(
        "has_value",
        HasValue,
        [p("array", Fd, PTy::ArrayBytes), p("value", L, PTy::Bytes)],
        0,
        false,
        Bool,
        true,
        true,
        &[]
    ),
];

pub(crate) fn lookup(name: &str) -> Option<&'static FuncDef> {
    FUNCTIONS.iter().find(|d| d.name == name)
}

impl FuncDef {
    pub fn min_args(&self) -> usize {
        self.params.len() - self.optional
    }

    /// `None`: unbounded.
    pub fn max_args(&self) -> Option<usize> {
        (!self.variadic).then_some(self.params.len())
    }

    /// The parameter for argument `i` (variadic functions repeat their last one).
    pub fn param(&self, i: usize) -> Option<&Param> {
        self.params.get(i).or_else(|| {
            if self.variadic {
                self.params.last()
            } else {
                None
            }
        })
    }

    pub fn return_type(&self, first: Option<&Type>) -> Type {
        match self.ret {
            Ret::Bytes => Type::Bytes,
            Ret::Int => Type::Int,
            Ret::Bool => Type::Bool,
            Ret::Ip => Type::Ip,
            Ret::ArrayBytes => Type::array(Type::Bytes),
            Ret::First => first.cloned().unwrap_or(Type::Bytes),
        }
    }

    /// Why the function is unavailable for this use and phase, if it is.
    pub fn unavailable(&self, usage: Usage, phase: Option<&str>) -> Option<String> {
        if usage == Usage::Filter && !self.in_filter {
            return Some(format!(
                "{} is only allowed in value (rewrite) expressions, not in a filter",
                self.name
            ));
        }
        if let Some(ph) = phase
            && !self.phases.is_empty()
            && !self.phases.contains(&ph)
        {
            return Some(format!(
                "{} is not available in phase {ph} (only in {})",
                self.name,
                self.phases.join(", ")
            ));
        }
        None
    }
}

/// Literal arguments compiled once: a regex or a wildcard pattern.
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    None,
    Regex(regex::bytes::Regex),
    Wildcard(Pattern, bool),
}

type Arg<'a> = Option<Cow<'a, Value>>;

fn bytes<'a>(a: &'a Arg<'_>) -> Option<&'a [u8]> {
    match a.as_deref()? {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn int(a: &Arg<'_>) -> Option<i64> {
    match a.as_deref()? {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// Calls `f`. A missing required input gives a missing result (except `concat`).
pub(crate) fn call(f: F, args: &[Arg<'_>], prep: &Prepared) -> Option<Value> {
    let b = |i: usize| args.get(i).and_then(bytes);
    let n = |i: usize| args.get(i).and_then(int);
    Some(match f {
        F::Concat => return concat(args),
        F::Len => match args.first()?.as_deref()? {
            Value::Bytes(v) => Value::Int(v.len() as i64),
            Value::Array(v) => Value::Int(v.len() as i64),
            _ => return None,
        },
        F::Lower => Value::Bytes(b(0)?.to_ascii_lowercase()),
        F::Upper => Value::Bytes(b(0)?.to_ascii_uppercase()),
        F::StartsWith => Value::Bool(b(0)?.starts_with(b(1)?)),
        F::EndsWith => Value::Bool(b(0)?.ends_with(b(1)?)),
        F::Substring => {
            let s = b(0)?;
            let len = s.len() as i64;
            let fix = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
            let start = fix(n(1)?);
            let end = if args.len() > 2 { fix(n(2)?) } else { len };
            Value::Bytes(if start < end {
                s[start as usize..end as usize].to_vec()
            } else {
                Vec::new()
            })
        }
        F::UrlDecode => {
            let opts = if args.len() > 1 { b(1)? } else { b"" };
            Value::Bytes(url_decode(
                b(0)?,
                opts.contains(&b'r'),
                opts.contains(&b'u'),
            ))
        }
        F::LookupJsonString => match lookup_json(b(0)?, &args[1..])? {
            serde_json::Value::String(s) => Value::Bytes(s.into_bytes()),
            _ => return None,
        },
        F::LookupJsonInteger => match lookup_json(b(0)?, &args[1..])? {
            serde_json::Value::Number(num) => Value::Int(num.as_i64()?),
            _ => return None,
        },
        F::RemoveBytes => {
            let drop = b(1)?;
            Value::Bytes(
                b(0)?
                    .iter()
                    .copied()
                    .filter(|c| !drop.contains(c))
                    .collect(),
            )
        }
        F::DecodeBase64 => Value::Bytes(decode_base64(b(0)?)?),
        F::EncodeBase64 => {
            let flags = if args.len() > 1 { b(1)? } else { b"" };
            let url = flags.contains(&b'u');
            let pad = flags.contains(&b'p');
            use base64::engine::general_purpose as g;
            let text = match (url, pad) {
                (false, false) => g::STANDARD_NO_PAD.encode(b(0)?),
                (false, true) => g::STANDARD.encode(b(0)?),
                (true, false) => g::URL_SAFE_NO_PAD.encode(b(0)?),
                (true, true) => g::URL_SAFE.encode(b(0)?),
            };
            Value::Bytes(text.into_bytes())
        }
        F::Sha256 => Value::Bytes(Sha256::digest(b(0)?).to_vec()),
        F::Cidr | F::Cidr6 => {
            let Value::Ip(ip) = args.first()?.as_deref()? else {
                return None;
            };
            let (v4, v6) = if f == F::Cidr {
                (n(1)?, n(2)?)
            } else {
                (32, n(1)?)
            };
            let bits = if ip.is_ipv4() { v4 } else { v6 };
            Value::Ip(super::lists::cidr_bounds(*ip, bits as u8).0)
        }
        F::Join => {
            let Value::Array(items) = args.first()?.as_deref()? else {
                return None;
            };
            let sep = b(1)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(sep);
                }
                out.extend_from_slice(item.as_bytes()?);
            }
            Value::Bytes(out)
        }
        F::Split => {
            let (s, sep, limit) = (b(0)?, b(1)?, n(2)?.max(1) as usize);
            let mut parts = Vec::new();
            let mut rest = s;
            while parts.len() + 1 < limit {
                match memchr::memmem::find(rest, sep) {
                    Some(i) => {
                        parts.push(Value::Bytes(rest[..i].to_vec()));
                        rest = &rest[i + sep.len()..];
                    }
                    None => break,
                }
            }
            parts.push(Value::Bytes(rest.to_vec()));
            Value::Array(parts)
        }
        F::RegexReplace => {
            let Prepared::Regex(re) = prep else {
                return None;
            };
            Value::Bytes(regex_replace(re, b(0)?, b(2)?))
        }
        F::WildcardReplace => {
            let Prepared::Wildcard(p, ci) = prep else {
                return None;
            };
            let src = b(0)?;
            match p.captures(src, *ci) {
                Some(caps) => Value::Bytes(expand(b(2)?, |i| caps.get(i.wrapping_sub(1)).copied())),
                None => Value::Bytes(src.to_vec()),
            }
        }
        F::RemoveQueryArgs => {
            let names: Vec<&[u8]> = args[1..].iter().filter_map(bytes).collect();
            let kept: Vec<&[u8]> = b(0)?
                .split(|c| *c == b'&')
                .filter(|kv| {
                    let name = kv.split(|c| *c == b'=').next().unwrap_or(kv);
                    !names.contains(&name)
                })
                .collect();
            Value::Bytes(kept.join(&b'&'))
        }
        F::ToString => Value::Bytes(match args.first()?.as_deref()? {
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Bool(v) => v.to_string().into_bytes(),
            Value::Ip(ip) => ip.to_string().into_bytes(),
            _ => return None,
        }),
        F::Uuidv4 => Value::Bytes(uuidv4(b(0)?).into_bytes()),
        F::IsTimedHmacValidV0 => {
            let sep = if args.len() > 4 { n(4)? } else { 0 };
            let flags = if args.len() > 5 { b(5)? } else { b"" };
            Value::Bool(hmac_valid(
                b(0)?,
                b(1)?,
                n(2)?,
                n(3)?,
                sep,
                flags.contains(&b's'),
            ))
        }
        F::HasKey => match args.first()?.as_deref()? {
            Value::Map(m) => Value::Bool(m.contains_key(b(1)?)),
            _ => return None,
        },
        F::HasValue => match args.first()?.as_deref()? {
            Value::Array(a) => Value::Bool(
                a.iter()
                    .any(|v| v.as_bytes() == Some(b(1).unwrap_or_default())),
            ),
            _ => return None,
        },
    })
}

fn concat(args: &[Arg<'_>]) -> Option<Value> {
    let present: Vec<&Value> = args.iter().filter_map(|a| a.as_deref()).collect();
    match present.first()? {
        Value::Bytes(_) => Some(Value::Bytes(
            present
                .iter()
                .filter_map(|v| v.as_bytes())
                .flatten()
                .copied()
                .collect(),
        )),
        Value::Array(_) => Some(Value::Array(
            present
                .iter()
                .filter_map(|v| match v {
                    Value::Array(a) => Some(a.iter().cloned()),
                    _ => None,
                })
                .flatten()
                .collect(),
        )),
        _ => None,
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `%XX` and `+` decoding; `u` also decodes `%uXXXX` to UTF-8; `r` repeats until stable.
pub(crate) fn url_decode(s: &[u8], recursive: bool, unicode: bool) -> Vec<u8> {
    let mut cur = decode_once(s, unicode);
    if recursive {
        for _ in 0..16 {
            let next = decode_once(&cur, unicode);
            if next == cur {
                break;
            }
            cur = next;
        }
    }
    cur
}

fn decode_once(s: &[u8], unicode: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if unicode && matches!(s.get(i + 1), Some(b'u' | b'U')) && i + 6 <= s.len() => {
                let code = s[i + 2..i + 6]
                    .iter()
                    .try_fold(0u32, |acc, c| Some(acc * 16 + hex(*c)? as u32));
                match code.and_then(char::from_u32) {
                    Some(ch) => {
                        let mut buf = [0; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += 6;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'%' => {
                match (
                    s.get(i + 1).copied().and_then(hex),
                    s.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn lookup_json(doc: &[u8], keys: &[Arg<'_>]) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(doc).ok()?;
    for k in keys {
        v = match (k.as_deref()?, v) {
            (Value::Bytes(name), serde_json::Value::Object(mut o)) => {
                o.remove(std::str::from_utf8(name).ok()?)?
            }
            (Value::Int(i), serde_json::Value::Array(mut a)) => {
                let i = usize::try_from(*i).ok()?;
                if i >= a.len() {
                    return None;
                }
                a.swap_remove(i)
            }
            _ => return None,
        };
    }
    Some(v)
}

fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::general_purpose as g;
    let t: Vec<u8> = s
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    g::STANDARD
        .decode(&t)
        .or_else(|_| g::STANDARD_NO_PAD.decode(&t))
        .or_else(|_| g::URL_SAFE.decode(&t))
        .or_else(|_| g::URL_SAFE_NO_PAD.decode(&t))
        .ok()
}

/// Expands `${N}` (1–9) and `$$` in a replacement; other text is copied.
pub(crate) fn expand<'v>(rep: &[u8], group: impl Fn(usize) -> Option<&'v [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(rep.len());
    let mut i = 0;
    while i < rep.len() {
        if rep[i] == b'$' {
            if rep.get(i + 1) == Some(&b'$') {
                out.push(b'$');
                i += 2;
                continue;
            }
            if rep.get(i + 1) == Some(&b'{')
                && let Some(end) = rep[i + 2..].iter().position(|c| *c == b'}')
                && let Ok(n) = std::str::from_utf8(&rep[i + 2..i + 2 + end])
                    .unwrap_or("x")
                    .parse::<usize>()
            {
                out.extend_from_slice(group(n).unwrap_or_default());
                i += 3 + end;
                continue;
            }
        }
        out.push(rep[i]);
        i += 1;
    }
    out
}

/// The `${N}` references in a replacement, or an error for a malformed one.
pub(crate) fn replacement_refs(rep: &[u8]) -> Result<Vec<usize>, &'static str> {
    let mut refs = Vec::new();
    let mut i = 0;
    while i < rep.len() {
        if rep[i] == b'$' {
            match rep.get(i + 1) {
                Some(b'$') => {
                    i += 2;
                    continue;
                }
                Some(b'{') => {
                    let end = rep[i + 2..]
                        .iter()
                        .position(|c| *c == b'}')
                        .ok_or("`${` without `}` in the replacement")?;
                    let n = std::str::from_utf8(&rep[i + 2..i + 2 + end])
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|n| (1..=8).contains(n))
                        .ok_or("replacement references are ${1} to ${8}")?;
                    refs.push(n);
                    i += 3 + end;
                    continue;
                }
                _ => {
                    return Err("a lone `$` in the replacement: write `$$` for a dollar sign");
                }
            }
        }
        i += 1;
    }
    Ok(refs)
}

fn regex_replace(re: &regex::bytes::Regex, src: &[u8], rep: &[u8]) -> Vec<u8> {
    match re.captures(src) {
        None => src.to_vec(),
        Some(c) => {
            let m = c.get(0).expect("group 0");
            let mut out = src[..m.start()].to_vec();
            out.extend(expand(rep, |i| c.get(i).map(|g| g.as_bytes())));
            out.extend_from_slice(&src[m.end()..]);
            out
        }
    }
}

/// A version-4 UUID from the first 16 bytes of `seed` (zero-padded), so the result is
/// reproducible for a given `cf.random_seed`.
fn uuidv4(seed: &[u8]) -> String {
    let mut b = [0u8; 16];
    for (i, c) in seed.iter().take(16).enumerate() {
        b[i] = *c;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `message<sep><10-digit timestamp>-<base64 MAC>`; the MAC is HMAC-SHA256(key, message ‖
/// timestamp). UNCERTAIN (reference §4.2): the exact MAC input and expiry comparison.
fn hmac_valid(key: &[u8], mm: &[u8], ttl: i64, now: i64, sep_len: i64, url_safe: bool) -> bool {
    let Some(dash) = mm.iter().rposition(|c| *c == b'-') else {
        return false;
    };
    if dash < 10 || mm.len() - dash - 1 < 43 {
        return false;
    }
    let ts_bytes = &mm[dash - 10..dash];
    if !ts_bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(msg_end) = (dash - 10).checked_sub(sep_len.max(0) as usize) else {
        return false;
    };
    if msg_end == 0 {
        return false;
    }
    let ts: i64 = std::str::from_utf8(ts_bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MAX);
    let mac_text = &mm[dash + 1..];
    use base64::engine::general_purpose as g;
    let mac = if url_safe {
        g::URL_SAFE_NO_PAD.decode(mac_text).ok()
    } else {
        g::STANDARD.decode(url_decode(mac_text, false, false)).ok()
    };
    let Some(mac) = mac else { return false };
    let mut input = mm[..msg_end].to_vec();
    input.extend_from_slice(ts_bytes);
    mac == hmac_sha256(key, &input) && now.saturating_sub(ts) <= ttl
}
