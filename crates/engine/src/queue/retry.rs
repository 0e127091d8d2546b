use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Exponential backoff with jitter for transient failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts before a job is parked (the first run counts), for jobs enqueued without
    /// their own limit.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt.
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// Delay after the `attempt`-th failure (1-based): `initial × 2^(attempt-1)`, capped,
    /// then "equal jitter" — a random point in its upper half — so that jobs failing
    /// together (an ERP outage) do not all come back in the same instant.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let base = self
            .initial_delay
            .saturating_mul(1_u32 << exponent)
            .min(self.max_delay);
        let half = base / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Delay when the other side said how long to wait: that, plus up to 10 % so that
    /// throttled jobs spread out.
    pub fn after_hint(&self, retry_after: Duration) -> Duration {
        retry_after + retry_after.mul_f64(fastrand::f64() * 0.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(8));
            let late = policy.backoff(40);
            assert!(late >= Duration::from_secs(30) && late <= Duration::from_secs(60));
        }
    }

    #[test]
    fn jitter_spreads_retries() {
        let policy = RetryPolicy::default();
        let delays: std::collections::HashSet<_> = (0..20).map(|_| policy.backoff(4)).collect();
        assert!(delays.len() > 10);
    }
}
