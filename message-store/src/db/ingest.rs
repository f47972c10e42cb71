//! Ingest's writes: a batch of `chat.messages` records applied in log order,
//! in one transaction together with each partition's next offset.
//!
//! For each record, in order:
//! - a membership event updates `log_members`, the latest event of each
//!   (conversation, user) by version; a copy an outbox sent again (same
//!   version) changes nothing;
//! - a message is decided by [`actors_common::log::admit`] from the log's
//!   own facts: the sender's latest membership event (`log_members`, as the
//!   records before it in this batch left it) and the earlier admissible
//!   records with the same resend key (stored messages and `resends`). An
//!   accepted message is stored with its offset as `seq`; an admissible
//!   resend is noted in `resends` (a later resend within the window of it is
//!   a duplicate too);
//! - a rename changes nothing here (the name was stored by the request).
//!
//! Offsets move by compare-and-set: a partition's `next_offset` must still be
//! where this instance last left it, so two instances that both believe
//! they own a partition can never both write it, and a batch that commits
//! was applied exactly once.

use std::collections::{HashMap, HashSet};

use actors_common::log::{self, Admission, LogEvent, WINDOW};
use actors_common::{validation, ConversationId, UserId};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{LogMemberRow, MessageRow};
use super::schema::{conversations, ingest_offsets, log_members, messages, resends};

/// A record of `chat.messages` that was read: where it is, and what.
#[derive(Clone, Debug)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub event: LogEvent,
}

/// How a batch moves one partition: from the next offset ingest had
/// recorded (`None`: never recorded) to the one after its last record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advance {
    pub partition: i32,
    pub from: Option<i64>,
    pub to: i64,
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Messages stored.
    pub inserted: usize,
    /// Resends of a message already stored (and replays of stored records).
    pub duplicates: usize,
    /// Messages whose sender had been removed at that point of the log.
    pub not_participant: usize,
    /// Messages accepted on a view of membership too old to trust.
    pub stale: usize,
    /// Messages with a body or a time no client may send (a producer's bug).
    pub invalid: usize,
    /// Messages accepted from a sender the log never added or has removed
    /// outside the window: a correct gateway never sends one.
    pub unexpected_sender: usize,
    /// Records of a conversation this database does not have.
    pub unknown_conversation: usize,
    /// Membership events applied.
    pub membership_events: usize,
}

/// Why a batch was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Another instance moved the partition meanwhile: it owns it now.
    #[error("partition {0} was advanced by another instance")]
    Moved(i32),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The next offset ingest recorded for each partition of `topic`.
pub async fn next_offsets(
    conn: &mut AsyncPgConnection,
    topic: &str,
) -> QueryResult<HashMap<i32, i64>> {
    let rows: Vec<(i32, i64)> = ingest_offsets::table
        .filter(ingest_offsets::topic.eq(topic))
        .select((ingest_offsets::partition, ingest_offsets::next_offset))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The next offset ingest will read in one partition (`None`: none read).
pub async fn next_offset(
    conn: &mut AsyncPgConnection,
    topic: &str,
    partition: i32,
) -> QueryResult<Option<i64>> {
    ingest_offsets::table
        .find((topic, partition))
        .select(ingest_offsets::next_offset)
        .first(conn)
        .await
        .optional()
}

async fn advance(conn: &mut AsyncPgConnection, topic: &str, a: &Advance) -> Result<(), ApplyError> {
    let moved = match a.from {
        None => {
            diesel::insert_into(ingest_offsets::table)
                .values((
                    ingest_offsets::topic.eq(topic),
                    ingest_offsets::partition.eq(a.partition),
                    ingest_offsets::next_offset.eq(a.to),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?
        }
        Some(from) => {
            diesel::update(
                ingest_offsets::table
                    .filter(ingest_offsets::topic.eq(topic))
                    .filter(ingest_offsets::partition.eq(a.partition))
                    .filter(ingest_offsets::next_offset.eq(from)),
            )
            .set(ingest_offsets::next_offset.eq(a.to))
            .execute(conn)
            .await?
        }
    };
    if moved == 1 {
        Ok(())
    } else {
        Err(ApplyError::Moved(a.partition))
    }
}

type Pair = (ConversationId, UserId);

/// A time PostgreSQL can store and a gateway could have written.
fn plausible(t: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Datelike as _;
    (2000..=9999).contains(&t.year())
}
type Key = (ConversationId, UserId, Uuid);

/// What the batch needs to know from the database before it walks the log.
struct Known {
    conversations: HashSet<ConversationId>,
    members: HashMap<Pair, LogMemberRow>,
    /// Seqs of admissible records (stored messages and resends) per resend
    /// key, within the window of the batch.
    resends: HashMap<Key, Vec<i64>>,
}

async fn known(conn: &mut AsyncPgConnection, records: &[LogRecord]) -> QueryResult<Known> {
    let mut conversation_ids = HashSet::new();
    let mut users = HashSet::new();
    let mut senders = HashSet::new();
    let mut client_ids = HashSet::new();
    for r in records {
        conversation_ids.insert(r.event.conversation_id());
        match &r.event {
            LogEvent::Message(m) => {
                users.insert(m.sender_id);
                if let Some(c) = m.client_id {
                    senders.insert(m.sender_id);
                    client_ids.insert(c);
                }
            }
            LogEvent::ParticipantsAdded(e) => users.extend(e.user_ids.iter().copied()),
            LogEvent::ParticipantRemoved(e) => {
                users.insert(e.user_id);
            }
            LogEvent::ConversationRenamed(_) => {}
        }
    }
    let conversation_ids: Vec<ConversationId> = conversation_ids.into_iter().collect();
    let users: Vec<UserId> = users.into_iter().collect();
    let conversations: HashSet<ConversationId> = conversations::table
        .filter(conversations::id.eq_any(&conversation_ids))
        .select(conversations::id)
        .load::<ConversationId>(conn)
        .await?
        .into_iter()
        .collect();
    // A superset of the pairs (each id list on its own); exact pairs are
    // looked up in the map.
    let members = log_members::table
        .filter(log_members::conversation_id.eq_any(&conversation_ids))
        .filter(log_members::user_id.eq_any(&users))
        .select(LogMemberRow::as_select())
        .load::<LogMemberRow>(conn)
        .await?
        .into_iter()
        .map(|m| ((m.conversation_id, m.user_id), m))
        .collect();
    let mut resends: HashMap<Key, Vec<i64>> = HashMap::new();
    if !client_ids.is_empty() {
        let from = records.iter().map(|r| r.offset).min().unwrap_or(0) - WINDOW;
        let senders: Vec<UserId> = senders.into_iter().collect();
        let client_ids: Vec<Uuid> = client_ids.into_iter().collect();
        let rows: Vec<(ConversationId, UserId, Option<Uuid>, i64)> = messages::table
            .filter(messages::sender_id.eq_any(&senders))
            .filter(messages::client_id.is_not_null())
            .filter(messages::client_id.eq_any(&client_ids))
            .filter(messages::seq.ge(from))
            .select((
                messages::conversation_id,
                messages::sender_id,
                messages::client_id,
                messages::seq,
            ))
            .load(conn)
            .await?;
        for (c, s, client, seq) in rows {
            if let Some(client) = client {
                resends.entry((c, s, client)).or_default().push(seq);
            }
        }
        let repeats: Vec<(ConversationId, UserId, Uuid, i64)> = resends::table
            .filter(resends::sender_id.eq_any(&senders))
            .filter(resends::client_id.eq_any(&client_ids))
            .filter(resends::seq.ge(from))
            .select((
                resends::conversation_id,
                resends::sender_id,
                resends::client_id,
                resends::seq,
            ))
            .load(conn)
            .await?;
        for (c, s, client, seq) in repeats {
            resends.entry((c, s, client)).or_default().push(seq);
        }
    }
    Ok(Known {
        conversations,
        members,
        resends,
    })
}

/// Applies `records` (each partition's in offset order) and moves the
/// partitions as `advances` say, in one transaction.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    topic: &str,
    records: &[LogRecord],
    advances: &[Advance],
) -> Result<Applied, ApplyError> {
    conn.transaction(async |conn| {
        for a in advances {
            advance(conn, topic, a).await?;
        }
        let Known {
            conversations: known_conversations,
            mut members,
            mut resends,
        } = known(conn, records).await?;
        let mut applied = Applied::default();
        let mut changed: HashSet<Pair> = HashSet::new();
        let mut rows: Vec<MessageRow> = Vec::new();
        let mut repeats: Vec<(ConversationId, i64, UserId, Uuid)> = Vec::new();
        for r in records {
            let conversation = r.event.conversation_id();
            if !known_conversations.contains(&conversation) {
                applied.unknown_conversation += 1;
                continue;
            }
            let mut set_member = |user: UserId, active: bool, version: i64| {
                let key = (conversation, user);
                let newer = members.get(&key).is_none_or(|m| version > m.version);
                if newer {
                    members.insert(
                        key,
                        LogMemberRow {
                            conversation_id: conversation,
                            user_id: user,
                            active,
                            seq: r.offset,
                            version,
                        },
                    );
                    changed.insert(key);
                }
            };
            match &r.event {
                LogEvent::ParticipantsAdded(e) => {
                    applied.membership_events += 1;
                    for u in &e.user_ids {
                        set_member(*u, true, e.version);
                    }
                }
                LogEvent::ParticipantRemoved(e) => {
                    applied.membership_events += 1;
                    set_member(e.user_id, false, e.version);
                }
                LogEvent::ConversationRenamed(_) => {}
                LogEvent::Message(m) => {
                    if validation::storable_body(&m.body).is_err() || !plausible(m.created_at) {
                        applied.invalid += 1;
                        continue;
                    }
                    let seq = r.offset;
                    let sender = m.sender_id;
                    let key = m.client_id.map(|c| (conversation, sender, c));
                    let previous = key
                        .and_then(|k| resends.get(&k))
                        .and_then(|seqs| seqs.iter().copied().filter(|&s| s < seq).max());
                    let last_event = members
                        .get(&(conversation, sender))
                        .filter(|e| e.seq < seq)
                        .map(|e| (e.seq, e.active));
                    let admission = log::admit(seq, m.checked_seq, last_event, previous);
                    if admission.admissible() {
                        if let Some(k) = key {
                            resends.entry(k).or_default().push(seq);
                        }
                    }
                    match admission {
                        Admission::Accepted => {
                            if !last_event.is_some_and(|(_, active)| active) {
                                applied.unexpected_sender += 1;
                            }
                            rows.push(MessageRow::from(&m.clone().at(seq)));
                        }
                        Admission::Duplicate { .. } => {
                            applied.duplicates += 1;
                            if let Some(client) = m.client_id {
                                repeats.push((conversation, seq, sender, client));
                            }
                        }
                        Admission::NotParticipant => applied.not_participant += 1,
                        Admission::Stale => applied.stale += 1,
                    }
                }
            }
        }
        let changed: Vec<LogMemberRow> = changed
            .iter()
            .filter_map(|k| members.get(k).copied())
            .collect();
        // 4 parameters a row, 7 a message: chunks stay under PostgreSQL's 65,535.
        for chunk in changed.chunks(10_000) {
            diesel::insert_into(log_members::table)
                .values(chunk)
                .on_conflict((log_members::conversation_id, log_members::user_id))
                .do_update()
                .set((
                    log_members::active.eq(excluded(log_members::active)),
                    log_members::seq.eq(excluded(log_members::seq)),
                    log_members::version.eq(excluded(log_members::version)),
                ))
                .execute(conn)
                .await?;
        }
        for chunk in rows.chunks(5000) {
            let n = diesel::insert_into(messages::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            applied.inserted += n;
            // A record stored before (a replay) conflicts on its id.
            applied.duplicates += chunk.len() - n;
        }
        bump_activity(conn, &rows).await?;
        let repeats: Vec<_> = repeats
            .into_iter()
            .map(|(c, seq, sender, client)| {
                (
                    resends::conversation_id.eq(c),
                    resends::seq.eq(seq),
                    resends::sender_id.eq(sender),
                    resends::client_id.eq(client),
                )
            })
            .collect();
        for chunk in repeats.chunks(10_000) {
            diesel::insert_into(resends::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
        Ok(applied)
    })
    .await
}

/// Moves each conversation's `activity_at` (its place in lists) forward to
/// its newest message of the batch: one statement per batch.
async fn bump_activity(conn: &mut AsyncPgConnection, rows: &[MessageRow]) -> QueryResult<()> {
    let mut newest: HashMap<ConversationId, chrono::DateTime<chrono::Utc>> = HashMap::new();
    for r in rows {
        let at = newest.entry(r.conversation_id).or_insert(r.created_at);
        *at = (*at).max(r.created_at);
    }
    if newest.is_empty() {
        return Ok(());
    }
    let (ids, ats): (Vec<ConversationId>, Vec<_>) = newest.into_iter().unzip();
    diesel::sql_query(
        "UPDATE conversations c SET activity_at = v.at \
           FROM unnest($1, $2) AS v(id, at) \
          WHERE c.id = v.id AND c.activity_at < v.at",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Timestamptz>, _>(ats)
    .execute(conn)
    .await
    .map(|_| ())
}
