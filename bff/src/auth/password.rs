//! Argon2id password hashes (PHC strings), computed on the pool's own
//! threads so a login never stalls the async workers, and never more at
//! once than the [`HashPool`] allows: each costs 19 MiB and a core for tens
//! of milliseconds, so a flood of sign-ups must queue (boundedly) instead of
//! taking the process's memory and every login's turn.
//!
//! The threads are fixed (`HASH_THREADS`), not tokio's blocking pool: the
//! allocator keeps a freed 19 MiB block in the arena of the thread that
//! used it, and a blocking pool that grows a thread per burst grew the
//! bff to 1 GB in a 1,000-sign-up flood (16 arenas holding up to three
//! blocks each). Sign-ups may fill only half the queue, so logins always
//! find room behind them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus::{IntCounter, IntGauge, Registry};
use tokio::sync::{oneshot, Semaphore};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use service_kit::HttpError;

/// Work for a hash thread.
type Job = Box<dyn FnOnce() + Send>;

/// At most `threads` hashes at once, at most `queue` waiting (sign-ups at
/// most half of it), each waiting at most `timeout`; a request past either
/// bound is answered 503 at once. A waiting request whose client went away
/// (its handler future dropped) leaves the queue without hashing anything.
#[derive(Clone, Debug)]
pub struct HashPool {
    permits: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    timeout: Duration,
    waiting_gauge: IntGauge,
    running_gauge: IntGauge,
    refused: IntCounter,
}

/// Who asks: sign-ups may take only part of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    SignUp,
    LogIn,
}

/// Gives back its place in the queue when dropped.
struct Waiting<'a>(&'a HashPool);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        self.0.waiting_gauge.dec();
    }
}

/// Starts `n` threads that run jobs from one channel until it closes.
#[allow(clippy::expect_used)] // a process that cannot start a thread cannot serve
fn start_threads(n: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("password-{i}"))
            .spawn(move || loop {
                // Poisoning is impossible: nothing panics while holding it.
                let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                match job {
                    // A job that panics (a bug in a hash library) must not
                    // take its thread, and so a permit's worth of the pool,
                    // with it: its caller gets an internal error instead.
                    Ok(job) => {
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                            log::error!("password: a hashing job panicked");
                        }
                    }
                    Err(_) => return, // the pool is gone
                }
            })
            .expect("start a password thread");
    }
    tx
}

impl HashPool {
    /// Names and help texts are constants: construction cannot fail.
    #[allow(clippy::expect_used)]
    pub fn new(threads: usize, queue: usize, timeout: Duration, registry: &Registry) -> Self {
        let gauge = |n: &str, h: &str| {
            service_kit::health::register(registry, IntGauge::new(n, h).expect("valid gauge"))
        };
        let threads = threads.max(1);
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            jobs: start_threads(threads),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            timeout,
            waiting_gauge: gauge(
                "bff_password_hash_waiting",
                "Password hashes waiting for a thread",
            ),
            running_gauge: gauge(
                "bff_password_hash_running",
                "Password hashes being computed",
            ),
            refused: service_kit::health::register(
                registry,
                IntCounter::new(
                    "bff_password_hash_refused_total",
                    "Requests answered 503 because the hash queue was full or slow",
                )
                .expect("valid counter"),
            ),
        }
    }

    fn busy(&self) -> HttpError {
        self.refused.inc();
        HttpError::unavailable("too many sign-ins at once, try again in a moment")
    }

    /// Places in the queue `purpose` may wait in.
    fn room(&self, purpose: Purpose) -> usize {
        match purpose {
            Purpose::LogIn => self.queue,
            Purpose::SignUp => self.queue.div_ceil(2),
        }
    }

    /// Runs `work` on a hash thread when a permit is free.
    async fn run<R: Send + 'static>(
        &self,
        purpose: Purpose,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, HttpError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // No thread free: wait, if there is a place in the queue.
                if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.room(purpose) {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(self.busy());
                }
                self.waiting_gauge.inc();
                let place = Waiting(self);
                let acquire = self.permits.clone().acquire_owned();
                let permit = tokio::time::timeout(self.timeout, acquire).await;
                drop(place);
                let Ok(Ok(permit)) = permit else {
                    return Err(self.busy());
                };
                permit
            }
        };
        let running = self.running_gauge.clone();
        running.inc();
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let answer = work();
            running.dec();
            drop(permit);
            let _ = tx.send(answer);
        });
        if self.jobs.send(job).is_err() {
            log::error!("password: no hash thread");
            return Err(HttpError::internal());
        }
        rx.await.map_err(|e| {
            log::error!("password: hashing job failed: {e}");
            HttpError::internal()
        })
    }

    /// Hashes a password with Argon2id (default parameters: m=19 MiB, t=2,
    /// p=1), for a sign-up.
    pub async fn hash(&self, password: String) -> Result<String, HttpError> {
        self.run(Purpose::SignUp, move || hash_blocking(&password))
            .await?
    }

    /// Verifies `password` against `stored` (or against the dummy hash when
    /// there is no account). True only for a real account's right password.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HttpError> {
        self.run(Purpose::LogIn, move || verify_blocking(&password, stored))
            .await
    }
}

fn hash_blocking(password: &str) -> Result<String, HttpError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| {
            log::error!("password: hashing failed: {e}");
            HttpError::internal()
        })
}

/// A hash of a password nobody knows, verified when the username does not
/// exist so that a failed login costs the same either way.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking("no account has this password, it only spends time").unwrap_or_default()
    })
}

fn verify_blocking(password: &str, stored: Option<String>) -> bool {
    let real = stored.is_some();
    let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
    let ok = PasswordHash::new(&phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    real && ok
}

/// Computes the dummy hash up front, so the first unknown-user login is not
/// slower than the rest.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize, queue: usize) -> HashPool {
        HashPool::new(threads, queue, Duration::from_secs(30), &Registry::new())
    }

    #[actix_web::test]
    async fn hashes_verify_and_differ_by_salt() {
        let p = pool(2, 8);
        let a = p.hash("correct horse".into()).await.unwrap();
        let b = p.hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(p
            .verify("correct horse".into(), Some(a.clone()))
            .await
            .unwrap());
        assert!(!p.verify("wrong horse".into(), Some(a)).await.unwrap());
        let nobody = "no account has this password, it only spends time";
        assert!(!p.verify(nobody.into(), None).await.unwrap());
    }

    #[actix_web::test]
    async fn past_the_queue_requests_are_refused_at_once() {
        // One thread, one place in the queue: of four at once, one runs,
        // one waits, two are refused with 503 without hashing.
        let p = pool(1, 1);
        let all =
            futures_util::future::join_all((0..4).map(|_| p.hash("password123".into()))).await;
        let refused: Vec<_> = all.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(refused.len(), 2, "{all:?}");
        assert!(refused.iter().all(|e| e.status.as_u16() == 503));
        assert_eq!(p.refused.get(), 2);
        assert_eq!(p.waiting_gauge.get(), 0);
        assert_eq!(p.running_gauge.get(), 0);
    }

    #[actix_web::test]
    async fn sign_ups_fill_only_half_the_queue_so_logins_find_room() {
        let p = pool(1, 4);
        let held = p.permits.clone().acquire_owned().await.unwrap();
        // Sign-ups take two places, the third is refused.
        let mut queued = Vec::new();
        for _ in 0..3 {
            let mut signup = Box::pin(p.hash("password123".into()));
            match tokio::time::timeout(Duration::from_millis(1), signup.as_mut()).await {
                Err(_) => queued.push(signup),
                Ok(answer) => assert_eq!(answer.unwrap_err().status.as_u16(), 503),
            }
        }
        assert_eq!((queued.len(), p.refused.get()), (2, 1));
        assert_eq!(p.waiting.load(Ordering::Relaxed), 2);
        let signups = queued;
        // A login still queues behind them, and gets its answer.
        let login = p.verify("password123".into(), None);
        drop(held);
        let (login, _) = tokio::join!(login, futures_util::future::join_all(signups));
        assert!(!login.unwrap(), "answered (no such account)");
        assert_eq!(p.refused.get(), 1);
    }

    #[actix_web::test]
    async fn a_request_dropped_while_waiting_leaves_the_queue() {
        let p = pool(1, 1);
        let held = p.permits.clone().acquire_owned().await.unwrap();
        let waiting = p.hash("password123".into());
        // Polled once (it queues), then dropped as a gone client's handler is.
        let timed_out = tokio::time::timeout(Duration::from_millis(1), waiting).await;
        assert!(timed_out.is_err());
        assert_eq!(p.waiting.load(Ordering::Relaxed), 0);
        assert_eq!(p.waiting_gauge.get(), 0);
        drop(held);
        assert!(
            p.hash("password123".into()).await.is_ok(),
            "its place is free"
        );
    }
}
