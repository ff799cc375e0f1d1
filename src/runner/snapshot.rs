//! Snapshots (insta's model): a `snapshot: true` case is compared with its entry in its suite's
//! snapshot file, `snapshots/<suite file stem>.snap` beside the suite. The entry is the
//! normalized behaviour a baseline comparison compares (status, action, terminating rule,
//! redirect, matched rules; descriptions as comments, which comparisons ignore). A missing or
//! different entry fails the case and, as the update mode allows, is written to a
//! `.snap.new` file for `rulegate review`, or accepted into the `.snap` at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::trace::{Behaviour, TraceView};

const HEADER: &str = "# rulegate snapshots: `rulegate test` compares each `snapshot: true` case of the suite\n# with its entry below; `rulegate review` accepts changes. Written by rulegate: do not edit.\n";

/// What a run may write (`--accept`, `RULEGATE_UPDATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    /// Write every new or changed snapshot into the `.snap` (`--accept`, `always`): the case
    /// passes.
    Always,
    /// Accept snapshots that did not exist; changed ones fail and go to `.snap.new`.
    New,
    /// Fail, and write pending snapshots to `.snap.new` (the default outside CI).
    Auto,
    /// Fail and write nothing (the default when `CI` is set).
    No,
}

impl Update {
    /// `--accept` wins; then `RULEGATE_UPDATE`; then `no` on CI (`CI` set and not `false`),
    /// `auto` elsewhere.
    pub(crate) fn resolve(accept: bool) -> Result<Update, String> {
        if accept {
            return Ok(Update::Always);
        }
        match std::env::var("RULEGATE_UPDATE")
            .ok()
            .as_deref()
            .map(str::trim)
        {
            Some("always") => Ok(Update::Always),
            Some("new") => Ok(Update::New),
            Some("auto") => Ok(Update::Auto),
            Some("no") => Ok(Update::No),
            Some("") | None => {
                let ci =
                    std::env::var("CI").is_ok_and(|v| !v.trim().is_empty() && v.trim() != "false");
                Ok(if ci { Update::No } else { Update::Auto })
            }
            Some(other) => Err(format!(
                "RULEGATE_UPDATE is `{}`; it takes always, new, auto or no",
                crate::escape::visible(other)
            )),
        }
    }
}

/// The snapshot file of a suite file.
pub(crate) fn path_of(suite_file: &Path) -> PathBuf {
    let stem = suite_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    suite_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("snapshots")
        .join(format!("{stem}.snap"))
}

/// The pending file beside a snapshot file.
pub(crate) fn pending_path(snap: &Path) -> PathBuf {
    let mut p = snap.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

/// A case's snapshot text: one `key: value` per line, rules by id with their description as
/// a comment. Secrets are scrubbed (a redirect target could carry one).
pub(crate) fn render(view: &TraceView) -> String {
    let b = Behaviour::of(view);
    let descriptions: BTreeMap<String, String> =
        view.rule_hits()
            .into_iter()
            .filter(|h| h.matched)
            .filter_map(|h| {
                let step = view.steps.iter().find(|s| {
                    s.item.step_name.as_deref() == Some(h.rule.as_str()) && s.matched()
                })?;
                Some((h.rule, step.item.description.clone()?))
            })
            .collect();
    let one = |s: &str| crate::escape::visible(s).into_owned();
    let with_comment = |id: &str| match descriptions.get(id).filter(|d| !d.is_empty()) {
        Some(d) => format!("{}  # {}", one(id), one(d)),
        None => one(id),
    };
    let mut out = String::new();
    match b.status {
        Some(s) => out.push_str(&format!("status: {s}\n")),
        None => out.push_str("status: none\n"),
    }
    out.push_str(&format!("action: {}\n", one(&b.action)));
    if let Some(r) = &b.rule {
        out.push_str(&format!("rule: {}\n", with_comment(r)));
    }
    if let Some(r) = &b.redirect {
        out.push_str(&format!("redirect: {}\n", one(r)));
    }
    if b.matched.is_empty() {
        out.push_str("matched: []\n");
    } else {
        out.push_str("matched:\n");
        for m in &b.matched {
            out.push_str(&format!("- {}\n", with_comment(m)));
        }
    }
    crate::escape::scrub(&out).into_owned()
}

/// The text a comparison sees: comments dropped.
pub(crate) fn normalized(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("  # ").map_or(l, |(head, _)| head).trim_end())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A snapshot file's entries: case name → text.
pub(crate) fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some((n, t)) = current.take() {
                out.insert(n, t);
            }
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, t)) = &mut current
            && !line.is_empty()
        {
            t.push_str(line);
            t.push('\n');
        }
    }
    if let Some((n, t)) = current {
        out.insert(n, t);
    }
    out
}

/// A snapshot file's text for these entries.
pub(crate) fn format(entries: &BTreeMap<String, String>) -> String {
    let mut out = String::from(HEADER);
    for (name, text) in entries {
        out.push_str(&format!("\n=== {name}\n{text}"));
    }
    out
}

pub(crate) fn read(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// Writes `entries` to `path` (removing it when there are none), atomically.
pub(crate) fn write(path: &Path, entries: &BTreeMap<String, String>) -> std::io::Result<()> {
    if entries.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = pending_path(&path.with_extension("tmp"));
    std::fs::write(&tmp, format(entries))?;
    std::fs::rename(&tmp, path)
}

/// The outcome of one snapshot comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    Matches,
    /// Accepted as it is (by the update mode): the case passes.
    Accepted,
    /// No snapshot yet (`None`) or a different one: the case fails.
    Differs(Option<String>),
}

/// Every snapshot a run reads and writes.
#[derive(Debug)]
pub(crate) struct Store {
    update: Update,
    /// Snapshot file → its entries as read before the run.
    existing: BTreeMap<PathBuf, BTreeMap<String, String>>,
    /// Snapshot file → entries to accept, and entries pending review.
    accepted: Mutex<BTreeMap<PathBuf, BTreeMap<String, String>>>,
    pending: Mutex<BTreeMap<PathBuf, BTreeMap<String, String>>>,
}

impl Store {
    /// Reads the snapshot files of `suite_files`; a snapshot file (or its `.new`) that
    /// `confine` refuses (a committed symbolic link out of the repository) is the error.
    pub(crate) fn new(
        update: Update,
        suite_files: impl IntoIterator<Item = PathBuf>,
        confine: &crate::confine::Confine,
    ) -> Result<Store, String> {
        let mut existing = BTreeMap::new();
        for f in suite_files {
            let p = path_of(&f);
            confine.check(&p)?;
            confine.check(&pending_path(&p))?;
            let entries = read(&p);
            existing.insert(p, entries);
        }
        Ok(Store {
            update,
            existing,
            accepted: Mutex::default(),
            pending: Mutex::default(),
        })
    }

    /// Compares `actual` with the snapshot of `case` in `suite_file`'s snapshot file.
    pub(crate) fn check(&self, suite_file: &Path, case: &str, actual: &str) -> Check {
        let path = path_of(suite_file);
        let old = self.existing.get(&path).and_then(|m| m.get(case));
        if old.is_some_and(|o| normalized(o) == normalized(actual)) {
            return Check::Matches;
        }
        let accept = match self.update {
            Update::Always => true,
            Update::New => old.is_none(),
            Update::Auto | Update::No => false,
        };
        let into = if accept {
            Some(&self.accepted)
        } else if self.update != Update::No {
            Some(&self.pending)
        } else {
            None
        };
        if let Some(m) = into {
            m.lock()
                .expect("snapshot lock")
                .entry(path)
                .or_default()
                .insert(case.to_string(), actual.to_string());
        }
        if accept {
            Check::Accepted
        } else {
            Check::Differs(old.cloned())
        }
    }

    /// Writes what the run accepted into the `.snap` files and what is pending into
    /// `.snap.new` files; returns (accepted, pending) counts and the files written.
    pub(crate) fn flush(&self) -> std::io::Result<(usize, usize, Vec<PathBuf>)> {
        let mut written = Vec::new();
        let accepted = self.accepted.lock().expect("snapshot lock");
        let mut n_accepted = 0;
        for (path, entries) in accepted.iter() {
            let mut all = self.existing.get(path).cloned().unwrap_or_default();
            n_accepted += entries.len();
            all.extend(entries.clone());
            write(path, &all)?;
            written.push(path.clone());
        }
        let pending = self.pending.lock().expect("snapshot lock");
        let mut n_pending = 0;
        for (path, entries) in pending.iter() {
            let new = pending_path(path);
            let mut all = read(&new);
            n_pending += entries.len();
            all.extend(entries.clone());
            write(&new, &all)?;
            written.push(new);
        }
        Ok((n_accepted, n_pending, written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_comments_do_not_count() {
        let mut m = BTreeMap::new();
        m.insert(
            "a case".to_string(),
            "status: 403\naction: block\nrule: r1  # Block it\n".to_string(),
        );
        m.insert(
            "b".to_string(),
            "status: 200\naction: none\nmatched: []\n".to_string(),
        );
        assert_eq!(parse(&format(&m)), m);
        assert_eq!(
            normalized("rule: r1  # Block it\n"),
            normalized("rule: r1  # Reworded\n")
        );
        assert_ne!(normalized("rule: r1\n"), normalized("rule: r2\n"));
    }

    #[test]
    fn snapshot_files_sit_beside_the_suite() {
        let p = path_of(Path::new("suites/admin/login.yaml"));
        assert_eq!(p, Path::new("suites/admin/snapshots/login.snap"));
        assert_eq!(
            pending_path(&p),
            Path::new("suites/admin/snapshots/login.snap.new")
        );
    }
}
