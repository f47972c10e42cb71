//! Kafka clients of the gateway: `ChatProducer` (messages and typing, keyed
//! by conversation) and the fan-out consumer's context, which turns
//! librdkafka's statistics into the consumer-lag gauge.

use std::time::Duration;

use actors_common::kafka::{self, ProducerOptions, Topics, UserTyped};
use actors_common::Message;
use prometheus::IntGauge;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{ClientContext, Statistics};

/// Produces the gateway's records.
#[derive(Clone)]
pub struct ChatProducer {
    producer: FutureProducer,
    topics: Topics,
}

impl std::fmt::Debug for ChatProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatProducer")
            .field("topics", &self.topics)
            .finish()
    }
}

impl ChatProducer {
    pub fn new(
        bootstrap: &str,
        topics: Topics,
        idempotence: bool,
        send_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let producer = kafka::producer_config(
            bootstrap,
            "gateway",
            &ProducerOptions {
                idempotence,
                delivery_timeout: send_timeout,
                ..ProducerOptions::default()
            },
        )
        .create()?;
        Ok(Self { producer, topics })
    }

    pub fn inner(&self) -> &FutureProducer {
        &self.producer
    }

    fn send(&self, topic: &str, key: &str, payload: &[u8]) -> Result<DeliveryFuture, KafkaError> {
        self.producer
            .send_result(FutureRecord::to(topic).key(key).payload(payload))
            .map_err(|(e, _)| e)
    }

    /// Queues a message; the future resolves with Kafka's delivery report.
    pub fn send_message(&self, m: &Message) -> Result<DeliveryFuture, KafkaError> {
        // A Message is strings, UUIDs and a timestamp: encoding cannot fail.
        let payload = serde_json::to_vec(m).unwrap_or_default();
        self.send(
            &self.topics.messages,
            &m.conversation_id.to_string(),
            &payload,
        )
    }

    /// Queues a typing event.
    pub fn send_typing(&self, e: &UserTyped) -> Result<DeliveryFuture, KafkaError> {
        let payload = serde_json::to_vec(e).unwrap_or_default();
        self.send(
            &self.topics.typing,
            &e.conversation_id.to_string(),
            &payload,
        )
    }
}

/// Consumer context: publishes the summed consumer lag from statistics.
pub struct LagContext {
    pub lag: IntGauge,
}

impl ClientContext for LagContext {
    fn stats(&self, statistics: Statistics) {
        let lag: i64 = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
            .map(|p| p.consumer_lag)
            .sum();
        self.lag.set(lag);
    }
}

impl ConsumerContext for LagContext {}

/// The fan-out consumer: a group of its own, assigned every partition of
/// every topic the gateway reads, at the current end. Blocking.
pub fn fanout_consumer(
    bootstrap: &str,
    group_prefix: &str,
    fetch_wait: Duration,
    topics: &Topics,
    lag: IntGauge,
) -> anyhow::Result<StreamConsumer<LagContext>> {
    let mut config = kafka::fanout_consumer_config(bootstrap, group_prefix, fetch_wait);
    config.set("statistics.interval.ms", "5000");
    let consumer: StreamConsumer<LagContext> = config.create_with_context(LagContext { lag })?;
    kafka::assign_all(
        &consumer,
        &[
            &topics.messages,
            &topics.participants_created,
            &topics.participants_removed,
            &topics.typing,
        ],
        kafka::Start::End,
        Duration::from_secs(10),
    )?;
    Ok(consumer)
}
