//! `/api/conversations…`: message-store through the client layer, with
//! participants' names filled in from user-store (one batch lookup per
//! response, never one call per participant).

use std::collections::{HashMap, HashSet};

use actix_web::{web, HttpRequest, HttpResponse};
use actors_common::api::{
    paths, Conversation, ConversationEnvelope, ConversationPage, HistoryPage, Names,
    NewConversation, NewParticipant, ParticipantEnvelope, Rename, User, UserList,
};
use actors_common::{ConversationId, UserId};
use serde::Deserialize;
use service_kit::HttpError;

use crate::auth::SessionUser;
use crate::client::{Service, ServiceClient, Upstream};
use crate::startup::AppState;

/// Ids per user-store batch lookup (its limit).
const IDS_PER_LOOKUP: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/conversations")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/api/conversations/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(rename)),
    )
    .route("/api/conversations/{id}/messages", web::get().to(messages))
    .route(
        "/api/conversations/{id}/participants",
        web::post().to(add_participant),
    )
    .route(
        "/api/conversations/{id}/participants/{user_id}",
        web::delete().to(remove_participant),
    );
}

/// The query parameters `P` names, read from `req` and encoded again for
/// the upstream call (anything else the client sent is dropped).
fn passed_through<P: serde::de::DeserializeOwned + serde::Serialize>(
    req: &HttpRequest,
) -> Result<String, HttpError> {
    let page = web::Query::<P>::from_query(req.query_string())
        .map_err(|e| HttpError::bad_request("invalid_query", e.to_string()))?
        .into_inner();
    serde_urlencoded::to_string(&page)
        .map_err(|_| HttpError::bad_request("invalid_query", "bad query"))
}

/// Profiles of `ids` (unknown ones are absent), in batches of 100.
async fn profiles(
    client: &ServiceClient,
    me: UserId,
    ids: &HashSet<UserId>,
) -> Result<HashMap<UserId, User>, HttpError> {
    let ids: Vec<UserId> = ids.iter().copied().collect();
    let mut found = HashMap::new();
    for chunk in ids.chunks(IDS_PER_LOOKUP) {
        let answer = client
            .get::<UserList>(Service::UserStore, &paths::users_by_ids(chunk), me)
            .await?;
        found.extend(answer.body.users.into_iter().map(|u| (u.id, u)));
    }
    Ok(found)
}

/// Fills in `username` and `display_name` of every participant of every
/// conversation given (`null` for a profile that is gone).
async fn with_names(
    client: &ServiceClient,
    me: UserId,
    conversations: Vec<&mut Conversation>,
) -> Result<(), HttpError> {
    let ids: HashSet<UserId> = conversations
        .iter()
        .flat_map(|c| c.participants.iter().map(|p| p.user_id))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let names = profiles(client, me, &ids).await?;
    for conversation in conversations {
        for p in &mut conversation.participants {
            let profile = names.get(&p.user_id);
            p.names = Some(Names::of(profile));
        }
    }
    Ok(())
}

/// Answers `{"conversation": …}` with names, with the upstream's status.
async fn one(
    client: &ServiceClient,
    me: UserId,
    answer: Upstream<ConversationEnvelope>,
) -> Result<HttpResponse, HttpError> {
    let Upstream { status, mut body } = answer;
    with_names(client, me, vec![&mut body.conversation]).await?;
    Ok(HttpResponse::build(status).json(body))
}

/// A page of the caller's conversations: `limit` and `after` (the `next`
/// of the page before) pass through; each entry names at most 20
/// participants, so one page costs a bounded number of name lookups.
async fn list(
    req: HttpRequest,
    user: SessionUser,
    client: web::Data<ServiceClient>,
) -> Result<HttpResponse, HttpError> {
    #[derive(Deserialize, serde::Serialize)]
    struct Page {
        limit: Option<String>,
        after: Option<String>,
    }
    let qs = passed_through::<Page>(&req)?;
    let mut page = client
        .get::<ConversationPage>(
            Service::MessageStore,
            &format!("/conversations?{qs}"),
            user.user_id,
        )
        .await?
        .body;
    with_names(
        &client,
        user.user_id,
        page.conversations.iter_mut().collect(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Refuses ids that are not registered users (message-store does not
/// know users); their profiles otherwise.
async fn ensure_users_exist(
    client: &ServiceClient,
    me: UserId,
    ids: &[UserId],
) -> Result<HashMap<UserId, User>, HttpError> {
    let wanted: HashSet<UserId> = ids.iter().copied().collect();
    let found = profiles(client, me, &wanted).await?;
    if let Some(missing) = ids.iter().find(|id| !found.contains_key(*id)) {
        return Err(HttpError::bad_request(
            "unknown_user",
            format!("no user {missing}"),
        ));
    }
    Ok(found)
}

async fn create(
    user: SessionUser,
    state: web::Data<AppState>,
    client: web::Data<ServiceClient>,
    body: web::Json<NewConversation>,
) -> Result<HttpResponse, HttpError> {
    let body = body.into_inner();
    if matches!(body, NewConversation::Group { .. }) && !state.limits.allow_group(user.user_id) {
        return Err(HttpError::rate_limited(
            "too many groups created, wait a minute",
        ));
    }
    let named: &[UserId] = match &body {
        NewConversation::Private { participant_id } => std::slice::from_ref(participant_id),
        NewConversation::Group {
            participant_ids, ..
        } => participant_ids,
    };
    ensure_users_exist(&client, user.user_id, named).await?;
    let answer = client
        .post(Service::MessageStore, "/conversations", user.user_id, &body)
        .await?;
    one(&client, user.user_id, answer).await
}

async fn get(
    user: SessionUser,
    client: web::Data<ServiceClient>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, HttpError> {
    let answer = client
        .get(
            Service::MessageStore,
            &paths::conversation(*id),
            user.user_id,
        )
        .await?;
    one(&client, user.user_id, answer).await
}

async fn rename(
    user: SessionUser,
    client: web::Data<ServiceClient>,
    id: web::Path<ConversationId>,
    body: web::Json<Rename>,
) -> Result<HttpResponse, HttpError> {
    let answer = client
        .patch(
            Service::MessageStore,
            &paths::conversation(*id),
            user.user_id,
            &body.into_inner(),
        )
        .await?;
    one(&client, user.user_id, answer).await
}

/// History: the query string (`before` / `after` / `before_seq` /
/// `after_seq` / `limit`) passes through.
async fn messages(
    req: HttpRequest,
    user: SessionUser,
    client: web::Data<ServiceClient>,
    id: web::Path<ConversationId>,
) -> Result<HttpResponse, HttpError> {
    #[derive(Deserialize, serde::Serialize)]
    struct Page {
        before: Option<String>,
        after: Option<String>,
        before_seq: Option<String>,
        after_seq: Option<String>,
        limit: Option<String>,
    }
    let qs = passed_through::<Page>(&req)?;
    let page = client
        .get::<HistoryPage>(
            Service::MessageStore,
            &format!("{}?{qs}", paths::messages(*id)),
            user.user_id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(page.body))
}

async fn add_participant(
    user: SessionUser,
    client: web::Data<ServiceClient>,
    id: web::Path<ConversationId>,
    body: web::Json<NewParticipant>,
) -> Result<HttpResponse, HttpError> {
    let body = body.into_inner();
    let profiles = ensure_users_exist(&client, user.user_id, &[body.user_id]).await?;
    let Upstream {
        status,
        body: mut added,
    } = client
        .post::<_, ParticipantEnvelope>(
            Service::MessageStore,
            &paths::participants(*id),
            user.user_id,
            &body,
        )
        .await?;
    // Named like every participant the bff shows.
    let profile = profiles.get(&added.participant.user_id);
    added.participant.names = Some(Names::of(profile));
    Ok(HttpResponse::build(status).json(added))
}

async fn remove_participant(
    user: SessionUser,
    client: web::Data<ServiceClient>,
    path: web::Path<(ConversationId, UserId)>,
) -> Result<HttpResponse, HttpError> {
    let (id, member) = path.into_inner();
    let status = client
        .delete(
            Service::MessageStore,
            &paths::participant(id, member),
            user.user_id,
        )
        .await?;
    Ok(HttpResponse::build(status).finish())
}
