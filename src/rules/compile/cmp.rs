//! Comparison tests and short literals: the right-hand side of a comparison, pre-built
//! (memmem finders, compiled regexes, sorted sets, literals short enough to live in the node).

use std::net::IpAddr;
use std::sync::Arc;

use memchr::memmem;

use super::super::ast::*;
use super::super::lists::{self, IpSet, List};
use super::super::types::Value;
use super::super::wildcard::Pattern;

/// A byte literal short enough to live in the node itself, so that comparing with it reads
/// no other memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Short {
    pub(super) len: u8,
    pub(super) bytes: [u8; Short::MAX],
}

impl Short {
    const MAX: usize = 21;

    pub(super) fn new(b: &[u8]) -> Option<Short> {
        let mut bytes = [0; Short::MAX];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Short {
            len: b.len() as u8,
            bytes,
        })
    }

    #[inline]
    pub(super) fn get(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Equality, deciding most unequal pairs by length and first byte without a call.
    #[inline]
    pub(super) fn is(&self, v: &[u8]) -> bool {
        v.len() == usize::from(self.len)
            && v.first().is_none_or(|b| *b == self.bytes[0])
            && same_short(self.get(), v)
    }
}

/// Equality of two slices of the same, short length, in at most three word compares instead
/// of a call to `memcmp`.
#[inline]
pub(super) fn same_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let w4 = |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        17..=24 => w8(a, 0) == w8(b, 0) && w8(a, 8) == w8(b, 8) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

/// Whether `needle` (short) occurs in `hay`: candidates by its first byte, then compared. With
/// `caseless`, `needle` is lowercase and `hay` is compared ignoring ASCII case.
#[inline]
pub(super) fn contains_short(hay: &[u8], needle: &[u8], caseless: bool) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    let upper = if caseless {
        first.to_ascii_uppercase()
    } else {
        first
    };
    let mut at = 0;
    let find = |h: &[u8]| {
        if upper == first {
            memchr::memchr(first, h)
        } else {
            memchr::memchr2(first, upper, h)
        }
    };
    while let Some(i) = find(&hay[at..=last]) {
        let p = at + i;
        let candidate = &hay[p + 1..p + needle.len()];
        if caseless {
            if candidate.eq_ignore_ascii_case(rest) {
                return true;
            }
        } else if same_short(candidate, rest) {
            return true;
        }
        at = p + 1;
        if at > last {
            break;
        }
    }
    false
}

#[derive(Debug, Clone)]
pub(super) enum Test {
    /// `lower(field) eq/ne/contains/in` literals without capitals (see [`caseless`]).
    CaselessEq(Short),
    CaselessNe(Short),
    CaselessContains(Short),
    CaselessIn(Box<[Box<[u8]>]>),
    /// `starts_with(field, …)` / `ends_with(field, …)` (see [`affix`]).
    StartsWith(Short),
    EndsWith(Short),
    EqShort(Short),
    NeShort(Short),
    ContainsShort(Short),
    BytesEq(Box<[u8]>),
    BytesNe(Box<[u8]>),
    BytesOrd(CmpOp, Box<[u8]>),
    Contains(Box<memmem::Finder<'static>>),
    Matches(Arc<regex::bytes::Regex>),
    Wildcard(Box<Pattern>, bool),
    BytesIn(Box<[Box<[u8]>]>),
    IntOrd(CmpOp, i64),
    IntIn(Box<[(i64, i64)]>),
    BitAnd(i64),
    IpEq(IpAddr),
    IpNe(IpAddr),
    IpIn(Box<IpSet>),
    List(Arc<List>),
}

/// Sets of strings this small are scanned; larger ones are searched.
pub(super) const SMALL_SET: usize = 8;

pub(super) fn ord<T: Ord + ?Sized>(op: CmpOp, a: &T, b: &T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        _ => false,
    }
}

impl Test {
    pub(super) fn cost(&self) -> u32 {
        match self {
            Test::IntOrd(..) | Test::IntIn(_) | Test::BitAnd(_) | Test::IpEq(_) | Test::IpNe(_) => {
                2
            }
            Test::EqShort(_) | Test::NeShort(_) | Test::CaselessEq(_) | Test::CaselessNe(_) => 2,
            Test::CaselessIn(_) => 5,
            Test::StartsWith(_) | Test::EndsWith(_) => 3,
            Test::CaselessContains(_) => 9,
            Test::BytesEq(_) | Test::BytesNe(_) | Test::BytesOrd(..) => 3,
            Test::ContainsShort(_) => 7,
            Test::IpIn(_) => 4,
            Test::BytesIn(set) if set.len() <= SMALL_SET => 4,
            Test::BytesIn(_) | Test::List(_) => 6,
            Test::Contains(_) => 8,
            Test::Wildcard(..) => 12,
            Test::Matches(_) => 50,
        }
    }

    #[inline]
    pub(super) fn eval(&self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Bytes(v)) => self.eval_bytes(v),
            (Test::IntOrd(op, i), Value::Int(v)) => ord(*op, v, i),
            (Test::IntIn(r), Value::Int(v)) => lists::int_ranges_contain(r, *v),
            (Test::BitAnd(i), Value::Int(v)) => v & i != 0,
            (Test::IpEq(ip), Value::Ip(v)) => ip == v,
            (Test::IpNe(ip), Value::Ip(v)) => ip != v,
            (Test::IpIn(s), Value::Ip(v)) => s.contains(v),
            (Test::List(l), Value::Ip(v)) => l.contains_ip(v),
            (Test::List(l), Value::Int(v)) => l.contains_int(*v),
            _ => false,
        }
    }

    /// The test on a Bytes value.
    #[inline]
    pub(super) fn eval_bytes(&self, v: &[u8]) -> bool {
        match self {
            Test::StartsWith(s) => v.starts_with(s.get()),
            Test::EndsWith(s) => v.ends_with(s.get()),
            Test::CaselessEq(s) => s.get().eq_ignore_ascii_case(v),
            Test::CaselessNe(s) => !s.get().eq_ignore_ascii_case(v),
            Test::CaselessContains(s) => contains_short(v, s.get(), true),
            Test::CaselessIn(set) => set.iter().any(|x| x.eq_ignore_ascii_case(v)),
            Test::EqShort(s) => s.is(v),
            Test::NeShort(s) => !s.is(v),
            Test::ContainsShort(s) => contains_short(v, s.get(), false),
            Test::BytesEq(b) => **b == *v,
            Test::BytesNe(b) => **b != *v,
            Test::BytesOrd(op, b) => ord(*op, v, b),
            Test::Contains(f) => f.find(v).is_some(),
            Test::Matches(re) => re.is_match(v),
            Test::Wildcard(p, ci) => p.is_match(v, *ci),
            Test::BytesIn(set) if set.len() <= SMALL_SET => {
                set.iter().any(|x| x.len() == v.len() && same_short(x, v))
            }
            Test::BytesIn(set) => set.binary_search_by(|x| (**x).cmp(v)).is_ok(),
            Test::List(l) => l.contains_host(v),
            _ => false,
        }
    }
}
