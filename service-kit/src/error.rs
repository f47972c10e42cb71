//! `HttpError`: every failed request answers with the protocol's JSON body
//! `{"error":{"code","message"}}` and a fitting status.
//!
//! Services map their own error enums into it in one place (their `error.rs`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use actors_common::ErrorBody;

/// An HTTP error with a protocol error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct HttpError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Also the answer for things that exist but the caller may not see.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A bug or an unexpected failure; the details go to the log, not the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub fn from_invalid(invalid: actors_common::validation::Invalid) -> Self {
        Self::bad_request(invalid.code, invalid.message)
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(ErrorBody::new(&self.code, &self.message))
    }
}

/// Largest JSON body any service accepts.
pub const JSON_LIMIT: usize = 64 * 1024;

/// JSON extractor config: malformed bodies give `400 invalid_json`, oversized
/// ones `413 too_large`, both with the JSON error body.
pub fn json_config() -> web::JsonConfig {
    json_config_with_limit(JSON_LIMIT)
}

/// [`json_config`] with another body limit (bytes).
pub fn json_config_with_limit(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as E;
            let e = match &err {
                E::Overflow { .. } | E::OverflowKnownLength { .. } => HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "request body is too large",
                ),
                E::ContentType => HttpError::bad_request(
                    "invalid_json",
                    "expected Content-Type: application/json",
                ),
                other => HttpError::bad_request("invalid_json", other.to_string()),
            };
            e.into()
        })
}

/// Query-string extractor config: `400 invalid_query`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| HttpError::bad_request("invalid_query", err.to_string()).into())
}

/// Path extractor config: a malformed id in the path is `404` (it names nothing).
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| HttpError::not_found("not found").into())
}

/// The fallback for unknown routes.
pub async fn not_found() -> HttpResponse {
    HttpError::not_found("no such route").error_response()
}

/// The one place database failures become HTTP answers: a missing row is
/// `404`, a unique violation `409 conflict` (services that know which
/// constraint match it first and answer with a sharper code), a lost or
/// exhausted pool `503`, anything else `500` with details only in the log.
impl From<diesel::result::Error> for HttpError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => HttpError::not_found("not found"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                log::info!("db: unique violation on {:?}", info.constraint_name());
                HttpError::conflict("conflict", "already exists")
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                log::warn!("db: connection closed");
                HttpError::unavailable("database unavailable")
            }
            other => {
                log::error!("db: query failed: {other}");
                HttpError::internal()
            }
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for HttpError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        log::warn!("db: no connection from the pool: {e}");
        HttpError::unavailable("database unavailable")
    }
}

/// The name of the unique constraint a diesel error violated, if it is one.
pub fn unique_violation(e: &diesel::result::Error) -> Option<&str> {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => info.constraint_name(),
        _ => None,
    }
}
