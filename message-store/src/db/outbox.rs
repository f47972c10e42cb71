//! The outbox: participant events written in the membership transaction,
//! published to Kafka afterwards by `kafka::publisher`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::outbox;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    /// The topic's base name (`chat.participants.created`); the publisher
    /// adds the deployment's prefix.
    pub topic: String,
    pub key: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Adds an event; call inside the transaction that made the change.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    topic: &str,
    key: &str,
    payload: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::topic.eq(topic),
            outbox::key.eq(key),
            outbox::payload.eq(payload),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The oldest unsent events, locked for this transaction; rows another
/// publisher holds are skipped, so several instances can publish at once.
pub async fn claim(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .order(outbox::id)
        .limit(limit)
        .for_update()
        .skip_locked()
        .select(OutboxRow::as_select())
        .load(conn)
        .await
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
