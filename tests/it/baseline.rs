//! `rulegate test --baseline`: a git repository built in a temp dir whose last commit changes
//! one rule; the run lists exactly the cases whose behaviour changed, leaves the working tree
//! and index alone, and fails closed on a revision it cannot read. `--baseline live` compares
//! a `rulegate serve` (standing in for what is deployed) with the local candidate.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Serve, bin, copy_dir, git, outcome as text};

const WAF: &str = "project/rulesets/zone-http_request_firewall_custom.json";

/// Turns the login rule's managed challenge into a block.
fn challenge_to_block(root: &Path) {
    let path = root.join(WAF);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rules = v["rules"].as_array_mut().unwrap();
    let login = rules
        .iter_mut()
        .find(|r| r["action"] == "managed_challenge")
        .expect("the example has a managed challenge rule");
    login["action"] = "block".into();
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// A repository holding the example project under `project/`: the first commit as it is, the
/// second with the login rule blocking instead of challenging.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    copy_dir(&src, &dir.path().join("project"));
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "the example project"]);
    challenge_to_block(dir.path());
    git(
        dir.path(),
        &["commit", "-qam", "login: block instead of challenge"],
    );
    dir
}

fn test_in(project: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(project)
        .env_remove("GITHUB_ACTIONS")
        .args(["test", "."])
        .args(args)
        .output()
        .unwrap()
}

fn changes(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const CHANGED: [&str; 2] = [
    "waf::a bot posting to login gets a managed challenge",
    "waf::skip_challenge lets the trace continue past a challenge",
];

#[test]
fn the_last_commit_changes_exactly_the_cases_it_affects() {
    let repo = repo();
    let project = repo.path().join("project");
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("changes.json");
    let status_before = git(repo.path(), &["status", "--porcelain"]);
    let o = test_in(
        &project,
        &["--baseline", "HEAD~1", "--changes", json.to_str().unwrap()],
    );
    // The working tree's expectations still decide: the challenge cases now fail.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("case "))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(table.len(), 2, "{out}");
    for (row, case) in table.iter().zip(CHANGED) {
        let cells: Vec<&str> = row.split(" | ").map(str::trim).collect();
        assert_eq!(cells[0], case, "{out}");
        assert!(cells[1].contains("managed_challenge"), "{row}");
        assert!(cells[2].contains("403 block by"), "{row}");
    }
    let head = git(repo.path(), &["rev-parse", "HEAD~1"]);
    assert!(
        out.contains(&format!(
            "2 of 51 cases change behaviour against HEAD~1 ({}): 2 newly blocked",
            &head.trim()[..12]
        )),
        "{out}"
    );
    let v = changes(&json);
    assert_eq!(v["compared"], 51);
    let listed: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"].as_str().unwrap())
        .collect();
    assert_eq!(listed, CHANGED);
    let first = &v["changes"][0];
    assert_eq!(first["kind"], "newly blocked");
    assert_eq!(first["before"]["action"], "managed_challenge");
    assert_eq!(first["after"]["action"], "block");
    assert_eq!(first["before"]["status"], 403);
    assert!(first["file"].as_str().unwrap().ends_with("waf.yaml"));
    assert!(first["line"].as_u64().unwrap() > 0);
    // Neither the working tree nor the index was touched.
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), status_before);
}

#[test]
fn a_baseline_equal_to_the_tree_changes_nothing() {
    let repo = repo();
    let project = repo.path().join("project");
    let json = repo.path().join("changes.json");
    // Pick the run's own failures out: only compare the passing waf cases.
    let o = test_in(
        &project,
        &["--baseline", "HEAD", "--changes", json.to_str().unwrap()],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("0 of 51 cases change behaviour against HEAD ("),
        "{}",
        text(&o)
    );
    assert!(
        !out.contains("case "),
        "no table when nothing changed: {out}"
    );
    assert_eq!(changes(&json)["changes"], serde_json::json!([]));
}

#[test]
fn a_filter_limits_the_comparison_to_the_selected_cases() {
    let repo = repo();
    let project = repo.path().join("project");
    let o = test_in(
        &project,
        &["--baseline", "HEAD~1", "--", "managed challenge"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 of 1 case changes behaviour against HEAD~1"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_revision_the_clone_lacks_is_a_usage_error_that_says_to_fetch() {
    let repo = repo();
    let shallow = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    let o = Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(shallow.path().join("c"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let project = shallow.path().join("c/project");
    let o = test_in(&project, &["--baseline", "HEAD~1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--baseline HEAD~1: no such revision"), "{err}");
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("fetch"), "{err}");
    assert!(o.stdout.is_empty(), "nothing runs: {}", text(&o));

    let o = test_in(
        &repo.path().join("project"),
        &["--baseline", "no-such-branch"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no such revision"), "{err}");
    assert!(err.contains("git fetch origin no-such-branch"), "{err}");
}

#[test]
fn outside_a_git_repository_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("suites"),
        dir.path(),
    );
    let o = bin()
        .current_dir(dir.path())
        .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
        .args(["test", ".", "--baseline", "main"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not inside a git repository"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_broken_baseline_names_its_file_at_the_revision() {
    let repo = repo();
    std::fs::write(repo.path().join(WAF), "{ not json").unwrap();
    git(repo.path(), &["commit", "-qam", "break it"]);
    // The working tree holds a valid file again; only the baseline (HEAD) is broken.
    git(repo.path(), &["checkout", "-q", "HEAD~1", "--", WAF]);
    let o = test_in(&repo.path().join("project"), &["--baseline", "HEAD"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("baseline HEAD: invalid JSON"), "{err}");
    assert!(err.contains(&format!("HEAD:{WAF}:1:")), "{err}");
}

#[test]
fn baseline_live_compares_what_is_deployed_with_the_candidate() {
    // What is deployed: the first commit, served as the Trace API.
    let repo = repo();
    let deployed = tempfile::tempdir().unwrap();
    let o = Command::new("git")
        .args(["clone", "-q"])
        .arg(repo.path())
        .arg(deployed.path().join("d"))
        .output()
        .unwrap();
    assert!(o.status.success());
    git(&deployed.path().join("d"), &["checkout", "-q", "HEAD~1"]);
    let serve = Serve::start(&deployed.path().join("d/project"), &[]);
    let json: PathBuf = repo.path().join("changes.json");
    let o = bin()
        .current_dir(repo.path().join("project"))
        .env("CLOUDFLARE_API_TOKEN", "test-token")
        .args(["test", ".", "--baseline", "live", "--api-url", &serve.api])
        .args(["--changes", json.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2 of 51 cases change behaviour against the live API: 2 newly blocked"),
        "{}",
        text(&o)
    );
    assert_eq!(changes(&json)["baseline"], "the live API");

    let o = bin()
        .current_dir(repo.path().join("project"))
        .env("CLOUDFLARE_API_TOKEN", "test-token")
        .args(["test", ".", "--baseline", "live", "--backend", "cloudflare"])
        .args(["--api-url", &serve.api])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn behaviour_changes_are_notices_and_a_summary_table() {
    let repo = repo();
    let out_dir = tempfile::tempdir().unwrap();
    let md = out_dir.path().join("summary.md");
    let o = test_in(
        &repo.path().join("project"),
        &[
            "--baseline",
            "HEAD~1",
            "--annotations",
            "github",
            "--summary",
            md.to_str().unwrap(),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let notices: Vec<&str> = out.lines().filter(|l| l.starts_with("::notice ")).collect();
    assert_eq!(notices.len(), 2, "{out}");
    assert!(
        notices[0].starts_with("::notice file=waf.yaml,line="),
        "{}",
        notices[0]
    );
    assert!(notices[0].contains("title=behaviour change (newly blocked)%3A waf%3A%3A"));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("### Behaviour changes"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("| `waf::")).count(),
        2,
        "{text}"
    );
    assert!(text.contains("2 of 51 cases change behaviour against HEAD~1"));
}

#[test]
fn a_terraform_project_is_compared_at_the_revision_too() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/terraform");
    copy_dir(&src, &dir.path().join("shop"));
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "terraform example"]);
    let main = dir.path().join("shop/tf/main.tf");
    let tf = std::fs::read_to_string(&main).unwrap();
    assert!(tf.contains("\"managed_challenge\""));
    std::fs::write(&main, tf.replacen("\"managed_challenge\"", "\"block\"", 1)).unwrap();
    git(dir.path(), &["commit", "-qam", "challenge to block"]);
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("changes.json");
    let o = bin()
        .current_dir(dir.path().join("shop"))
        .env_remove("GITHUB_ACTIONS")
        .args(["test", ".", "--baseline", "HEAD~1", "--changes"])
        .arg(&json)
        .output()
        .unwrap();
    let v = changes(&json);
    let list = v["changes"].as_array().unwrap();
    assert!(!list.is_empty(), "{}", text(&o));
    for c in list {
        assert_eq!(c["before"]["action"], "managed_challenge", "{c}");
        assert_eq!(c["after"]["action"], "block", "{c}");
    }
}

#[test]
fn the_live_api_as_candidate_is_compared_with_the_revision_offline() {
    // Deployed: the second commit (challenge turned to block), served as the Trace API; the
    // baseline is the first commit, evaluated offline.
    let repo = repo();
    let serve = Serve::start(&repo.path().join("project"), &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("changes.json");
    let o = bin()
        .current_dir(repo.path().join("project"))
        .env("CLOUDFLARE_API_TOKEN", "test-token")
        .args([
            "test",
            ".",
            "--backend",
            "cloudflare",
            "--api-url",
            &serve.api,
        ])
        .args(["--baseline", "HEAD~1", "--changes", json.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2 of 51 cases change behaviour against HEAD~1 ("),
        "{}",
        text(&o)
    );
    let listed: Vec<String> = changes(&json)["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, CHANGED);
}

/// The `rulegate-baseline-*` directories in `tmp`.
fn baseline_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("rulegate-baseline-"))
        })
        .collect()
}

#[test]
fn the_baseline_checkout_is_removed_on_a_closed_pipe_and_on_sigint() {
    let repo = repo();
    let project = repo.path().join("project");
    // A closed stdout: the reader is gone before the first line.
    let tmp = tempfile::tempdir().unwrap();
    let mut child = bin()
        .current_dir(&project)
        .env("TMPDIR", tmp.path())
        .args(["test", ".", "--baseline", "HEAD~1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    assert!(
        baseline_dirs(tmp.path()).is_empty(),
        "{:?}",
        baseline_dirs(tmp.path())
    );

    // SIGINT while the run goes on: many slow cases keep it running.
    let tmp = tempfile::tempdir().unwrap();
    let mut yaml = String::from("base_url: https://www.example.com\ncases:\n");
    for i in 0..3000 {
        yaml.push_str(&format!(
            "  - name: c{i}\n    request: {{ url: /p{i} }}\n    expect: {{ status: [200, 403, 429] }}\n"
        ));
    }
    std::fs::write(project.join("many.yaml"), yaml).unwrap();
    let mut child = bin()
        .current_dir(&project)
        .env("TMPDIR", tmp.path())
        .args(["test", ".", "--baseline", "HEAD~1", "--test-threads", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the checkout to exist (bounded), then interrupt.
    let mut seen = false;
    for _ in 0..400 {
        if !baseline_dirs(tmp.path()).is_empty() {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Past the checkout (git writes it in a few milliseconds), into the run.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    if seen && status.code() == Some(130) {
        assert!(
            baseline_dirs(tmp.path()).is_empty(),
            "{:?}",
            baseline_dirs(tmp.path())
        );
    }
    assert!(
        baseline_dirs(tmp.path()).is_empty(),
        "{status:?}: {:?}",
        baseline_dirs(tmp.path())
    );
}

#[test]
fn a_baseline_that_cannot_be_traced_is_could_not_run_everywhere() {
    // The live API as baseline, at an address where nothing listens: every baseline trace
    // fails, while the candidate passes. Exit code, console, annotation and summary agree.
    let repo = repo();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let md = repo.path().join("summary.md");
    let o = bin()
        .current_dir(repo.path().join("project"))
        .env("CLOUDFLARE_API_TOKEN", "test-token")
        .args(["test", ".", "--baseline", "live", "--api-url", &closed])
        .args(["--annotations", "github", "--summary"])
        .arg(&md)
        .args(["--", "managed challenge"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("error: the baseline the live API could not trace 1 case(s)")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l
                .starts_with("::error title=rulegate::the baseline the live API could not trace")),
        "{all}"
    );
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(
        summary.starts_with("## rulegate: could not run"),
        "{summary}"
    );
}
