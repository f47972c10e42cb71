//! The user directory, through user-store.

use actix_web::{web, HttpResponse};
use actors_common::api::{paths, UserEnvelope, UserPage};
use actors_common::{validation, UserId};
use serde::Deserialize;
use service_kit::HttpError;

use crate::auth::SessionUser;
use crate::client::{Service, ServiceClient};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/users", web::get().to(search))
        .route("/api/users/{id}", web::get().to(get));
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

/// `GET /api/users?q=<prefix>&limit=` (limit ≤ 50; `after` pages on).
async fn search(
    user: SessionUser,
    client: web::Data<ServiceClient>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, HttpError> {
    let SearchQuery { q, limit, after } = query.into_inner();
    if let Some(q) = &q {
        validation::search_query(q).map_err(HttpError::from_invalid)?;
    }
    let mut params: Vec<(&str, String)> = vec![("q", q.unwrap_or_default())];
    if let Some(limit) = limit {
        params.push(("limit", limit.to_string()));
    }
    if let Some(after) = after {
        params.push(("after", after));
    }
    let qs = serde_urlencoded::to_string(&params)
        .map_err(|_| HttpError::bad_request("invalid_query", "bad query"))?;
    let found = client
        .get::<UserPage>(Service::UserStore, &format!("/users?{qs}"), user.user_id)
        .await?;
    Ok(HttpResponse::Ok().json(found.body))
}

/// `GET /api/users/{id}`.
async fn get(
    user: SessionUser,
    client: web::Data<ServiceClient>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, HttpError> {
    let found = client
        .get::<UserEnvelope>(Service::UserStore, &paths::user(*id), user.user_id)
        .await?;
    Ok(HttpResponse::Ok().json(found.body))
}
