//! Real expressions from public Terraform configurations and rule collections, read from
//! `../shared/realworld/` (beside the checkout; never copied into the repository). Cloudflare
//! accepts every one, so `rulegate check` must accept them, each in its phase when the data
//! gives one: a correct project must never fail `check`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

#[derive(serde::Deserialize)]
struct Row {
    expr: String,
    source: String,
    phase: Option<String>,
}

fn rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realworld/expressions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the real-world corpus lives in shared/ beside the checkout",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

/// The list names an expression uses, with the kind its use implies.
fn lists_of(expr: &str, out: &mut BTreeMap<String, &'static str>) {
    for (i, _) in expr.match_indices(" in $") {
        let i = i + 4;
        let name: String = expr[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || expr[i + 1..].starts_with("cf.") {
            continue;
        }
        let before = &expr[..i];
        let lhs = before.rsplit(['(', ' ']).nth(2).unwrap_or(before);
        let kind = if before.trim_end().ends_with("in") && before.contains("full_uri") {
            "redirect"
        } else if lhs.contains("asnum") {
            "asn"
        } else if lhs.contains("host") {
            "hostname"
        } else {
            "ip"
        };
        out.entry(name).or_insert(kind);
    }
}

/// The rule that holds `expr` in `phase`: as its filter, or, for a value expression, where
/// that phase takes one.
fn rule(id: &str, phase: &str, expr: &str, value: bool) -> Value {
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
        ("http_response_cache_settings", _) => ("set_cache_tags", json!({}), expr),
        ("http_request_origin", _) => ("route", json!({}), expr),
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

#[test]
fn check_accepts_every_real_world_expression() {
    let rows = rows();
    assert!(rows.len() >= 250, "{} rows", rows.len());
    let mut lists = BTreeMap::new();
    for r in &rows {
        lists_of(&r.expr, &mut lists);
    }
    let mut engine_lists = rulegate::rules::Lists::new();
    for (name, kind) in &lists {
        engine_lists.insert(
            name.clone(),
            match *kind {
                "asn" => rulegate::rules::List::asns(std::iter::empty()),
                "hostname" | "redirect" => {
                    rulegate::rules::List::hostnames(std::iter::empty::<String>())
                }
                _ => rulegate::rules::List::Ip(rulegate::rules::IpSet::new().finish()),
            },
        );
    }
    let mut by_phase: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let value = rulegate::rules::compile_filter(&r.expr, &engine_lists).is_err()
            && rulegate::rules::compile_value(&r.expr, &engine_lists).is_ok();
        // Phases whose rules take a value expression somewhere; elsewhere (an exposed
        // credential check's username expression, a cache tag list) the value is checked in a
        // transform rule of the same kind of traffic.
        let slot = |p: &str| {
            matches!(
                p,
                "http_request_dynamic_redirect"
                    | "http_request_redirect"
                    | "http_request_transform"
                    | "http_request_late_transform"
                    | "http_response_headers_transform"
            )
        };
        let phase = match &r.phase {
            Some(p) if value && !slot(p) && r.expr.contains("http.response") => {
                "http_response_headers_transform".to_string()
            }
            Some(p) if value && !slot(p) => "http_request_late_transform".to_string(),
            Some(p) => p.clone(),
            None if value && r.expr.contains("http.response") => {
                "http_response_headers_transform".to_string()
            }
            None if value => "http_request_late_transform".to_string(),
            None => "http_request_firewall_custom".to_string(),
        };
        let id = format!("rw{i}");
        sources.insert(id.clone(), (r.source.clone(), r.expr.clone()));
        by_phase
            .entry(phase.clone())
            .or_default()
            .push(rule(&id, &phase, &r.expr, value));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rulesets")).unwrap();
    std::fs::create_dir_all(dir.path().join("lists")).unwrap();
    for (phase, rules) in &by_phase {
        let rs = json!({"id": format!("rs-{phase}"), "name": phase, "kind": "zone", "phase": phase, "rules": rules});
        std::fs::write(
            dir.path().join(format!("rulesets/{phase}.json")),
            serde_json::to_string_pretty(&rs).unwrap(),
        )
        .unwrap();
    }
    for (name, kind) in &lists {
        std::fs::write(
            dir.path().join(format!("lists/{name}.json")),
            json!({"name": name, "kind": kind, "items": []}).to_string(),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("s.yaml"),
        "base_url: https://www.example.com\ncases:\n  - name: a\n    request: { url: / }\n    expect: { status: [200, 301, 302, 403] }\n",
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rulegate"))
        .args(["check", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let rejected: BTreeSet<String> = err
        .lines()
        .filter_map(|l| l.split("in rule `").nth(1))
        .filter_map(|l| l.split('`').next())
        .map(|id| {
            let (src, expr) = &sources[id];
            format!("{id} from {src}: {expr}")
        })
        .collect();
    assert_eq!(
        o.status.code(),
        Some(0),
        "check rejected real-world expressions:\n{}\n\n{err}",
        rejected.into_iter().collect::<Vec<_>>().join("\n")
    );
}
