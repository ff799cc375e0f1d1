//! `rulegate trace`: one ad-hoc request through the configured backend, printed as a tree (or
//! as the API's JSON `result`). The quickest way to see what a rule change does.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::backend::{Backend, Local};
use crate::cli::{BackendKind, TraceArgs};
use crate::cloudflare::Client;
use crate::exit::Exit;
use crate::project::load_config;
use crate::ruleset::Extras;
use crate::trace::{TraceBody, TraceItem, TraceRequest, TraceResult, TraceView};

fn usage(msg: &str) -> Exit {
    eprintln!("error: {msg}");
    Exit::Invalid
}

/// The request from `--request`, or from `--url`, `--method`, `--header` and `--body`.
fn request(a: &TraceArgs) -> Result<TraceRequest, String> {
    if let Some(j) = &a.request {
        return serde_json::from_str(j)
            .map_err(|e| format!("--request is not a Trace API request: {e}"));
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
            .ok_or_else(|| format!("--header `{h}` is not NAME: VALUE"))?;
        req.headers
            .insert(k.trim().to_string(), v.trim().to_string());
    }
    req.body = a.body.clone().map(|t| TraceBody {
        plain_text: Some(t),
        ..Default::default()
    });
    Ok(req)
}

pub fn run(a: &TraceArgs) -> Exit {
    let req = match request(a) {
        Ok(r) => r,
        Err(e) => return usage(&e),
    };
    let fields = match a
        .fields
        .as_deref()
        .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
        .transpose()
    {
        Ok(f) => f,
        Err(e) => return usage(&format!("--fields is not a JSON object: {e}")),
    };
    let extras = Extras {
        fields,
        origin: None,
    };
    let cfg = load_config(&a.dir).map(|(c, _)| c).unwrap_or_default();
    let backend = match crate::config::backend_kind(&a.api, &cfg) {
        BackendKind::Local => match crate::cmd::load_project_dir(&a.dir) {
            Ok(p) => Backend::Local(Arc::new(Local::new(Arc::new(p)))),
            Err(exit) => return exit,
        },
        BackendKind::Cloudflare => match crate::config::client_config(&a.api, &cfg)
            .and_then(|c| Client::new(c).map_err(|message| crate::config::ConfigError { message }))
        {
            Ok(c) => Backend::Cloudflare(Arc::new(c)),
            Err(e) => return usage(&e.to_string()),
        },
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(&e.to_string()),
    };
    let result = rt.block_on(backend.trace(&req, &extras));
    for w in backend.warnings() {
        eprintln!("warning: {w}");
    }
    match result {
        Ok(r) if a.json => {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            Exit::Success
        }
        Ok(r) => {
            print!("{}", tree(&r));
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::CouldNotRun
        }
    }
}

/// The first 8 characters of a long id (ids from the live API are arbitrary text).
fn short(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((end, _)) if id.chars().count() > 12 => &id[..end],
        _ => id,
    }
}

/// The trace as an indented tree: `[x]` matched, `[ ]` evaluated and not matched.
pub fn tree(r: &TraceResult) -> String {
    let view = TraceView::new(r);
    let mut out = String::new();
    let status = r.status_code.map_or("none".to_string(), |s| s.to_string());
    let _ = write!(out, "status {status}, action {}", view.action());
    if let Some(t) = view.terminating_step() {
        let _ = write!(out, " by rule {}", t.label());
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
            let id = i.step_name.as_deref().unwrap_or("?");
            let _ = match i.kind_of_step.as_deref() {
                Some("rule") => writeln!(
                    out,
                    "{pad}{mark} {:<18} {:<8}  {}",
                    i.action.as_deref().unwrap_or("?"),
                    short(id),
                    i.description.as_deref().unwrap_or("")
                ),
                Some("ruleset") => writeln!(
                    out,
                    "{pad}{mark} ruleset {} ({} {})",
                    i.name.as_deref().unwrap_or("?"),
                    i.kind.as_deref().unwrap_or("?"),
                    short(id)
                ),
                Some(other) => writeln!(out, "{pad}{mark} {other} {id}"),
                None => writeln!(out, "{pad}{mark} {id}"),
            };
            walk(&i.trace, depth + 1, out);
        }
    }
    walk(&r.trace, 0, &mut out);
    out
}
