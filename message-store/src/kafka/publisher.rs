//! The outbox publisher: sends log events that committed with their change
//! to the conversation's partition of `chat.messages`, and deletes them
//! once the broker acknowledged them.
//!
//! A request that changed a conversation publishes its events itself before
//! it answers ([`Publisher::announce`]): once a create, add or removal has
//! answered, its event is in the log ahead of any message sent after it,
//! which is what makes membership causal on every gateway. A background
//! loop ([`run`]) sends what is left (an instance that died, a broker that
//! was down). Per conversation the order is kept (`db::outbox`); a crash
//! between the broker's ack and the delete sends a row again, which readers
//! apply as a no-op.

use std::sync::Arc;
use std::time::Duration;

use actors_common::kafka::Topics;
use actors_common::log::{partition_of, EVENT_HEADER};
use actors_common::ConversationId;
use diesel_async::AsyncConnection;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use service_kit::db::PgPool;
use tokio::sync::{watch, Notify};

use crate::db::outbox;
use crate::metrics::Metrics;

/// How often the outbox is checked for leftovers when nobody rang the bell.
const POLL: Duration = Duration::from_millis(250);
/// Conversations published per round of the background loop.
const BATCH: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("kafka: {0}")]
    Kafka(String),
}

/// What became of a request's events when it answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announced {
    /// In the log: every gateway applies them before any later message.
    InTheLog,
    /// The broker did not take them in time: the outbox sends them later.
    Late,
    /// This instance does not publish (`OUTBOX_PUBLISHER=false`): another
    /// one sends them.
    NotHere,
}

/// Publishes outbox rows; shared by the routes and the background loop.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
    topic: String,
    partitions: i32,
    pool: PgPool,
    metrics: Arc<Metrics>,
    /// Rung when a request could not publish its own events.
    bell: Arc<Notify>,
    /// False on an instance that must not publish (`OUTBOX_PUBLISHER=false`):
    /// its requests answer without waiting, and another instance sends.
    enabled: bool,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topic", &self.topic)
            .finish()
    }
}

impl Publisher {
    pub fn new(
        producer: FutureProducer,
        topics: &Topics,
        partitions: i32,
        pool: PgPool,
        metrics: Arc<Metrics>,
        enabled: bool,
    ) -> Self {
        Self {
            producer,
            topic: topics.messages.clone(),
            partitions,
            pool,
            metrics,
            bell: Arc::default(),
            enabled,
        }
    }

    /// Publishes every unsent event of one conversation, in order; returns
    /// how many it sent (0 when another publisher sent them first).
    pub async fn publish(&self, key: &str) -> Result<usize, PublishError> {
        let conversation: ConversationId = key.parse().map_err(|e| {
            PublishError::Kafka(format!("outbox key {key:?} is no conversation id: {e}"))
        })?;
        let partition = partition_of(conversation, self.partitions);
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| PublishError::Pool(e.to_string()))?;
        let sent = conn
            .transaction::<usize, PublishError, _>(async |conn| {
                outbox::lock_conversation(conn, key).await?;
                let rows = outbox::claim_conversation(conn, key).await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let mut deliveries = Vec::with_capacity(rows.len());
                for row in &rows {
                    let payload = row.payload.to_string();
                    let headers = OwnedHeaders::new().insert(Header {
                        key: EVENT_HEADER,
                        value: Some(row.event.as_bytes()),
                    });
                    let record = FutureRecord::to(&self.topic)
                        .key(&row.key)
                        .partition(partition)
                        .headers(headers)
                        .payload(&payload);
                    let delivery = self
                        .producer
                        .send_result(record)
                        .map_err(|(e, _)| PublishError::Kafka(e.to_string()))?;
                    deliveries.push(delivery);
                }
                for d in deliveries {
                    match d.await {
                        Ok(Ok(_)) => {}
                        Ok(Err((e, _))) => return Err(PublishError::Kafka(e.to_string())),
                        Err(_) => return Err(PublishError::Kafka("delivery cancelled".into())),
                    }
                }
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                outbox::delete(conn, &ids).await?;
                Ok(rows.len())
            })
            .await?;
        self.metrics.outbox_published.inc_by(sent as u64);
        Ok(sent)
    }

    /// Publishes a conversation's events on behalf of the request that
    /// wrote them, waiting at most `timeout`. The work goes on in the
    /// background if the wait ends first (a transaction is never cut in the
    /// middle), and the loop is woken to retry if it failed.
    pub async fn announce(&self, conversation: ConversationId, timeout: Duration) -> Announced {
        if !self.enabled {
            return Announced::NotHere;
        }
        if self.try_announce(conversation, timeout).await {
            Announced::InTheLog
        } else {
            Announced::Late
        }
    }

    async fn try_announce(&self, conversation: ConversationId, timeout: Duration) -> bool {
        let this = self.clone();
        let key = conversation.to_string();
        let task = actix_web::rt::spawn(async move { this.publish(&key).await });
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(Ok(_))) => true,
            Ok(Ok(Err(e))) => {
                log::warn!("outbox: conversation_id={conversation} not announced yet: {e}");
                self.bell.notify_one();
                false
            }
            Ok(Err(e)) => {
                log::warn!("outbox: conversation_id={conversation} publish task: {e}");
                self.bell.notify_one();
                false
            }
            Err(_) => {
                log::warn!(
                    "outbox: conversation_id={conversation} not announced within {timeout:?}"
                );
                false
            }
        }
    }
}

/// Sends what requests left unsent, until `shutdown` turns true.
pub async fn run(publisher: Publisher, mut shutdown: watch::Receiver<bool>) {
    loop {
        match leftovers(&publisher).await {
            Ok(()) => {}
            Err(e) => {
                log::warn!("outbox: publishing failed, will retry: {e}");
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = publisher.bell.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    log::info!("outbox: publisher stopped");
}

async fn leftovers(publisher: &Publisher) -> Result<(), PublishError> {
    let mut conn = publisher
        .pool
        .get()
        .await
        .map_err(|e| PublishError::Pool(e.to_string()))?;
    let keys = outbox::pending_conversations(&mut conn, BATCH).await?;
    publisher
        .metrics
        .outbox_pending
        .set(outbox::pending(&mut conn).await?);
    drop(conn);
    for key in keys {
        publisher.publish(&key).await?;
    }
    Ok(())
}
