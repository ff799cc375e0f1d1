//! Loader tests: every error with its line:col, merging, variables, names.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::diag::Diagnostic;

fn vars() -> Vars {
    Vars::new(
        BTreeMap::from([("ZONE".to_string(), "shop.example.com".to_string())]),
        false,
    )
}

fn load(text: &str) -> Result<Suite, Vec<Diagnostic>> {
    load_source(Path::new("s.yaml"), "dir/s", text, &vars())
}

/// The single error of `text`: (title, "line:col", hint).
fn error(text: &str) -> (String, String, String) {
    let diags = load(text).expect_err("expected an error");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    let at = d
        .pos
        .map(|p| format!("{}:{}", p.line, p.col))
        .unwrap_or_default();
    (d.title.clone(), at, d.hint.clone().unwrap_or_default())
}

const HEAD: &str = "base_url: https://shop.example.com\ncases:\n  - name: a\n";

#[test]
fn a_full_case_builds() {
    let s = load(
        "name: Shop\nbase_url: https://${ZONE}\ndefaults:\n  method: POST\n  headers: { User-Agent: ua, x-a: '1' }\n  cookies: { s: '1' }\n  context: { bot_score: 10, geoloc: { iso_code: US, city: Paris } }\n  skip_response: true\ncases:\n  - name: ' first '\n    tags: [smoke]\n    request:\n      url: /p?q=1\n      headers: { user-agent: mine }\n      context: { geoloc: { iso_code: FR } }\n      body: { base64: aGk= }\n      protocol: HTTP/2\n    expect: { status: [200, 403], action: block, matched: r1, not_matched: [r2, r3], trace: [{ type: rule, matched: true }] }\n",
    )
    .unwrap();
    let c = &s.cases[0];
    assert_eq!(c.full_name, "dir/s::first");
    assert_eq!(c.line, 10);
    let r = &c.request;
    assert_eq!(r.method, "POST");
    assert_eq!(r.url, "https://shop.example.com/p?q=1");
    assert_eq!(
        r.headers,
        BTreeMap::from([
            ("user-agent".into(), "mine".into()),
            ("x-a".into(), "1".into())
        ])
    );
    assert_eq!(r.cookies["s"], "1");
    let ctx = r.context.as_ref().unwrap();
    assert_eq!(ctx.bot_score, Some(10));
    let g = ctx.geoloc.as_ref().unwrap();
    assert_eq!(
        (g.iso_code.as_deref(), g.city.as_deref()),
        (Some("FR"), Some("Paris"))
    );
    assert_eq!(r.body.as_ref().unwrap().base64.as_deref(), Some("aGk="));
    assert_eq!(r.protocol.as_deref(), Some("HTTP/2"));
    assert_eq!(r.skip_response, Some(true));
    assert_eq!(c.expect.status, Some(vec![200, 403]));
    assert_eq!(c.expect.matched, ["r1"]);
    assert_eq!(c.expect.not_matched, ["r2", "r3"]);
    assert_eq!(c.expect.trace[0].kind_of_step.as_deref(), Some("rule"));
}

#[test]
fn suite_name_defaults_to_the_file_stem() {
    let s = load(&format!(
        "{HEAD}    request: {{ url: /a }}\n    expect: {{ status: 200 }}\n"
    ))
    .unwrap();
    assert_eq!(s.cases[0].request.method, "GET");
}

#[test]
fn unknown_key_with_did_you_mean() {
    let (t, at, hint) = error(&format!(
        "{HEAD}    request: {{ url: /a }}\n    expct: {{ status: 200 }}\n"
    ));
    assert_eq!((t.as_str(), at.as_str()), ("unknown key `expct`", "5:5"));
    assert!(hint.starts_with("did you mean `expect`?"), "{hint}");
    let (t, at, hint) = error(&format!(
        "{HEAD}    request: {{ url: /a, hedaers: {{}} }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!((t.as_str(), at.as_str()), ("unknown key `hedaers`", "4:25"));
    assert!(hint.starts_with("did you mean `headers`?"), "{hint}");
    let (t, _, hint) = error(&format!(
        "{HEAD}    request: {{ url: /a, context: {{ geoloc: {{ country: FR }} }} }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(t, "unknown key `country`");
    assert!(hint.contains("`iso_code`"), "{hint}");
}

#[test]
fn duplicate_case_names() {
    let diags = load(&format!(
        "{HEAD}    request: {{ url: /a }}\n    expect: {{ status: 200 }}\n  - name: a\n    request: {{ url: /b }}\n    expect: {{ status: 200 }}\n"
    ))
    .unwrap_err();
    assert_eq!(diags[0].title, "duplicate case name `a`");
    assert_eq!(diags[0].location(), "s.yaml:6:11");
    assert_eq!(diags[0].label, "first used on line 3");
}

#[test]
fn relative_url_without_base_url() {
    let (t, at, hint) =
        error("cases:\n  - name: a\n    request: { url: /admin }\n    expect: { status: 200 }\n");
    assert_eq!(
        (t.as_str(), at.as_str()),
        (
            "relative url `/admin` but the suite has no `base_url`",
            "3:21"
        )
    );
    assert!(hint.contains("base_url"), "{hint}");
}

#[test]
fn more_than_one_body_form() {
    let (t, at, _) = error(&format!(
        "{HEAD}    request: {{ url: /a, body: {{ plain_text: x, base64: eA== }} }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(
        (t.as_str(), at.as_str()),
        ("the body has more than one form", "4:31")
    );
}

#[test]
fn invalid_base64() {
    let (t, at, _) = error(&format!(
        "{HEAD}    request: {{ url: /a, body: {{ base64: '*not*' }} }}\n    expect: {{ status: 200 }}\n"
    ));
    assert!(t.starts_with("invalid base64"), "{t}");
    assert_eq!(at, "4:41");
}

#[test]
fn bad_method() {
    let (t, at, hint) = error(&format!(
        "{HEAD}    request: {{ url: /a, method: PSOT }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(
        (t.as_str(), at.as_str()),
        ("invalid HTTP method `PSOT`", "4:33")
    );
    assert_eq!(hint, "did you mean `POST`?");
    let (_, _, hint) = error(&format!(
        "{HEAD}    request: {{ url: /a, method: 'G E T' }}\n    expect: {{ status: 200 }}\n"
    ));
    assert!(hint.starts_with("use one of GET"), "{hint}");
}

#[test]
fn unset_variable_names_itself_and_the_place() {
    let diags = load(&format!(
        "{HEAD}    request: {{ url: '/${{NOPE}}/${{ALSO}}' }}\n    expect: {{ status: 200 }}\n"
    ))
    .unwrap_err();
    let titles: Vec<_> = diags
        .iter()
        .map(|d| (d.title.as_str(), d.location()))
        .collect();
    assert_eq!(
        titles,
        [
            ("variable `NOPE` is not set", "s.yaml:4:21".to_string()),
            ("variable `ALSO` is not set", "s.yaml:4:21".to_string())
        ]
    );
    assert_eq!(
        diags[0].hint.as_deref(),
        Some("set the environment variable NOPE or pass --var NOPE=VALUE")
    );
}

#[test]
fn other_value_errors() {
    let cases = [
        (
            "    request: { url: /a, protocol: http/1.1 }\n    expect: { status: 200 }\n",
            "unknown protocol `http/1.1`",
            "4:35",
        ),
        (
            "    request: { url: /a, context: { bot_score: 0 } }\n    expect: { status: 200 }\n",
            "bot_score 0 is out of range",
            "4:47",
        ),
        (
            "    request: { url: /a }\n    expect: { status: 2000 }\n",
            "2000 is not an HTTP status code",
            "5:23",
        ),
        (
            "    request: { url: /a }\n    expect: {}\n",
            "`expect` is empty",
            "5:13",
        ),
        (
            "    request: { url: /a }\n",
            "case `a` has no `expect`",
            "3:11",
        ),
        (
            "    request: { method: GET }\n    expect: { status: 200 }\n",
            "the request has no `url`",
            "4:14",
        ),
        (
            "    request: { url: /a }\n    expect: { action: blok }\n",
            "unknown action `blok`",
            "5:23",
        ),
        (
            "    request: { url: /a }\n    expect: { trace: [{}] }\n",
            "a trace step pattern needs at least one key",
            "5:23",
        ),
        (
            "    request: { url: /a, body: {} }\n    expect: { status: 200 }\n",
            "the body is empty",
            "4:31",
        ),
        (
            "    request: { url: 'ftp://x/a' }\n    expect: { status: 200 }\n",
            "unsupported URL `ftp://x/a`",
            "4:21",
        ),
    ];
    for (tail, title, at) in cases {
        let (t, a, _) = error(&format!("{HEAD}{tail}"));
        assert_eq!((t.as_str(), a.as_str()), (title, at), "for {tail:?}");
    }
}

#[test]
fn yaml_and_type_errors_point_at_the_spot() {
    let (t, at, _) = error("cases:\n  - name: a\n    request: { url: /a\n");
    assert!(!t.is_empty());
    assert!(at.starts_with('3') || at.starts_with('4'), "{at}");
    let (t, at, _) = error(&format!(
        "{HEAD}    request: {{ url: /a }}\n    expect: {{ status: ok }}\n"
    ));
    assert!(t.contains("status code"), "{t}");
    assert_eq!(at, "5:15");
    let (t, at, _) = error("cases: 5\n");
    assert!(t.contains("sequence"), "{t}");
    assert_eq!(at, "1:8");
    let (t, _, _) = error("");
    assert!(
        t.contains("end of input") || t.contains("missing field"),
        "{t}"
    );
}

#[test]
fn no_cases_and_bad_base_url() {
    assert_eq!(error("cases: []\n").0, "the suite has no cases");
    let (t, at, _) = error(
        "base_url: shop.example.com\ncases:\n  - name: a\n    request: { url: 'https://a.example/' }\n    expect: { status: 200 }\n",
    );
    assert!(t.starts_with("base_url is not a URL"), "{t}");
    assert_eq!(at, "1:11");
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let diags = load(&format!(
        "{HEAD}    request: {{ url: /a, method: get }}\n    expect: {{ status: 200 }}\n  - name: b\n    request: {{ url: /b, body: {{ base64: '!' }} }}\n    expect: {{ action: blok }}\n"
    ))
    .unwrap_err();
    assert_eq!(diags.len(), 3, "{diags:#?}");
}

#[test]
fn discovery_is_sorted_skips_config_and_names_by_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    let suite = "base_url: https://a.example\ncases:\n  - name: c\n    request: { url: / }\n    expect: { status: 200 }\n";
    for f in [
        "b.yaml",
        "a/z.yml",
        "a/b.yaml",
        "rulegate.yaml",
        ".hidden/x.yaml",
        "notes.txt",
    ] {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, suite).unwrap();
    }
    let loaded = load_suites(
        &[dir.path().to_path_buf()],
        &vars(),
        Skip {
            dirs: &[],
            files: crate::project::CONFIG_FILES,
            confine: None,
        },
    )
    .unwrap();
    let ids: Vec<_> = loaded.suites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a/b", "a/z", "b"]);
    let missing = load_suites(&[dir.path().join("nope")], &vars(), Skip::default()).unwrap_err();
    assert_eq!(missing.diagnostics[0].title, "no such file or directory");
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    /// Fragments of real suites, so generated text often parses far enough to reach validation.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("cases:\n".to_string()),
            Just("  - name: a\n".to_string()),
            Just("    request: { url: /a, method: GET }\n".to_string()),
            Just("    expect: { status: 200 }\n".to_string()),
            Just("base_url: https://x.example\n".to_string()),
            Just("    body: { json: { a: [1, 2] } }\n".to_string()),
            Just("defaults: { headers: { a: b } }\n".to_string()),
            Just("    expect: { trace: [{ type: rule }], matched: x }\n".to_string()),
            "[ -~\n\t]{0,40}",
            "\\PC{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            let _ = load(&text);
        }

        /// Arbitrary bytes in a suite file (not UTF-8, YAML bombs, duplicate keys): never a
        /// panic, and never the YAML library's own wording.
        #[test]
        fn arbitrary_file_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("s.yaml"), &bytes).unwrap();
            if let Err(report) = load_suites(&[dir.path().to_path_buf()], &vars(), Skip::default()) {
                let text = report.render();
                for leak in ["Option<", "DuplicateKeyPolicy", "budget breached"] {
                    prop_assert!(!text.contains(leak), "{}", text);
                }
            }
        }

        #[test]
        fn suite_shaped_text(parts in proptest::collection::vec(fragment(), 0..12)) {
            let text = parts.concat();
            if let Err(diags) = load(&text) {
                for d in diags {
                    // Rendering against the source never panics either.
                    let _ = d.render(Some(&text));
                }
            }
        }
    }
}

/// A suite whose `fields` expand to 10^8 nodes through aliases.
fn bomb() -> String {
    let mut s = String::from(
        "base_url: https://a.example\ncases:\n  - name: a\n    request: { url: / }\n    expect: { status: 200 }\n    fields:\n      x0: &x0 [a,a,a,a,a,a,a,a,a,a]\n",
    );
    for i in 1..8 {
        let refs = vec![format!("*x{}", i - 1); 10].join(",");
        s.push_str(&format!("      x{i}: &x{i} [{refs}]\n"));
    }
    s
}

#[test]
fn library_wording_is_translated() {
    for (text, want) in [
        ("cases: []\ncases: []\n".to_string(), "duplicate key `cases`"),
        (
            "base_url: https://a.example\ncases:\n  - name:\n    request: { url: / }\n    expect: { status: 200 }\n".to_string(),
            "a value is missing here (null)",
        ),
        (
            bomb(),
            "the YAML document is too large or expands too much through aliases",
        ),
    ] {
        let diags = load(&text).unwrap_err();
        let all: Vec<String> = diags.iter().map(|d| d.title.clone()).collect();
        assert!(all.iter().any(|t| t.contains(want)), "{all:?}");
        for t in &all {
            assert!(
                !t.contains("Option<")
                    && !t.contains("DuplicateKeyPolicy")
                    && !t.contains("budget breached"),
                "{t}"
            );
        }
    }
}

#[test]
fn a_case_with_100000_headers_is_checked_in_linear_time() {
    // Quadratic merging made this take tens of seconds; a timing assertion would be flaky,
    // so this guards the shape: 100,000 headers with a default of the same name in every case.
    let mut text = String::from(
        "base_url: https://a.example\ndefaults: { headers: { X-H0: d } }\ncases:\n  - name: a\n    request:\n      url: /\n      headers:\n",
    );
    for i in 0..100_000 {
        text.push_str(&format!("        x-h{i}: v\n"));
    }
    text.push_str("    expect: { status: 200 }\n");
    let s = load(&text).unwrap();
    let h = &s.cases[0].request.headers;
    assert_eq!(h.len(), 100_000);
    assert_eq!(
        h.get("x-h0").map(String::as_str),
        Some("v"),
        "the case wins over the default"
    );
    assert!(!h.contains_key("X-H0"));
}

#[test]
fn suite_fields_merge_under_case_fields() {
    let s = load(
        "base_url: https://a.example\nfields: { ip.src: 192.0.2.1, ip.src.asnum: 64500 }\ncases:\n  - name: a\n    request: { url: / }\n    fields: { ip.src: 203.0.113.9 }\n    expect: { status: 200 }\n  - name: b\n    request: { url: / }\n    expect: { status: 200 }\n",
    )
    .unwrap();
    let f = |i: usize| serde_json::Value::Object(s.cases[i].extras.fields.clone().unwrap());
    assert_eq!(
        f(0),
        serde_json::json!({"ip.src": "203.0.113.9", "ip.src.asnum": 64500})
    );
    assert_eq!(
        f(1),
        serde_json::json!({"ip.src": "192.0.2.1", "ip.src.asnum": 64500})
    );
    let (t, at, _) = error(
        "base_url: https://a.example\nfields: { ip.srcc: 1 }\ncases:\n  - name: a\n    request: { url: / }\n    expect: { status: 200 }\n",
    );
    assert!(
        t.starts_with("in `fields`: unknown field `ip.srcc` (did you mean `ip.src`?)"),
        "{t}"
    );
    assert_eq!(at, "2:9");
    let (t, _, _) = error(
        "base_url: https://a.example\ncases:\n  - name: a\n    request: { url: / }\n    fields: { ip.src: not-an-ip }\n    expect: { status: 200 }\n",
    );
    assert_eq!(
        t,
        "in `fields`: field `ip.src`: `not-an-ip` is not an IP address"
    );
}

#[test]
fn a_matrix_case_expands_to_one_trial_per_combination() {
    let s = load(
        "base_url: https://${ZONE}\ncases:\n  - name: admin is blocked\n    matrix:\n      path: [/admin, /admin/users]\n      country: [FR, DE, 7]\n      exclude:\n        - { path: /admin/users, country: DE }\n    request:\n      url: ${matrix.path}\n      context: { geoloc: { iso_code: \"${matrix.country}\" } }\n    expect: { status: 403, matched: [\"block ${matrix.country}\"] }\n  - name: plain\n    request: { url: / }\n    expect: { status: 200 }\n",
    )
    .unwrap();
    let names: Vec<&str> = s.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin is blocked [path=/admin, country=FR]",
            "admin is blocked [path=/admin, country=DE]",
            "admin is blocked [path=/admin, country=7]",
            "admin is blocked [path=/admin/users, country=FR]",
            "admin is blocked [path=/admin/users, country=7]",
            "plain",
        ]
    );
    let c = &s.cases[3];
    assert_eq!(
        c.full_name,
        "dir/s::admin is blocked [path=/admin/users, country=FR]"
    );
    assert_eq!(c.request.url, "https://shop.example.com/admin/users");
    let geo = c.request.context.as_ref().unwrap().geoloc.as_ref().unwrap();
    assert_eq!(geo.iso_code.as_deref(), Some("FR"));
    assert_eq!(c.line, 3, "every trial points at the case");
    assert!(format!("{:?}", c.expect).contains("block FR"));
}

#[test]
fn matrix_errors_point_at_the_key() {
    let (title, at, _) = error(&format!(
        "{HEAD}    matrix: {{ path: [] }}\n    request: {{ url: \"${{matrix.path}}\" }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(
        (title.as_str(), at.as_str()),
        ("matrix key `path` has no values", "4:15")
    );
    let (title, _, hint) = error(&format!(
        "{HEAD}    matrix: {{ path: [/a], exclude: [{{ pth: /a }}] }}\n    request: {{ url: \"${{matrix.path}}\" }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(title, "`exclude` names `pth`, which is not a matrix key");
    assert_eq!(hint, "the keys are path");
    let (title, _, _) = error(&format!(
        "{HEAD}    matrix: {{ path: [/a] }}\n    request: {{ url: \"${{matrix.paht}}\" }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(title, "variable `matrix.paht` is not set");
    let (title, _, _) = error(&format!(
        "{HEAD}    request: {{ url: \"${{matrix.path}}\" }}\n    expect: {{ status: 200 }}\n"
    ));
    assert_eq!(
        title, "variable `matrix.path` is not set",
        "outside a matrix"
    );
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let (title, _, _) = error(&format!(
        "{HEAD}    matrix: {{ a: [{0}], b: [{0}] }}\n    request: {{ url: / }}\n    expect: {{ status: 200 }}\n",
        many.join(", ")
    ));
    assert_eq!(title, "the matrix makes more than 1000 trials");
}
