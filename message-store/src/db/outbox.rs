//! The outbox: log events (membership changes, renames) written in the
//! transaction that made the change, published to the conversation's
//! partition of `chat.messages` afterwards by `kafka::publisher`.
//!
//! One conversation's events are published in the order they were written,
//! whoever publishes them: a publisher first takes the conversation's
//! advisory lock ([`lock_conversation`]), then every row of it
//! ([`claim_conversation`]). A crash after sending and before deleting sends
//! those rows again, and again before any newer row of that conversation,
//! so the log holds each conversation's events in order (a repeat is
//! harmless: applying the same event twice changes nothing).

use actors_common::kafka::TOPIC_MESSAGES;
use actors_common::log::{EventKind, LogEvent};
use actors_common::{ConversationId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::outbox;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    /// The topic's base name (`chat.messages`); the publisher adds the
    /// deployment's prefix.
    pub topic: String,
    /// The conversation id: the record's key.
    pub key: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// The record kind (the `chat.event` header).
    pub event: String,
}

/// Adds an event; call inside the transaction that made the change.
pub async fn enqueue(conn: &mut AsyncPgConnection, event: &LogEvent) -> QueryResult<()> {
    // A log event is plain JSON: it always reads back as a value.
    let payload: serde_json::Value = serde_json::from_slice(&event.to_json()).unwrap_or_default();
    diesel::insert_into(outbox::table)
        .values((
            outbox::topic.eq(TOPIC_MESSAGES),
            outbox::key.eq(event.conversation_id().to_string()),
            outbox::event.eq(event.kind().as_str()),
            outbox::payload.eq(payload),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Takes the conversation's publishing lock until the transaction ends.
pub async fn lock_conversation(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Every unsent event of one conversation, oldest first, locked for this
/// transaction (call after [`lock_conversation`]).
pub async fn claim_conversation(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::key.eq(key))
        .order(outbox::id)
        .for_update()
        .select(OutboxRow::as_select())
        .load(conn)
        .await
}

/// Conversations with unsent events, oldest first.
pub async fn pending_conversations(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let rows: Vec<(String, i64)> = outbox::table
        .group_by(outbox::key)
        .select((outbox::key, diesel::dsl::min(outbox::id).assume_not_null()))
        .order(diesel::dsl::min(outbox::id))
        .limit(limit)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(key, _)| key).collect())
}

/// Removes events the broker acknowledged.
pub async fn delete(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(outbox::table.filter(outbox::id.eq_any(ids)))
        .execute(conn)
        .await
}

/// How many events wait to be published.
pub async fn pending(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    outbox::table.count().get_result(conn).await
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Whether an event that adds `user` to `conversation` is still unsent:
/// until it is in the log, no gateway has applied it, so the user may not
/// send there yet (that would put their message before their own arrival).
pub async fn add_pending(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    user: UserId,
) -> QueryResult<bool> {
    let row: Exists = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE key = $1 AND event = $2 \
           AND payload->'user_ids' @> jsonb_build_array($3::text)) AS exists",
    )
    .bind::<Text, _>(conversation.to_string())
    .bind::<Text, _>(EventKind::ParticipantsAdded.as_str())
    .bind::<Text, _>(user.to_string())
    .get_result(conn)
    .await?;
    Ok(row.exists)
}
