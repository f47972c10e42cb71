//! `Caller`: the bearer-token extractor of the service-facing APIs.
//!
//! Each service registers one [`TokenVerifier`] (its audience, the issuers it
//! trusts) as app data; handlers then take a `Caller` argument and get the
//! token's `sub`. The caller's identity is never a query or body field.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use actors_common::headers::BEARER_SCHEME;
use actors_common::jwt::{Claims, JwtKeys, TokenError};
use actors_common::UserId;

use crate::HttpError;

/// Verifies bearer tokens for one service.
#[derive(Clone, Debug)]
pub struct TokenVerifier {
    keys: JwtKeys,
    audience: &'static str,
    issuers: Arc<[&'static str]>,
}

impl TokenVerifier {
    pub fn new(keys: JwtKeys, audience: &'static str, issuers: &[&'static str]) -> Self {
        Self {
            keys,
            audience,
            issuers: issuers.into(),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.keys.verify(token, self.audience, &self.issuers)
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: UserId,
    pub claims: Claims,
}

/// Pulls the token out of `Authorization: Bearer <token>`.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix(BEARER_SCHEME)
        .map(str::trim)
}

/// The 401 for a refused token.
pub fn token_error(e: TokenError) -> HttpError {
    HttpError::unauthorized(e.code(), e.to_string())
}

impl FromRequest for Caller {
    type Error = HttpError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(verifier) = req.app_data::<web::Data<TokenVerifier>>() else {
            log::error!("auth: no TokenVerifier registered for {}", req.path());
            return ready(Err(HttpError::internal()));
        };
        let Some(token) = bearer_token(req) else {
            return ready(Err(HttpError::unauthorized(
                TokenError::Invalid.code(),
                "missing bearer token",
            )));
        };
        ready(
            verifier
                .verify(token)
                .map(|claims| Caller {
                    user_id: claims.sub,
                    claims,
                })
                .map_err(token_error),
        )
    }
}
