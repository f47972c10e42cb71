//! Sessions: an opaque random id in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` over TLS); the database holds only its SHA-256.

use std::time::Duration;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use actors_common::headers::SESSION_COOKIE;
use actors_common::jwt::{JwtKeys, Session, WS_TOKEN_TTL};
use actors_common::UserId;
use base64::Engine as _;
use diesel_async::AsyncPgConnection;
use futures_util::future::LocalBoxFuture;
use service_kit::db::PgPool;
use service_kit::HttpError;
use sha2::{Digest, Sha256};

use crate::db::sessions;

/// The logged-in user of a request (from the session cookie).
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl SessionUser {
    /// The session as gateway tokens name it: `sid` is the first half of
    /// the stored hash, base64url (public: it cannot be turned back into
    /// the cookie), and when it expires.
    pub fn session(&self) -> Session {
        Session {
            sid: public_id(&self.token_hash),
            expires_at: self.expires_at.timestamp(),
        }
    }
}

/// A session's public name, from the SHA-256 of its id.
pub fn public_id(token_hash: &[u8]) -> String {
    let half = &token_hash[..token_hash.len().min(16)];
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half)
}

fn unauthenticated() -> HttpError {
    HttpError::unauthorized("unauthenticated", "log in first")
}

/// SHA-256 of a session id.
pub fn hash(session_id: &str) -> Vec<u8> {
    Sha256::digest(session_id.as_bytes()).to_vec()
}

/// A new random session id: 32 bytes from the OS, base64url.
fn new_session_id() -> Result<String, HttpError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        log::error!("session: no randomness: {e}");
        HttpError::internal()
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Creates a session for `user` and returns the cookie that carries it.
pub async fn start(
    conn: &mut AsyncPgConnection,
    user: UserId,
    ttl: Duration,
    secure: bool,
) -> Result<Cookie<'static>, HttpError> {
    let id = new_session_id()?;
    let ttl_chrono = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(7));
    sessions::insert(conn, &hash(&id), user, chrono::Utc::now() + ttl_chrono).await?;
    Ok(cookie(id, ttl, secure))
}

fn cookie(value: String, ttl: Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time::Duration::seconds(
            i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// The cookie that clears the session in the browser.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut c = cookie(String::new(), Duration::ZERO, secure);
    c.make_removal();
    c
}

/// Whether the session cookie should be `Secure`: configured, or the request
/// came over TLS.
pub fn secure_cookie(req: &HttpRequest, configured: bool) -> bool {
    configured || req.connection_info().scheme() == "https"
}

/// The browser's WebSocket token: `aud=chat-gateway`, 60 seconds (never
/// past the session's end), naming the session.
pub fn ws_token(keys: &JwtKeys, user: &SessionUser) -> String {
    keys.mint_for_session(user.user_id, WS_TOKEN_TTL, &user.session())
}

impl FromRequest for SessionUser {
    type Error = HttpError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        Box::pin(async move {
            let value = cookie
                .filter(|v| !v.is_empty())
                .ok_or_else(unauthenticated)?;
            let pool = pool.ok_or_else(HttpError::internal)?;
            let token_hash = hash(&value);
            let mut conn = pool.get().await?;
            let (user, expires_at) = sessions::find_user(&mut conn, &token_hash)
                .await?
                .ok_or_else(unauthenticated)?;
            Ok(SessionUser {
                user_id: user,
                token_hash,
                expires_at,
            })
        })
    }
}
