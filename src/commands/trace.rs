//! `rulegate trace`: one ad-hoc request through the configured backend, printed as a tree (or
//! as the API's JSON `result`). The quickest way to see what a rule change does.

use std::fmt::Write as _;

use super::{runtime, say};
use crate::cli::TraceArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::trace::{TraceBody, TraceItem, TraceRequest, TraceResult, TraceView};

/// The request from `--request`, or from `--url`, `--method`, `--header` and `--body`.
fn request(a: &TraceArgs) -> Result<TraceRequest, Diagnostic> {
    if let Some(j) = &a.request {
        return serde_json::from_str(j)
            .map_err(|e| Diagnostic::usage(format!("--request is not a Trace API request: {e}")));
    }
    let url = a.url.clone().unwrap_or_default();
    crate::rules::request::split_url(&url)?;
    let mut req = TraceRequest {
        method: a.method.to_ascii_uppercase(),
        url,
        ..Default::default()
    };
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| Diagnostic::usage(format!("--header `{h}` is not NAME: VALUE")))?;
        req.headers
            .insert(k.trim().to_string(), v.trim().to_string());
    }
    req.body = a.body.clone().map(|t| TraceBody {
        plain_text: Some(t),
        ..Default::default()
    });
    Ok(req)
}

pub(super) fn run(a: &TraceArgs) -> Result<Exit, Report> {
    let req = request(a)?;
    let extras = super::extras_from_flag(a.fields.as_deref())?;
    let (_, backend) = super::engine_backend(a.project.dir.clone(), &a.engine)?;
    let rt = runtime(0)?;
    let result = rt.block_on(backend.trace(&req, &extras));
    // A trace past its budget may still run on a blocking thread: do not wait for it.
    rt.shutdown_background();
    for w in backend.warnings() {
        super::warn(&w);
    }
    let r = result.map_err(Diagnostic::from)?;
    if a.json {
        say(&format!(
            "{}\n",
            serde_json::to_string_pretty(&r).unwrap_or_default()
        ))?;
    } else {
        say(&tree(&r))?;
    }
    Ok(Exit::Success)
}

/// The first 8 characters of a long id (ids from the live API are arbitrary text).
/// The trace as an indented tree: `[x]` matched, `[ ]` evaluated and not matched.
pub(super) fn tree(r: &TraceResult) -> String {
    let view = TraceView::new(r);
    let mut out = String::new();
    let status = r.status_code.map_or("none".to_string(), |s| s.to_string());
    let _ = write!(
        out,
        "status {status}, action {}",
        crate::escape::visible(view.action())
    );
    if let Some(t) = view.terminating_step() {
        let _ = write!(out, " by rule {}", crate::escape::visible(&t.label()));
    }
    out.push('\n');
    fn walk(items: &[TraceItem], depth: usize, out: &mut String) {
        for i in items {
            let pad = "  ".repeat(depth);
            let mark = if i.matched == Some(true) {
                "[x]"
            } else {
                "[ ]"
            };
            // Every value is from a ruleset or an API answer: one line each, controls visible.
            let v = |x: Option<&str>, none: &'static str| {
                crate::escape::visible(x.unwrap_or(none)).into_owned()
            };
            let id = v(i.step_name.as_deref(), "?");
            // An emulated OWASP rule has no action of its own: its score stands there; the
            // score rule shows its total against the threshold.
            let action = match (&i.action, i.score, i.score_threshold) {
                (Some(a), Some(s), Some(t)) => format!("{} {s}/{t}", v(Some(a), "")),
                (None, Some(s), _) => format!("score +{s}"),
                (None, None, _) if i.emulated.is_some() => "score".into(),
                _ => v(i.action.as_deref(), "?"),
            };
            let _ = match i.kind_of_step.as_deref() {
                Some("rule") => writeln!(
                    out,
                    "{pad}{mark} {:<18} {}  {}",
                    action,
                    id,
                    v(i.description.as_deref(), "")
                ),
                Some("ruleset") => writeln!(
                    out,
                    "{pad}{mark} ruleset {} ({} {}){}",
                    v(i.name.as_deref(), "?"),
                    v(i.kind.as_deref(), "?"),
                    id,
                    i.emulated
                        .as_deref()
                        .map(|e| format!(", emulated with {}", v(Some(e), "")))
                        .unwrap_or_default()
                ),
                Some(other) => writeln!(out, "{pad}{mark} {} {id}", v(Some(other), "")),
                None => writeln!(out, "{pad}{mark} {id}"),
            };
            walk(&i.trace, depth + 1, out);
        }
    }
    walk(&r.trace, 0, &mut out);
    out
}
