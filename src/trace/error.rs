//! Why a case could not be traced: the one error of every backend (the live API client, the
//! local engine, `rulegate serve` as a client sees it), the runner and the reports.

use std::fmt;

/// Why a case could not be traced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TraceErrorKind {
    /// `success: false` from the API, with its codes.
    Api {
        http_status: u16,
        codes: Vec<i64>,
    },
    /// An HTTP error status with no API envelope.
    Http(u16),
    Timeout,
    Connect,
    /// The response was not the documented envelope.
    Malformed,
    /// The request itself cannot be traced (a bad URL, a field value of the wrong type).
    Request,
    /// Any other transport problem.
    Transport,
}

/// A trace that could not be completed. The message never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) struct TraceError {
    pub kind: TraceErrorKind,
    pub message: String,
    pub hint: Option<String>,
    pub attempts: u32,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message may quote a server's answer or a file: one line, controls visible.
        write!(f, "{}", crate::escape::visible(&self.message))?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {}", crate::escape::visible(h))?;
        }
        Ok(())
    }
}
