//! Messages: keyset history pages, and the idempotent batch write that
//! persists `chat.messages`.

use std::collections::HashMap;
use std::time::Duration;

use actors_common::Message;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{MessageRow, ParticipantRow};
use super::schema::{messages, participants};

/// Where a history page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages, newest first.
    Latest,
    /// Messages older than this id, newest first.
    Before(Uuid),
    /// Messages newer than this id, oldest first.
    After(Uuid),
}

/// A page of history visible from `floor` (the viewer's first visible id).
/// Returns up to `limit` messages and whether more follow in that direction.
/// Both directions are range scans of `(conversation_id, id)`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    conversation: Uuid,
    floor: Uuid,
    cursor: Cursor,
    limit: i64,
) -> QueryResult<(Vec<MessageRow>, bool)> {
    let base = messages::table
        .filter(messages::conversation_id.eq(conversation))
        .filter(messages::id.ge(floor))
        .select(MessageRow::as_select())
        .limit(limit + 1)
        .into_boxed();
    let query = match cursor {
        Cursor::Latest => base.order(messages::id.desc()),
        Cursor::Before(before) => base
            .filter(messages::id.lt(before))
            .order(messages::id.desc()),
        Cursor::After(after) => base
            .filter(messages::id.gt(after))
            .order(messages::id.asc()),
    };
    let mut rows = query.load(conn).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// How far a message's time may lie outside its sender's membership and
/// still be stored: gateways learn of membership changes through Kafka a
/// few milliseconds late, and clocks of different hosts differ a little.
pub const MEMBERSHIP_GRACE: Duration = Duration::from_secs(5);

/// What one batch write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// New rows.
    pub inserted: usize,
    /// Already stored (same id, or same sender and client id).
    pub duplicates: usize,
    /// Refused: the sender was not a participant when the message was written.
    pub not_participant: usize,
}

fn was_member(p: &ParticipantRow, at: DateTime<Utc>) -> bool {
    let grace = chrono::Duration::from_std(MEMBERSHIP_GRACE).unwrap_or_default();
    p.joined_at - grace <= at && p.left_at.is_none_or(|left| at <= left + grace)
}

/// Stores a batch in one transaction with one multi-row insert that skips
/// duplicates. Messages whose sender was not a participant at the time are
/// left out (and counted).
pub async fn store_batch(conn: &mut AsyncPgConnection, batch: &[Message]) -> QueryResult<Stored> {
    if batch.is_empty() {
        return Ok(Stored::default());
    }
    conn.transaction(async |conn| {
        let conversation_ids: Vec<Uuid> = batch.iter().map(|m| m.conversation_id.0).collect();
        let sender_ids: Vec<Uuid> = batch.iter().map(|m| m.sender_id.0).collect();
        let members: HashMap<(Uuid, Uuid), ParticipantRow> = participants::table
            .filter(participants::conversation_id.eq_any(&conversation_ids))
            .filter(participants::user_id.eq_any(&sender_ids))
            .select(ParticipantRow::as_select())
            .load(conn)
            .await?
            .into_iter()
            .map(|p| ((p.conversation_id, p.user_id), p))
            .collect();
        let rows: Vec<MessageRow> = batch
            .iter()
            .filter(|m| {
                members
                    .get(&(m.conversation_id.0, m.sender_id.0))
                    .is_some_and(|p| was_member(p, m.created_at))
            })
            .map(MessageRow::from)
            .collect();
        let not_participant = batch.len() - rows.len();
        let mut inserted = 0;
        // 6 parameters a row: 5,000 rows stay under PostgreSQL's 65,535.
        for chunk in rows.chunks(5000) {
            inserted += diesel::insert_into(messages::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
        Ok(Stored {
            inserted,
            duplicates: rows.len() - inserted,
            not_participant,
        })
    })
    .await
}

/// Every message of a conversation, oldest first (tests and tools).
pub async fn all_in(
    conn: &mut AsyncPgConnection,
    conversation: Uuid,
) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::conversation_id.eq(conversation))
        .order(messages::id.asc())
        .select(MessageRow::as_select())
        .load(conn)
        .await
}
