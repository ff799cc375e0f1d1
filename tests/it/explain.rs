//! `rulegate explain`: the walk and, offline, each condition's value for the rules that matter;
//! the causes people ask about (a case-sensitive comparison, a skip, an earlier challenge, a
//! list) named in the output; `--json`; the live API's trace-only explanation.

use std::path::Path;

use crate::common::{Serve, bin, outcome, tempdir, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn explain(args: &[&str]) -> String {
    let o = bin()
        .current_dir(ROOT)
        .arg("explain")
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The explained rules after the walk (from the first `  rule `… line).
fn trees(out: &str) -> String {
    out.lines()
        .skip_while(|l| !l.starts_with("  rule `"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The walk's line for the rule described `what`, and the lines under it.
fn walk_entry<'a>(out: &'a str, what: &str) -> Vec<&'a str> {
    let mut lines = out
        .lines()
        .skip_while(|l| !(l.contains(what) && l.trim_start().starts_with('[')));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no walk line for {what}: {out}"));
    let mut v = vec![first];
    v.extend(lines.take_while(|l| !l.trim_start().starts_with('[')));
    v
}

#[test]
fn a_list_hit_explains_why_the_admin_rule_did_not_match() {
    let all = explain(&["suites", "--", "admin from the office is allowed"]);
    assert!(
        all.contains("waf::admin from the office is allowed (suites/waf.yaml:"),
        "{all}"
    );
    let out = trees(&all);
    assert!(
        out.contains("rule `b1702be859e5aa0c91b1953451bd346a` \"Admin only from the office\" (suites/rulesets/zone-http_request_firewall_custom.json:"),
        "{out}"
    );
    assert!(out.contains(") did not match"), "{out}");
    // The deciding operand and the list it used, with the value read.
    let not = out
        .lines()
        .find(|l| l.trim_start().starts_with("not "))
        .unwrap();
    assert!(not.contains("false ←"), "{out}");
    let list = out
        .lines()
        .find(|l| l.contains("ip.src in $office_ips"))
        .unwrap();
    assert!(
        list.contains("true")
            && list.contains("ip.src = \"192.0.2.44\"")
            && list.contains("(list $office_ips: suites/lists/office_ips.json:7: 192.0.2.0/24)"),
        "{list}"
    );
}

#[test]
fn a_skip_and_an_earlier_challenge_leave_rules_unevaluated() {
    // The partner skip: the admin rule is never evaluated; the walk names the skip rule for
    // the rest of the ruleset and for the rate limiting phase it skipped.
    let all = explain(&["suites", "--", "partners skip the custom rules"]);
    assert!(
        all.starts_with("waf::partners skip the custom rules (suites/waf.yaml:"),
        "{all}"
    );
    let skipped = walk_entry(&all, "Admin only from the office");
    assert!(skipped[0].trim_start().starts_with("[-] block"), "{all}");
    assert_eq!(
        skipped[1].trim(),
        "not evaluated: the skip rule `789219fa32d8c035404ab4f14e1b1367` (suites/rulesets/zone-http_request_firewall_custom.json:11) skipped the rest of this ruleset",
        "{all}"
    );
    let ratelimit = walk_entry(
        &all,
        "ruleset default (zone d24b68d26a82cd2db27a4959048b2622)",
    );
    assert!(ratelimit[0].trim_start().starts_with("[-]"), "{all}");
    assert_eq!(
        ratelimit[1].trim(),
        "not entered: the skip rule `789219fa32d8c035404ab4f14e1b1367` (suites/rulesets/zone-http_request_firewall_custom.json:11) skipped phase http_ratelimit",
        "{all}"
    );
    let out = trees(&all);
    let admin = out
        .lines()
        .find(|l| l.contains("\"Admin only from the office\""))
        .unwrap();
    assert!(
        admin.contains("was not evaluated: the skip rule `789219fa32d8c035404ab4f14e1b1367` (suites/rulesets/zone-http_request_firewall_custom.json:11) skipped the rest of this ruleset"),
        "{out}"
    );
    let skip = out
        .lines()
        .find(|l| l.contains("Partners skip") && l.contains("rule `"))
        .unwrap();
    assert!(skip.ends_with("matched"), "{out}");
    // The list item that matched, with its line: 64501, not 64500 above it.
    assert!(
        out.contains(
            "ip.src.asnum = 64501 (list $partner_asns: suites/lists/partner_asns.json:11: 64501)"
        ),
        "{out}"
    );

    // A block the case expects never happened: the bot's managed challenge ended the request
    // first, so the block rule (later in the phase) was never evaluated.
    let d = tempdir();
    crate::common::copy_dir(&Path::new(ROOT).join("suites"), &d.path().join("suites"));
    write(
        &d.path().join("suites"),
        "why.yaml",
        "base_url: https://www.example.com\ncases:\n  - name: traversal from a bot is blocked\n    request: { method: POST, url: \"/login?f=../../etc/passwd\", context: { bot_score: 4 } }\n    expect: { action: block, matched: [\"Path traversal\"] }\n",
    );
    let o = bin()
        .current_dir(d.path())
        .args(["explain", "suites", "--", "traversal from a bot"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let all = String::from_utf8_lossy(&o.stdout);
    assert!(all.contains("action managed_challenge by rule"), "{all}");
    let challenge = walk_entry(&all, "Challenge likely bots on login");
    assert!(
        challenge[0]
            .trim_start()
            .starts_with("[x] managed_challenge")
            && challenge[0].ends_with("← ended the request"),
        "{all}"
    );
    let traversal = walk_entry(&all, "Path traversal");
    assert!(traversal[0].trim_start().starts_with("[-] block"), "{all}");
    // Later phases did not run, for the same reason.
    let managed = walk_entry(&all, "phase http_request_firewall_managed");
    assert!(managed[0].trim_start().starts_with("[-]"), "{all}");
    let out = trees(&all);
    let ended = out
        .lines()
        .find(|l| l.contains("\"Challenge likely bots on login\"") && l.contains("rule `"))
        .unwrap();
    assert!(ended.ends_with("matched"), "{out}");
    let traversal = out
        .lines()
        .find(|l| l.contains("\"Path traversal\""))
        .unwrap();
    assert!(
        traversal.contains(
            "was not evaluated: the request ended at rule `dc1afb4a32c85b3767c24a534a0e4624`"
        ),
        "{out}"
    );

    // A managed rule the case expects, disabled by the execute rule's override.
    let upload = concat!(
        "--b0undary\\r\\nContent-Disposition: form-data; name=\\\"f\\\"; ",
        "filename=\\\"shell.php\\\"\\r\\n\\r\\n<?php system($_GET['c']); ?>\\r\\n--b0undary--\\r\\n"
    );
    write(
        &d.path().join("suites"),
        "shell.yaml",
        &format!(
            "base_url: https://www.example.com\ncases:\n  - name: web shells are blocked\n    request:\n      method: POST\n      url: /upload\n      headers: {{ content-type: \"multipart/form-data; boundary=b0undary\" }}\n      body: {{ plain_text: \"{upload}\" }}\n    expect: {{ action: block, matched: [Web shell upload] }}\n"
        ),
    );
    let o = bin()
        .current_dir(d.path())
        .args(["explain", "suites", "--", "web shells are blocked"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let all = String::from_utf8_lossy(&o.stdout);
    let walked = walk_entry(&all, "Web shell upload");
    assert!(walked[0].trim_start().starts_with("[-] block"), "{all}");
    assert!(
        walked[1].trim().starts_with("not evaluated: disabled by the override in the execute rule `e276e7403248c3418d3c12c43ac988fb` (suites/rulesets/zone-http_request_firewall_managed.json:"),
        "{all}"
    );
    let out = trees(&all);
    let shell = out
        .lines()
        .find(|l| l.contains("\"Web shell upload\"") && l.contains("rule `"))
        .unwrap();
    assert!(
        shell.contains("was not evaluated: disabled by the override in the execute rule `"),
        "{out}"
    );
}

#[test]
fn an_override_that_changed_an_action_is_named_where_it_applied() {
    let all = explain(&["suites", "--", "the wordpress category override"]);
    let rule = walk_entry(&all, "WordPress - xmlrpc.php");
    assert!(
        rule[0].trim_start().starts_with("[x] block") && rule[0].ends_with("← ended the request"),
        "{all}"
    );
    assert!(
        rule[1].trim().starts_with("changed: action log → block by the override in the execute rule `e276e7403248c3418d3c12c43ac988fb` (suites/rulesets/zone-http_request_firewall_managed.json:"),
        "{all}"
    );
    // Only the rule that ended the request says so, not the execute rule around it.
    let execute = walk_entry(&all, "Cloudflare Managed Ruleset  (line");
    assert!(!execute[0].contains("ended the request"), "{all}");
    let tree = trees(&all);
    assert!(
        tree.contains("  changed: action log → block by the override in the execute rule `e276e7403248c3418d3c12c43ac988fb`"),
        "{tree}"
    );
}

#[test]
fn a_rule_after_a_transform_reads_the_rewritten_request() {
    // The case asks for /legacy/admin/orders; the transform phase strips /legacy, so the admin
    // rule read /admin/orders, and the transform rule itself read the path as it arrived.
    let out = trees(&explain(&[
        "suites",
        "--",
        "a rewritten legacy admin URL meets the admin rule",
    ]));
    let admin = out
        .split("\n  rule `")
        .find(|r| r.contains("\"Admin only from the office\""))
        .unwrap();
    assert!(
        admin.contains("http.request.uri.path = \"/admin/orders\""),
        "{out}"
    );
    let strip = out
        .split("\n  rule `")
        .find(|r| r.contains("\"Strip the /legacy prefix\""))
        .unwrap();
    assert!(
        strip.contains("http.request.uri.path = \"/legacy/admin/orders\""),
        "{out}"
    );
}

#[test]
fn a_case_sensitive_comparison_shows_the_value_it_read() {
    let d = tempdir();
    write(
        d.path(),
        "rulesets/z.json",
        r#"{"id": "z", "kind": "zone", "phase": "http_request_firewall_custom", "rules": [
            {"id": "admin", "ref": "admin", "action": "block", "description": "Block admin",
             "expression": "http.request.uri.path eq \"/admin\" and http.request.method eq \"GET\""}]}"#,
    );
    let dir = d.path().to_str().unwrap();
    let out = explain(&[dir, "--url", "https://a.example/Admin"]);
    assert!(out.contains("rule `admin` \"Block admin\""), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("http.request.uri.path eq \"/admin\""))
        .unwrap();
    assert!(
        line.contains("false ←") && line.contains("= \"/Admin\""),
        "{line}"
    );

    // The same as JSON.
    let json = explain(&[dir, "--url", "https://a.example/Admin", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["backend"], "local");
    assert_eq!(v["explanations"][0]["action"], "none");
    // Nothing ended the request and nothing is named: every evaluated rule is explained.
    assert_eq!(v["explanations"][0]["rules"][0]["id"], "admin");
    assert_eq!(v["explanations"][0]["rules"][0]["evaluated"], true);
    let tree = &v["explanations"][0]["rules"][0]["tree"];
    assert_eq!(tree["text"], "and");
    assert_eq!(tree["value"], false);
    assert_eq!(tree["children"][0]["decided"], true);
    assert_eq!(tree["children"][0]["reads"][0][1], "\"/Admin\"");
}

#[test]
fn against_the_live_api_only_the_trace_is_explained() {
    let serve = Serve::start(&Path::new(ROOT).join("suites"), &[]);
    let o = bin()
        .current_dir(ROOT)
        .args([
            "explain",
            "suites",
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
        ])
        .args(["--account-id", "01a7362d577a6c3019a474fd6f485823"])
        .args(["--", "admin from outside the office is blocked"])
        .env("CLOUDFLARE_API_TOKEN", "t")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("status 403, action block"), "{out}");
    assert!(out.contains("needs the local engine"), "{out}");
}

#[test]
fn a_filter_that_matches_nothing_is_an_error() {
    let o = bin()
        .current_dir(ROOT)
        .args(["explain", "suites", "--", "no such case"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
}

#[test]
fn a_failing_case_ends_with_why_unless_told_not_to() {
    let d = tempdir();
    let xml = d.path().join("junit.xml");
    let o = bin()
        .current_dir(ROOT)
        .args(["test", "examples/demo", "--junit"])
        .arg(&xml)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("\nwhy:\nrule `b1702be859e5aa0c91b1953451bd346a`"),
        "{out}"
    );
    assert!(
        out.contains(
            "ip.src in $office_ips                            false    ip.src = \"198.51.100.7\""
        ),
        "{out}"
    );
    let report = crate::common::junit(&xml);
    let (kind, body) = report.case("demo::the office VPN reaches the admin pages");
    assert_eq!(kind, "failure");
    assert!(
        body.contains("why:") && body.contains("(list $office_ips)"),
        "{body}"
    );

    let o = bin()
        .current_dir(ROOT)
        .args(["test", "examples/demo", "--explain", "never"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("why:"));
}

#[test]
fn explain_json_follows_its_schema() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("schema/explain.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v = jsonschema::draft7::new(&schema).unwrap();
    for args in [
        vec!["suites", "--json", "--", "admin from"],
        vec!["suites", "--json", "--all", "--", "a bot posting"],
    ] {
        let out = explain(&args);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!doc["explanations"].as_array().unwrap().is_empty());
        // The walk: every phase with an entry point, and why one did not run.
        let walk = &doc["explanations"][0]["walk"];
        let phases = walk["phases"].as_array().unwrap();
        assert!(phases.len() >= 5, "{walk}");
        assert!(
            phases
                .iter()
                .filter(|p| p["ran"] == false)
                .all(|p| p["why_not"].is_string()),
            "{walk}"
        );
    }
}

#[test]
fn a_matched_rule_that_did_not_end_the_request_says_why() {
    let all = explain(&["suites", "--", "skip_challenge lets the trace continue"]);
    let challenge = walk_entry(&all, "Challenge likely bots on login");
    assert!(
        challenge[0]
            .trim_start()
            .starts_with("[x] managed_challenge")
            && !challenge[0].contains("ended the request"),
        "{all}"
    );
    assert_eq!(
        challenge[1].trim(),
        "note: the request's skip_challenge lets the trace go on past the challenge",
        "{all}"
    );
    let limit = walk_entry(&all, "5 logins per minute per IP");
    assert_eq!(
        limit[1].trim(),
        "note: counted, not applied: one request cannot exceed a rate limit's threshold",
        "{all}"
    );
}

#[test]
fn a_terraform_list_item_is_placed_in_its_tf_file() {
    let all = explain(&["examples/terraform", "--", "admin from the office passes"]);
    assert!(
        all.contains("(list $office_ips: examples/terraform/tf/main.tf:73: 203.0.113.0/24)"),
        "{all}"
    );
    // A local module's files are named without `./`.
    assert!(
        all.contains(") examples/terraform/tf/baseline/main.tf\n"),
        "{all}"
    );
}
