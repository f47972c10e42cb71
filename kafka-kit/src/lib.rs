//! Kafka clients for the chat services that talk to Kafka (gateway,
//! message-store, test support): the one place that builds every rdkafka
//! `ClientConfig`, with each key set explicitly, and the blocking helpers
//! around assignment and readiness. The contract (topic names, payloads)
//! is `actors_common::kafka`; the bff and user-store link neither this
//! crate nor librdkafka.
//!
//! ## Producer ordering and duplicates
//!
//! Each conversation's records share a key and so a partition; per partition
//! the broker keeps the order the producer sent. Retries are what can break
//! that: with several requests in flight, a retried batch can land after a
//! later one. Two ways to prevent it:
//!
//! - `enable.idempotence=true` (Kafka's sequence numbers): order kept and no
//!   retry duplicates, with up to 5 requests in flight. Best on Apache Kafka
//!   and Redpanda. On the local tansu broker it costs ack p99 of 0.5–1 s.
//! - the default here: idempotence off and `max.in.flight.requests.per.connection=1`,
//!   so a retry can never overtake a later batch. A retry after a lost ack may
//!   write a record twice: a message copy has the same `client_id` and every
//!   reader takes it for a resend (`actors_common::log::admit`); a membership event
//!   copy has the same `version` and changes nothing. Users never see either.
//!
//! `KAFKA_IDEMPOTENCE=true` switches a deployment to the first.

use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use uuid::Uuid;

/// Producer knobs a deployment may change.
#[derive(Clone, Debug)]
pub struct ProducerOptions {
    /// Kafka idempotence (see the module docs).
    pub idempotence: bool,
    /// Batching delay: small, chat is latency-bound.
    pub linger: Duration,
    /// How long librdkafka keeps trying before a delivery report fails.
    pub delivery_timeout: Duration,
}

impl Default for ProducerOptions {
    fn default() -> Self {
        Self {
            idempotence: false,
            linger: Duration::from_millis(1),
            delivery_timeout: Duration::from_secs(5),
        }
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// A producer: `acks=all`, ordered retries, small linger.
pub fn producer_config(bootstrap: &str, client_id: &str, opts: &ProducerOptions) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        .set("acks", "all")
        .set("enable.idempotence", opts.idempotence.to_string())
        .set(
            "max.in.flight.requests.per.connection",
            if opts.idempotence { "5" } else { "1" },
        )
        .set("retries", "2147483647")
        .set("retry.backoff.ms", "50")
        .set("linger.ms", millis(opts.linger))
        // Records keyed by conversation without an explicit partition land
        // where `actors_common::log::partition_of` (Kafka's own key hash) says.
        .set("partitioner", "murmur2")
        .set("message.timeout.ms", millis(opts.delivery_timeout))
        .set(
            "request.timeout.ms",
            millis(opts.delivery_timeout.min(Duration::from_secs(30))),
        )
        .set("compression.type", "none")
        .set("socket.keepalive.enable", "true")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "10000")
        .set("allow.auto.create.topics", "false");
    c
}

/// What every consumer of the system shares: its id as group and client,
/// offsets kept by the caller (nothing committed or stored at the broker),
/// no end-of-partition events, fetches answered as soon as a byte is there,
/// quick reconnects, no topic ever created by reading it.
fn consumer_config(bootstrap: &str, id: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", id)
        .set("client.id", id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.min.bytes", "1")
        .set("socket.keepalive.enable", "true")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "10000")
        .set("allow.auto.create.topics", "false");
    c
}

/// A fan-out consumer: a group of its own (every process sees every record),
/// starting at the latest offset, never committing, fetching with low wait.
pub fn fanout_consumer_config(
    bootstrap: &str,
    group_prefix: &str,
    fetch_wait: Duration,
) -> ClientConfig {
    let mut c = consumer_config(bootstrap, &format!("{group_prefix}-{}", Uuid::new_v4()));
    c.set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", millis(fetch_wait))
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000");
    c
}

/// The ingest consumer: partitions are assigned by the caller at offsets it
/// keeps itself (message-store keeps them in PostgreSQL, written with the
/// rows), so nothing is committed to the broker and no group is joined.
/// librdkafka still wants a group id; it is unique and never used.
pub fn ingest_consumer_config(bootstrap: &str) -> ClientConfig {
    let mut c = consumer_config(
        bootstrap,
        &format!("message-store-ingest-{}", Uuid::new_v4()),
    );
    c.set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50");
    c
}

/// Where [`assign_all`] starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Each partition's current end: everything produced from now on.
    End,
    /// Each partition's beginning.
    Beginning,
}

/// A readiness check: the broker answers with `topic`'s metadata within two
/// seconds. Blocking (run it off the async workers).
pub fn topic_reachable<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<(), String> {
    client
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The partition ids of `topic`. A topic created a moment ago may not be in
/// the broker's metadata yet (tansu and Kafka both answer
/// `UnknownTopicOrPartition` for a short while), so this asks again every
/// 100 ms until `timeout`, then gives the last answer.
pub fn partition_ids<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
    timeout: Duration,
) -> KafkaResult<Vec<i32>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let answer = client
            .fetch_metadata(Some(topic), left.max(Duration::from_millis(100)))
            .and_then(|metadata| {
                let t = metadata.topics().iter().find(|t| t.name() == topic).ok_or(
                    KafkaError::MetadataFetch(rdkafka::types::RDKafkaErrorCode::UnknownTopic),
                )?;
                if let Some(e) = t.error() {
                    return Err(KafkaError::MetadataFetch(e.into()));
                }
                let ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                if ids.is_empty() {
                    return Err(KafkaError::MetadataFetch(
                        rdkafka::types::RDKafkaErrorCode::UnknownPartition,
                    ));
                }
                Ok(ids)
            });
        match answer {
            Ok(ids) => return Ok(ids),
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Assigns every partition of `topics` to `consumer` at `start`, without a
/// group rebalance. The fan-out consumers use it: their group is their own,
/// so there is nothing to balance, and resolving the end offsets here (not
/// lazily on first fetch) means nothing produced after this call is missed.
/// Blocking (metadata and watermark requests): call off the async threads.
pub fn assign_all<C, K>(
    consumer: &K,
    topics: &[&str],
    start: Start,
    timeout: Duration,
) -> KafkaResult<()>
where
    C: ConsumerContext,
    K: Consumer<C>,
{
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        for p in partition_ids(consumer.client(), topic, timeout)? {
            let offset = match start {
                Start::End => Offset::Offset(consumer.fetch_watermarks(topic, p, timeout)?.1),
                Start::Beginning => Offset::Beginning,
            };
            tpl.add_partition_offset(topic, p, offset)?;
        }
    }
    consumer.assign(&tpl)
}

/// An admin client's config (creating topics, reading metadata).
pub fn admin_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", "chat-admin");
    c
}

#[cfg(test)]
mod tests {
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::mocking::MockCluster;

    use super::*;

    #[test]
    fn assign_all_waits_for_a_topic_that_appears_late_and_gives_up_on_one_that_never_does() {
        let cluster = MockCluster::new(1).unwrap();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", "assign-all-test")
            .set("allow.auto.create.topics", "false")
            .create()
            .unwrap();
        let started = std::time::Instant::now();
        std::thread::scope(|scope| {
            let assigning = scope.spawn(|| {
                assign_all(
                    &consumer,
                    &["late"],
                    Start::Beginning,
                    Duration::from_secs(10),
                )
            });
            std::thread::sleep(Duration::from_millis(500));
            cluster.create_topic("late", 3, 1).unwrap();
            assigning.join().unwrap().unwrap();
        });
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "it did not wait for the deadline"
        );
        assert_eq!(consumer.assignment().unwrap().count(), 3);

        let started = std::time::Instant::now();
        let never = assign_all(
            &consumer,
            &["never"],
            Start::Beginning,
            Duration::from_secs(1),
        );
        assert!(never.is_err(), "a missing topic is an error in the end");
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "after the deadline, not before"
        );
    }

    #[test]
    fn partition_of_is_where_librdkafka_puts_a_keyed_record() {
        use rdkafka::producer::{
            BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext,
        };
        use std::sync::mpsc;

        struct Reports(std::sync::Mutex<mpsc::Sender<(String, i32)>>);
        impl rdkafka::ClientContext for Reports {}
        impl ProducerContext for Reports {
            type DeliveryOpaque = ();
            fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
                use rdkafka::message::Message as _;
                let m = r.as_ref().unwrap();
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let _ = self.0.lock().unwrap().send((key, m.partition()));
            }
        }
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("keyed", 6, 1).unwrap();
        let (tx, rx) = mpsc::channel();
        let producer: BaseProducer<Reports> = producer_config(
            &cluster.bootstrap_servers(),
            "t",
            &ProducerOptions::default(),
        )
        .create_with_context(Reports(std::sync::Mutex::new(tx)))
        .unwrap();
        let keys: Vec<actors_common::ConversationId> = (0..50)
            .map(|_| actors_common::ConversationId::new_v7())
            .collect();
        for k in &keys {
            let key = k.to_string();
            producer
                .send(
                    BaseRecord::<String, [u8]>::to("keyed")
                        .key(&key)
                        .payload(&b"x"[..]),
                )
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        for _ in &keys {
            let (key, partition) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let id: actors_common::ConversationId = key.parse().unwrap();
            assert_eq!(actors_common::log::partition_of(id, 6), partition, "{key}");
        }
    }

    #[test]
    fn producer_keeps_order_without_idempotence() {
        let c = producer_config("b:9092", "x", &ProducerOptions::default());
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("enable.idempotence"), Some("false"));
        assert_eq!(c.get("max.in.flight.requests.per.connection"), Some("1"));
        let idem = producer_config(
            "b:9092",
            "x",
            &ProducerOptions {
                idempotence: true,
                ..Default::default()
            },
        );
        assert_eq!(idem.get("max.in.flight.requests.per.connection"), Some("5"));
    }

    #[test]
    fn fanout_groups_are_unique_per_consumer() {
        let a = fanout_consumer_config("b:9092", "gw", Duration::from_millis(1));
        let b = fanout_consumer_config("b:9092", "gw", Duration::from_millis(1));
        assert_ne!(a.get("group.id"), b.get("group.id"));
        assert_eq!(a.get("auto.offset.reset"), Some("latest"));
        let d = ingest_consumer_config("b:9092");
        assert_eq!(d.get("enable.auto.commit"), Some("false"));
        assert_eq!(d.get("enable.auto.offset.store"), Some("false"));
    }
}
