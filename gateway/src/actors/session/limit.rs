//! `Bucket`: a session's rate limit, a token bucket of `rate` tokens a
//! second holding at most `burst`. Eight bytes, because every connection
//! carries one (a general-purpose limiter is 72): the tokens as an `f32`
//! and the last refill in milliseconds of a process-wide clock.

use std::sync::OnceLock;
use std::time::Instant;

/// See the module docs.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f32,
    at_ms: u32,
}

/// Milliseconds since the first call in this process (wraps after 49 days;
/// differences stay right across the wrap).
fn clock_ms() -> u32 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u32
}

impl Bucket {
    /// A full bucket.
    pub fn full(burst: u32) -> Self {
        Self {
            tokens: burst.max(1) as f32,
            at_ms: clock_ms(),
        }
    }

    /// Takes a token now; false when there is none.
    pub fn take(&mut self, rate: u32, burst: u32) -> bool {
        self.take_at(clock_ms(), rate, burst)
    }

    fn take_at(&mut self, now_ms: u32, rate: u32, burst: u32) -> bool {
        let elapsed = now_ms.wrapping_sub(self.at_ms) as f32 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.max(1) as f32).min(burst.max(1) as f32);
        self.at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let mut b = Bucket {
            tokens: 5.0,
            at_ms: 1_000,
        };
        let took: Vec<bool> = (0..7).map(|_| b.take_at(1_000, 10, 5)).collect();
        assert_eq!(took, [true, true, true, true, true, false, false]);
        // 10 a second: one more every 100 ms, never more than the burst.
        assert!(!b.take_at(1_050, 10, 5));
        assert!(b.take_at(1_100, 10, 5));
        assert!(!b.take_at(1_100, 10, 5));
        let after_a_pause = (0..7).filter(|_| b.take_at(60_000, 10, 5)).count();
        assert_eq!(after_a_pause, 5);
        // Across the clock's wrap the difference is still 100 ms.
        let mut w = Bucket {
            tokens: 0.0,
            at_ms: u32::MAX - 49,
        };
        assert!(w.take_at(50, 10, 5));
        assert!(!w.take_at(50, 10, 5));
    }
}
