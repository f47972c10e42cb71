//! The edge every chat service shares, so each service holds only its own logic.
//!
//! | module | holds |
//! |---|---|
//! | [`error`] | `HttpError`: the protocol's JSON error body as an actix `ResponseError`, and extractor error handlers |
//! | [`auth`] | `Caller`: the bearer-token extractor (audience and issuers per service) |
//! | [`health`] | `/healthz`, `/readyz` (named dependency checks) and `/metrics` |
//! | [`db`] | the diesel-async pool and embedded migrations |
//! | [`logging`] | `env_logger` set-up |

pub mod auth;
pub mod db;
pub mod error;
pub mod health;
pub mod logging;

pub use auth::{Caller, TokenVerifier};
pub use error::HttpError;
