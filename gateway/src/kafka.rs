//! Kafka clients of the gateway: `ChatProducer` (messages, typing, logouts) and
//! the fan-out consumer, whose context turns librdkafka's statistics into
//! the consumer-lag gauge.

use std::time::Duration;

use actors_common::kafka::{SessionEnded, Topics, UserTyped, SESSION_END_MEMORY};
use actors_common::log::{LogEvent, MessagePosted, EVENT_HEADER};
use kafka_kit::ProducerOptions;
use prometheus::IntGauge;
use rdkafka::consumer::{Consumer as _, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};

use crate::inspect::trace::TRACE_HEADER;

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
        let producer = kafka_kit::producer_config(
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

    /// Queues a message to its conversation's partition; the future
    /// resolves with Kafka's delivery report, whose offset is its seq.
    /// Queuing never blocks (librdkafka refuses when its queue is full).
    pub fn send_message(
        &self,
        message: &MessagePosted,
        partition: i32,
        trace: Option<&[u8]>,
    ) -> Result<DeliveryFuture, KafkaError> {
        let payload = LogEvent::Message(message.clone()).to_json();
        let key = message.conversation_id.to_string();
        let mut headers = OwnedHeaders::new().insert(Header {
            key: EVENT_HEADER,
            value: Some("message"),
        });
        if let Some(hops) = trace {
            headers = headers.insert(Header {
                key: TRACE_HEADER,
                value: Some(hops),
            });
        }
        self.producer
            .send_result(
                FutureRecord::to(&self.topics.messages)
                    .key(&key)
                    .partition(partition)
                    .headers(headers)
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)
    }

    /// Queues a typing event.
    pub fn send_typing(&self, e: &UserTyped) -> Result<DeliveryFuture, KafkaError> {
        let payload = serde_json::to_vec(e).unwrap_or_default();
        let key = e.conversation_id.to_string();
        self.producer
            .send_result(
                FutureRecord::to(&self.topics.typing)
                    .key(&key)
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)
    }

    /// Queues a session's end (`chat.sessions`, keyed by user).
    pub fn send_session_ended(&self, e: &SessionEnded) -> Result<DeliveryFuture, KafkaError> {
        let payload = serde_json::to_vec(e).unwrap_or_default();
        let key = e.user_id.to_string();
        self.producer
            .send_result(
                FutureRecord::to(&self.topics.sessions)
                    .key(&key)
                    .payload(&payload),
            )
            .map_err(|(e, _)| e)
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

/// The fan-out consumer and where its live part begins.
pub struct FanOut {
    pub consumer: StreamConsumer<LagContext>,
    /// Per partition of `chat.messages` (index = partition id): the end of
    /// the log when the gateway started. Records before it are read only
    /// to fill the ledger's window; from it on they are delivered.
    pub live_from: Vec<i64>,
    /// Per partition of `chat.sessions` (index = partition id): its end
    /// when the gateway started; the ends before it are read again.
    pub sessions_live_from: Vec<i64>,
}

/// Most `chat.sessions` records a starting gateway reads again.
const SESSION_ENDS_REPLAYED: i64 = 10_000;

/// Where a starting gateway reads `chat.sessions` from: the first end of
/// the last [`SESSION_END_MEMORY`] (a logout a moment before this gateway
/// started must still refuse a token taken before it), at most
/// [`SESSION_ENDS_REPLAYED`] records back. When the broker cannot answer
/// by time, the replay bound alone; the Directory skips what is older.
fn recent_ends_from<C: ConsumerContext>(
    consumer: &StreamConsumer<C>,
    topic: &str,
    partition: i32,
    (low, high): (i64, i64),
    timeout: Duration,
) -> i64 {
    let floor = low.max(high - SESSION_ENDS_REPLAYED);
    let since = actors_common::time::now_millis().timestamp_millis()
        - i64::try_from(SESSION_END_MEMORY.as_millis()).unwrap_or(i64::MAX);
    let mut query = TopicPartitionList::new();
    let found = query
        .add_partition_offset(topic, partition, Offset::Offset(since))
        .ok()
        .and_then(|()| consumer.offsets_for_times(query, timeout).ok())
        .and_then(|tpl| tpl.find_partition(topic, partition).map(|e| e.offset()));
    match found {
        Some(Offset::Offset(at)) => at.clamp(floor, high),
        // Nothing that recent.
        Some(Offset::End) => high,
        _ => floor,
    }
}

/// The fan-out consumer: a group of its own (every gateway sees every
/// record), assigned every partition without a rebalance. `chat.typing`
/// starts at its end; `chat.sessions` at the ends of the last 70 s
/// (`recent_ends_from`); `chat.messages` two admission windows back from
/// its end, so the ledger judges every live record exactly (`crate::ledger`).
/// Blocking (metadata and watermark requests).
pub fn fanout_consumer(
    bootstrap: &str,
    group_prefix: &str,
    fetch_wait: Duration,
    topics: &Topics,
    lag: IntGauge,
) -> anyhow::Result<FanOut> {
    let timeout = Duration::from_secs(10);
    let mut config = kafka_kit::fanout_consumer_config(bootstrap, group_prefix, fetch_wait);
    config.set("statistics.interval.ms", "5000");
    let consumer: StreamConsumer<LagContext> = config.create_with_context(LagContext { lag })?;
    let mut tpl = TopicPartitionList::new();
    let mut live_from = Vec::new();
    let mut partitions = kafka_kit::partition_ids(consumer.client(), &topics.messages, timeout)?;
    partitions.sort_unstable();
    for (i, p) in partitions.iter().enumerate() {
        anyhow::ensure!(
            *p == i as i32,
            "partitions of {} are not 0..n: {partitions:?}",
            topics.messages
        );
        let (low, high) = consumer.fetch_watermarks(&topics.messages, *p, timeout)?;
        let wanted = high - 2 * actors_common::log::WINDOW;
        if low > wanted.max(0) {
            // Retention removed records this gateway should know: it may
            // judge a resend or a removal of that stretch differently from
            // message-store. Keep chat.messages' retention long.
            log::warn!(
                "gateway: {} partition {p} starts at {low}, inside the last two admission windows",
                topics.messages
            );
        }
        let from = wanted.max(low);
        tpl.add_partition_offset(&topics.messages, *p, Offset::Offset(from))?;
        live_from.push(high);
    }
    for p in kafka_kit::partition_ids(consumer.client(), &topics.typing, timeout)? {
        let (_, high) = consumer.fetch_watermarks(&topics.typing, p, timeout)?;
        tpl.add_partition_offset(&topics.typing, p, Offset::Offset(high))?;
    }
    let mut sessions = kafka_kit::partition_ids(consumer.client(), &topics.sessions, timeout)?;
    sessions.sort_unstable();
    let mut sessions_live_from = Vec::new();
    for (i, p) in sessions.iter().enumerate() {
        anyhow::ensure!(
            *p == i as i32,
            "partitions of {} are not 0..n: {sessions:?}",
            topics.sessions
        );
        let (low, high) = consumer.fetch_watermarks(&topics.sessions, *p, timeout)?;
        let from = recent_ends_from(&consumer, &topics.sessions, *p, (low, high), timeout);
        tpl.add_partition_offset(&topics.sessions, *p, Offset::Offset(from))?;
        sessions_live_from.push(high);
    }
    consumer.assign(&tpl)?;
    Ok(FanOut {
        consumer,
        live_from,
        sessions_live_from,
    })
}
