//! Phase evaluator tests over projects loaded from files: each action, each skip form, overrides, rewrites seen by later
//! phases but not by `raw.*`, stand-in and missing managed rulesets, account before zone.

use serde_json::{Value, json};

use super::{Project, ProjectConfig, load_project};
use crate::ruleset::evaluate;
use crate::trace::{Extras, Origin, TraceRequest, TraceView};

fn project(rulesets: &[Value]) -> Project {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rulesets")).unwrap();
    for (i, r) in rulesets.iter().enumerate() {
        std::fs::write(dir.path().join(format!("rulesets/{i}.json")), r.to_string()).unwrap();
    }
    load_project(dir.path(), &ProjectConfig::default(), &Default::default())
        .unwrap_or_else(|r| panic!("{}", r.render()))
}

fn entry(kind: &str, phase: &str, id: &str, rules: Value) -> Value {
    json!({"id": id, "name": "default", "kind": kind, "phase": phase, "rules": rules})
}

fn r(id: &str, action: &str, expr: &str, params: Value) -> Value {
    let mut v = json!({"id": id, "action": action, "expression": expr});
    if !params.is_null() {
        v["action_parameters"] = params;
    }
    v
}

fn req(url: &str) -> TraceRequest {
    TraceRequest {
        method: "GET".into(),
        url: url.into(),
        ..Default::default()
    }
}

/// (status, view) of a request.
fn run(p: &Project, req: &TraceRequest, extras: &Extras) -> (i64, TraceView, Vec<String>) {
    let (result, warnings) = evaluate(&p.book, req, extras).unwrap();
    // Recording the walk never changes the evaluation.
    let (walked, _) = crate::ruleset::evaluate_walked(&p.book, req, extras).unwrap();
    assert_eq!(
        serde_json::to_value(&walked).unwrap(),
        serde_json::to_value(&result).unwrap()
    );
    (
        result.status_code.unwrap(),
        TraceView::new(&result),
        warnings,
    )
}

fn get(p: &Project, url: &str) -> (i64, TraceView) {
    let (s, v, _) = run(p, &req(url), &Extras::default());
    (s, v)
}

/// `Some(matched)` for a step present in the trace, `None` when it was not evaluated.
fn step(v: &TraceView, id: &str) -> Option<bool> {
    v.steps
        .iter()
        .find(|s| s.item.step_name.as_deref() == Some(id))
        .map(super::super::trace::view::Step::matched)
}

const FC: &str = "http_request_firewall_custom";

#[test]
fn terminating_actions_and_their_status() {
    let p = project(&[entry(
        "zone",
        FC,
        "z",
        json!([
            r("b", "block", "http.request.uri.path eq \"/b\"", Value::Null),
            r(
                "c",
                "block",
                "http.request.uri.path eq \"/c\"",
                json!({"response": {"status_code": 451, "content": "x", "content_type": "text/plain"}})
            ),
            r(
                "m",
                "managed_challenge",
                "http.request.uri.path eq \"/m\"",
                Value::Null
            ),
            r(
                "j",
                "js_challenge",
                "http.request.uri.path eq \"/j\"",
                Value::Null
            ),
            r(
                "i",
                "challenge",
                "http.request.uri.path eq \"/i\"",
                Value::Null
            ),
            r("l", "log", "true", Value::Null),
        ]),
    )]);
    for (path, status, action) in [
        ("/b", 403, "block"),
        ("/c", 451, "block"),
        ("/m", 403, "managed_challenge"),
        ("/j", 403, "js_challenge"),
        ("/i", 403, "challenge"),
        ("/x", 200, "none"),
    ] {
        let (s, v) = get(&p, &format!("https://a.example{path}"));
        assert_eq!((s, v.action()), (status, action), "{path}");
    }
    // A terminating rule ends evaluation: the log rule after it is not evaluated.
    let (_, v) = get(&p, "https://a.example/b");
    assert_eq!(step(&v, "l"), None);
    let (_, v) = get(&p, "https://a.example/x");
    assert_eq!(
        step(&v, "l"),
        Some(true),
        "log matches and does not terminate"
    );
}

#[test]
fn skip_challenge_continues() {
    let p = project(&[entry(
        "zone",
        FC,
        "z",
        json!([
            r("m", "managed_challenge", "true", Value::Null),
            r("l", "log", "true", Value::Null)
        ]),
    )]);
    let mut q = req("https://a.example/");
    q.context = Some(crate::trace::TraceContext {
        skip_challenge: Some(true),
        ..Default::default()
    });
    let (s, v, _) = run(&p, &q, &Extras::default());
    assert_eq!(s, 200);
    assert_eq!(step(&v, "l"), Some(true));
}

#[test]
fn redirects_end_the_request_before_later_phases() {
    let p = project(&[
        entry(
            "zone",
            "http_request_dynamic_redirect",
            "d",
            json!([
                r(
                    "r1",
                    "redirect",
                    "http.request.uri.path eq \"/a\"",
                    json!({"from_value": {"target_url": {"value": "https://b.example/"}}})
                ),
                r(
                    "r2",
                    "redirect",
                    "http.request.uri.path eq \"/b\"",
                    json!({"from_value": {"target_url": {"expression": "concat(\"https://c.example\", http.request.uri.path)"}, "status_code": 308}})
                ),
            ]),
        ),
        entry(
            "zone",
            FC,
            "z",
            json!([r("blk", "block", "true", Value::Null)]),
        ),
    ]);
    let (s, v) = get(&p, "https://a.example/a");
    assert_eq!((s, v.action()), (301, "redirect"));
    assert_eq!(step(&v, "blk"), None, "the WAF never ran");
    assert_eq!(get(&p, "https://a.example/b").0, 308);
    assert_eq!(get(&p, "https://a.example/z").1.action(), "block");
}

#[test]
fn response_phases_need_an_origin_response() {
    let p = project(&[entry(
        "zone",
        "http_custom_errors",
        "e",
        json!([r(
            "se",
            "serve_error",
            "http.response.code ge 500",
            json!({"content": "x", "content_type": "text/plain", "status_code": 503})
        )]),
    )]);
    let (s, v) = get(&p, "https://a.example/");
    assert_eq!((s, step(&v, "se")), (200, None));
    let origin = |status| Extras {
        origin: Some(Origin {
            status: Some(status),
            headers: Default::default(),
        }),
        ..Default::default()
    };
    let (s, v, _) = run(&p, &req("https://a.example/"), &origin(502));
    assert_eq!((s, v.action()), (503, "serve_error"));
    let (s, v, _) = run(&p, &req("https://a.example/"), &origin(404));
    assert_eq!((s, step(&v, "se")), (404, Some(false)));
}

#[test]
fn skip_current_ruleset() {
    let p = project(&[entry(
        "zone",
        FC,
        "z",
        json!([
            r(
                "s",
                "skip",
                "http.request.uri.path eq \"/ok\"",
                json!({"ruleset": "current"})
            ),
            r("b", "block", "true", Value::Null),
        ]),
    )]);
    let (s, v) = get(&p, "https://a.example/ok");
    assert_eq!((s, step(&v, "s"), step(&v, "b")), (200, Some(true), None));
    assert_eq!(get(&p, "https://a.example/other").0, 403);
}

fn account_custom() -> Vec<Value> {
    vec![
        entry(
            "root",
            FC,
            "root",
            json!([r("ex", "execute", "true", json!({"id": "acct"}))]),
        ),
        json!({"id": "acct", "name": "account rules", "kind": "custom", "phase": FC, "rules": [r("acct-block", "block", "http.request.uri.path eq \"/acct\"", Value::Null)]}),
    ]
}

#[test]
fn account_entry_point_runs_before_the_zone() {
    let mut rs = account_custom();
    rs.push(entry(
        "zone",
        FC,
        "zone",
        json!([r("zone-block", "block", "true", Value::Null)]),
    ));
    let p = project(&rs);
    let (s, v) = get(&p, "https://a.example/acct");
    assert_eq!(s, 403);
    assert_eq!(
        v.terminating_step().unwrap().item.step_name.as_deref(),
        Some("acct-block")
    );
    assert_eq!(step(&v, "zone-block"), None);
    let (_, v) = get(&p, "https://a.example/x");
    let order: Vec<_> = v
        .steps
        .iter()
        .filter_map(|s| s.item.step_name.clone())
        .collect();
    assert_eq!(
        order,
        [FC, "root", "ex", "acct", "acct-block", "zone", "zone-block"]
    );
}

#[test]
fn skip_current_phase_stops_rulesets_executed_later() {
    let mut rs = vec![entry(
        "zone",
        FC,
        "zone",
        json!([r("zb", "block", "true", Value::Null)]),
    )];
    rs.push(entry(
        "root",
        FC,
        "root",
        json!([
            r(
                "skp",
                "skip",
                "http.request.uri.path eq \"/free\"",
                json!({"phase": "current"})
            ),
            r("ex", "execute", "true", json!({"id": "acct"})),
        ]),
    ));
    rs.push(account_custom().remove(1));
    rs.push(entry(
        "zone",
        "http_request_late_transform",
        "late",
        json!([r(
            "hdr",
            "rewrite",
            "true",
            json!({"headers": {"x-a": {"operation": "set", "value": "1"}}})
        )]),
    ));
    let p = project(&rs);
    let (s, v) = get(&p, "https://a.example/free");
    assert_eq!(s, 200);
    assert_eq!(
        (step(&v, "ex"), step(&v, "zb")),
        (None, None),
        "the rest of the phase, at both levels, is skipped"
    );
    assert_eq!(step(&v, "hdr"), Some(true), "later phases still run");
    // The walk names the skip rule for the zone's entry point and the rule after it.
    let (_, w) = crate::ruleset::evaluate_walked(
        &p.book,
        &req("https://a.example/free"),
        &Extras::default(),
    )
    .unwrap();
    let fc = w.phases.iter().find(|ph| ph.phase == FC).unwrap();
    let zone = fc.rulesets.iter().find(|r| r.id == "zone").unwrap();
    assert!(!zone.entered);
    let by = "the skip rule `skp` (";
    assert!(
        zone.why_not.as_deref().unwrap().starts_with(by)
            && zone
                .why_not
                .as_deref()
                .unwrap()
                .ends_with(&format!("skipped the rest of phase {FC}")),
        "{zone:?}"
    );
    let ex = &fc.rulesets[0].rules[1];
    assert_eq!((ex.id.as_str(), ex.evaluated), ("ex", false));
    assert!(ex.why_not.as_deref().unwrap().starts_with(by), "{ex:?}");
}

#[test]
fn skip_phases_scope_depends_on_the_level() {
    let rl = json!({"characteristics": ["ip.src"], "period": 60});
    let mut zone_rl = r("zrl", "block", "true", Value::Null);
    zone_rl["ratelimit"] = rl.clone();
    let mut acct_rl = r("arl", "block", "true", Value::Null);
    acct_rl["ratelimit"] = rl;
    let base = vec![
        entry("zone", "http_ratelimit", "zr", json!([zone_rl])),
        entry("root", "http_ratelimit", "ar", json!([acct_rl])),
    ];
    // A zone-level skip of phases skips only the zone's rules.
    let mut rs = base.clone();
    rs.push(entry(
        "zone",
        FC,
        "z",
        json!([r(
            "s",
            "skip",
            "true",
            json!({"phases": ["http_ratelimit"]})
        )]),
    ));
    let (_, v) = get(&project(&rs), "https://a.example/");
    assert_eq!((step(&v, "arl"), step(&v, "zrl")), (Some(true), None));
    // An account-level skip of phases skips them at both levels.
    let mut rs = base;
    rs.push(entry(
        "root",
        FC,
        "r",
        json!([r(
            "s",
            "skip",
            "true",
            json!({"phases": ["http_ratelimit"]})
        )]),
    ));
    let p = project(&rs);
    let (_, v) = get(&p, "https://a.example/");
    assert_eq!((step(&v, "arl"), step(&v, "zrl")), (None, None));
    let (_, w) =
        crate::ruleset::evaluate_walked(&p.book, &req("https://a.example/"), &Extras::default())
            .unwrap();
    let rl = w
        .phases
        .iter()
        .find(|ph| ph.phase == "http_ratelimit")
        .unwrap();
    assert_eq!(rl.rulesets.len(), 2, "{rl:?}");
    for rs in &rl.rulesets {
        assert!(!rs.entered);
        let why = rs.why_not.as_deref().unwrap();
        assert!(
            why.starts_with("the skip rule `s` (") && why.ends_with("skipped phase http_ratelimit"),
            "{why}"
        );
    }
}

#[test]
fn rate_limiting_rules_are_traced_but_not_applied() {
    let mut rule = r(
        "rl",
        "block",
        "true",
        json!({"response": {"status_code": 429, "content": "x", "content_type": "text/plain"}}),
    );
    rule["ratelimit"] =
        json!({"characteristics": ["ip.src"], "period": 60, "requests_per_period": 1});
    let p = project(&[entry("zone", "http_ratelimit", "z", json!([rule]))]);
    let (s, v) = get(&p, "https://a.example/");
    assert_eq!((s, step(&v, "rl"), v.action()), (200, Some(true), "none"));
}

fn managed_setup(extra_entry_rules: Vec<Value>, with_stand_in: bool, overrides: Value) -> Project {
    let mut rules = extra_entry_rules;
    rules.push(r(
        "ex",
        "execute",
        "true",
        json!({"id": "efb7b8c949ac4650a09736fc376e9aee", "overrides": overrides}),
    ));
    let mut rs = vec![entry(
        "zone",
        "http_request_firewall_managed",
        "m",
        json!(rules),
    )];
    if with_stand_in {
        rs.push(json!({"id": "efb7b8c949ac4650a09736fc376e9aee", "name": "CF managed", "kind": "managed", "phase": "http_request_firewall_managed", "rules": [
            {"id": "sqli", "action": "block", "categories": ["sqli"], "expression": "http.request.uri.query contains \"select\""},
            {"id": "wp", "action": "log", "categories": ["wordpress", "cms"], "expression": "http.request.uri.path eq \"/xmlrpc.php\""},
            {"id": "off", "action": "block", "enabled": false, "expression": "true"},
        ]}));
    }
    project(&rs)
}

#[test]
fn stand_in_and_missing_managed_rulesets() {
    let p = managed_setup(vec![], true, Value::Null);
    let (s, v) = get(&p, "https://a.example/?q=select");
    assert_eq!((s, step(&v, "sqli")), (403, Some(true)));
    assert_eq!(step(&v, "off"), None, "disabled rules are not evaluated");
    let p = managed_setup(vec![], false, Value::Null);
    let (s, v, warnings) = run(&p, &req("https://a.example/?q=select"), &Extras::default());
    assert_eq!(s, 200);
    assert_eq!(
        step(&v, "efb7b8c949ac4650a09736fc376e9aee"),
        Some(false),
        "an opaque step without children"
    );
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("efb7b8c949ac4650a09736fc376e9aee (Cloudflare Managed Ruleset)"),
        "{warnings:?}"
    );
}

#[test]
fn overrides_follow_their_precedence() {
    // Ruleset-level action applies to enabled rules.
    let p = managed_setup(vec![], true, json!({"action": "log"}));
    assert_eq!(get(&p, "https://a.example/?q=select").0, 200);
    // Category override turns the wordpress log rule into a block; the last listed tag wins.
    let p = managed_setup(
        vec![],
        true,
        json!({"categories": [{"category": "wordpress", "action": "block"}, {"category": "cms", "action": "managed_challenge"}]}),
    );
    let (s, v) = get(&p, "https://a.example/xmlrpc.php");
    assert_eq!((s, v.action()), (403, "managed_challenge"));
    // Rule override beats category and ruleset overrides.
    let p = managed_setup(
        vec![],
        true,
        json!({"action": "log", "categories": [{"category": "sqli", "action": "log"}], "rules": [{"id": "sqli", "action": "block"}]}),
    );
    assert_eq!(get(&p, "https://a.example/?q=select").1.action(), "block");
    // Rule override can disable; ruleset `enabled: true` can enable a rule that is off.
    let p = managed_setup(
        vec![],
        true,
        json!({"rules": [{"id": "sqli", "enabled": false}]}),
    );
    assert_eq!(
        step(&get(&p, "https://a.example/?q=select").1, "sqli"),
        None
    );
    let p = managed_setup(vec![], true, json!({"enabled": true}));
    assert_eq!(step(&get(&p, "https://a.example/").1, "off"), Some(true));
}

#[test]
fn skip_rulesets_and_skip_rules() {
    let skip_rs = r(
        "x1",
        "skip",
        "http.request.uri.path eq \"/hook\"",
        json!({"rulesets": ["efb7b8c949ac4650a09736fc376e9aee"]}),
    );
    let p = managed_setup(vec![skip_rs], true, Value::Null);
    let (s, v) = get(&p, "https://a.example/hook?q=select");
    assert_eq!(
        (s, step(&v, "ex")),
        (200, None),
        "the execute rule is not evaluated"
    );
    let (_, w) = crate::ruleset::evaluate_walked(
        &p.book,
        &req("https://a.example/hook?q=select"),
        &Extras::default(),
    )
    .unwrap();
    let (_, ex) = w.find("ex").unwrap();
    let why = ex.why_not.as_deref().unwrap();
    assert!(
        why.starts_with("the skip rule `x1` (")
            && why.ends_with("skipped ruleset efb7b8c949ac4650a09736fc376e9aee"),
        "{why}"
    );
    let skip_rules = r(
        "x2",
        "skip",
        "http.request.uri.path eq \"/hook\"",
        json!({"rules": {"efb7b8c949ac4650a09736fc376e9aee": ["sqli"]}}),
    );
    let p = managed_setup(vec![skip_rules], true, Value::Null);
    let (s, v) = get(&p, "https://a.example/hook?q=select");
    assert_eq!(
        (s, step(&v, "ex"), step(&v, "sqli"), step(&v, "wp")),
        (200, Some(true), None, Some(false))
    );
    let (_, w) = crate::ruleset::evaluate_walked(
        &p.book,
        &req("https://a.example/hook?q=select"),
        &Extras::default(),
    )
    .unwrap();
    let (_, sqli) = w.find("sqli").unwrap();
    assert!(!sqli.evaluated);
    let why = sqli.why_not.as_deref().unwrap();
    assert!(
        why.starts_with("the skip rule `x2` (") && why.ends_with("skipped it"),
        "{why}"
    );
    // A skip placed after the execute rule skips nothing.
    let stand_in = managed_setup(vec![], true, Value::Null)
        .book
        .ruleset("efb7b8c949ac4650a09736fc376e9aee")
        .unwrap()
        .ruleset
        .clone();
    let p = project(&[
        entry(
            "zone",
            "http_request_firewall_managed",
            "m",
            json!([
                r(
                    "ex",
                    "execute",
                    "true",
                    json!({"id": "efb7b8c949ac4650a09736fc376e9aee"})
                ),
                r(
                    "late-skip",
                    "skip",
                    "true",
                    json!({"rules": {"efb7b8c949ac4650a09736fc376e9aee": ["sqli"]}})
                ),
            ]),
        ),
        serde_json::to_value(stand_in).unwrap(),
    ]);
    assert_eq!(get(&p, "https://a.example/hook?q=select").0, 403);
}

#[test]
fn url_rewrites_are_seen_by_later_phases_but_not_raw_fields() {
    let p = project(&[
        entry(
            "zone",
            "http_request_transform",
            "t",
            json!([r(
                "rw",
                "rewrite",
                "starts_with(http.request.uri.path, \"/old/\")",
                json!({"uri": {"path": {"expression": "regex_replace(http.request.uri.path, \"^/old/\", \"/new/\")"}, "query": {"value": "v=2"}}})
            ),]),
        ),
        entry(
            "zone",
            FC,
            "z",
            json!([
                r(
                    "new",
                    "log",
                    "http.request.uri.path eq \"/new/x\" and http.request.uri.query eq \"v=2\" and http.request.full_uri eq \"https://a.example/new/x?v=2\"",
                    Value::Null
                ),
                r(
                    "raw",
                    "log",
                    "raw.http.request.uri.path eq \"/old/x\" and raw.http.request.uri.query eq \"v=1\"",
                    Value::Null
                ),
                r(
                    "same-phase",
                    "log",
                    "http.request.uri.path eq \"/old/x\"",
                    Value::Null
                ),
            ]),
        ),
    ]);
    let (_, v) = get(&p, "https://a.example/old/x?v=1");
    assert_eq!(
        (
            step(&v, "rw"),
            step(&v, "new"),
            step(&v, "raw"),
            step(&v, "same-phase")
        ),
        (Some(true), Some(true), Some(true), Some(false))
    );
}

#[test]
fn header_rewrites_are_seen_by_later_phases() {
    let p = project(&[
        entry(
            "zone",
            "http_request_late_transform",
            "t",
            json!([r(
                "h",
                "rewrite",
                "true",
                json!({"headers": {"x-country": {"operation": "set", "expression": "ip.src.country"}, "x-debug": {"operation": "remove"}}})
            ),]),
        ),
        entry(
            "zone",
            "http_request_cache_settings",
            "c",
            json!([r(
                "seen",
                "set_cache_settings",
                "any(http.request.headers[\"x-country\"][*] eq \"DE\") and not len(http.request.headers[\"x-debug\"]) ge 0",
                json!({"cache": true})
            ),]),
        ),
    ]);
    let mut q = req("https://a.example/");
    q.headers.insert("X-Debug".into(), "1".into());
    let extras = Extras {
        fields: Some(serde_json::from_value(json!({"ip.src.country": "DE"})).unwrap()),
        ..Default::default()
    };
    let (_, v, _) = run(&p, &q, &extras);
    assert_eq!(step(&v, "seen"), Some(true));
}

#[test]
fn a_phase_with_no_entry_point_is_not_traced() {
    let p = project(&[entry(
        "zone",
        FC,
        "z",
        json!([r("l", "log", "true", Value::Null)]),
    )]);
    let (_, v) = get(&p, "https://a.example/");
    let phases: Vec<_> = v
        .steps
        .iter()
        .filter(|s| s.item.kind_of_step.as_deref() == Some("phase"))
        .filter_map(|s| s.item.step_name.clone())
        .collect();
    assert_eq!(phases, [FC]);
}

#[test]
fn a_rule_never_reached_names_the_execute_rule_that_did_not_run_its_ruleset() {
    let mut rs = account_custom();
    rs[0] = entry(
        "root",
        FC,
        "root",
        json!([r(
            "ex",
            "execute",
            "http.request.uri.path eq \"/only-here\"",
            json!({"id": "acct"})
        )]),
    );
    let p = project(&rs);
    let q = req("https://a.example/acct");
    let (result, w) = crate::ruleset::evaluate_walked(&p.book, &q, &Extras::default()).unwrap();
    let view = TraceView::new(&result);
    let why = crate::ruleset::why::explain_rules(
        Some(&p.book),
        &q,
        &Extras::default(),
        &view,
        Some(&w),
        &["acct-block".to_string()],
    );
    let cause = why[0].cause.as_deref().unwrap();
    assert!(
        cause.starts_with("the execute rule `ex` (")
            && cause.ends_with("that runs its ruleset did not match"),
        "{cause}"
    );
    // Its expression is still explained: it would have matched.
    assert_eq!(why[0].tree.as_ref().unwrap().value, Some(true));
}
