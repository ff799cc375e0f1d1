//! A gate that tells the truth (probing round 3): reads stay inside the repository, secrets
//! never print, nothing from a file can forge a workflow command or a report, and none of the
//! ways found to exit 0 untested still does. One test per finding, named after what it
//! protects; each failed before its fix.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use common::{Auth, Reply, Server, bin, outcome, random_ab, tempdir, write};
use serde_json::json;

const SECRET: &str = "tok-VERY-SECRET-9d8c7b6a5f4e3d2c1b0a";

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const PASSING_SUITE: &str = "base_url: https://www.example.com\ncases:\n  - name: home\n    request: { url: / }\n    expect: { status: 200 }\n";

/// A repository (`.git` marker) holding a project in `waf/` with one ruleset.
fn repo_with_project(rules: serde_json::Value) -> tempfile::TempDir {
    let repo = tempdir();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let rs = json!({"id": "zfc", "name": "zone custom", "kind": "zone",
        "phase": "http_request_firewall_custom", "rules": rules});
    write(
        repo.path(),
        "waf/rulesets/zone.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(repo.path(), "waf/home.yaml", PASSING_SUITE);
    repo
}

fn block_admin() -> serde_json::Value {
    json!([{"id": "r1", "ref": "block-admin", "action": "block",
        "expression": "http.request.uri.path eq \"/admin\"", "description": "Block admin"}])
}

#[test]
fn a_project_file_cannot_read_outside_the_repository() {
    let repo = repo_with_project(block_admin());
    let waf = repo.path().join("waf");
    for (key, value) in [
        ("terraform", "/proc/self/environ"),
        ("terraform", "../../../../etc"),
        ("rulesets", "/etc"),
        ("lists", "../../outside"),
    ] {
        write(&waf, "rulegate.yaml", &format!("{key}: {value}\n"));
        let o = bin()
            .env("CLOUDFLARE_API_TOKEN", SECRET)
            .arg("check")
            .arg(&waf)
            .output()
            .unwrap();
        let text = all(&o);
        assert_eq!(o.status.code(), Some(2), "{key}: {value}\n{}", outcome(&o));
        assert!(
            text.contains(&format!("`{key}:`")) && text.contains("leads outside the repository"),
            "{text}"
        );
        assert!(text.contains("rulegate.yaml:1:"), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
    // A committed symlink that leaves the repository.
    std::fs::remove_file(waf.join("rulegate.yaml")).unwrap();
    let outside = tempdir();
    write(outside.path(), "x.json", "{\"CLOUDFLARE_API_TOKEN\": 1");
    std::os::unix::fs::symlink(outside.path().join("x.json"), waf.join("rulesets/x.json")).unwrap();
    let o = bin().arg("check").arg(&waf).output().unwrap();
    let text = all(&o);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        text.contains("is a symbolic link that leads outside the repository"),
        "{text}"
    );
    assert!(!text.contains("CLOUDFLARE_API_TOKEN"), "{text}");
}

#[test]
fn a_flag_may_point_anywhere_but_junit_in_the_project_file_may_not() {
    let repo = repo_with_project(block_admin());
    let waf = repo.path().join("waf");
    write(&waf, "rulegate.yaml", "junit: ../../junit.xml\n");
    let o = bin().arg("test").arg(&waf).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(all(&o).contains("`junit:`"), "{}", outcome(&o));
    assert!(!repo.path().parent().unwrap().join("junit.xml").exists());
    // The same path as a flag is the user's choice.
    std::fs::remove_file(waf.join("rulegate.yaml")).unwrap();
    let out = tempdir();
    let junit = out.path().join("r.xml");
    let o = bin()
        .arg("test")
        .arg(&waf)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", outcome(&o));
    assert!(junit.is_file());
}

#[test]
fn binary_files_are_refused_without_printing_their_lines() {
    let repo = repo_with_project(block_admin());
    let waf = repo.path().join("waf");
    std::fs::write(
        waf.join("rulesets/env.json"),
        format!("CLOUDFLARE_API_TOKEN={SECRET}\0HOME=/root\0"),
    )
    .unwrap();
    let o = bin().arg("check").arg(&waf).output().unwrap();
    let text = all(&o);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(text.contains("the file is not text"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn credentials_never_expand_into_suites_and_known_secrets_are_scrubbed() {
    let dir = tempdir();
    write(
        dir.path(),
        "s.yaml",
        "base_url: https://www.example.com\ncases:\n  - name: leak\n    request:\n      url: /\n      headers: { authorization: \"Bearer ${CLOUDFLARE_API_TOKEN}\" }\n    expect: { status: 200 }\n",
    );
    write(dir.path(), "rulesets/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", SECRET)
        .arg("test")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = all(&o);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        text.contains("`${CLOUDFLARE_API_TOKEN}` names a credential"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");

    // A secret value that reaches a name anyway is scrubbed from the console and JUnit.
    write(
        dir.path(),
        "s.yaml",
        &format!(
            "base_url: https://www.example.com\ncases:\n  - name: fails for {SECRET}\n    request: {{ url: / }}\n    expect: {{ status: 403 }}\n"
        ),
    );
    let junit = dir.path().join("out/j.xml");
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", SECRET)
        .arg("test")
        .arg(dir.path())
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    assert!(!all(&o).contains(SECRET), "{}", outcome(&o));
    assert!(all(&o).contains("[redacted]"), "{}", outcome(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(!xml.contains(SECRET), "{xml}");
    roxmltree::Document::parse(&xml).unwrap();
}

/// A project whose rule description and ruleset name carry hostile text, and a failing case
/// that ends in that rule.
fn hostile_project() -> tempfile::TempDir {
    let dir = tempdir();
    let desc = "Block admin\n::add-mask::leak\r\n::stop-commands::x]]><testcase name=\"fake\" classname=\"x\"/><![CDATA[\u{1b}[2J";
    let rs = json!({"id": "zfc", "name": "zone\n::set-output name=x::y", "kind": "zone",
        "phase": "http_request_firewall_custom",
        "rules": [{"id": "r1", "action": "block", "expression": "http.request.uri.path eq \"/admin\"",
                   "description": desc}]});
    write(
        dir.path(),
        "rulesets/zone.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(
        dir.path(),
        "s.yaml",
        "base_url: https://www.example.com\ncases:\n  - name: admin `is` <img src=x> *open*\n    request: { url: /admin }\n    expect: { status: 200, action: none }\n  - name: home\n    request: { url: / }\n    expect: { status: 200 }\n",
    );
    dir
}

#[test]
fn nothing_from_a_file_starts_a_workflow_command_or_forges_a_report() {
    let dir = hostile_project();
    let junit = dir.path().join("out/j.xml");
    let lcov = dir.path().join("out/r.info");
    let cob = dir.path().join("out/r.xml");
    let md = dir.path().join("out/s.md");
    let o = bin()
        .arg("test")
        .arg(dir.path())
        .args(["--annotations", "github", "--coverage"])
        .arg("--junit")
        .arg(&junit)
        .arg("--coverage-lcov")
        .arg(&lcov)
        .arg("--coverage-cobertura")
        .arg(&cob)
        .arg("--summary")
        .arg(&md)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    for line in all(&o).lines() {
        assert!(
            !line.starts_with("::")
                || line.starts_with("::error file=")
                || line.starts_with("::warning file="),
            "a line from a file became a workflow command: {line:?}\n{}",
            outcome(&o)
        );
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
    // JUnit: still exactly two testcases, valid XML, the description kept as text.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2, "{xml}");
    assert!(cases.iter().all(|c| c.attribute("name") != Some("fake")));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    let body: String = failure.descendants().filter_map(|n| n.text()).collect();
    assert!(body.contains("<testcase name=\"fake\""), "{body}");
    // Cobertura parses; LCOV has one record per file.
    let cob = std::fs::read_to_string(&cob).unwrap();
    roxmltree::Document::parse_with_options(
        &cob,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap();
    let info = std::fs::read_to_string(&lcov).unwrap();
    assert_eq!(
        info.lines().filter(|l| l.starts_with("SF:")).count(),
        info.lines().filter(|l| *l == "end_of_record").count()
    );
    // The summary: no raw HTML or code span from the case name.
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(!summary.contains("<img"), "{summary}");
    assert!(summary.starts_with("## rulegate: failed"), "{summary}");
}

#[test]
fn a_file_name_cannot_inject_an_lcov_record() {
    let dir = tempdir();
    let rs = json!({"id": "zfc", "kind": "zone", "phase": "http_request_firewall_custom",
        "rules": [{"id": "r1", "action": "block", "expression": "http.request.uri.path eq \"/admin\""}]});
    write(
        dir.path(),
        "rulesets/a\nend_of_record\nSF:evil\nDA:1,99\n.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(dir.path(), "s.yaml", PASSING_SUITE);
    let lcov = dir.path().join("r.info");
    let o = bin()
        .arg("test")
        .arg(dir.path())
        .arg("--coverage-lcov")
        .arg(&lcov)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", outcome(&o));
    let info = std::fs::read_to_string(&lcov).unwrap();
    assert_eq!(
        info.lines().filter(|l| l.starts_with("SF:")).count(),
        1,
        "{info}"
    );
    assert!(!info.lines().any(|l| l == "DA:1,99"), "{info}");
}

#[test]
fn names_with_control_characters_or_colliding_are_refused() {
    let dir = tempdir();
    write(
        dir.path(),
        "s.yaml",
        "cases:\n  - name: \"a\\n::add-mask::x\"\n    request: { url: \"https://a.example/\" }\n    expect: { status: 200 }\n",
    );
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("holds a control character"),
        "{}",
        outcome(&o)
    );
    assert!(
        !all(&o).lines().any(|l| l.starts_with("::")),
        "{}",
        outcome(&o)
    );

    let dir = tempdir();
    let case = |name: &str| {
        format!(
            "cases:\n  - name: \"{name}\"\n    request: {{ url: \"https://a.example/\" }}\n    expect: {{ status: 200 }}\n"
        )
    };
    write(dir.path(), "a.yaml", &case("b::c"));
    write(dir.path(), "a::b.yaml", &case("c"));
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(all(&o).contains("the suite name `a::b`"), "{}", outcome(&o));
}

#[test]
fn ignore_takes_true_or_a_reason() {
    let dir = tempdir();
    let suite = |ignore: &str| {
        format!(
            "base_url: https://www.example.com\ncases:\n  - name: c\n    request: {{ url: / }}\n    expect: {{ status: 200 }}\n    ignore: {ignore}\n"
        )
    };
    write(dir.path(), "rulesets/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    for bad in ["\"no\"", "\"0\"", "0", "\"off\"", "\"\""] {
        write(dir.path(), "s.yaml", &suite(bad));
        let o = run_in(dir.path(), &["test", "."]);
        assert_eq!(o.status.code(), Some(2), "ignore: {bad}\n{}", outcome(&o));
        assert!(all(&o).contains("is ambiguous"), "{}", outcome(&o));
    }
    // `false` (and YAML's other spellings of it) runs the case.
    for no in ["false", "no", "off"] {
        write(dir.path(), "s.yaml", &suite(no));
        let o = run_in(dir.path(), &["test", "."]);
        assert_eq!(o.status.code(), Some(0), "{}", outcome(&o));
        assert!(
            all(&o).contains("1 passed"),
            "ignore: {no}\n{}",
            outcome(&o)
        );
    }
    write(dir.path(), "s.yaml", &suite("\"flaky upstream\""));
    let o = run_in(dir.path(), &["test", ".", "--allow-no-cases"]);
    assert!(all(&o).contains("1 ignored"), "{}", outcome(&o));
}

#[test]
fn no_token_over_plain_http_to_another_host() {
    let dir = tempdir();
    write(dir.path(), "s.yaml", PASSING_SUITE);
    write(
        dir.path(),
        "rulegate.yaml",
        "backend: cloudflare\napi_url: http://api.example.net/client/v4\naccount_id: 0123456789abcdef0123456789abcdef\n",
    );
    let o = bin()
        .env("CLOUDFLARE_API_TOKEN", SECRET)
        .args(["test"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(all(&o).contains("plain http://"), "{}", outcome(&o));
    assert!(all(&o).contains("--allow-plain-http"), "{}", outcome(&o));
}

#[test]
fn a_trace_without_a_status_code_could_not_run() {
    let server = Server::start(
        Auth::Token,
        Arc::new(|_, _| {
            Reply::json(
                200,
                json!({"success": true, "errors": [], "messages": [], "result": {"status_code": null, "trace": []}}),
            )
        }),
    );
    let dir = tempdir();
    write(dir.path(), "s.yaml", PASSING_SUITE);
    let o = common::rulegate(&server, Auth::Token, &[dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", outcome(&o));
    assert!(all(&o).contains("without a status code"), "{}", outcome(&o));
}

#[test]
fn a_project_that_yields_no_ruleset_is_an_error() {
    let dir = tempdir();
    write(dir.path(), "s.yaml", PASSING_SUITE);
    // A typo: `ruleset/` beside the default `rulesets/`.
    write(dir.path(), "ruleset/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    let o = run_in(dir.path(), &["test", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(all(&o).contains("holds no ruleset"), "{}", outcome(&o));
    assert!(
        all(&o).contains("rulesets (no such directory)"),
        "{}",
        outcome(&o)
    );
    // Every Terraform ruleset at count = 0.
    write(
        dir.path(),
        "tf/main.tf",
        "resource \"cloudflare_ruleset\" \"waf\" {\n  count = 0\n  zone_id = \"z\"\n  name = \"w\"\n  kind = \"zone\"\n  phase = \"http_request_firewall_custom\"\n  rules = []\n}\n",
    );
    write(dir.path(), "rulegate.yaml", "terraform: tf\n");
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("no cloudflare_ruleset instance"),
        "{}",
        outcome(&o)
    );
    // Saying so is allowed.
    write(
        dir.path(),
        "rulegate.yaml",
        "terraform: tf\nno_rulesets: true\n",
    );
    let o = run_in(dir.path(), &["test", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", outcome(&o));
}

#[test]
fn selectors_name_exactly_what_can_be_selected() {
    let dir = tempdir();
    let rs = json!({"id": "zfc", "name": "Zone custom rules", "kind": "zone",
        "phase": "http_request_firewall_custom", "rules": [
            {"id": "r1", "ref": "admin", "action": "block", "expression": "http.request.uri.path eq \"/admin\""}]});
    write(
        dir.path(),
        "rulesets/z.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(
        dir.path(),
        "s.yaml",
        "base_url: https://www.example.com\ncases:\n  - name: c\n    request: { url: /admin }\n    expect: { status: 403, not_matched: [Zone custom rules] }\n",
    );
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("which is no rule in the project"),
        "{}",
        outcome(&o)
    );

    // Two rules with one ref, and a ref that is another rule's id.
    let rs = json!({"id": "zfc", "kind": "zone", "phase": "http_request_firewall_custom", "rules": [
        {"id": "r1", "ref": "admin", "action": "block", "expression": "true"},
        {"id": "r2", "ref": "admin", "action": "log", "expression": "true"},
        {"id": "r3", "ref": "r1", "action": "log", "expression": "true"}]});
    write(
        dir.path(),
        "rulesets/z.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(dir.path(), "s.yaml", PASSING_SUITE);
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    let text = all(&o);
    assert!(
        text.contains("rule ref `admin` is also the ref of rule `r1`"),
        "{text}"
    );
    assert!(
        text.contains("rule ref `r1` is the id of another rule"),
        "{text}"
    );
}

#[test]
fn unmet_coverage_is_one_verdict_everywhere() {
    let dir = tempdir();
    let rs = json!({"id": "zfc", "kind": "zone", "phase": "http_request_firewall_custom", "rules": [
        {"id": "r1", "action": "block", "expression": "http.request.uri.path eq \"/admin\""}]});
    write(
        dir.path(),
        "rulesets/z.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(dir.path(), "s.yaml", PASSING_SUITE);
    // The project file's requirement holds without --coverage.
    write(dir.path(), "rulegate.yaml", "coverage:\n  require: all\n");
    let md = dir.path().join("s.md");
    let o = bin()
        .arg("test")
        .arg(dir.path())
        .args(["--annotations", "github", "--summary"])
        .arg(&md)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let text = all(&o);
    assert!(
        text.lines()
            .any(|l| l.starts_with("error: rule coverage") && l.ends_with("(failed)")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("::error title=rulegate::rule coverage")),
        "{text}"
    );
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(summary.starts_with("## rulegate: failed"), "{summary}");
    // A filtered run may skip it, and says so.
    let o = bin()
        .arg("test")
        .arg(dir.path())
        .args(["--", "home"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", outcome(&o));
    assert!(
        all(&o).contains("is not checked: this run is filtered"),
        "{}",
        outcome(&o)
    );
}

#[test]
fn a_secondary_output_that_cannot_be_written_stops_the_run_before_tracing() {
    let dir = tempdir();
    write(dir.path(), "rulesets/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    write(dir.path(), "s.yaml", PASSING_SUITE);
    let junit = dir.path().join("j.xml");
    std::fs::write(&junit, "<testsuites/>").unwrap();
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "").unwrap();
    let o = bin()
        .arg("test")
        .arg(dir.path())
        .arg("--junit")
        .arg(&junit)
        .arg("--coverage-lcov")
        .arg(blocked.join("r.info"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(!all(&o).contains("test result"), "{}", outcome(&o));
    // A run that goes on removes the previous report at its start.
    let o = bin()
        .arg("test")
        .arg(dir.path())
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", outcome(&o));
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("testcase")
    );
}

fn module_project(call: &str) -> tempfile::TempDir {
    let dir = tempdir();
    write(dir.path(), "s.yaml", PASSING_SUITE);
    write(dir.path(), "rulegate.yaml", "terraform: tf\n");
    write(
        dir.path(),
        "tf/modules/waf/main.tf",
        "variable \"name\" { default = \"w\" }\nresource \"cloudflare_ruleset\" \"waf\" {\n  account_id = \"a\"\n  name = var.name\n  kind = \"custom\"\n  phase = \"http_request_firewall_custom\"\n  rules = [{ action = \"block\", expression = \"http.request.uri.path eq \\\"/x\\\"\" }]\n}\n",
    );
    write(
        dir.path(),
        "tf/main.tf",
        &format!(
            "resource \"cloudflare_ruleset\" \"zone\" {{\n  zone_id = \"z\"\n  name = \"z\"\n  kind = \"zone\"\n  phase = \"http_request_firewall_custom\"\n  rules = []\n}}\n{call}"
        ),
    );
    dir
}

fn rulesets_listed(dir: &Path) -> String {
    let o = run_in(dir, &["check", "."]);
    all(&o)
}

#[test]
fn module_count_and_for_each_make_the_instances_terraform_makes() {
    let d = module_project("module \"w\" {\n  source = \"./modules/waf\"\n  count = 0\n}\n");
    let text = rulesets_listed(d.path());
    assert!(text.contains("1 ruleset(s)"), "{text}");
    let d = module_project(
        "module \"w\" {\n  source = \"./modules/waf\"\n  count = 2\n  name = \"w${count.index}\"\n}\n",
    );
    let text = rulesets_listed(d.path());
    assert!(text.contains("3 ruleset(s)"), "{text}");
    let d = module_project(
        "module \"w\" {\n  source = \"./modules/waf\"\n  for_each = toset([\"a\", \"b\"])\n  name = each.key\n}\n",
    );
    let text = rulesets_listed(d.path());
    assert!(text.contains("3 ruleset(s)"), "{text}");
    let d = module_project("module \"w\" {\n  source = \"./modules/waf\"\n  for_each = {}\n}\n");
    let text = rulesets_listed(d.path());
    assert!(text.contains("1 ruleset(s)"), "{text}");
}

#[test]
fn module_calls_terraform_refuses_are_errors() {
    for (call, want) in [
        (
            "module \"w\" {\n  source = \"./modules/nope\"\n}\n",
            "is not a directory",
        ),
        ("module \"w\" {\n  name = \"x\"\n}\n", "has no `source`"),
        (
            "module \"w\" {\n  source = \"./modules/waf\"\n  for_each = \"abc\"\n}\n",
            "for_each is a string",
        ),
        (
            "module \"w\" {\n  source = \"./modules/waf\"\n  for_each = null\n}\n",
            "for_each is null",
        ),
        (
            "module \"w\" {\n  source = \"../..\"\n}\n",
            "leads outside the repository",
        ),
        ("module \"w\" {\n  source = \"./\"\n}\n", "a module cycle"),
        (
            "module \"w\" {\n  source = \"./modules/waf\"\n  count = 100000000000\n}\n",
            "more than the 10000 instances",
        ),
    ] {
        let d = module_project(call);
        let o = run_in(d.path(), &["check", "."]);
        assert_eq!(o.status.code(), Some(2), "{call}\n{}", outcome(&o));
        assert!(all(&o).contains(want), "{call}\n{}", outcome(&o));
        assert!(all(&o).contains("main.tf:"), "{call}\n{}", outcome(&o));
    }
}

#[test]
fn a_refused_credential_stops_the_run_at_the_first_error() {
    let server = Server::start(
        Auth::Token,
        Arc::new(|_, _| {
            Reply::json(
                403,
                json!({"success": false, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": [], "result": null}),
            )
        }),
    );
    let dir = tempdir();
    let mut yaml = String::from("base_url: https://www.example.com\ncases:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  - name: c{i}\n    request: {{ url: /{i} }}\n    expect: {{ status: 200 }}\n"
        ));
    }
    write(dir.path(), "s.yaml", &yaml);
    let o = common::rulegate(
        &server,
        Auth::Token,
        &[dir.path().to_str().unwrap(), "--concurrency", "1"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", outcome(&o));
    assert_eq!(server.all_requests().len(), 1, "{}", outcome(&o));
    let text = all(&o);
    assert_eq!(text.matches("authentication failed").count(), 1, "{text}");
    assert!(
        text.contains("refused the credentials on an earlier case"),
        "{text}"
    );
}

#[test]
fn pull_checks_credentials_before_any_request() {
    let dir = tempdir();
    let o = bin()
        .args([
            "pull",
            "--zone",
            "0123456789abcdef0123456789abcdef",
            "--account-id",
        ])
        .arg("0123456789abcdef0123456789abcdef")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("no Cloudflare credentials"),
        "{}",
        outcome(&o)
    );
}

#[test]
fn a_small_regex_that_searches_slowly_is_held_to_the_budget() {
    let dir = tempdir();
    let rs = json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": [
        {"id": "slow", "action": "block",
         "expression": "http.request.body.raw matches \"(?:a|b)*a(?:a|b){300}c\""}]});
    write(
        dir.path(),
        "rulesets/z.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    let body = random_ab(1_500_000);
    write(
        dir.path(),
        "s.yaml",
        &format!(
            "base_url: https://www.example.com\ncases:\n  - name: big body\n    request:\n      method: POST\n      url: /\n      body: {{ plain_text: \"{body}\" }}\n    expect: {{ status: 200 }}\n"
        ),
    );
    let o = run_in(dir.path(), &["test", ".", "--trace-budget", "0.3"]);
    assert_eq!(o.status.code(), Some(3), "{}", outcome(&o));
    assert!(
        all(&o).contains("longer than its budget"),
        "{}",
        outcome(&o)
    );
}

#[test]
fn eval_batch_is_held_to_the_budget() {
    let dir = tempdir();
    let body = random_ab(400_000);
    let line = json!({"expr": "http.request.body.raw matches \"(?:a|b)*a(?:a|b){300}c\"",
        "fields": {"http.request.body.raw": body}});
    let input = format!("{{\"expr\": \"true\"}}\n{line}\n{{\"expr\": \"false\"}}\n");
    let path = write(dir.path(), "in.jsonl", &input);
    let o = bin()
        .args(["eval", "--trace-budget", "0.3", "--batch"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", outcome(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["result"], true);
    assert_eq!(lines[1]["kind"], "budget", "{out}");
}

#[test]
fn rate_limiting_parameters_outside_the_rate_limiting_phase_are_refused() {
    let dir = tempdir();
    let rs = json!({"id": "zfc", "kind": "zone", "phase": "http_request_firewall_custom", "rules": [
        {"id": "r1", "action": "block", "expression": "http.request.uri.path eq \"/login\"",
         "ratelimit": {"characteristics": ["ip.src", "cf.colo.id"], "period": 60, "requests_per_period": 5, "mitigation_timeout": 600}}]});
    write(
        dir.path(),
        "rulesets/z.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(dir.path(), "s.yaml", PASSING_SUITE);
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains(
            "`ratelimit` is only allowed in phase http_ratelimit, not http_request_firewall_custom"
        ),
        "{}",
        outcome(&o)
    );
    assert!(all(&o).contains("z.json:"), "{}", outcome(&o));
}

#[test]
fn a_plan_whose_ruleset_values_are_no_object_is_an_error_not_a_panic() {
    for values in [json!(null), json!([1, 2]), json!("x"), json!(7)] {
        let dir = tempdir();
        let plan = json!({"format_version": "1.2", "planned_values": {"root_module": {"resources": [
            {"address": "cloudflare_ruleset.waf", "mode": "managed", "type": "cloudflare_ruleset",
             "name": "waf", "values": values}]}}});
        write(
            dir.path(),
            "plan.json",
            &serde_json::to_string_pretty(&plan).unwrap(),
        );
        write(dir.path(), "rulegate.yaml", "terraform: plan.json\n");
        write(dir.path(), "s.yaml", PASSING_SUITE);
        for cmd in ["check", "test"] {
            let o = run_in(dir.path(), &[cmd, "."]);
            let text = all(&o);
            assert_eq!(o.status.code(), Some(2), "{values}: {}", outcome(&o));
            assert!(!text.contains("panicked"), "{text}");
            assert!(
                text.contains("cloudflare_ruleset.waf: its `values` is"),
                "{text}"
            );
            assert!(text.contains("plan.json:"), "{text}");
        }
    }
    // Missing altogether.
    let dir = tempdir();
    let plan = json!({"planned_values": {"root_module": {"resources": [
        {"address": "cloudflare_ruleset.waf", "mode": "managed", "type": "cloudflare_ruleset", "name": "waf"}]}}});
    write(
        dir.path(),
        "plan.json",
        &serde_json::to_string_pretty(&plan).unwrap(),
    );
    write(dir.path(), "rulegate.yaml", "terraform: plan.json\n");
    write(dir.path(), "s.yaml", PASSING_SUITE);
    let o = run_in(dir.path(), &["check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(all(&o).contains("null or missing"), "{}", outcome(&o));
}

#[test]
fn baseline_revisions_are_refused_for_what_they_are() {
    let repo = tempdir();
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args([
                "-c",
                "user.email=t@example.com",
                "-c",
                "user.name=t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", outcome(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    write(repo.path(), "p/rulesets/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    write(repo.path(), "p/s.yaml", PASSING_SUITE);
    git(&["add", "."]);
    git(&["commit", "-qm", "one"]);
    let tree = git(&["rev-parse", "HEAD^{tree}"]);
    let p = repo.path().join("p");
    for (rev, want) in [
        ("^HEAD", "not a revision naming one commit"),
        ("HEAD..HEAD", "not a revision naming one commit"),
        (tree.as_str(), "names a tree, not a commit"),
    ] {
        let o = run_in(&p, &["test", ".", "--baseline", rev]);
        assert_eq!(o.status.code(), Some(2), "{rev}: {}", outcome(&o));
        assert!(all(&o).contains(want), "{rev}: {}", outcome(&o));
    }
    // The project did not exist at the revision: an error naming it, not an empty baseline.
    write(repo.path(), "q/rulesets/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    write(repo.path(), "q/s.yaml", PASSING_SUITE);
    let o = run_in(&repo.path().join("q"), &["test", ".", "--baseline", "HEAD"]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("does not exist at that revision"),
        "{}",
        outcome(&o)
    );
    assert!(all(&o).contains("HEAD:q"), "{}", outcome(&o));
}

#[test]
fn committed_links_to_suites_or_tfvars_outside_are_refused() {
    let repo = repo_with_project(block_admin());
    let waf = repo.path().join("waf");
    let outside = tempdir();
    write(
        outside.path(),
        "secret.yaml",
        &format!("cases:\n  - name: {SECRET}\n"),
    );
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), waf.join("leak.yaml")).unwrap();
    let o = bin().arg("check").arg(&waf).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("is a symbolic link that leads outside"),
        "{}",
        outcome(&o)
    );
    assert!(!all(&o).contains(SECRET), "{}", outcome(&o));
    std::fs::remove_file(waf.join("leak.yaml")).unwrap();
    // The same file named on the command line is the user's choice.
    let o = bin()
        .arg("check")
        .arg(outside.path().join("secret.yaml"))
        .output()
        .unwrap();
    assert!(!all(&o).contains("leads outside"), "{}", outcome(&o));

    // terraform.tfvars linked out of the repository.
    write(&waf, "rulegate.yaml", "terraform: tf\n");
    write(
        &waf,
        "tf/main.tf",
        "variable \"p\" { default = \"/x\" }\nresource \"cloudflare_ruleset\" \"z\" {\n  zone_id = \"z\"\n  name = \"z\"\n  kind = \"zone\"\n  phase = \"http_request_firewall_custom\"\n  rules = [{ action = \"block\", expression = \"http.request.uri.path eq \\\"${var.p}\\\"\" }]\n}\n",
    );
    write(outside.path(), "t.tfvars", "p = \"/admin\"\n");
    std::os::unix::fs::symlink(
        outside.path().join("t.tfvars"),
        waf.join("tf/terraform.tfvars"),
    )
    .unwrap();
    let o = bin().arg("check").arg(&waf).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("terraform.tfvars is a symbolic link that leads outside"),
        "{}",
        outcome(&o)
    );
}

#[test]
fn a_baseline_revision_is_as_confined_as_the_working_tree() {
    let repo = tempdir();
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args([
                "-c",
                "user.email=t@example.com",
                "-c",
                "user.name=t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", outcome(&o));
    };
    git(&["init", "-q"]);
    let outside = tempdir();
    write(
        outside.path(),
        "plan.json",
        "{\"values\": {\"root_module\": {}}}",
    );
    write(repo.path(), "p/s.yaml", PASSING_SUITE);
    write(repo.path(), "p/rulesets/z.json", &serde_json::to_string(&json!({"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": []})).unwrap());
    // The earlier revision's rulegate.yaml names a file outside the repository.
    write(
        repo.path(),
        "p/rulegate.yaml",
        &format!(
            "terraform: {}\n",
            outside.path().join("plan.json").display()
        ),
    );
    git(&["add", "."]);
    git(&["commit", "-qm", "one"]);
    std::fs::remove_file(repo.path().join("p/rulegate.yaml")).unwrap();
    git(&["commit", "-qam", "two"]);
    let o = run_in(
        &repo.path().join("p"),
        &["test", ".", "--baseline", "HEAD~1"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        all(&o).contains("leads outside the repository"),
        "{}",
        outcome(&o)
    );
}

#[test]
fn a_selector_that_is_a_ref_is_resolved_to_its_rule_once_at_load() {
    // The trace names the rule by id (`r1`); the suite by its ref (`admin`): both
    // expectations read the id the ref was resolved to, so one passes and one fails.
    let dir = tempdir();
    let rs = json!({"id": "zfc", "kind": "zone", "phase": "http_request_firewall_custom",
        "rules": [{"id": "r1", "ref": "admin", "action": "block",
                   "expression": "http.request.uri.path eq \"/admin\""}]});
    write(
        dir.path(),
        "rulesets/z.json",
        &serde_json::to_string_pretty(&rs).unwrap(),
    );
    write(
        dir.path(),
        "s.yaml",
        "base_url: https://www.example.com\ncases:\n  - name: hit\n    request: { url: /admin }\n    expect: { status: 403, matched: [admin] }\n  - name: wrong\n    request: { url: /admin }\n    expect: { status: 403, not_matched: [admin] }\n",
    );
    let o = run_in(dir.path(), &["test", "."]);
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let text = all(&o);
    assert!(
        text.lines()
            .any(|l| l.starts_with("test s::hit") && l.ends_with("ok")),
        "{text}"
    );
    assert!(
        text.contains("not_matched: expected rule `admin` not to match, but it matched"),
        "{text}"
    );
}
