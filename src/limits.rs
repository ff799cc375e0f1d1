//! Limits and ranges that flags and `rulegate.yaml` share, so a value is accepted or refused
//! the same way wherever it is written. A leaf module.

use std::time::Duration;

/// The largest timeout or delay accepted, in seconds (one day).
pub(crate) const MAX_SECONDS: f64 = 86_400.0;

/// A number of seconds, if it is finite and in `0..MAX_SECONDS`.
pub(crate) fn seconds(v: f64) -> Option<Duration> {
    (v.is_finite() && (0.0..MAX_SECONDS).contains(&v)).then(|| Duration::from_secs_f64(v))
}

/// The default per-request timeout of the live API client.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Traces in flight at once unless set.
pub(crate) const DEFAULT_CONCURRENCY: usize = 8;

/// Retries of a failed API request unless set.
pub(crate) const DEFAULT_RETRIES: u32 = 4;

/// The largest number of retries accepted.
pub(crate) const MAX_RETRIES: u32 = 100;

/// The longest case name accepted, in characters. Test names are printed, aligned and
/// written to JUnit; a name longer than a screenful is a mistake (libtest's formatter panics
/// on names near 64 K characters).
pub(crate) const MAX_CASE_NAME_CHARS: usize = 1_000;
/// Trials one `matrix:` case may expand to.
pub(crate) const MAX_MATRIX_TRIALS: usize = 1_000;

/// The largest API response body read, in bytes. A trace is a few kilobytes and a list of
/// 10,000 items about a megabyte; a larger answer is refused rather than held in memory.
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// `rulegate serve`: time to receive a request's headers before the connection is closed.
pub(crate) const SERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// `rulegate serve`: time for a whole request (body, trace, answer); then 408 in the envelope.
pub(crate) const SERVE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The local engine: time one trace may evaluate (off the async workers) before it is an error
/// (`--trace-budget`, `trace_budget:`). A trace takes microseconds; only a pathological regex
/// on a huge value comes near this.
pub(crate) const DEFAULT_TRACE_BUDGET: Duration = Duration::from_secs(10);

/// The trace budget from a flag or file value (default [`DEFAULT_TRACE_BUDGET`]), at least a
/// millisecond; `Err` with the value when it is no number of seconds.
pub(crate) fn trace_budget(seconds_given: Option<f64>) -> Result<Duration, f64> {
    match seconds_given {
        Some(s) => seconds(s).ok_or(s),
        None => Ok(DEFAULT_TRACE_BUDGET),
    }
    .map(|d| d.max(Duration::from_millis(1)))
}

/// `rulegate serve`: connections open at once; more wait to be accepted.
pub(crate) const SERVE_MAX_CONNECTIONS: usize = 256;

/// `rulegate serve`: the largest request body (413 past it).
pub(crate) const SERVE_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// `rulegate serve`: request headers accepted (431 past it).
pub(crate) const SERVE_MAX_HEADERS: usize = 100;

/// `rulegate serve`: the longest request URI (414 in the envelope past it).
pub(crate) const SERVE_MAX_URI_BYTES: usize = 16 * 1024;

/// `rulegate serve`: the most header bytes a request may carry (431 in the envelope past it).
pub(crate) const SERVE_MAX_HEADER_BYTES: usize = 64 * 1024;

/// `rulegate serve`: how long open connections get to finish after Ctrl-C.
pub(crate) const SERVE_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_refuses_what_duration_cannot_hold() {
        assert_eq!(seconds(1.5), Some(Duration::from_millis(1500)));
        for bad in [-1.0, 1e300, f64::NAN, f64::INFINITY, MAX_SECONDS] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
    }
}
