//! The inspector's routes, for operators only: a request from this machine
//! (a loopback peer, not through a proxy) or one carrying `INSPECT_TOKEN`
//! (`Authorization: Bearer`, or `?token=` for the page and its event
//! stream, which browsers cannot give headers). Anyone else gets `403`
//! (`401` for a wrong token), before anything is read.
//!
//! | route | answers |
//! |---|---|
//! | `GET /inspect` | the page (no build step: one HTML file) |
//! | `GET /inspect/api/snapshot` | a [`Snapshot`](super::snapshot::Snapshot) as JSON |
//! | `GET /inspect/api/events` | a snapshot a second, as server-sent events |
//! | `GET /inspect/api/traces/{id}` | a kept trace, merged with what `INSPECT_PEERS` keep of it |

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actors_common::MessageId;
use bytes::Bytes;
use service_kit::HttpError;

use super::snapshot::TakeSnapshot;
use super::trace::{Trace, Tracer};
use crate::actors::directory::Directory;

/// Conversations and sessions a snapshot lists.
const TOP: usize = 20;

/// What the routes need.
#[derive(Clone, Debug)]
pub struct InspectState {
    pub directory: Addr<Directory>,
    pub tracer: Arc<Tracer>,
    pub token: Option<String>,
    /// Other gateways' base URLs (`http://host:port`), asked for their part
    /// of a trace.
    pub peers: Vec<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/inspect", web::get().to(page))
        .route("/inspect/api/snapshot", web::get().to(snapshot))
        .route("/inspect/api/events", web::get().to(events))
        .route("/inspect/api/traces/{id}", web::get().to(trace));
}

fn same_bytes(a: &str, b: &str) -> bool {
    // Constant time in the length of the candidate.
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn presented_token(req: &HttpRequest) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    bearer.or_else(|| {
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("token").cloned())
    })
}

/// Operators only (see the module docs).
fn check(req: &HttpRequest, state: &InspectState) -> Result<(), HttpError> {
    if let Some(token) = presented_token(req) {
        return match &state.token {
            Some(expected) if same_bytes(&token, expected) => Ok(()),
            _ => Err(HttpError::unauthorized(
                "invalid_token",
                "wrong inspector token",
            )),
        };
    }
    let proxied = req.headers().contains_key("x-forwarded-for")
        || req.headers().contains_key(header::FORWARDED);
    let loopback = req.peer_addr().map(|a| a.ip()).is_some_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    });
    if loopback && !proxied {
        return Ok(());
    }
    Err(HttpError::forbidden(
        "the inspector is for operators: from this machine, or with the inspector token",
    ))
}

async fn page(req: HttpRequest, state: web::Data<InspectState>) -> Result<HttpResponse, HttpError> {
    check(&req, &state)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(include_str!("page.html")))
}

async fn take(state: &InspectState) -> Result<super::Snapshot, HttpError> {
    state
        .directory
        .send(TakeSnapshot { top: TOP })
        .await
        .map_err(|_| HttpError::unavailable("the directory is gone"))
}

async fn snapshot(
    req: HttpRequest,
    state: web::Data<InspectState>,
) -> Result<HttpResponse, HttpError> {
    check(&req, &state)?;
    Ok(HttpResponse::Ok().json(take(&state).await?))
}

async fn events(
    req: HttpRequest,
    state: web::Data<InspectState>,
) -> Result<HttpResponse, HttpError> {
    check(&req, &state)?;
    let state = state.into_inner();
    let stream = futures_util::stream::unfold(true, move |first| {
        let state = state.clone();
        async move {
            if !first {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let event = match take(&state).await {
                Ok(s) => format!(
                    "data: {}\n\n",
                    serde_json::to_string(&s).unwrap_or_default()
                ),
                Err(_) => return None,
            };
            Some((Ok::<_, actix_web::Error>(Bytes::from(event)), false))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream))
}

#[derive(serde::Deserialize)]
struct TraceQuery {
    /// Set when a peer asks: answer with this gateway's part only.
    #[serde(default)]
    local: bool,
}

async fn trace(
    req: HttpRequest,
    state: web::Data<InspectState>,
    id: web::Path<MessageId>,
    query: web::Query<TraceQuery>,
) -> Result<HttpResponse, HttpError> {
    check(&req, &state)?;
    let id = id.into_inner();
    let mut merged = state.tracer.get(id).unwrap_or(Trace {
        id,
        hops: Vec::new(),
    });
    if !query.local {
        for peer in &state.peers {
            match peer_trace(peer, id, state.token.as_deref()).await {
                Ok(Some(t)) => merged.hops.extend(t.hops),
                Ok(None) => {}
                Err(e) => log::info!("inspect: peer {peer} has no trace for us: {e}"),
            }
        }
        merged.hops.sort_by_key(|h| h.at_us);
        merged.hops.dedup();
    }
    if merged.hops.is_empty() {
        return Err(HttpError::not_found("no such trace here"));
    }
    Ok(HttpResponse::Ok().json(merged))
}

async fn peer_trace(
    peer: &str,
    id: MessageId,
    token: Option<&str>,
) -> anyhow::Result<Option<Trace>> {
    let mut req = awc::Client::new()
        .get(format!(
            "{}/inspect/api/traces/{id}?local=true",
            peer.trim_end_matches('/')
        ))
        .timeout(Duration::from_secs(2));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let mut resp = req.send().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if resp.status().as_u16() == 404 {
        return Ok(None);
    }
    if !resp.status().is_success() {
        anyhow::bail!("status {}", resp.status());
    }
    Ok(Some(
        resp.json::<Trace>()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_bytes("abc", "abc"));
        assert!(!same_bytes("abc", "abd"));
        assert!(!same_bytes("abc", "abcd"));
        assert!(!same_bytes("", "a"));
    }
}
