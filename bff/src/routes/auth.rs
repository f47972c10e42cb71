//! Accounts and sessions: register, login, logout, me, and the WebSocket token.

use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use actors_common::api::{paths, NewUser, User, UserEnvelope, UserPage, WsToken};
use actors_common::{validation, UserId};
use serde::Deserialize;
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
/// username stays free and the user can simply retry. A profile that an
/// undone registration left behind (its insert landed after the undo) is
/// taken back by the next registration of its name (`reclaim`).
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
        .limits
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
        id,
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

    let provisioned = match provision(&client, id, &username, &display_name).await {
        // The account insert above holds the name among accounts, so a
        // profile that holds it too belongs to no account: one left by an
        // undone registration whose insert was still on its way.
        Err(e) if e.code == "username_taken" => {
            match reclaim(&client, &pool, id, &username).await {
                Ok(true) => provision(&client, id, &username, &display_name).await,
                Ok(false) => Err(e),
                Err(other) => Err(other),
            }
        }
        other => other,
    };
    let user = match provisioned {
        Ok(user) => user,
        Err(e) => {
            // Compensate: without a profile the account must not exist, and
            // a profile made by an attempt whose answer was lost must go too,
            // or it would hold the username.
            if client
                .delete(Service::UserStore, &paths::user(id), id)
                .await
                .is_err()
            {
                log::error!("register: user_id={id} profile may remain, username held");
            }
            let mut conn = pool.get().await?;
            if let Err(del) = accounts::delete(&mut conn, id).await {
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

    let answer = signed_in(&req, &state, &pool, user, HttpResponse::Created()).await?;
    log::info!("register: user_id={id} registered");
    Ok(answer)
}

/// Starts a session for `user` and answers `{"user"}` with its cookie.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    pool: &PgPool,
    user: User,
    mut answer: actix_web::HttpResponseBuilder,
) -> Result<HttpResponse, HttpError> {
    let cookie = session::start(
        &mut *pool.get().await?,
        user.id,
        state.session_ttl,
        session::secure_cookie(req, state.cookie_secure),
    )
    .await?;
    Ok(answer.cookie(cookie).json(UserEnvelope { user }))
}

/// Removes the profile holding `username` if no account has its id (see
/// `register`), acting as that profile's own subject; true when one went.
/// `me` is the registering user, who asks user-store who holds the name.
async fn reclaim(
    client: &ServiceClient,
    pool: &PgPool,
    me: UserId,
    username: &str,
) -> Result<bool, HttpError> {
    let query = serde_urlencoded::to_string([("q", username), ("limit", "1")])
        .map_err(|_| HttpError::internal())?;
    let found = client
        .get::<UserPage>(Service::UserStore, &format!("/users?{query}"), me)
        .await?;
    let Some(holder) = found
        .body
        .users
        .into_iter()
        .find(|u| u.username == username)
    else {
        return Ok(false);
    };
    if holder.id == me || accounts::exists(&mut *pool.get().await?, holder.id).await? {
        return Ok(false);
    }
    let status = client
        .delete(Service::UserStore, &paths::user(holder.id), holder.id)
        .await?;
    log::warn!(
        "register: profile user_id={} held {username:?} without an account; removed ({status})",
        holder.id
    );
    Ok(true)
}

/// Attempts at creating a profile before a registration is undone.
const PROVISION_ATTEMPTS: u32 = 3;

/// Creates the profile: an attempt that did not answer (timeout, 5xx) is
/// made again with the same id and fields, which user-store answers like
/// the first, so a profile created by an attempt whose answer was lost is
/// found, not duplicated. A refusal (4xx) is final.
async fn provision(
    client: &ServiceClient,
    id: UserId,
    username: &str,
    display_name: &str,
) -> Result<User, HttpError> {
    let body = NewUser {
        id,
        username: username.to_owned(),
        display_name: Some(display_name.to_owned()),
    };
    let mut attempt = 1;
    loop {
        match client
            .post::<_, UserEnvelope>(Service::UserStore, "/users", id, &body)
            .await
        {
            Ok(up) => return Ok(up.body.user),
            Err(e) if e.status.is_server_error() && attempt < PROVISION_ATTEMPTS => {
                log::warn!("register: user_id={id} profile attempt {attempt} failed: {e}");
                attempt += 1;
                actix_web::rt::time::sleep(std::time::Duration::from_millis(
                    200 * u64::from(attempt),
                ))
                .await;
            }
            Err(e) => return Err(e),
        }
    }
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
        .limits
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
    let id = account.as_ref().map(|a| a.id);
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
        .get::<UserEnvelope>(Service::UserStore, &paths::user(id), id)
        .await?
        .body
        .user;
    let answer = signed_in(&req, &state, &pool, user, HttpResponse::Ok()).await?;
    log::info!("login: user_id={id} logged in");
    Ok(answer)
}

/// `POST /api/auth/logout`: deletes the session, has every gateway close
/// its sockets (1008 "signed out"), and clears the cookie. The logout
/// stands even when no gateway answers: its sockets then end with their
/// tokens' session expiry, and a warning is logged.
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    pool: web::Data<PgPool>,
    client: web::Data<ServiceClient>,
    user: SessionUser,
) -> Result<HttpResponse, HttpError> {
    crate::db::sessions::delete(&mut *pool.get().await?, &user.token_hash).await?;
    // The connection is back in the pool before the gateways are called.
    if !client.end_session(user.user_id, &user.session()).await {
        log::warn!(
            "logout: user_id={} no gateway took the sign-out; its sockets stay open until the session would have expired",
            user.user_id
        );
    }
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
        .get::<UserEnvelope>(Service::UserStore, &paths::user(user.user_id), user.user_id)
        .await?;
    Ok(HttpResponse::Ok().json(profile.body))
}

/// `GET /api/ws-token`: a 60-second gateway token and where to connect,
/// within the session's budget (`WS_TOKENS_PER_SESSION_PER_MIN`).
async fn ws_token(
    user: SessionUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    if !state.limits.allow_ws_token(&user.token_hash) {
        return Err(HttpError::rate_limited(
            "too many gateway tokens for this session, wait a minute",
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(WsToken {
            token: session::ws_token(&state.keys, &user),
            url: state.gateway_public_url.clone(),
            expires_in: actors_common::jwt::WS_TOKEN_TTL.as_secs(),
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
