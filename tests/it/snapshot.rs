//! Snapshots: `snapshot: true` cases against `snapshots/<suite>.snap`, `.snap.new` for
//! review, `rulegate review`, `--accept` and `RULEGATE_UPDATE`, and CI writing nothing.

use std::path::Path;

use crate::common::{bin, copy_dir, junit, outcome, tempdir, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn project() -> tempfile::TempDir {
    let d = tempdir();
    for part in ["rulesets", "lists", "rulegate.yaml"] {
        let from = Path::new(ROOT).join("suites").join(part);
        if from.is_dir() {
            copy_dir(&from, &d.path().join(part));
        } else {
            std::fs::copy(&from, d.path().join(part)).unwrap();
        }
    }
    write(
        d.path(),
        "pages.yaml",
        "name: pages\nbase_url: https://www.example.com\nsnapshot: true\ncases:\n  - name: admin from outside\n    request: { url: /admin/orders }\n    fields: { ip.src: 203.0.113.50 }\n  - name: home\n    request: { url: / }\n  - name: checked the usual way\n    snapshot: false\n    request: { url: / }\n    expect: { status: 200 }\n",
    );
    d
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = bin();
    c.arg("test").arg(dir).args(args).env_remove("CI");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn review(dir: &Path, args: &[&str]) -> std::process::Output {
    bin().arg("review").arg(dir).args(args).output().unwrap()
}

#[test]
fn a_new_snapshot_fails_until_reviewed_then_a_change_fails_with_a_diff() {
    let p = project();
    let d = p.path();
    let snap = d.join("snapshots/pages.snap");
    let pending = d.join("snapshots/pages.snap.new");

    // On CI nothing is written.
    let o = run(d, &[], &[("CI", "true")]);
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    assert!(!pending.exists() && !snap.exists(), "CI wrote a snapshot");

    // Elsewhere the new snapshots wait in .snap.new.
    let xml = d.join("junit.xml");
    let o = run(d, &["--junit", xml.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("snapshot: none yet in"), "{out}");
    assert!(out.contains("checked the usual way ... ok"), "{out}");
    assert!(pending.is_file() && !snap.exists());
    assert_eq!(junit(&xml).case("pages::home").0, "failure");

    // review without a terminal lists them and says so with exit 1.
    let o = review(d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("pages.snap :: admin from outside") && text.contains("+ status: 403"),
        "{text}"
    );
    assert!(text.contains("2 pending"), "{text}");
    let o = review(d, &["--accept"]);
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(snap.is_file() && !pending.exists());
    let o = run(d, &[], &[("CI", "true")]);
    assert!(o.status.success(), "{}", outcome(&o));

    // The behaviour changes (the case now comes from the office): a readable diff.
    let suite = std::fs::read_to_string(d.join("pages.yaml")).unwrap();
    std::fs::write(
        d.join("pages.yaml"),
        suite.replace("203.0.113.50", "192.0.2.44"),
    )
    .unwrap();
    let o = run(d, &[], &[("CI", "true")]);
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("the behaviour differs from"), "{out}");
    assert!(
        out.contains("|- status: 403") && out.contains("|+ status: 200"),
        "{out}"
    );
    assert!(!pending.exists(), "CI wrote nothing");

    // RULEGATE_UPDATE=new accepts only new snapshots: a changed one still fails.
    let o = run(d, &[], &[("RULEGATE_UPDATE", "new")]);
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    assert!(pending.is_file());
    let o = review(d, &["--reject"]);
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(!pending.exists());
    assert!(
        std::fs::read_to_string(&snap)
            .unwrap()
            .contains("status: 403"),
        "rejected"
    );

    // --accept accepts as it goes: the run passes and the snapshot holds the new behaviour.
    let o = run(d, &["--accept"], &[("CI", "true")]);
    assert!(o.status.success(), "{}", outcome(&o));
    let text = std::fs::read_to_string(&snap).unwrap();
    assert!(
        text.contains("=== admin from outside\nstatus: 200"),
        "{text}"
    );
    let o = run(d, &[], &[("CI", "true")]);
    assert!(o.status.success(), "{}", outcome(&o));

    let o = run(d, &[], &[("RULEGATE_UPDATE", "sometimes")]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));

    // A mistyped path is no "nothing pending".
    let o = review(&d.join("suitse"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
}

#[test]
fn a_case_without_expect_needs_a_snapshot() {
    let d = tempdir();
    write(d.path(), "rulegate.yaml", "no_rulesets: true\n");
    write(
        d.path(),
        "s.yaml",
        "cases:\n  - name: bare\n    request: { url: https://a.example/ }\n",
    );
    let o = run(d.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        outcome(&o).contains("or `snapshot: true`"),
        "{}",
        outcome(&o)
    );
}

#[test]
fn a_snapshots_link_out_of_the_project_is_neither_read_nor_written() {
    let p = project();
    let d = p.path();
    let outside = tempdir();
    std::fs::write(
        outside.path().join("pages.snap"),
        "=== home\nstatus: secret\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("snapshots")).unwrap();
    let o = run(d, &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert!(
        outcome(&o).contains("leads outside the repository"),
        "{}",
        outcome(&o)
    );
    assert!(!outcome(&o).contains("secret"));
    assert!(!outside.path().join("pages.snap.new").exists());
}
