//! The JSON Schemas in `schema/`: `rulegate schema` prints them, every suite and rulegate.yaml
//! in the repository validates, a misspelt key does not, and at every place where the loader
//! names the keys it allows (its "allowed here" hint) the schema allows exactly those.

use std::path::{Path, PathBuf};

use crate::common::{bin, outcome, tempdir, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn schema(which: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join(format!("schema/{which}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn yaml(path: &Path) -> serde_json::Value {
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            // Ruleset JSON, lists, Terraform and snapshots are not suites.
            if !["rulesets", "lists", "tf", "snapshots"].contains(&e.file_name().to_str().unwrap())
            {
                yaml_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn rulegate_schema_prints_the_shipped_schemas() {
    for which in ["suite", "project"] {
        let o = bin().args(["schema", which]).output().unwrap();
        assert!(o.status.success(), "{}", outcome(&o));
        let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(printed, schema(which));
    }
    let o = bin().args(["schema", "suites"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn every_suite_and_project_file_in_the_repository_validates() {
    let suite = jsonschema::draft7::new(&schema("suite")).unwrap();
    let project = jsonschema::draft7::new(&schema("project")).unwrap();
    let mut files = Vec::new();
    for dir in ["suites", "examples"] {
        yaml_files(&Path::new(ROOT).join(dir), &mut files);
    }
    assert!(files.len() >= 10, "{files:?}");
    for f in &files {
        let v = yaml(f);
        let is_project = f.file_name().is_some_and(|n| n == "rulegate.yaml");
        let validator = if is_project { &project } else { &suite };
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
    // A misspelt key fails, at every level.
    for (bad, what) in [
        (
            "cases:\n  - name: a\n    request: { url: / }\n    expct: { status: 200 }\n",
            "case",
        ),
        (
            "cases:\n  - name: a\n    request: { url: /, heders: {} }\n",
            "request",
        ),
        (
            "cases:\n  - name: a\n    request: { url: / }\n    expect: { stauts: 200 }\n",
            "expect",
        ),
        ("case:\n  - name: a\n", "top level"),
    ] {
        let v: serde_json::Value = serde_saphyr::from_str(bad).unwrap();
        assert!(
            !suite.is_valid(&v),
            "a misspelt key in the {what} validated"
        );
    }
    let v: serde_json::Value = serde_saphyr::from_str("rulesets: r\nbakend: local\n").unwrap();
    assert!(!project.is_valid(&v));
}

/// The keys the loader allows where `bogus` stands in `text`: its "allowed here" hint.
fn allowed(dir: &Path, file: &str, text: &str) -> Vec<String> {
    write(dir, file, text);
    let o = bin().arg("check").arg(dir).output().unwrap();
    std::fs::remove_file(dir.join(file)).unwrap();
    let out = outcome(&o);
    let hint = out
        .lines()
        .find_map(|l| l.split_once("allowed here: ").map(|(_, k)| k.to_string()))
        .unwrap_or_else(|| panic!("no hint for {text}: {out}"));
    let mut keys: Vec<String> = hint
        .split(", ")
        .map(|k| k.trim().trim_matches('`').to_string())
        .collect();
    keys.sort();
    keys
}

fn properties(schema: &serde_json::Value, pointer: &str) -> Vec<String> {
    let mut at = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer}"));
    if let Some(r) = at.get("$ref").and_then(|r| r.as_str()) {
        at = schema.pointer(r.trim_start_matches('#')).unwrap();
    }
    let mut keys: Vec<String> = at["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

#[test]
fn the_schemas_allow_exactly_the_keys_the_loaders_allow() {
    let d = tempdir();
    let dir = d.path();
    let s = schema("suite");
    let case = |extra: &str| {
        format!(
            "cases:\n  - name: a\n    request: {{ url: \"https://a.example/\" }}\n    expect: {{ status: 200 }}\n{extra}"
        )
    };
    let places = [
        ("", "bogus: 1\ncases:\n  - name: a\n    request: { url: \"https://a.example/\" }\n    expect: { status: 200 }\n".to_string()),
        ("/definitions/case", case("    bogus: 1\n")),
        ("/definitions/request", "cases:\n  - name: a\n    request: { url: \"https://a.example/\", bogus: 1 }\n    expect: { status: 200 }\n".to_string()),
        ("/definitions/body", "cases:\n  - name: a\n    request: { url: \"https://a.example/\", body: { bogus: 1 } }\n    expect: { status: 200 }\n".to_string()),
        ("/definitions/context", "cases:\n  - name: a\n    request: { url: \"https://a.example/\", context: { bogus: 1 } }\n    expect: { status: 200 }\n".to_string()),
        ("/definitions/geoloc", "cases:\n  - name: a\n    request: { url: \"https://a.example/\", context: { geoloc: { bogus: 1 } } }\n    expect: { status: 200 }\n".to_string()),
        ("/definitions/expect", "cases:\n  - name: a\n    request: { url: \"https://a.example/\" }\n    expect: { status: 200, bogus: 1 }\n".to_string()),
        ("/definitions/step", "cases:\n  - name: a\n    request: { url: \"https://a.example/\" }\n    expect: { trace: [{ bogus: 1 }] }\n".to_string()),
        ("/definitions/origin", case("    origin: { status: 200, bogus: 1 }\n")),
    ];
    write(dir, "rulegate.yaml", "no_rulesets: true\n");
    for (pointer, text) in &places {
        assert_eq!(
            allowed(dir, "s.yaml", text),
            properties(&s, pointer),
            "the suite schema at {pointer} and the loader disagree"
        );
    }
    let p = schema("project");
    let proj = tempdir();
    for (pointer, text) in [
        ("", "no_rulesets: true\nbogus: 1\n"),
        (
            "/properties/coverage",
            "no_rulesets: true\ncoverage: { bogus: 1 }\n",
        ),
        (
            "/properties/owasp",
            "no_rulesets: true\nowasp: { bogus: 1 }\n",
        ),
    ] {
        assert_eq!(
            allowed(proj.path(), "rulegate.yaml", text),
            properties(&p, pointer),
            "the project schema at {pointer} and the loader disagree"
        );
    }
}
