//! Example values that make a filter true, read off its syntax tree: what `rulegate init`
//! turns into a rule's first case. Best effort by design: `and` takes every side, `or` its
//! first side that asks for something, a comparison the value it compares with (a regex's
//! shortest match, a wildcard's literal text, a list's first item, a bound's nearest
//! integer); `not` and `ne` ask for nothing. The caller traces the request to learn whether
//! the rule really matched, and says so when it did not.

use std::net::IpAddr;

use regex_syntax::hir::{Class, Hir, HirKind};

use super::ast::{Arg, Base, CmpOp, Expr, ExprKind, Index, Lhs, LogicOp, Rhs};
use super::lists::List;
use super::{Lists, ParseLimits, parse_filter};

/// One value a filter asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Want {
    /// The field's name (`http.request.uri.path`).
    pub(crate) field: &'static str,
    /// A map key the comparison indexes by (`http.request.headers["x-api-key"]`).
    pub(crate) key: Option<String>,
    pub(crate) value: Sample,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sample {
    Bytes(Vec<u8>),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
}

/// The values that should make `src` true; `None` when it does not parse or can be true for
/// no request (`false`).
pub(crate) fn sample(src: &str, lists: &Lists) -> Option<Vec<Want>> {
    let e = parse_filter(src, lists, &ParseLimits::default()).ok()?;
    let mut out = Vec::new();
    solve(&e, &mut out).then_some(out)
}

fn solve(e: &Expr, out: &mut Vec<Want>) -> bool {
    match &e.kind {
        ExprKind::Logical(LogicOp::And, xs) => xs.iter().all(|x| solve(x, out)),
        ExprKind::Logical(_, xs) => {
            // The first side that asks for something (a side that asks for nothing is true
            // only by luck); failing that, nothing.
            for x in xs {
                let mut t = out.clone();
                if solve(x, &mut t) && t.len() > out.len() {
                    *out = t;
                    return true;
                }
            }
            true
        }
        ExprKind::Not(_) => true,
        ExprKind::Quant { arg, .. } => solve(arg, out),
        ExprKind::Cmp(lhs, op, rhs) => {
            if let Some(v) = wanted(*op, rhs) {
                assign(lhs, v, out);
            }
            true
        }
        ExprKind::Bare(lhs) => {
            bare(lhs, out);
            true
        }
        ExprKind::Lit(b) => *b,
    }
}

/// The value a comparison `op rhs` is true for.
fn wanted(op: CmpOp, rhs: &Rhs) -> Option<Sample> {
    Some(match (op, rhs) {
        (CmpOp::Ne, _) => return None,
        (_, Rhs::Bytes(b)) => Sample::Bytes(b.clone()),
        (CmpOp::Lt, Rhs::Int(n)) => Sample::Int(n.saturating_sub(1)),
        (CmpOp::Gt, Rhs::Int(n)) => Sample::Int(n.saturating_add(1)),
        (_, Rhs::Int(n)) => Sample::Int(*n),
        (_, Rhs::Ip(ip)) => Sample::Ip(*ip),
        (_, Rhs::Regex(r)) => Sample::Bytes(shortest_match(&r.src)?),
        (_, Rhs::Wildcard(p)) => Sample::Bytes(p.segments.concat()),
        (_, Rhs::BytesSet(items)) => Sample::Bytes(items.first()?.clone()),
        (_, Rhs::IntSet(items)) => Sample::Int(items.first()?.0),
        (_, Rhs::IpSet(items)) => Sample::Ip(match items.first()? {
            super::ast::IpItem::Addr(a) | super::ast::IpItem::Cidr(a, _) => *a,
            super::ast::IpItem::Range(a, _) => *a,
        }),
        (_, Rhs::List(l)) => match &*l.list {
            List::Ip(set) => Sample::Ip(set.first()?),
            List::Asn(asns) => Sample::Int(*asns.first()?),
            List::Hostname { exact, suffixes } => Sample::Bytes(
                exact
                    .first()
                    .cloned()
                    .or_else(|| suffixes.first().map(|s| [b"www".as_slice(), s].concat()))?,
            ),
            List::Redirect(items) => Sample::Bytes(items.first()?.source_url.clone().into_bytes()),
        },
    })
}

/// Records `v` for the field under `lhs` (through transformations such as `lower(…)`).
fn assign(lhs: &Lhs, v: Sample, out: &mut Vec<Want>) {
    match &lhs.base {
        Base::Field(id) => {
            let key = lhs.index.iter().find_map(|i| match i {
                Index::Key(k) => Some(String::from_utf8_lossy(k).into_owned()),
                _ => None,
            });
            if !out.iter().any(|w| w.field == id.name() && w.key == key) {
                out.push(Want {
                    field: id.name(),
                    key,
                    value: v,
                });
            }
        }
        Base::Call(c) => {
            // len(…), to_string(…) and the like change the value's kind: only string
            // transformations pass it through.
            let passes = matches!(
                c.func.name,
                "lower" | "upper" | "url_decode" | "remove_bytes" | "decode_base64"
            );
            if let (true, Some(Arg::Lhs(inner))) = (passes, c.args.first()) {
                assign(inner, v, out);
            }
        }
    }
}

/// A bare Bool: a Bool field is `true`; `starts_with(f, "x")`, `ends_with(f, "x")` and
/// `wildcard_replace`-free calls ask `f` for their literal.
fn bare(lhs: &Lhs, out: &mut Vec<Want>) {
    match &lhs.base {
        Base::Field(_) => assign(lhs, Sample::Bool(true), out),
        Base::Call(c) => {
            if let ("starts_with" | "ends_with", Some(Arg::Lhs(f)), Some(Arg::Bytes(b))) =
                (c.func.name, c.args.first(), c.args.get(1))
            {
                assign(f, Sample::Bytes(b.clone()), out);
            }
        }
    }
}

/// The shortest text `pattern` matches (first branch of each alternation, fewest
/// repetitions, first character of each class); `None` when it cannot be read.
fn shortest_match(pattern: &str) -> Option<Vec<u8>> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let mut out = Vec::new();
    walk(&hir, &mut out);
    Some(out)
}

fn walk(h: &Hir, out: &mut Vec<u8>) {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(l) => out.extend_from_slice(&l.0),
        HirKind::Class(Class::Unicode(c)) => {
            if let Some(r) = c.ranges().first() {
                // A printable character where the class has one.
                let ch = c
                    .ranges()
                    .iter()
                    .find_map(|r| (r.start()..=r.end()).find(char::is_ascii_alphanumeric))
                    .unwrap_or(r.start());
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            if let Some(r) = c.ranges().first() {
                let b = c
                    .ranges()
                    .iter()
                    .find_map(|r| (r.start()..=r.end()).find(u8::is_ascii_alphanumeric))
                    .unwrap_or(r.start());
                out.push(b);
            }
        }
        HirKind::Repetition(r) => {
            for _ in 0..r.min.min(64) {
                walk(&r.sub, out);
            }
        }
        HirKind::Capture(c) => walk(&c.sub, out),
        HirKind::Concat(xs) => xs.iter().for_each(|x| walk(x, out)),
        HirKind::Alternation(xs) => {
            if let Some(x) = xs.first() {
                walk(x, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(src: &str) -> Vec<(String, Option<String>, Sample)> {
        sample(src, &Lists::open())
            .unwrap()
            .into_iter()
            .map(|w| (w.field.to_string(), w.key, w.value))
            .collect()
    }

    fn bytes(s: &str) -> Sample {
        Sample::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn conjunctions_ask_for_every_side_and_disjunctions_for_one() {
        assert_eq!(
            wants(
                r#"http.request.uri.path eq "/login" and http.request.method eq "POST" and cf.bot_management.score lt 30"#
            ),
            vec![
                ("http.request.uri.path".into(), None, bytes("/login")),
                ("http.request.method".into(), None, bytes("POST")),
                ("cf.bot_management.score".into(), None, Sample::Int(29)),
            ]
        );
        assert_eq!(
            wants(r#"not ip.src in {192.0.2.0/24} or http.host eq "a.example""#),
            vec![("http.host".into(), None, bytes("a.example"))]
        );
    }

    #[test]
    fn functions_regexes_wildcards_sets_and_keys() {
        assert_eq!(
            wants(r#"starts_with(lower(http.request.uri.path), "/admin")"#),
            vec![("http.request.uri.path".into(), None, bytes("/admin"))]
        );
        assert_eq!(
            wants(r#"http.request.uri.path matches "^/api/v[0-9]+/users$""#),
            vec![("http.request.uri.path".into(), None, bytes("/api/v0/users"))]
        );
        assert_eq!(
            wants(r#"http.request.full_uri wildcard "https://*.example.com/*""#),
            vec![(
                "http.request.full_uri".into(),
                None,
                bytes("https://.example.com/")
            )]
        );
        assert_eq!(
            wants(
                r#"ip.src.country in {"CN" "RU"} and any(http.request.headers["x-debug"][*] eq "1")"#
            ),
            vec![
                ("ip.src.country".into(), None, bytes("CN")),
                (
                    "http.request.headers".into(),
                    Some("x-debug".into()),
                    bytes("1")
                ),
            ]
        );
        assert_eq!(
            wants(r#"ip.src in {203.0.113.0/24}"#),
            vec![(
                "ip.src".into(),
                None,
                Sample::Ip("203.0.113.0".parse().unwrap())
            )]
        );
    }

    #[test]
    fn false_and_unparsable_filters_have_no_sample() {
        assert!(sample("false", &Lists::open()).is_none());
        assert!(sample("http.host eq", &Lists::open()).is_none());
        assert_eq!(wants("true"), vec![]);
    }
}
