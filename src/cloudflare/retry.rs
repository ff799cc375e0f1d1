//! When to retry and how long to wait: exponential backoff with jitter, `Retry-After` honoured.
//! Pure functions over their inputs, so the policy is tested without sleeping.

use std::time::Duration;

/// Retry settings of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff; doubles each attempt.
    pub base: Duration,
    /// No backoff is longer than this.
    pub cap: Duration,
    /// A `Retry-After` longer than this is an error rather than a wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 4,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// HTTP status with an optional `Retry-After`.
    Status(u16, Option<Duration>),
    Timeout,
    Connect,
    /// Anything else (a malformed body, a 4xx API error): never retried.
    Fatal,
}

impl RetryPolicy {
    /// True when `failure` is worth another attempt.
    pub(crate) fn retryable(failure: Failure) -> bool {
        match failure {
            Failure::Status(s, _) => s == 408 || s == 429 || (500..=599).contains(&s),
            Failure::Timeout | Failure::Connect => true,
            Failure::Fatal => false,
        }
    }

    /// How long to wait before retry number `attempt` (0 = the first retry), or `None` to give
    /// up. `jitter` is a number in [0, 1): the wait is between half and all of the backoff.
    pub(crate) fn delay(&self, attempt: u32, failure: Failure, jitter: f64) -> Option<Duration> {
        if attempt >= self.retries || !Self::retryable(failure) {
            return None;
        }
        if let Failure::Status(_, Some(after)) = failure {
            return (after <= self.max_retry_after).then_some(after);
        }
        let exp = self.base.saturating_mul(1u32 << attempt.min(20));
        let backoff = exp.min(self.cap);
        Some(backoff.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

/// Parses `Retry-After`: delta seconds (the API's form) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy {
            retries: 10,
            ..Default::default()
        };
        let f = Failure::Status(503, None);
        assert_eq!(p.delay(0, f, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(p.delay(0, f, 0.999_999).map(|d| d.as_millis()), Some(999));
        assert_eq!(p.delay(1, f, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(3, f, 1.0), Some(Duration::from_secs(8)));
        assert_eq!(p.delay(9, f, 1.0), Some(Duration::from_secs(30)));
    }

    #[test]
    fn retry_after_wins_and_is_bounded() {
        let p = RetryPolicy::default();
        let after = Failure::Status(429, Some(Duration::from_secs(7)));
        assert_eq!(p.delay(0, after, 0.3), Some(Duration::from_secs(7)));
        let too_long = Failure::Status(429, Some(Duration::from_secs(3600)));
        assert_eq!(p.delay(0, too_long, 0.3), None);
    }

    #[test]
    fn what_is_retried() {
        let p = RetryPolicy::default();
        for f in [
            Failure::Status(429, None),
            Failure::Status(500, None),
            Failure::Status(408, None),
            Failure::Timeout,
            Failure::Connect,
        ] {
            assert!(p.delay(0, f, 0.0).is_some(), "{f:?}");
        }
        for f in [
            Failure::Status(400, None),
            Failure::Status(403, None),
            Failure::Fatal,
        ] {
            assert!(p.delay(0, f, 0.0).is_none(), "{f:?}");
        }
        assert!(
            p.delay(4, Failure::Timeout, 0.0).is_none(),
            "retries are bounded"
        );
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
