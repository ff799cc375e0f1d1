//! Why rules matched or not, for the rules that matter in a trace: each rule's place, whether
//! the trace evaluated and matched it, and offline its expression explained
//! ([`crate::rules::explain`]). Shared by `rulegate explain` and by failing cases, whose
//! message ends with it; computed on demand only.

use std::fmt::Write as _;

use serde::Serialize;

use super::compiled::{CompiledRule, Rulebook};
use super::walk::Walk;
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
    /// Why the trace never reached it, when that can be named (a skip, an override, an
    /// earlier rule that ended the request, `enabled: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<String>,
    /// What `execute` overrides changed (its action, enabled), offline.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) changed: Vec<String>,
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

/// Where a rule is: its ruleset's index, and the rule.
fn locate<'b>(book: &'b Rulebook, id: &str) -> Option<(usize, &'b CompiledRule)> {
    book.rulesets.iter().enumerate().find_map(|(i, rs)| {
        rs.rules
            .iter()
            .find(|r| r.rule.id.as_deref() == Some(id))
            .map(|r| (i, r))
    })
}

/// Names, in each list membership test of `n` that held, the list item that matched, with
/// its file and line.
fn name_items(book: &Rulebook, n: &mut Node) {
    for c in &mut n.children {
        name_items(book, c);
    }
    let (Some(list), Some(true), Some(v)) = (&n.list, n.value, &n.probe) else {
        return;
    };
    let Some((path, file)) = book.list_sources.get(list.trim_start_matches('$')) else {
        return;
    };
    let found = file.items.iter().find_map(|i| {
        let text = match file.kind.as_str() {
            "ip" => i.ip.clone()?,
            "hostname" => i.hostname.as_ref()?.url_hostname.clone(),
            "asn" => i.asn?.to_string(),
            _ => return None,
        };
        crate::rules::item_holds(&file.kind, &text, v).then_some(text)
    });
    let Some(text) = found else { return };
    // Where the item is written: its list file, or a `.tf` file of the Terraform root it came
    // from (an item an expression computes is not written anywhere: the source alone is named).
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut tf: Vec<_> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            // Regular files only: a link could lead outside the repository.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "tf"))
            .collect();
        tf.sort();
        tf
    } else {
        vec![path.clone()]
    };
    let at = files.iter().find_map(|f| {
        // Files this large are not lists anyone wrote by hand.
        if std::fs::metadata(f).ok()?.len() > 4 << 20 {
            return None;
        }
        let src = std::fs::read_to_string(f).ok()?;
        let at = if file.kind == "asn" {
            // `"asn": 64501` in JSON, `asn = 64501` in HCL.
            src.match_indices(&text).map(|(at, _)| at).find(|&at| {
                let before = src[..at].trim_end();
                (before.ends_with(':') || before.ends_with('='))
                    && !src[at + text.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
        } else {
            src.find(&serde_json::to_string(&text).unwrap_or_default())
        }?;
        Some(format!(
            "{}:{}",
            f.display(),
            crate::text::line_col(&src, at).0
        ))
    });
    n.item = Some(format!(
        "{}: {text}",
        at.unwrap_or_else(|| path.display().to_string())
    ));
}

/// Why rule `id`, absent from the walk, was never reached: the `execute` rules that would
/// run its ruleset did not match or were not evaluated themselves, or none exists.
fn unreached(book: &Rulebook, walk: &Walk, id: &str) -> Option<String> {
    let (set, _) = locate(book, id)?;
    let target = book.rulesets[set].ruleset.id.as_str();
    let mut reasons = Vec::new();
    for rs in &book.rulesets {
        for (i, r) in rs.rules.iter().enumerate() {
            let runs_it = r.rule.action == "execute"
                && r.rule
                    .action_parameters
                    .as_deref()
                    .and_then(|p| p.get("id"))
                    .and_then(|v| v.as_str())
                    == Some(target);
            if !runs_it {
                continue;
            }
            let name = r.rule.step_name(i);
            let at = super::walk::place(rs, r, i);
            match walk.find(&name).map(|(_, w)| w) {
                Some(w) if w.evaluated && !w.matched => {
                    reasons.push(format!(
                        "the execute rule {at} that runs its ruleset did not match"
                    ));
                }
                Some(w) => {
                    if let Some(why) = &w.why_not {
                        reasons.push(format!(
                            "the execute rule {at} that runs its ruleset was not evaluated: {why}"
                        ));
                    }
                }
                None => reasons.push(format!(
                    "the execute rule {at} that runs its ruleset was not reached"
                )),
            }
        }
    }
    if reasons.is_empty() {
        let phase = book.rulesets[set].ruleset.phase.as_deref();
        return Some(match phase {
            Some(p)
                if book.rulesets[set].ruleset.kind != "custom"
                    && book.rulesets[set].ruleset.kind != "managed" =>
            {
                format!("its phase {p} did not run")
            }
            _ => format!("no execute rule runs its ruleset {target}"),
        });
    }
    Some(reasons.join("; "))
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

/// Each of `ids` explained: offline (`book`) with its expression's tree over the context the
/// rule was evaluated against (from `walk`, which also names why a rule was not evaluated
/// and what overrides changed; without one, the request as it arrived), live with what the
/// trace says.
pub(crate) fn explain_rules(
    book: Option<&Rulebook>,
    req: &TraceRequest,
    extras: &Extras,
    view: &TraceView,
    walk: Option<&Walk>,
    ids: &[String],
) -> Vec<RuleWhy> {
    let hits = view.rule_hits();
    let arrived = crate::rules::request::context(req, extras.fields.as_ref()).ok();
    ids.iter()
        .map(|id| {
            let found = book.and_then(|b| find(b, id));
            let rule_id = found
                .as_ref()
                .and_then(|(r, _)| r.rule.id.clone())
                .unwrap_or_else(|| id.clone());
            // A managed OWASP rule may be named by its Cloudflare id: the walk knows CRS ids.
            let crs_id = book
                .and_then(|b| b.owasp_ids.get())
                .and_then(|ids| ids.get(&rule_id));
            let walked = walk
                .and_then(|w| w.find(&rule_id).or_else(|| w.find(crs_id?)))
                .map(|(_, r)| r);
            let ctx = walk
                .and_then(|w| w.context_for(&rule_id))
                .or(arrived.as_ref());
            let tree = match (&found, ctx, book) {
                (Some((r, _)), Some(ctx), Some(b)) => r.rule.expression.as_deref().and_then(|e| {
                    let mut t = explain::explain(e, &b.lists, ctx)?;
                    name_items(b, &mut t);
                    Some(t)
                }),
                _ => None,
            };
            let evaluated = hits.iter().any(|h| h.rule == rule_id);
            RuleWhy {
                cause: if evaluated {
                    None
                } else {
                    match (walked, walk, book) {
                        (Some(r), _, _) => r.why_not.clone(),
                        (None, Some(w), Some(b)) => unreached(b, w, &rule_id),
                        _ => None,
                    }
                },
                changed: walked.map(|r| r.changed.clone()).unwrap_or_default(),
                evaluated,
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
            (false, _) => match &r.cause {
                Some(c) => &format!("was not evaluated: {}", crate::escape::visible(c)),
                None => {
                    "was not evaluated (an earlier rule ended the request, a skip or an override left it out, or it is disabled)"
                }
            },
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
        for c in &r.changed {
            let _ = writeln!(out, "{pad}  changed: {}", crate::escape::visible(c));
        }
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
