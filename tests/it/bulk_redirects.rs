//! Bulk Redirects offline: a redirect list and an `http_request_redirect` rule that reads it
//! (`from_list`) pass `check`, and cases expecting the redirect's `location` pass `test`, with
//! the documented options (subdomains, subpaths, query string, path suffix, status).

use crate::common;
use std::path::Path;

use serde_json::json;

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn a_bulk_redirects_project_checks_and_its_locations_pass_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let list = json!({"name": "shop_redirects", "kind": "redirect", "items": [
        {"redirect": {"source_url": "shop.example.com/old-sale", "target_url": "https://shop.example.com/sale", "status_code": 302}},
        {"redirect": {"source_url": "example.com/docs", "target_url": "https://docs.example.com", "include_subdomains": true, "subpath_matching": true, "preserve_path_suffix": true, "preserve_query_string": true}},
        {"redirect": {"source_url": "https://blog.example.com/", "target_url": "https://example.com/blog/", "status_code": 308}}
    ]});
    write(d, "lists/redirects.json", &list.to_string());
    let rs = json!({"id": "bulk", "name": "bulk", "kind": "root", "phase": "http_request_redirect", "rules": [
        {"id": "b1", "action": "redirect", "expression": "http.request.full_uri in $shop_redirects",
         "action_parameters": {"from_list": {"name": "shop_redirects", "key": "http.request.full_uri"}}}
    ]});
    write(d, "rulesets/bulk.json", &rs.to_string());
    write(
        d,
        "redirects.yaml",
        r#"base_url: https://shop.example.com
cases:
  - name: an exact source redirects with its status
    request: { url: /old-sale }
    expect: { status: 302, action: redirect, location: "https://shop.example.com/sale", matched: [b1] }
  - name: a subdomain and a subpath keep the suffix and the query
    request: { url: "https://eu.example.com/docs/api/v2?lang=fr" }
    expect: { status: 301, location: "https://docs.example.com/api/v2?lang=fr" }
  - name: the scheme of the source must match
    request: { url: "http://blog.example.com/" }
    expect: { action: none, not_matched: [b1] }
  - name: the https source redirects
    request: { url: "https://blog.example.com/" }
    expect: { status: 308, location: "https://example.com/blog/" }
  - name: a path outside every source is not redirected
    request: { url: /old-sale/more }
    expect: { action: none, status: 200 }
"#,
    );
    let run = |cmd: &str| {
        common::bin()
            .args([cmd, d.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let o = run("check");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run("test");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("5 passed"), "{out}");

    // A from_list that names no redirect list is a check error at the rule.
    let bad = json!({"id": "bulk", "name": "bulk", "kind": "root", "phase": "http_request_redirect", "rules": [
        {"id": "b1", "action": "redirect", "expression": "true",
         "action_parameters": {"from_list": {"name": "shop_redirect"}}}
    ]});
    write(d, "rulesets/bulk.json", &bad.to_string());
    let o = run("check");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("from_list names `shop_redirect`, which is no list in the project"),
        "{err}"
    );
    assert!(err.contains("did you mean `shop_redirects`?"), "{err}");
}
