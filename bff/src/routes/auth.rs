//! Accounts and sessions: register, login, logout, me, and the WebSocket token.

use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use actors_common::{validation, UserId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use service_kit::db::PgPool;
use service_kit::error::unique_violation;
use service_kit::HttpError;

use crate::auth::{session, SessionUser};
use crate::client::{Service, ServiceClient};
use crate::db::accounts::{self, Account};
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/auth/register", web::post().to(register))
        .route("/api/auth/login", web::post().to(login))
        .route("/api/auth/logout", web::post().to(logout))
        .route("/api/me", web::get().to(me))
        .route("/api/ws-token", web::get().to(ws_token));
}

/// PROTOCOL.md's `User`, as user-store returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub created_at: String,
}

/// `{"user": User}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserEnvelope {
    pub user: User,
}

#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    username: String,
    password: String,
    display_name: Option<String>,
}

fn username_taken() -> HttpError {
    HttpError::conflict("username_taken", "that username is taken")
}

/// `POST /api/auth/register`: account, then profile, then session. If the
/// profile cannot be provisioned the account is removed again, so the
/// username stays free and the user can simply retry.
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    pool: web::Data<PgPool>,
    client: web::Data<ServiceClient>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, HttpError> {
    let RegisterBody {
        username,
        password,
        display_name,
    } = body.into_inner();
    validation::username(&username).map_err(HttpError::from_invalid)?;
    validation::password(&password).map_err(HttpError::from_invalid)?;
    let display_name = display_name
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.clone());
    validation::display_name(&display_name).map_err(HttpError::from_invalid)?;
    // Counted once the request could do work: a malformed one costs nothing.
    if !state
        .login_limiter
        .allow_signup(client_address(&req, state.trust_proxy))
    {
        return Err(HttpError::rate_limited(
            "too many sign-ups from this address, wait a minute",
        ));
    }

    // The cheap check first: a taken name costs no hash (the insert below
    // still settles a race).
    {
        let mut conn = pool.get().await?;
        if accounts::find_by_username(&mut conn, &username)
            .await?
            .is_some()
        {
            return Err(username_taken());
        }
    }
    let password_hash = state.hashes.hash(password).await?;
    let id = UserId::new_random();
    let account = Account {
        id: id.as_uuid(),
        username: username.clone(),
        password_hash,
        created_at: actors_common::time::now_millis(),
    };
    {
        let mut conn = pool.get().await?;
        accounts::insert(&mut conn, &account)
            .await
            .map_err(|e| match unique_violation(&e) {
                Some("accounts_username_key") => username_taken(),
                _ => e.into(),
            })?;
    }

    let provisioned = client
        .post::<_, UserEnvelope>(
            Service::UserStore,
            "/users",
            id,
            &json!({"id": id, "username": username, "display_name": display_name}),
        )
        .await;
    let user = match provisioned {
        Ok(up) => up.body.user,
        Err(e) => {
            // Compensate: without a profile the account must not exist.
            let mut conn = pool.get().await?;
            if let Err(del) = accounts::delete(&mut conn, id.as_uuid()).await {
                log::error!(
                    "register: user_id={id} profile failed and account removal failed: {del}"
                );
            }
            log::warn!("register: user_id={id} profile provisioning failed: {e}");
            return Err(if e.code == "username_taken" {
                username_taken()
            } else {
                e
            });
        }
    };

    let mut conn = pool.get().await?;
    let cookie = session::start(
        &mut conn,
        id,
        state.session_ttl,
        session::secure_cookie(&req, state.cookie_secure),
    )
    .await?;
    log::info!("register: user_id={id} registered");
    Ok(HttpResponse::Created()
        .cookie(cookie)
        .json(UserEnvelope { user }))
}

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

/// The client's address: the peer's, or behind `proxies` proxies of ours
/// the one the outermost of them saw.
pub fn client_address(req: &HttpRequest, proxies: Option<usize>) -> IpAddr {
    let peer = || {
        req.peer_addr()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.ip())
    };
    let Some(proxies) = proxies else {
        return peer();
    };
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    forwarded_client(&forwarded, proxies).unwrap_or_else(peer)
}

/// In an `X-Forwarded-For` list each proxy appends the address it took the
/// request from, so everything left of what our proxies added is whatever
/// the client wrote. The client is the `proxies`-th entry from the right;
/// `None` when our proxies added fewer entries or it is not an address.
fn forwarded_client(header: &str, proxies: usize) -> Option<IpAddr> {
    let hops: Vec<&str> = header.split(',').map(str::trim).collect();
    let hop = hops.len().checked_sub(proxies).and_then(|i| hops.get(i))?;
    hop.parse().ok()
}

/// `POST /api/auth/login`: the same answer, after the same work, for an
/// unknown user and a wrong password.
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    pool: web::Data<PgPool>,
    client: web::Data<ServiceClient>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, HttpError> {
    let LoginBody { username, password } = body.into_inner();
    // A name no account can have is answered at once (nothing to hide: it
    // cannot exist) and never becomes a limiter key.
    if validation::username(&username).is_err() || validation::password(&password).is_err() {
        return Err(HttpError::unauthorized(
            "invalid_credentials",
            "wrong username or password",
        ));
    }
    if !state
        .login_limiter
        .allow(&username, client_address(&req, state.trust_proxy))
    {
        return Err(HttpError::rate_limited(
            "too many login attempts, wait a minute",
        ));
    }
    let account = {
        let mut conn = pool.get().await?;
        accounts::find_by_username(&mut conn, &username).await?
    };
    let id = account.as_ref().map(|a| UserId(a.id));
    if !state
        .hashes
        .verify(password, account.map(|a| a.password_hash))
        .await?
    {
        return Err(HttpError::unauthorized(
            "invalid_credentials",
            "wrong username or password",
        ));
    }
    let Some(id) = id else {
        return Err(HttpError::internal());
    };
    let user = client
        .get::<UserEnvelope>(Service::UserStore, &format!("/users/{id}"), id)
        .await?
        .body
        .user;
    let mut conn = pool.get().await?;
    let cookie = session::start(
        &mut conn,
        id,
        state.session_ttl,
        session::secure_cookie(&req, state.cookie_secure),
    )
    .await?;
    log::info!("login: user_id={id} logged in");
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(UserEnvelope { user }))
}

/// `POST /api/auth/logout`: deletes the session and clears the cookie.
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    pool: web::Data<PgPool>,
    user: SessionUser,
) -> Result<HttpResponse, HttpError> {
    let mut conn = pool.get().await?;
    crate::db::sessions::delete(&mut conn, &user.token_hash).await?;
    Ok(HttpResponse::NoContent()
        .cookie(session::removal_cookie(session::secure_cookie(
            &req,
            state.cookie_secure,
        )))
        .finish())
}

/// `GET /api/me`.
async fn me(
    user: SessionUser,
    client: web::Data<ServiceClient>,
) -> Result<HttpResponse, HttpError> {
    let profile = client
        .get::<UserEnvelope>(
            Service::UserStore,
            &format!("/users/{}", user.user_id),
            user.user_id,
        )
        .await?;
    Ok(HttpResponse::Ok().json(profile.body))
}

/// `GET /api/ws-token`: a 60-second gateway token and where to connect.
async fn ws_token(user: SessionUser, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "token": session::ws_token(&state.keys, user.user_id),
            "url": state.gateway_public_url,
            "expires_in": actors_common::jwt::WS_TOKEN_TTL.as_secs(),
        }))
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_what_our_outermost_proxy_saw_not_what_it_wrote() {
        // nginx appends the peer it saw: a forged left part changes nothing.
        assert_eq!(
            forwarded_client("1.2.3.4, 203.0.113.7", 1),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(forwarded_client("203.0.113.7", 1), Some(ip("203.0.113.7")));
        // Two proxies of ours: the second from the right.
        assert_eq!(
            forwarded_client("9.9.9.9, 203.0.113.7, 10.0.0.2", 2),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(forwarded_client("203.0.113.7", 2), None);
        assert_eq!(forwarded_client("not-an-ip", 1), None);
        assert_eq!(forwarded_client("", 1), None);
        assert_eq!(forwarded_client("::1", 1), Some(ip("::1")));
    }
}
