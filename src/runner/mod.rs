//! Runs cases as libtest-mimic trials. Selection (filters, `--skip`, `--ignored`, offline-only
//! cases against the live API) is decided once, in a [`Plan`], so only selected cases are
//! traced. Traces run on a
//! tokio runtime with their own concurrency bound, independent of `--test-threads`; each trial
//! waits for its trace, checks it and records an [`Outcome`] for the reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

mod plan;
pub(crate) mod snapshot;
pub(crate) use plan::{OFFLINE_ONLY, Partition, Pick, Plan, Selection};
use tokio::sync::{Semaphore, oneshot};

use crate::backend::Backend;
use crate::exit::Exit;
use crate::expect::{self, Mismatch, diff};
use crate::suite::{Case, Suite};
use crate::trace::TraceError;
use crate::trace::{Behaviour, RuleHit, TraceView};

/// How one case ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Passed,
    /// Expectations not met: the mismatches and the rendered plain-text diff.
    Failed {
        mismatches: Vec<Mismatch>,
        diff: String,
    },
    /// The case could not be run: the backend's error, with its kind.
    Error {
        error: TraceError,
    },
    /// Ignored (`ignore:` in the suite) and not run.
    Skipped {
        reason: String,
    },
}

/// A case's outcome with its timing, keyed by full name in [`RunResult`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CaseResult {
    pub outcome: Outcome,
    pub duration: Duration,
    /// What the trace did, when the case was traced and `RunOptions::behaviours` asked.
    pub behaviour: Option<Behaviour>,
    /// With coverage on: each rule the trace evaluated.
    pub rules: Vec<RuleHit>,
}

/// What a run produced, for the reports and the exit code.
#[derive(Debug, Default)]
pub(crate) struct RunResult {
    pub results: BTreeMap<String, CaseResult>,
    /// Trials that failed outside our outcomes (a panic: a bug).
    pub unexplained_failures: u64,
}

/// Runner settings.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub concurrency: usize,
    pub color: bool,
    /// Record which rules each case evaluated and matched.
    pub coverage: bool,
    /// Keep each case's [`Behaviour`] (for a comparison with a baseline).
    pub behaviours: bool,
    /// Where `snapshot: true` cases are compared (and what the run may write).
    pub snapshots: Option<Arc<snapshot::Store>>,
    /// The offline rulebook a failure's explanation reads (`None`: no explanations, with
    /// `--explain never` or against the live API).
    pub explain: Option<Arc<crate::ruleset::Rulebook>>,
}

/// How much explanation a failure carries at most.
const MAX_EXPLANATION: usize = 4 << 10;

/// Why the rules a failed case involves did what they did, bounded: the rule that ended the
/// request and the rules the case names, each expression explained.
fn explanation(
    book: &crate::ruleset::Rulebook,
    sent: &Sent,
    expect: &crate::suite::Expectations,
    view: &TraceView,
) -> String {
    let named: Vec<String> = expect
        .matched
        .iter()
        .chain(&expect.not_matched)
        .map(|s| s.rule_id.clone().unwrap_or_else(|| s.name.clone()))
        .collect();
    let ids = crate::ruleset::why::rules_that_matter(view, &named, false);
    // The walk re-evaluates the request (a failure only): the context each rule read, why a
    // rule was not evaluated, what overrides changed.
    let walk = crate::ruleset::evaluate_walked(book, &sent.0, &sent.1)
        .ok()
        .map(|(_, w)| w);
    let rules =
        crate::ruleset::why::explain_rules(Some(book), &sent.0, &sent.1, view, walk.as_ref(), &ids);
    let mut text = crate::ruleset::why::render(&rules, false, 0);
    if text.len() > MAX_EXPLANATION {
        let mut cut = MAX_EXPLANATION;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… (explanation cut at 4 KiB: `rulegate explain` prints it whole)\n");
    }
    format!("\nwhy:\n{text}")
}

type Slot = oneshot::Receiver<(Result<TraceView, TraceError>, Duration)>;

impl RunResult {
    /// Every case that has a result, with its suite, in suite order: what the reports walk
    /// (results are keyed by the plan's case id, the full name).
    pub(crate) fn walk<'a>(
        &'a self,
        suites: &'a [Suite],
    ) -> impl Iterator<Item = (&'a Suite, &'a Case, &'a CaseResult)> + 'a {
        suites
            .iter()
            .flat_map(move |s| self.in_suite(s).map(move |(c, r)| (s, c, r)))
    }

    /// The cases of one suite that have a result, with it.
    pub(crate) fn in_suite<'a>(
        &'a self,
        suite: &'a Suite,
    ) -> impl Iterator<Item = (&'a Case, &'a CaseResult)> + 'a {
        suite
            .cases
            .iter()
            .filter_map(move |c| Some((c, self.results.get(&c.full_name)?)))
    }

    /// The exit code for a finished run: could-not-run wins over failed.
    pub(crate) fn exit(&self) -> Exit {
        let errors = self
            .results
            .values()
            .any(|r| matches!(r.outcome, Outcome::Error { .. }));
        let failures = self
            .results
            .values()
            .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
        if errors || self.unexplained_failures > 0 {
            Exit::CouldNotRun
        } else if failures {
            Exit::Failed
        } else {
            Exit::Success
        }
    }
}

/// The runtime traces run on (two workers: a trace waits on the network or costs
/// microseconds; `--concurrency` bounds how many are in flight).
fn trace_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Runs the cases `plan` picks and prints libtest-style output.
pub(crate) fn run(
    suites: &[Suite],
    plan: &Plan,
    backend: &Backend,
    args: &Arguments,
    opts: &RunOptions,
) -> RunResult {
    let runtime = match trace_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return RunResult {
                unexplained_failures: 1,
                ..Default::default()
            };
        }
    };
    let results: Arc<Mutex<BTreeMap<String, CaseResult>>> = Arc::default();
    let semaphore = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut trials = Vec::new();
    for p in &plan.entries {
        let (suite, case) = Plan::case(suites, p);
        if let Some(reason) = p.skip_reason() {
            results.lock().expect("results lock").insert(
                p.id.clone(),
                CaseResult {
                    outcome: Outcome::Skipped {
                        reason: reason.to_string(),
                    },
                    duration: Duration::ZERO,
                    behaviour: None,
                    rules: Vec::new(),
                },
            );
        }
        match p.pick {
            Pick::Run => {
                let sent: Sent = Arc::new((case.request.clone(), case.extras.clone()));
                let slot = spawn_trace(&runtime, backend, &semaphore, &sent);
                // Where a failure points: the case's line, its suite's `name:` and its
                // tags (text from the suite file: one visible line each).
                let mut at = format!("{}:{}", suite.file.display(), case.line);
                if let Some(n) = suite.name.as_deref().filter(|n| !n.is_empty()) {
                    at.push_str(&format!(" (suite: {})", crate::escape::visible(n)));
                }
                if !case.tags.is_empty() {
                    at.push_str(&format!(
                        "\n  tags: {}",
                        crate::escape::visible(&case.tags.join(", "))
                    ));
                }
                let snap = case.snapshot.then(|| {
                    opts.snapshots
                        .clone()
                        .map(|store| (store, suite.file.clone()))
                });
                trials.push(trial(
                    case,
                    at,
                    (slot, sent),
                    results.clone(),
                    opts,
                    snap.flatten(),
                ));
            }
            // Not a trial at all: libtest would count it as run.
            Pick::TagFilteredOut | Pick::OtherPartition => {}
            // libtest-mimic still sees every case, for its listing and counts; none of these
            // runs (it applies the same arguments the plan was made from).
            _ => trials.push(
                Trial::test(p.id.clone(), || Ok(()))
                    .with_ignored_flag(case.ignore.is_some() || p.pick == Pick::OfflineOnly),
            ),
        }
    }
    let conclusion = libtest_mimic::run(args, trials);
    // A trace past its budget may still run on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    let results = std::mem::take(&mut *results.lock().expect("results lock"));
    let explained = results
        .values()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. } | Outcome::Error { .. }))
        .count() as u64;
    RunResult {
        unexplained_failures: conclusion.num_failed.saturating_sub(explained),
        results,
    }
}

/// Traces the cases `plan` picks against `backend` without checking expectations or printing
/// anything: what each did, or why it could not be traced. For a baseline.
pub(crate) fn behaviours(
    suites: &[Suite],
    plan: &Plan,
    backend: &Backend,
    opts: &RunOptions,
) -> BTreeMap<String, Result<Behaviour, TraceError>> {
    let mut out = BTreeMap::new();
    let runtime = match trace_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            for p in plan.to_run() {
                out.insert(
                    p.id.clone(),
                    Err(TraceError {
                        kind: crate::trace::TraceErrorKind::Transport,
                        message: format!("cannot start the async runtime: {e}"),
                        hint: None,
                        attempts: 0,
                    }),
                );
            }
            return out;
        }
    };
    let semaphore = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let slots: Vec<(String, Slot)> = plan
        .to_run()
        .map(|p| {
            let (_, c) = Plan::case(suites, p);
            let sent: Sent = Arc::new((c.request.clone(), c.extras.clone()));
            let slot = spawn_trace(&runtime, backend, &semaphore, &sent);
            (p.id.clone(), slot)
        })
        .collect();
    for (name, slot) in slots {
        let result = runtime.block_on(slot).map_or_else(
            |_| {
                Err(TraceError {
                    kind: crate::trace::TraceErrorKind::Transport,
                    message: "the trace task stopped unexpectedly".to_string(),
                    hint: None,
                    attempts: 1,
                })
            },
            |(r, _)| r.map(|v| Behaviour::of(&v)),
        );
        out.insert(name, result);
    }
    runtime.shutdown_background();
    out
}

/// A case's request and offline extras, shared by its trace task and (for an explanation)
/// its trial.
type Sent = Arc<(crate::trace::TraceRequest, crate::trace::Extras)>;

fn spawn_trace(
    rt: &tokio::runtime::Runtime,
    backend: &Backend,
    sem: &Arc<Semaphore>,
    sent: &Sent,
) -> Slot {
    let (tx, rx) = oneshot::channel();
    let backend = backend.clone();
    let sem = sem.clone();
    let sent = sent.clone();
    rt.spawn(async move {
        let _permit = sem.acquire_owned().await;
        let start = Instant::now();
        let result = backend
            .trace(&sent.0, &sent.1)
            .await
            .map(TraceView::from_result);
        let _ = tx.send((result, start.elapsed()));
    });
    rx
}

fn trial(
    case: &Case,
    at: String,
    (slot, sent): (Slot, Sent),
    results: Arc<Mutex<BTreeMap<String, CaseResult>>>,
    opts: &RunOptions,
    snap: Option<(Arc<snapshot::Store>, std::path::PathBuf)>,
) -> Trial {
    let case_name = case.name.clone();
    // Nothing is copied for an explanation: the request is shared with the trace task, the
    // rules named are read from the expectations when a failure asks.
    let explain = opts.explain.clone();
    let (color, coverage, keep) = (opts.color, opts.coverage, opts.behaviours);
    let name = case.full_name.clone();
    let expect = case.expect.clone();
    Trial::test(name.clone(), move || {
        let (result, duration) = slot.blocking_recv().unwrap_or_else(|_| {
            (
                Err(TraceError {
                    kind: crate::trace::TraceErrorKind::Transport,
                    message: "the trace task stopped unexpectedly".to_string(),
                    hint: None,
                    attempts: 1,
                }),
                Duration::ZERO,
            )
        });
        let behaviour = result.as_ref().ok().filter(|_| keep).map(Behaviour::of);
        let rules = match (&result, coverage) {
            (Ok(view), true) => view.rule_hits(),
            _ => Vec::new(),
        };
        let (outcome, msg) = match result {
            Err(error) => {
                let msg = format!("could not run: {error}");
                (Outcome::Error { error }, Some(msg))
            }
            Ok(view) => {
                let mut mismatches = expect::check(&expect, &view);
                // A snapshot case: the behaviour against the committed snapshot, its diff
                // after the expectations' own.
                let mut snap_diff = String::new();
                if let Some((store, file)) = &snap {
                    let actual = snapshot::render(&view);
                    if let snapshot::Check::Differs(old) = store.check(file, &case_name, &actual) {
                        let shown = snapshot::path_of(file);
                        mismatches.push(Mismatch {
                            key: "snapshot",
                            message: match &old {
                                None => format!(
                                    "snapshot: none yet in {} (`rulegate review` accepts the new one)",
                                    shown.display()
                                ),
                                Some(_) => format!(
                                    "snapshot: the behaviour differs from {} (`rulegate review` accepts the new one)",
                                    shown.display()
                                ),
                            },
                        });
                        snap_diff = diff::render(old.as_deref().unwrap_or(""), &actual, false);
                    }
                }
                if mismatches.is_empty() {
                    (Outcome::Passed, None)
                } else {
                    let (e, a) = expect::views(&expect, &view);
                    let mut plain = diff::render(&e, &a, false);
                    if !snap_diff.is_empty() {
                        if !plain.is_empty() {
                            plain.push('\n');
                        }
                        plain.push_str(&snap_diff);
                    }
                    // A failure about rules or the outcome ends with why (the JUnit body and
                    // the summary carry it too, through the diff).
                    let why = match &explain {
                        Some(book)
                            if mismatches.iter().any(|m| {
                                matches!(
                                    m.key,
                                    "status" | "action" | "matched" | "not_matched" | "location"
                                )
                            }) =>
                        {
                            explanation(book, &sent, &expect, &view)
                        }
                        _ => String::new(),
                    };
                    plain.push_str(&why);
                    let shown = if color && snap_diff.is_empty() {
                        diff::render(&e, &a, true) + &why
                    } else {
                        plain.clone()
                    };
                    let mut msg = format!("  --> {at}\n");
                    for m in &mismatches {
                        msg.push_str(&m.message);
                        msg.push('\n');
                    }
                    msg.push('\n');
                    msg.push_str(&shown);
                    (
                        Outcome::Failed {
                            mismatches,
                            diff: plain,
                        },
                        Some(msg),
                    )
                }
            }
        };
        results.lock().expect("results lock").insert(
            name.clone(),
            CaseResult {
                outcome,
                duration,
                behaviour,
                rules,
            },
        );
        match msg {
            None => Ok(()),
            Some(m) => Err(Failed::from(
                crate::escape::console(&crate::escape::scrub(&m)).into_owned(),
            )),
        }
    })
    .with_ignored_flag(case.ignore.is_some())
}
