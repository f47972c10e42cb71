//! Kafka clients of the gateway: `ChatProducer` (messages and typing, keyed
//! by conversation) and the fan-out consumer's context, which turns
//! librdkafka's statistics into the consumer-lag gauge.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors_common::kafka::{self, ProducerOptions, Topics, UserTyped};
use actors_common::{ConversationId, Message, UserId};
use prometheus::IntGauge;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{ClientContext, Statistics};
use uuid::Uuid;

/// Produces the gateway's records.
#[derive(Clone)]
pub struct ChatProducer {
    producer: FutureProducer,
    topics: Topics,
    /// Held while a message gets its id and is queued, so within this
    /// process id order and partition order are the same order (sessions on
    /// different threads would otherwise race between the two steps).
    sequencer: Arc<Mutex<()>>,
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
        Ok(Self {
            producer,
            topics,
            sequencer: Arc::default(),
        })
    }

    pub fn inner(&self) -> &FutureProducer {
        &self.producer
    }

    fn send(&self, topic: &str, key: &str, payload: &[u8]) -> Result<DeliveryFuture, KafkaError> {
        self.producer
            .send_result(FutureRecord::to(topic).key(key).payload(payload))
            .map_err(|(e, _)| e)
    }

    /// Creates a message (fresh UUIDv7) and queues it, as one step; the
    /// future resolves with Kafka's delivery report.
    pub fn send_message(
        &self,
        conversation: ConversationId,
        sender: UserId,
        body: String,
        client_id: Uuid,
    ) -> Result<(Message, DeliveryFuture), KafkaError> {
        // Queuing never blocks (librdkafka refuses when its queue is full),
        // so the lock is held for microseconds. A poisoned lock guards no data.
        let _turn = self
            .sequencer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let message = Message::new(conversation, sender, body, Some(client_id));
        // A Message is strings, UUIDs and a timestamp: encoding cannot fail.
        let payload = serde_json::to_vec(&message).unwrap_or_default();
        let delivery = self.send(&self.topics.messages, &conversation.to_string(), &payload)?;
        Ok((message, delivery))
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
