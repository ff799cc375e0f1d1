//! `rulegate explain`: why a case (or a request) ends as it does. Prints the trace's walk
//! (phases, rulesets, rules, `[x]` where matched) and, offline, for the rules that matter (the
//! one that ended the request and those the case's expectations name; every evaluated rule
//! with `--all`, or when neither exists) the expression as a tree with each condition's
//! value and the field values it read ([`crate::ruleset::why`]). Against the live API only
//! the trace is known.

use std::fmt::Write as _;

use serde::Serialize;

use super::{backend, load, project_dir, runtime, say};
use crate::backend::BackendKind;
use crate::cli::ExplainArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::ruleset::walk::Walk;
use crate::ruleset::why::{self, RuleWhy};
use crate::trace::{Extras, TraceRequest, TraceResult, TraceView};

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
    /// Offline: every phase, ruleset and rule, evaluated or not and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    walk: Option<Walk>,
    rules: Vec<RuleWhy>,
}

/// The requests to explain: (name, where, request, extras, rule selectors the case names).
type Subject = (String, Option<String>, TraceRequest, Extras, Vec<String>);

fn subjects(a: &ExplainArgs, loaded: &super::Loaded) -> Result<Vec<Subject>, Report> {
    let extras = super::extras_from_flag(a.fields.as_deref())?;
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

pub(super) fn run(a: &ExplainArgs) -> Result<Exit, Report> {
    let settings = super::engine_settings(
        project_dir(&a.suites.paths),
        &a.suites.tf,
        &a.suites.vars,
        &a.engine,
        &a.api,
        &a.budget,
    )?;
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
        let ids = why::rules_that_matter(&view, &named, a.all);
        let walk = match book.as_deref() {
            // The same engine traced it a moment ago: it evaluates again.
            Some(b) if local => crate::ruleset::evaluate_walked(b, &req, &extras)
                .ok()
                .map(|(_, w)| w),
            _ => None,
        };
        let rules = why::explain_rules(book.as_deref(), &req, &extras, &view, walk.as_ref(), &ids);
        all.push(Explained {
            name,
            at,
            status: result.status_code,
            action: view.action().to_string(),
            ended_by: ended,
            trace: result,
            walk,
            rules,
        });
    }
    rt.shutdown_background();
    if a.json {
        let doc = serde_json::json!({
            "backend": if local { "local" } else { "cloudflare" },
            "note": (!local).then_some(why::LIVE_NOTE),
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
        match &e.walk {
            Some(w) => {
                let tree = super::trace::tree(&e.trace);
                let _ = writeln!(out, "  {}", tree.lines().next().unwrap_or_default());
                out.push_str(&w.render(2));
            }
            None => {
                for line in super::trace::tree(&e.trace).lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        if !e.rules.is_empty() {
            out.push('\n');
            out.push_str(&why::render(&e.rules, !local, 2));
        }
        out.push('\n');
    }
    say(&out)?;
    Ok(Exit::Success)
}
