//! `GET /ws`: authenticate, check the `Origin`, upgrade, start a `WsSession`.
//!
//! Browsers cannot set headers on an upgrade, so the token travels as a
//! subprotocol: the client offers `chat.v1, bearer.<JWT>` and the server
//! selects `chat.v1` (never echoing the token). Other clients may send
//! `Authorization: Bearer <JWT>`. Everything is checked before the upgrade,
//! so a refusal is a plain HTTP answer with the JSON error body.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::http::{header, Uri};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use actors_common::headers::{WS_BEARER_PREFIX, WS_SUBPROTOCOL};
use actors_common::jwt::TokenError;
use service_kit::auth::{bearer_token, token_error};
use service_kit::{HttpError, TokenVerifier};

use crate::actors::session::{SessionConfig, WsSession};
use crate::metrics::Metrics;

/// Largest frame a client may send; a bigger one closes with 1009.
pub const MAX_FRAME: usize = 64 * 1024;

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

/// The token from `bearer.<JWT>` in `Sec-WebSocket-Protocol`, else from
/// `Authorization: Bearer`.
fn token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| p.strip_prefix(WS_BEARER_PREFIX))
        .or_else(|| bearer_token(req))
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

pub async fn upgrade(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<WsState>,
) -> Result<HttpResponse, HttpError> {
    if !state.accepting.load(Ordering::Relaxed) {
        return Err(HttpError::unavailable("shutting down"));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !origin_allowed(origin, &state.allowed_origins) {
            return Err(HttpError::forbidden("origin not allowed"));
        }
    }
    let token = token(&req)
        .ok_or_else(|| HttpError::unauthorized(TokenError::Invalid.code(), "missing token"))?;
    let claims = state.verifier.verify(token).map_err(token_error)?;
    if state.metrics.connections.get() >= state.max_connections as i64 {
        return Err(HttpError::unavailable(
            "too many connections, try another gateway",
        ));
    }
    let session = WsSession::new(claims.sub, state.session.clone());
    ws::WsResponseBuilder::new(session, &req, stream)
        .protocols(&[WS_SUBPROTOCOL])
        .frame_size(MAX_FRAME)
        .start()
        .map_err(|e| HttpError::bad_request("bad_handshake", e.to_string()))
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
}
