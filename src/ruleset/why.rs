//! Why rules matched or not, for the rules that matter in a trace: each rule's place, whether
//! the trace evaluated and matched it, and offline its expression explained
//! ([`crate::rules::explain`]). Shared by `rulegate explain` and by failing cases, whose
//! message ends with it; computed on demand only.

use std::fmt::Write as _;

use serde::Serialize;

use super::compiled::{CompiledRule, Rulebook};
use crate::rules::explain::{self, Node};
use crate::trace::{Extras, TraceRequest, TraceView};

/// What the live API leaves out.
pub(crate) const LIVE_NOTE: &str = "the live API returns the trace only: each condition's value needs the local engine (--backend local)";

#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuleWhy {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// `file:line` of the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) at: Option<String>,
    /// Whether the trace evaluated it, and whether it matched there.
    pub(crate) evaluated: bool,
    pub(crate) matched: bool,
    /// Why the local engine's conditions have the values they have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tree: Option<Node>,
}

/// The rule with this id, ref or description in the book, and its `file:line`.
fn find<'b>(book: &'b Rulebook, id: &str) -> Option<(&'b CompiledRule, String)> {
    book.rulesets.iter().find_map(|rs| {
        rs.rules
            .iter()
            .find(|r| {
                r.rule.id.as_deref() == Some(id)
                    || r.rule.description.as_deref() == Some(id)
                    || r.rule.reference.as_deref() == Some(id)
            })
            .map(|r| (r, format!("{}:{}", rs.file.display(), r.line)))
    })
}

/// The rules that matter in `view`: the one that ended the request, then `named` (rule ids
/// or selectors a case names); every evaluated rule with `all`, or when neither exists.
pub(crate) fn rules_that_matter(view: &TraceView, named: &[String], all: bool) -> Vec<String> {
    let hits = view.rule_hits();
    let mut ids: Vec<String> = Vec::new();
    if all {
        ids.extend(hits.iter().map(|h| h.rule.clone()));
    }
    ids.extend(
        view.terminating_step()
            .and_then(|s| s.item.step_name.clone()),
    );
    ids.extend(named.iter().cloned());
    if ids.is_empty() {
        ids.extend(hits.iter().map(|h| h.rule.clone()));
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|i| seen.insert(i.clone()));
    ids
}

/// Each of `ids` explained: offline (`book`) with its expression's tree over the request's
/// context, live with what the trace says.
pub(crate) fn explain_rules(
    book: Option<&Rulebook>,
    req: &TraceRequest,
    extras: &Extras,
    view: &TraceView,
    ids: &[String],
) -> Vec<RuleWhy> {
    let hits = view.rule_hits();
    let ctx = crate::rules::request::context(req, extras.fields.as_ref()).ok();
    ids.iter()
        .map(|id| {
            let found = book.and_then(|b| find(b, id));
            let rule_id = found
                .as_ref()
                .and_then(|(r, _)| r.rule.id.clone())
                .unwrap_or_else(|| id.clone());
            let tree = match (&found, &ctx, book) {
                (Some((r, _)), Some(ctx), Some(b)) => r
                    .rule
                    .expression
                    .as_deref()
                    .and_then(|e| explain::explain(e, &b.lists, ctx)),
                _ => None,
            };
            RuleWhy {
                evaluated: hits.iter().any(|h| h.rule == rule_id),
                matched: hits.iter().any(|h| h.rule == rule_id && h.matched),
                description: found.as_ref().and_then(|(r, _)| r.rule.description.clone()),
                at: found.as_ref().map(|(_, at)| at.clone()),
                id: rule_id,
                tree,
            }
        })
        .collect()
}

/// The explanation as text, each line indented by `indent` spaces.
pub(crate) fn render(rules: &[RuleWhy], live: bool, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for r in rules {
        let verdict = match (r.evaluated, r.matched) {
            (_, true) => "matched",
            (true, false) => "did not match",
            (false, _) => {
                "was not evaluated (an earlier rule ended the request, a skip or an override left it out, or it is disabled)"
            }
        };
        let _ = writeln!(
            out,
            "{pad}rule `{}`{}{} {verdict}",
            crate::escape::visible(&r.id),
            r.description
                .as_deref()
                .map(|d| format!(" \"{}\"", crate::escape::visible(d)))
                .unwrap_or_default(),
            r.at.as_deref()
                .map(|a| format!(" ({})", crate::escape::visible(a)))
                .unwrap_or_default(),
        );
        match &r.tree {
            Some(t) => {
                let mut tree = String::new();
                explain::render(t, indent / 2 + 1, &mut tree);
                out.push_str(&tree);
            }
            None if live => {
                let _ = writeln!(out, "{pad}  ({LIVE_NOTE})");
            }
            None => {}
        }
    }
    out
}
