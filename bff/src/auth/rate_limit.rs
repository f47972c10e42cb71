//! Every rate limit of the bff, keyed (GCRA from `governor`): login attempts
//! per client address and per (username, address) pair, sign-ups per
//! address, group creations per user, gateway tokens per session. Idle keys
//! are forgotten by `forget_idle`, which `startup` runs every minute, and
//! every refusal is counted in `limiter_rejections_total{limit}`.
//!
//! Keying the username's budget by the address too means a stranger's bad
//! logins spend only the stranger's own budget: the owner, signing in from
//! their usual address, is not locked out. Guessing one password from many
//! addresses is held back by each address's own budget and by the cost of
//! every attempt (Argon2id). Keys are small and fixed in kind: a valid
//! username (the caller checks it first), an address (an IPv6 one cut to
//! its /64: one host can hold a whole /64), a user id, a session's hash.
//!
//! The budgets are per bff instance: behind N instances a client gets up to
//! N times each (a shared store would make them global).
//!
//! The clock is a type parameter: the service runs on governor's default
//! (monotonic) clock, the tests on a fake one they move by hand, so a test
//! of "refused, then allowed again a minute later" never waits a minute
//! and never flips on a slow machine.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

use actors_common::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use prometheus::{IntCounterVec, Opts, Registry};

/// Per-minute budgets (each bursts to twice its rate).
#[derive(Clone, Copy, Debug)]
pub struct Budgets {
    pub login_per_username: u32,
    pub login_per_address: u32,
    pub signup_per_address: u32,
    pub groups_per_user: u32,
    pub ws_tokens_per_session: u32,
}

/// Which budget refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    LoginAddress,
    LoginPair,
    Signup,
    Groups,
    WsTokens,
}

impl Limit {
    fn label(self) -> &'static str {
        match self {
            Limit::LoginAddress => "login_address",
            Limit::LoginPair => "login_username_address",
            Limit::Signup => "signup_address",
            Limit::Groups => "group_creations_user",
            Limit::WsTokens => "ws_tokens_session",
        }
    }
}

/// One keyed limiter on clock `C`.
type Keyed<K, C> =
    Arc<RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>>;

/// The limiters, on clock `C`.
#[derive(Clone)]
pub struct Limits<C: Clock = DefaultClock> {
    by_pair: Keyed<(String, IpAddr), C>,
    by_address: Keyed<IpAddr, C>,
    /// Sign-ups per address (each costs a hash, an account and a profile).
    signups: Keyed<IpAddr, C>,
    /// Group creations per user (each may name thousands of people).
    groups: Keyed<UserId, C>,
    /// Gateway tokens per session (SHA-256 of its id).
    ws_tokens: Keyed<Vec<u8>, C>,
    rejected: IntCounterVec,
}

impl<C: Clock> std::fmt::Debug for Limits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limits")
    }
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = n.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
    Quota::per_minute(n).allow_burst(burst)
}

/// A keyed limiter of `n` a minute (see [`per_minute`]) on `clock`.
fn keyed<K: std::hash::Hash + Eq + Clone, C: Clock + Clone>(n: u32, clock: &C) -> Keyed<K, C> {
    Arc::new(RateLimiter::dashmap_with_clock(
        per_minute(n),
        clock.clone(),
    ))
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

impl Limits {
    /// The limiters on the monotonic clock.
    pub fn new(budgets: Budgets, registry: &Registry) -> Self {
        Self::with_clock(budgets, registry, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limits<C> {
    /// The limiters on `clock`.
    /// The counter's name and label are constants: registering cannot fail.
    #[allow(clippy::expect_used)]
    pub fn with_clock(budgets: Budgets, registry: &Registry, clock: C) -> Self {
        let rejected = service_kit::health::register(
            registry,
            IntCounterVec::new(
                Opts::new(
                    "limiter_rejections_total",
                    "Requests refused with 429 by a rate limit, by limit",
                ),
                &["limit"],
            )
            .expect("valid counter vec"),
        );
        Self {
            by_pair: keyed(budgets.login_per_username, &clock),
            by_address: keyed(budgets.login_per_address, &clock),
            signups: keyed(budgets.signup_per_address, &clock),
            groups: keyed(budgets.groups_per_user, &clock),
            ws_tokens: keyed(budgets.ws_tokens_per_session, &clock),
            rejected,
        }
    }

    fn counted(&self, allowed: bool, limit: Limit) -> bool {
        if !allowed {
            self.rejected.with_label_values(&[limit.label()]).inc();
        }
        allowed
    }

    /// Takes one sign-up from the address's budget; false when it is spent.
    pub fn allow_signup(&self, address: IpAddr) -> bool {
        let ok = self.signups.check_key(&network(address)).is_ok();
        self.counted(ok, Limit::Signup)
    }

    /// Takes one attempt from the address's budget and then from the
    /// (username, address) pair's; false when either is spent. `username`
    /// must be a valid one (`validation::username`).
    pub fn allow(&self, username: &str, address: IpAddr) -> bool {
        let address = network(address);
        if self.by_address.check_key(&address).is_err() {
            return self.counted(false, Limit::LoginAddress);
        }
        let ok = self
            .by_pair
            .check_key(&(username.to_owned(), address))
            .is_ok();
        self.counted(ok, Limit::LoginPair)
    }

    /// Takes one group creation from the user's budget.
    pub fn allow_group(&self, user: UserId) -> bool {
        let ok = self.groups.check_key(&user).is_ok();
        self.counted(ok, Limit::Groups)
    }

    /// Takes one gateway token from the session's budget.
    pub fn allow_ws_token(&self, session_hash: &[u8]) -> bool {
        let ok = self.ws_tokens.check_key(&session_hash.to_vec()).is_ok();
        self.counted(ok, Limit::WsTokens)
    }

    /// Forgets keys whose budget is full again (bounded memory).
    pub fn forget_idle(&self) {
        self.by_pair.retain_recent();
        self.by_address.retain_recent();
        self.signups.retain_recent();
        self.groups.retain_recent();
        self.ws_tokens.retain_recent();
    }

    /// Keys held now (every limiter).
    pub fn keys(&self) -> usize {
        self.by_pair.len()
            + self.by_address.len()
            + self.signups.len()
            + self.groups.len()
            + self.ws_tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Limiters on a clock that stands still until a test moves it.
    fn limits_at(
        login_per_username: u32,
        login_per_address: u32,
        signup_per_address: u32,
    ) -> (Limits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limits = Limits::with_clock(
            Budgets {
                login_per_username,
                login_per_address,
                signup_per_address,
                groups_per_user: 1,
                ws_tokens_per_session: 1,
            },
            &Registry::new(),
            clock.clone(),
        );
        (limits, clock)
    }

    fn limits(
        login_per_username: u32,
        login_per_address: u32,
        signup_per_address: u32,
    ) -> Limits<FakeRelativeClock> {
        limits_at(login_per_username, login_per_address, signup_per_address).0
    }

    #[test]
    fn a_spent_budget_comes_back_at_its_rate_and_idle_keys_are_forgotten() {
        // 2 a minute, burst 4: one attempt back every 30 s.
        let (limiter, clock) = limits_at(2, 100, 10);
        let address = ip("198.51.100.9");
        let allowed = (0..6).filter(|_| limiter.allow("alice", address)).count();
        assert_eq!(allowed, 4, "the burst, then refusals");
        clock.advance(Duration::from_secs(29));
        assert!(!limiter.allow("alice", address), "not back before 30 s");
        clock.advance(Duration::from_secs(1));
        assert!(limiter.allow("alice", address), "one back at 30 s");
        assert!(!limiter.allow("alice", address), "and only one");
        assert!(limiter.keys() > 0);
        limiter.forget_idle();
        assert!(limiter.keys() > 0, "a key still spending is kept");
        // Five attempts, 30 s each: full again 120 s from now; forgotten
        // once full for another interval.
        clock.advance(Duration::from_secs(119));
        limiter.forget_idle();
        assert!(limiter.keys() > 0, "not full yet, still remembered");
        clock.advance(Duration::from_secs(31));
        limiter.forget_idle();
        assert_eq!(limiter.keys(), 0, "full budgets are forgotten");
        let allowed = (0..6).filter(|_| limiter.allow("alice", address)).count();
        assert_eq!(allowed, 4, "a forgotten key starts with a full burst");
    }

    #[test]
    fn a_strangers_attempts_spend_only_the_strangers_budget() {
        let limiter = limits(2, 100, 10); // burst 4 per pair
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
        let limiter = limits(100, 1, 10); // burst 2 per address
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
        let limiter = limits(100, 100, 1); // burst 2
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
        let limiter = limits(100, 1, 10);
        assert!(limiter.allow("a", ip("10.0.0.1")));
        assert!(limiter.allow("a", ip("10.0.0.1")));
        let before = limiter.keys();
        for i in 0..50 {
            assert!(!limiter.allow(&format!("user{i}"), ip("10.0.0.1")));
        }
        assert_eq!(limiter.keys(), before);
    }

    #[test]
    fn group_and_token_budgets_are_per_user_and_per_session() {
        let limiter = limits(100, 100, 100); // burst 2 each
        let (alice, bob) = (UserId::new_random(), UserId::new_random());
        assert!(limiter.allow_group(alice));
        assert!(limiter.allow_group(alice));
        assert!(!limiter.allow_group(alice), "alice's budget spent");
        assert!(limiter.allow_group(bob), "bob's is his own");
        assert!(limiter.allow_ws_token(b"session-a"));
        assert!(limiter.allow_ws_token(b"session-a"));
        assert!(!limiter.allow_ws_token(b"session-a"));
        assert!(limiter.allow_ws_token(b"session-b"));
        assert_eq!(
            limiter
                .rejected
                .with_label_values(&["group_creations_user"])
                .get(),
            1
        );
        assert_eq!(
            limiter
                .rejected
                .with_label_values(&["ws_tokens_session"])
                .get(),
            1
        );
    }
}
