//! Actor metrics: what each kind of actor handles, how often and how long,
//! with a fixed table of (kind, message) pairs resolved once, so that
//! timing a handler costs two clock reads and two atomic adds.

use std::sync::Arc;
use std::time::Instant;

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};
use serde::Serialize;
use service_kit::health::register;

/// The kinds of actor in a gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Consumer,
    Directory,
    Conversation,
    Hub,
    Session,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Consumer,
        Kind::Directory,
        Kind::Conversation,
        Kind::Hub,
        Kind::Session,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Consumer => "consumer",
            Kind::Directory => "directory",
            Kind::Conversation => "conversation",
            Kind::Hub => "hub",
            Kind::Session => "session",
        }
    }
}

/// Every message an actor of the gateway handles, by the actor that
/// handles it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// A Kafka record, parsed and judged (`kafka_consumer`).
    ConsumerRecord,
    DirectoryDispatch,
    DirectoryConnect,
    DirectoryDisconnect,
    DirectorySubscribe,
    DirectorySlowConsumer,
    DirectorySnapshot,
    ConversationJoin,
    ConversationLeave,
    ConversationBroadcast,
    ConversationStop,
    HubDeliver,
    HubJoin,
    HubLeave,
    HubToSession,
    HubClose,
    HubSnapshot,
    /// A frame from the session's client.
    SessionFrame,
}

impl Handled {
    pub const ALL: [Handled; 18] = [
        Handled::ConsumerRecord,
        Handled::DirectoryDispatch,
        Handled::DirectoryConnect,
        Handled::DirectoryDisconnect,
        Handled::DirectorySubscribe,
        Handled::DirectorySlowConsumer,
        Handled::DirectorySnapshot,
        Handled::ConversationJoin,
        Handled::ConversationLeave,
        Handled::ConversationBroadcast,
        Handled::ConversationStop,
        Handled::HubDeliver,
        Handled::HubJoin,
        Handled::HubLeave,
        Handled::HubToSession,
        Handled::HubClose,
        Handled::HubSnapshot,
        Handled::SessionFrame,
    ];

    pub fn kind(self) -> Kind {
        use Handled::*;
        match self {
            ConsumerRecord => Kind::Consumer,
            DirectoryDispatch
            | DirectoryConnect
            | DirectoryDisconnect
            | DirectorySubscribe
            | DirectorySlowConsumer
            | DirectorySnapshot => Kind::Directory,
            ConversationJoin | ConversationLeave | ConversationBroadcast | ConversationStop => {
                Kind::Conversation
            }
            HubDeliver | HubJoin | HubLeave | HubToSession | HubClose | HubSnapshot => Kind::Hub,
            SessionFrame => Kind::Session,
        }
    }

    /// The message's type name, as in the code.
    pub fn message(self) -> &'static str {
        use Handled::*;
        match self {
            ConsumerRecord => "Record",
            DirectoryDispatch => "Dispatch",
            DirectoryConnect => "Connect",
            DirectoryDisconnect => "Disconnect",
            DirectorySubscribe => "Subscribe",
            DirectorySlowConsumer => "SlowConsumer",
            DirectorySnapshot | HubSnapshot => "Snapshot",
            ConversationJoin | HubJoin => "Join",
            ConversationLeave | HubLeave => "Leave",
            ConversationBroadcast => "Broadcast",
            ConversationStop => "Stop",
            HubDeliver => "Deliver",
            HubToSession => "ToSession",
            HubClose => "Close",
            SessionFrame => "Frame",
        }
    }
}

/// The counters and histograms of every [`Handled`], and the actors alive
/// by kind. Cloning shares them.
#[derive(Clone, Debug)]
pub struct ActorStats {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handled: Vec<IntCounter>,
    seconds: Vec<Histogram>,
    alive: Vec<IntGauge>,
    mailbox_now: Vec<IntGauge>,
    mailbox_high: Vec<IntGauge>,
}

/// Times one handler: counted and observed when dropped. It holds the
/// statistics itself (not a borrow), so a handler can time its whole body
/// while it changes its actor.
#[must_use = "the handler is timed until the timer is dropped"]
pub struct Timer {
    stats: Arc<Inner>,
    what: Handled,
    start: Instant,
}

impl Drop for Timer {
    fn drop(&mut self) {
        let i = self.what as usize;
        self.stats.handled[i].inc();
        self.stats.seconds[i].observe(self.start.elapsed().as_secs_f64());
    }
}

/// One row of [`ActorStats::rows`].
#[derive(Clone, Debug, Serialize)]
pub struct HandledRow {
    pub kind: Kind,
    pub message: &'static str,
    pub count: u64,
    /// Mean handling time, microseconds.
    pub mean_us: f64,
    /// Upper bounds of the buckets holding the median and the 99th
    /// percentile, microseconds.
    pub p50_us: f64,
    pub p99_us: f64,
}

impl ActorStats {
    /// Names, help texts and buckets are constants: construction cannot fail.
    #[allow(clippy::expect_used)]
    pub fn new(registry: &Registry) -> Self {
        let handled = register(
            registry,
            IntCounterVec::new(
                Opts::new(
                    "gateway_actor_messages_total",
                    "Messages handled, by actor kind and message type",
                ),
                &["kind", "message"],
            )
            .expect("valid counter vec"),
        );
        let seconds = register(
            registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "gateway_actor_handling_seconds",
                    "Time in the handler, by actor kind and message type",
                )
                .buckets(exponential_buckets(1e-6, 2.0, 18).expect("valid buckets")),
                &["kind", "message"],
            )
            .expect("valid histogram vec"),
        );
        let alive = register(
            registry,
            IntGaugeVec::new(
                Opts::new("gateway_actors", "Actors alive, by kind"),
                &["kind"],
            )
            .expect("valid gauge vec"),
        );
        let by_kind = |name: &str, help: &str| {
            let vec = register(
                registry,
                IntGaugeVec::new(Opts::new(name, help), &["kind"]).expect("valid gauge vec"),
            );
            Kind::ALL
                .iter()
                .map(|k| vec.with_label_values(&[k.as_str()]))
                .collect::<Vec<_>>()
        };
        let mailbox_now = by_kind(
            "gateway_mailbox_messages",
            "Messages waiting in the mailboxes of one actor kind, summed",
        );
        let mailbox_high = by_kind(
            "gateway_mailbox_messages_high",
            "The most messages one mailbox of this actor kind has held",
        );
        let labels = |h: Handled| [h.kind().as_str(), h.message()];
        let inner = Inner {
            handled: Handled::ALL
                .iter()
                .map(|&h| handled.with_label_values(&labels(h)))
                .collect(),
            seconds: Handled::ALL
                .iter()
                .map(|&h| seconds.with_label_values(&labels(h)))
                .collect(),
            alive: Kind::ALL
                .iter()
                .map(|k| alive.with_label_values(&[k.as_str()]))
                .collect(),
            mailbox_now,
            mailbox_high,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Starts timing a handler of `what`.
    pub fn time(&self, what: Handled) -> Timer {
        Timer {
            stats: self.inner.clone(),
            what,
            start: Instant::now(),
        }
    }

    /// The gauge of actors of `kind` alive.
    pub fn alive(&self, kind: Kind) -> &IntGauge {
        &self.inner.alive[kind as usize]
    }

    /// A mailbox depth of an actor of `kind`, counted in its kind's gauges.
    pub fn depth(&self, kind: Kind) -> crate::actors::mailbox::Depth {
        let i = kind as usize;
        crate::actors::mailbox::Depth::counted(
            self.inner.mailbox_now[i].clone(),
            self.inner.mailbox_high[i].clone(),
        )
    }

    /// Messages of `what` handled so far.
    pub fn count(&self, what: Handled) -> u64 {
        self.inner.handled[what as usize].get()
    }

    /// Every (kind, message) with its count and handling times.
    pub fn rows(&self) -> Vec<HandledRow> {
        Handled::ALL
            .iter()
            .map(|&h| {
                let histogram = &self.inner.seconds[h as usize];
                let (p50, p99) = quantiles(histogram);
                let count = histogram.get_sample_count();
                HandledRow {
                    kind: h.kind(),
                    message: h.message(),
                    count: self.inner.handled[h as usize].get(),
                    mean_us: if count == 0 {
                        0.0
                    } else {
                        histogram.get_sample_sum() / count as f64 * 1e6
                    },
                    p50_us: p50 * 1e6,
                    p99_us: p99 * 1e6,
                }
            })
            .collect()
    }
}

/// The upper bounds of the buckets that hold the median and the 99th
/// percentile (0 when nothing was observed).
fn quantiles(h: &Histogram) -> (f64, f64) {
    use prometheus::core::Collector;
    let families = h.collect();
    let Some(m) = families.first().and_then(|f| f.get_metric().first()) else {
        return (0.0, 0.0);
    };
    let histogram = m.get_histogram();
    let total = histogram.get_sample_count();
    if total == 0 {
        return (0.0, 0.0);
    }
    let at = |q: f64| {
        let wanted = (total as f64 * q).ceil() as u64;
        histogram
            .get_bucket()
            .iter()
            .find(|b| b.cumulative_count() >= wanted)
            .map_or(f64::INFINITY, |b| b.upper_bound())
    };
    (at(0.5), at(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_its_own_row_and_counts_what_was_timed() {
        let stats = ActorStats::new(&Registry::new());
        for _ in 0..3 {
            let _t = stats.time(Handled::HubDeliver);
        }
        drop(stats.time(Handled::ConversationJoin));
        let rows = stats.rows();
        assert_eq!(rows.len(), Handled::ALL.len());
        let row = |kind: Kind, message: &str| {
            rows.iter()
                .find(|r| r.kind == kind && r.message == message)
                .map(|r| r.count)
        };
        assert_eq!(row(Kind::Hub, "Deliver"), Some(3));
        assert_eq!(row(Kind::Conversation, "Join"), Some(1));
        assert_eq!(row(Kind::Hub, "Join"), Some(0));
        assert!(rows
            .iter()
            .filter(|r| r.count > 0)
            .all(|r| r.p99_us >= r.p50_us));
        // The index of each variant is its place in ALL.
        for (i, h) in Handled::ALL.iter().enumerate() {
            assert_eq!(*h as usize, i);
        }
    }
}
