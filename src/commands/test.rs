//! `rulegate test`: load, run every selected case as a libtest-mimic trial, write JUnit,
//! choose the exit code.

use libtest_mimic::{Arguments, ColorSetting};

use super::{backend, load, project_dir, settings};
use crate::backend::BackendKind;
use crate::cli::TestArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::project::baseline::{self, Snapshot};
use crate::report::coverage::{self, Coverage, Require};
use crate::report::{changes, github, junit};
use crate::runner::{self, RunOptions};
use crate::settings::{Flags, Settings};
use crate::suite::Suite;

pub(super) fn run(args: &TestArgs) -> Result<Exit, Report> {
    let largs = libtest_arguments(args)?;
    let settings = settings(Flags {
        terraform: args.suites.terraform.as_deref(),
        dir: project_dir(&args.suites.paths),
        backend: args.backend,
        api: Some(&args.api),
        vars: &args.suites.vars,
        concurrency: args.concurrency,
        junit: args.junit.as_deref(),
        trace_budget: args.trace_budget,
        annotations: args.annotations,
        summary: args.summary.as_deref(),
    })?;
    // The project's rulesets are needed offline, and give ref aliases to any backend.
    let with_project = !args.list
        && (settings.backend == BackendKind::Local
            || settings.dir.join(settings.config.rulesets_dir()).is_dir());
    let loaded = load(&settings, Some(&args.suites), with_project)?;
    if args.list {
        // Listing traces nothing, so it needs no backend and no credentials.
        let _ = libtest_mimic::run(&largs, list_trials(&loaded.suites));
        return Ok(Exit::Success);
    }
    let live = settings.backend == BackendKind::Cloudflare
        && crate::cloudflare::client::is_live_url(&settings.api.url);
    let skip_offline_only = live && !args.strict_live;
    if !args.allow_no_cases {
        no_cases_selected(&loaded.suites, &largs, skip_offline_only)?;
    }
    if let Some(path) = &settings.junit {
        junit::check_writable(path).map_err(|e| Diagnostic::usage(e.to_string()))?;
    }
    let cov = CoverageAsk::resolve(args, &settings)?;
    let baseline = match &args.baseline {
        Some(rev) => Some(Baseline::prepare(rev, &settings)?),
        None => None,
    };
    let backend = backend(&settings, loaded.project.as_ref())?;
    let opts = RunOptions {
        concurrency: settings.concurrency,
        color: use_color(args),
        aliases: std::sync::Arc::new(
            loaded
                .project
                .as_ref()
                .map(|p| p.book.refs.clone())
                .unwrap_or_default(),
        ),
        skip_offline_only,
        coverage: cov.on,
        behaviours: baseline.is_some(),
    };
    let run = runner::run(&loaded.suites, &backend, &largs, &opts);
    let warnings = backend.warnings();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut exit = run.exit();
    let mut comparison = None;
    if let Some(base) = &baseline {
        // Against a live baseline, offline-only cases are left out unless --strict-live.
        let base_opts = RunOptions {
            skip_offline_only: skip_offline_only || (base.live && !args.strict_live),
            ..opts.clone()
        };
        let names = runner::selected(&loaded.suites, &largs, &base_opts);
        let before = runner::behaviours(&loaded.suites, &names, &base.backend, &opts);
        for w in base
            .backend
            .warnings()
            .iter()
            .filter(|w| !warnings.contains(w))
        {
            eprintln!("warning: baseline: {w}");
        }
        let compared = changes::compare(&loaded.suites, &run, &before, base.describe());
        let text = format!("\nbehaviour changes:\n\n{}", compared.render());
        after_results(args, &text)?;
        if let Some(path) = &args.changes {
            compared.write_json(path).map_err(|e| {
                Diagnostic::could_not_run(format!("cannot write {}: {e}", path.display()))
            })?;
        }
        if !compared.baseline_errors.is_empty() {
            exit = Exit::CouldNotRun;
        }
        comparison = Some(compared);
    }
    let coverage = match (&loaded.project, cov.on) {
        (Some(p), true) => Some(report_coverage(&cov, p, &run, args, &mut exit)?),
        _ => None,
    };
    ci_reports(
        &settings,
        &loaded.suites,
        &run,
        CiExtras {
            comparison: comparison.as_ref(),
            coverage: coverage.as_ref(),
        },
        &backend.describe(),
        args,
    )?;
    if let Some(path) = &settings.junit {
        let meta = junit::Meta {
            backend: backend.describe(),
            rulesets: backend.rulesets(),
            timestamp: junit::now(),
        };
        junit::write_file(path, &loaded.suites, &run, &meta)
            .map_err(|e| Diagnostic::could_not_run(e.to_string()))?;
    }
    Ok(exit)
}

/// Prints a report after the test results: on stdout, or on stderr when stdout carries
/// libtest's JSON stream.
fn after_results(args: &TestArgs, text: &str) -> Result<(), Report> {
    if matches!(args.format, Some(libtest_mimic::FormatSetting::Json)) {
        eprint!("{text}");
        Ok(())
    } else {
        super::say(text)
    }
}

/// What coverage the flags and rulegate.yaml ask for.
struct CoverageAsk {
    on: bool,
    require: Option<Require>,
    exempt: Vec<String>,
}

impl CoverageAsk {
    fn resolve(args: &TestArgs, settings: &Settings) -> Result<CoverageAsk, Report> {
        let cfg = settings.config.coverage.clone().unwrap_or_default();
        let require = match args.require_coverage.as_deref() {
            Some("") => Some(cfg.require.unwrap_or(Require::All)),
            Some(s) => Some(Require::parse(s).map_err(Diagnostic::usage)?),
            None => None,
        };
        let on = args.coverage
            || require.is_some()
            || args.coverage_lcov.is_some()
            || args.coverage_cobertura.is_some();
        if on && settings.backend != BackendKind::Local {
            return Err(Diagnostic::usage(
                "rule coverage is measured by the local engine, but this run uses --backend cloudflare",
            )
            .hint("drop the coverage flags for the live run, or run them with --backend local")
            .into());
        }
        Ok(CoverageAsk {
            on,
            // A requirement in rulegate.yaml applies whenever coverage is measured.
            require: require.or(if on { cfg.require } else { None }),
            exempt: cfg.exempt,
        })
    }
}

/// Measures, prints and writes coverage; an unmet requirement turns a passing run into exit 1.
fn report_coverage(
    ask: &CoverageAsk,
    project: &crate::project::Project,
    run: &runner::RunResult,
    args: &TestArgs,
    exit: &mut Exit,
) -> Result<Coverage, Report> {
    let cov = coverage::measure(&project.book, run, &ask.exempt);
    let text = format!("\n{}", cov.render());
    after_results(args, &text)?;
    let write = |path: &std::path::Path, body: String| {
        std::fs::write(path, body).map_err(|e| {
            Report::from(Diagnostic::could_not_run(format!(
                "cannot write {}: {e}",
                path.display()
            )))
        })
    };
    if let Some(p) = &args.coverage_lcov {
        write(p, cov.lcov())?;
    }
    if let Some(p) = &args.coverage_cobertura {
        let source = std::path::absolute(".").unwrap_or_default();
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        write(p, cov.cobertura(&source, ms))?;
    }
    if let Some(req) = ask.require
        && let Some(why) = cov.unmet(req)
    {
        eprintln!("error: {why}");
        if *exit == Exit::Success {
            *exit = Exit::Failed;
        }
    }
    Ok(cov)
}

/// What a run adds to its CI reports besides the outcomes.
#[derive(Clone, Copy)]
struct CiExtras<'a> {
    comparison: Option<&'a changes::Comparison>,
    coverage: Option<&'a Coverage>,
}

/// GitHub annotations and the Markdown summary, as the settings ask.
fn ci_reports(
    settings: &Settings,
    suites: &[Suite],
    run: &runner::RunResult,
    extras: CiExtras,
    backend: &str,
    args: &TestArgs,
) -> Result<(), Report> {
    let ci = &settings.ci;
    let comparison = extras.comparison;
    if ci.github_annotations {
        let list = github::annotations(
            suites,
            run,
            comparison,
            extras.coverage,
            ci.workspace.as_deref(),
        );
        let text = github::render_annotations(&list);
        after_results(args, &text)?;
    }
    if ci.summary_file.is_none() && ci.step_summary.is_none() {
        return Ok(());
    }
    let md = github::summary(suites, run, comparison, extras.coverage, backend);
    let fail = |p: &std::path::Path, e: std::io::Error| {
        Report::from(Diagnostic::could_not_run(format!(
            "cannot write the summary to {}: {e}",
            p.display()
        )))
    };
    if let Some(p) = &ci.summary_file {
        std::fs::write(p, &md).map_err(|e| fail(p, e))?;
    }
    if let Some(p) = &ci.step_summary {
        github::append(p, &md).map_err(|e| fail(p, e))?;
    }
    Ok(())
}

/// The other side of `--baseline`: the local engine over the project as of a git revision
/// (kept checked out while the run lasts), or the live API.
struct Baseline {
    backend: crate::backend::Backend,
    snapshot: Option<Snapshot>,
    /// The baseline is Cloudflare's own API.
    live: bool,
}

impl Baseline {
    fn prepare(rev: &str, settings: &Settings) -> Result<Baseline, Report> {
        if rev == "live" {
            if settings.backend == BackendKind::Cloudflare {
                return Err(Diagnostic::usage(
                    "--baseline live compares the live API with the local engine, but the run already uses --backend cloudflare",
                )
                .hint("drop --backend cloudflare, or name a git revision as the baseline")
                .into());
            }
            let live = Settings {
                backend: BackendKind::Cloudflare,
                ..settings.clone()
            };
            return Ok(Baseline {
                backend: backend(&live, None)?,
                snapshot: None,
                live: crate::cloudflare::client::is_live_url(&settings.api.url),
            });
        }
        let snapshot = baseline::snapshot(&settings.dir, rev)?;
        let project = snapshot.load(&settings.config).map_err(|mut r| {
            if let Some(first) = r.diagnostics.first_mut() {
                first.title = format!("baseline {rev}: {}", first.title);
            }
            r
        })?;
        let local = Settings {
            backend: BackendKind::Local,
            ..settings.clone()
        };
        Ok(Baseline {
            backend: backend(&local, Some(&project))?,
            snapshot: Some(snapshot),
            live: false,
        })
    }

    fn describe(&self) -> String {
        match &self.snapshot {
            Some(s) => format!("{} ({})", s.rev, s.short()),
            None => "the live API".to_string(),
        }
    }
}

/// A run that selects no case gates nothing: unless `--allow-no-cases`, that is exit 2 with
/// how many cases the filters and `ignore:` left out.
fn no_cases_selected(
    suites: &[Suite],
    largs: &Arguments,
    skip_offline_only: bool,
) -> Result<(), Diagnostic> {
    let (mut total, mut filtered, mut ignored, mut offline) = (0usize, 0usize, 0usize, 0usize);
    for c in suites.iter().flat_map(|s| s.cases.iter()) {
        total += 1;
        let probe = libtest_mimic::Trial::test(c.full_name.clone(), || Ok(()))
            .with_ignored_flag(c.ignore.is_some());
        if largs.is_filtered_out(&probe) {
            filtered += 1;
        } else if largs.is_ignored(&probe) {
            ignored += 1;
        } else if skip_offline_only && !c.extras.is_empty() {
            offline += 1;
        }
    }
    if total > filtered + ignored + offline {
        return Ok(());
    }
    let mut why = Vec::new();
    if filtered > 0 {
        let by = match (&largs.filter, largs.skip.is_empty()) {
            (Some(f), true) => format!("the filter `{f}`"),
            (Some(f), false) => format!("the filter `{f}` and --skip"),
            (None, _) => "--skip".to_string(),
        };
        why.push(format!("{filtered} filtered out by {by}"));
    }
    if ignored > 0 {
        why.push(format!(
            "{ignored} ignored (`ignore:`; --ignored or --include-ignored runs them)"
        ));
    }
    if offline > 0 {
        why.push(format!(
            "{offline} skipped as offline-only (`fields`/`origin`, which the live API cannot take)"
        ));
    }
    Err(Diagnostic::usage(format!(
        "no case selected: 0 of {total} case(s) would run{}{}",
        if why.is_empty() { "" } else { ": " },
        why.join(", ")
    ))
    .hint("a gate that runs nothing passes nothing; check the filter and paths, or pass --allow-no-cases"))
}

fn list_trials(suites: &[Suite]) -> Vec<libtest_mimic::Trial> {
    suites
        .iter()
        .flat_map(|s| s.cases.iter())
        .map(|c| {
            libtest_mimic::Trial::test(c.full_name.clone(), || Ok(()))
                .with_ignored_flag(c.ignore.is_some())
        })
        .collect()
}

/// Whether our own output (the diff) is coloured: `--color`, then `NO_COLOR`, then a TTY check.
fn use_color(a: &TestArgs) -> bool {
    use std::io::IsTerminal;
    match a.color {
        Some(ColorSetting::Always) => true,
        Some(ColorSetting::Never) => false,
        _ => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// libtest-mimic's arguments from ours.
fn libtest_arguments(a: &TestArgs) -> Result<Arguments, Diagnostic> {
    if a.filter.len() > 1 {
        return Err(Diagnostic::usage(format!(
            "one filter at most after `--`, got {}: {}",
            a.filter.len(),
            a.filter.join(" ")
        )));
    }
    let color = match a.color {
        Some(c) => Some(c),
        None if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
            Some(ColorSetting::Never)
        }
        None => None,
    };
    Ok(Arguments {
        filter: a.filter.first().cloned(),
        exact: a.exact,
        skip: a.skip.clone(),
        list: a.list,
        ignored: a.ignored,
        include_ignored: a.include_ignored,
        quiet: a.quiet,
        format: a.format,
        color,
        test_threads: a.test_threads,
        ..Arguments::default()
    })
}
