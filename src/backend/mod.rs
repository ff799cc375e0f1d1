//! Backends answer one question, `trace(request) -> result`, so the harness does not care
//! whether Cloudflare or the local engine answers.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::cloudflare::{Client, TraceError, TraceErrorKind};
use crate::project::Project;
use crate::ruleset::{self, Extras};
use crate::trace::{TraceRequest, TraceResult};

/// The offline engine over a loaded project; collects warnings once per run.
#[derive(Debug)]
pub struct Local {
    pub project: Arc<Project>,
    warnings: Mutex<BTreeSet<String>>,
}

impl Local {
    pub fn new(project: Arc<Project>) -> Self {
        Local {
            project,
            warnings: Mutex::default(),
        }
    }

    pub fn trace(&self, req: &TraceRequest, extras: &Extras) -> Result<TraceResult, TraceError> {
        match ruleset::evaluate(&self.project, req, extras) {
            Ok((result, warnings)) => {
                if !warnings.is_empty() {
                    self.warnings
                        .lock()
                        .expect("warnings lock")
                        .extend(warnings);
                }
                Ok(result)
            }
            Err(message) => Err(TraceError {
                kind: TraceErrorKind::Malformed,
                message: format!("cannot trace the request: {message}"),
                hint: None,
                attempts: 1,
            }),
        }
    }

    /// Every distinct warning of the run so far.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().expect("warnings lock"))
            .into_iter()
            .collect()
    }
}

/// A configured backend, shared by every case of a run.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The live Request Trace API (or anything that speaks it, e.g. `rulegate serve`).
    Cloudflare(Arc<Client>),
    /// The offline engine.
    Local(Arc<Local>),
}

impl Backend {
    pub async fn trace(
        &self,
        req: &TraceRequest,
        extras: &Extras,
    ) -> Result<TraceResult, TraceError> {
        match self {
            Backend::Cloudflare(c) => c.trace(req, extras).await,
            Backend::Local(l) => l.trace(req, extras),
        }
    }

    /// Name and target for reports, e.g. `cloudflare (https://…/trace)`. Holds no secret.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cloudflare(c) => format!("cloudflare ({})", c.endpoint()),
            Backend::Local(l) => format!("local ({})", l.project.dir.display()),
        }
    }

    /// Warnings to print once after a run.
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Backend::Local(l) => l.take_warnings(),
            Backend::Cloudflare(_) => Vec::new(),
        }
    }
}
