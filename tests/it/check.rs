//! `rulegate check` on broken projects: one fixture per error kind, each asserting the message
//! and where it points.

use crate::common;

const SUITE: &str = "base_url: https://www.example.com\ncases:\n  - name: a\n    request: { url: / }\n    expect: { status: 200 }\n";

fn ruleset(phase: &str, kind: &str, rules: &str) -> String {
    format!(
        "{{\n  \"id\": \"0123456789abcdef0123456789abcdef\",\n  \"name\": \"default\",\n  \"kind\": \"{kind}\",\n  \"phase\": \"{phase}\",\n  \"rules\": [\n{rules}\n  ]\n}}\n"
    )
}

fn rule(action: &str, expr: &str, params: &str) -> String {
    let params = if params.is_empty() {
        String::new()
    } else {
        format!(", \"action_parameters\": {params}")
    };
    format!(
        "    {{\"id\": \"r1\", \"action\": \"{action}\", \"expression\": {}{params}}}",
        serde_json::to_string(expr).unwrap()
    )
}

/// Runs `check` on a project made of `files`; returns (exit code, stderr).
fn check(files: &[(&str, String)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), SUITE).unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let o = common::bin().arg("check").arg(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).replace(&format!("{}/", dir.path().display()), "");
    (o.status.code(), err)
}

fn expect(files: &[(&str, String)], title: &str, location: &str) {
    let (code, err) = check(files);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("error: {title}")),
        "want `{title}` in:\n{err}"
    );
    assert!(
        err.contains(&format!("--> {location}")),
        "want location {location} in:\n{err}"
    );
}

const FC: &str = "http_request_firewall_custom";

#[test]
fn a_clean_project_passes() {
    let o = common::bin()
        .args(["check", concat!(env!("CARGO_MANIFEST_DIR"), "/suites")])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: 5 suite(s)"));
}

#[test]
fn invalid_json() {
    expect(
        &[(
            "rulesets/a.json",
            "{\n  \"id\": \"x\",\n  \"kind\": zone\n}\n".into(),
        )],
        "invalid JSON: expected value at line 3 column 11",
        "rulesets/a.json:3:11",
    );
}

#[test]
fn not_a_ruleset() {
    expect(
        &[("rulesets/a.json", "{\"id\": \"x\"}".into())],
        "not a ruleset: missing field `kind`",
        "rulesets/a.json",
    );
}

#[test]
fn unknown_kind() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(FC, "zones", &rule("block", "true", "")),
        )],
        "unknown ruleset kind `zones`",
        "rulesets/a.json:4:12",
    );
}

#[test]
fn unknown_phase_with_suggestion() {
    let (code, err) = check(&[(
        "rulesets/a.json",
        ruleset(
            "http_request_firewall_costum",
            "zone",
            &rule("block", "true", ""),
        ),
    )]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown phase `http_request_firewall_costum`")
            && err.contains("did you mean `http_request_firewall_custom`?"),
        "{err}"
    );
    assert!(err.contains("--> rulesets/a.json:5:13"), "{err}");
}

#[test]
fn action_not_allowed_in_phase() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset("http_request_transform", "zone", &rule("block", "true", "")),
        )],
        "in rule `r1`: action `block` is not allowed in phase http_request_transform",
        "rulesets/a.json:7:29",
    );
}

#[test]
fn expression_errors_point_at_the_token_in_the_file() {
    let (code, err) = check(&[(
        "rulesets/a.json",
        ruleset(
            FC,
            "zone",
            &rule(
                "block",
                "http.host eq \"a\" and http.request.uri.pth eq \"/\"",
                "",
            ),
        ),
    )]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: in rule `r1`: unknown field `http.request.uri.pth`"),
        "{err}"
    );
    assert!(err.contains("--> rulesets/a.json:7:75"), "{err}");
    assert!(
        err.contains("did you mean `http.request.uri.path`?"),
        "{err}"
    );
    // The caret sits under the field name in the file's line.
    let mut lines = err.lines().skip_while(|l| !l.starts_with("7 | "));
    let line = lines.next().unwrap_or_default();
    let caret = lines.next().unwrap_or_default();
    let at = caret.find('^').unwrap();
    assert_eq!(&line[at..at + 20], "http.request.uri.pth", "{err}");
}

#[test]
fn missing_expression() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(FC, "zone", "    {\"id\": \"r1\", \"action\": \"block\"}"),
        )],
        "in rule `r1`: no `expression`",
        "rulesets/a.json:7:13",
    );
}

#[test]
fn execute_target_missing() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                "http_request_firewall_managed",
                "zone",
                &rule(
                    "execute",
                    "true",
                    "{\"id\": \"ffffffffffffffffffffffffffffffff\"}",
                ),
            ),
        )],
        "in rule `r1`: execute target `ffffffffffffffffffffffffffffffff` is not in the project",
        "rulesets/a.json:7:13",
    );
}

#[test]
fn unknown_list() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(FC, "zone", &rule("block", "ip.src in $offices", "")),
        )],
        "in rule `r1`: unknown list `$offices`",
        "rulesets/a.json:7:62",
    );
}

#[test]
fn bad_skip_parameters() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                FC,
                "zone",
                &rule("skip", "true", "{\"phases\": [\"http_ratelimits\"]}"),
            ),
        )],
        "in rule `r1`: skip parameter `phases` has the wrong shape",
        "rulesets/a.json:7:13",
    );
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                FC,
                "zone",
                &rule("skip", "true", "{\"rulset\": \"current\"}"),
            ),
        )],
        "in rule `r1`: unknown skip parameter `rulset`",
        "rulesets/a.json:7:13",
    );
}

#[test]
fn bad_block_response() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                FC,
                "zone",
                &rule(
                    "block",
                    "true",
                    "{\"response\": {\"status_code\": 200, \"content\": \"x\", \"content_type\": \"text/plain\"}}",
                ),
            ),
        )],
        "in rule `r1`: block response.status_code must be 400..=499",
        "rulesets/a.json:7:13",
    );
}

#[test]
fn bad_redirect() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                "http_request_dynamic_redirect",
                "zone",
                &rule(
                    "redirect",
                    "true",
                    "{\"from_value\": {\"target_url\": {\"value\": \"https://a/\"}, \"status_code\": 300}}",
                ),
            ),
        )],
        "in rule `r1`: redirect status_code 300 is not one of 301, 302, 303, 307, 308",
        "rulesets/a.json:7:13",
    );
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                "http_request_dynamic_redirect",
                "zone",
                &rule(
                    "redirect",
                    "true",
                    "{\"from_value\": {\"target_url\": {\"expression\": \"concat(http.host\"}}}",
                ),
            ),
        )],
        "in rule `r1` (target_url): expected `,` or `)` in the argument list",
        "rulesets/a.json",
    );
}

#[test]
fn bad_rewrite() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset(
                "http_request_transform",
                "zone",
                &rule("rewrite", "true", "{\"uri\": {\"path\": {}}}"),
            ),
        )],
        "in rule `r1`: rewrite uri.path needs exactly one of value and expression",
        "rulesets/a.json:7:13",
    );
}

#[test]
fn rate_limit_without_ratelimit() {
    expect(
        &[(
            "rulesets/a.json",
            ruleset("http_ratelimit", "zone", &rule("block", "true", "")),
        )],
        "in rule `r1`: a rate limiting rule needs `ratelimit` with `characteristics` and `period`",
        "rulesets/a.json:7:13",
    );
}

#[test]
fn duplicate_entry_points_and_ids() {
    let other = ruleset(FC, "zone", &rule("block", "true", "")).replace(
        "0123456789abcdef0123456789abcdef",
        "fedcba9876543210fedcba9876543210",
    );
    expect(
        &[
            (
                "rulesets/a.json",
                ruleset(FC, "zone", &rule("block", "true", "")),
            ),
            ("rulesets/b.json", other),
        ],
        "a second zone entry point for phase http_request_firewall_custom",
        "rulesets/b.json",
    );
    expect(
        &[
            (
                "rulesets/a.json",
                ruleset(FC, "zone", &rule("block", "true", "")),
            ),
            (
                "rulesets/b.json",
                ruleset(FC, "custom", &rule("block", "true", "")),
            ),
        ],
        "ruleset id `0123456789abcdef0123456789abcdef` is also used by",
        "rulesets/b.json:2:10",
    );
}

#[test]
fn bad_lists() {
    expect(
        &[(
            "lists/a.json",
            "{\"name\": \"Office\", \"kind\": \"ip\", \"items\": []}".into(),
        )],
        "list name `Office` is not valid",
        "lists/a.json:1:11",
    );
    expect(
        &[(
            "lists/a.json",
            "{\"name\": \"office\", \"kind\": \"ip\", \"items\": [{\"ip\": \"10.0.0.0/33\"}]}"
                .into(),
        )],
        "`10.0.0.0/33` is not an IP address or CIDR",
        "lists/a.json:1:52",
    );
    expect(
        &[(
            "lists/a.json",
            "{\"name\": \"office\", \"kind\": \"ips\", \"items\": []}".into(),
        )],
        "unknown list kind `ips`",
        "lists/a.json:1:29",
    );
}

#[test]
fn bad_config() {
    let (code, err) = check(&[("rulegate.yaml", "backend: local\nrulsets: rules\n".into())]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown key `rulsets`")
            && err.contains("did you mean `rulesets`?")
            && err.contains("--> rulegate.yaml:2:1"),
        "{err}"
    );
    let (code, err) = check(&[("rulegate.yaml", "backend: remote\n".into())]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown backend `remote`"), "{err}");
}

#[test]
fn every_error_of_every_file_is_reported() {
    let (code, err) = check(&[
        (
            "rulesets/a.json",
            ruleset(FC, "zone", &rule("block", "http.hots eq \"a\"", "")),
        ),
        (
            "lists/a.json",
            "{\"name\": \"BAD\", \"kind\": \"ip\", \"items\": []}".into(),
        ),
        (
            "broken.yaml",
            "cases:\n  - name: x\n    request: { url: /a }\n    expect: { status: 200 }\n".into(),
        ),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("error: 3 problems found; nothing was run"),
        "{err}"
    );
}

#[test]
fn selectors_that_name_no_rule_are_errors() {
    let rs = ruleset(
        FC,
        "zone",
        "    {\"id\": \"r1\", \"ref\": \"admin-office-only\", \"action\": \"block\", \"expression\": \"true\", \"description\": \"Admin only\"}",
    );
    let suite = "base_url: https://www.example.com\ncases:\n  - name: typo\n    request: { url: / }\n    expect: { not_matched: [admin-ofice-only] }\n  - name: fine\n    request: { url: / }\n    expect: { matched: [r1, admin-office-only, Admin only] }\n";
    let (code, err) = check(&[("rulesets/a.json", rs), ("typo.yaml", suite.into())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("error: case `typo`: `not_matched` names `admin-ofice-only`, which is no rule in the project"), "{err}");
    assert!(
        err.contains("--> typo.yaml:5:29") && err.contains("did you mean `admin-office-only`?"),
        "{err}"
    );
    // The caret stands under the misspelt selector, not under the case.
    assert!(
        err.contains("5 |     expect: { not_matched: [admin-ofice-only] }\n  |                             ^^^^^^^^^^^^^^^^ no such rule"),
        "{err}"
    );
    assert!(err.contains("1 problem found"), "only the typo: {err}");

    // The single-selector form points at its value too.
    let suite = "base_url: https://www.example.com\ncases:\n  - name: one\n    request: { url: / }\n    expect:\n      matched: admin-ofice-only\n";
    let (code, err) = check(&[
        (
            "rulesets/a.json",
            ruleset(
                FC,
                "zone",
                "    {\"id\": \"r1\", \"ref\": \"admin-office-only\", \"action\": \"block\", \"expression\": \"true\"}",
            ),
        ),
        ("one.yaml", suite.into()),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--> one.yaml:6:16"), "{err}");
}

#[test]
fn a_whole_api_envelope_is_accepted() {
    let rs = ruleset(FC, "zone", &rule("block", "true", ""));
    let envelope =
        format!("{{\"success\": true, \"errors\": [], \"messages\": [], \"result\": {rs}}}");
    let (code, err) = check(&[("rulesets/a.json", envelope)]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn functions_must_be_available_in_the_phase() {
    let (code, err) = check(&[(
        "rulesets/a.json",
        ruleset(
            FC,
            "zone",
            &rule(
                "block",
                "regex_replace(http.host, \"a\", \"b\") eq \"x\"",
                "",
            ),
        ),
    )]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("error: in rule `r1`: regex_replace is only allowed in value (rewrite) expressions, not in a filter"), "{err}");
    assert!(err.contains("--> rulesets/a.json:7:52"), "{err}");
    let (code, err) = check(&[(
        "rulesets/a.json",
        ruleset(
            "http_request_transform",
            "zone",
            &rule(
                "rewrite",
                "cidr(ip.src, 24, 64) eq 10.0.0.0",
                "{\"uri\": {\"path\": {\"value\": \"/\"}}}",
            ),
        ),
    )]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cidr is not available in phase http_request_transform"),
        "{err}"
    );
}

#[test]
fn duplicate_rule_ids_and_list_names_are_errors() {
    let rules = format!("{},\n{}", rule("block", "true", ""), rule("log", "ssl", ""));
    expect(
        &[("rulesets/a.json", ruleset(FC, "zone", &rules))],
        "rule id `r1` is used twice in ruleset `0123456789abcdef0123456789abcdef`",
        "rulesets/a.json:8:13",
    );
    let list = "{\"name\": \"office\", \"kind\": \"ip\", \"items\": []}";
    expect(
        &[("lists/a.json", list.into()), ("lists/b.json", list.into())],
        "list `office` is also defined in",
        "lists/b.json:1:11",
    );
}

/// A project whose rulegate.yaml names a rulesets directory that does not exist would run
/// every case against no rules at all: a gate that tests nothing.
#[test]
fn a_named_directory_that_does_not_exist_is_an_error() {
    let (code, err) = check(&[("rulegate.yaml", "rulesets: rules\n".into())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`rulesets: rules` names no directory"),
        "{err}"
    );
    assert!(err.contains("--> rulegate.yaml"), "{err}");
}
