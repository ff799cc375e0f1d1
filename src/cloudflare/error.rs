//! The REST layer's error: a request to the API that did not give an answer (Cloudflare's
//! error codes, an HTTP status, a timeout, an answer of another shape). A trace that fails
//! this way becomes a [`TraceError`] of the same kind; `pull` reports it as it is.

use std::fmt;

use crate::trace::{TraceError, TraceErrorKind};

/// Why a request to the API failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiErrorKind {
    /// `success: false` from the API, with its codes.
    Api {
        http_status: u16,
        codes: Vec<i64>,
    },
    /// An HTTP error status with no API envelope.
    Http(u16),
    Timeout,
    Connect,
    /// The response was not the documented envelope, or not the shape asked for.
    Malformed,
    /// Any other transport problem.
    Transport,
}

/// A request to the API that failed. The message never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) struct ApiError {
    pub kind: ApiErrorKind,
    pub message: String,
    pub hint: Option<String>,
    pub attempts: u32,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The same words a trace error has: they are one when a trace fails.
        write!(f, "{}", TraceError::from(self.clone()))
    }
}

impl ApiError {
    /// Whether the API refused the credentials themselves (wrong, malformed or unauthorized
    /// for the account), which no later request can change.
    pub(crate) fn is_auth(&self) -> bool {
        match &self.kind {
            ApiErrorKind::Api { http_status, codes } => {
                codes
                    .iter()
                    .any(|c| matches!(c, 10000 | 6003 | 6111 | 6102 | 6103 | 9109))
                    || (codes.is_empty() && matches!(http_status, 401 | 403))
            }
            ApiErrorKind::Http(status) => matches!(status, 401 | 403),
            _ => false,
        }
    }
}

impl From<ApiError> for TraceError {
    fn from(e: ApiError) -> TraceError {
        TraceError {
            kind: match e.kind {
                ApiErrorKind::Api { http_status, codes } => {
                    TraceErrorKind::Api { http_status, codes }
                }
                ApiErrorKind::Http(s) => TraceErrorKind::Http(s),
                ApiErrorKind::Timeout => TraceErrorKind::Timeout,
                ApiErrorKind::Connect => TraceErrorKind::Connect,
                ApiErrorKind::Malformed => TraceErrorKind::Malformed,
                ApiErrorKind::Transport => TraceErrorKind::Transport,
            },
            message: e.message,
            hint: e.hint,
            attempts: e.attempts,
        }
    }
}
