//! End-to-end tests: the real `rulegate` binary against a Trace API server on 127.0.0.1:0.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;

/// The libtest verdict printed for a case (`ok`, `FAILED`, `ignored`).
fn verdict(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| {
            l.strip_prefix("test ")
                .and_then(|r| r.strip_prefix(name))
                .is_some_and(|r| r.trim_start().starts_with("..."))
        })
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no verdict for {name} in:\n{out}"))
        .to_string()
}

fn args<'a>(v: &[&'a str]) -> Vec<&'a str> {
    v.to_vec()
}

#[test]
fn passing_suite_exits_0_with_junit() {
    let s = Server::start(Auth::Token, shop());
    let dir = tempdir();
    let report = dir.path().join("out/junit.xml");
    let shop = fixture("shop.yaml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[shop.to_str().unwrap(), "--junit", report.to_str().unwrap()]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert_eq!(
        verdict(&out, "shop::admin from outside the office is blocked"),
        "ok",
        "{out}"
    );
    assert_eq!(verdict(&out, "shop::flaky cdn check"), "ignored", "{out}");
    assert!(
        out.contains("test result: ok. 4 passed; 0 failed; 1 ignored"),
        "{out}"
    );
    assert_eq!(s.requests().len(), 4, "the ignored case is not traced");
    let j = junit(&report);
    assert_eq!(j.suites, vec![("shop".to_string(), 5, 0, 0)]);
    // CI publishes this report (a real one, written by rulegate) as its JUnit artifact.
    if let Some(dir) = std::env::var_os("RULEGATE_REPORT_DIR") {
        std::fs::copy(
            &report,
            std::path::Path::new(&dir).join("rulegate-shop.xml"),
        )
        .unwrap();
    }
    assert_eq!(j.case("shop::flaky cdn check").0, "skipped");
    assert_eq!(j.case("shop::humans log in").0, "passed");
    assert!(
        j.text.contains("backend: cloudflare (http://127.0.0.1:"),
        "system-out names the backend"
    );
    // The request reached the API as the suite described it.
    let bots = s
        .requests()
        .into_iter()
        .find(|r| r.url().ends_with("/login") && r.body["context"]["bot_score"] == 5)
        .unwrap();
    assert_eq!(bots.body["method"], "POST");
    assert_eq!(bots.body["body"], json!({"json": {"user": "a"}}));
    assert_eq!(bots.body["headers"]["user-agent"], "rulegate-test");
    assert_eq!(bots.body["context"]["geoloc"]["iso_code"], "US");
    assert_eq!(bots.body["skip_response"], true);
}

#[test]
fn each_expectation_kind_fails_with_exit_1() {
    let s = Server::start(Auth::Token, shop());
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("failing.yaml").to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    for line in [
        "status: expected 200, got 403",
        "action: expected `none`, got `block` (rule `r-admin` (block admin outside the office) ended the request)",
        "matched: expected rule `r-admin` to match, but it was evaluated and did not match",
        "not_matched: expected rule `log everything` not to match, but it matched (action `log`)",
        "trace: step 2 of 2 {step_name: r-log} not found after step 1 of the pattern",
        "--- expected",
        "+++ actual",
        "test result: FAILED. 1 passed; 5 failed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        !out.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );
    let j = junit(&report);
    assert_eq!(j.suites, vec![("failing".to_string(), 6, 5, 0)]);
    let (kind, text) = j.case("failing::wrong status");
    assert_eq!(kind, "failure");
    assert!(
        text.contains("-status: 200") || text.contains("- status: 200"),
        "{text}"
    );
    assert!(text.contains("+ status: 403"), "{text}");
    assert_eq!(j.case("failing::right").0, "passed");
}

#[test]
fn retries_429_honouring_retry_after() {
    let s = Server::start(
        Auth::Token,
        Arc::new(|r: &Recorded, n| {
            if n == 0 {
                let mut reply = Reply::json(
                    429,
                    json!({"success": false, "errors": [{"code": 971, "message": "Please wait and consider throttling your request speed"}]}),
                );
                reply.headers.push(("retry-after", "1".into()));
                reply
            } else {
                Reply::json(200, ok_envelope(shop_trace(&r.body)))
            }
        }),
    );
    let start = std::time::Instant::now();
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--concurrency",
            "1",
            "--junit",
            report.to_str().unwrap(),
            "--exact",
            "--",
            "shop::humans log in",
        ]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(verdict(&stdout(&o), "shop::humans log in"), "ok");
    assert_eq!(
        junit(&report).kinds(),
        vec![("shop::humans log in".to_string(), "passed")]
    );
    assert_eq!(s.requests().len(), 2);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
}

#[test]
fn retries_5xx_then_succeeds() {
    let s = Server::start(
        Auth::Token,
        Arc::new(|r: &Recorded, n| {
            if n < 2 {
                Reply {
                    status: 502,
                    headers: vec![],
                    body: "<html>bad gateway</html>".into(),
                    delay: Duration::ZERO,
                }
            } else {
                Reply::json(200, ok_envelope(shop_trace(&r.body)))
            }
        }),
    );
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--retry-delay",
            "0.01",
            "--junit",
            report.to_str().unwrap(),
            "--exact",
            "--",
            "shop::humans log in",
        ]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(verdict(&stdout(&o), "shop::humans log in"), "ok");
    assert_eq!(junit(&report).suites, vec![("shop".to_string(), 1, 0, 0)]);
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn server_hanging_past_timeout_is_an_error_exit_3() {
    let s = Server::start(
        Auth::Token,
        Arc::new(|r: &Recorded, _| Reply {
            delay: Duration::from_secs(5),
            ..Reply::json(200, ok_envelope(shop_trace(&r.body)))
        }),
    );
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--timeout",
            "0.3",
            "--retries",
            "1",
            "--retry-delay",
            "0.01",
            "--junit",
            report.to_str().unwrap(),
            "--",
            "humans",
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("could not run: the API did not answer within 300ms (after 2 attempts)"),
        "{out}"
    );
    let j = junit(&report);
    assert_eq!(
        j.kinds(),
        vec![("shop::humans log in".to_string(), "error")]
    );
    assert_eq!(j.suites, vec![("shop".to_string(), 1, 0, 1)]);
}

#[test]
fn malformed_body_is_an_error_not_a_panic() {
    let s = Server::start(
        Auth::Token,
        Arc::new(|_: &Recorded, _| Reply {
            status: 200,
            headers: vec![],
            body: "{\"result\": [1, 2".into(),
            delay: Duration::ZERO,
        }),
    );
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
            "--",
            "humans",
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert_eq!(verdict(&out, "shop::humans log in"), "FAILED");
    assert!(
        out.contains("a body that is not the documented envelope"),
        "{out}"
    );
    let j = junit(&report);
    let (kind, text) = j.case("shop::humans log in");
    assert_eq!(kind, "error");
    assert!(text.contains("not the documented envelope"), "{text}");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn auth_failure_10000_names_the_permission_and_leaks_nothing() {
    let s = Server::start(Auth::EmailKey, shop());
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    // The server wants email + key; the binary sends a token.
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("Cloudflare API error (HTTP 403): 10000 Authentication error"),
        "{out}"
    );
    assert!(out.contains("\"Request Tracer Read\""), "{out}");
    let j = junit(&report);
    assert!(
        j.cases
            .iter()
            .filter(|c| c.1 != "skipped")
            .all(|c| c.1 == "error"),
        "{:?}",
        j.kinds()
    );
    for text in [out, stderr(&o), j.text] {
        assert!(
            !text.contains(TOKEN) && !text.contains("SECRET"),
            "secret leaked:\n{text}"
        );
    }
}

#[test]
fn email_and_key_auth_works() {
    let s = Server::start(Auth::EmailKey, shop());
    let o = rulegate(
        &s,
        Auth::EmailKey,
        &args(&[fixture("shop.yaml").to_str().unwrap()]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(s.all_requests().iter().all(|r| r.authorized));
}

#[test]
fn secrets_never_appear_in_any_output() {
    for (server_auth, client_auth) in [
        (Auth::Token, Auth::Token),
        (Auth::EmailKey, Auth::EmailKey),
        (Auth::Token, Auth::EmailKey),
    ] {
        let s = Server::start(server_auth, shop());
        let dir = tempdir();
        let report = dir.path().join("junit.xml");
        for suite in ["shop.yaml", "failing.yaml"] {
            let o = rulegate(
                &s,
                client_auth,
                &args(&[
                    fixture(suite).to_str().unwrap(),
                    "--junit",
                    report.to_str().unwrap(),
                ]),
            );
            let all = format!(
                "{}{}{}",
                stdout(&o),
                stderr(&o),
                std::fs::read_to_string(&report).unwrap_or_default()
            );
            assert!(
                !all.contains(TOKEN) && !all.contains(KEY) && !all.contains("SECRET"),
                "secret leaked:\n{all}"
            );
        }
    }
}

#[test]
fn wrong_account_id_says_so() {
    let s = Server::start(Auth::Token, shop());
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--account-id",
            "ffffffffffffffffffffffffffffffff",
            "--",
            "humans",
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("7003") && out.contains("check --account-id"),
        "{out}"
    );
}

#[test]
fn filters_decide_what_reaches_the_server() {
    let s = Server::start(Auth::Token, shop());
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--junit",
            report.to_str().unwrap(),
            "--skip",
            "humans",
            "--",
            "login",
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(verdict(&out, "shop::bots on login are challenged"), "ok");
    assert_eq!(
        junit(&report).kinds(),
        vec![("shop::bots on login are challenged".to_string(), "passed")],
        "filtered-out cases are not in the report"
    );
    assert!(
        out.contains("1 passed; 0 failed; 0 ignored; 0 measured; 4 filtered out"),
        "{out}"
    );
    let urls: Vec<_> = s.requests().iter().map(|r| r.url().to_string()).collect();
    assert_eq!(urls, ["https://shop.example.com/login"]);
}

#[test]
fn list_traces_nothing_and_needs_no_credentials() {
    let s = Server::start(Auth::Token, shop());
    // Pointed at the fake API (so a trace would be seen there), with no credentials.
    let o = common::bin()
        .env("CLOUDFLARE_API_BASE_URL", &s.api_url)
        .env("CLOUDFLARE_ACCOUNT_ID", common::ACCOUNT)
        .args([
            "test",
            fixture("shop.yaml").to_str().unwrap(),
            "--list",
            "--backend",
            "cloudflare",
            "--junit",
            "/nonexistent-dir/never-written.xml",
        ])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(
        out.contains("shop::admin from outside the office is blocked: test"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(s.all_requests().is_empty());
    assert!(
        !std::path::Path::new("/nonexistent-dir/never-written.xml").exists(),
        "--list writes no report"
    );
}

#[test]
fn ignored_cases_run_only_when_asked() {
    let s = Server::start(Auth::Token, shop());
    let dir = tempdir();
    let report = dir.path().join("junit.xml");
    let o = rulegate(
        &s,
        Auth::Token,
        &args(&[
            fixture("shop.yaml").to_str().unwrap(),
            "--ignored",
            "--junit",
            report.to_str().unwrap(),
        ]),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("1 passed; 0 failed; 0 ignored; 0 measured; 4 filtered out"),
        "{out}"
    );
    assert_eq!(
        s.requests()
            .iter()
            .map(|r| r.url().to_string())
            .collect::<Vec<_>>(),
        ["https://shop.example.com/cdn"]
    );
    assert_eq!(
        junit(&report).kinds(),
        vec![("shop::flaky cdn check".to_string(), "passed")]
    );
}

#[test]
fn invalid_suites_exit_2_and_trace_nothing() {
    let s = Server::start(Auth::Token, shop());
    let dir = tempdir();
    write(
        dir.path(),
        "a.yaml",
        "cases:\n  - name: x\n    request: { url: /a }\n    expct: { status: 200 }\n",
    );
    write(
        dir.path(),
        "b/c.yaml",
        "base_url: https://x.example\ncases:\n  - name: y\n    request: { url: /a, method: get }\n    expect: { status: 200 }\n",
    );
    write(
        dir.path(),
        "ok.yaml",
        "base_url: https://x.example\ncases:\n  - name: z\n    request: { url: /a }\n    expect: { status: 200 }\n",
    );
    let o = rulegate(&s, Auth::Token, &args(&[dir.path().to_str().unwrap()]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a.yaml:4:5") && err.contains("did you mean `expect`?"),
        "{err}"
    );
    assert!(
        err.contains("c.yaml:4:33") && err.contains("did you mean `GET`?"),
        "{err}"
    );
    assert!(err.contains("2 problems found; nothing was run"), "{err}");
    assert!(s.all_requests().is_empty());
}

#[test]
fn check_validates_without_running() {
    let o = common::bin()
        .args(["check", fixture("shop.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "ok: 1 suite(s), 5 case(s), 0 ruleset(s), 0 list(s)\n"
    );
}

#[test]
fn missing_credentials_are_a_usage_error() {
    let o = common::bin()
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("CLOUDFLARE_API_KEY")
        .env_remove("CLOUDFLARE_EMAIL")
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .args([
            "test",
            fixture("shop.yaml").to_str().unwrap(),
            "--backend",
            "cloudflare",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no Cloudflare credentials"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tag_and_skip_tag_select_cases_by_their_tags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rulegate.yaml"), "no_rulesets: true\n").unwrap();
    std::fs::write(
        d.join("tags.yaml"),
        "name: tags\nbase_url: https://a.example\ncases:\n  - { name: fast one, tags: [smoke], request: { url: / }, expect: { action: none } }\n  - { name: slow one, tags: [smoke, slow], request: { url: / }, expect: { action: none } }\n  - { name: untagged, request: { url: / }, expect: { action: none } }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let o = bin().arg("test").arg(d).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["--tag", "smoke"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("2 passed") && !out.contains("untagged"),
        "{out}"
    );
    let (code, out, err) = run(&["--tag", "smoke", "--skip-tag", "slow"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("tags::fast one") && !out.contains("tags::slow one"),
        "{out}"
    );
    assert!(out.contains("1 passed"), "{out}");
    // --list shows what the tags select.
    let (_, out, _) = run(&["--tag", "slow", "--list"]);
    assert!(
        out.contains("tags::slow one") && !out.contains("fast one"),
        "{out}"
    );
    // JUnit carries the suite's name and each case's tags.
    let junit = d.join("report.xml");
    let (code, _, err) = run(&["--junit", junit.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite_out = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .and_then(|s| s.children().find(|c| c.has_tag_name("system-out")))
        .and_then(|o| o.text())
        .unwrap_or_default()
        .to_string();
    assert!(suite_out.starts_with("name: tags\n"), "{suite_out}");
    let tags_of = |case: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(case))
            .and_then(|t| t.children().find(|c| c.has_tag_name("system-out")))
            .and_then(|o| o.text())
            .map(str::to_string)
    };
    assert_eq!(tags_of("slow one").as_deref(), Some("tags: smoke, slow\n"));
    assert_eq!(tags_of("untagged"), None);
    // A tag no case carries selects nothing: a gate that tests nothing is an error.
    let (code, out, err) = run(&["--tag", "nosuch"]);
    assert_eq!(code, Some(2), "{out}{err}");
}

#[test]
fn failures_name_their_suite_and_tags_and_a_run_of_suites_ends_with_each_suites_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rulegate.yaml"), "no_rulesets: true\n").unwrap();
    std::fs::write(
        d.join("shop.yaml"),
        "name: Shop pages\nbase_url: https://a.example\ncases:\n  - { name: home, tags: [smoke, \"a\\u0007b\"], request: { url: / }, expect: { status: 403 } }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("api.yaml"),
        "name: API\nbase_url: https://a.example\ncases:\n  - { name: ping, request: { url: /ping }, expect: { status: 200 } }\n",
    )
    .unwrap();
    let summary = d.join("summary.md");
    let o = bin()
        .arg("test")
        .arg(d)
        .arg("--summary")
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("shop.yaml:4 (suite: Shop pages)"), "{out}");
    // Tags are suite text: a control character is shown, not sent to the terminal.
    assert!(out.contains("  tags: smoke, a\\u{7}b"), "{out}");
    assert!(!out.contains('\u{7}'));
    let tail = &out[out.find("\nsuites:\n").expect("the per-suite outcome")..];
    assert!(
        tail.contains("api.yaml (API)") && tail.contains("1 passed"),
        "{tail}"
    );
    assert!(
        tail.contains("shop.yaml (Shop pages)") && tail.contains("0 passed, 1 failed"),
        "{tail}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("suite Shop pages, tags: smoke"), "{md}");

    // A run where everything passes keeps its output short.
    std::fs::remove_file(d.join("shop.yaml")).unwrap();
    std::fs::write(
        d.join("more.yaml"),
        "name: More\nbase_url: https://a.example\ncases:\n  - { name: more, request: { url: / }, expect: { status: 200 } }\n",
    )
    .unwrap();
    let o = bin().arg("test").arg(d).output().unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\nsuites:\n"));
}

#[test]
fn completions_and_the_man_page_come_from_the_command_definitions() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = bin().args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{}", outcome(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        for word in ["init", "replay", "baseline", "skip-tag"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash script is valid bash.
    let o = bin().args(["completions", "bash"]).output().unwrap();
    let script = dir.path().join("rulegate.bash");
    std::fs::write(&script, &o.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", outcome(&check));
    let o = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );

    let o = bin().arg("man").output().unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH rulegate 1"),
        "{page}"
    );
    assert!(page.contains("init") && page.contains("replay"), "{page}");
    let mandir = dir.path().join("man");
    let o = bin().arg("man").arg("--dir").arg(&mandir).output().unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let test_page = std::fs::read_to_string(mandir.join("rulegate-test.1")).unwrap();
    assert!(test_page.contains("baseline"), "{test_page}");
    for cmd in ["init", "check", "eval", "trace", "serve", "pull", "replay"] {
        assert!(mandir.join(format!("rulegate-{cmd}.1")).is_file(), "{cmd}");
    }
}

#[test]
fn shards_of_both_kinds_are_disjoint_and_their_junit_reports_make_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let names = |path: &std::path::Path| -> Vec<String> {
        junit(path).kinds().into_iter().map(|(n, _)| n).collect()
    };
    let whole = dir.path().join("whole.xml");
    let o = bin()
        .args(["test", "--junit"])
        .arg(&whole)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let mut want = names(&whole);
    want.sort();
    for kind in ["hash", "count"] {
        let mut union = Vec::new();
        for k in 1..=3 {
            let path = dir.path().join(format!("{kind}-{k}.xml"));
            let o = bin()
                .args(["test", "--partition", &format!("{kind}:{k}/3"), "--junit"])
                .arg(&path)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            assert!(o.status.success(), "{kind}:{k}/3: {}", outcome(&o));
            let shard = names(&path);
            assert!(
                !shard.is_empty() && shard.len() < want.len(),
                "{kind}:{k}/3"
            );
            // --list shows the same shard.
            let o = bin()
                .args(["test", "--list", "--partition", &format!("{kind}:{k}/3")])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).matches(": test").count(),
                shard.len(),
                "{kind}:{k}/3 lists its cases"
            );
            union.extend(shard);
        }
        union.sort();
        let n = union.len();
        union.dedup();
        assert_eq!(union.len(), n, "{kind}: the shards overlap");
        assert_eq!(union, want, "{kind}: the shards make the whole run");
    }
    let o = bin()
        .args(["test", "--partition", "hash:4/3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        outcome(&o).contains("hash:K/N or count:K/N"),
        "{}",
        outcome(&o)
    );
}
