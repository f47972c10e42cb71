//! The aggregator: every latency sample goes through one channel into HDR
//! histograms (overall and per second); counters drive the progress line.
//!
//! A worker process ships its [`Recorded`] histograms to the coordinator as
//! [`WireRecorded`] (value, count) pairs; the coordinator adds them up, so
//! percentiles of a multi-process run are exact, not averages of percentiles.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Progress counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Counters {
    pub connected: AtomicU64,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    /// Sends begun, traced or not: picks every N-th for `--trace-sample`.
    pub sends_begun: AtomicU64,
}

/// A snapshot of [`Counters`]; workers print it as one `@progress` line a
/// second for the coordinator to add up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub connected: u64,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub errors: u64,
}

const PROGRESS_PREFIX: &str = "@progress ";

impl Snapshot {
    pub fn of(c: &Counters) -> Self {
        Self {
            connected: c.connected.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            acked: c.acked.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }

    pub fn to_line(self) -> String {
        format!(
            "{PROGRESS_PREFIX}{} {} {} {} {}",
            self.connected, self.sent, self.acked, self.delivered, self.errors
        )
    }

    /// Parses a worker's progress line; `None` for any other line.
    pub fn from_line(line: &str) -> Option<Self> {
        let mut f = line
            .strip_prefix(PROGRESS_PREFIX)?
            .split(' ')
            .map(|v| v.parse::<u64>().ok());
        let mut next = || f.next().flatten();
        Some(Self {
            connected: next()?,
            sent: next()?,
            acked: next()?,
            delivered: next()?,
            errors: next()?,
        })
    }

    pub fn add(self, o: Self) -> Self {
        Self {
            connected: self.connected + o.connected,
            sent: self.sent + o.sent,
            acked: self.acked + o.acked,
            delivered: self.delivered + o.delivered,
            errors: self.errors + o.errors,
        }
    }
}

/// Where the per-second progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressOut {
    /// A human line on stderr.
    Human,
    /// An `@progress` line on stderr, for the coordinator.
    Machine,
    /// Nothing.
    Quiet,
}

/// Prints the human progress line for the second ending at `t`.
pub fn print_progress(t: u64, now: Snapshot, last: Snapshot, total: usize) {
    eprintln!(
        "t={t:>3}s conns={}/{total} sent/s={} delivered/s={} acked={} errors={}",
        now.connected,
        now.sent.saturating_sub(last.sent),
        now.delivered.saturating_sub(last.delivered),
        now.acked,
        now.errors,
    );
}

/// One latency observation.
#[derive(Debug, Clone)]
pub enum Sample {
    Connect(Duration),
    Ack(Duration),
    Deliver(Duration),
    /// One leg of a traced message (`"hub→client"`), see [`legs`].
    Leg(String, Duration),
}

/// The legs of a traced message's path: from the client's send to the
/// first hop, between consecutive hops, and from the last hop to the
/// client that read the frame (`at` microseconds, wall clock).
pub fn legs(sent_at_us: u64, hops: &[(&str, i64)], read_at_us: u64) -> Vec<(String, Duration)> {
    let mut legs = Vec::with_capacity(hops.len() + 1);
    let mut from = ("send", i64::try_from(sent_at_us).unwrap_or(i64::MAX));
    let until = ("client", i64::try_from(read_at_us).unwrap_or(i64::MAX));
    for &hop in hops.iter().chain(std::iter::once(&until)) {
        let us = u64::try_from(hop.1.saturating_sub(from.1)).unwrap_or(0);
        legs.push((format!("{}→{}", from.0, hop.0), Duration::from_micros(us)));
        from = hop;
    }
    legs
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

/// Everything measured, as reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub connect: Percentiles,
    pub ack: Percentiles,
    pub deliver: Percentiles,
    /// `--trace-sample`: each leg of the traced messages' paths, in the
    /// order a message takes them.
    pub legs: Vec<(String, Percentiles)>,
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

/// The raw histograms and totals of a run (or of one worker's share).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub connect: Histogram<u64>,
    pub ack: Histogram<u64>,
    pub deliver: Histogram<u64>,
    /// `--trace-sample`: per leg, in the order first seen.
    pub legs: Vec<(String, Histogram<u64>)>,
    /// Deliveries by second since the run's start.
    pub seconds: BTreeMap<u64, Histogram<u64>>,
    pub totals: Snapshot,
}

impl Default for Recorded {
    fn default() -> Self {
        Self {
            connect: histogram(),
            ack: histogram(),
            deliver: histogram(),
            legs: Vec::new(),
            seconds: BTreeMap::new(),
            totals: Snapshot::default(),
        }
    }
}

impl Recorded {
    /// Adds another share of the run to this one.
    pub fn merge(&mut self, other: &Recorded) -> anyhow::Result<()> {
        self.connect.add(&other.connect)?;
        self.ack.add(&other.ack)?;
        self.deliver.add(&other.deliver)?;
        for (leg, h) in &other.legs {
            self.leg(leg).add(h)?;
        }
        for (t, h) in &other.seconds {
            self.seconds.entry(*t).or_insert_with(histogram).add(h)?;
        }
        self.totals = self.totals.add(other.totals);
        Ok(())
    }

    fn leg(&mut self, name: &str) -> &mut Histogram<u64> {
        let i = match self.legs.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.legs.push((name.to_owned(), histogram()));
                self.legs.len() - 1
            }
        };
        &mut self.legs[i].1
    }

    pub fn summary(&self) -> Summary {
        Summary {
            connect: percentiles(&self.connect),
            ack: percentiles(&self.ack),
            deliver: percentiles(&self.deliver),
            legs: self
                .legs
                .iter()
                .map(|(n, h)| (n.clone(), percentiles(h)))
                .collect(),
            seconds: self
                .seconds
                .iter()
                .map(|(t, h)| Second {
                    t: *t,
                    delivered: h.len(),
                    deliver_p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
                    deliver_p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
                })
                .collect(),
            sent: self.totals.sent,
            acked: self.totals.acked,
            delivered: self.totals.delivered,
        }
    }
}

/// A histogram as (value, count) pairs: exact, and small for latencies.
type WireHistogram = Vec<(u64, u64)>;

/// [`Recorded`] as a worker sends it to the coordinator.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireRecorded {
    connect: WireHistogram,
    ack: WireHistogram,
    deliver: WireHistogram,
    #[serde(default)]
    legs: Vec<(String, WireHistogram)>,
    seconds: Vec<(u64, WireHistogram)>,
    totals: [u64; 5],
}

fn to_wire(h: &Histogram<u64>) -> WireHistogram {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn from_wire(w: &WireHistogram) -> anyhow::Result<Histogram<u64>> {
    let mut h = histogram();
    for &(value, count) in w {
        h.record_n(value, count)
            .with_context(|| format!("histogram value {value} out of range"))?;
    }
    Ok(h)
}

impl From<&Recorded> for WireRecorded {
    fn from(r: &Recorded) -> Self {
        let t = r.totals;
        Self {
            connect: to_wire(&r.connect),
            ack: to_wire(&r.ack),
            deliver: to_wire(&r.deliver),
            legs: r
                .legs
                .iter()
                .map(|(n, h)| (n.clone(), to_wire(h)))
                .collect(),
            seconds: r.seconds.iter().map(|(s, h)| (*s, to_wire(h))).collect(),
            totals: [t.connected, t.sent, t.acked, t.delivered, t.errors],
        }
    }
}

impl TryFrom<&WireRecorded> for Recorded {
    type Error = anyhow::Error;

    fn try_from(w: &WireRecorded) -> anyhow::Result<Self> {
        let [connected, sent, acked, delivered, errors] = w.totals;
        Ok(Self {
            connect: from_wire(&w.connect)?,
            ack: from_wire(&w.ack)?,
            deliver: from_wire(&w.deliver)?,
            legs: w
                .legs
                .iter()
                .map(|(n, h)| Ok((n.clone(), from_wire(h)?)))
                .collect::<anyhow::Result<_>>()?,
            seconds: w
                .seconds
                .iter()
                .map(|(s, h)| Ok((*s, from_wire(h)?)))
                .collect::<anyhow::Result<_>>()?,
            totals: Snapshot {
                connected,
                sent,
                acked,
                delivered,
                errors,
            },
        })
    }
}

pub struct Aggregator;

impl Aggregator {
    /// Consumes samples until every sender is gone, filing deliveries by
    /// second since `started`; reports progress each second to `out`.
    pub async fn run(
        mut rx: mpsc::UnboundedReceiver<Sample>,
        counters: Arc<Counters>,
        out: ProgressOut,
        total: usize,
        started: Instant,
    ) -> Recorded {
        let mut r = Recorded::default();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last = Snapshot::default();
        loop {
            tokio::select! {
                sample = rx.recv() => {
                    let Some(sample) = sample else { break };
                    match sample {
                        Sample::Connect(d) => { let _ = r.connect.record(micros(d)); }
                        Sample::Ack(d) => { let _ = r.ack.record(micros(d)); }
                        Sample::Deliver(d) => {
                            let us = micros(d);
                            let _ = r.deliver.record(us);
                            let second = started.elapsed().as_secs();
                            let _ = r.seconds.entry(second).or_insert_with(histogram).record(us);
                        }
                        Sample::Leg(leg, d) => { let _ = r.leg(&leg).record(micros(d)); }
                    }
                }
                _ = tick.tick() => {
                    let now = Snapshot::of(&counters);
                    match out {
                        ProgressOut::Human => print_progress(started.elapsed().as_secs(), now, last, total),
                        ProgressOut::Machine => eprintln!("{}", now.to_line()),
                        ProgressOut::Quiet => {}
                    }
                    last = now;
                }
            }
        }
        r.totals = Snapshot::of(&counters);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_becomes_its_legs_in_path_order() {
        let hops = [
            ("received", 1_100),
            ("produced", 1_150),
            ("consumed", 3_150),
        ];
        let legs = legs(1_000, &hops, 4_000);
        let legs: Vec<(&str, u64)> = legs
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_micros() as u64))
            .collect();
        assert_eq!(
            legs,
            [
                ("send→received", 100),
                ("received→produced", 50),
                ("produced→consumed", 2_000),
                ("consumed→client", 850)
            ]
        );
    }

    #[test]
    fn progress_lines_round_trip_and_ignore_other_lines() {
        let s = Snapshot {
            connected: 5,
            sent: 7,
            acked: 6,
            delivered: 70,
            errors: 1,
        };
        assert_eq!(Snapshot::from_line(&s.to_line()), Some(s));
        assert_eq!(Snapshot::from_line("loadgen: 10 users"), None);
        assert_eq!(Snapshot::from_line("@progress 1 2"), None);
    }

    #[test]
    fn merged_shares_give_the_percentiles_of_the_whole() {
        let mut a = Recorded::default();
        let mut b = Recorded::default();
        let mut whole = Recorded::default();
        for v in 1..=1000u64 {
            let share = if v % 3 == 0 { &mut a } else { &mut b };
            share.deliver.record(v * 10).unwrap();
            share
                .seconds
                .entry(v % 4)
                .or_insert_with(histogram)
                .record(v)
                .unwrap();
            whole.deliver.record(v * 10).unwrap();
        }
        a.totals.delivered = 333;
        b.totals.delivered = 667;
        let wire = WireRecorded::from(&b);
        let b = Recorded::try_from(
            &serde_json::from_slice::<WireRecorded>(&serde_json::to_vec(&wire).unwrap()).unwrap(),
        )
        .unwrap();
        a.merge(&b).unwrap();
        let merged = a.summary();
        assert_eq!(merged.deliver.count, 1000);
        assert_eq!(merged.delivered, 1000);
        assert_eq!(merged.deliver.p50, whole.summary().deliver.p50);
        assert_eq!(merged.deliver.p99, whole.summary().deliver.p99);
        assert_eq!(merged.seconds.len(), 4);
        assert_eq!(
            merged.seconds.iter().map(|s| s.delivered).sum::<u64>(),
            1000
        );
    }
}
