//! CI-native output: GitHub workflow commands at each failed case's line, within GitHub's
//! per-step limits, and the Markdown job summary; none of it without GitHub's variables or the
//! flags.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::bin;

/// A project with no rulesets: every request is answered 200 by the origin, so a case that
/// expects 403 fails and one that expects 200 passes.
fn project(failing: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("suites")).unwrap();
    let mut yaml = String::from("cases:\n");
    yaml.push_str("  - name: home is open\n    request: { url: \"https://www.example.com/\" }\n    expect: { status: 200 }\n");
    for i in 0..failing {
        yaml.push_str(&format!(
            "  - name: \"admin, part {i}: blocked\"\n    request: {{ url: \"https://www.example.com/admin/{i}\" }}\n    expect: {{ status: 403 }}\n"
        ));
    }
    std::fs::write(dir.path().join("suites/site.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("suites/rulegate.yaml"),
        "no_rulesets: true\n",
    )
    .unwrap();
    dir
}

fn run(dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_WORKSPACE")
        .args(["test", "suites", "--test-threads", "1"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `::error` commands: (file, line, title, message).
fn errors(out: &str) -> Vec<(String, usize, String, String)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("::error "))
        .map(|rest| {
            let (props, message) = rest.split_once("::").unwrap();
            let mut file = String::new();
            let mut line = 0;
            let mut title = String::new();
            for p in props.split(',') {
                let (k, v) = p.split_once('=').unwrap();
                match k {
                    "file" => file = v.to_string(),
                    "line" => line = v.parse().unwrap(),
                    "title" => title = v.to_string(),
                    other => panic!("unexpected property {other}"),
                }
            }
            (file, line, title, message.to_string())
        })
        .collect()
}

#[test]
fn on_github_each_failed_case_is_an_error_at_its_line_and_a_summary_is_written() {
    let dir = project(2);
    let summary = dir.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let o = run(
        dir.path(),
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", &summary),
            ("GITHUB_WORKSPACE", dir.path()),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let errs = errors(&out);
    assert_eq!(errs.len(), 2, "{out}");
    let text = std::fs::read_to_string(dir.path().join("suites/site.yaml")).unwrap();
    for (i, (file, line, title, message)) in errs.iter().enumerate() {
        assert_eq!(file, "suites/site.yaml");
        // The case's own line in its file.
        let at = text.lines().nth(line - 1).unwrap();
        assert!(
            at.contains(&format!("admin, part {i}")),
            "line {line}: {at}"
        );
        // `:` and `,` in a property are escaped; the message is the first mismatch.
        assert_eq!(
            title,
            &format!("rulegate%3A site%3A%3Aadmin%2C part {i}%3A blocked")
        );
        assert_eq!(message, "status: expected 403, got 200");
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n## rulegate: failed"), "{md}");
    assert!(md.contains("| 1 | 2 | 0 | 0 |"), "{md}");
    assert_eq!(md.matches("<details>").count(), 2, "{md}");
    assert!(
        md.contains("+ status: 200"),
        "the diff is in the summary: {md}"
    );
}

#[test]
fn nothing_of_it_appears_off_github() {
    let dir = project(1);
    let o = run(dir.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        !out.lines().any(|l| l.starts_with("::")),
        "no workflow command: {out}"
    );
    assert!(!dir.path().join("suites/summary.md").exists());
    let o = run(
        dir.path(),
        &[("GITHUB_ACTIONS", Path::new("true"))],
        &["--annotations", "none"],
    );
    assert!(!stdout(&o).contains("::error"), "{}", stdout(&o));
}

#[test]
fn the_flags_work_anywhere() {
    let dir = project(1);
    let md = dir.path().join("out/summary.md");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = run(
        dir.path(),
        &[],
        &["--annotations", "github", "--summary", md.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(errors(&stdout(&o)).len(), 1);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("## rulegate: failed"), "{text}");
}

#[test]
fn github_shows_ten_errors_a_step_so_the_rest_are_listed_and_counted() {
    let dir = project(12);
    let o = run(dir.path(), &[("GITHUB_ACTIONS", Path::new("true"))], &[]);
    let out = stdout(&o);
    assert_eq!(errors(&out).len(), 10, "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("error: suites/site.yaml:"))
            .count(),
        2,
        "{out}"
    );
    assert!(out.contains("2 more error(s) not annotated"), "{out}");
}

#[test]
fn the_summary_stays_under_githubs_one_mebibyte() {
    let dir = project(4000);
    let summary = dir.path().join("summary.md");
    let o = run(dir.path(), &[], &["--summary", summary.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.len() < 1024 * 1024, "{} bytes", md.len());
    assert!(md.contains("| 1 | 4000 | 0 | 0 |"));
    let shown = md.matches("<details>").count();
    assert!(shown > 100, "{shown}");
    assert!(
        md.contains(&format!("{} more failure(s) not shown here", 4000 - shown)),
        "{}",
        &md[md.len() - 300..]
    );
}
