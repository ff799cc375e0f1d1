//! A project as of a git revision, for any command that compares against a baseline: the
//! repository's tree at the revision is written to a temporary directory through a private
//! index (`git read-tree` + `git checkout-index` with `GIT_INDEX_FILE`), so neither the working
//! tree nor the repository's index is touched, and the whole tree is there for Terraform's
//! relative module sources. [`Snapshot::load`] then reads it as [`load_project`] reads the
//! working tree, with the revision's own `rulegate.yaml`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{Project, load_config, load_project_in};
use crate::confine::Confine;
use crate::diag::{Diagnostic, Report};

/// The tree of one revision, checked out for reading; removed when dropped.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The revision as the user named it.
    pub(crate) rev: String,
    /// The commit it names.
    pub(crate) commit: String,
    /// The repository's top level in the working tree.
    toplevel: PathBuf,
    /// The project directory inside the snapshot.
    pub(crate) project_dir: PathBuf,
    /// The project directory relative to the top level.
    prefix: PathBuf,
    /// The snapshot's root (the repository's top level at `rev`).
    root: PathBuf,
    _dir: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) -> Result<Output, Diagnostic> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| {
            Diagnostic::could_not_run(format!("cannot run `git`: {e}"))
                .hint("--baseline reads the rulesets as of a git revision, which needs git on PATH")
        })
}

fn stdout_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .trim_end_matches(['\n', '\r'])
        .to_string()
}

/// Checks out the tree of `rev` of the repository that holds `project_dir`.
pub(crate) fn snapshot(project_dir: &Path, rev: &str) -> Result<Snapshot, Diagnostic> {
    let dir = if project_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project_dir
    };
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !top.status.success() {
        return Err(Diagnostic::usage(format!(
            "--baseline {rev}: {} is not inside a git repository",
            dir.display()
        ))
        .hint(
            "the baseline is the project as of a git revision; run from a clone of the repository",
        ));
    }
    let toplevel = PathBuf::from(stdout_line(&top));
    let prefix = stdout_line(&git(dir, &["rev-parse", "--show-prefix"])?);
    // One commit, named: not an option, a negation (`^HEAD`) or a range (`a..b`).
    if rev.is_empty()
        || rev.starts_with('-')
        || rev.starts_with('^')
        || rev.contains("..")
        || rev.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Diagnostic::usage(format!(
            "--baseline {}: not a revision naming one commit",
            crate::escape::visible(rev)
        ))
        .hint("name a branch, tag or commit (`origin/main`, `HEAD~1`, `v1.2.0`), or `live`"));
    }
    let spec = format!("{rev}^{{commit}}");
    let found = git(dir, &["rev-parse", "--verify", "--quiet", &spec])?;
    let commit = stdout_line(&found);
    let is_commit_id =
        matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if found.status.success() && !is_commit_id {
        return Err(Diagnostic::usage(format!(
            "--baseline {rev}: git does not resolve it to one commit"
        ))
        .hint("name a branch, tag or commit (`origin/main`, `HEAD~1`, `v1.2.0`), or `live`"));
    }
    if !found.status.success() {
        // It may name an object that is no commit: a tree or a blob.
        let kind = git(dir, &["cat-file", "-t", &format!("{rev}^{{}}")])
            .map(|o| stdout_line(&o))
            .unwrap_or_default();
        if matches!(kind.as_str(), "tree" | "blob") {
            return Err(Diagnostic::usage(format!(
                "--baseline {rev}: names a {kind}, not a commit"
            ))
            .hint("the baseline is the project as of a commit: name a branch, tag or commit"));
        }
        let shallow = stdout_line(&git(dir, &["rev-parse", "--is-shallow-repository"])?) == "true";
        // `origin/main` is fetched as `git fetch origin main`.
        let fetch = match rev.split_once('/') {
            Some(("origin", branch)) => format!("git fetch origin {branch}"),
            _ => format!("git fetch origin {rev}"),
        };
        let hint = if shallow {
            format!(
                "this is a shallow clone, which does not hold it: fetch it (`{fetch}`, or `git fetch --deepen=50` for older commits), or check out with full history (actions/checkout: `fetch-depth: 0`)"
            )
        } else {
            format!("fetch it (`{fetch}`), or name a branch, tag or commit that exists here")
        };
        return Err(Diagnostic::usage(format!(
            "--baseline {rev}: no such revision in {}",
            toplevel.display()
        ))
        .hint(hint));
    }
    let tmp = tempfile::Builder::new()
        .prefix("rulegate-baseline-")
        .tempdir()
        .map_err(|e| {
            Diagnostic::could_not_run(format!("cannot create a temporary directory: {e}"))
        })?;
    let root = tmp.path().join("tree");
    let index = tmp.path().join("index");
    let with_index = |args: &[&str]| -> Result<(), Diagnostic> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&toplevel)
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .output()
            .map_err(|e| Diagnostic::could_not_run(format!("cannot run `git`: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Diagnostic::could_not_run(format!(
                "--baseline {rev}: `git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    };
    // Removed on a signal or a closed pipe too, where `tmp`'s destructor would not run.
    crate::exit::register_temp(tmp.path().to_path_buf());
    crate::exit::watch_signals();
    with_index(&["read-tree", &commit])?;
    let prefix_arg = format!("--prefix={}/", root.display());
    with_index(&["checkout-index", "--all", "--force", &prefix_arg])?;
    Ok(Snapshot {
        rev: rev.to_string(),
        commit,
        project_dir: root.join(&prefix),
        prefix: PathBuf::from(&prefix),
        toplevel: toplevel.clone(),
        root,
        _dir: tmp,
    })
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // The TempDir removes the tree; the early-end registry forgets it.
        crate::exit::forget_temp(self._dir.path());
    }
}

impl Snapshot {
    /// The abbreviated commit, for reports.
    pub(crate) fn short(&self) -> &str {
        &self.commit[..self.commit.len().min(12)]
    }

    /// Loads the project at the revision: its `rulegate.yaml` there, with `current`'s values
    /// that come from the command line (`--var`, and `--terraform` mapped into the snapshot
    /// when it points inside the repository). Problems name files as `REV:path`.
    pub(crate) fn load(&self, current: &super::ProjectSource) -> Result<Project, Report> {
        let missing = |what: &str, path: &Path| -> Report {
            let shown = self.display(path);
            Diagnostic::usage(format!(
                "--baseline {}: {what} {} does not exist at that revision",
                self.rev,
                shown.display()
            ))
            .hint("it was added later, or is a submodule or a link the revision does not hold: pick a revision that has it, or run without --baseline")
            .into()
        };
        if !self.project_dir.is_dir() {
            return Err(missing("the project directory", &self.project_dir));
        }
        let config = load_config(&self.project_dir)
            .map_err(|r| self.relabel(r))?
            .config;
        // The command line's Terraform source, at the revision; its variables as typed. Only
        // what the command line named is trusted: the revision's own rulegate.yaml is as
        // confined as the working tree's.
        let source = super::ProjectSource {
            terraform: current.terraform.as_deref().map(|tf| self.map_in(tf)),
            ..current.clone()
        };
        // What the working tree's project reads must be there at the revision too: a missing
        // directory would make the baseline an empty project and every case a change.
        let here = self.toplevel.join(&self.prefix);
        let named = [
            ("the rulesets directory", config.rulesets_dir()),
            ("the lists directory", config.lists_dir()),
        ];
        for (what, rel) in named {
            if here.join(&rel).is_dir() && !self.project_dir.join(&rel).is_dir() {
                return Err(missing(what, &self.project_dir.join(&rel)));
            }
        }
        if let Some(tf) = source.terraform(&config) {
            let at = self.project_dir.join(tf);
            if !at.exists() {
                return Err(missing("the Terraform source", &at));
            }
        }
        let mut confine = Confine::at(&self.root);
        for t in source.trusted() {
            confine.trust(t);
        }
        load_project_in(&self.project_dir, &config, &source, &confine).map_err(|r| self.relabel(r))
    }

    /// A working-tree path's counterpart in the snapshot (unchanged when outside the repo).
    fn map_in(&self, path: &Path) -> PathBuf {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let top = self
            .toplevel
            .canonicalize()
            .unwrap_or_else(|_| self.toplevel.clone());
        match canon.strip_prefix(&top) {
            Ok(rel) => self.root.join(rel),
            Err(_) => path.to_path_buf(),
        }
    }

    /// `REV:path/in/repo` for a path in the snapshot.
    pub(crate) fn display(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(rel) => PathBuf::from(format!("{}:{}", self.rev, rel.display())),
            Err(_) => path.to_path_buf(),
        }
    }

    fn relabel(&self, mut report: Report) -> Report {
        for d in &mut report.diagnostics {
            if let Some(f) = &d.file {
                d.file = Some(self.display(f));
            }
        }
        report.sources = std::mem::take(&mut report.sources)
            .into_iter()
            .map(|(p, t)| (self.display(&p), t))
            .collect();
        report
    }
}
