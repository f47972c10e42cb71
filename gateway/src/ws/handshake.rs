//! `GET /ws`: the upgrade. actix-http's HTTP/1 dispatcher hands an upgrade
//! request over together with its socket (`HttpService::upgrade`), and from
//! then on the connection is ours: the dispatcher and its two 8 KiB buffers
//! are gone (the reason for this module: BENCHMARKS.md has the figures).
//!
//! Everything is checked before the upgrade, so a refusal is a plain HTTP
//! answer with the protocol's JSON error body:
//! - the path must be `/ws` (404), the server accepting (503, shutting down);
//! - an `Origin`, when present, must be allowed (403): listed, or loopback;
//! - the token travels as a subprotocol (`chat.v1, bearer.<JWT>`; browsers
//!   cannot set headers on an upgrade), or as `Authorization: Bearer` for
//!   other clients; missing, invalid, expired or for another audience: 401;
//! - a gateway at `MAX_CONNECTIONS` answers 503 (try another);
//! - the WebSocket headers must be right (400).
//!
//! The server selects `chat.v1` and never echoes the token. Then a [`Conn`]
//! is made for the socket and a `WsSession` actor started for it on this
//! worker thread, and the upgrade is done.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use actix_codec::Framed;
use actix_http::h1;
use actix_http::header::{self, HeaderMap};
use actix_http::{HttpMessage as _, Method, Request, StatusCode, Uri};
use actors_common::headers::{BEARER_SCHEME, WS_BEARER_PREFIX, WS_SUBPROTOCOL};
use actors_common::jwt::TokenError;
use actors_common::{ErrorBody, UserId};
use bytes::BytesMut;
use service_kit::TokenVerifier;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::conn::Conn;
use super::frames::Frames;
use crate::actors::directory::sign_out::sid_hash;
use crate::actors::hub;
use crate::actors::session::{BrowserSession, SessionConfig, WsSession};
use crate::metrics::Metrics;

/// The refusal of a request that is not a WebSocket upgrade.
pub const NOT_AN_UPGRADE: &str = "a WebSocket upgrade is a GET with Connection: Upgrade, \
     Upgrade: websocket, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key";

/// What the upgrade needs.
#[derive(Debug)]
pub struct WsState {
    pub verifier: TokenVerifier,
    pub session: Arc<SessionConfig>,
    pub allowed_origins: Vec<String>,
    /// False from the start of shutdown: no new upgrades.
    pub accepting: Arc<AtomicBool>,
    pub max_connections: usize,
    pub metrics: Arc<Metrics>,
}

/// A refusal: its status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

/// What an accepted upgrade answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub user: UserId,
    /// The browser session its token named, if any.
    pub browser: Option<BrowserSession>,
    /// `Sec-WebSocket-Accept`.
    pub accept: String,
    /// The client offered `chat.v1`.
    pub subprotocol: bool,
}

fn header_values<'a>(
    headers: &'a HeaderMap,
    name: &header::HeaderName,
) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The token from `bearer.<JWT>` in `Sec-WebSocket-Protocol`, else from
/// `Authorization: Bearer`.
fn token(headers: &HeaderMap) -> Option<&str> {
    header_values(headers, &header::SEC_WEBSOCKET_PROTOCOL)
        .find_map(|p| p.strip_prefix(WS_BEARER_PREFIX))
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)?
                .to_str()
                .ok()?
                .strip_prefix(BEARER_SCHEME)
                .map(str::trim)
        })
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An `Origin` is allowed when listed, or when it is a loopback origin.
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    if allowed
        .iter()
        .any(|a| a.trim().trim_end_matches('/') == origin)
    {
        return true;
    }
    origin
        .parse::<Uri>()
        .ok()
        .and_then(|uri| uri.host().map(is_loopback_host))
        .unwrap_or(false)
}

/// Every check, in the order the module docs give.
pub fn check(req: &Request, state: &WsState) -> Result<Accepted, Refusal> {
    if req.path() != "/ws" {
        return Err(refuse(StatusCode::NOT_FOUND, "not_found", "no such path"));
    }
    if !state.accepting.load(Ordering::Relaxed) {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "shutting down",
        ));
    }
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !origin_allowed(origin, &state.allowed_origins) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "forbidden",
                "origin not allowed",
            ));
        }
    }
    let token = token(headers).ok_or_else(|| {
        refuse(
            StatusCode::UNAUTHORIZED,
            TokenError::Invalid.code(),
            "missing token",
        )
    })?;
    let claims = state
        .verifier
        .verify(token)
        .map_err(|e| refuse(StatusCode::UNAUTHORIZED, e.code(), e.to_string()))?;
    if state.metrics.connections.get() >= state.max_connections as i64 {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "too many connections, try another gateway",
        ));
    }
    let websocket = req.method() == Method::GET
        && header_values(headers, &header::UPGRADE).any(|v| v.eq_ignore_ascii_case("websocket"))
        && header_values(headers, &header::CONNECTION).any(|v| v.eq_ignore_ascii_case("upgrade"));
    let version = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| websocket && version);
    let Some(key) = key else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "bad_handshake",
            NOT_AN_UPGRADE,
        ));
    };
    let accept = actix_http::ws::hash_key(key.as_bytes());
    Ok(Accepted {
        user: claims.sub,
        browser: claims.sid.as_deref().map(|sid| BrowserSession {
            sid: sid_hash(sid),
            expires_at: claims.sx,
        }),
        accept: String::from_utf8_lossy(&accept).into_owned(),
        subprotocol: header_values(headers, &header::SEC_WEBSOCKET_PROTOCOL)
            .any(|p| p == WS_SUBPROTOCOL),
    })
}

/// The 101 answer.
fn switching(accepted: &Accepted) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {}\r\n",
        accepted.accept
    );
    if accepted.subprotocol {
        r.push_str(&format!("sec-websocket-protocol: {WS_SUBPROTOCOL}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A refusal's answer: the status and the JSON error body.
fn refusal(r: &Refusal) -> Vec<u8> {
    let body = serde_json::to_string(&ErrorBody::new(r.code, &r.message)).unwrap_or_default();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        r.status.as_u16(),
        r.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// The upgrade handler: answers, and on success starts the session. A
/// client gone during the handshake just ends its connection.
pub async fn upgrade(
    req: Request,
    framed: Framed<TcpStream, h1::Codec>,
    state: Arc<WsState>,
) -> Result<(), actix_web::Error> {
    if let Err(e) = answer(req, framed, &state).await {
        log::debug!("handshake: client gone: {e}");
    }
    Ok(())
}

async fn answer(
    req: Request,
    framed: Framed<TcpStream, h1::Codec>,
    state: &WsState,
) -> std::io::Result<()> {
    let parts = framed.into_parts();
    let (mut io, leftover) = (parts.io, parts.read_buf);
    match check(&req, state) {
        Err(r) => {
            io.write_all(&refusal(&r)).await?;
            io.shutdown().await
        }
        Ok(accepted) if !state.session.users.connect(accepted.user) => {
            state
                .metrics
                .errors
                .with_label_values(&["too_many_connections"])
                .inc();
            let r = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                "this account holds the most connections one user may open here",
            );
            io.write_all(&refusal(&r)).await?;
            io.shutdown().await
        }
        Ok(accepted) => {
            let slot = state.session.users.slot(accepted.user);
            io.write_all(&switching(&accepted)).await?;
            // Frames are small and must leave at once (a socket that
            // refuses it still works).
            let _ = io.set_nodelay(true);
            slot.keep();
            start(io, BytesMut::from(&leftover[..]), &accepted, state);
            Ok(())
        }
    }
}

/// Starts a session for an upgraded socket, on this worker thread.
fn start(io: TcpStream, leftover: BytesMut, accepted: &Accepted, state: &WsState) {
    let (user, browser) = (accepted.user, accepted.browser);
    let config = state.session.clone();
    let id = crate::actors::session::next_id();
    let conn = Conn::new(id, user, io, leftover, config.outbound_queue);
    hub::attach(conn.clone());
    WsSession::create(move |ctx| {
        ctx.add_stream(Frames::new(conn.clone()));
        WsSession::new(id, user, browser, config, conn)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_origins_only() {
        let allowed = vec!["https://chat.example.com".to_owned()];
        for ok in [
            "https://chat.example.com",
            "http://127.0.0.1:3000",
            "http://localhost:5173",
            "http://127.0.0.2",
            "http://[::1]:8000",
        ] {
            assert!(origin_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "https://evil.example.com",
            "http://10.0.0.1:3000",
            "null",
            "",
            "http://localhost.evil.com",
        ] {
            assert!(!origin_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn refusals_are_json_error_bodies_with_their_status() {
        let text = String::from_utf8(refusal(&refuse(
            StatusCode::UNAUTHORIZED,
            "expired_token",
            "expired",
        )))
        .unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{text}");
        assert!(text.ends_with(r#"{"error":{"code":"expired_token","message":"expired"}}"#));
        let accepted = Accepted {
            user: UserId::new_random(),
            browser: None,
            accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
            subprotocol: true,
        };
        let text = String::from_utf8(switching(&accepted)).unwrap();
        assert!(text.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("sec-websocket-protocol: chat.v1\r\n") && !text.contains("bearer"));
    }
}
