//! `rulegate review`: the pending snapshots (`.snap.new` files a run wrote) with their diffs;
//! `--accept` moves them into the `.snap` files, `--reject` drops them, and on a terminal
//! without either it asks per snapshot. Without a terminal it only lists them and exits 1
//! when any are pending (a check for CI).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use super::say;
use crate::cli::ReviewArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::expect::diff;
use crate::runner::snapshot;

/// Every `*.snap.new` under `paths` (hidden directories left out), sorted.
fn pending_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if p.is_file() {
            if p.to_string_lossy().ends_with(".snap.new") {
                out.push(p);
            }
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && !name.starts_with('.') {
                stack.push(e.path());
            } else if ft.is_file() && name.ends_with(".snap.new") {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn snap_of(pending: &Path) -> PathBuf {
    let s = pending.to_string_lossy();
    PathBuf::from(s.strip_suffix(".new").unwrap_or(&s).to_string())
}

fn io(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::could_not_run(format!("cannot write {}: {e}", path.display()))
}

pub(super) fn run(a: &ReviewArgs) -> Result<Exit, Report> {
    if a.accept && a.reject {
        return Err(Diagnostic::usage("--accept and --reject exclude each other").into());
    }
    // A mistyped path must not read as "nothing pending" to a CI check.
    if let Some(missing) = a.paths.iter().find(|p| !p.exists()) {
        return Err(Diagnostic::usage(format!(
            "{} does not exist",
            crate::escape::visible(&missing.display().to_string())
        ))
        .hint("name the suites directory (or a .snap.new file) to review")
        .into());
    }
    let files = pending_files(&a.paths);
    if files.is_empty() {
        say("no pending snapshots\n")?;
        return Ok(Exit::Success);
    }
    let interactive = !a.accept && !a.reject && std::io::stdin().is_terminal();
    let mut stdin = std::io::stdin().lock();
    let (mut accepted, mut rejected, mut left) = (0usize, 0usize, 0usize);
    for pending in &files {
        let snap = snap_of(pending);
        let mut current = snapshot::read(&snap);
        let mut still: BTreeMap<String, String> = BTreeMap::new();
        for (case, new) in snapshot::read(pending) {
            let old = current.get(&case).cloned();
            let mut text = format!(
                "\n{} :: {}\n",
                crate::escape::visible(&snap.display().to_string()),
                crate::escape::visible(&case)
            );
            match &old {
                None => text.push_str("new snapshot:\n"),
                Some(_) => text.push_str("--- snapshot\n+++ pending\n"),
            }
            let body = match &old {
                None => new.lines().map(|l| format!("  + {l}\n")).collect(),
                Some(o) => diff::render(o, &new, false),
            };
            text.push_str(&crate::escape::console(&body));
            say(&text)?;
            let choice = if a.accept {
                'a'
            } else if a.reject {
                'r'
            } else if interactive {
                print!("accept, reject or skip? [a/r/s] ");
                let _ = std::io::stdout().flush();
                let mut line = String::new();
                let _ = stdin.read_line(&mut line);
                line.trim()
                    .chars()
                    .next()
                    .unwrap_or('s')
                    .to_ascii_lowercase()
            } else {
                's'
            };
            match choice {
                'a' => {
                    current.insert(case, new);
                    accepted += 1;
                }
                'r' => rejected += 1,
                _ => {
                    still.insert(case, new);
                    left += 1;
                }
            }
        }
        snapshot::write(&snap, &current).map_err(|e| io(&snap, &e))?;
        snapshot::write(pending, &still).map_err(|e| io(pending, &e))?;
    }
    say(&format!(
        "\n{accepted} accepted, {rejected} rejected, {left} pending\n"
    ))?;
    if left > 0 && !interactive {
        say("`rulegate review --accept` accepts them, `--reject` drops them\n")?;
        return Ok(Exit::Failed);
    }
    Ok(Exit::Success)
}
