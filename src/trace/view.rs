//! [`TraceView`]: the whole trace tree walked depth-first into a flat list of [`Step`]s, so
//! expectations never depend on depth or exact layout (design §4). Unknown `type` values are kept.

use std::sync::Arc;

use super::wire::{TraceItem, TraceResult};

/// Actions that end the request when their rule matches. Kept as data: if the live API shows
/// another terminating action, add it here.
pub(crate) const TERMINATING_ACTIONS: &[&str] = &[
    "block",
    "challenge",
    "js_challenge",
    "managed_challenge",
    "redirect",
    "serve_error",
];

/// The phase whose rules never end a single traced request.
pub(crate) const RATE_LIMIT_PHASE: &str = "http_ratelimit";

/// Every action named by the Rulesets API reference (§3.4), for "did you mean" on `action:`.
pub(crate) const KNOWN_ACTIONS: &[&str] = &[
    "block",
    "challenge",
    "js_challenge",
    "managed_challenge",
    "redirect",
    "serve_error",
    "log_custom_field",
    "skip",
    "execute",
    "log",
    "rewrite",
    "route",
    "set_config",
    "set_cache_settings",
    "compress_response",
    "score",
    "ddos_dynamic",
    "force_connection_close",
    "ddos_mitigation",
];

/// One step of the trace, in depth-first order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// Position in depth-first order, from 0.
    pub index: usize,
    /// `step_name`s (or names) of the enclosing steps, outermost first; shared by siblings.
    pub path: Arc<[String]>,
    pub item: TraceItem,
}

/// A rule a trace evaluated: its ruleset's id, the rule's step name (its id, or
/// `ADDRESS#N` before apply), and whether it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleHit {
    pub ruleset: String,
    pub rule: String,
    pub matched: bool,
}

impl TraceView {
    /// The rules this trace evaluated, in trace order (a rule evaluated twice appears twice).
    pub(crate) fn rule_hits(&self) -> Vec<RuleHit> {
        self.steps
            .iter()
            .filter(|s| s.item.kind_of_step.as_deref() == Some("rule"))
            .filter_map(|s| {
                Some(RuleHit {
                    ruleset: s.path.last()?.clone(),
                    rule: s.item.step_name.clone()?,
                    matched: s.matched(),
                })
            })
            .collect()
    }
}

impl Step {
    pub(crate) fn matched(&self) -> bool {
        self.item.matched == Some(true)
    }

    /// A short label: id, then description when there is one.
    pub(crate) fn label(&self) -> String {
        let id = self
            .item
            .step_name
            .as_deref()
            .or(self.item.name.as_deref())
            .unwrap_or("?");
        match &self.item.description {
            Some(d) if !d.is_empty() => format!("`{id}` ({d})"),
            _ => format!("`{id}`"),
        }
    }

    /// True when a rule selector names this step: by id (`step_name`) or exact description.
    pub(crate) fn is_selected_by(&self, selector: &str) -> bool {
        self.item.step_name.as_deref() == Some(selector)
            || self.item.description.as_deref() == Some(selector)
    }
}

/// The normalized trace that expectations read.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TraceView {
    pub status_code: Option<i64>,
    pub steps: Vec<Step>,
}

impl TraceView {
    pub(crate) fn new(result: &TraceResult) -> Self {
        TraceView::from_result(result.clone())
    }

    /// The view of `result`, moving its steps rather than copying them.
    pub(crate) fn from_result(result: TraceResult) -> Self {
        let mut steps = Vec::new();
        let mut path = Vec::new();
        walk(result.trace, &mut path, &mut steps);
        TraceView {
            status_code: result.status_code,
            steps,
        }
    }

    /// The first matched step whose action terminates the request. Rules under the
    /// `http_ratelimit` phase are left out: one traced request cannot exceed a rate limit.
    pub(crate) fn terminating_step(&self) -> Option<&Step> {
        self.steps.iter().find(|s| {
            s.matched()
                && !s.path.iter().any(|p| p == RATE_LIMIT_PHASE)
                && s.item
                    .action
                    .as_deref()
                    .is_some_and(|a| TERMINATING_ACTIONS.contains(&a))
        })
    }

    /// The terminating action, or `none`.
    pub(crate) fn action(&self) -> &str {
        self.terminating_step()
            .and_then(|s| s.item.action.as_deref())
            .unwrap_or("none")
    }

    /// Steps a selector names, in order: by step name or description, or by the rule id its
    /// `ref` was resolved to at load.
    pub(crate) fn selected<'a>(
        &'a self,
        selector: &'a str,
        rule_id: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps.iter().filter(move |s| {
            s.is_selected_by(selector)
                || rule_id.is_some_and(|id| s.item.step_name.as_deref() == Some(id))
        })
    }
}

fn walk(items: Vec<TraceItem>, path: &mut Vec<String>, out: &mut Vec<Step>) {
    let shared: Arc<[String]> = path.as_slice().into();
    for mut item in items {
        let children = std::mem::take(&mut item.trace);
        let id = (!children.is_empty()).then(|| {
            item.step_name
                .clone()
                .or_else(|| item.name.clone())
                .unwrap_or_else(|| item.kind_of_step.clone().unwrap_or_default())
        });
        out.push(Step {
            index: out.len(),
            path: shared.clone(),
            item,
        });
        if let Some(id) = id {
            path.push(id);
            walk(children, path, out);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, action: &str, matched: bool) -> TraceItem {
        TraceItem {
            kind_of_step: Some("rule".into()),
            step_name: Some(id.into()),
            action: Some(action.into()),
            matched: Some(matched),
            ..Default::default()
        }
    }

    fn node(kind: &str, id: &str, children: Vec<TraceItem>) -> TraceItem {
        TraceItem {
            kind_of_step: Some(kind.into()),
            step_name: Some(id.into()),
            trace: children,
            ..Default::default()
        }
    }

    #[test]
    fn nested_layout_is_flattened_depth_first_with_paths() {
        let result = TraceResult {
            status_code: Some(403),
            trace: vec![node(
                "phase",
                "http_request_firewall_custom",
                vec![node(
                    "ruleset",
                    "rs1",
                    vec![
                        rule("log1", "log", true),
                        rule("exec", "execute", true),
                        rule("blk", "block", true),
                    ],
                )],
            )],
        };
        let view = TraceView::new(&result);
        let ids: Vec<_> = view
            .steps
            .iter()
            .map(|s| s.item.step_name.clone().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["http_request_firewall_custom", "rs1", "log1", "exec", "blk"]
        );
        assert_eq!(
            &*view.steps[4].path,
            ["http_request_firewall_custom", "rs1"]
        );
        assert_eq!(view.action(), "block");
    }

    #[test]
    fn flat_layout_and_unknown_types_are_kept() {
        let mut odd = rule("w", "worker", true);
        odd.kind_of_step = Some("workers".into());
        let result = TraceResult {
            status_code: None,
            trace: vec![
                odd,
                rule("a", "block", false),
                rule("b", "managed_challenge", true),
            ],
        };
        let view = TraceView::new(&result);
        assert_eq!(view.steps.len(), 3);
        assert_eq!(view.steps[0].item.kind_of_step.as_deref(), Some("workers"));
        assert_eq!(view.action(), "managed_challenge");
        assert!(view.steps.iter().all(|s| s.path.is_empty()));
    }

    #[test]
    fn no_terminating_match_is_none() {
        let result = TraceResult {
            status_code: Some(200),
            trace: vec![rule("a", "block", false), rule("b", "log", true)],
        };
        assert_eq!(TraceView::new(&result).action(), "none");
    }
}
