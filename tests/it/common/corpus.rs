//! Checking a corpus of expressions with `rulegate check`: each expression becomes a rule of
//! an entry point of its phase (a value expression goes where that phase takes one), list
//! files are written for the lists they name, and the rules `check` rejects are reported with
//! their source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

/// One expression to check.
pub(crate) struct Entry {
    pub(crate) phase: String,
    pub(crate) expr: String,
    pub(crate) value: bool,
    /// Where it came from, for the failure message.
    pub(crate) source: String,
}

/// The rule that holds `expr` in `phase`: as its filter, or, for a value expression, where
/// that phase takes one.
pub(crate) fn rule(id: &str, phase: &str, expr: &str, value: bool) -> Value {
    let target = json!({"expression": expr});
    let (action, params, filter) = match (phase, value) {
        ("http_request_dynamic_redirect" | "http_request_redirect", true) => (
            "redirect",
            json!({"from_value": {"target_url": target}}),
            "true",
        ),
        ("http_request_dynamic_redirect" | "http_request_redirect", false) => (
            "redirect",
            json!({"from_value": {"target_url": {"value": "https://example.com/"}}}),
            expr,
        ),
        ("http_request_transform", true) => ("rewrite", json!({"uri": {"path": target}}), "true"),
        ("http_request_transform", false) => {
            ("rewrite", json!({"uri": {"path": {"value": "/"}}}), expr)
        }
        ("http_request_late_transform" | "http_response_headers_transform", true) => (
            "rewrite",
            json!({"headers": {"x-rulegate": {"operation": "set", "expression": expr}}}),
            "true",
        ),
        ("http_request_late_transform" | "http_response_headers_transform", false) => (
            "rewrite",
            json!({"headers": {"x-rulegate": {"operation": "remove"}}}),
            expr,
        ),
        ("http_request_cache_settings", _) => ("set_cache_settings", json!({}), expr),
        ("http_response_cache_settings", _) => ("set_cache_control", json!({}), expr),
        ("http_request_origin", _) => ("route", json!({}), expr),
        ("http_config_settings", _) => ("set_config", json!({}), expr),
        ("http_custom_errors", _) => ("serve_error", json!({"status_code": 500}), expr),
        ("http_log_custom_fields", _) => ("log_custom_field", json!({}), expr),
        ("http_response_compression", _) => ("compress_response", json!({}), expr),
        ("http_request_sanitize", _) => ("rewrite", json!({"uri": {"path": {"value": "/"}}}), expr),
        ("http_response_firewall_managed", _) => ("log", Value::Null, expr),
        ("http_ratelimit", _) => ("block", Value::Null, expr),
        _ => ("log", Value::Null, expr),
    };
    let mut r = json!({"id": id, "action": action, "expression": filter});
    if !params.is_null() {
        r["action_parameters"] = params;
    }
    if phase == "http_ratelimit" {
        r["ratelimit"] = json!({"characteristics": ["ip.src", "cf.colo.id"], "period": 60});
    }
    r
}

/// Runs `check` on a project holding every entry and the `lists` (name → kind); returns the
/// exit code, stderr, and each rejected entry as "id from source: expression".
pub(crate) fn check(
    entries: &[Entry],
    lists: &BTreeMap<String, Value>,
) -> (Option<i32>, String, BTreeSet<String>) {
    let mut by_phase: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let id = format!("e{i}");
        sources.insert(id.clone(), format!("{}: {}", e.source, e.expr));
        by_phase
            .entry(e.phase.clone())
            .or_default()
            .push(rule(&id, &e.phase, &e.expr, e.value));
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("rulesets")).unwrap();
    std::fs::create_dir_all(d.join("lists")).unwrap();
    for (phase, rules) in &by_phase {
        let rs = json!({"id": format!("rs-{phase}"), "name": phase, "kind": "zone", "phase": phase, "rules": rules});
        write(
            d,
            &format!("rulesets/{phase}.json"),
            &serde_json::to_string_pretty(&rs).unwrap(),
        );
    }
    for (name, list) in lists {
        write(d, &format!("lists/{name}.json"), &list.to_string());
    }
    write(
        d,
        "s.yaml",
        "base_url: https://www.example.com\ncases:\n  - name: a\n    request: { url: / }\n    expect: { status: [200, 301, 302, 403] }\n",
    );
    let o = super::bin()
        .args(["check", d.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let rejected = err
        .lines()
        .filter_map(|l| l.split("in rule `").nth(1))
        .filter_map(|l| l.split('`').next())
        .filter_map(|id| sources.get(id).map(|s| format!("{id} from {s}")))
        .collect();
    (o.status.code(), err, rejected)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}
