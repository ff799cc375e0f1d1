//! The ruleset and list loader never panics, whatever the files hold, and speaks the user's
//! language: arbitrary bytes, and valid files with random edits.

use proptest::prelude::*;

use super::{ProjectConfig, load_project};

const RULESET: &str = r#"{
  "id": "z1", "name": "default", "kind": "zone", "phase": "http_request_firewall_custom",
  "rules": [
    {"id": "r1", "action": "block", "expression": "ip.src in $office and http.host eq \"a\"",
     "action_parameters": {"response": {"status_code": 429, "content_type": "text/plain", "content": "x"}}},
    {"id": "r2", "action": "execute", "expression": "true", "action_parameters": {"id": "c1"}},
    {"id": "r3", "action": "skip", "expression": "ssl", "action_parameters": {"ruleset": "current"}}
  ]
}"#;

const CUSTOM: &str = r#"{"id": "c1", "kind": "custom", "rules": [{"id": "x", "action": "log", "expression": "any(http.request.headers.names[*] eq \"x\")"}]}"#;

const LIST: &str =
    r#"{"name": "office", "kind": "ip", "items": [{"ip": "192.0.2.0/24"}, {"ip": "2001:db8::1"}]}"#;

fn load(files: &[(&str, &[u8])]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    if let Err(report) = load_project(dir.path(), &ProjectConfig::default(), &Default::default()) {
        let text = report.render();
        for leak in [
            "Option<",
            "DuplicateKeyPolicy",
            "budget breached",
            "panicked",
        ] {
            assert!(!text.contains(leak), "library wording `{leak}` in:\n{text}");
        }
    }
}

/// `text` with `edits` applied: each (position, byte) overwrites or, past the end, appends.
fn mutate(text: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for &(at, byte) in edits {
        if b.is_empty() {
            b.push(byte);
        } else {
            let i = at % (b.len() + 1);
            if i == b.len() {
                b.push(byte);
            } else if byte % 3 == 0 {
                b.remove(i);
            } else {
                b[i] = byte;
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(a in proptest::collection::vec(any::<u8>(), 0..200), b in proptest::collection::vec(any::<u8>(), 0..200)) {
        load(&[("rulesets/a.json", &a), ("lists/b.json", &b)]);
    }

    #[test]
    fn edited_files_never_panic(
        e1 in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        e2 in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        e3 in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let (r, c, l) = (mutate(RULESET, &e1), mutate(CUSTOM, &e2), mutate(LIST, &e3));
        load(&[("rulesets/z.json", &r), ("rulesets/c.json", &c), ("lists/office.json", &l)]);
    }
}

#[test]
fn the_unedited_files_load() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("rulesets/z.json", RULESET),
        ("rulesets/c.json", CUSTOM),
        ("lists/office.json", LIST),
    ] {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let p = load_project(dir.path(), &ProjectConfig::default(), &Default::default())
        .unwrap_or_else(|r| panic!("{}", r.render()));
    assert_eq!(p.book.rulesets.len(), 2);
}

#[test]
fn type_errors_and_bad_encodings_have_a_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("rulesets")).unwrap();
    std::fs::write(
        dir.path().join("rulesets/a.json"),
        "{\n  \"id\": \"a\",\n  \"kind\": \"zone\",\n  \"rules\": [{\"action\": 5}]\n}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rulesets/b.json"),
        b"{\"id\": \"b\",\n \"name\": \"\xff\"}",
    )
    .unwrap();
    let report =
        load_project(dir.path(), &ProjectConfig::default(), &Default::default()).unwrap_err();
    let locations: Vec<String> = report
        .diagnostics
        .iter()
        .map(crate::diag::Diagnostic::location)
        .collect();
    assert!(
        locations
            .iter()
            .any(|l| l.ends_with("a.json:4:") || l.contains("a.json:4:")),
        "{locations:?}"
    );
    assert!(
        locations.iter().any(|l| l.contains("b.json:2:")),
        "{locations:?}"
    );
}
