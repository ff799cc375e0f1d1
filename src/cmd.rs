//! The commands, wired from the pieces: load → plan → run → report → exit code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backend::{Backend, Local};
use crate::cli::{BackendKind, CheckArgs, EvalArgs, PullArgs, ServeArgs, SuiteArgs, TestArgs};
use crate::cloudflare::Client;
use crate::config;
use crate::diag::Diagnostic;
use crate::exit::Exit;
use crate::project::{Project, ProjectConfig, load_config, load_project};
use crate::report::junit;
use crate::runner::{self, Outcome, RunOptions, RunResult};
use crate::suite::{Loaded, Vars, load_suites};

/// The project directory of a run: the first path if it is a directory, else its parent.
pub fn project_dir(paths: &[PathBuf]) -> PathBuf {
    match paths.first() {
        Some(p) if p.is_dir() => p.clone(),
        Some(p) => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => PathBuf::from("suites"),
    }
}

/// Everything a command needs from disk, checked.
struct Setup {
    loaded: Loaded,
    config: ProjectConfig,
    project: Option<Project>,
}

fn render(diags: &[Diagnostic], sources: &BTreeMap<PathBuf, String>) {
    eprint!("{}", crate::diag::render_all(diags, sources));
}

/// Loads the project configuration, the suites and (when asked) the rulesets and lists,
/// reporting every problem of every file before giving up.
/// `with_project` decides, from the configuration, whether rulesets and lists are loaded.
fn setup(
    args: &SuiteArgs,
    with_project: impl FnOnce(&ProjectConfig) -> bool,
) -> Result<Setup, Exit> {
    let dir = project_dir(&args.paths);
    let mut diags = Vec::new();
    let mut sources = BTreeMap::new();
    let config = match load_config(&dir) {
        Ok((c, src)) => {
            if let Some((p, t)) = src {
                sources.insert(p, t);
            }
            c
        }
        Err(d) => {
            diags.extend(d);
            ProjectConfig::default()
        }
    };
    let vars = Vars::new(args.vars.iter().cloned().collect::<BTreeMap<_, _>>(), true)
        .with_defaults(config.vars.clone());
    let skip = [config.rulesets_dir(), config.lists_dir()];
    let loaded = match load_suites(&args.paths, &vars, &skip) {
        Ok(l) => {
            sources.extend(l.sources.clone());
            Some(l)
        }
        Err(e) => {
            diags.extend(e.diagnostics);
            sources.extend(e.sources);
            None
        }
    };
    let project = if with_project(&config) {
        match load_project(&dir, &config) {
            Ok(p) => Some(p),
            Err((d, s)) => {
                diags.extend(d);
                sources.extend(s);
                None
            }
        }
    } else {
        None
    };
    // Only a project that holds rulesets knows its rules (a live-only project does not).
    if let (Some(l), Some(p)) = (&loaded, &project)
        && !p.rulesets.is_empty()
    {
        diags.extend(unknown_selectors(l, p));
    }
    if !diags.is_empty() {
        render(&diags, &sources);
        return Err(Exit::Invalid);
    }
    Ok(Setup {
        loaded: loaded.unwrap_or_default(),
        config,
        project,
    })
}

/// Rule selectors in `matched` / `not_matched` that name nothing in the project. A typo there
/// would fail a `matched` case for the wrong reason, and silently pass a `not_matched` one.
fn unknown_selectors(loaded: &Loaded, project: &Project) -> Vec<Diagnostic> {
    let mut known: std::collections::HashSet<&str> = crate::ruleset::phases::all().collect();
    known.extend(crate::project::MANAGED_RULESETS.iter().map(|(id, _)| *id));
    for rs in &project.rulesets {
        known.insert(&rs.ruleset.id);
        known.extend(rs.ruleset.name.as_deref());
        known.extend(rs.ruleset.description.as_deref());
        for r in &rs.rules {
            known.extend(r.rule.id.as_deref());
            known.extend(r.rule.reference.as_deref());
            known.extend(r.rule.description.as_deref());
        }
    }
    let mut out = Vec::new();
    for suite in &loaded.suites {
        for case in &suite.cases {
            for (key, sels) in [
                ("matched", &case.expect.matched),
                ("not_matched", &case.expect.not_matched),
            ] {
                for sel in sels.iter().filter(|s| !known.contains(s.as_str())) {
                    let pos = crate::diag::Pos::new(case.line, 5, 1);
                    out.push(
                        Diagnostic::new(&suite.file, Some(pos), format!("case `{}`: `{key}` names `{sel}`, which is no rule in the project", case.name))
                            .label("in this case")
                            .maybe_hint(crate::diag::suggestion(sel, known.iter().copied()))
                            .hint_or("a selector is a rule id, ref or exact description from the project's rulesets"),
                    );
                }
            }
        }
    }
    out
}

/// `rulegate check`: validate suites, rulegate.yaml, rulesets and lists; run nothing.
pub fn check(args: &CheckArgs) -> Exit {
    match setup(&args.suites, |_| true) {
        Ok(s) => {
            let cases: usize = s.loaded.suites.iter().map(|x| x.cases.len()).sum();
            let (rs, ls) = s
                .project
                .as_ref()
                .map_or((0, 0), |p| (p.rulesets.len(), p.list_files.len()));
            println!(
                "ok: {} suite(s), {cases} case(s), {rs} ruleset(s), {ls} list(s)",
                s.loaded.suites.len()
            );
            Exit::Success
        }
        Err(exit) => exit,
    }
}

/// `rulegate test`.
pub fn test(args: &TestArgs) -> Exit {
    let largs = match config::libtest_arguments(args) {
        Ok(a) => a,
        Err(e) => return usage(&e.to_string()),
    };
    let dir = project_dir(&args.suites.paths);
    // The project's rulesets are needed offline, and give ref aliases to any backend.
    let setup = match setup(&args.suites, |cfg| {
        !args.list
            && (config::backend_kind(&args.api, cfg) == BackendKind::Local
                || dir.join(cfg.rulesets_dir()).is_dir())
    }) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    if args.list {
        // Listing traces nothing, so it needs no backend and no credentials.
        let _ = libtest_mimic::run(&largs, list_trials(&setup.loaded));
        return Exit::Success;
    }
    let kind = config::backend_kind(&args.api, &setup.config);
    let project = setup.project.map(Arc::new);
    let aliases = Arc::new(project.as_ref().map(|p| p.refs.clone()).unwrap_or_default());
    let (backend, rulesets) = match kind {
        BackendKind::Local => {
            let project = project.expect("loaded for the local backend");
            let describe = project.describe();
            (Backend::Local(Arc::new(Local::new(project))), describe)
        }
        BackendKind::Cloudflare => match config::client_config(&args.api, &setup.config)
            .and_then(|c| Client::new(c).map_err(|message| config::ConfigError { message }))
        {
            Ok(client) => (
                Backend::Cloudflare(Arc::new(client)),
                "the configuration deployed behind the API".to_string(),
            ),
            Err(e) => return usage(&e.to_string()),
        },
    };
    let opts = RunOptions {
        concurrency: config::concurrency(args, &setup.config),
        color: config::use_color(args),
        aliases,
    };
    let run = runner::run(&setup.loaded.suites, &backend, &largs, &opts);
    for w in backend.warnings() {
        eprintln!("warning: {w}");
    }
    let junit_path = args.junit.clone().or_else(|| {
        setup
            .config
            .junit
            .as_ref()
            .map(|j| project_dir(&args.suites.paths).join(j))
    });
    if let Some(path) = junit_path
        && !run.listed_only
    {
        let meta = junit::Meta {
            backend: backend.describe(),
            rulesets,
        };
        if let Err(e) = junit::write_file(&path, &setup.loaded.suites, &run, &meta) {
            eprintln!("error: {e}");
            return Exit::CouldNotRun;
        }
    }
    exit_for(&run)
}

fn list_trials(loaded: &Loaded) -> Vec<libtest_mimic::Trial> {
    loaded
        .suites
        .iter()
        .flat_map(|s| s.cases.iter())
        .map(|c| {
            libtest_mimic::Trial::test(c.full_name.clone(), || Ok(()))
                .with_ignored_flag(c.ignore.is_some())
        })
        .collect()
}

fn usage(message: &str) -> Exit {
    eprintln!("error: {message}");
    Exit::Invalid
}

/// The exit code for a finished run: could-not-run wins over failed.
pub fn exit_for(run: &RunResult) -> Exit {
    if run.listed_only {
        return Exit::Success;
    }
    let errors = run
        .results
        .values()
        .any(|r| matches!(r.outcome, Outcome::Error { .. }));
    let failures = run
        .results
        .values()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    if errors || run.unexplained_failures > 0 {
        Exit::CouldNotRun
    } else if failures {
        Exit::Failed
    } else {
        Exit::Success
    }
}

/// `rulegate eval`.
pub fn eval(args: &EvalArgs) -> Exit {
    crate::eval_cmd::run(args)
}

/// Loads a project directory for `serve`: its config, rulesets and lists.
pub fn load_project_dir(dir: &Path) -> Result<Project, Exit> {
    let (config, src) = match load_config(dir) {
        Ok(c) => c,
        Err(d) => {
            render(&d, &BTreeMap::new());
            return Err(Exit::Invalid);
        }
    };
    load_project(dir, &config).map_err(|(d, mut s)| {
        if let Some((p, t)) = src {
            s.insert(p, t);
        }
        render(&d, &s);
        Exit::Invalid
    })
}

/// `rulegate serve`.
pub fn serve(args: &ServeArgs) -> Exit {
    match load_project_dir(&args.dir) {
        Ok(project) => crate::serve::run(Arc::new(project), args),
        Err(exit) => exit,
    }
}

/// `rulegate pull`.
pub fn pull(args: &PullArgs) -> Exit {
    crate::pull::run(args)
}
