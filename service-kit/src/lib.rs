//! The edge every chat service shares, so each service holds only its own logic.
//!
//! | module | holds |
//! |---|---|
//! | [`error`] | `HttpError`: the protocol's JSON error body as an actix `ResponseError`, and extractor error handlers |
//! | [`auth`] | `Caller`: the bearer-token extractor (audience and issuers per service) |
//! | [`health`] | `/healthz`, `/readyz` (named dependency checks) and `/metrics` |
//! | [`db`] | the diesel-async pool and embedded migrations |
//! | [`logging`] | `env_logger` set-up |
//! | [`metrics`] | request counts and latency by route pattern (`from_fn` middleware) |

pub mod auth;
pub mod db;
pub mod error;
pub mod health;
pub mod logging;
pub mod metrics;

pub use auth::{Caller, TokenVerifier};
pub use error::HttpError;

/// Binds the service's listener; returns it with the port it got (`port` 0
/// picks a free one, as tests do).
pub fn listen(host: &str, port: u16) -> anyhow::Result<(std::net::TcpListener, u16)> {
    use anyhow::Context as _;
    let listener = std::net::TcpListener::bind((host, port))
        .with_context(|| format!("binding {host}:{port}"))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// What every service's app has: the JSON, query and path extractor configs
/// (protocol error bodies), `/healthz` `/readyz` `/metrics`, and the JSON 404
/// for unknown routes. The app must also hold `web::Data<Readiness>` and
/// `web::Data<prometheus::Registry>`.
pub fn edge(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.app_data(error::json_config())
        .app_data(error::query_config())
        .app_data(error::path_config())
        .configure(health::configure)
        .default_service(actix_web::web::to(error::not_found));
}
