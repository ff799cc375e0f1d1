//! Backends answer one question, `trace(request) -> result`, so the harness does not care
//! whether Cloudflare or the local engine answers.

use std::sync::Arc;

use crate::cloudflare::{Client, TraceError};
use crate::trace::{TraceRequest, TraceResult};

/// A configured backend, shared by every case of a run.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The live Request Trace API (or anything that speaks it, e.g. `--api-url` to a test server).
    Cloudflare(Arc<Client>),
}

impl Backend {
    pub async fn trace(&self, req: &TraceRequest) -> Result<TraceResult, TraceError> {
        match self {
            Backend::Cloudflare(c) => c.trace(req).await,
        }
    }

    /// Name and target for reports, e.g. `cloudflare (https://…/trace)`. Holds no secret.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cloudflare(c) => format!("cloudflare ({})", c.endpoint()),
        }
    }
}
