//! `rulegate replay`: generated Logpush logs through the example project. A rule change moves
//! exactly the requests it should (`--baseline HEAD~1`); a log whose outcomes come from the
//! example suites' expectations agrees with the offline engine; emitted cases pass `rulegate
//! test`; every input format reads and broken inputs fail clearly; partitions merge into the
//! full run exactly; redacted values reach no output.

use crate::common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{bin, copy_dir, git, outcome as text};
use serde_json::{Value, json};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("suites")
}

fn replay(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .arg("replay")
        .args(args)
        .output()
        .unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// One Logpush `http_requests` line.
fn line(method: &str, uri: &str, extra: &Value) -> String {
    let mut v = json!({
        "ClientRequestMethod": method,
        "ClientRequestHost": "www.example.com",
        "ClientRequestURI": uri,
        "ClientRequestScheme": "https",
        "ClientRequestProtocol": "HTTP/1.1",
        "ClientRequestUserAgent": "Mozilla/5.0 (Macintosh) Safari/605.1",
        "ClientIP": "198.51.100.20",
        "ClientCountry": "fr",
        "EdgeStartTimestamp": "2026-12-01T10:00:00Z",
        "RayID": "8f0000000000000a",
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

fn gzip(lines: &[String]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for l in lines {
        writeln!(e, "{l}").unwrap();
    }
    e.finish().unwrap()
}

const K: usize = 37;
const PROBES: usize = 13;

/// A day of traffic: K requests under /internal/, PROBES WordPress probes, bots at the login,
/// and ordinary pages.
fn traffic() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..100 {
        out.push(line(
            "GET",
            &format!("/products/{i}"),
            &json!({"RayID": format!("a{i}")}),
        ));
        if i < K {
            out.push(line("GET", &format!("/internal/report-{i}"), &json!({})));
        }
        if i < PROBES {
            out.push(line(
                "GET",
                "/wp-config.php",
                &json!({"ClientIP": format!("203.0.113.{i}")}),
            ));
        }
        if i < 7 {
            out.push(line(
                "POST",
                "/login",
                &json!({"BotScore": 4, "RayID": format!("b{i}")}),
            ));
        }
    }
    out
}

/// The example project in a git repository; the last commit adds a rule blocking /internal/
/// and disables the WordPress probe rule.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example(), &dir.path().join("project"));
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "the example project"]);
    let waf = dir
        .path()
        .join("project/rulesets/zone-http_request_firewall_custom.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&waf).unwrap()).unwrap();
    v["rules"].as_array_mut().unwrap().insert(
        0,
        json!({
            "id": "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
            "ref": "internal-block",
            "action": "block",
            "expression": "starts_with(http.request.uri.path, \"/internal/\")",
            "description": "Internal reports are not public"
        }),
    );
    std::fs::write(&waf, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let account = dir
        .path()
        .join("project/rulesets/custom-account-baseline.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&account).unwrap()).unwrap();
    for r in v["rules"].as_array_mut().unwrap() {
        if r["ref"] == "php-probe" {
            r["enabled"] = false.into();
        }
    }
    std::fs::write(&account, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    git(
        dir.path(),
        &[
            "commit",
            "-qam",
            "block /internal/, retire the php probe rule",
        ],
    );
    dir
}

#[test]
fn a_rule_change_moves_exactly_the_requests_it_touches() {
    let dir = repo();
    let log = dir.path().join("day.ndjson.gz");
    std::fs::write(&log, gzip(&traffic())).unwrap();
    let out = dir.path().join("out.json");
    let o = replay(
        dir.path(),
        &[
            "day.ndjson.gz",
            "--project",
            "project",
            "--baseline",
            "HEAD~1",
            "--json",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = read_json(&out);
    assert_eq!(j["requests"], 100 + K + PROBES + 7, "{j:#}");
    assert_eq!(j["bad_lines"], 0);
    assert_eq!(j["changed"], K + PROBES);
    let t = j["transitions"].as_array().unwrap();
    assert_eq!(t.len(), 2, "{t:#?}");
    let internal = t
        .iter()
        .find(|x| x["after_rule"] == "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c")
        .expect("the new rule's transition");
    assert_eq!(
        (
            &internal["before"],
            &internal["after"],
            &internal["before_rule"],
            &internal["count"]
        ),
        (&json!("none"), &json!("block"), &Value::Null, &json!(K))
    );
    assert_eq!(internal["samples"].as_array().unwrap().len(), 3);
    let probe = t.iter().find(|x| x["before"] == "block").unwrap();
    assert_eq!(
        (&probe["after"], &probe["count"]),
        (&json!("none"), &json!(PROBES))
    );
    let rule = j["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == "internal-block")
        .unwrap();
    assert_eq!(
        (&rule["matched_before"], &rule["matched_after"]),
        (&json!(0), &json!(K))
    );
    let console = common::stdout(&o);
    assert!(
        console.contains("none → block by \"Internal reports are not public\""),
        "{console}"
    );
    assert!(console.contains(&format!("{K} (")), "{console}");

    // A threshold turns the report into a gate.
    let o = replay(
        dir.path(),
        &[
            "day.ndjson.gz",
            "--project",
            "project",
            "--baseline",
            "HEAD~1",
            "--fail-on",
            "block>1%",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(common::stderr(&o).contains("newly block"), "{}", text(&o));
    let o = replay(
        dir.path(),
        &[
            "day.ndjson.gz",
            "--project",
            "project",
            "--baseline",
            "HEAD~1",
            "--fail-on",
            "managed_challenge>0",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Without a baseline nothing changes: a threshold would pass whatever the rules do.
    let o = replay(
        dir.path(),
        &[
            "day.ndjson.gz",
            "--project",
            "project",
            "--fail-on",
            "block>0",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(common::stderr(&o).contains("--baseline"), "{}", text(&o));
}

#[test]
fn partitions_merge_into_the_full_run_exactly() {
    let dir = repo();
    let log = dir.path().join("day.ndjson");
    std::fs::write(&log, traffic().join("\n") + "\nnot a record\n").unwrap();
    let run = |extra: &[&str], out: &str| {
        let mut args = vec![
            "day.ndjson",
            "--project",
            "project",
            "--baseline",
            "HEAD~1",
            "--json",
            out,
        ];
        args.extend_from_slice(extra);
        let o = replay(dir.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        read_json(&dir.path().join(out))
    };
    let full = run(&["--jobs", "1"], "full.json");
    assert_eq!(full["bad_lines"], 1);
    let parallel = run(&["--jobs", "3"], "parallel.json");
    assert_eq!(parallel, full, "worker threads change nothing");
    let mut parts = Vec::new();
    for k in 1..=3 {
        let name = format!("part{k}.json");
        let p = run(&["--partition", &format!("{k}/3")], &name);
        assert!(p["requests"].as_u64().unwrap() < full["requests"].as_u64().unwrap());
        parts.push(name);
    }
    let mut args = vec!["--merge", "--json", "merged.json"];
    args.extend(parts.iter().map(String::as_str));
    let o = replay(dir.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read_json(&dir.path().join("merged.json")), full);
    // An incomplete merge is refused, not reported as the whole.
    let o = replay(dir.path(), &["--merge", "part1.json", "part3.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(common::stderr(&o).contains("2/3"), "{}", text(&o));
}

/// Requests of the example suites with the outcome their expectations state, as Cloudflare
/// would have logged it.
fn logged() -> Vec<String> {
    let cases: [(&str, &str, Value, &str); 11] = [
        (
            "GET",
            "/admin/orders",
            json!({"ClientIP": "203.0.113.50"}),
            "block",
        ),
        (
            "GET",
            "/admin/orders",
            json!({"ClientIP": "192.0.2.44"}),
            "",
        ),
        ("POST", "/login", json!({"BotScore": 4}), "managedChallenge"),
        ("POST", "/login", json!({"BotScore": 87}), ""),
        ("GET", "/", json!({"ClientCountry": "kp"}), "block"),
        (
            "GET",
            "/download?file=..%2F..%2Fetc%2Fpasswd",
            json!({}),
            "block",
        ),
        ("GET", "/api/v2/products", json!({}), "log"),
        (
            "GET",
            "/admin/partners",
            json!({"ClientIP": "203.0.113.9", "ClientASN": 64501}),
            "skip",
        ),
        (
            "GET",
            "/",
            json!({"ClientRequestUserAgent": "sqlmap/1.7.2#stable"}),
            "block",
        ),
        ("GET", "/wp-config.php", json!({}), "block"),
        ("GET", "/", json!({}), ""),
    ];
    cases
        .iter()
        .map(|(m, u, extra, action)| {
            let mut e = extra.clone();
            e["SecurityAction"] = (*action).into();
            e["EdgeResponseStatus"] = if action.is_empty() { 200 } else { 403 }.into();
            line(m, u, &e)
        })
        .collect()
}

#[test]
fn the_logged_outcome_agrees_with_the_engine_and_disagreements_are_listed() {
    let dir = common::tempdir();
    std::fs::write(dir.path().join("log.ndjson"), logged().join("\n")).unwrap();
    let suites = example();
    let run = |out: &str| {
        let project = suites.to_str().unwrap();
        let args = [
            "log.ndjson",
            "--project",
            project,
            "--baseline",
            "logged",
            "--json",
            out,
        ];
        replay(dir.path(), &args)
    };
    let o = run("a.json");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = read_json(&dir.path().join("a.json"));
    assert_eq!(j["agreement"]["compared"], 11, "{j:#}");
    assert_eq!(j["agreement"]["agreed"], 11, "{j:#}");
    assert_eq!(j["changed"], 0);
    assert!(
        common::stdout(&o).contains("11 of 11 (100.00%)"),
        "{}",
        text(&o)
    );

    // Cloudflare let a probe through that the offline engine blocks: one disagreement.
    let mut lines = logged();
    lines.push(line(
        "GET",
        "/wp-config.php",
        &json!({"SecurityAction": "", "EdgeResponseStatus": 200}),
    ));
    std::fs::write(dir.path().join("log.ndjson"), lines.join("\n")).unwrap();
    let o = run("b.json");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = read_json(&dir.path().join("b.json"));
    assert_eq!(
        (&j["agreement"]["compared"], &j["agreement"]["agreed"]),
        (&json!(12), &json!(11))
    );
    let t = j["transitions"].as_array().unwrap();
    assert_eq!(t.len(), 1, "{t:#?}");
    assert_eq!(
        (&t[0]["before"], &t[0]["after"], &t[0]["count"]),
        (&json!("none"), &json!("block"), &json!(1))
    );
    assert!(
        common::stdout(&o).contains("1 disagree with the log"),
        "{}",
        text(&o)
    );
}

#[test]
fn emitted_cases_pass_as_a_suite() {
    let dir = common::tempdir();
    let project = dir.path().join("project");
    copy_dir(&example(), &project);
    std::fs::write(dir.path().join("log.ndjson"), logged().join("\n")).unwrap();
    let o = replay(
        dir.path(),
        &[
            "log.ndjson",
            "--project",
            "project",
            "--samples",
            "5",
            "--emit-cases",
            "project/replayed.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let suite = std::fs::read_to_string(project.join("replayed.yaml")).unwrap();
    let cases = suite.matches("\n  - name: ").count();
    assert!(cases >= 8, "{suite}");
    let junit = dir.path().join("r.xml");
    let o = bin()
        .current_dir(dir.path())
        .args([
            "test",
            "project/replayed.yaml",
            "--junit",
            junit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{suite}", text(&o));
    assert_eq!(common::junit(&junit).kinds().len(), cases);
}

#[test]
fn every_input_format_reads_and_bad_lines_are_counted() {
    let dir = common::tempdir();
    let p = example();
    let project = p.to_str().unwrap();
    let lines = logged();
    std::fs::write(dir.path().join("plain.log"), lines.join("\n")).unwrap();
    std::fs::write(dir.path().join("day.gz"), gzip(&lines)).unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/a.ndjson"), lines[..4].join("\n")).unwrap();
    std::fs::write(dir.path().join("logs/b.ndjson.gz"), gzip(&lines[4..])).unwrap();
    std::fs::write(
        dir.path().join("access.log"),
        "203.0.113.50 - - [01/Dec/2026:10:00:01 +0000] \"GET /admin/orders HTTP/1.1\" 403 12 \"-\" \"Mozilla/5.0\"\n\
         198.51.100.2 - - [01/Dec/2026:10:00:02 +0000] \"GET / HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.7\"\n\
         garbage line\n\
         198.51.100.3 - - [01/Dec/2026:10:00:03 +0000] \"GET /wp-config.php HTTP/1.1\" 403 0\n",
    )
    .unwrap();
    let har = json!({"log": {"version": "1.2", "entries": [
        {"request": {"method": "GET", "url": "https://www.example.com/wp-config.php", "httpVersion": "HTTP/2", "headers": [], "cookies": []}},
        {"request": {"method": "GET", "url": "https://www.example.com/", "headers": [{"name": "User-Agent", "value": "Mozilla/5.0"}]}},
    ]}});
    std::fs::write(
        dir.path().join("session.har"),
        serde_json::to_string_pretty(&har).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("requests.jsonl"),
        "{\"method\":\"GET\",\"url\":\"https://www.example.com/wp-config.php\"}\n{\"method\":\"GET\",\"url\":\"/relative\"}\n",
    )
    .unwrap();
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut c = bin();
        c.current_dir(dir.path())
            .arg("replay")
            .args(args)
            .args(["--project", project, "--json", "r.json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(b) = stdin {
            pipe.write_all(b).unwrap();
        }
        drop(pipe);
        let o = child.wait_with_output().unwrap();
        assert!(!common::stderr(&o).contains("panicked"), "{}", text(&o));
        let j = (o.status.code() == Some(0)).then(|| read_json(&dir.path().join("r.json")));
        (o, j)
    };
    let blocked = |j: &Value| -> u64 {
        j["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["action"] == "block")
            .map(|x| x["count"].as_u64().unwrap())
            .sum()
    };
    for args in [vec!["plain.log"], vec!["day.gz"], vec!["logs"], vec!["-"]] {
        let (o, j) = run(&args, Some(&gzip(&lines)));
        let j = j.unwrap_or_else(|| panic!("{args:?}: {}", text(&o)));
        assert_eq!((&j["requests"], blocked(&j)), (&json!(11), 5), "{args:?}");
    }
    let (o, j) = run(&["access.log", "--host", "www.example.com"], None);
    let j = j.unwrap_or_else(|| panic!("{}", text(&o)));
    assert_eq!(
        (&j["requests"], &j["bad_lines"], blocked(&j)),
        (&json!(3), &json!(1), 3)
    );
    assert_eq!(j["bad_line_samples"][0]["line"], 3, "{j:#}");
    assert!(
        common::stdout(&o).contains("access.log:3: "),
        "{}",
        text(&o)
    );
    let (o, _) = run(&["access.log"], None);
    assert_eq!(
        o.status.code(),
        Some(3),
        "no host: every line bad: {}",
        text(&o)
    );
    assert!(common::stdout(&o).contains("--host"), "{}", text(&o));
    let (o, j) = run(&["session.har"], None);
    let j = j.unwrap_or_else(|| panic!("{}", text(&o)));
    assert_eq!((&j["requests"], blocked(&j)), (&json!(2), 1));
    let (o, j) = run(&["requests.jsonl"], None);
    let j = j.unwrap_or_else(|| panic!("{}", text(&o)));
    assert_eq!((&j["requests"], &j["bad_lines"]), (&json!(1), &json!(1)));
    let (o, _) = run(&["requests.jsonl", "--max-bad-lines", "0"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // Inputs that are not logs: clear errors, never a panic.
    std::fs::write(dir.path().join("empty.log"), "").unwrap();
    let whole = gzip(&lines);
    std::fs::write(dir.path().join("cut.gz"), &whole[..whole.len() / 2]).unwrap();
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("junk.bin"), &junk).unwrap();
    for (file, want) in [
        ("empty.log", "empty (0 bytes)"),
        ("cut.gz", "gzip stream is corrupt or ends early"),
        ("junk.bin", "not a request log"),
        ("missing.log", "cannot read"),
    ] {
        let (o, _) = run(&[file], None);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", text(&o));
        assert!(common::stderr(&o).contains(want), "{file}: {}", text(&o));
    }
}

#[test]
fn redacted_values_reach_no_output() {
    let dir = common::tempdir();
    let project = dir.path().join("project");
    copy_dir(&example(), &project);
    let config = project.join("rulegate.yaml");
    let mut c = std::fs::read_to_string(&config).unwrap();
    c.push_str("redact: [\"x-api-*\"]\n");
    std::fs::write(&config, c).unwrap();
    let secret = line(
        "GET",
        "/wp-config.php?token=SECRET-Q-3&page=1",
        &json!({
            "RequestHeaders": {"authorization": "Bearer SECRET-TOKEN-1", "x-api-key": "SECRET-H-4"},
            "Cookies": {"sid": "SECRET-COOKIE-2"},
        }),
    );
    std::fs::write(dir.path().join("log.ndjson"), secret + "\n").unwrap();
    let summary = dir.path().join("step.md");
    let o = bin()
        .current_dir(dir.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "replay",
            "log.ndjson",
            "--project",
            "project",
            "--redact",
            "token",
            "--json",
            "r.json",
            "--summary",
            "s.md",
            "--emit-cases",
            "project/replayed.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut outputs = vec![common::stdout(&o), common::stderr(&o)];
    for f in ["r.json", "s.md", "step.md", "project/replayed.yaml"] {
        outputs.push(std::fs::read_to_string(dir.path().join(f)).unwrap());
    }
    let all = outputs.join("\n");
    assert!(all.contains("REDACTED"), "{all}");
    assert!(all.contains("page=1"), "{all}");
    for s in [
        "SECRET-TOKEN-1",
        "SECRET-COOKIE-2",
        "SECRET-Q-3",
        "SECRET-H-4",
    ] {
        assert!(!all.contains(s), "{s} leaked:\n{all}");
    }
}

#[test]
fn changed_rules_are_reviewed_with_what_exercises_them() {
    let dir = repo();
    // `test --baseline`: the new rule has no case; the retired probe rule had one.
    let run = |extra: &[&str]| {
        bin()
            .current_dir(dir.path())
            .env_remove("GITHUB_ACTIONS")
            .args(["test", "project", "--baseline", "HEAD~1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["--annotations", "github"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the probe case fails now: {}",
        text(&o)
    );
    let out = common::stdout(&o);
    assert!(
        out.contains("changed rules (cases matching each, baseline → candidate):"),
        "{out}"
    );
    let added = out
        .lines()
        .find(|l| l.contains("(internal-block): added"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        added.contains("cases matching it 0 → 0  ← no case exercises this change"),
        "{added}"
    );
    let retired = out
        .lines()
        .find(|l| l.contains("(php-probe): enabled"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(retired.contains("cases matching it 1 → 0"), "{retired}");
    assert!(!retired.contains("no case exercises"), "{retired}");
    let warning = out
        .lines()
        .find(|l| {
            l.starts_with(
                "::warning file=project/rulesets/zone-http_request_firewall_custom.json,line=",
            )
        })
        .unwrap_or_else(|| panic!("an annotation at the rule: {out}"));
    let line: usize = warning
        .split("line=")
        .nth(1)
        .and_then(|s| s.split([',', ':']).next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let file = std::fs::read_to_string(
        dir.path()
            .join("project/rulesets/zone-http_request_firewall_custom.json"),
    )
    .unwrap();
    let near: String = file.lines().skip(line - 1).take(3).collect();
    assert!(near.contains("0c0c0c0c"), "line {line}: {near}");

    let changes = dir.path().join("changes.json");
    let o = run(&[
        "--require-changed-covered",
        "--changes",
        changes.to_str().unwrap(),
        "--skip",
        "WordPress",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        common::stderr(&o)
            .contains("2 changed rule(s) no case exercises (--require-changed-covered)"),
        "{}",
        text(&o)
    );
    let j = read_json(&changes);
    let rules = j["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{j:#}");
    let added = rules.iter().find(|r| r["ref"] == "internal-block").unwrap();
    assert_eq!(
        (&added["changes"], &added["before"], &added["after"]),
        (&json!(["added"]), &json!(0), &json!(0))
    );

    // `replay --baseline`: the same rules, counted in requests.
    std::fs::write(dir.path().join("day.ndjson"), traffic().join("\n")).unwrap();
    let o = replay(
        dir.path(),
        &[
            "day.ndjson",
            "--project",
            "project",
            "--baseline",
            "HEAD~1",
            "--json",
            "r.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = common::stdout(&o);
    assert!(
        out.contains(&format!("added; requests matching it 0 → {K}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("enabled; requests matching it {PROBES} → 0")),
        "{out}"
    );
    let j = read_json(&dir.path().join("r.json"));
    let added = j["changed_rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ref"] == "internal-block")
        .unwrap();
    assert_eq!(added["requests_after"], K, "{j:#}");
}

#[test]
fn a_request_past_the_trace_budget_cannot_pass() {
    let dir = common::tempdir();
    let rs = json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": [
        {"id": "slow", "action": "block",
         "expression": "http.request.body.raw matches \"(?:a|b)*a(?:a|b){300}c\""}]});
    common::write(dir.path(), "rulesets/z.json", &rs.to_string());
    // a/b in a fixed pseudo-random order: the regex's lazy DFA gives up on it.
    let body = common::random_ab(60_000);
    let slow =
        json!({"method": "POST", "url": "https://www.example.com/", "body": {"plain_text": body}});
    let fast = json!({"method": "GET", "url": "https://www.example.com/"});
    std::fs::write(dir.path().join("r.jsonl"), format!("{slow}\n{fast}\n")).unwrap();
    let o = replay(
        dir.path(),
        &[
            "r.jsonl",
            "--project",
            ".",
            "--trace-budget",
            "0.01",
            "--json",
            "o.json",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        common::stderr(&o).contains("took longer than the trace budget"),
        "{}",
        text(&o)
    );
    let j = read_json(&dir.path().join("o.json"));
    assert_eq!(
        (&j["requests"], &j["bad_lines"], &j["over_budget"]),
        (&json!(1), &json!(1), &json!(1))
    );
}
