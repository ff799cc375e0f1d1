//! Client-side rate limit: at most `limit` requests in any sliding `window` (the API allows
//! 1200 per 300 s per token). A request waits until the oldest of the last `limit` sends is
//! older than the window.

use std::collections::VecDeque;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// `N/SECONDS`, e.g. `1200/300`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            limit: 1200,
            window: Duration::from_secs(300),
        }
    }
}

/// A rate limit that does not read as REQUESTS/SECONDS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rate limit: write REQUESTS/SECONDS, e.g. 1200/300")]
pub(crate) struct RateLimitError(String);

impl FromStr for RateLimit {
    type Err = RateLimitError;

    fn from_str(s: &str) -> Result<Self, RateLimitError> {
        let bad = || RateLimitError(s.to_string());
        let (n, secs) = s.split_once('/').ok_or_else(bad)?;
        let limit: u32 = n.trim().parse().map_err(|_| bad())?;
        let secs: f64 = secs.trim().parse().map_err(|_| bad())?;
        if limit == 0 || !(secs > 0.0 && secs.is_finite() && secs < 1e9) {
            return Err(bad());
        }
        Ok(RateLimit {
            limit,
            window: Duration::from_secs_f64(secs),
        })
    }
}

/// The limiter shared by all requests of a run.
#[derive(Debug)]
pub(crate) struct Limiter {
    rate: RateLimit,
    sent: Mutex<VecDeque<Instant>>,
}

impl Limiter {
    pub(crate) fn new(rate: RateLimit) -> Self {
        Limiter {
            rate,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits in the window, then records it.
    pub(crate) async fn acquire(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.rate.window)
            {
                sent.pop_front();
            }
            if sent.len() < self.rate.limit as usize {
                sent.push_back(now);
                return;
            }
            let oldest = *sent.front().expect("full window is not empty");
            tokio::time::sleep_until(oldest + self.rate.window).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(
            "1200/300".parse::<RateLimit>().unwrap(),
            RateLimit::default()
        );
        assert_eq!(
            "5/0.5".parse::<RateLimit>().unwrap().window,
            Duration::from_millis(500)
        );
        assert!("0/10".parse::<RateLimit>().is_err());
        assert!("10".parse::<RateLimit>().is_err());
        assert!("10/-1".parse::<RateLimit>().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_window_without_real_sleeping() {
        let l = Limiter::new(RateLimit {
            limit: 2,
            window: Duration::from_secs(10),
        });
        let start = Instant::now();
        l.acquire().await;
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        l.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }
}
