//! Login attempts, limited per username and per client address (GCRA from
//! `governor`, keyed). Idle keys are forgotten by `retain_recent`, which
//! `startup` runs every minute.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The two login limiters.
#[derive(Clone)]
pub struct LoginLimiter {
    by_username: Arc<DefaultKeyedRateLimiter<String>>,
    by_address: Arc<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimiter")
    }
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = n.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
    Quota::per_minute(n).allow_burst(burst)
}

impl LoginLimiter {
    pub fn new(per_username_per_min: u32, per_address_per_min: u32) -> Self {
        Self {
            by_username: Arc::new(RateLimiter::keyed(per_minute(per_username_per_min))),
            by_address: Arc::new(RateLimiter::keyed(per_minute(per_address_per_min))),
        }
    }

    /// Takes one attempt from both budgets; false when either is spent.
    pub fn allow(&self, username: &str, address: &str) -> bool {
        let by_address = self.by_address.check_key(&address.to_owned()).is_ok();
        let by_username = self.by_username.check_key(&username.to_owned()).is_ok();
        by_address && by_username
    }

    /// Forgets keys whose budget is full again (bounded memory).
    pub fn forget_idle(&self) {
        self.by_username.retain_recent();
        self.by_address.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_username_and_per_address() {
        let limiter = LoginLimiter::new(2, 100); // burst 4 per username
        for _ in 0..4 {
            assert!(limiter.allow("alice", "10.0.0.1"));
        }
        assert!(!limiter.allow("alice", "10.0.0.2"), "username budget spent");
        assert!(
            limiter.allow("bob", "10.0.0.1"),
            "other usernames unaffected"
        );

        let limiter = LoginLimiter::new(100, 1); // burst 2 per address
        assert!(limiter.allow("a", "10.0.0.9"));
        assert!(limiter.allow("b", "10.0.0.9"));
        assert!(!limiter.allow("c", "10.0.0.9"), "address budget spent");
    }
}
