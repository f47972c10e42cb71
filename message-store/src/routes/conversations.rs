//! `/conversations`: the caller's conversations and their membership.
//!
//! A request that changes membership or a name answers only after its log
//! event is in Kafka (`Publisher::announce`), so every gateway applies the
//! change before any message sent after the answer: membership is causal.
//! If the broker does not take the event in time the change still stands
//! (the outbox sends it later); a removal then answers 503, because until
//! its event is in the log the removed user could still send. An instance
//! that does not publish (`OUTBOX_PUBLISHER=false`) answers at once and
//! leaves its events to an instance that does.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use actors_common::api::{
    Conversation, ConversationEnvelope, ConversationIds, ConversationPage, NewConversation,
    NewParticipant, ParticipantEnvelope, Rename,
};
use actors_common::{validation, ConversationId, UserId};
use serde::Deserialize;
use serde_json::json;
use service_kit::db::PgPool;
use service_kit::{Caller, HttpError};

use crate::db::conversations::{self, Caps, ListCursor, MembershipError};
use crate::kafka::publisher::{Announced, Publisher};
use crate::routes::messages::page_limit;

/// Most participants a group may be created with in one request.
pub const MAX_INITIAL_PARTICIPANTS: usize = 10_000;

/// How long a request waits for its event to be in the log.
pub const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/conversations")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/conversations/ids", web::get().to(ids))
    .route("/conversations/{id}/membership", web::get().to(membership))
    .service(
        web::resource("/conversations/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(rename)),
    )
    .route(
        "/conversations/{id}/participants",
        web::post().to(add_participant),
    )
    .route(
        "/conversations/{id}/participants/{user_id}",
        web::delete().to(remove_participant),
    );
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    after: Option<String>,
}

/// `GET /conversations?limit=&after=`: a page of the caller's
/// conversations, newest activity first; `next` is the `after` of the
/// following page, `null` on the last. What a page returns is bounded by
/// `limit` and 20 names an entry; what it reads grows with the caller's
/// conversations only through one scan and top-N sort of their
/// memberships, at most `MAX_CONVERSATIONS_PER_USER` rows.
async fn list(
    caller: Caller,
    pool: web::Data<PgPool>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, HttpError> {
    let limit = page_limit(query.limit)?;
    let after = match query.after.as_deref() {
        None => None,
        Some(s) => Some(ListCursor::parse(s).ok_or_else(|| {
            HttpError::bad_request("invalid_cursor", "not a cursor this list gave")
        })?),
    };
    let mut conn = pool.get().await?;
    let (page, next) = conversations::list_page(&mut conn, caller.user_id, after, limit).await?;
    Ok(HttpResponse::Ok().json(ConversationPage {
        conversations: page,
        next: next.map(|c| c.to_string()),
    }))
}

async fn ids(caller: Caller, pool: web::Data<PgPool>) -> Result<HttpResponse, HttpError> {
    let mut conn = pool.get().await?;
    let ids = conversations::ids_for_user(&mut conn, caller.user_id).await?;
    Ok(HttpResponse::Ok().json(ConversationIds { ids }))
}

/// `GET /conversations/{id}/membership`: whether the caller may send there
/// now. A gateway asks when a session sends to a conversation it has not
/// heard of yet (created a moment ago). 404 for non-members (existence is
/// not told); 503 `unavailable` while the event adding the caller is not in
/// the log yet.
async fn membership(
    caller: Caller,
    pool: web::Data<PgPool>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, HttpError> {
    let mut conn = pool.get().await?;
    match conversations::announced_member(&mut conn, *id, caller.user_id).await? {
        None => Err(MembershipError::NotFound.into()),
        Some(false) => Err(HttpError::unavailable(
            "the membership is not announced yet, try again",
        )),
        Some(true) => Ok(HttpResponse::Ok().json(json!({
            "conversation_id": id.into_inner(),
            "user_id": caller.user_id,
        }))),
    }
}

/// Answers with the conversation as `caller` sees it.
async fn view_as(
    conn: &mut diesel_async::AsyncPgConnection,
    conversation: ConversationId,
    caller: UserId,
) -> Result<ConversationEnvelope, HttpError> {
    let (row, me) = conversations::membership(conn, conversation, caller)
        .await?
        .ok_or(MembershipError::NotFound)?;
    let conversation: Conversation = conversations::view(conn, row, me).await?;
    Ok(ConversationEnvelope { conversation })
}

async fn create(
    caller: Caller,
    pool: web::Data<PgPool>,
    caps: web::Data<Caps>,
    publisher: web::Data<Publisher>,
    body: web::Json<NewConversation>,
) -> Result<HttpResponse, HttpError> {
    let me = caller.user_id;
    // Every connection is given back before `announce`, which needs one of
    // its own: requests holding theirs while waiting would starve it (a
    // pool's worth of concurrent creates each waited out the timeout).
    let mut conn = pool.get().await?;
    let (row, created) = match body.into_inner() {
        NewConversation::Private { participant_id } => {
            if participant_id == me {
                return Err(HttpError::bad_request(
                    "invalid_participant",
                    "a private conversation needs another person",
                ));
            }
            conversations::create_private(&mut conn, me, participant_id, **caps).await?
        }
        NewConversation::Group {
            name,
            participant_ids,
        } => {
            let name = name.trim().to_owned();
            validation::group_name(&name).map_err(HttpError::from_invalid)?;
            if participant_ids.len() > MAX_INITIAL_PARTICIPANTS {
                return Err(HttpError::bad_request(
                    "too_many_participants",
                    format!("at most {MAX_INITIAL_PARTICIPANTS} participants at creation"),
                ));
            }
            let row =
                conversations::create_group(&mut conn, me, &name, &participant_ids, **caps).await?;
            (row, true)
        }
    };
    drop(conn);
    if created {
        publisher.announce(row.id, ANNOUNCE_TIMEOUT).await;
        log::info!(
            "conversations: conversation_id={} created by user_id={me}",
            row.id
        );
    }
    let view = view_as(&mut *pool.get().await?, row.id, me).await?;
    let mut resp = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(resp.json(view))
}

async fn get(
    caller: Caller,
    pool: web::Data<PgPool>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, HttpError> {
    let mut conn = pool.get().await?;
    let view = view_as(&mut conn, *id, caller.user_id).await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn rename(
    caller: Caller,
    pool: web::Data<PgPool>,
    publisher: web::Data<Publisher>,
    id: web::Path<ConversationId>,
    body: web::Json<Rename>,
) -> Result<HttpResponse, HttpError> {
    let name = body.into_inner().name.trim().to_owned();
    validation::group_name(&name).map_err(HttpError::from_invalid)?;
    conversations::rename(&mut *pool.get().await?, *id, caller.user_id, &name).await?;
    publisher.announce(*id, ANNOUNCE_TIMEOUT).await;
    let view = view_as(&mut *pool.get().await?, *id, caller.user_id).await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn add_participant(
    caller: Caller,
    pool: web::Data<PgPool>,
    caps: web::Data<Caps>,
    publisher: web::Data<Publisher>,
    id: web::Path<ConversationId>,
    body: web::Json<NewParticipant>,
) -> Result<HttpResponse, HttpError> {
    let user = body.into_inner().user_id;
    let added =
        conversations::add_participant(&mut *pool.get().await?, *id, caller.user_id, user, **caps)
            .await?;
    publisher.announce(*id, ANNOUNCE_TIMEOUT).await;
    log::info!(
        "participants: user_id={user} added to conversation_id={id} by user_id={}",
        caller.user_id
    );
    Ok(HttpResponse::Created().json(ParticipantEnvelope { participant: added }))
}

async fn remove_participant(
    caller: Caller,
    pool: web::Data<PgPool>,
    publisher: web::Data<Publisher>,
    path: web::Path<(ConversationId, UserId)>,
) -> Result<HttpResponse, HttpError> {
    let (id, user) = path.into_inner();
    conversations::remove_participant(&mut *pool.get().await?, id, caller.user_id, user).await?;
    log::info!(
        "participants: user_id={user} removed from conversation_id={id} by user_id={}",
        caller.user_id
    );
    if publisher.announce(id, ANNOUNCE_TIMEOUT).await == Announced::Late {
        return Err(HttpError::unavailable(
            "the removal is saved but not in effect yet; it will be shortly",
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}
