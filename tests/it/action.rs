//! The GitHub Action (`action.yml`) outside GitHub: its script steps (`action/rulegate.sh`)
//! run as the Action runs them, against a release server on 127.0.0.1 that serves this build
//! of rulegate packed as the release workflow packs it (an archive per target, with a
//! `.sha256` beside it). Needs bash, curl, tar and python3 (every GitHub-hosted runner has
//! them); the test skips with a printed reason where one is missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::common::{copy_dir, git, junit, outcome, serve_app, tempdir, write};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn have_tools() -> bool {
    for tool in ["bash", "curl", "tar", "python3", "git"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("skipped: `{tool}` is not installed (the Action's steps need it)");
            return false;
        }
    }
    true
}

#[derive(Clone, Default)]
struct Release {
    /// path under /releases → body
    files: Arc<HashMap<String, Vec<u8>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

async fn serve_release(State(r): State<Release>, UrlPath(rest): UrlPath<String>) -> Response {
    r.hits.lock().unwrap().push(rest.clone());
    if rest == "latest" {
        return (
            StatusCode::FOUND,
            [(header::LOCATION, "/releases/tag/v9.9.9")],
        )
            .into_response();
    }
    match r.files.get(&rest) {
        Some(body) => (StatusCode::OK, body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts the release server; returns its `/releases` URL.
fn start(release: Release) -> String {
    let app = Router::new()
        .route("/releases/{*rest}", get(serve_release))
        .with_state(release);
    format!("http://{}/releases", serve_app(app))
}

fn target() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-musl"
    } else {
        "x86_64-unknown-linux-musl"
    }
}

/// This build packed as the release workflow packs it: `rulegate-TARGET/rulegate` in a
/// gzipped tarball, and its SHA-256 in `sha256sum` format.
fn pack(dir: &Path) -> (Vec<u8>, String) {
    let name = format!("rulegate-{}", target());
    let inner = dir.join(&name);
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_rulegate"), inner.join("rulegate")).unwrap();
    std::fs::copy(Path::new(ROOT).join("LICENSE"), inner.join("LICENSE")).unwrap();
    let archive = dir.join(format!("{name}.tar.gz"));
    let o = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg(&name)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let bytes = std::fs::read(&archive).unwrap();
    let o = Command::new("sha256sum").arg(&archive).output().unwrap();
    let hash = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    (bytes, format!("{hash} *{name}.tar.gz\n"))
}

fn release(dir: &Path, tamper: bool) -> Release {
    let (mut bytes, sum) = pack(dir);
    if tamper {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
    }
    let archive = format!("rulegate-{}.tar.gz", target());
    let mut files = HashMap::new();
    files.insert("tag/v9.9.9".to_owned(), b"release page".to_vec());
    files.insert(format!("download/v9.9.9/{archive}"), bytes);
    files.insert(
        format!("download/v9.9.9/{archive}.sha256"),
        sum.into_bytes(),
    );
    Release {
        files: Arc::new(files),
        hits: Arc::default(),
    }
}

/// One step of the Action: `action/rulegate.sh STEP` in `cwd` with the runner's variables a
/// GitHub-hosted Linux runner sets, and `env`.
struct Runner {
    home: tempfile::TempDir,
    path: String,
}

impl Runner {
    fn new() -> Runner {
        Runner {
            home: tempdir(),
            path: std::env::var("PATH").unwrap_or_default(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    fn step(
        &self,
        step: &str,
        cwd: &Path,
        env: &[(&str, &str)],
    ) -> (Output, HashMap<String, String>) {
        let outputs = self.file(&format!("output-{step}"));
        let _ = std::fs::remove_file(&outputs);
        std::fs::create_dir_all(self.file("tool-cache")).unwrap();
        std::fs::create_dir_all(self.file("temp")).unwrap();
        // Steps after install see what it added to GITHUB_PATH, as on GitHub.
        let added = std::fs::read_to_string(self.file("path")).unwrap_or_default();
        let mut path = added.lines().rev().collect::<Vec<_>>().join(":");
        if !path.is_empty() {
            path.push(':');
        }
        path.push_str(&self.path);
        let mut cmd = Command::new("bash");
        cmd.arg(Path::new(ROOT).join("action/rulegate.sh"))
            .arg(step)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("GITHUB_ACTIONS", "true")
            .env("RUNNER_OS", "Linux")
            .env(
                "RUNNER_ARCH",
                if cfg!(target_arch = "aarch64") {
                    "ARM64"
                } else {
                    "X64"
                },
            )
            .env("RUNNER_TOOL_CACHE", self.file("tool-cache"))
            .env("RUNNER_TEMP", self.file("temp"))
            .env("GITHUB_OUTPUT", &outputs)
            .env("GITHUB_PATH", self.file("path"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("GITHUB_WORKSPACE", cwd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        let text = std::fs::read_to_string(&outputs).unwrap_or_default();
        let map = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (o, map)
    }

    /// resolve + install, as the Action's first steps; the outputs of resolve.
    fn install(&self, releases: &str, version: &str) -> (Output, HashMap<String, String>) {
        let cwd = self.home.path().to_path_buf();
        let (o, resolved) = self.step(
            "resolve",
            &cwd,
            &[
                ("INPUT_VERSION", version),
                ("RULEGATE_RELEASES_URL", releases),
            ],
        );
        assert!(o.status.success(), "resolve: {}", outcome(&o));
        let (o, _) = self.step(
            "install",
            &cwd,
            &[
                ("RULEGATE_RELEASES_URL", releases),
                ("RULEGATE_TAG", &resolved["tag"]),
                ("RULEGATE_ARCHIVE", &resolved["archive"]),
                ("RULEGATE_DIR", &resolved["dir"]),
            ],
        );
        (o, resolved)
    }
}

/// A repository with the example project (suites/) committed on main.
fn example_repo() -> tempfile::TempDir {
    let repo = tempdir();
    copy_dir(&Path::new(ROOT).join("suites"), &repo.path().join("suites"));
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "rules"]);
    repo
}

#[test]
fn the_action_installs_the_release_verified_and_runs_the_suites() {
    if !have_tools() {
        return;
    }
    let packs = tempdir();
    let rel = release(packs.path(), false);
    let hits = rel.hits.clone();
    let releases = start(rel);
    let runner = Runner::new();

    let (o, resolved) = runner.install(&releases, "latest");
    assert!(o.status.success(), "install: {}", outcome(&o));
    assert_eq!(resolved["version"], "9.9.9");
    assert_eq!(resolved["target"], target());
    let dir = PathBuf::from(&resolved["dir"]);
    assert!(dir.join("rulegate").is_file());
    let added = std::fs::read_to_string(runner.file("path")).unwrap();
    assert_eq!(added.trim(), dir.to_str().unwrap());
    assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));

    // A second run finds the verified binary (the Action's cache restores the directory).
    let before = hits.lock().unwrap().len();
    let (o, _) = runner.install(&releases, "9.9.9");
    assert!(o.status.success(), "{}", outcome(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("from the cache"));
    assert_eq!(
        hits.lock().unwrap().len(),
        before,
        "no download on a cache hit"
    );

    // The test step on the example project, as a pull request into main.
    let repo = example_repo();
    let (o, out) = runner.step(
        "run",
        repo.path(),
        &[
            ("INPUT_PATH", "suites"),
            ("INPUT_BASELINE", "main"),
            ("INPUT_REQUIRE_COVERAGE", "50%"),
        ],
    );
    assert!(o.status.success(), "run: {}", outcome(&o));
    assert_eq!(out["verdict"], "passed");
    assert_eq!(out["exit-code"], "0");
    assert_eq!(out["failed"], "0");
    assert_eq!(out["errors"], "0");
    assert_eq!(out["changes"], "0");
    let tests: usize = out["tests"].parse().unwrap();
    let passed: usize = out["passed"].parse().unwrap();
    let skipped: usize = out["skipped"].parse().unwrap();
    assert!(tests >= 40 && passed + skipped == tests, "{out:?}");
    let reports = PathBuf::from(&out["reports"]);
    let report = junit(&reports.join("junit.xml"));
    assert_eq!(report.kinds().len(), tests);
    for f in ["changes.json", "coverage.info", "coverage.xml"] {
        assert!(reports.join(f).is_file(), "{f} written");
    }
    let summary = std::fs::read_to_string(runner.file("summary.md")).unwrap();
    assert!(summary.contains("passed"), "{summary}");
}

#[test]
fn a_tampered_download_is_refused_and_nothing_is_installed() {
    if !have_tools() {
        return;
    }
    let packs = tempdir();
    let releases = start(release(packs.path(), true));
    let runner = Runner::new();
    let (o, resolved) = runner.install(&releases, "v9.9.9");
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("::error") && text.contains("checksum mismatch"),
        "{text}"
    );
    assert!(!Path::new(&resolved["dir"]).join("rulegate").exists());
    assert_eq!(
        std::fs::read_to_string(runner.file("path")).unwrap_or_default(),
        ""
    );

    // An unknown version is a clear error too.
    let (o, _) = runner.install(&releases, "1.2.3");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("could not download"));
}

#[test]
fn the_action_reports_a_failing_case_and_the_behaviour_change_against_the_base_branch() {
    if !have_tools() {
        return;
    }
    let packs = tempdir();
    let releases = start(release(packs.path(), false));
    let runner = Runner::new();
    let (o, _) = runner.install(&releases, "latest");
    assert!(o.status.success(), "{}", outcome(&o));

    // origin has main; the pull request's branch (a shallow clone of it) changes a rule.
    let origin = example_repo();
    let clone = tempdir();
    let o = Command::new("git")
        .args(["clone", "-q", "--depth=1", "--branch", "main"])
        .arg(format!("file://{}", origin.path().display()))
        .arg(clone.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", outcome(&o));
    let pr = clone.path();
    git(pr, &["checkout", "-q", "-b", "feature"]);
    write(
        pr,
        "suites/new.yaml",
        "name: new\ncases:\n  - name: the home page is blocked\n    request: { url: https://example.com/ }\n    expect: { status: 403 }\n",
    );
    git(pr, &["add", "."]);
    git(pr, &["commit", "-q", "-m", "case"]);
    // The clone tracks only main's tip; drop it to show the step fetches the base itself.
    git(pr, &["update-ref", "-d", "refs/remotes/origin/main"]);

    let (o, out) = runner.step(
        "run",
        pr,
        &[
            ("INPUT_PATH", "suites"),
            ("GITHUB_BASE_REF", "main"),
            ("INPUT_ARGS", "--skip managed"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", outcome(&o));
    assert_eq!(out["verdict"], "failed");
    assert_eq!(out["exit-code"], "1");
    assert_eq!(out["failed"], "1");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("--baseline origin/main"), "{stdout}");
    assert!(
        stdout.contains("::error"),
        "an annotation for the failure: {stdout}"
    );
    let reports = PathBuf::from(&out["reports"]);
    let report = junit(&reports.join("junit.xml"));
    assert_eq!(report.case("new::the home page is blocked").0, "failure");
    assert!(
        report.kinds().iter().all(|(n, _)| !n.contains("UNION")),
        "--skip managed from args left the managed cases out"
    );
}

#[test]
fn inputs_are_data_not_shell_code() {
    if !have_tools() {
        return;
    }
    let runner = Runner::new();
    let repo = example_repo();
    let marker = runner.file("pwned");
    let hostile = format!(
        "suites $(touch {0}) `touch {0}`; touch {0}",
        marker.display()
    );
    let exe = env!("CARGO_BIN_EXE_rulegate");
    let (o, out) = runner.step(
        "run",
        repo.path(),
        &[("INPUT_PATH", &hostile), ("RULEGATE_EXE", exe)],
    );
    assert!(!marker.exists(), "an input ran as shell code");
    assert_eq!(o.status.code(), Some(2), "{}", outcome(&o));
    assert_eq!(out["verdict"], "invalid");

    // Arguments over several lines are all passed (none dropped after the first line).
    let (o, out) = runner.step(
        "run",
        repo.path(),
        &[
            ("INPUT_PATH", "suites"),
            ("INPUT_ARGS", "--skip managed\n--tag no-such-tag"),
            ("RULEGATE_EXE", exe),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "the second line's --tag selects nothing: {}",
        outcome(&o)
    );
    assert_eq!(out["verdict"], "invalid");
}
