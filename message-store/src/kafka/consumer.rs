//! Ingest: reads `chat.messages` and applies it to PostgreSQL in log order
//! (`db::ingest`): messages the log admits, membership events, offsets.
//!
//! There is no consumer group. Each message-store instance takes partitions
//! with PostgreSQL advisory locks, held by a connection of its own, and
//! reads each from the offset kept in `ingest_offsets`, which moves in the
//! same transaction as the rows. So a restarted instance resumes exactly
//! where its last commit left off without waiting for a broker's group
//! coordinator, and an instance that dies releases its locks with its
//! connection: another takes its partitions within [`CLAIM_EVERY`]. Should
//! two instances ever both think they own a partition, the offsets'
//! compare-and-set lets only one write.
//!
//! Failures:
//! - the database unreachable, or any error that is not about a record's
//!   content: the same batch again, with backoff, until it is stored; a
//!   record is never skipped for a transient error;
//! - a record the database refuses for its content (a constraint): the
//!   batch is applied record by record, and only a record that fails on its
//!   own is skipped (logged with its offset, counted), so it cannot block
//!   its partition;
//! - an unreadable record: skipped (counted) as it is read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actors_common::log::{LogEvent, EVENT_HEADER};
use diesel::result::{DatabaseErrorKind, Error as DbError};
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use service_kit::db::PgPool;
use tokio::sync::watch;

use crate::db::ingest::{self, Advance, Applied, ApplyError, LogRecord};
use crate::metrics::Metrics;

/// Most records per batch.
pub const MAX_BATCH: usize = 2000;
/// How long a batch waits to fill once its first record arrived.
pub const BATCH_WAIT: Duration = Duration::from_millis(5);
/// How often free partitions are claimed and the lock connection checked.
pub const CLAIM_EVERY: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a statement on the lock connection may take: a half-open
/// connection must not hold up ingest of every partition.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// What ingest needs to run.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub bootstrap: String,
    pub topic: String,
    /// For the connection that holds the partition locks (not pooled).
    pub database_url: String,
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

fn lock_name(topic: &str, partition: i32) -> String {
    format!("ingest {topic} {partition}")
}

/// The instance's share of the log: which partitions it holds and where.
struct Ownership {
    topic: String,
    database_url: String,
    /// Holds the advisory locks; `None` while the database is unreachable.
    locks: Option<AsyncPgConnection>,
    /// Owned partitions and their recorded next offset (`None`: none yet).
    owned: BTreeMap<i32, Option<i64>>,
    last_claim: Option<Instant>,
}

impl Ownership {
    /// Re-checks the lock connection and tries to lock every partition not
    /// held yet. True when the set of owned partitions changed.
    async fn claim(&mut self, partitions: &[i32], pool: &PgPool) -> bool {
        self.last_claim = Some(Instant::now());
        let before: Vec<i32> = self.owned.keys().copied().collect();
        if let Some(conn) = self.locks.as_mut() {
            let alive =
                tokio::time::timeout(LOCK_TIMEOUT, diesel::sql_query("SELECT 1").execute(conn))
                    .await
                    .is_ok_and(|r| r.is_ok());
            if !alive {
                log::warn!("ingest: lock connection lost; giving up every partition");
                self.locks = None;
                self.owned.clear();
            }
        }
        if self.locks.is_none() {
            match tokio::time::timeout(
                LOCK_TIMEOUT,
                AsyncPgConnection::establish(&self.database_url),
            )
            .await
            {
                Ok(Ok(conn)) => self.locks = Some(conn),
                Ok(Err(e)) => {
                    log::warn!("ingest: cannot connect for partition locks: {e}");
                    return before != self.owned.keys().copied().collect::<Vec<_>>();
                }
                Err(_) => {
                    log::warn!("ingest: connecting for partition locks timed out");
                    return before != self.owned.keys().copied().collect::<Vec<_>>();
                }
            }
        }
        let free: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| !self.owned.contains_key(p))
            .collect();
        if !free.is_empty() {
            let offsets = match pool.get().await {
                Ok(mut conn) => ingest::next_offsets(&mut conn, &self.topic).await.ok(),
                Err(_) => None,
            };
            if let (Some(offsets), Some(conn)) = (offsets, self.locks.as_mut()) {
                for p in free {
                    let lock = diesel::sql_query(
                        "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked",
                    )
                    .bind::<Text, _>(lock_name(&self.topic, p))
                    .get_result::<Locked>(conn);
                    let got = match tokio::time::timeout(LOCK_TIMEOUT, lock).await {
                        Ok(r) => r,
                        Err(_) => Err(diesel::result::Error::BrokenTransactionManager),
                    };
                    match got {
                        Ok(Locked { locked: true }) => {
                            // Read again under the lock: the last owner may
                            // have committed since.
                            let next = match pool.get().await {
                                Ok(mut c) => ingest::next_offsets(&mut c, &self.topic)
                                    .await
                                    .ok()
                                    .and_then(|o| o.get(&p).copied())
                                    .or_else(|| offsets.get(&p).copied()),
                                Err(_) => offsets.get(&p).copied(),
                            };
                            log::info!("ingest: partition={p} claimed, next offset {next:?}");
                            self.owned.insert(p, next);
                        }
                        Ok(Locked { locked: false }) => {}
                        Err(e) => {
                            log::warn!("ingest: locking partition={p}: {e}");
                            break;
                        }
                    }
                }
            }
        }
        before != self.owned.keys().copied().collect::<Vec<_>>()
    }

    /// Gives a partition up (another instance moved it).
    async fn release(&mut self, partition: i32) {
        self.owned.remove(&partition);
        if let Some(conn) = self.locks.as_mut() {
            let _ = diesel::sql_query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                .bind::<Text, _>(lock_name(&self.topic, partition))
                .execute(conn)
                .await;
        }
    }

    fn assignment(&self) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (&p, next) in &self.owned {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            // Adding to a fresh list cannot fail for a valid partition id.
            let _ = tpl.add_partition_offset(&self.topic, p, offset);
        }
        tpl
    }

    fn due(&self) -> bool {
        self.last_claim.is_none_or(|t| t.elapsed() >= CLAIM_EVERY)
    }
}

/// Reads a record into the log's terms; logs and counts what cannot be read.
fn parse(m: &BorrowedMessage<'_>, metrics: &Metrics) -> Option<LogEvent> {
    let header = m.headers().and_then(|h| {
        h.iter()
            .find(|h| h.key == EVENT_HEADER)
            .and_then(|h| h.value)
    });
    match LogEvent::decode(header, m.payload()) {
        Ok(event) => Some(event),
        Err(e) => {
            log::warn!(
                "ingest: partition={} offset={} skipped: {e}",
                m.partition(),
                m.offset()
            );
            metrics.skipped.with_label_values(&["unparseable"]).inc();
            None
        }
    }
}

/// Adds a consumed record to the batch (a consumer error is only logged).
fn take(
    batch: &mut Vec<(i32, i64, Option<LogEvent>)>,
    m: Result<BorrowedMessage<'_>, rdkafka::error::KafkaError>,
    metrics: &Metrics,
) {
    match m {
        Ok(m) => batch.push((m.partition(), m.offset(), parse(&m, metrics))),
        Err(e) => log::warn!("ingest: consumer error: {e}"),
    }
}

fn is_content_error(e: &ApplyError) -> bool {
    matches!(
        e,
        ApplyError::Db(DbError::DatabaseError(
            DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation,
            _
        ))
    )
}

/// Runs until `shutdown` turns true.
pub async fn run(
    config: IngestConfig,
    pool: PgPool,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let consumer: StreamConsumer =
        match kafka_kit::ingest_consumer_config(&config.bootstrap).create() {
            Ok(c) => c,
            Err(e) => {
                log::error!("ingest: cannot create the consumer: {e}");
                return;
            }
        };
    let consumer = Arc::new(consumer);
    let partitions = loop {
        let (c, topic) = (consumer.clone(), config.topic.clone());
        let found = tokio::task::spawn_blocking(move || {
            kafka_kit::partition_ids(c.client(), &topic, Duration::from_secs(5))
        })
        .await;
        match found {
            Ok(Ok(p)) => break p,
            Ok(Err(e)) => log::warn!("ingest: topic={} not found yet: {e}", config.topic),
            Err(e) => log::warn!("ingest: metadata task: {e}"),
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    log::info!(
        "ingest: topic={} with {} partitions",
        config.topic,
        partitions.len()
    );
    let mut own = Ownership {
        topic: config.topic.clone(),
        database_url: config.database_url.clone(),
        locks: None,
        owned: BTreeMap::new(),
        last_claim: None,
    };
    loop {
        if own.due() {
            if own.claim(&partitions, &pool).await {
                if let Err(e) = consumer.assign(&own.assignment()) {
                    log::warn!("ingest: assigning partitions: {e}");
                }
            }
            metrics.partitions_owned.set(own.owned.len() as i64);
        }
        let first = tokio::select! {
            _ = shutdown.changed() => break,
            m = tokio::time::timeout(CLAIM_EVERY, consumer.recv()) => m,
        };
        let Ok(first) = first else { continue };
        let mut batch: Vec<(i32, i64, Option<LogEvent>)> = Vec::new();
        take(&mut batch, first, &metrics);
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(m) => take(&mut batch, m, &metrics),
                Err(_) => break,
            }
        }
        // Only partitions still owned, from where their offsets stand (a
        // reassignment may deliver records already applied).
        batch.retain(|(p, o, _)| {
            own.owned
                .get(p)
                .is_some_and(|next| next.is_none_or(|n| *o >= n))
        });
        if batch.is_empty() {
            continue;
        }
        metrics.batch_size.observe(batch.len() as f64);
        match store(&own, &config.topic, &batch, &pool, &metrics, &mut shutdown).await {
            Stored::Done(applied, advances) => {
                count(&metrics, &applied);
                for a in advances {
                    own.owned.insert(a.partition, Some(a.to));
                }
            }
            Stored::Moved(p, advances) => {
                for a in advances {
                    own.owned.insert(a.partition, Some(a.to));
                }
                log::warn!("ingest: partition={p} moved to another instance; releasing it");
                own.release(p).await;
                if let Err(e) = consumer.assign(&own.assignment()) {
                    log::warn!("ingest: assigning partitions: {e}");
                }
            }
            Stored::ShuttingDown => break,
        }
    }
    log::info!("ingest: stopped");
}

enum Stored {
    /// Applied, and where it left each partition.
    Done(Applied, Vec<Advance>),
    /// Another instance moved the partition; what was applied before that.
    Moved(i32, Vec<Advance>),
    ShuttingDown,
}

fn count(metrics: &Metrics, a: &Applied) {
    metrics.ingested.inc_by(a.inserted as u64);
    metrics.duplicates.inc_by(a.duplicates as u64);
    metrics.membership_events.inc_by(a.membership_events as u64);
    for (reason, n) in [
        ("not_participant", a.not_participant),
        ("stale", a.stale),
        ("invalid", a.invalid),
        ("unknown_conversation", a.unknown_conversation),
    ] {
        if n > 0 {
            log::info!("ingest: {n} record(s) not stored: {reason}");
            metrics
                .skipped
                .with_label_values(&[reason])
                .inc_by(n as u64);
        }
    }
    if a.unexpected_sender > 0 {
        log::warn!(
            "ingest: {} message(s) stored from senders the log never added (a gateway's bug?)",
            a.unexpected_sender
        );
        metrics
            .unexpected_senders
            .inc_by(a.unexpected_sender as u64);
    }
}

fn add(total: &mut Applied, a: &Applied) {
    total.inserted += a.inserted;
    total.duplicates += a.duplicates;
    total.not_participant += a.not_participant;
    total.stale += a.stale;
    total.invalid += a.invalid;
    total.unexpected_sender += a.unexpected_sender;
    total.unknown_conversation += a.unknown_conversation;
    total.membership_events += a.membership_events;
}

/// The batch's records and where it moves each partition.
fn plan(own: &Ownership, batch: &[(i32, i64, Option<LogEvent>)]) -> (Vec<LogRecord>, Vec<Advance>) {
    let mut advances: BTreeMap<i32, Advance> = BTreeMap::new();
    let mut records = Vec::with_capacity(batch.len());
    for (p, o, event) in batch {
        let a = advances.entry(*p).or_insert(Advance {
            partition: *p,
            from: own.owned.get(p).copied().flatten(),
            to: *o + 1,
        });
        a.to = a.to.max(*o + 1);
        if let Some(event) = event {
            records.push(LogRecord {
                partition: *p,
                offset: *o,
                event: event.clone(),
            });
        }
    }
    (records, advances.into_values().collect())
}

/// Applies a batch, retrying transient failures until it is stored; falls
/// back to one record at a time when the database refuses its content (a
/// constraint).
async fn store(
    own: &Ownership,
    topic: &str,
    batch: &[(i32, i64, Option<LogEvent>)],
    pool: &PgPool,
    metrics: &Metrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Stored {
    let (records, advances) = plan(own, batch);
    match apply_until(topic, &records, &advances, pool, metrics, shutdown).await {
        Ok(Ok(applied)) => Stored::Done(applied, advances),
        Ok(Err(ApplyError::Moved(p))) => Stored::Moved(p, Vec::new()),
        Ok(Err(e)) => {
            log::warn!(
                "ingest: batch of {} refused ({e}); applying record by record",
                records.len()
            );
            one_by_one(own, topic, batch, pool, metrics, shutdown).await
        }
        Err(Shutdown) => Stored::ShuttingDown,
    }
}

struct Shutdown;

/// Applies until it succeeds or fails for a reason retrying cannot change:
/// a moved partition, or a constraint the rows break. Waits out everything
/// else (unreachable, pool exhausted, a failover, a deadlock, a full disk):
/// a record is never given up for an error that is not about its content.
/// A partition stuck here shows as a climbing
/// `message_store_write_retries_total` and a warning per attempt; records
/// no client could have sent (bad bodies, impossible times) are weeded out
/// before they reach the database, so what is left to fail is the database.
async fn apply_until(
    topic: &str,
    records: &[LogRecord],
    advances: &[Advance],
    pool: &PgPool,
    metrics: &Metrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Result<Applied, ApplyError>, Shutdown> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        match pool.get().await {
            Ok(mut conn) => match ingest::apply(&mut conn, topic, records, advances).await {
                Ok(applied) => {
                    metrics
                        .write_seconds
                        .observe(started.elapsed().as_secs_f64());
                    return Ok(Ok(applied));
                }
                Err(e @ ApplyError::Moved(_)) => return Ok(Err(e)),
                Err(e) if is_content_error(&e) => return Ok(Err(e)),
                Err(e) => log::warn!("ingest: batch not stored ({e}); retrying in {backoff:?}"),
            },
            Err(e) => log::warn!("ingest: no database connection ({e}); retrying in {backoff:?}"),
        }
        metrics.write_retries.inc();
        tokio::select! {
            _ = shutdown.changed() => return Err(Shutdown),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn one_by_one(
    own: &Ownership,
    topic: &str,
    batch: &[(i32, i64, Option<LogEvent>)],
    pool: &PgPool,
    metrics: &Metrics,
    shutdown: &mut watch::Receiver<bool>,
) -> Stored {
    let mut total = Applied::default();
    let mut next: BTreeMap<i32, Option<i64>> = own.owned.clone();
    let mut done: BTreeMap<i32, Advance> = BTreeMap::new();
    for (p, o, event) in batch {
        let advance = Advance {
            partition: *p,
            from: next.get(p).copied().flatten(),
            to: *o + 1,
        };
        let records: Vec<LogRecord> = event
            .iter()
            .map(|e| LogRecord {
                partition: *p,
                offset: *o,
                event: e.clone(),
            })
            .collect();
        let mut attempt = records.as_slice();
        let applied = loop {
            match apply_until(topic, attempt, &[advance], pool, metrics, shutdown).await {
                Err(Shutdown) => return Stored::ShuttingDown,
                Ok(Ok(a)) => break a,
                Ok(Err(ApplyError::Moved(p))) => {
                    return Stored::Moved(p, done.into_values().collect())
                }
                Ok(Err(e)) if !attempt.is_empty() => {
                    // This record alone is refused: pass over it, so it
                    // cannot block its partition.
                    log::error!("ingest: partition={p} offset={o} cannot be stored ({e}), skipped");
                    metrics.skipped.with_label_values(&["unstorable"]).inc();
                    attempt = &[];
                }
                Ok(Err(e)) => {
                    // Moving the offset alone cannot be refused for its
                    // content: treat it as transient and keep trying.
                    log::error!("ingest: partition={p} cannot move past offset={o}: {e}");
                }
            }
        };
        add(&mut total, &applied);
        next.insert(*p, Some(advance.to));
        done.insert(*p, advance);
    }
    Stored::Done(total, done.into_values().collect())
}
