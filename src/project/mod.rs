//! A project directory: `rulegate.yaml` ([`config`]), the ruleset and list files it names,
//! read ([`files`]), checked and compiled ([`rulesets`], [`lists`]) into a [`Project`] whose
//! [`Rulebook`] the local engine, `serve` and `check` share; and the checks of suites against
//! the project ([`validate`]); the project as of a git revision ([`baseline`]).

pub(crate) mod baseline;
pub(crate) mod config;
mod files;
mod lists;
pub(crate) mod owasp;
mod rulesets;
mod terraform;
pub(crate) mod validate;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use config::{CONFIG_FILES, ProjectConfig, load_config};

/// What the command line adds to a project's `rulegate.yaml` (which [`ProjectConfig`] holds
/// as read): resolved once by `settings`, read by every loader.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProjectSource {
    /// `--terraform` (absolute): wins over the file's `terraform:`.
    pub(crate) terraform: Option<PathBuf>,
    /// `--var NAME=VALUE`: also the Terraform root module's variables (they win over
    /// `TF_VAR_`, as Terraform's `-var` does).
    pub(crate) vars: BTreeMap<String, String>,
    /// `--var-file` (absolute): Terraform variables files, read after the root module's own.
    pub(crate) var_files: Vec<PathBuf>,
    /// `--crs` / `RULEGATE_CRS` (absolute): the CRS release for the OWASP emulation; wins
    /// over the file's `owasp.crs`.
    pub(crate) crs: Option<PathBuf>,
}

impl ProjectSource {
    /// The Terraform source: the flag's, else the file's (relative to the project).
    pub(crate) fn terraform<'a>(&'a self, config: &'a ProjectConfig) -> Option<&'a Path> {
        self.terraform.as_deref().or(config.terraform.as_deref())
    }

    /// Paths typed on the command line: trusted by the confinement, which keeps every path
    /// the file names inside the repository.
    pub(crate) fn trusted(&self) -> impl Iterator<Item = &Path> {
        self.terraform
            .iter()
            .chain(self.var_files.iter())
            .chain(self.crs.iter())
            .map(PathBuf::as_path)
    }
}

use crate::confine::{self, Confine};
use crate::diag::{Diagnostic, Report};
use crate::escape::visible;
use crate::ruleset::model::{ListFile, Ruleset};
use crate::ruleset::{Level, Rulebook};
use files::FileCtx;

/// A loaded project.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) dir: PathBuf,
    pub(crate) config: ProjectConfig,
    /// The compiled rulesets and lists.
    pub(crate) book: Arc<Rulebook>,
    pub(crate) list_files: Vec<ListFile>,
}

impl Project {
    /// A one-line description of the ruleset source, for reports.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} ruleset(s) and {} list(s) from {}",
            self.book.rulesets.len(),
            self.list_files.len(),
            self.dir.display()
        )
    }
}

/// Loads `dir`'s rulesets and lists per `config`, reporting every problem of every file.
/// A rulesets or lists directory that `rulegate.yaml` names must exist; the default ones may
/// be missing (a live-only project has none).
pub(crate) fn load_project(
    dir: &Path,
    config: &ProjectConfig,
    source: &ProjectSource,
) -> Result<Project, Report> {
    let mut confine = Confine::for_project(dir);
    for t in source.trusted() {
        confine.trust(t);
    }
    load_project_in(dir, config, source, &confine)
}

/// Where `key:` stands in the project's rulegate.yaml, for a diagnostic about its value.
fn config_key(dir: &Path, key: &str, report: &mut Report) -> (PathBuf, Option<crate::diag::Pos>) {
    for name in CONFIG_FILES {
        let path = dir.join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let needle = format!("{key}:");
            let at = text
                .match_indices(&needle)
                .find(|(i, _)| *i == 0 || text.as_bytes()[i - 1] == b'\n')
                .map(|(i, _)| crate::diag::Pos::at(&text, i + needle.len(), 1));
            report.sources.insert(path.clone(), text);
            return (path, at);
        }
    }
    (dir.join(CONFIG_FILES[0]), None)
}

/// [`load_project`] with reads confined by `confine`.
pub(crate) fn load_project_in(
    dir: &Path,
    config: &ProjectConfig,
    source: &ProjectSource,
    confine: &Confine,
) -> Result<Project, Report> {
    let mut report = Report::default();
    // Every path the project names stays inside the repository.
    let mut outside = false;
    for (key, path) in [
        ("rulesets", Some(dir.join(config.rulesets_dir()))),
        ("lists", Some(dir.join(config.lists_dir()))),
        ("terraform", source.terraform(config).map(|t| dir.join(t))),
    ] {
        let Some(path) = path else { continue };
        if let Err(why) = confine.check(&path) {
            let (file, at) = config_key(dir, key, &mut report);
            report.push(Diagnostic::new(&file, at, format!("`{key}:` {why}")).hint(confine::HINT));
            outside = true;
        }
    }
    if outside {
        return Err(report);
    }
    let mut book = Rulebook {
        origin_status: config.origin_status.unwrap_or(200),
        ..Rulebook::default()
    };
    let mut list_files = Vec::new();
    for (key, named, sub) in [
        ("rulesets", config.rulesets.is_some(), config.rulesets_dir()),
        ("lists", config.lists.is_some(), config.lists_dir()),
    ] {
        let path = dir.join(&sub);
        if named && !path.is_dir() {
            report.push(
                Diagnostic::new(
                    &dir.join(CONFIG_FILES[0]),
                    None,
                    format!("`{key}: {}` names no directory ({} does not exist)", sub.display(), path.display()),
                )
                .hint("a project that names a directory must have it: a gate over no rules tests nothing"),
            );
        }
    }

    // Lists first: expressions need them. From list files, then from Terraform.
    let mut list_inputs: Vec<(PathBuf, ListFile)> = Vec::new();
    for path in files::json_files(
        &crate::confine::folded(&dir.join(config.lists_dir())),
        confine,
        &mut report,
    ) {
        let Some(v) = files::read_json(&path, &mut report) else {
            continue;
        };
        match serde_json::from_value::<ListFile>(v) {
            Ok(l) => list_inputs.push((path, l)),
            Err(e) => {
                let pos = positioned::<ListFile>(&report, &path);
                report.push(
                    Diagnostic::new(&path, pos, format!("not a list: {e}"))
                        .hint("a list file is {\"name\", \"kind\": ip|hostname|asn|redirect, \"items\": [...]}"),
                );
            }
        }
    }
    let mut tf_rulesets: Vec<(PathBuf, Ruleset)> = Vec::new();
    if let Some(tf) = source.terraform(config) {
        let path = dir.join(tf);
        if let Some(found) =
            terraform::load(&path, &source.vars, &source.var_files, confine, &mut report)
        {
            for (address, v) in found.lists {
                match serde_json::from_value::<ListFile>(v) {
                    Ok(l) => list_inputs.push((path.clone(), l)),
                    Err(e) => report.push(Diagnostic::new(
                        &path,
                        None,
                        format!("{address}: not a list: {e}"),
                    )),
                }
            }
            tf_rulesets = terraform::select_zone(&path, found.rulesets, config, &mut report);
        }
    }
    let mut list_names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, l) in list_inputs {
        let text = report.sources.get(&path).cloned().unwrap_or_default();
        let mut c = FileCtx {
            file: &path,
            text: &text,
            diags: &mut report.diagnostics,
        };
        if let Some(first) = list_names.get(&l.name) {
            let at = c.find(&l.name, 0).unwrap_or(0);
            c.error(
                at,
                l.name.len(),
                format!("list `{}` is also defined in {}", l.name, first.display()),
            )
            .hint = Some("list names are unique in an account".into());
            continue;
        }
        list_names.insert(l.name.clone(), path.clone());
        if let Some(list) = lists::list_contents(&l, &mut c) {
            book.lists.insert(l.name.clone(), list);
            book.list_sources
                .insert(l.name.clone(), (path.clone(), l.clone()));
        }
        list_files.push(l);
    }

    let mut raw: Vec<(PathBuf, Ruleset)> = Vec::new();
    for path in files::json_files(
        &crate::confine::folded(&dir.join(config.rulesets_dir())),
        confine,
        &mut report,
    ) {
        let Some(v) = files::read_json(&path, &mut report) else {
            continue;
        };
        match serde_json::from_value::<Ruleset>(v) {
            Ok(r) => raw.push((path, r)),
            Err(e) => {
                let pos = positioned::<Ruleset>(&report, &path);
                report.push(
                    Diagnostic::new(&path, pos, format!("not a ruleset: {e}")).hint(
                        "a ruleset is the object GET …/rulesets/{id} returns, or that whole response",
                    ),
                );
            }
        }
    }
    raw.extend(tf_rulesets);
    let ids: HashSet<String> = raw.iter().map(|(_, r)| r.id.clone()).collect();
    // One compiler for the whole project: each distinct regex is built once.
    let compiler = crate::rules::Compiler::new(&book.lists);
    for (path, rs) in raw {
        let text = report.sources.get(&path).cloned().unwrap_or_default();
        let mut c = FileCtx {
            file: &path,
            text: &text,
            diags: &mut report.diagnostics,
        };
        if let Some(first) = book.by_id.get(&rs.id) {
            let other = book.rulesets[*first].file.display().to_string();
            let at = c.find(&rs.id, 0).unwrap_or(0);
            c.error(
                at,
                rs.id.len(),
                format!("ruleset id `{}` is also used by {other}", rs.id),
            );
            continue;
        }
        let compiled =
            rulesets::compile_ruleset(&path, rs, &compiler, &ids, &mut c, &mut book.cost);
        let idx = book.rulesets.len();
        if let (Some(phase), Some(level)) = (
            compiled.ruleset.phase.clone(),
            Level::of_kind(&compiled.ruleset.kind),
        ) {
            let entries = book.entry.entry(level).or_default();
            if let Some(prev) = entries.get(&phase) {
                let other = book.rulesets[*prev].file.display().to_string();
                c.error(
                    0,
                    1,
                    format!(
                        "a second {} entry point for phase {phase} (the first is {other})",
                        compiled.ruleset.kind
                    ),
                )
                .hint = Some("each phase has at most one entry point per level".into());
            } else {
                entries.insert(phase, idx);
            }
        }
        for r in &compiled.rules {
            if let (Some(rf), Some(id)) = (&r.rule.reference, &r.rule.id) {
                // A ref names one rule: a selector or coverage could not tell two apart.
                if let Some(other) = book.refs.get(rf).filter(|o| *o != id) {
                    let at = c.find(rf, 0).unwrap_or(0);
                    c.error(
                        at,
                        rf.chars().count(),
                        format!(
                            "rule ref `{}` is also the ref of rule `{other}`",
                            visible(rf)
                        ),
                    )
                    .hint = Some("refs name one rule across the project: rename one".into());
                    continue;
                }
                book.refs.insert(rf.clone(), id.clone());
            }
        }
        book.by_id.insert(compiled.ruleset.id.clone(), idx);
        book.rulesets.push(compiled);
    }
    rulesets::check_executes(&book, &mut report);
    ref_id_collisions(&book, &mut report);
    owasp::attach(&mut book, dir, config, source, confine, &mut report);
    if !report.is_empty() {
        return Err(report);
    }
    Ok(Project {
        dir: dir.to_path_buf(),
        config: config.clone(),
        book: Arc::new(book),
        list_files,
    })
}

/// A rule's ref that is another rule's id would let a selector (and coverage) take one rule
/// for the other.
fn ref_id_collisions(book: &Rulebook, report: &mut Report) {
    let mut ids: BTreeMap<&str, &Path> = BTreeMap::new();
    for rs in &book.rulesets {
        for r in &rs.rules {
            if let Some(id) = r.rule.id.as_deref() {
                ids.insert(id, &rs.file);
            }
        }
    }
    for rs in &book.rulesets {
        for r in &rs.rules {
            let (Some(rf), Some(id)) = (r.rule.reference.as_deref(), r.rule.id.as_deref()) else {
                continue;
            };
            if rf != id
                && let Some(file) = ids.get(rf)
            {
                let text = report.sources.get(&rs.file).cloned().unwrap_or_default();
                let c = FileCtx {
                    file: &rs.file,
                    text: &text,
                    diags: &mut report.diagnostics,
                };
                let at = c.find(rf, 0).unwrap_or(0);
                let mut c = c;
                c.error(
                    at,
                    rf.chars().count(),
                    format!(
                        "rule ref `{}` is the id of another rule (in {})",
                        visible(rf),
                        file.display()
                    ),
                )
                .hint =
                    Some("a selector naming it could select either rule: change the ref".into());
            }
        }
    }
}

/// Where in `path`'s text reading it as `T` fails, for a type error found on the parsed value.
fn positioned<T: serde::de::DeserializeOwned>(
    report: &Report,
    path: &Path,
) -> Option<crate::diag::Pos> {
    let text = report.sources.get(path)?;
    files::typed::<T>(text)
        .err()
        .filter(|e| e.line() > 0)
        .map(|e| crate::diag::Pos::new(e.line(), e.column(), 1))
}

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod load_tests;
