//! `GET /conversations/{id}/messages`: keyset history in `seq` order,
//! visible from the event that added the caller.
//!
//! `before` / `after` name a message id (the protocol's cursors); the page
//! holds the messages on the far side of that message's seq. An id that is
//! not a stored message of the conversation is refused (`invalid_cursor`),
//! since it has no place in the order. `before_seq` / `after_seq` (an
//! extension) take the seq itself, so a client can catch up after the last
//! message it saw live even before message-store has stored that message.

use actix_web::{web, HttpResponse};
use actors_common::api::{HistoryPage, MessageEnvelope};
use actors_common::{ConversationId, Message, MessageId};
use serde::Deserialize;
use service_kit::db::PgPool;
use service_kit::{Caller, HttpError};

use crate::db::conversations::{self, MembershipError};
use crate::db::ingest;
use crate::db::messages::{self, Cursor};

/// Where this deployment's conversation log is: history pages say how far
/// ingest has read a conversation's partition.
#[derive(Clone, Debug)]
pub struct LogPartitions {
    pub topic: String,
    pub partitions: i32,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// A page size as asked (`DEFAULT_LIMIT` when not), 1 to `MAX_LIMIT`.
pub fn page_limit(asked: Option<i64>) -> Result<i64, HttpError> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(HttpError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(limit)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/conversations/{id}/messages", web::get().to(history))
        .route(
            "/conversations/{id}/messages/by-client/{client_id}",
            web::get().to(by_client),
        );
}

#[derive(Debug, Deserialize)]
pub struct ByClientQuery {
    before_seq: Option<i64>,
}

/// `GET /conversations/{id}/messages/by-client/{client_id}?before_seq=`:
/// the caller's own message with that `client_id` (the latest before
/// `before_seq`), which a gateway answers a resend with when it does not
/// remember it. 404 when there is none, or the caller is no participant.
async fn by_client(
    caller: Caller,
    pool: web::Data<PgPool>,
    path: web::Path<(ConversationId, uuid::Uuid)>,
    query: web::Query<ByClientQuery>,
) -> Result<HttpResponse, HttpError> {
    let (conversation, client_id) = path.into_inner();
    let me = caller.user_id;
    let mut conn = pool.get().await?;
    conversations::membership(&mut conn, conversation, caller.user_id)
        .await?
        .ok_or(MembershipError::NotFound)?;
    let before = query.before_seq.unwrap_or(i64::MAX);
    let row = messages::by_client(&mut conn, conversation, me, client_id, before)
        .await?
        .ok_or_else(|| HttpError::not_found("no such message"))?;
    Ok(HttpResponse::Ok().json(MessageEnvelope {
        message: Message::from(row),
    }))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    before: Option<MessageId>,
    after: Option<MessageId>,
    before_seq: Option<i64>,
    after_seq: Option<i64>,
    limit: Option<i64>,
}

/// The one cursor a query names, by id or by seq.
enum Named {
    Latest,
    BeforeId(MessageId),
    AfterId(MessageId),
    Seq(Cursor),
}

fn named(q: &HistoryQuery) -> Result<Named, HttpError> {
    let given = [
        q.before.is_some(),
        q.after.is_some(),
        q.before_seq.is_some(),
        q.after_seq.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(HttpError::bad_request(
            "invalid_query",
            "use one of before, after, before_seq, after_seq",
        ));
    }
    Ok(match (q.before, q.after, q.before_seq, q.after_seq) {
        (Some(b), ..) => Named::BeforeId(b),
        (_, Some(a), ..) => Named::AfterId(a),
        (_, _, Some(b), _) => Named::Seq(Cursor::Before(b)),
        (_, _, _, Some(a)) => Named::Seq(Cursor::After(a)),
        _ => Named::Latest,
    })
}

/// Newest first without a cursor or with `before`; oldest first with
/// `after`. `next` is the cursor for the following page, `null` at the end.
async fn history(
    caller: Caller,
    pool: web::Data<PgPool>,
    log: web::Data<LogPartitions>,
    id: web::Path<ConversationId>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, HttpError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let named = named(&q)?;
    let (conversation, me) = (*id, caller.user_id);
    let mut conn = pool.get().await?;
    conversations::membership(&mut conn, conversation, me)
        .await?
        .ok_or(MembershipError::NotFound)?;
    let cursor = match named {
        Named::Latest => Cursor::Latest,
        Named::Seq(c) => c,
        Named::BeforeId(m) | Named::AfterId(m) => {
            let seq = messages::seq_of(&mut conn, conversation, m)
                .await?
                .ok_or_else(|| {
                    HttpError::bad_request(
                        "invalid_cursor",
                        "no such message in this conversation (or not stored yet: use after_seq)",
                    )
                })?;
            if matches!(named, Named::BeforeId(_)) {
                Cursor::Before(seq)
            } else {
                Cursor::After(seq)
            }
        }
    };
    // How far ingest has stored this partition, read before the page: ingest
    // commits rows and offset together, so every row below the offset read
    // here is in the page read after it. (Read after the page, the offset
    // could count a row committed in between, and a client would take the
    // page for complete while it misses that row.)
    let partition = actors_common::log::partition_of(*id, log.partitions);
    let complete_through = ingest::next_offset(&mut conn, &log.topic, partition)
        .await?
        .map_or(-1, |next| next - 1);
    // Until ingest has read the event that added the caller, nothing stored
    // is theirs to see.
    let (rows, more) = match messages::visible_after(&mut conn, conversation, me).await? {
        Some(floor) => messages::page(&mut conn, conversation, floor, cursor, limit).await?,
        None => (Vec::new(), false),
    };
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(HistoryPage {
        messages: rows.into_iter().map(Message::from).collect(),
        next,
        complete_through,
    }))
}
