//! Real expressions from public Terraform configurations and rule collections, read from
//! `../shared/realworld/` (beside the checkout; never copied into the repository). Cloudflare
//! accepts every one, so `rulegate check` must accept them, each in its phase when the data
//! gives one: a correct project must never fail `check`.

use crate::common;

use std::collections::BTreeMap;

use common::corpus::{self, Entry};
use serde_json::json;

#[derive(serde::Deserialize)]
struct Row {
    expr: String,
    source: String,
    phase: Option<String>,
}

/// The corpus rows; `None` (the test skips, saying why) when shared/ is absent.
fn rows() -> Option<Vec<Row>> {
    let text = common::shared_text("realworld/expressions.jsonl")?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
            .collect(),
    )
}

#[test]
fn check_accepts_every_real_world_expression() {
    let Some(rows) = rows() else { return };
    assert!(rows.len() >= 250, "{} rows", rows.len());
    // The lists each expression uses, with their kinds, from the engine's syntax tree (value
    // expressions use none).
    let mut lists = BTreeMap::new();
    for r in &rows {
        if let Ok(used) = rulegate::rules::lists_used(&r.expr) {
            for (name, kind) in used {
                if !name.starts_with("cf.") {
                    lists.entry(name).or_insert(kind);
                }
            }
        }
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
    let mut entries = Vec::new();
    for r in &rows {
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
        entries.push(Entry {
            phase,
            expr: r.expr.clone(),
            value,
            source: r.source.clone(),
        });
    }
    let list_files = lists
        .iter()
        .map(|(name, kind)| {
            (
                name.clone(),
                json!({"name": name, "kind": kind, "items": []}),
            )
        })
        .collect();
    let (code, err, rejected) = corpus::check(&entries, &list_files);
    assert_eq!(
        code,
        Some(0),
        "check rejected real-world expressions:\n{}\n\n{err}",
        rejected.into_iter().collect::<Vec<_>>().join("\n")
    );
}
