//! The outbox publisher: sends participant events that committed with their
//! membership change, and deletes them once the broker acknowledged them.
//!
//! Rows are claimed with `FOR UPDATE SKIP LOCKED` inside a transaction that
//! stays open until every send is acknowledged; a crash before the delete
//! commits means the rows are sent again (at-least-once; gateways ignore an
//! event whose `version` they have already applied).

use std::sync::Arc;
use std::time::Duration;

use actors_common::kafka::Topics;
use diesel_async::AsyncConnection;
use rdkafka::producer::{FutureProducer, FutureRecord};
use service_kit::db::PgPool;
use tokio::sync::{watch, Notify};

use crate::db::outbox;
use crate::metrics::Metrics;

/// Events claimed per transaction.
const BATCH: i64 = 500;
/// How often the outbox is checked when nobody rang the bell (events
/// written by another instance, or left by a crash).
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("kafka: {0}")]
    Kafka(String),
}

/// Runs until `shutdown` turns true. `bell` is rung after each local change.
pub async fn run(
    producer: FutureProducer,
    topics: Topics,
    pool: PgPool,
    metrics: Arc<Metrics>,
    bell: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        loop {
            match publish_some(&producer, &topics, &pool).await {
                Ok(0) => break,
                Ok(n) => metrics.outbox_published.inc_by(n as u64),
                Err(e) => {
                    log::warn!("outbox: publishing failed, will retry: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
        if let Ok(mut conn) = pool.get().await {
            if let Ok(n) = outbox::pending(&mut conn).await {
                metrics.outbox_pending.set(n);
            }
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = bell.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    log::info!("outbox: publisher stopped");
}

/// Publishes up to [`BATCH`] events; returns how many.
async fn publish_some(
    producer: &FutureProducer,
    topics: &Topics,
    pool: &PgPool,
) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let n = conn
        .transaction::<usize, PublishError, _>(async |conn| {
            let rows = outbox::claim(conn, BATCH).await?;
            if rows.is_empty() {
                return Ok(0);
            }
            let mut deliveries = Vec::with_capacity(rows.len());
            for row in &rows {
                let topic = topics.resolve(&row.topic);
                let payload = row.payload.to_string();
                let record = FutureRecord::to(&topic).key(&row.key).payload(&payload);
                let delivery = producer
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
    Ok(n)
}
