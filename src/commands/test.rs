//! `rulegate test`: load, run every selected case as a libtest-mimic trial, write JUnit,
//! choose the exit code.

use super::{backend, load, project_dir, settings};
use crate::backend::BackendKind;
use crate::cli::TestArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::project::baseline::{self, Snapshot};
use crate::report::coverage::{self, Coverage};
use crate::report::{changes, github, junit};
use crate::runner::{self, Plan, RunOptions};
use crate::settings::{BaselineSpec, CoverageSettings, Flags, Settings, TestSettings};
use crate::suite::Suite;

pub(super) fn run(args: &TestArgs) -> Result<Exit, Report> {
    let ts = TestSettings::resolve(
        args,
        settings(Flags {
            terraform: args.suites.tf.terraform.as_deref(),
            var_files: &args.suites.tf.var_files,
            crs: args.suites.tf.crs.as_deref(),
            dir: project_dir(&args.suites.paths),
            backend: args.engine.backend,
            api: Some(&args.api),
            vars: &args.suites.vars,
            concurrency: args.concurrency,
            junit: args.junit.as_deref(),
            trace_budget: args.budget.trace_budget,
            annotations: args.annotations,
            summary: args.summary.as_deref(),
        })?,
    )?;
    let settings = &ts.common;
    let largs = &ts.libtest;
    // The project's rulesets are needed offline, and resolve selectors' refs for any backend.
    let with_project = !args.list
        && (settings.backend == BackendKind::Local
            || settings.dir.join(settings.config.rulesets_dir()).is_dir());
    let loaded = load(settings, Some(&args.suites), with_project)?;
    // Which cases run, decided once: listing, the zero-case check, the run, the baseline
    // and the reports read this plan.
    let plan = Plan::new(&loaded.suites, largs, ts.skip_offline_only, &ts.tags);
    if args.list {
        // Listing traces nothing, so it needs no backend and no credentials.
        let _ = libtest_mimic::run(largs, plan.list_trials(&loaded.suites));
        return Ok(Exit::Success);
    }
    if !args.allow_no_cases
        && let Some(d) = plan.nothing_selected(largs)
    {
        return Err(d.into());
    }
    let cov = &ts.coverage;
    if let Some(note) = &cov.note {
        eprintln!("{note}");
    }
    // Every output is checked before the first trace: a run must not trace every case and
    // then fail to report. The previous run's JUnit goes now, so an interrupted run cannot
    // leave a stale green report behind.
    check_outputs(&ts)?;
    let baseline = match &ts.baseline {
        Some(spec) => Some(Baseline::prepare(spec, settings)?),
        None => None,
    };
    let backend = backend(settings, loaded.project.as_ref())?;
    // Snapshot cases read their suite's snapshot file; what the run may write is decided once.
    let snapshots = if loaded
        .suites
        .iter()
        .any(|s| s.cases.iter().any(|c| c.snapshot))
    {
        let update =
            crate::runner::snapshot::Update::resolve(args.accept).map_err(Diagnostic::usage)?;
        // Snapshot files stay in the repository (or beside the suites named on the command
        // line): a committed `snapshots` link elsewhere is neither read nor written.
        let mut confine = crate::confine::Confine::for_project(&settings.dir);
        for p in &args.suites.paths {
            confine.trust(if p.is_dir() {
                p
            } else {
                p.parent().unwrap_or(p)
            });
        }
        let store = crate::runner::snapshot::Store::new(
            update,
            loaded.suites.iter().map(|s| s.file.clone()),
            &confine,
        )
        .map_err(|why| Diagnostic::usage(format!("snapshots: {why}")).hint(crate::confine::HINT))?;
        Some(std::sync::Arc::new(store))
    } else {
        None
    };
    let opts = RunOptions {
        concurrency: settings.concurrency,
        color: ts.color,
        coverage: cov.on,
        behaviours: baseline.is_some(),
        snapshots: snapshots.clone(),
        explain: match (&loaded.project, args.explain, settings.backend) {
            (Some(p), crate::cli::ExplainWhen::Auto, crate::backend::BackendKind::Local) => {
                Some(p.book.clone())
            }
            _ => None,
        },
    };
    let run = runner::run(&loaded.suites, &plan, &backend, largs, &opts);
    let warnings = backend.warnings();
    for w in &warnings {
        super::warn(w);
    }
    if let Some(store) = &snapshots {
        match store.flush() {
            Ok((accepted, pending, _)) => {
                if accepted > 0 {
                    super::note(&format!("{accepted} snapshot(s) accepted and written"));
                }
                if pending > 0 {
                    super::note(&format!(
                        "{pending} snapshot(s) pending in .snap.new files: `rulegate review` shows and accepts them"
                    ));
                }
            }
            Err(e) => {
                return Err(
                    Diagnostic::could_not_run(format!("cannot write snapshots: {e}")).into(),
                );
            }
        }
    }
    if let Some(text) = by_suite(&loaded.suites, &run) {
        after_results(&ts, &text)?;
    }
    let mut verdict = Verdict::of(&run);
    let mut comparison = None;
    if let Some(base) = &baseline {
        // Against a live baseline, offline-only cases are left out unless --strict-live.
        let base_plan = plan.against(&loaded.suites, base.live && !args.strict_live);
        let before = runner::behaviours(&loaded.suites, &base_plan, &base.backend, &opts);
        for w in base
            .backend
            .warnings()
            .iter()
            .filter(|w| !warnings.contains(w))
        {
            super::warn(&format!("baseline: {w}"));
        }
        let mut compared = changes::compare(&loaded.suites, &run, &before, base.describe());
        if let (Some(old), Some(project), Some(snap)) =
            (&base.book, &loaded.project, &base.snapshot)
        {
            let after = loaded
                .suites
                .iter()
                .flat_map(|s| &s.cases)
                .filter_map(|c| run.results.get(&c.full_name))
                .filter_map(|r| r.behaviour.as_ref());
            compared.rules = changes::review(
                crate::ruleset::diff::diff(old, &project.book),
                before.values().filter_map(|b| b.as_ref().ok()),
                after,
                |p| snap.display(p).display().to_string(),
            );
            compared.require_rules_covered = ts.require_changed_covered;
            let unexercised = compared.rules.iter().filter(|r| r.unexercised()).count();
            if ts.require_changed_covered && unexercised > 0 {
                verdict.add(
                    Exit::Failed,
                    format!(
                        "{unexercised} changed rule(s) no case exercises (--require-changed-covered)"
                    ),
                );
            }
        }
        let text = format!("\nbehaviour changes:\n\n{}", compared.render());
        after_results(&ts, &text)?;
        if !compared.baseline_errors.is_empty() {
            verdict.add(
                Exit::CouldNotRun,
                format!(
                    "the baseline {} could not trace {} case(s)",
                    base.describe(),
                    compared.baseline_errors.len()
                ),
            );
        }
        comparison = Some(compared);
    }
    let coverage = match (&loaded.project, cov.on) {
        (Some(p), true) => Some(report_coverage(&ts, p, &run, &mut verdict)?),
        _ => None,
    };
    // Why the verdict is worse than the cases' outcomes, on the console as in the summary.
    for why in &verdict.reasons {
        eprintln!(
            "error: {} ({})",
            super::scrub(why),
            github::verdict_word(verdict.exit)
        );
    }
    // JUnit first: whatever else cannot be written, the report CI reads is there.
    let mut failed_outputs: Vec<String> = Vec::new();
    if let Some(path) = &settings.junit {
        let meta = junit::Meta {
            backend: backend.describe(),
            rulesets: backend.rulesets(),
            timestamp: junit::now(),
        };
        if let Err(e) = junit::write_file(path, &loaded.suites, &run, &meta) {
            failed_outputs.push(e.to_string());
        }
    }
    if let (Some(path), Some(c)) = (&ts.changes, &comparison)
        && let Err(e) = c.write_json(path)
    {
        failed_outputs.push(format!("cannot write {}: {e}", path.display()));
    }
    if let Some(cov) = &coverage {
        failed_outputs.extend(write_coverage(cov, &ts.coverage));
    }
    failed_outputs.extend(ci_reports(
        settings,
        &loaded.suites,
        &run,
        CiExtras {
            comparison: comparison.as_ref(),
            coverage: coverage.as_ref(),
            verdict: &verdict,
        },
        &backend.describe(),
        ts.text_to_stderr,
    )?);
    if let Some(first) = failed_outputs.first() {
        let mut report = Report::default();
        report.push(Diagnostic::could_not_run(first.clone()));
        for more in &failed_outputs[1..] {
            report.push(Diagnostic::could_not_run(more.clone()));
        }
        return Err(report);
    }
    Ok(verdict.exit)
}

/// The run's one verdict: the worst of the cases' outcomes, the baseline comparison and the
/// coverage requirement, with the reasons beyond the case outcomes. The exit code, the
/// console's last line, the annotations and the summary's headline all read it.
#[derive(Debug, Clone)]
pub(super) struct Verdict {
    pub(super) exit: Exit,
    pub(super) reasons: Vec<String>,
}

impl Verdict {
    fn of(run: &runner::RunResult) -> Verdict {
        Verdict {
            exit: run.exit(),
            reasons: Vec::new(),
        }
    }

    fn add(&mut self, exit: Exit, why: String) {
        self.exit = self.exit.worst(exit);
        self.reasons.push(why);
    }
}

/// Checks that every output the run will write can be written, before anything is traced,
/// and removes the previous JUnit report.
fn check_outputs(ts: &TestSettings) -> Result<(), Report> {
    let settings = &ts.common;
    let mut files: Vec<&std::path::Path> = Vec::new();
    files.extend(ts.changes.as_deref());
    files.extend(ts.coverage.lcov.as_deref());
    files.extend(ts.coverage.cobertura.as_deref());
    files.extend(settings.ci.summary_file.as_deref());
    let mut report = Report::default();
    if let Some(path) = &settings.junit {
        match junit::check_writable(path) {
            Ok(()) => {
                if path.is_file() {
                    let _ = std::fs::remove_file(path);
                }
            }
            Err(e) => report.push(Diagnostic::usage(e.to_string())),
        }
    }
    for path in files {
        if let Err(e) = junit::check_writable(path) {
            report.push(Diagnostic::usage(e.to_string()));
        }
    }
    if let Some(p) = &settings.ci.step_summary
        && let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    {
        report.push(Diagnostic::usage(format!(
            "cannot write the step summary to {} (GITHUB_STEP_SUMMARY): {e}",
            p.display()
        )));
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// When a run of several suites has failures, its outcome per suite (file, `name:`, counts),
/// so a reader sees which area regressed without reading every line.
fn by_suite(suites: &[crate::suite::Suite], run: &runner::RunResult) -> Option<String> {
    use runner::Outcome;
    let rows: Vec<(String, [usize; 4])> = suites
        .iter()
        .map(|s| {
            let mut n = [0usize; 4];
            for (_, r) in run.in_suite(s) {
                n[match r.outcome {
                    Outcome::Passed => 0,
                    Outcome::Failed { .. } => 1,
                    Outcome::Error { .. } => 2,
                    Outcome::Skipped { .. } => 3,
                }] += 1;
            }
            let mut label = s.file.display().to_string();
            if let Some(name) = s.name.as_deref().filter(|n| !n.is_empty()) {
                label.push_str(&format!(" ({name})"));
            }
            (crate::escape::visible(&label).into_owned(), n)
        })
        .filter(|(_, n)| n.iter().sum::<usize>() > 0)
        .collect();
    if rows.len() < 2 || rows.iter().all(|(_, n)| n[1] + n[2] == 0) {
        return None;
    }
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from("\nsuites:\n");
    for (label, n) in rows {
        let mut parts = vec![format!("{} passed", n[0])];
        for (count, word) in [(n[1], "failed"), (n[2], "could not run"), (n[3], "skipped")] {
            if count > 0 {
                parts.push(format!("{count} {word}"));
            }
        }
        let mark = if n[1] + n[2] > 0 { "✗" } else { "✓" };
        let pad = width - label.chars().count();
        out.push_str(&format!(
            "  {mark} {label}{} {}\n",
            " ".repeat(pad),
            parts.join(", ")
        ));
    }
    Some(out)
}

/// Prints a report after the test results: on stdout, or on stderr when stdout carries
/// libtest's JSON stream.
fn after_results(ts: &TestSettings, text: &str) -> Result<(), Report> {
    if ts.text_to_stderr {
        eprint!("{}", super::scrub(text));
        Ok(())
    } else {
        super::say(text)
    }
}

/// Measures and prints coverage; an unmet requirement fails the verdict.
fn report_coverage(
    ts: &TestSettings,
    project: &crate::project::Project,
    run: &runner::RunResult,
    verdict: &mut Verdict,
) -> Result<Coverage, Report> {
    let cov = coverage::measure(&project.book, run, &ts.coverage.exempt);
    let text = format!("\n{}", cov.render());
    after_results(ts, &text)?;
    if let Some(req) = ts.coverage.require
        && let Some(why) = cov.unmet(req)
    {
        verdict.add(Exit::Failed, why);
    }
    Ok(cov)
}

/// Writes the coverage reports the flags ask for; the problems, if any.
fn write_coverage(cov: &Coverage, ask: &CoverageSettings) -> Vec<String> {
    let mut failed = Vec::new();
    let mut write = |path: &std::path::Path, body: String| {
        if let Err(e) = std::fs::write(path, crate::escape::scrub(&body).as_bytes()) {
            failed.push(format!("cannot write {}: {e}", path.display()));
        }
    };
    if let Some(p) = &ask.lcov {
        write(p, cov.lcov());
    }
    if let Some(p) = &ask.cobertura {
        let source = std::path::absolute(".").unwrap_or_default();
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        write(p, cov.cobertura(&source, ms));
    }
    failed
}

/// What a run adds to its CI reports besides the outcomes.
#[derive(Clone, Copy)]
struct CiExtras<'a> {
    comparison: Option<&'a changes::Comparison>,
    coverage: Option<&'a Coverage>,
    verdict: &'a Verdict,
}

/// GitHub annotations and the Markdown summary, as the settings ask; the files that could
/// not be written.
fn ci_reports(
    settings: &Settings,
    suites: &[Suite],
    run: &runner::RunResult,
    extras: CiExtras,
    backend: &str,
    text_to_stderr: bool,
) -> Result<Vec<String>, Report> {
    let ci = &settings.ci;
    let comparison = extras.comparison;
    if ci.github_annotations {
        let mut list = github::annotations(
            suites,
            run,
            comparison,
            extras.coverage,
            ci.workspace.as_deref(),
        );
        for why in &extras.verdict.reasons {
            list.push(github::Annotation {
                level: "error",
                file: String::new(),
                line: 0,
                title: "rulegate".into(),
                message: why.clone(),
            });
        }
        let text = github::render_annotations(&list);
        if text_to_stderr {
            eprint!("{}", crate::escape::scrub(&text));
        } else {
            super::say_commands(&text)?;
        }
    }
    let mut failed = Vec::new();
    if ci.summary_file.is_none() && ci.step_summary.is_none() {
        return Ok(failed);
    }
    let md = github::summary(
        suites,
        run,
        comparison,
        extras.coverage,
        backend,
        (extras.verdict.exit, &extras.verdict.reasons),
    );
    if let Some(p) = &ci.summary_file
        && let Err(e) = std::fs::write(p, &md)
    {
        failed.push(format!("cannot write the summary to {}: {e}", p.display()));
    }
    if let Some(p) = &ci.step_summary
        && let Err(e) = github::append(p, &md)
    {
        failed.push(format!("cannot write the summary to {}: {e}", p.display()));
    }
    Ok(failed)
}

/// The other side of `--baseline`: the local engine over the project as of a git revision
/// (kept checked out while the run lasts), or the live API.
struct Baseline {
    backend: crate::backend::Backend,
    /// The baseline's rules (a revision baseline).
    book: Option<std::sync::Arc<crate::ruleset::Rulebook>>,
    snapshot: Option<Snapshot>,
    /// The baseline is Cloudflare's own API.
    live: bool,
}

impl Baseline {
    fn prepare(spec: &BaselineSpec, settings: &Settings) -> Result<Baseline, Report> {
        let rev = match spec {
            BaselineSpec::Rev(rev) => rev.as_str(),
            BaselineSpec::Live => {
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
                    book: None,
                    snapshot: None,
                    live: crate::cloudflare::client::is_live_url(&settings.api.url),
                });
            }
        };
        let snapshot = baseline::snapshot(&settings.dir, rev)?;
        let project = snapshot.load(&settings.source).map_err(|mut r| {
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
            book: Some(project.book.clone()),
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
