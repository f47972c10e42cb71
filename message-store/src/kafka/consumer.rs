//! Ingest: consumes `chat.messages` with one group shared by every
//! message-store instance and writes batches to PostgreSQL.
//!
//! At-least-once, with an idempotent write:
//! 1. take what is ready, up to [`MAX_BATCH`] records or [`BATCH_WAIT`];
//! 2. parse and validate each; a record that can never be stored is logged
//!    with its partition and offset, counted, and passed over;
//! 3. write the rest in one transaction (`ON CONFLICT DO NOTHING`); while
//!    the database is unreachable, retry the same batch with backoff;
//! 4. only then store the offsets, which the client commits every second
//!    and on close.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actors_common::{validation, Message};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use service_kit::db::{self, PgPool};
use tokio::sync::watch;

use crate::db::messages::{self, Stored};
use crate::metrics::Metrics;

/// Most records per batch.
pub const MAX_BATCH: usize = 2000;
/// How long a batch waits to fill once its first record arrived.
pub const BATCH_WAIT: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One consumed record: where it came from, and the message if it is one.
struct Record {
    partition: i32,
    offset: i64,
    message: Option<Message>,
}

/// Parses a record's value; logs and counts what cannot be stored.
fn parse(
    payload: Option<&[u8]>,
    partition: i32,
    offset: i64,
    metrics: &Metrics,
) -> Option<Message> {
    let Some(payload) = payload else {
        log::warn!("ingest: partition={partition} offset={offset} has no value, skipped");
        metrics.skipped.with_label_values(&["unparseable"]).inc();
        return None;
    };
    let message: Message = match serde_json::from_slice(payload) {
        Ok(m) => m,
        Err(e) => {
            log::warn!("ingest: partition={partition} offset={offset} unparseable ({e}), skipped");
            metrics.skipped.with_label_values(&["unparseable"]).inc();
            return None;
        }
    };
    if let Err(e) = validation::body(&message.body) {
        log::warn!(
            "ingest: partition={partition} offset={offset} message_id={} invalid ({}), skipped",
            message.id,
            e.message
        );
        metrics.skipped.with_label_values(&["invalid"]).inc();
        return None;
    }
    Some(message)
}

/// Adds a consumed record to the batch (a consumer error is only logged).
fn push(
    batch: &mut Vec<Record>,
    m: Result<rdkafka::message::BorrowedMessage<'_>, rdkafka::error::KafkaError>,
    metrics: &Metrics,
) {
    match m {
        Ok(m) => batch.push(Record {
            partition: m.partition(),
            offset: m.offset(),
            message: parse(m.payload(), m.partition(), m.offset(), metrics),
        }),
        Err(e) => log::warn!("ingest: consumer error: {e}"),
    }
}

/// Runs until `shutdown` turns true; commits stored offsets on the way out.
pub async fn run(
    consumer: StreamConsumer,
    topic: String,
    pool: PgPool,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    log::info!("ingest: consuming topic={topic}");
    loop {
        let first = tokio::select! {
            _ = shutdown.changed() => break,
            m = consumer.recv() => m,
        };
        let mut batch = Vec::new();
        push(&mut batch, first, &metrics);
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(m) => push(&mut batch, m, &metrics),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let valid: Vec<Message> = batch.iter().filter_map(|r| r.message.clone()).collect();
        metrics.batch_size.observe(batch.len() as f64);
        let Some(stored) = write_until_stored(&pool, &valid, &metrics, &mut shutdown).await else {
            break; // shutting down with the batch unwritten: its offsets stay unstored
        };
        metrics.ingested.inc_by(stored.inserted as u64);
        metrics.duplicates.inc_by(stored.duplicates as u64);
        if stored.not_participant > 0 {
            log::warn!(
                "ingest: {} record(s) from non-participants skipped",
                stored.not_participant
            );
            metrics
                .skipped
                .with_label_values(&["not_participant"])
                .inc_by(stored.not_participant as u64);
        }
        let mut last: HashMap<i32, i64> = HashMap::new();
        for r in &batch {
            let e = last.entry(r.partition).or_insert(r.offset);
            *e = (*e).max(r.offset);
        }
        for (partition, offset) in last {
            if let Err(e) = consumer.store_offset(&topic, partition, offset) {
                // The partition moved to another instance meanwhile: it
                // will redeliver, and the write is idempotent.
                log::info!("ingest: storing offset partition={partition} offset={offset}: {e}");
            }
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        log::info!("ingest: final commit: {e}");
    }
    log::info!("ingest: stopped");
}

/// Writes a batch, retrying while the database is unreachable. A batch the
/// database refuses for its content is written row by row, and rows that
/// still fail are skipped (and counted), so one bad record never blocks a
/// partition. `None` when shutdown came first.
async fn write_until_stored(
    pool: &PgPool,
    batch: &[Message],
    metrics: &Metrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Stored> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        match write(pool, batch).await {
            Ok(stored) => {
                metrics
                    .write_seconds
                    .observe(started.elapsed().as_secs_f64());
                return Some(stored);
            }
            Err(e) if db::ping(pool).await.is_ok() => {
                log::warn!(
                    "ingest: batch of {} refused ({e}); writing row by row",
                    batch.len()
                );
                return Some(write_each(pool, batch, metrics).await);
            }
            Err(e) => {
                log::warn!("ingest: database unreachable ({e}); retrying in {backoff:?}");
                metrics.write_retries.inc();
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn write(pool: &PgPool, batch: &[Message]) -> anyhow::Result<Stored> {
    let mut conn = pool.get().await?;
    Ok(messages::store_batch(&mut conn, batch).await?)
}

async fn write_each(pool: &PgPool, batch: &[Message], metrics: &Metrics) -> Stored {
    let mut total = Stored::default();
    for m in batch {
        match write(pool, std::slice::from_ref(m)).await {
            Ok(s) => {
                total.inserted += s.inserted;
                total.duplicates += s.duplicates;
                total.not_participant += s.not_participant;
            }
            Err(e) => {
                log::error!(
                    "ingest: message_id={} cannot be stored ({e}), skipped",
                    m.id
                );
                metrics.skipped.with_label_values(&["unstorable"]).inc();
            }
        }
    }
    total
}
