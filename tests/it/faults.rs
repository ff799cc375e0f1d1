//! A gate must never crash, hang or pass by accident: one test per fault found by probing
//! (issue "the faults found by probing"), each named after what it protects.

use crate::common;

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use common::{Auth, Recorded, Reply, Server, bin, fixture, rulegate, stderr, stdout};
use serde_json::json;

fn no_panic(err: &str) {
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// A project directory with `files`, and a passing suite.
fn project(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "base_url: https://www.example.com\ncases:\n  - name: a\n    request: { url: / }\n    expect: { status: 200 }\n",
    )
    .unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn ruleset(id: &str, kind: &str, phase: Option<&str>, rules: serde_json::Value) -> String {
    let mut v = json!({"id": id, "name": id, "kind": kind, "rules": rules});
    if let Some(p) = phase {
        v["phase"] = json!(p);
    }
    serde_json::to_string_pretty(&v).unwrap()
}

fn execute(id: &str, target: &str) -> serde_json::Value {
    json!({"id": id, "action": "execute", "expression": "true", "action_parameters": {"id": target}})
}

const FC: Option<&str> = Some("http_request_firewall_custom");

#[test]
fn execute_loops_are_found_by_check_and_never_overflow_the_stack() {
    // A zone entry point that executes itself.
    let own = project(&[(
        "rulesets/a.json",
        ruleset("za", "zone", FC, json!([execute("r1", "za")])),
    )]);
    // A executes B executes A, custom rulesets.
    let pair = project(&[
        (
            "rulesets/z.json",
            ruleset("z", "zone", FC, json!([execute("r0", "ca")])),
        ),
        (
            "rulesets/a.json",
            ruleset("ca", "custom", None, json!([execute("r1", "cb")])),
        ),
        (
            "rulesets/b.json",
            ruleset("cb", "custom", None, json!([execute("r2", "ca")])),
        ),
    ]);
    // A chain of 3,000 custom rulesets.
    let mut files = vec![(
        "rulesets/z.json".to_string(),
        ruleset("z", "zone", FC, json!([execute("r0", "c0")])),
    )];
    for i in 0..3000 {
        files.push((
            format!("rulesets/c{i}.json"),
            ruleset(
                &format!("c{i}"),
                "custom",
                None,
                json!([execute(&format!("x{i}"), &format!("c{}", i + 1))]),
            ),
        ));
    }
    files.push((
        "rulesets/c3000.json".into(),
        ruleset("c3000", "custom", None, json!([])),
    ));
    let refs: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let chain = project(&refs);

    for (dir, want) in [
        (&own, "execute loop `za` → `za`"),
        (&pair, "execute loop `ca` → `cb` → `ca`"),
        (&chain, "a custom ruleset cannot execute another ruleset"),
    ] {
        let d = dir.path().to_str().unwrap();
        for args in [
            vec!["check", d],
            vec!["test", d],
            vec!["trace", d, "--url", "https://www.example.com/"],
        ] {
            let o = bin().args(&args).output().unwrap();
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
            no_panic(&err);
        }
    }
    // The loop is reported at the rule that closes it.
    let o = bin()
        .args(["check", own.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("rulesets/a.json:13:14"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_absurd_case_name_is_refused_by_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    let name = "x".repeat(65_533);
    std::fs::write(
        dir.path().join("s.yaml"),
        format!("base_url: https://www.example.com\ncases:\n  - name: {name}\n    request: {{ url: / }}\n    expect: {{ status: 200 }}\n"),
    )
    .unwrap();
    let o = bin()
        .args(["test", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the case name is 65533 characters long; the limit is 1000"),
        "{err}"
    );
    no_panic(&err);
}

#[test]
fn a_huge_or_dated_retry_after_never_panics() {
    for value in ["1e20", "1e300", "Wed, 21 Oct 2099 07:28:00 GMT", "soon"] {
        let v = value.to_string();
        let s = Server::start(
            Auth::Token,
            Arc::new(move |_: &Recorded, _| Reply {
                headers: vec![("retry-after", v.clone())],
                ..Reply::json(
                    429,
                    json!({"success": false, "errors": [{"code": 971, "message": "slow down"}], "messages": [], "result": null}),
                )
            }),
        );
        let o = rulegate(
            &s,
            Auth::Token,
            &[
                fixture("shop.yaml").to_str().unwrap(),
                "--retries",
                "1",
                "--retry-delay",
                "0.01",
            ],
        );
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(3), "{value}: {out}{err}");
        no_panic(&out);
        no_panic(&err);
        assert!(!out.contains("stopped unexpectedly"), "{value}: {out}");
    }
}

#[test]
fn zero_test_threads_is_a_usage_error_not_a_hang() {
    let o = bin()
        .args(["test", "suites", "--test-threads", "0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--test-threads"), "{}", stderr(&o));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    // `rulegate test suites | head -0`: the reader is gone before the first line.
    let mut child = bin()
        .args(["test", "suites"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    no_panic(&err);
    assert!(
        o.status.signal() == Some(13) || o.status.code().is_some_and(|c| c <= 3),
        "{:?} {err}",
        o.status
    );
    // `rulegate eval ssl > /dev/full`
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let o = bin()
            .args(["eval", "ssl", "--fields", r#"{"ssl": true}"#])
            .stdout(full)
            .output()
            .unwrap();
        no_panic(&stderr(&o));
    }
}

#[test]
fn an_answer_without_a_result_is_could_not_run_never_a_pass() {
    for (body, says) in [
        (
            json!({"success": true, "errors": [], "messages": []}),
            "success but no result",
        ),
        (
            json!({"success": true, "errors": [], "messages": [], "result": null}),
            "success but no result",
        ),
        (
            json!({"success": true, "errors": [], "messages": [], "result": {"status_code": 200}}),
            "missing field `trace`",
        ),
        (
            json!({"success": true, "errors": [], "messages": [], "result": {"status_code": 200, "trace": null}}),
            "not the documented envelope",
        ),
    ] {
        let b = body.clone();
        let s = Server::start(
            Auth::Token,
            Arc::new(move |_: &Recorded, _| Reply::json(200, b.clone())),
        );
        let o = rulegate(&s, Auth::Token, &[fixture("shop.yaml").to_str().unwrap()]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(3), "{body}: {out}");
        assert!(out.contains(says), "{out}");
        assert!(!out.contains(" ... ok"), "no case may pass: {out}");
    }
}

#[test]
fn a_non_utf8_batch_line_gets_an_error_and_the_rest_are_answered() {
    let mut child = bin()
        .args(["eval", "--batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(b"{\"expr\": \"true\"}\n\xff\xfe not utf-8\n{\"expr\": \"false\"}\n")
        .unwrap();
    drop(input);
    let o = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["result"], true);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("line 2 is not UTF-8")
    );
    assert_eq!(lines[2]["result"], false);
}

#[test]
fn an_oversized_answer_is_refused() {
    let big = "x".repeat(17 * 1024 * 1024);
    let s = Server::start(
        Auth::Token,
        Arc::new(move |_: &Recorded, _| Reply {
            body: format!(
                "{{\"success\": true, \"result\": {{\"trace\": [], \"pad\": \"{big}\"}}}}"
            ),
            ..Reply::json(200, json!(null))
        }),
    );
    let o = rulegate(
        &s,
        Auth::Token,
        &[
            fixture("shop.yaml").to_str().unwrap(),
            "--",
            "admin from outside",
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("larger than 16 MiB"), "{out}");
}

#[test]
fn an_unwritable_junit_path_is_found_before_any_trace() {
    let s = Server::start(Auth::Token, common::shop());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let junit = dir.path().join("file/report.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &[
            fixture("shop.yaml").to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot"), "{}", stderr(&o));
    assert!(s.all_requests().is_empty(), "nothing may be traced");
    // A temporary file left by an interrupted run is cleaned up by the next.
    let stale = dir.path().join(".report.xml.99999.tmp");
    std::fs::write(&stale, "partial").unwrap();
    let report = dir.path().join("report.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &[
            fixture("shop.yaml").to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stale.exists());
}

#[test]
fn a_run_that_selects_no_case_fails_unless_allowed() {
    let run = |extra: &[&str]| {
        let mut args = vec!["test", "suites"];
        args.extend_from_slice(extra);
        bin()
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let o = run(&["--", "typo-that-matches-nothing"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no case selected: 0 of 51 case(s) would run: 51 filtered out by the filter `typo-that-matches-nothing`"), "{err}");
    assert_eq!(
        run(&["--allow-no-cases", "--", "typo-that-matches-nothing"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["--list", "--", "typo-that-matches-nothing"])
            .status
            .code(),
        Some(0)
    );
}
