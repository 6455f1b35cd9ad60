//! Exponential backoff with jitter, as an iterator of delays with a reset (kube-runtime's shape).
//!
//! Defaults, documented for operators:
//! - a failed apply of one revision is retried after 15 s, 30 s, 1 min, 2 min, 4 min (±20 %),
//!   then not again until the revision or the stack's settings change ([`Backoff::apply`]);
//! - a source that cannot be fetched is tried again after its interval, doubling up to 10 min
//!   (±20 %), for ever ([`Backoff::fetch`]); one success resets it;
//! - a reconcile that cannot reach the daemon (or read the stack's lock) is tried again after
//!   5 s, doubling up to 5 min ([`Backoff::errors`]); one success resets it;
//! - the drift event stream reconnects after 1 s, doubling up to 30 s ([`Backoff::events`]).

use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    /// Delays handed out before the iterator ends (`None`: never ends).
    limit: Option<u32>,
    /// Each delay is spread by ± this fraction, so many watchers do not retry in step.
    jitter: f64,
    attempt: u32,
}

impl Backoff {
    #[must_use]
    pub fn new(first: Duration, max: Duration, limit: Option<u32>) -> Self {
        Self {
            first,
            max,
            limit,
            jitter: 0.2,
            attempt: 0,
        }
    }

    /// For a failed apply: five retries, then give the revision up.
    #[must_use]
    pub fn apply() -> Self {
        Self::new(Duration::from_secs(15), Duration::from_secs(240), Some(5))
    }

    /// For a source that cannot be fetched: from its poll interval up to 10 minutes.
    #[must_use]
    pub fn fetch(interval: Duration) -> Self {
        Self::new(interval, Duration::from_secs(600).max(interval), None)
    }

    /// For a daemon that does not answer a reconcile.
    #[must_use]
    pub fn errors() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(300), None)
    }

    /// For the event stream.
    #[must_use]
    pub fn events() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(30), None)
    }

    /// Without jitter, for tests that check exact delays.
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = 0.0;
        self
    }

    /// Failures so far.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Start again from the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Whether the delays are used up.
    #[must_use]
    pub fn is_exhausted(&self) -> bool {
        self.limit.is_some_and(|l| self.attempt >= l)
    }

    fn base(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(30));
        self.first.saturating_mul(factor).min(self.max)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.is_exhausted() {
            return None;
        }
        let base = self.base();
        self.attempt += 1;
        let spread = 1.0 + self.jitter * (fastrand::f64() * 2.0 - 1.0);
        Some(base.mul_f64(spread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_retries_double_up_to_the_cap_then_give_up() {
        let delays: Vec<u64> = Backoff::apply()
            .without_jitter()
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(delays, [15, 30, 60, 120, 240]);
    }

    #[test]
    fn fetch_retries_never_end_and_stay_under_the_cap() {
        let mut backoff = Backoff::fetch(Duration::from_secs(60)).without_jitter();
        let delays: Vec<u64> = backoff.by_ref().take(8).map(|d| d.as_secs()).collect();
        assert_eq!(delays, [60, 120, 240, 480, 600, 600, 600, 600]);
        backoff.reset();
        assert_eq!(backoff.next(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..200 {
            let d = Backoff::apply().next().unwrap().as_secs_f64();
            assert!((12.0..=18.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn a_huge_attempt_count_does_not_overflow() {
        let mut backoff = Backoff::fetch(Duration::from_secs(1)).without_jitter();
        backoff.attempt = 1000;
        assert_eq!(backoff.next(), Some(Duration::from_secs(600)));
    }
}
