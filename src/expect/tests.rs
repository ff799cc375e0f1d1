use serde_json::json;

use super::*;
use crate::trace::{TraceItem, TraceResult};

fn rule(id: &str, desc: &str, action: &str, matched: bool) -> TraceItem {
    TraceItem {
        kind_of_step: Some("rule".into()),
        step_name: Some(id.into()),
        description: Some(desc.into()),
        action: Some(action.into()),
        matched: Some(matched),
        action_parameters: Some(std::sync::Arc::new(
            json!({"response": {"status_code": 403, "content": "no"}}),
        )),
        ..Default::default()
    }
}

fn view() -> TraceView {
    TraceView::new(&TraceResult {
        status_code: Some(403),
        trace: vec![TraceItem {
            kind_of_step: Some("ruleset".into()),
            step_name: Some("rs".into()),
            trace: vec![
                rule("r1", "log everything", "log", true),
                rule("r2", "skip partners", "skip", false),
                rule("r3", "block admin", "block", true),
            ],
            ..Default::default()
        }],
    })
}

fn pattern(f: impl FnOnce(&mut TraceItem)) -> TraceItem {
    let mut t = TraceItem::default();
    f(&mut t);
    t
}

#[test]
fn all_kinds_pass_on_a_matching_trace() {
    let e = Expectations {
        status: Some(vec![401, 403]),
        location: None,
        action: Some("block".into()),
        matched: vec!["r1".into(), "block admin".into()],
        not_matched: vec!["r2".into(), "absent".into()],
        trace: vec![
            pattern(|p| p.step_name = Some("rs".into())),
            pattern(|p| {
                p.action = Some("block".into());
                p.action_parameters = Some(std::sync::Arc::new(
                    json!({"response": {"status_code": 403}}),
                ));
            }),
        ],
    };
    assert_eq!(check(&e, &view()), vec![]);
}

#[test]
fn status_mismatch() {
    let e = Expectations {
        status: Some(vec![200]),
        ..Default::default()
    };
    let m = check(&e, &view());
    assert_eq!(m[0].message, "status: expected 200, got 403");
}

#[test]
fn action_mismatch_names_the_terminating_rule() {
    let e = Expectations {
        action: Some("none".into()),
        ..Default::default()
    };
    assert_eq!(
        check(&e, &view())[0].message,
        "action: expected `none`, got `block` (rule `r3` (block admin) ended the request)"
    );
}

#[test]
fn matched_mismatch_says_why() {
    let e = Expectations {
        matched: vec!["r2".into(), "nope".into()],
        ..Default::default()
    };
    let m = check(&e, &view());
    assert_eq!(m.len(), 2);
    assert!(m[0].message.ends_with("it was evaluated and did not match"));
    assert!(m[1].message.ends_with("it is not in the trace"));
}

#[test]
fn not_matched_mismatch() {
    let e = Expectations {
        not_matched: vec!["block admin".into()],
        ..Default::default()
    };
    assert_eq!(
        check(&e, &view())[0].message,
        "not_matched: expected rule `block admin` not to match, but it matched (action `block`)"
    );
}

#[test]
fn trace_order_is_a_subsequence() {
    let out_of_order = Expectations {
        trace: vec![
            pattern(|p| p.step_name = Some("r3".into())),
            pattern(|p| p.step_name = Some("r1".into())),
        ],
        ..Default::default()
    };
    let m = check(&out_of_order, &view());
    assert_eq!(m[0].key, "trace");
    assert!(
        m[0].message
            .starts_with("trace: step 2 of 2 {step_name: r1} not found after step 1")
    );
    let params_differ = Expectations {
        trace: vec![pattern(|p| {
            p.action_parameters = Some(std::sync::Arc::new(
                json!({"response": {"status_code": 429}}),
            ));
        })],
        ..Default::default()
    };
    assert_eq!(check(&params_differ, &view()).len(), 1);
}

#[test]
fn views_align_and_differ_only_where_wrong() {
    let e = Expectations {
        status: Some(vec![200]),
        action: Some("block".into()),
        matched: vec!["r2".into()],
        ..Default::default()
    };
    let (exp, act) = views(&e, &view());
    assert_eq!(exp, "status: 200\naction: block\nmatched:\n  r2: true\n");
    assert_eq!(act, "status: 403\naction: block\nmatched:\n  r2: false\n");
}

#[test]
fn location_of_the_terminating_redirect() {
    let mut step = rule("rd", "moved", "redirect", true);
    step.target_url = Some("https://b.example/x".into());
    let view = TraceView::new(&TraceResult {
        status_code: Some(301),
        trace: vec![step],
    });
    let ok = Expectations {
        location: Some("https://b.example/x".into()),
        ..Default::default()
    };
    assert_eq!(check(&ok, &view), vec![]);
    let wrong = Expectations {
        location: Some("https://c.example/".into()),
        ..Default::default()
    };
    assert_eq!(
        check(&wrong, &view)[0].message,
        "location: expected a redirect to https://c.example/, but rule `rd` (moved) redirects to https://b.example/x"
    );
    let (e, a) = views(&wrong, &view);
    assert_eq!(
        (e.as_str(), a.as_str()),
        (
            "location: https://c.example/\n",
            "location: https://b.example/x\n"
        )
    );
    assert!(
        check(&ok, &super::super::trace::TraceView::default())[0]
            .message
            .ends_with("no redirect ended the request")
    );
}
