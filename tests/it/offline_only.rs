//! Cases with offline-only `fields`/`origin` against Cloudflare's own API: skipped with the
//! reason (console, JUnit `<skipped>`), never traced, and errors with `--strict-live`. The API
//! URL is Cloudflare's, yet nothing reaches the network: a skipped case sends nothing, and the
//! strict error is raised before a request is built.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::{bin, outcome as text};

const SUITE: &str = "cases:
  - name: office ip bypass
    request: { url: \"https://www.example.com/\" }
    fields: { ip.src: 203.0.113.50 }
    expect: { status: 200 }
  - name: maintenance page
    request: { url: \"https://www.example.com/\" }
    origin: { status: 503 }
    expect: { status: 503 }
";

fn run(dir: &Path, extra: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .env("CLOUDFLARE_API_TOKEN", "a-token-never-sent")
        .env("CLOUDFLARE_ACCOUNT_ID", "01a7362d577a6c3019a474fd6f485823")
        .env_remove("CLOUDFLARE_API_BASE_URL")
        .env_remove("CLOUDFLARE_BASE_URL")
        .args([
            "test",
            "live.yaml",
            "--backend",
            "cloudflare",
            "--retries",
            "0",
        ])
        .args(["--api-url", "https://api.cloudflare.com/client/v4"])
        .args(extra)
        .output()
        .unwrap()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("live.yaml"), SUITE).unwrap();
    dir
}

#[test]
fn offline_only_cases_are_skipped_with_the_reason() {
    let dir = project();
    let junit = dir.path().join("report.xml");
    let o = run(
        dir.path(),
        &["--allow-no-cases", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("test live::office ip bypass ... ignored"),
        "{}",
        text(&o)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let skipped: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("skipped"))
        .collect();
    assert_eq!(skipped.len(), 2, "{xml}");
    for s in skipped {
        assert_eq!(s.attribute("type"), Some("offline_only"));
        assert!(
            s.attribute("message")
                .unwrap()
                .contains("which the live API cannot take"),
            "{xml}"
        );
    }
    assert!(!xml.contains("a-token-never-sent"));
}

#[test]
fn a_run_of_only_offline_cases_live_gates_nothing() {
    let dir = project();
    let o = run(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("2 skipped as offline-only"),
        "{}",
        text(&o)
    );
}

#[test]
fn strict_live_makes_them_errors() {
    let dir = project();
    let o = run(dir.path(), &["--strict-live"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("which the live Request Trace API cannot take"),
        "{}",
        text(&o)
    );
}
