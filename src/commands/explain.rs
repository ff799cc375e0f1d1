//! `rulegate explain`: why a case (or a request) ends as it does. Prints the trace's walk
//! (phases, rulesets, rules, `[x]` where matched) and, offline, for the rules that matter (the
//! one that ended the request and those the case's expectations name; every evaluated rule
//! with `--all`, or when neither exists) the expression as a tree with each condition's value and the field values
//! it read ([`crate::rules::explain`]). Against the live API only the trace is known.

use std::fmt::Write as _;

use serde::Serialize;

use super::{backend, load, project_dir, runtime, say, settings};
use crate::backend::BackendKind;
use crate::cli::ExplainArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::rules::explain::{self, Node};
use crate::ruleset::compiled::Rulebook;
use crate::settings::Flags;
use crate::trace::{Extras, TraceRequest, TraceResult, TraceView};

/// What the live API leaves out.
const LIVE_NOTE: &str = "the live API returns the trace only: each condition's value needs the local engine (--backend local)";

#[derive(Debug, Serialize)]
struct Explained {
    /// The case's full name, or `request`.
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    status: Option<i64>,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_by: Option<String>,
    trace: TraceResult,
    rules: Vec<RuleWhy>,
}

#[derive(Debug, Serialize)]
struct RuleWhy {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// `file:line` of the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    /// Whether the trace evaluated it, and whether it matched there.
    evaluated: bool,
    matched: bool,
    /// Why the local engine's conditions have the values they have.
    #[serde(skip_serializing_if = "Option::is_none")]
    tree: Option<Node>,
}

/// The requests to explain: (name, where, request, extras, rule selectors the case names).
type Subject = (String, Option<String>, TraceRequest, Extras, Vec<String>);

fn subjects(a: &ExplainArgs, loaded: &super::Loaded) -> Result<Vec<Subject>, Report> {
    let fields = a
        .fields
        .as_deref()
        .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
        .transpose()
        .map_err(|e| Diagnostic::usage(format!("--fields is not a JSON object: {e}")))?;
    let extras = Extras {
        fields,
        origin: None,
    };
    if let Some(j) = &a.request {
        let req: TraceRequest = serde_json::from_str(j)
            .map_err(|e| Diagnostic::usage(format!("--request is not a Trace API request: {e}")))?;
        return Ok(vec![("request".into(), None, req, extras, Vec::new())]);
    }
    if let Some(url) = &a.url {
        crate::rules::request::split_url(url).map_err(Diagnostic::from)?;
        let req = TraceRequest {
            method: "GET".into(),
            url: url.clone(),
            ..Default::default()
        };
        return Ok(vec![("request".into(), None, req, extras, Vec::new())]);
    }
    let mut out = Vec::new();
    for s in &loaded.suites {
        for c in &s.cases {
            if !a.filter.iter().all(|f| c.full_name.contains(f.as_str())) {
                continue;
            }
            let named = c
                .expect
                .matched
                .iter()
                .chain(&c.expect.not_matched)
                .map(|sel| sel.rule_id.clone().unwrap_or_else(|| sel.name.clone()))
                .collect();
            out.push((
                c.full_name.clone(),
                Some(format!("{}:{}", s.file.display(), c.line)),
                c.request.clone(),
                c.extras.clone(),
                named,
            ));
        }
    }
    if out.is_empty() {
        return Err(Diagnostic::usage("no case matches the filter")
            .hint("name part of a case (`rulegate explain suites -- admin`), or pass --url / --request")
            .into());
    }
    Ok(out)
}

/// The rule with this id or description in the book: its expression, description and place.
fn find<'b>(
    book: &'b Rulebook,
    id: &str,
) -> Option<(&'b crate::ruleset::compiled::CompiledRule, String)> {
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

pub(super) fn run(a: &ExplainArgs) -> Result<Exit, Report> {
    let settings = settings(Flags {
        terraform: a.suites.tf.terraform.as_deref(),
        var_files: &a.suites.tf.var_files,
        crs: a.suites.tf.crs.as_deref(),
        dir: project_dir(&a.suites.paths),
        vars: &a.suites.vars,
        backend: a.engine.backend,
        api: Some(&a.api),
        trace_budget: a.budget.trace_budget,
        ..Flags::default()
    })?;
    let local = settings.backend == BackendKind::Local;
    let with_suites = a.request.is_none() && a.url.is_none();
    let loaded = load(&settings, with_suites.then_some(&a.suites), local)?;
    let subjects = subjects(a, &loaded)?;
    let backend = backend(&settings, loaded.project.as_ref())?;
    let book = loaded.project.as_ref().map(|p| p.book.clone());
    let rt = runtime(0)?;
    let mut all = Vec::new();
    for (name, at, req, extras, named) in subjects {
        let result = rt
            .block_on(backend.trace(&req, &extras))
            .map_err(Diagnostic::from)?;
        let view = TraceView::new(&result);
        let ended = view
            .terminating_step()
            .and_then(|s| s.item.step_name.clone());
        let hits = view.rule_hits();
        // The rules that matter: the one that ended the request, those the case names.
        let mut ids: Vec<String> = Vec::new();
        if a.all {
            ids.extend(hits.iter().map(|h| h.rule.clone()));
        }
        ids.extend(ended.iter().cloned());
        ids.extend(named);
        // Nothing ended the request and nothing is named: why did no rule match?
        if ids.is_empty() {
            ids.extend(hits.iter().map(|h| h.rule.clone()));
        }
        let mut seen = std::collections::BTreeSet::new();
        ids.retain(|i| seen.insert(i.clone()));
        let ctx = crate::rules::request::context(&req, extras.fields.as_ref()).ok();
        let mut rules = Vec::new();
        for id in ids {
            let found = book.as_deref().and_then(|b| find(b, &id));
            let rule_id = found
                .as_ref()
                .and_then(|(r, _)| r.rule.id.clone())
                .unwrap_or_else(|| id.clone());
            let evaluated = hits.iter().any(|h| h.rule == rule_id);
            let matched = hits.iter().any(|h| h.rule == rule_id && h.matched);
            let tree = match (&found, &ctx, &book) {
                (Some((r, _)), Some(ctx), Some(b)) => r
                    .rule
                    .expression
                    .as_deref()
                    .and_then(|e| explain::explain(e, &b.lists, ctx)),
                _ => None,
            };
            rules.push(RuleWhy {
                id: rule_id,
                description: found.as_ref().and_then(|(r, _)| r.rule.description.clone()),
                at: found.as_ref().map(|(_, at)| at.clone()),
                evaluated,
                matched,
                tree,
            });
        }
        all.push(Explained {
            name,
            at,
            status: result.status_code,
            action: view.action().to_string(),
            ended_by: ended,
            trace: result,
            rules,
        });
    }
    rt.shutdown_background();
    if a.json {
        let doc = serde_json::json!({
            "backend": if local { "local" } else { "cloudflare" },
            "note": (!local).then_some(LIVE_NOTE),
            "explanations": all,
        });
        say(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ))?;
        return Ok(Exit::Success);
    }
    let mut out = String::new();
    for e in &all {
        let _ = writeln!(
            out,
            "{}{}",
            crate::escape::visible(&e.name),
            e.at.as_deref()
                .map(|a| format!(" ({})", crate::escape::visible(a)))
                .unwrap_or_default()
        );
        for line in super::trace::tree(&e.trace).lines() {
            let _ = writeln!(out, "  {line}");
        }
        for r in &e.rules {
            let verdict = match (r.evaluated, r.matched) {
                (_, true) => "matched",
                (true, false) => "did not match",
                (false, _) => {
                    "was not evaluated (an earlier rule ended the request, a skip or an override left it out, or it is disabled)"
                }
            };
            let _ = writeln!(
                out,
                "\n  rule `{}`{}{} {verdict}",
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
                    explain::render(t, 2, &mut tree);
                    out.push_str(&tree);
                }
                None if !local => {
                    let _ = writeln!(out, "    ({LIVE_NOTE})");
                }
                None => {}
            }
        }
        out.push('\n');
    }
    say(&out)?;
    Ok(Exit::Success)
}
