//! Finds suite files under the given paths, parses each with spans and turns parse errors into
//! [`Diagnostic`]s. Every file is read and checked before anything runs; all errors of all
//! files are collected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Report, yaml_diagnostic};

use super::build::Builder;
use super::{Suite, Vars};

/// What discovery passes over: directories (relative to a root) that hold other data, and
/// file names that configure a project rather than being suites.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Skip<'a> {
    pub(crate) dirs: &'a [PathBuf],
    pub(crate) files: &'a [&'a str],
    /// Where found files may lead (a committed link may not leave the repository); the paths
    /// given are trusted with what lies under them. `None`: anywhere.
    pub(crate) confine: Option<&'a crate::confine::Confine>,
}

/// Everything the loader read: the suites, and the source text of each file (for rendering).
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub suites: Vec<Suite>,
    pub sources: BTreeMap<PathBuf, String>,
}

/// A suite file found under a root.
struct Found {
    file: PathBuf,
    id: String,
}

/// Loads every `*.yaml` / `*.yml` under `paths`, in a stable (sorted) order. `skip_dirs` are
/// directories (relative to a root) that hold other data and are not searched.
pub(crate) fn load_suites(
    paths: &[PathBuf],
    vars: &Vars,
    skip: Skip<'_>,
) -> Result<Loaded, Report> {
    let mut err = Report::default();
    let mut found = Vec::new();
    for path in paths {
        discover(path, skip, &mut found, &mut err.diagnostics);
    }
    let mut loaded = Loaded::default();
    let mut ids: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut read = Vec::new();
    for f in found {
        if let Some(c) = skip.confine
            && let Err(why) = c.check(&f.file)
        {
            err.diagnostics
                .push(Diagnostic::new(&f.file, None, why).hint(crate::confine::HINT));
            continue;
        }
        if f.id.chars().any(char::is_control) || f.id.starts_with(':') || f.id.contains("::") {
            err.diagnostics.push(
                Diagnostic::new(
                    &f.file,
                    None,
                    format!(
                        "the suite name `{}` (from its file name) holds a control character or `:`-prefix or `::`",
                        crate::escape::visible(&f.id)
                    ),
                )
                .hint("test names are `<path without extension>::<case>` and are printed in logs: rename the file"),
            );
            continue;
        }
        if let Some(first) = ids.get(&f.id) {
            err.diagnostics.push(
                Diagnostic::new(
                    &f.file,
                    None,
                    format!("two suites have the name `{}`", f.id),
                )
                .label(format!("`{}` has it too", first.display()))
                .hint("test names are `<path without extension>::<case>`; rename one file"),
            );
            continue;
        }
        ids.insert(f.id.clone(), f.file.clone());
        match crate::diag::read_text(&f.file) {
            Ok(text) => read.push((f, text)),
            Err(d) => err.diagnostics.push(d),
        }
    }
    let built = parse_all(&read, vars);
    // Full names are results' keys and JUnit's names: two cases may not share one.
    let mut names: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    for ((f, text), result) in read.into_iter().zip(built) {
        match result {
            Ok(suite) => {
                for case in &suite.cases {
                    if let Some((file, line)) = names.get(&case.full_name) {
                        err.diagnostics.push(
                            Diagnostic::new(
                                &suite.file,
                                Some(crate::diag::Pos::new(case.line, 1, 1)),
                                format!(
                                    "the test name `{}` is also the name of a case in {}:{line}",
                                    crate::escape::visible(&case.full_name),
                                    file.display()
                                ),
                            )
                            .hint("test names are `<suite path>::<case name>`; rename the case or the file"),
                        );
                    } else {
                        names.insert(case.full_name.clone(), (suite.file.clone(), case.line));
                    }
                }
                loaded.suites.push(suite);
            }
            Err(diags) => err.diagnostics.extend(diags),
        }
        loaded.sources.insert(f.file, text);
    }
    if err.is_empty() {
        Ok(loaded)
    } else {
        err.sources.extend(loaded.sources);
        Err(err)
    }
}

/// [`load_source`] for every file, spread over the cores (YAML parsing is most of loading a
/// large project); results in the files' order.
fn parse_all(read: &[(Found, String)], vars: &Vars) -> Vec<Result<Suite, Vec<Diagnostic>>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(read.len());
    if threads <= 1 {
        return read
            .iter()
            .map(|(f, text)| load_source(&f.file, &f.id, text, vars))
            .collect();
    }
    let per = read.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = read
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(f, text)| load_source(&f.file, &f.id, text, vars))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic while parsing is a bug; let it surface as one.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Parses and builds one suite from its text. `id` is the trial-name prefix.
pub(crate) fn load_source(
    file: &Path,
    id: &str,
    text: &str,
    vars: &Vars,
) -> Result<Suite, Vec<Diagnostic>> {
    match serde_saphyr::from_str::<super::model::SuiteFile>(text) {
        Ok(model) => {
            let no_cases = model.cases.is_empty();
            let mut b = Builder::new(file, vars);
            match b.suite(model, id) {
                Some(s) if b.diagnostics.is_empty() => Ok(s),
                _ => {
                    // `cases: []` (or none) has no span of its own: point at the key, or at
                    // the file's first line.
                    if no_cases {
                        let at = text
                            .lines()
                            .position(|l| l.starts_with("cases:"))
                            .map_or(1, |i| i + 1);
                        for d in &mut b.diagnostics {
                            if d.pos.is_none() && d.title == "the suite has no cases" {
                                d.pos = Some(crate::diag::Pos::new(at, 1, 6));
                            }
                        }
                    }
                    Err(b.diagnostics)
                }
            }
        }
        Err(e) => Err(vec![yaml_diagnostic(file, &e)]),
    }
}

fn discover(path: &Path, skip: Skip<'_>, out: &mut Vec<Found>, diags: &mut Vec<Diagnostic>) {
    if path.is_file() {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Found {
            file: path.to_path_buf(),
            id: stem,
        });
        return;
    }
    if !path.is_dir() {
        diags.push(
            Diagnostic::new(path, None, "no such file or directory")
                .hint("give a suite file or a directory of suites (default: suites/)"),
        );
        return;
    }
    let mut files = Vec::new();
    walk(path, path, skip, &mut files);
    files.sort();
    let before = out.len();
    for file in files {
        let rel = file.strip_prefix(path).unwrap_or(&file).with_extension("");
        let id = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        out.push(Found { file, id });
    }
    if out.len() == before {
        diags.push(
            Diagnostic::new(path, None, "no suite files found")
                .hint("suites are `*.yaml` or `*.yml` files; see README \"Suite format\""),
        );
    }
}

fn walk(root: &Path, dir: &Path, skip: Skip<'_>, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            if !skip.dirs.iter().any(|s| s == rel) {
                walk(root, &p, skip, out);
            }
        } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && !skip.files.contains(&name.as_str())
        {
            out.push(p);
        }
    }
}
