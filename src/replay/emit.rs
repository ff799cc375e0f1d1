//! `--emit-cases FILE.yaml`: the sampled requests of each transition (or each outcome, without
//! a baseline) as a suite, each case expecting what the candidate does with it as a case (the
//! fields the log carried set as `fields`, the rest at the Trace API's defaults, as `rulegate
//! test` will run it). Samples are already redacted; identical requests appear once.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;

use super::tally::{Group, Outcome, Sample, Tally};
use crate::ruleset::Rulebook;
use crate::trace::{Behaviour, Extras, TraceView};

/// `${` would be read as a suite variable: written `$${`.
fn escape_vars(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains("${") => *s = s.replace("${", "$${"),
        serde_json::Value::Array(a) => a.iter_mut().for_each(escape_vars),
        serde_json::Value::Object(o) => {
            // Keys too: a header or cookie name is a suite string.
            let entries: Vec<(String, serde_json::Value)> = std::mem::take(o).into_iter().collect();
            for (k, mut val) in entries {
                escape_vars(&mut val);
                o.insert(k.replace("${", "$${"), val);
            }
        }
        _ => {}
    }
}

/// A JSON value as a YAML flow value (JSON is YAML), with suite variables escaped.
pub(crate) fn flow(v: &impl serde::Serialize) -> String {
    let mut j = serde_json::to_value(v).unwrap_or_default();
    escape_vars(&mut j);
    serde_json::to_string(&j).unwrap_or_default()
}

/// The suite text and how many cases it holds.
pub(crate) fn suite(t: &Tally, book: &Rulebook, compared: bool) -> (String, usize) {
    // Without a change to show, the candidate's outcomes are the cases.
    let groups: Vec<(String, &Group)> = if compared && !t.transitions.is_empty() {
        t.transitions
            .iter()
            .map(|((b, a), g)| (format!("{} → {}", b.label(), a.label()), g))
            .collect()
    } else {
        t.outcomes
            .iter()
            .map(|(o, g): (&Outcome, &Group)| (o.label(), g))
            .collect()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `rulegate replay --emit-cases` from sampled log lines. Each case expects what\n# the candidate rules do with the request today: review the expectations before committing.\n# Redacted values read REDACTED."
    );
    out.push_str("name: \"replayed traffic\"\ncases:\n");
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut n = 0;
    for (label, g) in groups {
        for s in &g.samples {
            let identity = flow(&(&s.request, &s.fields));
            if !seen.insert(identity) {
                continue;
            }
            let Some(expect) = expectation(book, s) else {
                continue;
            };
            let mut name = format!("{label}: {} {}", s.request.method, path_of(&s.request.url));
            let mut i = 2;
            while !names.insert(name.clone()) {
                name = format!(
                    "{label}: {} {} #{i}",
                    s.request.method,
                    path_of(&s.request.url)
                );
                i += 1;
            }
            let _ = writeln!(out, "  - name: {}", flow(&name));
            let _ = writeln!(
                out,
                "    # from {}:{}",
                crate::escape::visible(&s.source),
                s.line
            );
            let _ = writeln!(out, "    request: {}", flow(&s.request));
            if !s.fields.is_empty() {
                let _ = writeln!(out, "    fields: {}", flow(&s.fields));
            }
            let _ = writeln!(out, "    expect: {}", flow(&expect));
            n += 1;
        }
    }
    if n == 0 {
        out = out.replace("cases:\n", "cases: []\n");
    }
    (out, n)
}

pub(crate) fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, r)| r.find('/').map(|i| &r[i..]))
        .unwrap_or(url)
}

/// What the candidate does with the sample run as a case.
fn expectation(book: &Rulebook, s: &Sample) -> Option<serde_json::Value> {
    static NEVER: AtomicBool = AtomicBool::new(false);
    let fields: serde_json::Map<String, serde_json::Value> = s
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let extras = Extras {
        fields: (!fields.is_empty()).then_some(fields),
        origin: None,
    };
    let (result, _) = crate::ruleset::evaluate_until(book, &s.request, &extras, &NEVER).ok()?;
    let b = Behaviour::of(&TraceView::from_result(result));
    let mut e = serde_json::Map::new();
    if let Some(status) = b.status {
        e.insert("status".into(), status.into());
    }
    e.insert("action".into(), b.action.clone().into());
    if let Some(r) = &b.rule {
        e.insert("matched".into(), serde_json::json!([r]));
    }
    Some(serde_json::Value::Object(e))
}
