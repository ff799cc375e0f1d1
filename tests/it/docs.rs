//! The README and the book (`docs/src`) as tests: every fenced block whose info string is
//! `sh run` is run, command by command, with this build of `rulegate` first on `PATH`, and its
//! exit codes checked (0, or the block's `exit=N` for its last command). A ```` ```text output````
//! block right after a run block lists lines its output must contain (`…` stands for any
//! text). Every `sh` block in the README is `run` or `norun` (the README promises that each
//! command it shows is run).
//!
//! Info string: `sh run [exit=N] [fixture=NAME] [needs=crs]`. Fixtures, fresh per file and
//! shared by that file's blocks in order: `example` (the default: a git repository holding
//! copies of `suites/` and `examples/`, committed on `main`), `terraform` (a repository with
//! the Terraform example in `infra/cloudflare`), `empty` (an empty repository).
//! `needs=crs`: skipped with a printed reason when Debian's modsecurity-crs is not installed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{copy_dir, git, outcome, tempdir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[derive(Debug)]
struct Block {
    file: String,
    line: usize,
    info: Vec<String>,
    body: String,
    /// The `text output` block after it, if any.
    output: Option<String>,
}

impl Block {
    fn attr(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    }
    fn has(&self, word: &str) -> bool {
        self.info.iter().any(|w| w == word)
    }
}

/// The fenced blocks of a Markdown file (``` fences, not nested).
fn blocks(file: &str, text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, l)) = lines.next() {
        let Some(info) = l.strip_prefix("```") else {
            continue;
        };
        let info: Vec<String> = info.split_whitespace().map(str::to_string).collect();
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if info.first().map(String::as_str) == Some("text") && info.iter().any(|w| w == "output") {
            if let Some(prev) = out.last_mut() {
                prev.output = Some(body);
            }
            continue;
        }
        out.push(Block {
            file: file.to_string(),
            line: i + 1,
            info,
            body,
            output: None,
        });
    }
    out
}

/// Commands of a block: lines joined at a trailing `\`, comments and blanks left out.
fn commands(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in body.lines() {
        let t = l.trim_end();
        if cur.is_empty() && (t.trim_start().starts_with('#') || t.trim().is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(t);
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let d = dir.path();
    git(d, &["init", "-q"]);
    match name {
        "example" => {
            copy_dir(&Path::new(ROOT).join("suites"), &d.join("suites"));
            copy_dir(&Path::new(ROOT).join("examples"), &d.join("examples"));
        }
        "terraform" => copy_dir(
            &Path::new(ROOT).join("examples/terraform/tf"),
            &d.join("infra/cloudflare"),
        ),
        "empty" => {}
        other => panic!("unknown fixture {other}"),
    }
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "--allow-empty", "-m", "fixture"]);
    dir
}

/// A directory holding `rulegate` (this build), for PATH.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempdir();
    let name = if cfg!(windows) {
        "rulegate.exe"
    } else {
        "rulegate"
    };
    std::fs::copy(env!("CARGO_BIN_EXE_rulegate"), dir.path().join(name)).unwrap();
    dir
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs/src"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn matches_line(haystack: &str, pattern: &str) -> bool {
    // `…` is any text; the parts between must appear in order within one output line.
    haystack.lines().any(|line| {
        let mut rest = line;
        pattern
            .trim_end()
            .split('…')
            .all(|part| match rest.find(part) {
                Some(at) => {
                    rest = &rest[at + part.len()..];
                    true
                }
                None => false,
            })
    })
}

#[test]
fn every_runnable_example_in_the_readme_and_the_book_runs() {
    let bins = bin_dir();
    let path = format!(
        "{}:{}",
        bins.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let crs = Path::new("/usr/share/modsecurity-crs/rules").is_dir();
    let mut ran = 0;
    let mut failures = Vec::new();
    for file in markdown_files() {
        let rel = file.strip_prefix(ROOT).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut fixtures: HashMap<String, tempfile::TempDir> = HashMap::new();
        for b in blocks(&rel, &text) {
            let is_sh = b.info.first().is_some_and(|w| w == "sh" || w == "bash");
            if rel == "README.md" && is_sh {
                assert!(
                    b.has("run") || b.has("norun"),
                    "{}:{}: a README sh block must be `sh run` (run by this test) or `sh norun`",
                    b.file,
                    b.line
                );
            }
            if !is_sh || !b.has("run") {
                continue;
            }
            if b.attr("needs") == Some("crs") && !crs {
                eprintln!(
                    "skipped {}:{}: needs Debian's modsecurity-crs (apt-get install modsecurity-crs)",
                    b.file, b.line
                );
                continue;
            }
            let name = b.attr("fixture").unwrap_or("example").to_string();
            let dir = fixtures
                .entry(name.clone())
                .or_insert_with(|| fixture(&name))
                .path()
                .to_path_buf();
            let cmds = commands(&b.body);
            let want_last: i32 = b.attr("exit").map_or(0, |n| n.parse().unwrap());
            let mut all_output = String::new();
            for (i, cmd) in cmds.iter().enumerate() {
                let want = if i + 1 == cmds.len() { want_last } else { 0 };
                let mut c = Command::new("bash");
                c.args(["-o", "pipefail", "-c", cmd])
                    .current_dir(&dir)
                    .env("PATH", &path);
                for (k, _) in std::env::vars_os() {
                    let k = k.to_string_lossy().into_owned();
                    if ["CLOUDFLARE_", "RULEGATE_", "GITHUB_", "TF_VAR_"]
                        .iter()
                        .any(|p| k.starts_with(p))
                    {
                        c.env_remove(&k);
                    }
                }
                let o = c.output().unwrap();
                ran += 1;
                all_output.push_str(&String::from_utf8_lossy(&o.stdout));
                all_output.push_str(&String::from_utf8_lossy(&o.stderr));
                if o.status.code() != Some(want) {
                    failures.push(format!(
                        "{}:{}: `{cmd}` exited {:?}, expected {want}\n{}",
                        b.file,
                        b.line,
                        o.status.code(),
                        outcome(&o)
                    ));
                }
            }
            if let Some(expected) = &b.output {
                for line in expected.lines().filter(|l| !l.trim().is_empty()) {
                    if !matches_line(&all_output, line) {
                        failures.push(format!(
                            "{}:{}: the output lacks the documented line\n  {line}\nit was:\n{all_output}",
                            b.file, b.line
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 10, "only {ran} documented commands ran");
}

#[test]
fn the_readme_is_short_and_leaves_the_reference_to_the_book() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let n = readme.lines().count();
    assert!(
        n < 250,
        "README.md has {n} lines; the reference belongs in docs/"
    );
    // Every link to a file in the repository points at a file that exists.
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let base = file.parent().unwrap();
        for (i, l) in text.lines().enumerate() {
            let mut rest = l;
            while let Some(at) = rest.find("](") {
                rest = &rest[at + 2..];
                let Some(end) = rest.find(')') else { break };
                let target = &rest[..end];
                rest = &rest[end..];
                if target.contains("://")
                    || target.starts_with('#')
                    || target.starts_with("mailto:")
                {
                    continue;
                }
                let target = target.split('#').next().unwrap();
                assert!(
                    base.join(target).exists(),
                    "{}:{}: link to {target}, which does not exist",
                    file.display(),
                    i + 1
                );
            }
            assert!(
                !l.contains("../shared"),
                "{}:{}: the docs may not send readers outside the repository",
                file.display(),
                i + 1
            );
        }
    }
}

#[test]
fn the_readme_workflow_is_the_one_init_writes_and_the_book_shows() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let documented =
        std::fs::read_to_string(Path::new(ROOT).join("docs/src/ci/github-quickstart.yml")).unwrap();
    let body: String = documented
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let yaml = blocks("README.md", &readme)
        .into_iter()
        .find(|b| b.info.first().is_some_and(|w| w == "yaml") && b.body.contains("uses: rulegate/"))
        .expect("a workflow in the README");
    assert_eq!(yaml.body, body);
}

#[test]
fn every_flag_of_every_command_is_in_the_reference() {
    // The command reference, and the chapters of the commands with many flags (replay).
    let cli: String = markdown_files()
        .iter()
        .filter(|p| p.starts_with(Path::new(ROOT).join("docs")))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let mut missing = Vec::new();
    for cmd in [
        "test",
        "check",
        "eval",
        "trace",
        "serve",
        "pull",
        "replay",
        "init",
        "completions",
        "man",
    ] {
        let o = crate::common::bin().args([cmd, "--help"]).output().unwrap();
        assert!(o.status.success(), "{}", outcome(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        for word in help.split(|c: char| c.is_whitespace() || c == ',') {
            let Some(flag) = word.strip_prefix("--") else {
                continue;
            };
            let flag: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if flag.is_empty() || flag == "help" || flag == "version" {
                continue;
            }
            if !cli.contains(&format!("--{flag}")) {
                missing.push(format!("{cmd} --{flag}"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "the book (docs/src) does not describe: {}",
        missing.join(", ")
    );
}
