//! Backends answer one question, `trace(request) -> result`, so the harness does not care
//! whether Cloudflare or the local engine answers.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cloudflare::Client;
use crate::ruleset::{self, Rulebook};
use crate::trace::{Extras, TraceRequest, TraceResult};
use crate::trace::{TraceError, TraceErrorKind};

/// Which backend a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BackendKind {
    /// The offline engine over the project's rulesets (the default).
    Local,
    /// The live Request Trace API, or anything that speaks it (`--api-url`).
    Cloudflare,
}

/// The offline engine over a project's compiled rulesets; collects warnings once per run.
#[derive(Debug)]
pub(crate) struct Local {
    book: Arc<Rulebook>,
    /// The project directory, for reports.
    dir: String,
    /// What the rulesets are and where they came from, for reports.
    source: String,
    /// How long one trace may evaluate.
    budget: Duration,
    warnings: Mutex<BTreeSet<String>>,
}

impl Local {
    /// The engine over `book`, read from `dir`; `source` describes the rulesets for reports.
    pub(crate) fn new(book: Arc<Rulebook>, dir: String, source: String, budget: Duration) -> Self {
        Local {
            book,
            dir,
            source,
            budget,
            warnings: Mutex::default(),
        }
    }

    /// Traces `req`. When the rules hold a heavy regex (`rules::cost`), off the async workers
    /// within the time budget, so a pathological expression (a huge bounded repetition against
    /// a huge value) ends as an error, not a hang; otherwise inline, where a trace costs
    /// microseconds and a hand-off to another thread would cost more than the trace.
    pub(crate) async fn trace_bounded(
        self: &Arc<Self>,
        req: &TraceRequest,
        extras: &Extras,
    ) -> Result<TraceResult, TraceError> {
        if !self.book.cost.needs_budget(|| input_bytes(req, extras)) {
            return self.trace(req, extras);
        }
        let (me, req, extras) = (self.clone(), req.clone(), extras.clone());
        // Set when the budget runs out: the evaluation stops at its next rule.
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = cancel.clone();
        let job = tokio::task::spawn_blocking(move || me.trace_until(&req, &extras, &stop));
        let fail = |message: String| TraceError {
            kind: TraceErrorKind::Request,
            message,
            hint: None,
            attempts: 1,
        };
        let answer = tokio::time::timeout(self.budget, job).await;
        if answer.is_err() {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        match answer {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(fail(format!("the trace stopped unexpectedly: {e}"))),
            Err(_) => Err(TraceError {
                hint: Some(
                    "an expression is too costly for this request (a large bounded repetition in a regex against a long value?); raise --trace-budget or simplify the rule"
                        .into(),
                ),
                ..fail(format!(
                    "the trace took longer than its budget of {:?}",
                    self.budget
                ))
            }),
        }
    }

    pub(crate) fn trace(
        &self,
        req: &TraceRequest,
        extras: &Extras,
    ) -> Result<TraceResult, TraceError> {
        self.trace_until(req, extras, &std::sync::atomic::AtomicBool::new(false))
    }

    /// [`Local::trace`], stopped between rules once `cancel` is set.
    fn trace_until(
        &self,
        req: &TraceRequest,
        extras: &Extras,
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<TraceResult, TraceError> {
        match ruleset::evaluate_until(&self.book, req, extras, cancel) {
            Ok((result, warnings)) => {
                if !warnings.is_empty() {
                    self.lock().extend(warnings);
                }
                Ok(result)
            }
            Err(e) => Err(TraceError {
                kind: TraceErrorKind::Request,
                message: format!("cannot trace the request: {e}"),
                hint: None,
                attempts: 1,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A poisoned set of warnings is still a set of warnings.
        self.warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every distinct warning of the run so far.
    pub(crate) fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock()).into_iter().collect()
    }
}

/// How many bytes of request data a trace reads at most: what a regex may search.
fn input_bytes(req: &TraceRequest, extras: &Extras) -> usize {
    let body = req.body.as_ref().map_or(0, |b| {
        b.plain_text.as_ref().map_or(0, String::len)
            + b.base64.as_ref().map_or(0, String::len)
            + b.json.as_ref().map_or(0, |j| j.to_string().len())
    });
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    };
    let fields = extras
        .fields
        .as_ref()
        .map_or(0, |f| serde_json::to_string(f).map_or(0, |t| t.len()));
    req.url.len() + pairs(&req.headers) + pairs(&req.cookies) + body + fields
}

/// A configured backend, shared by every case of a run.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// The live Request Trace API (or anything that speaks it, e.g. `rulegate serve`).
    Cloudflare(Arc<Client>),
    /// The offline engine.
    Local(Arc<Local>),
}

impl Backend {
    pub(crate) async fn trace(
        &self,
        req: &TraceRequest,
        extras: &Extras,
    ) -> Result<TraceResult, TraceError> {
        match self {
            Backend::Cloudflare(c) => c.trace(req, extras).await,
            Backend::Local(l) => l.trace_bounded(req, extras).await,
        }
    }

    /// Name and target for reports, e.g. `cloudflare (https://…/trace)`. Holds no secret.
    pub(crate) fn describe(&self) -> String {
        match self {
            Backend::Cloudflare(c) => format!("cloudflare ({})", c.endpoint()),
            Backend::Local(l) => format!("local ({})", l.dir),
        }
    }

    /// Where the rules a trace runs through come from, for reports.
    pub(crate) fn rulesets(&self) -> String {
        match self {
            Backend::Cloudflare(_) => "the configuration deployed behind the API".to_string(),
            Backend::Local(l) => l.source.clone(),
        }
    }

    /// Warnings to print once after a run.
    pub(crate) fn warnings(&self) -> Vec<String> {
        match self {
            Backend::Local(l) => l.take_warnings(),
            Backend::Cloudflare(_) => Vec::new(),
        }
    }
}
