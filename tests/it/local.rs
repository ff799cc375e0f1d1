//! The offline backend end to end: the example project, `rulegate serve` on loopback (parity
//! with the local engine, auth, fault injection), `rulegate pull` and `rulegate trace`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Serve, bin};

const ACCOUNT: &str = "01a7362d577a6c3019a474fd6f485823";
const ZONE: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn suites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("suites")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The report with what varies between runs and backends removed: times, timestamps, the
/// backend and ruleset lines of `<system-out>`.
fn normalized_junit(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mut out = String::new();
    for ts in doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
    {
        out.push_str(&format!(
            "suite {} tests={} failures={} errors={}\n",
            ts.attribute("name").unwrap(),
            ts.attribute("tests").unwrap(),
            ts.attribute("failures").unwrap(),
            ts.attribute("errors").unwrap()
        ));
        for tc in ts.children().filter(|n| n.has_tag_name("testcase")) {
            out.push_str(&format!(
                "  case {}::{}",
                tc.attribute("classname").unwrap(),
                tc.attribute("name").unwrap()
            ));
            for child in tc.children().filter(roxmltree::Node::is_element) {
                out.push_str(&format!(
                    " <{}> {}",
                    child.tag_name().name(),
                    child.text().unwrap_or("")
                ));
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn example_project_runs_offline_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("local.xml");
    let o = bin()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["test", "--junit", report.to_str().unwrap()])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let passed: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(passed >= 40, "{out}");
    // With a CRS release on the machine the OWASP ruleset is emulated (one note saying so);
    // without one it is an opaque step (one warning saying how to enable the emulation).
    let emulated = std::path::Path::new(rulegate::owasp::DEBIAN_RULES).is_dir();
    let warnings = err
        .matches("warning: managed ruleset 4814384a9e5d4991b9815dcfc25d2f1f")
        .count();
    let notes = err
        .matches("note: the Cloudflare OWASP Core Ruleset is emulated offline with OWASP_CRS/")
        .count();
    assert_eq!(
        (warnings, notes),
        if emulated { (0, 1) } else { (1, 0) },
        "one note (emulated) or one warning (opaque):\n{err}"
    );
    let j = normalized_junit(&report);
    assert_eq!(j.matches("  case ").count(), passed);
    assert!(!j.contains("<failure>") && !j.contains("<error>"), "{j}");
}

#[test]
fn serve_gives_the_same_outcomes_as_the_local_engine() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.xml");
    let remote = dir.path().join("remote.xml");
    let o = bin()
        .args([
            "test",
            suites().to_str().unwrap(),
            "--junit",
            local.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let serve = Serve::start(&suites(), &[]);
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", "unused-by-an-open-server")
        .args([
            "test",
            suites().to_str().unwrap(),
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
            "--concurrency",
            "16",
            "--junit",
            remote.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_eq!(normalized_junit(&local), normalized_junit(&remote));
}

#[test]
fn parity_holds_for_failures_too() {
    // A suite whose expectations are wrong: both backends must fail the same cases the same way.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        suites().join("rulegate.yaml"),
        dir.path().join("rulegate.yaml"),
    )
    .unwrap();
    for d in ["rulesets", "lists"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
        for e in std::fs::read_dir(suites().join(d)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(d).join(e.file_name())).unwrap();
        }
    }
    std::fs::write(
        dir.path().join("wrong.yaml"),
        "base_url: https://www.example.com\ncases:\n  - name: a\n    request: { url: /admin }\n    fields: { ip.src: 203.0.113.1 }\n    expect: { action: none, matched: [api-log] }\n  - name: b\n    request: { url: / }\n    expect: { status: 404 }\n",
    )
    .unwrap();
    let local = dir.path().join("local.xml");
    let remote = dir.path().join("remote.xml");
    let o = bin()
        .args([
            "test",
            dir.path().to_str().unwrap(),
            "--junit",
            local.to_str().unwrap(),
            // The explanation only the local engine can give is left out of the comparison.
            "--explain",
            "never",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let serve = Serve::start(dir.path(), &[]);
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", "x")
        .args([
            "test",
            dir.path().to_str().unwrap(),
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
            "--junit",
            remote.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let (l, r) = (normalized_junit(&local), normalized_junit(&remote));
    assert!(l.contains("<failure>"), "{l}");
    assert_eq!(l, r);
}

#[test]
fn serve_demands_its_token() {
    let serve = Serve::start(&suites(), &["--token", "s3cret-token"]);
    let run = |token: &str| {
        bin()
            .env("CLOUDFLARE_API_TOKEN", token)
            .args([
                "test",
                suites().to_str().unwrap(),
                "--backend",
                "cloudflare",
                "--api-url",
                &serve.api,
                "--",
                "waf::the shop home page",
            ])
            .output()
            .unwrap()
    };
    let o = run("wrong");
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("10000 Authentication error"), "{out}");
    assert!(
        !out.contains("s3cret-token") && !out.contains("wrong"),
        "{out}"
    );
    let o = run("s3cret-token");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn injected_faults_are_retried_and_reproducible() {
    let serve = Serve::start(
        &suites(),
        &[
            "--fail-429",
            "0.3",
            "--fail-5xx",
            "0.2",
            "--retry-after",
            "0",
            "--seed",
            "7",
        ],
    );
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", "x")
        .args([
            "test",
            suites().to_str().unwrap(),
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
            "--retries",
            "30", // a case fails only if 31 draws in a row fail: p = 0.5^31
            "--retry-delay",
            "0.001",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    // With no retries, the same seed fails some cases: the faults are real.
    let serve = Serve::start(&suites(), &["--fail-5xx", "0.5", "--seed", "7"]);
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", "x")
        .args([
            "test",
            suites().to_str().unwrap(),
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
            "--retries",
            "0",
        ])
        .output()
        .unwrap();
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("HTTP 503"), "{out}");
}

#[test]
fn pull_writes_a_project_that_tests_the_same() {
    let serve = Serve::start(&suites(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "pull",
            dir.path().to_str().unwrap(),
            "--zone",
            ZONE,
            "--account-id",
            ACCOUNT,
            "--api-url",
            &serve.api,
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("pulled 10 ruleset(s)") && out.contains("2 list(s)"),
        "{out}"
    );
    let ids = |d: &Path| {
        let mut v: Vec<serde_json::Value> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| {
                serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
            })
            .collect();
        v.sort_by_key(|x| x.get("id").or(x.get("name")).unwrap().to_string());
        v
    };
    assert_eq!(
        ids(&dir.path().join("rulesets")),
        ids(&suites().join("rulesets"))
    );
    // The pulled project runs the example suites with the same results.
    std::fs::copy(
        suites().join("rulegate.yaml"),
        dir.path().join("rulegate.yaml"),
    )
    .unwrap();
    for e in std::fs::read_dir(suites()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    let o = bin()
        .args(["test", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
}

#[test]
fn pull_against_a_missing_zone_config_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args([
            "pull",
            dir.path().to_str().unwrap(),
            "--account-id",
            ACCOUNT,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no zone"), "{:?}", text(&o));
}

#[test]
fn trace_prints_the_tree_locally_and_through_serve() {
    let o = bin()
        .args([
            "trace",
            suites().to_str().unwrap(),
            "--url",
            "https://www.example.com/admin",
            "--fields",
            r#"{"ip.src": "203.0.113.9"}"#,
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.starts_with("status 403, action block by rule `b1702be859e5aa0c91b1953451bd346a` (Admin only from the office)\n"), "{out}");
    assert!(
        out.contains("    [x] block              b1702be859e5aa0c91b1953451bd346a  Admin only from the office\n"),
        "{out}"
    );
    let serve = Serve::start(&suites(), &[]);
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", "x")
        .args([
            "trace",
            suites().to_str().unwrap(),
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
            "--url",
            "https://example.com/shoes",
            "--json",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status_code"], 301);
    let o = bin()
        .args(["trace", suites().to_str().unwrap(), "--url", "not a url"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Every command reads rulegate.yaml through the same settings: a broken file is exit 2 with
/// its file:line, whichever command meets it first (`trace` used to ignore it).
#[test]
fn a_broken_project_file_is_the_same_error_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rulegate.yaml"),
        "backend: local\ntimeout: 1e300\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let runs: [&[&str]; 5] = [
        &["test", d],
        &["check", d],
        &["trace", d, "--url", "https://example.com/"],
        &["serve", d, "--listen", "127.0.0.1:0"],
        &["eval", "true", "--project", d],
    ];
    for args in runs {
        let o = bin().args(args).output().unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("1e300 is not a number of seconds"),
            "{args:?}: {err}"
        );
        assert!(err.contains("rulegate.yaml:2:10"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The same value as a flag is refused by the same rule.
    let o = bin()
        .args([
            "trace",
            d,
            "--url",
            "https://example.com/",
            "--timeout",
            "1e300",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
}

#[test]
fn trace_shows_whole_ids_and_terraform_addresses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/terraform");
    let o = bin()
        .args([
            "trace",
            dir.to_str().unwrap(),
            "--url",
            "https://www.example.com/admin",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Every Terraform rule's name starts `cloudflare_ruleset.`: cut short, all would look alike.
    assert!(
        out.contains(
            "[x] block              cloudflare_ruleset.zone_custom#2  Admin only from the office\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("module.baseline.cloudflare_ruleset.baseline#1  Known scanners"),
        "{out}"
    );
}
