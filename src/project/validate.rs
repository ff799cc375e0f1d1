//! Checks of suites against the project they test: every rule selector of `matched` /
//! `not_matched` names something in the project's rulesets. A typo there would fail a
//! `matched` case for the wrong reason, and silently pass a `not_matched` one.

use std::collections::HashSet;

use super::Project;
use crate::diag::Diagnostic;
use crate::ruleset::{MANAGED_RULESETS, phases};
use crate::suite::Suite;
use crate::text::suggestion;

/// Resolves every selector that is a rule's `ref` to that rule's id, once at load: a trace
/// names rules by id, and expectations then compare ids.
pub(crate) fn resolve_selectors(suites: &mut [Suite], project: &Project) {
    for case in suites.iter_mut().flat_map(|s| s.cases.iter_mut()) {
        for sel in case
            .expect
            .matched
            .iter_mut()
            .chain(case.expect.not_matched.iter_mut())
        {
            sel.rule_id = project.book.refs.get(&sel.name).cloned();
        }
    }
}

/// A diagnostic, with a caret under the selector, for each selector that names nothing.
pub(crate) fn unknown_selectors(suites: &[Suite], project: &Project) -> Vec<Diagnostic> {
    let mut known: HashSet<&str> = phases::all().collect();
    known.extend(MANAGED_RULESETS.iter().map(|(id, _)| *id));
    // Exactly what a selector can select in a trace (`TraceView::selected`): a step's name
    // (phase, ruleset id, rule id), a description, or a rule's ref; not a ruleset's name.
    for rs in &project.book.rulesets {
        known.insert(&rs.ruleset.id);
        known.extend(rs.ruleset.description.as_deref());
        for r in &rs.rules {
            known.extend(r.rule.id.as_deref());
            known.extend(r.rule.reference.as_deref());
            known.extend(r.rule.description.as_deref());
        }
    }
    // The emulated OWASP rules: by CRS id or `id: message`, as their steps are named.
    let mut emulated: Vec<String> = Vec::new();
    if let Some(crs) = &project.book.crs {
        for i in 0..crs.len() {
            let r = crs.rule(i);
            if r.scored {
                emulated.push(r.id.to_string());
                emulated.push(format!("{}: {}", r.id, r.msg.unwrap_or("")));
            }
        }
        emulated.push(crate::ruleset::owasp::SCORE_RULE_CRS_ID.to_string());
        emulated.push(format!(
            "{}: Inbound Anomaly Score Exceeded",
            crate::ruleset::owasp::SCORE_RULE_CRS_ID
        ));
    }
    known.extend(emulated.iter().map(String::as_str));
    let mut out = Vec::new();
    for suite in suites {
        for case in &suite.cases {
            for (key, sels) in [
                ("matched", &case.expect.matched),
                ("not_matched", &case.expect.not_matched),
            ] {
                for sel in sels.iter().filter(|s| !known.contains(s.name.as_str())) {
                    out.push(
                        Diagnostic::new(
                            &suite.file,
                            sel.pos,
                            format!(
                                "case `{}`: `{key}` names `{sel}`, which is no rule in the project",
                                case.name
                            ),
                        )
                        .label("no such rule")
                        .maybe_hint(suggestion(&sel.name, known.iter().copied()))
                        .hint_or(
                            "a selector is a rule id, ref or exact description from the project's rulesets (or an emulated OWASP rule's CRS id)",
                        ),
                    );
                }
            }
        }
    }
    out
}
