//! The surface conformance corpus (`tests/surface/corpus.jsonl`, written for rulegate): over
//! 400 expressions, each tagged with its phase, that together use every field of Cloudflare's
//! catalogue, every function, every operator in both spellings and every list kind, in the
//! forms real rules take (multi-line and indented, nested `any`, sets, lists, header and JWT
//! maps, value expressions for rewrites and redirects). `check` must accept every one.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::corpus::{self, Entry};
use serde_json::{Value, json};

#[derive(serde::Deserialize)]
struct Row {
    phase: String,
    value: bool,
    expr: String,
}

fn rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/surface/corpus.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

fn lists() -> BTreeMap<String, Value> {
    BTreeMap::from([
        (
            "office_ips".to_string(),
            json!({"name": "office_ips", "kind": "ip", "items": [{"ip": "192.0.2.0/24"}]}),
        ),
        (
            "partner_hosts".to_string(),
            json!({"name": "partner_hosts", "kind": "hostname", "items": [{"hostname": {"url_hostname": "*.partner.example"}}]}),
        ),
        (
            "bad_asns".to_string(),
            json!({"name": "bad_asns", "kind": "asn", "items": [{"asn": 64500}]}),
        ),
        (
            "shop_redirects".to_string(),
            json!({"name": "shop_redirects", "kind": "redirect", "items": [{"redirect": {"source_url": "example.com/old", "target_url": "https://example.com/new"}}]}),
        ),
    ])
}

#[test]
fn check_accepts_every_expression_of_the_surface_corpus() {
    let rows = rows();
    assert!(rows.len() >= 400, "{} expressions", rows.len());
    let entries: Vec<Entry> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Entry {
            phase: r.phase.clone(),
            expr: r.expr.clone(),
            value: r.value,
            source: format!("corpus.jsonl line {}", i + 1),
        })
        .collect();
    let (code, err, rejected) = corpus::check(&entries, &lists());
    assert_eq!(
        code,
        Some(0),
        "check rejected corpus expressions:\n{}\n\n{err}",
        rejected.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The corpus covers the whole surface: every catalogue field, every function, every
/// operator spelling and every list kind appears in it.
#[test]
fn the_corpus_covers_the_surface() {
    let text: String = rows().iter().map(|r| format!("{}\n", r.expr)).collect();
    let catalogue = include_str!("../../src/rules/catalogue.tsv");
    let mut missing = Vec::new();
    for line in catalogue
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split('\t').next().unwrap();
        // A field name must stand on its own (not as the prefix of a longer one).
        let found = text.match_indices(name).any(|(i, _)| {
            !text[i + name.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        });
        if !found {
            missing.push(name.to_string());
        }
    }
    for f in [
        "concat(",
        "len(",
        "lower(",
        "upper(",
        "starts_with(",
        "ends_with(",
        "substring(",
        "url_decode(",
        "lookup_json_string(",
        "lookup_json_integer(",
        "remove_bytes(",
        "decode_base64(",
        "encode_base64(",
        "sha256(",
        "cidr(",
        "cidr6(",
        "join(",
        "split(",
        "regex_replace(",
        "wildcard_replace(",
        "remove_query_args(",
        "to_string(",
        "uuidv4(",
        "is_timed_hmac_valid_v0(",
        "has_key(",
        "has_value(",
        "any(",
        "all(",
    ] {
        if !text.contains(f) {
            missing.push(f.to_string());
        }
    }
    for op in [
        " eq ",
        " == ",
        " ne ",
        " != ",
        " lt ",
        " < ",
        " le ",
        " <= ",
        " gt ",
        " > ",
        " ge ",
        " >= ",
        " contains ",
        " matches ",
        " ~ ",
        " wildcard ",
        " strict wildcard ",
        " in {",
        " & ",
        " bitwise_and ",
        " and ",
        " && ",
        " or ",
        " || ",
        " xor ",
        " ^^ ",
        "not ",
        "!",
        "$office_ips",
        "$partner_hosts",
        "$bad_asns",
        "$shop_redirects",
        "$cf.",
        "[*]",
        "\n",
    ] {
        if !text.contains(op) {
            missing.push(format!("operator or form {op:?}"));
        }
    }
    assert!(missing.is_empty(), "not in the corpus: {missing:#?}");
}
