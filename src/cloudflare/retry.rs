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

/// The longest wait a `Retry-After` value is read as; longer values are clamped to it (and
/// then refused by [`RetryPolicy::max_retry_after`], which is shorter).
pub(crate) const RETRY_AFTER_CLAMP: Duration = Duration::from_secs(86_400);

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate and
/// the two obsolete forms) read against `now`; a date in the past is no wait. Fractional
/// seconds are accepted too. Anything else is `None`; no value panics, however large.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still a (very long) number of seconds.
        return Some(
            v.parse::<u64>()
                .map_or(RETRY_AFTER_CLAMP, Duration::from_secs)
                .min(RETRY_AFTER_CLAMP),
        );
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(RETRY_AFTER_CLAMP.as_secs_f64())));
    }
    let date = httpdate::parse_http_date(v).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CLAMP),
    )
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

    fn at(v: &str) -> Option<Duration> {
        // 2015-10-21T07:20:00Z
        parse_retry_after(
            v,
            std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_000),
        )
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(at("2"), Some(Duration::from_secs(2)));
        assert_eq!(at(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(at("soon"), None);
        assert_eq!(at(""), None);
        assert_eq!(at("-3"), None);
    }

    #[test]
    fn retry_after_dates_are_read_against_now() {
        assert_eq!(
            at("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::from_secs(480))
        );
        assert_eq!(
            at("Wednesday, 21-Oct-15 07:21:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            at("Wed Oct 21 07:20:30 2015"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            at("Wed, 21 Oct 2015 07:00:00 GMT"),
            Some(Duration::ZERO),
            "past: no wait"
        );
        assert_eq!(at("Wed, 21 Oct 2099 07:00:00 GMT"), Some(RETRY_AFTER_CLAMP));
    }

    #[test]
    fn huge_retry_after_values_are_clamped_not_panics() {
        for v in [
            "1e20",
            "1e300",
            "100000000000000000000000",
            "18446744073709551616",
        ] {
            assert_eq!(at(v), Some(RETRY_AFTER_CLAMP), "{v}");
        }
        assert_eq!(at("inf"), None);
        assert_eq!(at("NaN"), None);
        // The policy then refuses to wait that long: the case fails instead of hanging.
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, Failure::Status(429, at("1e300")), 0.5), None);
    }

    proptest::proptest! {
        #[test]
        fn retry_after_never_panics(s in "\\PC{0,40}") {
            let _ = at(&s);
        }

        #[test]
        fn retry_after_numbers_never_panic(x in proptest::num::f64::ANY) {
            let _ = at(&x.to_string());
            let _ = at(&format!("{x:e}"));
        }
    }
}
