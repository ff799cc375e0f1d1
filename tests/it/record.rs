//! `rulegate record`: a suite from URLs, Trace JSONL and access logs, traced offline or
//! through the Trace API (`rulegate serve` on 127.0.0.1), that `rulegate test` then passes.

use std::path::Path;

use crate::common::{Serve, bin, copy_dir, outcome, tempdir, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn project() -> tempfile::TempDir {
    let d = tempdir();
    copy_dir(&Path::new(ROOT).join("suites"), &d.path().join("suites"));
    write(
        d.path(),
        "urls.txt",
        "https://www.example.com/\nhttps://www.example.com/admin\n# comments and blank lines are skipped\n\nhttps://example.com/blog/x\nhttps://www.example.com/\n",
    );
    write(
        d.path(),
        "requests.jsonl",
        "{\"method\": \"POST\", \"url\": \"https://www.example.com/login\", \"context\": {\"bot_score\": 4}}\n",
    );
    d
}

#[test]
fn a_recorded_suite_pins_todays_behaviour_and_passes() {
    let p = project();
    let d = p.path();
    let log = Path::new(ROOT).join("examples/logs/access.log");
    let o = bin()
        .current_dir(d)
        .args(["record", "urls.txt", "requests.jsonl"])
        .arg(&log)
        .args(["--host", "www.example.com", "-o", "suites/recorded.yaml"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    // 4 URLs (one repeated), 1 JSONL body, 5 log lines.
    assert!(String::from_utf8_lossy(&o.stdout).contains("recorded 9 case(s) from 10 request(s)"));
    let text = std::fs::read_to_string(d.join("suites/recorded.yaml")).unwrap();
    let suite: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let cases = suite["cases"].as_array().unwrap();
    let admin = cases.iter().find(|c| c["name"] == "GET /admin").unwrap();
    // The terminating rule by its ref, as the project names it.
    assert_eq!(admin["expect"]["matched"][0], "admin-office-only");
    assert_eq!(admin["expect"]["status"], 403);
    let bot = cases.iter().find(|c| c["name"] == "POST /login").unwrap();
    assert_eq!(bot["expect"]["action"], "managed_challenge");
    let o = bin()
        .current_dir(d)
        .args(["test", "suites", "--", "recorded::"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("9 passed"));

    // An existing file is kept without --force; a bad line is an error at its line.
    let o = bin()
        .current_dir(d)
        .args(["record", "urls.txt", "-o", "suites/recorded.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    write(
        d,
        "bad.txt",
        "https://www.example.com/\nhttps://exa mple.com/\n",
    );
    let o = bin()
        .current_dir(d)
        .args(["record", "bad.txt", "-o", "other.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(outcome(&o).contains("bad.txt:2"), "{}", outcome(&o));
    assert!(!d.join("other.yaml").exists());
}

#[test]
fn record_through_the_trace_api() {
    let p = project();
    let d = p.path();
    let serve = Serve::start(&d.join("suites"), &[]);
    let o = bin()
        .current_dir(d)
        .args([
            "record",
            "urls.txt",
            "-o",
            "suites/live.yaml",
            "--backend",
            "cloudflare",
        ])
        .args([
            "--api-url",
            &serve.api,
            "--account-id",
            "01a7362d577a6c3019a474fd6f485823",
        ])
        .env("CLOUDFLARE_API_TOKEN", "token-for-the-local-server")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let text = std::fs::read_to_string(d.join("suites/live.yaml")).unwrap();
    assert!(!text.contains("token-for-the-local-server"));
    assert!(text.contains("\"status\":403"), "{text}");
    let o = bin()
        .current_dir(d)
        .args(["test", "suites", "--", "live::"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
}
