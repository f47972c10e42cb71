//! message-store's Prometheus metrics (on the service's own registry).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use service_kit::health::register;

/// Counters and histograms of ingest and the outbox.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// Messages written by ingest.
    pub ingested: IntCounter,
    /// Records already stored (redelivery or a resend).
    pub duplicates: IntCounter,
    /// Records not stored, by reason (`unparseable`, `invalid`, `not_participant`,
    /// `stale`, `unknown_conversation`, `unstorable`).
    pub skipped: IntCounterVec,
    /// Membership events applied from the log.
    pub membership_events: IntCounter,
    /// Partitions of `chat.messages` this instance ingests.
    pub partitions_owned: IntGauge,
    /// Messages stored from senders the log never added (a gateway's bug).
    pub unexpected_senders: IntCounter,
    /// Records per ingest batch.
    pub batch_size: Histogram,
    /// Seconds per batch write (transaction included).
    pub write_seconds: Histogram,
    /// Times a batch write was retried because the database was unreachable.
    pub write_retries: IntCounter,
    /// Participant events published.
    pub outbox_published: IntCounter,
    /// Participant events waiting in the outbox (sampled by the publisher).
    pub outbox_pending: IntGauge,
}

impl Metrics {
    /// Creates the metrics and registers them. Metric names and options are
    /// constants, so construction cannot fail.
    #[allow(clippy::expect_used)]
    pub fn new(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            register(
                registry,
                IntCounter::new(name, help).expect("valid counter"),
            )
        };
        Self {
            ingested: counter(
                "message_store_ingested_total",
                "Messages written from chat.messages",
            ),
            duplicates: counter("message_store_duplicates_total", "Records already stored"),
            membership_events: counter(
                "message_store_membership_events_total",
                "Membership events applied from the log",
            ),
            unexpected_senders: counter(
                "message_store_unexpected_senders_total",
                "Messages stored from senders the log never added or had removed long ago",
            ),
            partitions_owned: register(
                registry,
                IntGauge::new(
                    "message_store_ingest_partitions_owned",
                    "Partitions of chat.messages this instance ingests",
                )
                .expect("valid gauge"),
            ),
            skipped: register(
                registry,
                IntCounterVec::new(
                    Opts::new("message_store_skipped_total", "Records skipped, by reason"),
                    &["reason"],
                )
                .expect("valid counter vec"),
            ),
            batch_size: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new("message_store_batch_size", "Records per ingest batch")
                        .buckets(vec![
                            1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0,
                        ]),
                )
                .expect("valid histogram"),
            ),
            write_seconds: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new("message_store_write_seconds", "Seconds per batch write")
                        .buckets(
                            prometheus::exponential_buckets(0.0005, 2.0, 14)
                                .expect("valid buckets"),
                        ),
                )
                .expect("valid histogram"),
            ),
            write_retries: counter(
                "message_store_write_retries_total",
                "Batch writes retried after a transient failure",
            ),
            outbox_published: counter(
                "message_store_outbox_published_total",
                "Participant events published",
            ),
            outbox_pending: register(
                registry,
                IntGauge::new(
                    "message_store_outbox_pending",
                    "Participant events waiting to be published",
                )
                .expect("valid gauge"),
            ),
        }
    }
}
