//! `rulegate eval`: the real binary, one expression and JSONL batches.

use crate::common;
use std::io::Write;
use std::process::Stdio;

fn eval(args: &[&str]) -> (Option<i32>, String, String) {
    let o = common::bin().arg("eval").args(args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn filter_against_fields() {
    let (code, out, _) = eval(&[
        r#"http.host eq "a.example" and ip.src in {192.0.2.0/24}"#,
        "--fields",
        r#"{"http.host": "a.example", "ip.src": "192.0.2.9"}"#,
    ]);
    assert_eq!((code, out.as_str()), (Some(0), "true\n"));
    let (code, out, _) = eval(&[
        r#"http.host eq "b""#,
        "--fields",
        r#"{"http.host": "a.example"}"#,
    ]);
    assert_eq!((code, out.as_str()), (Some(0), "false\n"));
}

#[test]
fn value_against_a_trace_request() {
    let req = r#"{"method": "GET", "url": "https://www.Example.com/Old/Page?utm=1&id=2", "headers": {"X-Id": "7"}}"#;
    let (code, out, err) = eval(&[
        r#"regex_replace(lower(http.request.uri.path), "^/old/(.*)$", "/new/${1}")"#,
        "--request",
        req,
    ]);
    assert_eq!((code, out.as_str()), (Some(0), "\"/new/page\"\n"), "{err}");
    let (_, out, _) = eval(&[r#"http.request.headers["x-id"]"#, "--request", req]);
    assert_eq!(out, "[\"7\"]\n");
    let (_, out, _) = eval(&[
        "remove_query_args(http.request.uri.query, \"utm\")",
        "--request",
        req,
    ]);
    assert_eq!(out, "\"id=2\"\n");
}

#[test]
fn errors_are_rendered_with_a_caret_and_exit_2() {
    let (code, out, err) = eval(&[r#"http.request.uri.pth eq "/""#]);
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: unknown field `http.request.uri.pth`\n  --> expression:1:1\n  |\n1 | http.request.uri.pth eq \"/\"\n  | ^^^^^^^^^^^^^^^^^^^^\n   = hint: did you mean `http.request.uri.path`?\n"
    );
    let (code, _, err) = eval(&["ssl", "--fields", r#"{"ssl": "yes"}"#]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("field `ssl`: expected Bool, got a string"),
        "{err}"
    );
    let (code, _, err) = eval(&["ssl", "--fields", "{not json"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--fields is not JSON"), "{err}");
}

#[test]
fn batch_prints_one_line_per_input_in_order() {
    let input = [
        r#"{"expr": "http.host eq \"a\"", "fields": {"http.host": "a"}}"#,
        r#"{"expr": "cf.threat_score gt 10", "fields": {"cf.threat_score": 5}}"#,
        "",
        r#"{"expr": "lower(http.host)", "fields": {"http.host": "A.Example"}}"#,
        r#"{"expr": "any(http.request.headers[\"x\"][*] eq \"1\")", "fields": {"http.request.headers": {"x": ["2", "1"]}}}"#,
        r#"{"expr": "http.hots eq \"a\""}"#,
        r#"{"expr": "http.request.uri.args[\"q\"][5]", "fields": {}}"#,
        "not json",
        r#"{"fields": {}}"#,
    ]
    .join("\n");
    let mut child = common::bin()
        .args(["eval", "--batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0], serde_json::json!({"result": true}));
    assert_eq!(lines[1], serde_json::json!({"result": false}));
    assert_eq!(lines[2], serde_json::json!({"result": "a.example"}));
    assert_eq!(lines[3], serde_json::json!({"result": true}));
    assert_eq!(lines[4]["kind"], "unknown_field");
    assert_eq!(lines[4]["error"], "unknown field `http.hots`");
    assert_eq!(lines[5], serde_json::json!({"result": null}));
    assert!(lines[6]["error"].as_str().unwrap().starts_with("not JSON"));
    assert_eq!(lines[7]["error"], "missing \"expr\" string");
}

#[test]
fn lists_come_from_a_project() {
    let suites = concat!(env!("CARGO_MANIFEST_DIR"), "/suites");
    let (code, out, _) = eval(&[
        "ip.src in $office_ips",
        "--project",
        suites,
        "--fields",
        r#"{"ip.src": "192.0.2.1"}"#,
    ]);
    assert_eq!((code, out.as_str()), (Some(0), "true\n"));
    let (code, _, err) = eval(&[
        "ip.src in $office_ips",
        "--fields",
        r#"{"ip.src": "192.0.2.1"}"#,
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown list `$office_ips`"), "{err}");
}

#[test]
fn batch_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, "{\"expr\": \"ssl\", \"fields\": {\"ssl\": true}}\n").unwrap();
    let (code, out, _) = eval(&["--batch", path.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (Some(0), "{\"result\":true}\n"));
}

#[test]
fn fields_override_what_a_request_gives() {
    let req = r#"{"method": "GET", "url": "https://a.example/x"}"#;
    let fields = r#"{"http.host": "b.example", "ip.src": "192.0.2.9"}"#;
    let expr =
        r#"http.host eq "b.example" and ip.src eq 192.0.2.9 and http.request.uri.path eq "/x""#;
    let (code, out, err) = eval(&[expr, "--request", req, "--fields", fields]);
    assert_eq!((code, out.trim()), (Some(0), "true"), "{err}");
    // Without the override the request's own host stands.
    let (_, out, _) = eval(&[r#"http.host eq "a.example""#, "--request", req]);
    assert_eq!(out.trim(), "true");
}
