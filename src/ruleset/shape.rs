//! The shape of the trace the local engine emits, in one place so it can follow the live API
//! once real traces are captured. UNCERTAIN (reference cloudflare-apis §1.4): the `type`
//! values `phase` and `ruleset`/`rule`, `step_name` holding the phase name / ruleset id / rule
//! id, and the nesting phase → ruleset → rule → executed ruleset are the best-known guess.

use crate::trace::TraceItem;

use super::model::{Rule, Ruleset};

/// A phase step; its children are the entry points evaluated in it.
pub(crate) fn phase(name: &str) -> TraceItem {
    TraceItem {
        kind_of_step: Some("phase".into()),
        step_name: Some(name.into()),
        matched: Some(false),
        ..Default::default()
    }
}

/// A ruleset step; its children are the rules evaluated in it.
pub(crate) fn ruleset(rs: &Ruleset) -> TraceItem {
    TraceItem {
        kind_of_step: Some("ruleset".into()),
        step_name: Some(rs.id.clone()),
        name: rs.name.clone(),
        kind: Some(rs.kind.clone()),
        description: rs.description.clone(),
        matched: Some(false),
        ..Default::default()
    }
}

/// A rule step with the action that applied (after overrides).
pub(crate) fn rule(
    r: &Rule,
    index: usize,
    action: &str,
    matched: bool,
    show_expression: bool,
) -> TraceItem {
    TraceItem {
        kind_of_step: Some("rule".into()),
        step_name: Some(r.step_name(index)),
        description: r.description.clone(),
        expression: if show_expression {
            r.expression.clone()
        } else {
            None
        },
        action: Some(action.into()),
        action_parameters: r.action_parameters.clone(),
        matched: Some(matched),
        ..Default::default()
    }
}

/// A phase or ruleset step with only what a behaviour reads (its name, under which its
/// children sit): the lean evaluation's.
pub(crate) fn lean_step(name: &str) -> TraceItem {
    TraceItem {
        step_name: Some(name.into()),
        matched: Some(false),
        ..Default::default()
    }
}

/// A matched rule step with only what a behaviour reads (its name and action): the lean
/// evaluation's.
pub(crate) fn matched_rule(r: &Rule, index: usize, action: &str) -> TraceItem {
    TraceItem {
        step_name: Some(r.step_name(index)),
        action: Some(action.into()),
        matched: Some(true),
        ..Default::default()
    }
}

/// An `execute` of a managed ruleset that cannot be evaluated offline: no children.
pub(crate) fn opaque_ruleset(id: &str, name: &str) -> TraceItem {
    TraceItem {
        kind_of_step: Some("ruleset".into()),
        step_name: Some(id.into()),
        name: Some(name.into()),
        kind: Some("managed".into()),
        matched: Some(false),
        ..Default::default()
    }
}
