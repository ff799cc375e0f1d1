//! Function availability per phase and use (reference §4.3): the parser accepts every
//! function everywhere; a ruleset's phase then calls for this separate check, a visitor over
//! the parsed expression.

use super::ast::{Call, Expr, Lhs, ValueExpr, Visitor, walk_call};
use super::error::{ErrorKind, RuleError};
use super::functions::Usage;

/// Collects a [`RuleError`] for each call that is not available.
struct Unavailable<'p> {
    usage: Usage,
    phase: Option<&'p str>,
    out: Vec<RuleError>,
}

impl Visitor for Unavailable<'_> {
    fn visit_call(&mut self, at: &Lhs, call: &Call) {
        if let Some(why) = call.func.unavailable(self.usage, self.phase) {
            self.out
                .push(RuleError::new(ErrorKind::NotAvailable, at.span, why));
        }
        walk_call(self, call);
    }
}

/// Every function call in `e` that is not available for `usage` in `phase`, as errors on
/// the call's span.
pub(crate) fn availability(e: &Expr, usage: Usage, phase: Option<&str>) -> Vec<RuleError> {
    let mut v = Unavailable {
        usage,
        phase,
        out: Vec::new(),
    };
    v.visit_expr(e);
    v.out
}

/// [`availability`] for a value expression.
pub(crate) fn value_availability(
    e: &ValueExpr,
    usage: Usage,
    phase: Option<&str>,
) -> Vec<RuleError> {
    let mut v = Unavailable {
        usage,
        phase,
        out: Vec::new(),
    };
    match e {
        ValueExpr::Lhs(l) => v.visit_lhs(l),
        ValueExpr::Bool(b) => v.visit_expr(b),
    }
    v.out
}
