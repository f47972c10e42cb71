//! The aggregator: every latency sample goes through one channel into HDR
//! histograms (overall and per second); counters drive the progress line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::mpsc;

/// Progress counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Counters {
    pub connected: AtomicU64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
}

/// One latency observation.
#[derive(Debug, Clone, Copy)]
pub enum Sample {
    Connect(Duration),
    Ack(Duration),
    Deliver(Duration),
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Second {
    pub t: u64,
    pub delivered: u64,
    pub deliver_p50_ms: f64,
    pub deliver_p99_ms: f64,
}

/// Everything measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub connect: Percentiles,
    pub ack: Percentiles,
    pub deliver: Percentiles,
    pub seconds: Vec<Second>,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant figures. Constant bounds: cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        count: h.len(),
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

pub struct Aggregator;

impl Aggregator {
    /// Consumes samples until every sender is gone; prints a progress line
    /// each second unless `quiet`.
    pub async fn run(
        mut rx: mpsc::UnboundedReceiver<Sample>,
        counters: Arc<Counters>,
        quiet: bool,
        total: usize,
    ) -> Summary {
        let (mut connect, mut ack, mut deliver) = (histogram(), histogram(), histogram());
        let mut seconds: Vec<(u64, Histogram<u64>)> = Vec::new();
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last = (0u64, 0u64);
        loop {
            tokio::select! {
                sample = rx.recv() => {
                    let Some(sample) = sample else { break };
                    match sample {
                        Sample::Connect(d) => { let _ = connect.record(micros(d)); }
                        Sample::Ack(d) => { let _ = ack.record(micros(d)); }
                        Sample::Deliver(d) => {
                            let us = micros(d);
                            let _ = deliver.record(us);
                            let second = started.elapsed().as_secs();
                            if seconds.last().is_none_or(|(s, _)| *s != second) {
                                seconds.push((second, histogram()));
                            }
                            if let Some((_, h)) = seconds.last_mut() { let _ = h.record(us); }
                        }
                    }
                }
                _ = tick.tick() => {
                    if !quiet {
                        let sent = counters.sent.load(Ordering::Relaxed);
                        let delivered = counters.delivered.load(Ordering::Relaxed);
                        eprintln!(
                            "t={:>3}s conns={}/{} sent/s={} delivered/s={} acked={} errors={}",
                            started.elapsed().as_secs(),
                            counters.connected.load(Ordering::Relaxed),
                            total,
                            sent - last.0,
                            delivered - last.1,
                            counters.acked.load(Ordering::Relaxed),
                            counters.errors.load(Ordering::Relaxed),
                        );
                        last = (sent, delivered);
                    }
                }
            }
        }
        Summary {
            connect: percentiles(&connect),
            ack: percentiles(&ack),
            deliver: percentiles(&deliver),
            seconds: seconds
                .iter()
                .map(|(t, h)| Second {
                    t: *t,
                    delivered: h.len(),
                    deliver_p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
                    deliver_p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
                })
                .collect(),
            sent: counters.sent.load(Ordering::Relaxed),
            acked: counters.acked.load(Ordering::Relaxed),
            delivered: counters.delivered.load(Ordering::Relaxed),
        }
    }
}
