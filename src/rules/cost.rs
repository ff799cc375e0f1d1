//! Which expressions may be costly to evaluate. A regex that compiles to a large automaton (a
//! big bounded repetition) can take seconds or minutes against a long value once the lazy DFA
//! gives up; projects holding one get their traces evaluated off the async workers with a
//! time budget. Everything else evaluates inline, where a trace costs microseconds.

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

#[derive(Default)]
struct Heavy(bool);

impl Visitor for Heavy {
    fn visit_expr(&mut self, e: &Expr) {
        if let ExprKind::Cmp(_, _, Rhs::Regex(r)) = &e.kind
            && r.heavy
        {
            self.0 = true;
        }
        walk_expr(self, e);
    }

    fn visit_call(&mut self, _at: &Lhs, call: &Call) {
        if call.func.f == F::RegexReplace
            && let Some(Arg::Bytes(p)) = call.args.get(1)
            && heavy_regex(&String::from_utf8_lossy(p))
        {
            self.0 = true;
        }
        walk_call(self, call);
    }
}

/// Whether the filter holds a heavy regex.
pub(crate) fn is_heavy(e: &Expr) -> bool {
    let mut v = Heavy::default();
    v.visit_expr(e);
    v.0
}

/// Whether the value expression holds a heavy regex.
pub(crate) fn value_is_heavy(e: &ValueExpr) -> bool {
    let mut v = Heavy::default();
    v.visit_lhs(&e.lhs);
    v.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Lists, Settings, parse_filter, parse_value};

    #[test]
    fn large_bounded_repetitions_are_heavy() {
        let f = |s: &str| is_heavy(&parse_filter(s, &Lists::new(), &Settings::default()).unwrap());
        assert!(f(r#"http.host matches "(?:(?:a{60}){60}){60}""#));
        assert!(!f(
            r#"http.request.uri.path matches "^/(wp-admin|wp-login\.php|xmlrpc\.php)""#
        ));
        assert!(!f(r#"http.host eq "a" and ssl"#));
        let v = parse_value(
            r#"regex_replace(http.request.uri.path, "(?:(?:a{60}){60}){60}", "x")"#,
            &Lists::new(),
            &Settings::default(),
        )
        .unwrap();
        assert!(value_is_heavy(&v));
    }
}
