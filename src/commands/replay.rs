//! `rulegate replay`: request logs through the offline engine over the project's rulesets,
//! compared with the project at a git revision or with the outcome the logs recorded; or, with
//! `--merge`, several partitions' `--json` reports merged into one.

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;

use super::{load, say, settings};
use crate::backend::BackendKind;
use crate::cli::ReplayArgs;
use crate::diag::{Diagnostic, Report};
use crate::exit::Exit;
use crate::project::baseline;
use crate::replay::report::{self, Meta, RuleInfo, Threshold};
use crate::replay::{self, Base, Engine, ReadOptions, Tally, redact::Redactor};
use crate::ruleset::Rulebook;
use crate::settings::Flags;

pub(super) fn run(a: &ReplayArgs) -> Result<Exit, Report> {
    let thresholds = a
        .fail_on
        .iter()
        .map(|s| Threshold::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Diagnostic::usage(format!("--fail-on: {e}")))?
        .concat();
    if !thresholds.is_empty() && !a.merge && a.baseline.is_none() {
        return Err(no_baseline_to_gate().into());
    }
    let settings = settings(Flags {
        terraform: a.tf.terraform.as_deref(),
        var_files: &a.tf.var_files,
        crs: a.tf.crs.as_deref(),
        vars: &a.vars,
        dir: a.project.clone(),
        backend: Some(BackendKind::Local),
        summary: a.summary.as_deref(),
        trace_budget: a.budget.trace_budget,
        ..Flags::default()
    })?;
    let mut outputs: Vec<&Path> = Vec::new();
    outputs.extend(a.json.as_deref());
    outputs.extend(a.emit_cases.as_deref());
    outputs.extend(settings.ci.summary_file.as_deref());
    for p in outputs {
        crate::report::junit::check_writable(p).map_err(|e| Diagnostic::usage(e.to_string()))?;
    }
    if a.merge {
        let mut parts = Vec::new();
        for p in &a.logs {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p)
                .map_err(|e| Diagnostic::usage(format!("{name}: cannot read: {e}")))?;
            let (t, m) =
                report::from_json(&text).map_err(|e| Diagnostic::usage(format!("{name}: {e}")))?;
            parts.push((name, t, m));
        }
        let (tally, meta) =
            report::merge(parts).map_err(|e| Diagnostic::usage(format!("--merge: {e}")))?;
        if !thresholds.is_empty() && meta.baseline.is_none() {
            return Err(no_baseline_to_gate().into());
        }
        return finish(a, &settings, &tally, &meta, &thresholds, a.logs.len(), None);
    }

    let loaded = load(&settings, None, true)?;
    let Some(project) = loaded.project else {
        return Err(Diagnostic::usage("replay needs the project's rulesets").into());
    };
    let mut patterns = settings.config.redact.clone();
    patterns.extend(a.redact.iter().cloned());
    let redactor = Redactor::new(&patterns, a.keep_cookies).map_err(Diagnostic::usage)?;
    // The baseline's snapshot stays checked out while the run lasts.
    let mut snapshot = None;
    let mut changed = Vec::new();
    let (base, baseline_name, base_book) = match a.baseline.as_deref() {
        None => (Base::None, None, None),
        Some("logged") => (Base::Logged, Some("logged".to_string()), None),
        Some(rev) => {
            let snap = baseline::snapshot(&settings.dir, rev)?;
            let p = snap.load(&settings.source).map_err(|mut r| {
                if let Some(first) = r.diagnostics.first_mut() {
                    first.title = format!("baseline {rev}: {}", first.title);
                }
                r
            })?;
            let name = format!("{} ({})", snap.rev, snap.short());
            changed = crate::ruleset::diff::diff(&p.book, &project.book)
                .into_iter()
                .map(|c| {
                    let file = snap.display(&c.file).display().to_string();
                    report::ChangedRule::of(c, file)
                })
                .collect();
            snapshot = Some(snap);
            (Base::Book(p.book.clone()), Some(name), Some(p.book))
        }
    };
    let sources = replay::input::sources(&a.logs).map_err(input_error)?;
    let engine = Arc::new(Engine::new(
        project.book.clone(),
        base,
        usize::from(a.samples),
        redactor,
        a.host.clone(),
        settings.trace_budget,
    ));
    let jobs = a.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        usize::from,
    );
    let opts = ReadOptions {
        format: a.input_format,
        partition: a.partition,
        jobs,
        progress: !a.no_progress
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none_or(|v| v.is_empty()),
    };
    let tally = replay::run(&engine, &sources, &opts).map_err(input_error)?;
    drop(snapshot);
    let mut meta = Meta {
        baseline: baseline_name,
        partition: a.partition.map(|p| format!("{}/{}", p.k, p.n)),
        fields_read: engine
            .fields_read()
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        samples: usize::from(a.samples),
        changed_rules: changed,
        ..Meta::default()
    };
    for book in std::iter::once(&project.book).chain(base_book.as_ref()) {
        rule_info(book, &mut meta);
    }
    for w in &tally.warnings {
        super::warn(w);
    }
    finish(
        a,
        &settings,
        &tally,
        &meta,
        &thresholds,
        sources.len(),
        Some(&project.book),
    )
}

/// `--fail-on` counts requests whose outcome changed: without a baseline nothing changes, and
/// the gate would pass whatever the rules do.
fn no_baseline_to_gate() -> Diagnostic {
    Diagnostic::usage("--fail-on counts requests whose outcome changed, but nothing is compared")
        .hint("add --baseline REV (what a change does) or --baseline logged (agreement with Cloudflare)")
}

fn input_error(e: replay::InputError) -> Report {
    let mut d = Diagnostic::usage(e.to_string());
    if let Some(h) = e.hint {
        d = d.hint(h);
    }
    d.into()
}

/// Rule id (as traces name rules) → ref and description.
fn rule_info(book: &Rulebook, meta: &mut Meta) {
    for rs in &book.rulesets {
        for (i, cr) in rs.rules.iter().enumerate() {
            meta.rule_info
                .entry(cr.rule.step_name(i))
                .or_insert_with(|| RuleInfo {
                    reference: cr.rule.reference.clone(),
                    description: cr.rule.description.clone(),
                });
        }
    }
}

/// Prints and writes the reports; the exit code from the thresholds and what could not be
/// replayed.
fn finish(
    a: &ReplayArgs,
    settings: &crate::settings::Settings,
    tally: &Tally,
    meta: &Meta,
    thresholds: &[Threshold],
    sources: usize,
    book: Option<&Arc<Rulebook>>,
) -> Result<Exit, Report> {
    say(&report::text(tally, meta, sources))?;
    let mut exit = Exit::Success;
    let mut reasons = Vec::new();
    let mut could_not = |why: String, reasons: &mut Vec<String>| {
        exit = exit.worst(Exit::CouldNotRun);
        reasons.push(why);
    };
    if tally.requests == 0 {
        could_not(
            "no request was replayed: a gate over no traffic tells nothing".into(),
            &mut reasons,
        );
    }
    if tally.over_budget > 0 {
        could_not(
            format!(
                "{} request(s) took longer than the trace budget to evaluate (an expression too costly for them; raise --trace-budget or simplify the rule)",
                tally.over_budget
            ),
            &mut reasons,
        );
    }
    if let Some(max) = a.max_bad_lines
        && tally.bad_lines > max
    {
        could_not(
            format!(
                "{} bad line(s), more than --max-bad-lines {max}",
                tally.bad_lines
            ),
            &mut reasons,
        );
    }
    if meta.baseline.as_deref() == Some("logged") && tally.compared == 0 && tally.requests > 0 {
        could_not(
            "--baseline logged, but no line carried a logged outcome (SecurityAction, SecurityRuleID or EdgeResponseStatus)".into(),
            &mut reasons,
        );
    }
    for th in thresholds {
        if let Some(why) = th.exceeded(tally) {
            exit = exit.worst(Exit::Failed);
            reasons.push(why);
        }
    }
    for why in &reasons {
        eprintln!(
            "error: {} ({})",
            super::scrub(why),
            crate::report::github::verdict_word(exit)
        );
    }
    let mut failed = Vec::new();
    let mut write = |path: &Path, body: &str| {
        if let Err(e) = std::fs::write(path, crate::escape::scrub(body).as_bytes()) {
            failed.push(format!("cannot write {}: {e}", path.display()));
        }
    };
    if let Some(p) = &a.json {
        write(p, &report::to_json(tally, meta));
    }
    if let (Some(p), Some(book)) = (&a.emit_cases, book) {
        let (text, n) = replay::emit::suite(tally, book, meta.baseline.is_some());
        write(p, &text);
        eprintln!("wrote {n} case(s) to {}", p.display());
    }
    let md = report::markdown(tally, meta, &reasons);
    if let Some(p) = &settings.ci.summary_file {
        write(p, &md);
    }
    if let Some(p) = &settings.ci.step_summary
        && let Err(e) = crate::report::github::append(p, &crate::escape::scrub(&md))
    {
        failed.push(format!("cannot write the summary to {}: {e}", p.display()));
    }
    if let Some(first) = failed.first() {
        let mut report = Report::default();
        report.push(Diagnostic::could_not_run(first.clone()));
        return Err(report);
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use crate::settings::{Flags, Settings};
    use crate::trace::{Behaviour, TraceView};

    /// Replay's lean evaluation (matched rules only) gives every example case the behaviour the
    /// full trace gives.
    #[test]
    fn lean_evaluation_behaves_as_the_full_trace() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
        let settings = Settings::resolve(&Flags {
            dir: dir.clone(),
            ..Flags::default()
        })
        .unwrap();
        let args = crate::cli::SuiteArgs {
            paths: vec![dir],
            vars: Vec::new(),
            tf: crate::cli::TerraformArgs::default(),
        };
        let loaded = super::super::load(&settings, Some(&args), true).unwrap();
        let book = &loaded.project.unwrap().book;
        let never = AtomicBool::new(false);
        let mut compared = 0;
        for case in loaded.suites.iter().flat_map(|s| &s.cases) {
            if case.extras.origin.is_some() {
                continue;
            }
            let full = crate::ruleset::evaluate_until(book, &case.request, &case.extras, &never)
                .unwrap()
                .0;
            let ctx =
                crate::rules::request::context(&case.request, case.extras.fields.as_ref()).unwrap();
            let lean = crate::ruleset::evaluate_lean(book, ctx, &case.request, &never)
                .unwrap()
                .0;
            let want = Behaviour::of(&TraceView::new(&full));
            assert_eq!(Behaviour::of_result(&full), want, "{}", case.full_name);
            assert_eq!(Behaviour::of_result(&lean), want, "{}", case.full_name);
            assert_eq!(
                Behaviour::of(&TraceView::from_result(lean)),
                want,
                "{}",
                case.full_name
            );
            compared += 1;
        }
        assert!(compared > 30, "{compared}");
    }
}
