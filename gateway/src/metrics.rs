//! The gateway's Prometheus metrics, shared by every actor (they are
//! atomics), with the inspector's actor statistics and tracer.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry,
};
use service_kit::health::register;

use crate::inspect::stats::ActorStats;
use crate::inspect::trace::Tracer;

#[derive(Clone, Debug)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Conversation actors alive.
    pub conversations: IntGauge,
    /// Frames received from clients.
    pub frames_in: IntCounter,
    /// Frames written to clients.
    pub frames_out: IntCounter,
    /// `message` frames handed to sockets.
    pub deliveries: IntCounter,
    /// Seconds from a `send` frame to its `ack` (Kafka's delivery report).
    pub send_ack_seconds: Histogram,
    /// Seconds from the Kafka consumer receiving a record to its frame being
    /// handed to a socket: the gateway's own share of delivery latency.
    pub delivery_seconds: Histogram,
    /// `error` frames sent, by code.
    pub errors: IntCounterVec,
    /// Sessions closed with 1008 because their queue stayed full.
    pub slow_consumers: IntCounter,
    /// Records behind the end of the log, summed over this consumer's partitions.
    pub consumer_lag: IntGauge,
    /// Kafka records that could not be understood (skipped).
    pub bad_records: IntCounter,
    /// Message records the ledger kept from delivery, by reason.
    pub not_delivered: IntCounterVec,
    /// Sends that asked message-store whether the sender is a member.
    pub membership_lookups: IntCounter,
    /// Per actor kind and message type (`crate::inspect::stats`).
    pub actors: ActorStats,
    /// Traced messages (`crate::inspect::trace`).
    pub tracer: std::sync::Arc<Tracer>,
}

impl Metrics {
    /// Metric names, help texts and buckets are constants: construction
    /// cannot fail.
    #[allow(clippy::expect_used)]
    pub fn new(registry: &Registry, tracer: Tracer) -> Self {
        let counter =
            |n: &str, h: &str| register(registry, IntCounter::new(n, h).expect("valid counter"));
        let gauge =
            |n: &str, h: &str| register(registry, IntGauge::new(n, h).expect("valid gauge"));
        let histogram = |n: &str, h: &str, start: f64| {
            register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(n, h)
                        .buckets(exponential_buckets(start, 2.0, 16).expect("valid buckets")),
                )
                .expect("valid histogram"),
            )
        };
        Self {
            connections: gauge("gateway_connections", "Open WebSocket connections"),
            conversations: gauge("gateway_conversation_actors", "Conversation actors alive"),
            frames_in: counter("gateway_frames_in_total", "Frames received from clients"),
            frames_out: counter("gateway_frames_out_total", "Frames written to clients"),
            deliveries: counter(
                "gateway_deliveries_total",
                "message frames handed to sockets",
            ),
            send_ack_seconds: histogram("gateway_send_ack_seconds", "send frame to ack", 0.0005),
            delivery_seconds: histogram(
                "gateway_delivery_seconds",
                "Kafka record received to frame handed to the socket",
                0.00002,
            ),
            errors: register(
                registry,
                IntCounterVec::new(
                    Opts::new("gateway_errors_total", "error frames sent, by code"),
                    &["code"],
                )
                .expect("valid counter vec"),
            ),
            slow_consumers: counter(
                "gateway_slow_consumer_disconnects_total",
                "Sessions closed with 1008",
            ),
            consumer_lag: gauge("gateway_kafka_consumer_lag", "Records behind the log end"),
            bad_records: counter(
                "gateway_bad_records_total",
                "Kafka records skipped as unreadable",
            ),
            not_delivered: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "gateway_records_not_delivered_total",
                        "Message records the ledger kept from delivery, by reason",
                    ),
                    &["reason"],
                )
                .expect("valid counter vec"),
            ),
            membership_lookups: counter(
                "gateway_membership_lookups_total",
                "Sends to a conversation not known here, checked with message-store",
            ),
            actors: ActorStats::new(registry),
            tracer: std::sync::Arc::new(tracer),
        }
    }
}
