//! Which expressions may be costly to evaluate. A regex that compiles to a large automaton (a
//! big bounded repetition) can take seconds or minutes against a long value once the lazy DFA
//! gives up; projects holding one get their traces evaluated off the async workers with a
//! time budget. A small regex can be slow too: once its lazy DFA gives up (`(?:a|b)*a(?:a|b){30}c`
//! against 1.5 MB of random `a`/`b` takes most of a second), a search costs about the pattern's
//! expanded size times the input's length. [`Cost`] keeps the largest expanded size, so a
//! trace whose input is long enough for that product to matter goes the bounded way too.
//! Everything else evaluates inline, where a trace costs microseconds.

use super::ast::{Arg, Call, Expr, ExprKind, Lhs, Rhs, ValueExpr, Visitor, walk_call, walk_expr};
use super::functions::F;

/// A regex whose compiled program is larger than this is "heavy".
pub(crate) const HEAVY_REGEX_BYTES: usize = 64 * 1024;

fn heavy_regex(src: &str) -> bool {
    regex::bytes::RegexBuilder::new(src)
        .unicode(false)
        .size_limit(HEAVY_REGEX_BYTES)
        .build()
        .is_err()
}

/// Above this product of a regex's expanded size and a request's size, a trace may take
/// longer than a few milliseconds: it runs within the time budget.
pub(crate) const INLINE_WORK: u64 = 20_000_000;

/// What a project's expressions may cost to evaluate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Some regex compiles to a large program: every trace needs the time budget.
    pub(crate) heavy: bool,
    /// The largest expanded size of any regex ([`regex_size`]).
    pub(crate) regex: u64,
}

impl Cost {
    /// Adds a filter's regexes.
    pub(crate) fn add_filter(&mut self, e: &Expr) {
        let mut v = Heavy::default();
        v.visit_expr(e);
        self.heavy |= v.heavy;
        self.regex = self.regex.max(v.size);
    }

    /// Adds a value expression's regexes.
    pub(crate) fn add_value(&mut self, e: &ValueExpr) {
        let mut v = Heavy::default();
        match e {
            ValueExpr::Lhs(l) => v.visit_lhs(l),
            ValueExpr::Bool(b) => v.visit_expr(b),
        }
        self.heavy |= v.heavy;
        self.regex = self.regex.max(v.size);
    }

    /// Whether a trace over `input_bytes()` of request data must run within the time budget
    /// (the size is only computed when the project holds a regex at all).
    pub(crate) fn needs_budget(&self, input_bytes: impl FnOnce() -> usize) -> bool {
        self.heavy
            || (self.regex > 0 && self.regex.saturating_mul(input_bytes() as u64) > INLINE_WORK)
    }
}

/// A regex's expanded size: its literals and classes counted once per repetition they stand
/// in (`a{900}` is 900, `(?:a|b){30}` is 30), unbounded repetitions counted once.
pub(crate) fn regex_size(src: &str) -> u64 {
    use regex_syntax::hir::{Hir, HirKind};
    fn size(h: &Hir) -> u64 {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => 0,
            HirKind::Literal(l) => l.0.len() as u64,
            HirKind::Class(_) => 1,
            HirKind::Repetition(r) => {
                let times = u64::from(r.max.unwrap_or(r.min).max(1));
                size(&r.sub).saturating_mul(times)
            }
            HirKind::Capture(c) => size(&c.sub),
            HirKind::Concat(v) | HirKind::Alternation(v) => {
                v.iter().fold(0u64, |a, h| a.saturating_add(size(h)))
            }
        }
    }
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(src)
        .map_or(src.len() as u64, |h| size(&h))
}

#[derive(Default)]
struct Heavy {
    heavy: bool,
    size: u64,
}

impl Visitor for Heavy {
    fn visit_expr(&mut self, e: &Expr) {
        if let ExprKind::Cmp(_, _, Rhs::Regex(r)) = &e.kind {
            self.heavy |= r.heavy;
            self.size = self.size.max(regex_size(&r.src));
        }
        walk_expr(self, e);
    }

    fn visit_call(&mut self, _at: &Lhs, call: &Call) {
        if call.func.f == F::RegexReplace
            && let Some(Arg::Bytes(p)) = call.args.get(1)
        {
            let p = String::from_utf8_lossy(p);
            self.heavy |= heavy_regex(&p);
            self.size = self.size.max(regex_size(&p));
        }
        walk_call(self, call);
    }
}

/// Whether the filter holds a heavy regex.
#[cfg(test)]
pub(crate) fn is_heavy(e: &Expr) -> bool {
    let mut c = Cost::default();
    c.add_filter(e);
    c.heavy
}

/// Whether the value expression holds a heavy regex.
#[cfg(test)]
pub(crate) fn value_is_heavy(e: &ValueExpr) -> bool {
    let mut c = Cost::default();
    c.add_value(e);
    c.heavy
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Lists, ParseLimits, parse_filter, parse_value};

    #[test]
    fn large_bounded_repetitions_are_heavy() {
        let f =
            |s: &str| is_heavy(&parse_filter(s, &Lists::new(), &ParseLimits::default()).unwrap());
        assert!(f(r#"http.host matches "(?:(?:a{60}){60}){60}""#));
        assert!(!f(
            r#"http.request.uri.path matches "^/(wp-admin|wp-login\.php|xmlrpc\.php)""#
        ));
        assert!(!f(r#"http.host eq "a" and ssl"#));
        let v = parse_value(
            r#"regex_replace(http.request.uri.path, "(?:(?:a{60}){60}){60}", "x")"#,
            &Lists::new(),
            &ParseLimits::default(),
        )
        .unwrap();
        assert!(value_is_heavy(&v));
    }

    #[test]
    fn small_patterns_that_search_slowly_have_a_large_size() {
        // `(?:a|b)` is one class.
        assert_eq!(regex_size("(?:a|b)*a(?:a|b){30}c"), 1 + 1 + 30 + 1);
        assert_eq!(regex_size("a{900}"), 900);
        assert!(regex_size("(?i)(union|select).*from") < 40);
        let c = Cost {
            heavy: false,
            regex: regex_size("(?:a|b)*a(?:a|b){30}c"),
        };
        assert!(!c.needs_budget(|| 4 * 1024));
        assert!(c.needs_budget(|| 1_500_000));
        assert!(!Cost::default().needs_budget(|| unreachable!("no regex, no size")));
    }
}
