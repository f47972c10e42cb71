//! Producing and collecting records in tests, including records of the
//! conversation log (`chat.messages`) written the way gateways and
//! message-store write them.

use std::time::Duration;

use actors_common::kafka;
use actors_common::log::{partition_of, LogEvent, MessagePosted, EVENT_HEADER};
use actors_common::{ConversationId, Message, UserId};
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::ClientConfig;

use crate::stack;

/// A record as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    /// The `chat.event` header (the kind of a log record), if any.
    pub event: Option<String>,
    pub payload: String,
}

impl Record {
    /// The record as a log event (`chat.messages` records only).
    pub fn log_event(&self) -> LogEvent {
        LogEvent::decode(
            self.event.as_deref().map(str::as_bytes),
            Some(self.payload.as_bytes()),
        )
        .unwrap_or_else(|e| panic!("not a log record: {e}: {self:?}"))
    }
}

/// A producer on the test broker (the project's own config).
pub fn producer() -> FutureProducer {
    kafka_kit::producer_config(
        &stack().kafka_bootstrap,
        "test",
        &kafka_kit::ProducerOptions::default(),
    )
    .create()
    .unwrap_or_else(|e| panic!("creating a test producer: {e}"))
}

/// Produces one record and waits for the broker's acknowledgement.
pub async fn produce(producer: &FutureProducer, topic: &str, key: &str, payload: &str) {
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"));
}

/// The end offset of a partition: the seq the next record there gets.
pub async fn end_offset(producer: &FutureProducer, topic: &str, partition: i32) -> i64 {
    let (client, topic) = (producer.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        client
            .client()
            .fetch_watermarks(&topic, partition, Duration::from_secs(10))
    })
    .await
    .unwrap_or_else(|e| panic!("watermark task: {e}"))
    .unwrap_or_else(|e| panic!("watermarks of {partition}: {e}"))
    .1
}

/// Produces a log record to its conversation's partition with its kind
/// header; returns its offset (its seq).
pub async fn produce_log(producer: &FutureProducer, topic: &str, event: &LogEvent) -> i64 {
    let conversation = event.conversation_id();
    let key = conversation.to_string();
    let payload = event.to_json();
    let headers = OwnedHeaders::new().insert(Header {
        key: EVENT_HEADER,
        value: Some(event.kind().as_str()),
    });
    producer
        .send(
            FutureRecord::to(topic)
                .key(&key)
                .partition(partition_of(conversation, kafka::MESSAGES_PARTITIONS))
                .headers(headers)
                .payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("producing to {topic}: {e}"))
        .offset
}

/// Posts a message as a gateway would, with its membership checked as of
/// the partition's current end; returns it with its seq.
pub async fn post(
    producer: &FutureProducer,
    topic: &str,
    conversation: ConversationId,
    sender: UserId,
    body: &str,
) -> Message {
    let partition = partition_of(conversation, kafka::MESSAGES_PARTITIONS);
    let checked = end_offset(producer, topic, partition).await;
    let m = MessagePosted::new(
        conversation,
        sender,
        body.to_owned(),
        Some(uuid::Uuid::new_v4()),
        checked,
    );
    let seq = produce_log(producer, topic, &LogEvent::Message(m.clone())).await;
    m.at(seq)
}

/// A consumer that reads `topics`, in a group of its own.
pub struct Collector {
    consumer: StreamConsumer,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Collector")
    }
}

impl Collector {
    /// Reads from the beginning of each partition.
    pub fn from_earliest(topics: &[&str]) -> Self {
        Self::assigned(topics, kafka_kit::Start::Beginning)
    }

    /// Reads exactly what is produced after this returns.
    pub fn from_latest(topics: &[&str]) -> Self {
        Self::assigned(topics, kafka_kit::Start::End)
    }

    fn assigned(topics: &[&str], start: kafka_kit::Start) -> Self {
        let config: ClientConfig = kafka_kit::fanout_consumer_config(
            &stack().kafka_bootstrap,
            "test-collector",
            Duration::from_millis(5),
        );
        let consumer: StreamConsumer = config
            .create()
            .unwrap_or_else(|e| panic!("creating a collector: {e}"));
        kafka_kit::assign_all(&consumer, topics, start, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("assigning {topics:?}: {e}"));
        Self { consumer }
    }

    /// Collects records until `n` arrived or `timeout` passed.
    pub async fn take(&self, n: usize, timeout: Duration) -> Vec<Record> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(m)) => out.push(Record {
                    topic: m.topic().to_owned(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    event: m.headers().and_then(|h| {
                        h.iter()
                            .find(|h| h.key == EVENT_HEADER)
                            .and_then(|h| h.value)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    }),
                    payload: m
                        .payload()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .unwrap_or_default(),
                }),
                Ok(Err(e)) => log::warn!("collector: {e}"),
                Err(_) => break,
            }
        }
        out
    }

    /// Collects whatever arrives within `window` (to prove nothing more came).
    pub async fn drain(&self, window: Duration) -> Vec<Record> {
        self.take(usize::MAX, window).await
    }
}
