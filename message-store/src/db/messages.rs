//! Messages: keyset history pages in `seq` order. (Storing them is
//! `db::ingest`'s job: only what the log admitted is written.)

use actors_common::{ConversationId, MessageId, UserId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::MessageRow;
use super::schema::{log_members, messages};

/// Where a history page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages, newest first.
    Latest,
    /// Messages before this seq, newest first.
    Before(i64),
    /// Messages after this seq, oldest first.
    After(i64),
}

/// The statement of one history page: the messages of `conversation` with
/// a seq above `floor` (what the viewer may see) on the far side of the
/// cursor, `limit + 1` of them (one more says whether another page follows).
/// Both directions are range scans of the `(conversation_id, seq)` index,
/// the same cost at any depth. Built here, run by [`page`], and explained by
/// the test that checks its plan.
pub fn page_query(
    conversation: ConversationId,
    floor: i64,
    cursor: Cursor,
    limit: i64,
) -> messages::BoxedQuery<'static, Pg, diesel::dsl::AsSelect<MessageRow, Pg>> {
    let base = messages::table
        .filter(messages::conversation_id.eq(conversation))
        .filter(messages::seq.gt(floor))
        .select(MessageRow::as_select())
        .limit(limit + 1)
        .into_boxed();
    match cursor {
        Cursor::Latest => base.order(messages::seq.desc()),
        Cursor::Before(seq) => base
            .filter(messages::seq.lt(seq))
            .order(messages::seq.desc()),
        Cursor::After(seq) => base
            .filter(messages::seq.gt(seq))
            .order(messages::seq.asc()),
    }
}

/// A page of history (see [`page_query`]): up to `limit` messages and
/// whether more follow in that direction.
pub async fn page(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    floor: i64,
    cursor: Cursor,
    limit: i64,
) -> QueryResult<(Vec<MessageRow>, bool)> {
    let mut rows = page_query(conversation, floor, cursor, limit)
        .load(conn)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// The seq of message `id` of `conversation` (a primary key probe), if it
/// is stored.
pub async fn seq_of(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    id: MessageId,
) -> QueryResult<Option<i64>> {
    messages::table
        .find((conversation, id))
        .select(messages::seq)
        .first(conn)
        .await
        .optional()
}

/// From where `user` may see the history of `conversation`: messages with
/// a seq above the one of the event that (last) added them. `None` until
/// ingest has read that event (until then no stored message is theirs to
/// see: every stored one lies before it in the log).
pub async fn visible_after(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    user: UserId,
) -> QueryResult<Option<i64>> {
    log_members::table
        .find((conversation, user))
        .filter(log_members::active.eq(true))
        .select(log_members::seq)
        .first(conn)
        .await
        .optional()
}

/// The message `sender` stored in `conversation` with `client_id`, the
/// latest before `before_seq`: what a resend of it is answered with.
pub async fn by_client(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
    sender: UserId,
    client_id: Uuid,
    before_seq: i64,
) -> QueryResult<Option<MessageRow>> {
    messages::table
        .filter(messages::sender_id.eq(sender))
        .filter(messages::client_id.eq(client_id))
        .filter(messages::conversation_id.eq(conversation))
        .filter(messages::seq.lt(before_seq))
        .order(messages::seq.desc())
        .select(MessageRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Every message of a conversation, in seq order (tests and tools).
pub async fn all_in(
    conn: &mut AsyncPgConnection,
    conversation: ConversationId,
) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::conversation_id.eq(conversation))
        .order(messages::seq.asc())
        .select(MessageRow::as_select())
        .load(conn)
        .await
}
