//! `/users`: create (bff, at registration; a retry with the same id and
//! fields is answered with the profile it made), remove (the bff undoing a
//! registration), get one, search and batch lookup.

use actix_web::{web, HttpResponse};
use actors_common::api::{self, NewUser, UserEnvelope, UserList, UserPage};
use actors_common::{validation, UserId};
use serde::Deserialize;
use service_kit::db::PgPool;
use service_kit::error::unique_violation;
use service_kit::{Caller, HttpError};

use crate::db::{models::User, users};

/// `{"user": User}` of a stored profile.
fn envelope(user: User) -> UserEnvelope {
    UserEnvelope { user: user.into() }
}

/// Stored profiles as the protocol's `User`s.
fn wire(users: Vec<User>) -> Vec<api::User> {
    users.into_iter().map(api::User::from).collect()
}

/// Most profiles one search page or batch lookup returns.
pub const MAX_LIMIT: i64 = 50;
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_IDS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/users/{id}")
            .route(web::get().to(get))
            .route(web::delete().to(remove)),
    );
}

/// `POST /users`: only for the user being created (the bff mints the token
/// with `sub` = the new id), so nobody can create or squat someone else's id.
async fn create(
    caller: Caller,
    pool: web::Data<PgPool>,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, HttpError> {
    let body = body.into_inner();
    if caller.user_id != body.id {
        return Err(HttpError::forbidden(
            "a profile can be created only for the token's subject",
        ));
    }
    validation::username(&body.username).map_err(HttpError::from_invalid)?;
    let display_name = body.display_name.unwrap_or_else(|| body.username.clone());
    validation::display_name(&display_name).map_err(HttpError::from_invalid)?;

    let mut conn = pool.get().await?;
    let user = User {
        id: body.id,
        username: body.username,
        display_name,
        created_at: actors_common::time::now_millis(),
    };
    match users::insert(&mut conn, &user).await {
        Ok(user) => {
            log::info!("users: created user_id={}", user.id);
            Ok(HttpResponse::Created().json(envelope(user)))
        }
        Err(e) => Err(match unique_violation(&e) {
            Some("users_pkey") => {
                // The same request again (its answer was lost): the same answer.
                return match users::find(&mut conn, body.id).await? {
                    Some(existing)
                        if existing.username == user.username
                            && existing.display_name == user.display_name =>
                    {
                        Ok(HttpResponse::Created().json(envelope(existing)))
                    }
                    _ => Err(HttpError::conflict(
                        "user_exists",
                        "a profile with this id exists",
                    )),
                };
            }
            Some("users_username_key") => {
                HttpError::conflict("username_taken", "that username is taken")
            }
            _ => e.into(),
        }),
    }
}

/// `DELETE /users/{id}`: only the token's subject, and only the bff mints
/// such tokens: it undoes a registration whose account it could not keep,
/// so the username is free again. 204 whether or not it existed.
async fn remove(
    caller: Caller,
    pool: web::Data<PgPool>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, HttpError> {
    let id = id.into_inner();
    if caller.user_id != id {
        return Err(HttpError::forbidden(
            "a profile can be removed only by the token's subject",
        ));
    }
    let mut conn = pool.get().await?;
    if users::delete(&mut conn, id).await? > 0 {
        log::info!("users: removed user_id={id}");
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn get(
    _caller: Caller,
    pool: web::Data<PgPool>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, HttpError> {
    let mut conn = pool.get().await?;
    match users::find(&mut conn, id.into_inner()).await? {
        Some(user) => Ok(HttpResponse::Ok().json(envelope(user))),
        None => Err(HttpError::not_found("no such user")),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
    ids: Option<String>,
}

/// `GET /users?q=&limit=&after=` (prefix search, keyset by username) or
/// `GET /users?ids=a,b,c` (batch lookup, at most 100).
async fn list(
    _caller: Caller,
    pool: web::Data<PgPool>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, HttpError> {
    let query = query.into_inner();
    let mut conn = pool.get().await?;
    if let Some(ids) = query.ids {
        let ids = parse_ids(&ids)?;
        let found = users::find_many(&mut conn, &ids).await?;
        return Ok(HttpResponse::Ok().json(UserList { users: wire(found) }));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(HttpError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    let q = query.q.unwrap_or_default();
    validation::search_query(&q).map_err(HttpError::from_invalid)?;
    if let Some(after) = &query.after {
        validation::search_query(after).map_err(HttpError::from_invalid)?;
    }
    let prefix = q.trim().to_lowercase();
    // One extra row tells whether there is a next page.
    let mut found = users::search(&mut conn, &prefix, query.after.as_deref(), limit + 1).await?;
    let next = if found.len() as i64 > limit {
        found.truncate(limit as usize);
        found.last().map(|u| u.username.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(UserPage {
        users: wire(found),
        next,
    }))
}

fn parse_ids(raw: &str) -> Result<Vec<UserId>, HttpError> {
    let ids: Vec<UserId> = raw
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| HttpError::bad_request("invalid_ids", "ids must be comma-separated UUIDs"))?;
    if ids.len() > MAX_IDS {
        return Err(HttpError::bad_request(
            "invalid_ids",
            format!("at most {MAX_IDS} ids per lookup"),
        ));
    }
    Ok(ids)
}
