//! The commands, one file each, wired from the pieces: settings → load → run → report → exit
//! code. This file holds only what they share: [`main`] (parse and dispatch), one
//! [`runtime`] builder, one project [`load`]er and one [`backend`] builder. No command module
//! imports another.

mod check;
mod eval;
mod explain;
mod init;
mod manual;
mod pull;
mod record;
mod replay;
mod review;
mod serve;
mod test;
mod trace;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser as _;

use crate::backend::{Backend, BackendKind, Local};
use crate::cli::{Cli, Command, SuiteArgs};
use crate::cloudflare::Client;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::project::{CONFIG_FILES, Project, load_project, validate};
use crate::settings::{Flags, Settings};
use crate::suite::{self, Skip, Suite};

/// The `rulegate` program: parses the command line, runs the command, renders any
/// diagnostics, and returns the exit code.
pub fn main() -> std::process::ExitCode {
    quiet_on_output_errors();
    crate::escape::register_env_secrets();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; everything else is a usage error (exit 2).
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Success.into()
                }
                _ => Exit::Invalid.into(),
            };
        }
    };
    let exit = match dispatch(&cli) {
        Ok(exit) => exit,
        Err(report) => {
            let _ = write!(std::io::stderr(), "{}", scrub(&report.render()));
            report.exit()
        }
    };
    exit.into()
}

/// Output that cannot be written (a full disk, a closed pipe where SIGPIPE is ignored) ends
/// the run with one line and exit 3, not with a panic: `println!`, used by libtest-mimic,
/// panics on a failed write. Every other panic keeps the default report (it is a bug).
fn quiet_on_output_errors() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(why) = msg.strip_prefix("failed printing to stdout: ") {
            crate::exit::remove_temps();
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {why}");
            std::process::exit(i32::from(Exit::CouldNotRun.code()));
        }
        default(info);
    }));
}

/// Writes `text` to standard output; a failed write is could-not-run, never a panic.
fn say(text: &str) -> Result<(), Report> {
    write_out(&scrub(text))
}

/// Writes rulegate's own workflow commands (escaped by `report::github`): secrets scrubbed,
/// but their `::` kept.
fn say_commands(text: &str) -> Result<(), Report> {
    write_out(&crate::escape::scrub(text))
}

fn write_out(text: &str) -> Result<(), Report> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Diagnostic::could_not_run(format!("cannot write the output: {e}")).into())
}

/// Text for the console: known secrets scrubbed, and no line a workflow command.
fn scrub(text: &str) -> String {
    crate::escape::console(&crate::escape::scrub(text)).into_owned()
}

/// A warning on standard error, made safe as [`say`]'s text is.
fn warn(text: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {}", scrub(text));
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "note: {}", scrub(text));
}

fn dispatch(cli: &Cli) -> Result<Exit, Report> {
    match &cli.command {
        Command::Test(a) => test::run(a),
        Command::Check(a) => check::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Trace(a) => trace::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Pull(a) => pull::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Init(a) => init::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Record(a) => record::run(a),
        Command::Review(a) => review::run(a),
        Command::Schema(a) => manual::schema(a),
        Command::Completions(a) => manual::completions(a),
        Command::Man(a) => manual::man(a),
    }
}

/// The settings of a command that traces through a backend it is told (`trace`, `record`,
/// `explain`): the project in `dir`, its Terraform source, and the API and budget flags.
fn engine_settings(
    dir: PathBuf,
    tf: &crate::cli::TerraformArgs,
    vars: &[(String, String)],
    engine: &crate::cli::BackendArgs,
    api: &crate::cli::ApiArgs,
    budget: &crate::cli::BudgetArgs,
) -> Result<Settings, Report> {
    settings(Flags {
        terraform: tf.terraform.as_deref(),
        var_files: &tf.var_files,
        crs: tf.crs.as_deref(),
        vars,
        dir,
        backend: engine.backend,
        api: Some(api),
        trace_budget: budget.trace_budget,
        ..Flags::default()
    })
}

/// `trace` and `record`: the project in `dir` (loaded and compiled when the backend is local)
/// and the backend that traces, from the flags.
fn engine_backend(dir: PathBuf, f: &crate::cli::EngineFlags) -> Result<(Loaded, Backend), Report> {
    let settings = engine_settings(dir, &f.tf, &f.vars, &f.engine, &f.api, &f.budget)?;
    let loaded = load(&settings, None, settings.backend == BackendKind::Local)?;
    let backend = backend(&settings, loaded.project.as_ref())?;
    Ok((loaded, backend))
}

/// `--fields JSON` (on `trace` and `explain`) as a request's offline extras.
fn extras_from_flag(fields: Option<&str>) -> Result<crate::trace::Extras, Diagnostic> {
    let fields = fields
        .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
        .transpose()
        .map_err(|e| Diagnostic::usage(format!("--fields is not a JSON object: {e}")))?;
    Ok(crate::trace::Extras {
        fields,
        origin: None,
    })
}

/// The project directory of a suite run: the first path if it is a directory, else its
/// parent; `suites` by default.
fn project_dir(paths: &[PathBuf]) -> PathBuf {
    match paths.first() {
        Some(p) if p.is_dir() => p.clone(),
        Some(p) => p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => PathBuf::from("suites"),
    }
}

/// The async runtime of a command: `threads` workers, or the current thread when 0.
fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, Diagnostic> {
    let mut b = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all()
        .build()
        .map_err(|e| Diagnostic::could_not_run(format!("cannot start the async runtime: {e}")))
}

/// What a command loaded from disk, checked.
struct Loaded {
    suites: Vec<Suite>,
    project: Option<Project>,
}

/// Loads the suites under `suites` (when given) and the project's rulesets and lists (when
/// `with_project`), reporting every problem of every file before giving up; then checks the
/// suites' rule selectors against the project.
fn load(
    settings: &Settings,
    suites: Option<&SuiteArgs>,
    with_project: bool,
) -> Result<Loaded, Report> {
    let mut report = Report {
        sources: settings.sources(),
        ..Report::default()
    };
    let dirs = [settings.config.rulesets_dir(), settings.config.lists_dir()];
    // Suite files found under the given paths may not lead outside the repository (the
    // paths themselves, typed by the user, may be anywhere).
    let mut confine = crate::confine::Confine::for_project(&settings.dir);
    for p in suites.iter().flat_map(|s| &s.paths) {
        confine.trust_exactly(p);
    }
    let skip = Skip {
        dirs: &dirs,
        files: CONFIG_FILES,
        confine: Some(&confine),
    };
    let mut loaded =
        suites.and_then(
            |s| match suite::load_suites(&s.paths, &settings.vars, skip) {
                Ok(l) => {
                    report.sources.extend(l.sources);
                    Some(l.suites)
                }
                Err(r) => {
                    report.merge(r);
                    None
                }
            },
        );
    let project = if with_project {
        match load_project(&settings.dir, &settings.config, &settings.source) {
            Ok(p) => {
                if let Some(crs) = &p.book.crs {
                    // The version is a CRS file's text (hostile when the CRS is in the
                    // repository): one line, controls visible, like the path.
                    note(&format!(
                        "the Cloudflare OWASP Core Ruleset is emulated offline with {} from {} (the CRS rules under Cloudflare's scoring model: not Cloudflare's own answer)",
                        crate::escape::visible(crs.version()),
                        crate::escape::visible(&crs.dir().display().to_string())
                    ));
                }
                Some(p)
            }
            Err(r) => {
                report.merge(r);
                None
            }
        }
    } else {
        None
    };
    // A local run over no rules tests nothing: a typo'd directory or every ruleset at
    // `count = 0` must not pass.
    if let Some(p) = &project
        && settings.backend == BackendKind::Local
        && p.book.rulesets.is_empty()
        && !settings.config.no_rulesets
    {
        report.push(no_rulesets(settings));
    }
    // Only a project that holds rulesets knows its rules (a live-only project does not).
    if let (Some(s), Some(p)) = (&mut loaded, &project)
        && !p.book.rulesets.is_empty()
    {
        report.diagnostics.extend(validate::unknown_selectors(s, p));
        validate::resolve_selectors(s, p);
    }
    if !report.is_empty() {
        return Err(report);
    }
    Ok(Loaded {
        suites: loaded.unwrap_or_default(),
        project,
    })
}

/// The error for a project whose sources yield no ruleset, naming what was searched.
fn no_rulesets(settings: &Settings) -> Diagnostic {
    let mut searched = Vec::new();
    let rulesets = settings.dir.join(settings.config.rulesets_dir());
    searched.push(if rulesets.is_dir() {
        format!("{} (no ruleset JSON files)", rulesets.display())
    } else {
        format!("{} (no such directory)", rulesets.display())
    });
    if let Some(tf) = settings.source.terraform(&settings.config) {
        searched.push(format!(
            "the Terraform source {} (no cloudflare_ruleset instance)",
            settings.dir.join(tf).display()
        ));
    }
    Diagnostic::usage(format!(
        "the project holds no ruleset: searched {}",
        searched.join(" and ")
    ))
    .hint("a gate over no rules tests nothing: check `rulesets:` / `terraform:` in rulegate.yaml (or --terraform); a project with deliberately no rulesets says `no_rulesets: true`")
}

/// The settings of a command over the project in `dir`.
fn settings(flags: Flags) -> Result<Settings, Report> {
    Settings::resolve(&flags)
}

/// The backend the settings choose: the local engine over `project` (which must be loaded
/// for it), or the live API client.
fn backend(settings: &Settings, project: Option<&Project>) -> Result<Backend, Report> {
    match settings.backend {
        BackendKind::Local => {
            let p = project.ok_or_else(|| {
                Diagnostic::usage(
                    "the local backend needs the project's rulesets, which were not loaded",
                )
            })?;
            Ok(Backend::Local(Arc::new(Local::new(
                p.book.clone(),
                p.dir.display().to_string(),
                p.describe(),
                settings.trace_budget,
            ))))
        }
        BackendKind::Cloudflare => {
            let client = Client::new(settings.client_config()?)
                .map_err(|e| Diagnostic::from(crate::trace::TraceError::from(e)))?;
            Ok(Backend::Cloudflare(Arc::new(client)))
        }
    }
}
