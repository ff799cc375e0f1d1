//! `rulegate serve` under hostile clients: a pathological trace does not block others, errors
//! of the HTTP layer come back in the v4 envelope, half-open connections are closed, and
//! Ctrl-C stops the server even while a connection is open.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Serve, bin};
use serde_json::{Value, json};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// A project whose one rule is a bounded repetition that costs minutes against a long value.
fn slow_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rulesets")).unwrap();
    let rs = json!({"id": "z", "name": "z", "kind": "zone", "phase": "http_request_firewall_custom",
        "rules": [{"id": "slow", "action": "block", "expression": "http.user_agent matches \"(?:(?:a{60}){60}){60}\""}]});
    std::fs::write(dir.path().join("rulesets/z.json"), rs.to_string()).unwrap();
    dir
}

/// Sends raw bytes to `serve` and reads the whole answer (the request asks to close).
fn raw(serve: &Serve, request: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(&serve.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn post(serve: &Serve, path: &str, body: &str) -> (u16, Value) {
    raw(
        serve,
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn trace_path() -> String {
    format!("/client/v4/accounts/{ACCOUNT}/request-tracer/trace")
}

#[test]
fn a_slow_trace_answers_with_an_error_and_does_not_block_others() {
    let dir = slow_project();
    let serve = Serve::start(dir.path(), &["--trace-budget", "1"]);
    let long_ua = format!("{}b", "a".repeat(220_000));
    let slow_body = json!({"method": "GET", "url": "https://www.example.com/", "headers": {"user-agent": long_ua}}).to_string();
    let fast_body = json!({"method": "GET", "url": "https://www.example.com/", "headers": {"user-agent": "curl"}}).to_string();
    let started = Instant::now();
    let slow = std::thread::scope(|s| {
        let slow = s.spawn(|| post(&serve, &trace_path(), &slow_body));
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        let (status, v) = post(&serve, &trace_path(), &fast_body);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["success"], true);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "another trace waited {:?}",
            t.elapsed()
        );
        slow.join().unwrap()
    });
    let (status, v) = slow;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["success"], false);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("longer than its budget"),
        "{v}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    // `rulegate test` on the same rule: could not run (exit 3) within the budget, no hang.
    std::fs::write(
        dir.path().join("s.yaml"),
        format!("base_url: https://www.example.com\ncases:\n  - name: slow\n    request: {{ url: /, headers: {{ user-agent: \"{long_ua}\" }} }}\n    expect: {{ status: 200 }}\n"),
    )
    .unwrap();
    let t = Instant::now();
    let o = bin()
        .args(["test", dir.path().to_str().unwrap(), "--trace-budget", "1"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn http_layer_errors_come_back_in_the_envelope() {
    let dir = slow_project();
    let serve = Serve::start(dir.path(), &[]);
    // 405: a GET on the trace endpoint.
    let (status, v) = raw(
        &serve,
        format!(
            "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            trace_path()
        )
        .as_bytes(),
    );
    assert_eq!(status, 405, "{v}");
    assert_eq!(
        (v["success"].clone(), v["errors"][0]["code"].clone()),
        (json!(false), json!(7001))
    );
    // 413: a body over the limit.
    let big = format!(
        "{{\"method\": \"GET\", \"url\": \"https://x.example/\", \"pad\": \"{}\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let (status, v) = post(&serve, &trace_path(), &big);
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["success"], false);
    // 431: too many headers.
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n",
        trace_path()
    );
    for i in 0..150 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n{}");
    let (status, v) = raw(&serve, req.as_bytes());
    assert_eq!(status, 431, "{v}");
    assert_eq!(v["success"], false);
    // Not JSON at all: 400 with code 6007, as before.
    let (status, v) = post(&serve, &trace_path(), "{nope");
    assert_eq!((status, v["errors"][0]["code"].clone()), (400, json!(6007)));
}

#[test]
fn half_open_connections_are_closed_and_ctrl_c_stops_the_server() {
    let dir = slow_project();
    let mut serve = Serve::start(dir.path(), &[]);
    // Headers that never end.
    let mut s = TcpStream::connect(&serve.addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    let _ = s.read(&mut buf); // the server closes the connection (with or without a 408)
    let waited = t.elapsed();
    assert!(
        waited < Duration::from_secs(20),
        "a half-open connection stayed open {waited:?}"
    );
    // Ctrl-C while another connection is half-open: the server stops within its grace time.
    let mut open = TcpStream::connect(&serve.addr).unwrap();
    open.write_all(b"POST / HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = serve.child.id() as i32;
    assert_eq!(unsafe_kill(pid), 0);
    let t = Instant::now();
    loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "serve did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(open);
}

#[expect(
    unsafe_code,
    reason = "sending SIGINT has no safe wrapper in the standard library"
)]
fn unsafe_kill(pid: i32) -> i32 {
    // SAFETY: kill(2) with a child's pid and SIGINT has no memory effects.
    unsafe { libc::kill(pid, libc::SIGINT) }
}

/// A project with one plain rule, for answers that are not about cost.
fn plain_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rulesets")).unwrap();
    let rs = json!({"id": "z", "name": "z", "kind": "zone", "phase": "http_request_firewall_custom",
        "rules": [{"id": "r", "action": "block", "expression": "http.request.uri.path eq \"/admin\""}]});
    std::fs::write(dir.path().join("rulesets/z.json"), rs.to_string()).unwrap();
    dir
}

fn is_error_envelope(v: &Value) -> bool {
    v["success"] == json!(false)
        && v["errors"].as_array().is_some_and(|e| !e.is_empty())
        && v.as_object()
            .is_some_and(|o| o.get("result") == Some(&Value::Null))
}

#[test]
fn every_error_answer_is_an_envelope_with_a_null_result() {
    let dir = plain_project();
    let serve = Serve::start(dir.path(), &[]);
    // An origin status a suite refuses is refused here too.
    let (status, v) = post(
        &serve,
        &trace_path(),
        r#"{"method": "GET", "url": "https://a.example/", "rulegate": {"origin": {"status": 999}}}"#,
    );
    assert_eq!(status, 400, "{v}");
    assert!(is_error_envelope(&v), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("origin status 999"),
        "{v}"
    );
    // A URI past the limit: 414 in the envelope.
    let long = format!("{}?{}", trace_path(), "a".repeat(20_000));
    let (status, v) = post(
        &serve,
        &long,
        r#"{"method": "GET", "url": "https://a.example/"}"#,
    );
    assert_eq!(status, 414, "{v}");
    assert!(is_error_envelope(&v), "{v}");
    // Header bytes past the limit: 431 in the envelope.
    let big = "x".repeat(70_000);
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
        trace_path()
    );
    let (status, v) = raw(&serve, req.as_bytes());
    assert_eq!(status, 431, "{v}");
    assert!(is_error_envelope(&v), "{v}");
    // A body that is not JSON: 400 in the envelope, `result: null`.
    let (status, v) = post(&serve, &trace_path(), "{");
    assert_eq!(status, 400, "{v}");
    assert!(is_error_envelope(&v), "{v}");
}
