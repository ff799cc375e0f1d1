//! Evaluating an expression whatever it is: a filter (Bool) or a value expression, as
//! `rulegate eval` and the conformance table do.

use serde_json::Value as J;

use super::{Context, ErrorKind, Lists, ParseLimits, RuleError};

/// What an expression evaluated to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Filter(bool),
    /// A value expression's value; `None` when it is missing.
    Value(Option<super::Value>),
}

impl Answer {
    /// The answer as `eval` prints it.
    pub(crate) fn to_json(&self) -> J {
        match self {
            Answer::Filter(b) => J::Bool(*b),
            Answer::Value(Some(v)) => v.to_json(),
            Answer::Value(None) => J::Null,
        }
    }
}

/// Parses `expr` as a filter, or, if it is not Bool-typed, as a value expression.
pub(crate) fn evaluate(expr: &str, ctx: &Context, lists: &Lists) -> Result<Answer, RuleError> {
    let settings = ParseLimits::default();
    match super::parse_filter(expr, lists, &settings) {
        Ok(e) => Ok(Answer::Filter(super::Filter::new(&e).execute(ctx))),
        Err(filter_err) => match super::parse_value(expr, lists, &settings) {
            Ok(v @ super::ast::ValueExpr::Lhs(_)) if !matches!(&v, super::ast::ValueExpr::Lhs(l) if matches!(l.ty, super::Type::Bool)) => {
                Ok(Answer::Value(super::ValueProgram::new(&v).eval(ctx)))
            }
            // A lone field or call that is not a condition: the value parser's error says more.
            Err(value_err)
                if filter_err.kind == ErrorKind::NotCondition
                    && value_err.kind == ErrorKind::BadIndex =>
            {
                Err(value_err)
            }
            _ => Err(filter_err),
        },
    }
}
