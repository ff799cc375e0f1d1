//! Functions (reference §4.1, all but `bit_slice`): signatures with argument kinds (field vs
//! literal), arity and types, availability by use and phase (§4.3) as data; the
//! implementations with their missing-value behaviour are in [`imp`].

mod imp;

#[cfg(test)]
pub(crate) use imp::hmac_sha256;
pub(crate) use imp::{Prepared, call, replacement_refs, url_decode};

use super::types::Type;

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
const RESPONSE: &[&str] = &[
    "http_response_headers_transform",
    "http_custom_errors",
    "http_response_cache_settings",
];

use Kind::{Any as A, Field as Fd, Literal as L};

/// A function with every parameter required, usable in filters and values in every phase;
/// entries below override what differs by name (`FuncDef { optional: 1, ..func(…) }`).
const fn func(name: &'static str, f: F, params: &'static [Param], ret: Ret) -> FuncDef {
    FuncDef {
        name,
        f,
        params,
        optional: 0,
        variadic: false,
        ret,
        in_filter: true,
        in_value: true,
        phases: &[],
    }
}

/// Every function. `any` and `all` are syntax (see the parser), not entries here.
pub(crate) static FUNCTIONS: &[FuncDef] = &[
    FuncDef {
        variadic: true,
        ..func(
            "concat",
            F::Concat,
            &[p("value", A, PTy::BytesOrArray), p("value", A, PTy::First)],
            Ret::First,
        )
    },
    func(
        "len",
        F::Len,
        &[p("value", Fd, PTy::BytesOrArray)],
        Ret::Int,
    ),
    func("lower", F::Lower, &[p("value", Fd, PTy::Bytes)], Ret::Bytes),
    func("upper", F::Upper, &[p("value", Fd, PTy::Bytes)], Ret::Bytes),
    func(
        "starts_with",
        F::StartsWith,
        &[p("source", Fd, PTy::Bytes), p("substring", L, PTy::Bytes)],
        Ret::Bool,
    ),
    func(
        "ends_with",
        F::EndsWith,
        &[p("source", Fd, PTy::Bytes), p("substring", L, PTy::Bytes)],
        Ret::Bool,
    ),
    FuncDef {
        optional: 1,
        ..func(
            "substring",
            F::Substring,
            &[
                p("field", Fd, PTy::Bytes),
                p("start", L, PTy::Int),
                p("end", L, PTy::Int),
            ],
            Ret::Bytes,
        )
    },
    FuncDef {
        optional: 1,
        ..func(
            "url_decode",
            F::UrlDecode,
            &[p("source", Fd, PTy::Bytes), p("options", L, PTy::Bytes)],
            Ret::Bytes,
        )
    },
    FuncDef {
        variadic: true,
        ..func(
            "lookup_json_string",
            F::LookupJsonString,
            &[p("field", Fd, PTy::Bytes), p("key", L, PTy::BytesOrInt)],
            Ret::Bytes,
        )
    },
    FuncDef {
        variadic: true,
        ..func(
            "lookup_json_integer",
            F::LookupJsonInteger,
            &[p("field", Fd, PTy::Bytes), p("key", L, PTy::BytesOrInt)],
            Ret::Int,
        )
    },
    func(
        "remove_bytes",
        F::RemoveBytes,
        &[p("field", Fd, PTy::Bytes), p("bytes", L, PTy::Bytes)],
        Ret::Bytes,
    ),
    FuncDef {
        phases: CUSTOM_RL_TRANSFORM,
        ..func(
            "decode_base64",
            F::DecodeBase64,
            &[p("source", Fd, PTy::Bytes)],
            Ret::Bytes,
        )
    },
    FuncDef {
        optional: 1,
        in_filter: false,
        phases: REWRITE,
        ..func(
            "encode_base64",
            F::EncodeBase64,
            &[p("input", A, PTy::Bytes), p("flags", L, PTy::Bytes)],
            Ret::Bytes,
        )
    },
    FuncDef {
        in_filter: false,
        phases: REWRITE,
        ..func(
            "sha256",
            F::Sha256,
            &[p("input", A, PTy::Bytes)],
            Ret::Bytes,
        )
    },
    FuncDef {
        phases: CUSTOM_RL,
        ..func(
            "cidr",
            F::Cidr,
            &[
                p("address", Fd, PTy::Ip),
                p("ipv4_network_bits", L, PTy::Int),
                p("ipv6_network_bits", L, PTy::Int),
            ],
            Ret::Ip,
        )
    },
    FuncDef {
        phases: CUSTOM_RL,
        ..func(
            "cidr6",
            F::Cidr6,
            &[
                p("address", Fd, PTy::Ip),
                p("ipv6_network_bits", L, PTy::Int),
            ],
            Ret::Ip,
        )
    },
    FuncDef {
        phases: JOIN_PHASES,
        ..func(
            "join",
            F::Join,
            &[
                p("items", Fd, PTy::ArrayBytes),
                p("separator", L, PTy::Bytes),
            ],
            Ret::Bytes,
        )
    },
    FuncDef {
        phases: RESPONSE,
        ..func(
            "split",
            F::Split,
            &[
                p("input", A, PTy::Bytes),
                p("separator", L, PTy::Bytes),
                p("limit", L, PTy::Int),
            ],
            Ret::ArrayBytes,
        )
    },
    FuncDef {
        in_filter: false,
        phases: REWRITE_REDIRECT,
        ..func(
            "regex_replace",
            F::RegexReplace,
            &[
                p("source", A, PTy::Bytes),
                p("regular_expression", L, PTy::Bytes),
                p("replacement", L, PTy::Bytes),
            ],
            Ret::Bytes,
        )
    },
    FuncDef {
        optional: 1,
        in_filter: false,
        phases: REWRITE_REDIRECT,
        ..func(
            "wildcard_replace",
            F::WildcardReplace,
            &[
                p("source", Fd, PTy::Bytes),
                p("wildcard_pattern", L, PTy::Bytes),
                p("replacement", L, PTy::Bytes),
                p("flags", L, PTy::Bytes),
            ],
            Ret::Bytes,
        )
    },
    FuncDef {
        variadic: true,
        in_filter: false,
        phases: REWRITE,
        ..func(
            "remove_query_args",
            F::RemoveQueryArgs,
            &[p("field", Fd, PTy::Bytes), p("query_param", L, PTy::Bytes)],
            Ret::Bytes,
        )
    },
    FuncDef {
        in_filter: false,
        phases: REWRITE_REDIRECT,
        ..func(
            "to_string",
            F::ToString,
            &[p("value", A, PTy::IntBoolIp)],
            Ret::Bytes,
        )
    },
    FuncDef {
        in_filter: false,
        phases: REWRITE,
        ..func(
            "uuidv4",
            F::Uuidv4,
            &[p("source", A, PTy::Bytes)],
            Ret::Bytes,
        )
    },
    FuncDef {
        optional: 2,
        ..func(
            "is_timed_hmac_valid_v0",
            F::IsTimedHmacValidV0,
            &[
                p("key", L, PTy::Bytes),
                p("message_mac", Fd, PTy::Bytes),
                p("ttl", L, PTy::Int),
                p("current_timestamp", A, PTy::Int),
                p("separator_length", L, PTy::Int),
                p("flags", L, PTy::Bytes),
            ],
            Ret::Bool,
        )
    },
    func(
        "has_key",
        F::HasKey,
        &[p("map", Fd, PTy::AnyMap), p("key", L, PTy::Bytes)],
        Ret::Bool,
    ),
    func(
        "has_value",
        F::HasValue,
        &[p("array", Fd, PTy::ArrayBytes), p("value", L, PTy::Bytes)],
        Ret::Bool,
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
