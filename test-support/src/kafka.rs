//! Producing and collecting records in tests.

use std::time::Duration;

use actors_common::kafka;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use crate::stack;

/// A record as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: String,
}

/// A producer on the test broker (the project's own config).
pub fn producer() -> FutureProducer {
    kafka::producer_config(
        &stack().kafka_bootstrap,
        "test",
        &kafka::ProducerOptions::default(),
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
        Self::assigned(topics, kafka::Start::Beginning)
    }

    /// Reads exactly what is produced after this returns.
    pub fn from_latest(topics: &[&str]) -> Self {
        Self::assigned(topics, kafka::Start::End)
    }

    fn assigned(topics: &[&str], start: kafka::Start) -> Self {
        let config: ClientConfig = kafka::fanout_consumer_config(
            &stack().kafka_bootstrap,
            "test-collector",
            Duration::from_millis(5),
        );
        let consumer: StreamConsumer = config
            .create()
            .unwrap_or_else(|e| panic!("creating a collector: {e}"));
        kafka::assign_all(&consumer, topics, start, Duration::from_secs(10))
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
