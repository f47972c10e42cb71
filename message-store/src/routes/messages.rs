//! `GET /conversations/{id}/messages`: keyset history, visible from the
//! caller's `joined_at`.

use actix_web::{web, HttpResponse};
use actors_common::{ConversationId, Message, MessageId};
use serde::Deserialize;
use serde_json::json;
use service_kit::db::PgPool;
use service_kit::{Caller, HttpError};

use crate::db::conversations::{self, MembershipError};
use crate::db::messages::{self, Cursor};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/conversations/{id}/messages", web::get().to(history));
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: Option<i64>,
}

/// Newest first without a cursor or with `before`; oldest first with
/// `after`. `next` is the cursor for the following page, `null` at the end.
async fn history(
    caller: Caller,
    pool: web::Data<PgPool>,
    id: web::Path<ConversationId>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, HttpError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(HttpError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    let cursor = match (q.before, q.after) {
        (Some(_), Some(_)) => {
            return Err(HttpError::bad_request(
                "invalid_query",
                "use either before or after, not both",
            ))
        }
        (Some(b), None) => Cursor::Before(b.0),
        (None, Some(a)) => Cursor::After(a.0),
        (None, None) => Cursor::Latest,
    };
    let mut conn = pool.get().await?;
    let (_, me) = conversations::membership(&mut conn, id.as_uuid(), caller.user_id.as_uuid())
        .await?
        .ok_or(MembershipError::NotFound)?;
    let (rows, more) =
        messages::page(&mut conn, id.as_uuid(), me.visible_from(), cursor, limit).await?;
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "messages": messages, "next": next })))
}
