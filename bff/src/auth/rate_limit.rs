//! Login attempts, limited per client address and per (username, address)
//! pair (GCRA from `governor`, keyed). Idle keys are forgotten by
//! `forget_idle`, which `startup` runs every minute.
//!
//! Keying the username's budget by the address too means a stranger's bad
//! logins spend only the stranger's own budget: the owner, signing in from
//! their usual address, is not locked out. Guessing one password from many
//! addresses is held back by each address's own budget and by the cost of
//! every attempt (Argon2id). Keys are small and fixed in kind: a valid
//! username (the caller checks it first) and an address, an IPv6 one cut
//! to its /64 (one host can hold a whole /64).

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The login limiters.
#[derive(Clone)]
pub struct LoginLimiter {
    by_pair: Arc<DefaultKeyedRateLimiter<(String, IpAddr)>>,
    by_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Sign-ups per address (each costs a hash, an account and a profile).
    signups: Arc<DefaultKeyedRateLimiter<IpAddr>>,
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

/// The limiter's key of an address: itself, or an IPv6 address's /64.
fn network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

impl LoginLimiter {
    pub fn new(
        per_username_per_min: u32,
        per_address_per_min: u32,
        signups_per_address_per_min: u32,
    ) -> Self {
        Self {
            by_pair: Arc::new(RateLimiter::keyed(per_minute(per_username_per_min))),
            by_address: Arc::new(RateLimiter::keyed(per_minute(per_address_per_min))),
            signups: Arc::new(RateLimiter::keyed(per_minute(signups_per_address_per_min))),
        }
    }

    /// Takes one sign-up from the address's budget; false when it is spent.
    pub fn allow_signup(&self, address: IpAddr) -> bool {
        self.signups.check_key(&network(address)).is_ok()
    }

    /// Takes one attempt from the address's budget and then from the
    /// (username, address) pair's; false when either is spent. `username`
    /// must be a valid one (`validation::username`).
    pub fn allow(&self, username: &str, address: IpAddr) -> bool {
        let address = network(address);
        if self.by_address.check_key(&address).is_err() {
            return false;
        }
        self.by_pair
            .check_key(&(username.to_owned(), address))
            .is_ok()
    }

    /// Forgets keys whose budget is full again (bounded memory).
    pub fn forget_idle(&self) {
        self.by_pair.retain_recent();
        self.by_address.retain_recent();
        self.signups.retain_recent();
    }

    /// Keys held now (both limiters).
    pub fn keys(&self) -> usize {
        self.by_pair.len() + self.by_address.len() + self.signups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_strangers_attempts_spend_only_the_strangers_budget() {
        let limiter = LoginLimiter::new(2, 100, 10); // burst 4 per pair
        for _ in 0..4 {
            assert!(limiter.allow("alice", ip("198.51.100.9")));
        }
        assert!(
            !limiter.allow("alice", ip("198.51.100.9")),
            "pair budget spent"
        );
        assert!(
            limiter.allow("alice", ip("203.0.113.7")),
            "the owner's address is unaffected"
        );
        assert!(
            limiter.allow("bob", ip("198.51.100.9")),
            "other usernames unaffected"
        );
    }

    #[test]
    fn an_address_budget_covers_every_username() {
        let limiter = LoginLimiter::new(100, 1, 10); // burst 2 per address
        assert!(limiter.allow("a", ip("10.0.0.9")));
        assert!(limiter.allow("b", ip("10.0.0.9")));
        assert!(!limiter.allow("c", ip("10.0.0.9")), "address budget spent");
        // A whole IPv6 /64 is one address; the next /64 is another.
        assert!(limiter.allow("a", ip("2001:db8:0:1::1")));
        assert!(limiter.allow("b", ip("2001:db8:0:1:ffff::2")));
        assert!(!limiter.allow("c", ip("2001:db8:0:1::3")));
        assert!(limiter.allow("c", ip("2001:db8:0:2::3")));
        // An IPv4 address mapped into IPv6 is the IPv4 address.
        assert!(!limiter.allow("d", ip("::ffff:10.0.0.9")));
    }

    #[test]
    fn sign_ups_have_their_own_budget_per_address() {
        let limiter = LoginLimiter::new(100, 100, 1); // burst 2
        assert!(limiter.allow_signup(ip("10.0.0.1")));
        assert!(limiter.allow_signup(ip("10.0.0.1")));
        assert!(!limiter.allow_signup(ip("10.0.0.1")));
        assert!(limiter.allow_signup(ip("10.0.0.2")));
        assert!(
            limiter.allow("a", ip("10.0.0.1")),
            "logins are counted apart"
        );
    }

    #[test]
    fn refused_attempts_store_no_pair_key() {
        let limiter = LoginLimiter::new(100, 1, 10);
        assert!(limiter.allow("a", ip("10.0.0.1")));
        assert!(limiter.allow("a", ip("10.0.0.1")));
        let before = limiter.keys();
        for i in 0..50 {
            assert!(!limiter.allow(&format!("user{i}"), ip("10.0.0.1")));
        }
        assert_eq!(limiter.keys(), before);
    }
}
