//! Checks a case's [`Expectations`] against a [`TraceView`]: every mismatch in words
//! ([`check`]), and the expected and actual views that the failure diff compares ([`views`]).

pub(crate) mod diff;

use std::fmt::Write as _;

use serde_json::Value;

use crate::escape::visible;
use crate::suite::Expectations;
use crate::trace::{Step, TraceItem, TraceView};

/// One expectation that the trace did not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// The expectation key: `status`, `action`, `matched`, `not_matched`, `trace`.
    pub key: &'static str,
    pub message: String,
}

/// Every mismatch between `expect` and `view`, in the order of the keys.
pub(crate) fn check(expect: &Expectations, view: &TraceView) -> Vec<Mismatch> {
    let mut out = check_raw(expect, view);
    // Each message is one line: values from files and traces cannot start another.
    for m in &mut out {
        if let std::borrow::Cow::Owned(v) = crate::escape::visible(&m.message) {
            m.message = v;
        }
    }
    out
}

fn check_raw(expect: &Expectations, view: &TraceView) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if let Some(allowed) = &expect.status {
        let ok = view.status_code.is_some_and(|s| allowed.contains(&s));
        if !ok {
            out.push(Mismatch {
                key: "status",
                message: format!(
                    "status: expected {}, got {}",
                    join_codes(allowed),
                    view.status_code
                        .map_or("no status code".to_string(), |s| s.to_string())
                ),
            });
        }
    }
    if let Some(want) = &expect.location {
        let got = view
            .terminating_step()
            .and_then(|s| s.item.target_url.as_deref());
        if got != Some(want.as_str()) {
            let why = match view.terminating_step() {
                Some(s) if s.item.action.as_deref() == Some("redirect") => format!(
                    "rule {} redirects to {}",
                    s.label(),
                    got.unwrap_or("an unknown URL")
                ),
                Some(s) => format!(
                    "rule {} ended the request with `{}`",
                    s.label(),
                    s.item.action.as_deref().unwrap_or("?")
                ),
                None => "no redirect ended the request".to_string(),
            };
            out.push(Mismatch {
                key: "location",
                message: format!("location: expected a redirect to {want}, but {why}"),
            });
        }
    }
    if let Some(want) = &expect.action {
        let got = view.action();
        if got != want {
            let why = match view.terminating_step() {
                Some(s) => format!("rule {} ended the request", s.label()),
                None => "no terminating rule matched".to_string(),
            };
            out.push(Mismatch {
                key: "action",
                message: format!("action: expected `{want}`, got `{got}` ({why})"),
            });
        }
    }
    for sel in &expect.matched {
        let steps: Vec<&Step> = view.selected(&sel.name, sel.rule_id.as_deref()).collect();
        if !steps.iter().any(|s| s.matched()) {
            let why = if steps.is_empty() {
                "it is not in the trace".to_string()
            } else {
                "it was evaluated and did not match".to_string()
            };
            out.push(Mismatch {
                key: "matched",
                message: format!("matched: expected rule `{sel}` to match, but {why}"),
            });
        }
    }
    for sel in &expect.not_matched {
        if let Some(s) = view
            .selected(&sel.name, sel.rule_id.as_deref())
            .find(|s| s.matched())
        {
            out.push(Mismatch {
                key: "not_matched",
                message: format!(
                    "not_matched: expected rule `{sel}` not to match, but it matched (action `{}`)",
                    s.item.action.as_deref().unwrap_or("?")
                ),
            });
        }
    }
    if !expect.trace.is_empty() {
        let mut from = 0;
        for (i, pattern) in expect.trace.iter().enumerate() {
            match view.steps[from..]
                .iter()
                .position(|s| step_matches(pattern, &s.item))
            {
                Some(p) => from += p + 1,
                None => {
                    let after = if i == 0 {
                        String::new()
                    } else {
                        format!(" after step {i} of the pattern (trace step #{from})")
                    };
                    out.push(Mismatch {
                        key: "trace",
                        message: format!(
                            "trace: step {} of {} {{{}}} not found{after}",
                            i + 1,
                            expect.trace.len(),
                            render_step(pattern, &keys_of(pattern))
                        ),
                    });
                    break;
                }
            }
        }
    }
    out
}

fn join_codes(codes: &[i64]) -> String {
    let parts: Vec<String> = codes.iter().map(std::string::ToString::to_string).collect();
    match parts.len() {
        1 => parts[0].clone(),
        _ => format!("one of {}", parts.join(", ")),
    }
}

/// A partial step matches when every key it sets equals the actual step's value;
/// `action_parameters` matches as a JSON subset (objects by key, recursively).
pub(crate) fn step_matches(p: &TraceItem, a: &TraceItem) -> bool {
    fn eq<T: PartialEq>(p: &Option<T>, a: &Option<T>) -> bool {
        p.is_none() || p == a
    }
    eq(&p.kind_of_step, &a.kind_of_step)
        && eq(&p.step_name, &a.step_name)
        && eq(&p.matched, &a.matched)
        && eq(&p.name, &a.name)
        && eq(&p.kind, &a.kind)
        && eq(&p.description, &a.description)
        && eq(&p.expression, &a.expression)
        && eq(&p.action, &a.action)
        && eq(&p.target_url, &a.target_url)
        && eq(&p.score, &a.score)
        && eq(&p.score_threshold, &a.score_threshold)
        && match (&p.action_parameters, &a.action_parameters) {
            (None, _) => true,
            (Some(pv), Some(av)) => json_subset(pv, av),
            (Some(_), None) => false,
        }
}

/// `p` is contained in `a`: objects by key (recursively), everything else by equality.
pub(crate) fn json_subset(p: &Value, a: &Value) -> bool {
    match (p, a) {
        (Value::Object(po), Value::Object(ao)) => po
            .iter()
            .all(|(k, pv)| ao.get(k).is_some_and(|av| json_subset(pv, av))),
        _ => p == a,
    }
}

/// Keys (in TraceItem order) set on a pattern.
fn keys_of(p: &TraceItem) -> Vec<&'static str> {
    let mut k = Vec::new();
    let mut add = |set: bool, name| {
        if set {
            k.push(name);
        }
    };
    add(p.kind_of_step.is_some(), "type");
    add(p.step_name.is_some(), "step_name");
    add(p.name.is_some(), "name");
    add(p.kind.is_some(), "kind");
    add(p.description.is_some(), "description");
    add(p.expression.is_some(), "expression");
    add(p.action.is_some(), "action");
    add(p.action_parameters.is_some(), "action_parameters");
    add(p.target_url.is_some(), "target_url");
    add(p.score.is_some(), "score");
    add(p.score_threshold.is_some(), "score_threshold");
    add(p.matched.is_some(), "matched");
    k
}

fn render_step(s: &TraceItem, keys: &[&str]) -> String {
    let mut out = Vec::new();
    for key in keys {
        let v = match *key {
            "type" => s.kind_of_step.clone(),
            "step_name" => s.step_name.clone(),
            "name" => s.name.clone(),
            "kind" => s.kind.clone(),
            "description" => s.description.as_ref().map(|d| format!("{d:?}")),
            "expression" => s.expression.as_ref().map(|d| format!("{d:?}")),
            "action" => s.action.clone(),
            "action_parameters" => s
                .action_parameters
                .as_ref()
                .map(std::string::ToString::to_string),
            "target_url" => s.target_url.clone(),
            "score" => s.score.map(|v| v.to_string()),
            "score_threshold" => s.score_threshold.map(|v| v.to_string()),
            "matched" => s.matched.map(|m| m.to_string()),
            _ => None,
        };
        let v = v.unwrap_or_else(|| "~".into());
        out.push(format!("{key}: {}", visible(&v)));
    }
    out.join(", ")
}

/// The expected view and the actual view, as text in the same layout, for a line diff. Only
/// the keys the case expects appear; for `trace`, each actual step shows the keys the
/// patterns use.
pub(crate) fn views(expect: &Expectations, view: &TraceView) -> (String, String) {
    let mut e = String::new();
    let mut a = String::new();
    if let Some(codes) = &expect.status {
        let _ = writeln!(e, "status: {}", join_codes(codes));
        let got = view.status_code.map_or("~".to_string(), |s| s.to_string());
        let shown = match view.status_code {
            Some(s) if codes.contains(&s) => join_codes(codes),
            _ => got,
        };
        let _ = writeln!(a, "status: {shown}");
    }
    if let Some(want) = &expect.location {
        let _ = writeln!(e, "location: {}", visible(want));
        let got = view
            .terminating_step()
            .and_then(|s| s.item.target_url.as_deref())
            .unwrap_or("~");
        let _ = writeln!(a, "location: {}", visible(got));
    }
    if let Some(want) = &expect.action {
        let _ = writeln!(e, "action: {}", visible(want));
        let _ = writeln!(a, "action: {}", visible(view.action()));
    }
    for (key, sels, want) in [
        ("matched", &expect.matched, true),
        ("not_matched", &expect.not_matched, false),
    ] {
        if sels.is_empty() {
            continue;
        }
        let _ = writeln!(e, "{key}:");
        let _ = writeln!(a, "{key}:");
        for sel in sels {
            let steps: Vec<&Step> = view.selected(&sel.name, sel.rule_id.as_deref()).collect();
            let got = if steps.is_empty() {
                "not in trace".to_string()
            } else {
                steps.iter().any(|s| s.matched()).to_string()
            };
            let sel = visible(&sel.to_string()).into_owned();
            let _ = writeln!(e, "  {sel}: {want}");
            let _ = writeln!(a, "  {sel}: {got}");
        }
    }
    if !expect.trace.is_empty() {
        let mut keys: Vec<&'static str> = Vec::new();
        for p in &expect.trace {
            for k in keys_of(p) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let _ = writeln!(e, "trace:");
        let _ = writeln!(a, "trace:");
        for p in &expect.trace {
            let _ = writeln!(e, "  - {{{}}}", render_step(p, &keys_of(p)));
        }
        for s in &view.steps {
            // Show a pattern's own rendering for the steps that match it, so matched lines align.
            let shown = expect
                .trace
                .iter()
                .find(|p| step_matches(p, &s.item))
                .map(|p| render_step(p, &keys_of(p)))
                .unwrap_or_else(|| render_step(&s.item, &keys));
            let _ = writeln!(a, "  - {{{shown}}}");
        }
    }
    (e, a)
}

#[cfg(test)]
mod tests;
