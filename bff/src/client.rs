//! `ServiceClient`: the one layer through which the bff calls user-store,
//! message-store, and the gateways (to end a logged-out session's sockets).
//!
//! Every call names the service and the user it acts for; the client picks
//! the base URL, mints a fresh token (`iss=chat-bff`, `aud` = that service,
//! TTL 60 s, `sub` = the user) and sets `Authorization`. Handlers never see a
//! token or build that header; the `no_handler_sets_authorization` test
//! keeps it that way.
//!
//! Answers come back as [`Upstream`]: a 2xx body, or an [`HttpError`] that
//! passes a 4xx through with its code (the services speak the same error
//! body) and turns transport failures and 5xx into `503 unavailable`.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actors_common::jwt::{
    JwtKeys, Session, AUDIENCE_MESSAGE_STORE, AUDIENCE_USER_STORE, BFF_CALL_TOKEN_TTL, ISSUER_BFF,
};
use actors_common::{ErrorBody, UserId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use service_kit::HttpError;

/// A service the bff calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    UserStore,
    MessageStore,
}

impl Service {
    /// The audience of the tokens minted for this service.
    pub fn audience(self) -> &'static str {
        match self {
            Service::UserStore => AUDIENCE_USER_STORE,
            Service::MessageStore => AUDIENCE_MESSAGE_STORE,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::UserStore => "user-store",
            Service::MessageStore => "message-store",
        }
    }
}

/// Largest upstream body the bff reads (a full history page is far smaller).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Calls the services on behalf of logged-in users. One per worker thread
/// (`awc::Client` is not `Send`).
pub struct ServiceClient {
    http: awc::Client,
    user_store: String,
    message_store: String,
    /// Gateways' HTTP bases (`GATEWAY_URLS`): any one can end a session.
    gateways: Vec<String>,
    keys: JwtKeys,
}

impl ServiceClient {
    pub fn new(user_store: &str, message_store: &str, keys: JwtKeys, timeout: Duration) -> Self {
        Self {
            http: awc::Client::builder()
                .timeout(timeout)
                .disable_redirects()
                .finish(),
            user_store: user_store.trim_end_matches('/').to_owned(),
            message_store: message_store.trim_end_matches('/').to_owned(),
            gateways: Vec::new(),
            keys,
        }
    }

    /// The gateways [`ServiceClient::end_session`] tries, in order.
    pub fn with_gateways(mut self, gateways: &[String]) -> Self {
        self.gateways = gateways
            .iter()
            .map(|g| g.trim().trim_end_matches('/').to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        self
    }

    /// Tells the gateways that `session` of `user` ended (`POST
    /// /sessions/end` with a token of that session, on the first gateway
    /// that takes it): every gateway then closes its sockets with 1008.
    /// False when none took it.
    pub async fn end_session(&self, user: UserId, session: &Session) -> bool {
        let token = self
            .keys
            .mint_for_session(user, BFF_CALL_TOKEN_TTL, session);
        for base in &self.gateways {
            let sent = self
                .http
                .post(format!("{base}/sessions/end"))
                .bearer_auth(&token)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => return true,
                Ok(resp) => log::warn!("client: {base}/sessions/end answered {}", resp.status()),
                Err(e) => log::warn!("client: {base}/sessions/end failed: {e}"),
            }
        }
        false
    }

    fn base(&self, service: Service) -> &str {
        match service {
            Service::UserStore => &self.user_store,
            Service::MessageStore => &self.message_store,
        }
    }

    /// A token for calling `service` as `user`.
    fn token(&self, service: Service, user: UserId) -> String {
        self.keys
            .mint(ISSUER_BFF, service.audience(), user, BFF_CALL_TOKEN_TTL)
    }

    /// The request every call goes through: URL, token, header.
    fn request(
        &self,
        service: Service,
        method: Method,
        path_and_query: &str,
        user: UserId,
    ) -> awc::ClientRequest {
        self.http
            .request(method, format!("{}{path_and_query}", self.base(service)))
            .bearer_auth(self.token(service, user))
    }

    /// Sends a call with an optional JSON body and decodes a 2xx JSON answer.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        path_and_query: &str,
        user: UserId,
        body: Option<&B>,
    ) -> Result<Upstream<T>, HttpError> {
        let req = self.request(service, method.clone(), path_and_query, user);
        let sent = match body {
            Some(b) => req.send_json(b).await,
            None => req.send().await,
        };
        let mut resp = sent.map_err(|e| {
            log::warn!(
                "client: {} {method} {path_and_query} failed: {e}",
                service.name()
            );
            HttpError::unavailable(format!("{} is unavailable", service.name()))
        })?;
        let status = resp.status();
        let bytes = resp.body().limit(MAX_BODY).await.map_err(|e| {
            log::warn!(
                "client: {} {method} {path_and_query} body: {e}",
                service.name()
            );
            HttpError::unavailable(format!("{} is unavailable", service.name()))
        })?;
        if status.is_success() {
            let value = if bytes.is_empty() {
                serde_json::from_slice(b"null")
            } else {
                serde_json::from_slice(&bytes)
            };
            return value.map(|body| Upstream { status, body }).map_err(|e| {
                log::error!(
                    "client: {} {method} {path_and_query}: unexpected body: {e}",
                    service.name()
                );
                HttpError::internal()
            });
        }
        if status.is_client_error() {
            if let Ok(err) = serde_json::from_slice::<ErrorBody>(&bytes) {
                return Err(HttpError::new(status, err.error.code, err.error.message));
            }
            return Err(HttpError::new(
                status,
                "upstream_error",
                format!("{} answered {status}", service.name()),
            ));
        }
        log::warn!(
            "client: {} {method} {path_and_query} answered {status}",
            service.name()
        );
        Err(HttpError::unavailable(format!(
            "{} is unavailable",
            service.name()
        )))
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        user: UserId,
    ) -> Result<Upstream<T>, HttpError> {
        self.call::<(), T>(service, Method::GET, path, user, None)
            .await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        user: UserId,
        body: &B,
    ) -> Result<Upstream<T>, HttpError> {
        self.call(service, Method::POST, path, user, Some(body))
            .await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        user: UserId,
        body: &B,
    ) -> Result<Upstream<T>, HttpError> {
        self.call(service, Method::PATCH, path, user, Some(body))
            .await
    }

    pub async fn delete(
        &self,
        service: Service,
        path: &str,
        user: UserId,
    ) -> Result<StatusCode, HttpError> {
        self.call::<(), serde::de::IgnoredAny>(service, Method::DELETE, path, user, None)
            .await
            .map(|u| u.status)
    }
}

/// A successful upstream answer.
#[derive(Debug)]
pub struct Upstream<T> {
    pub status: StatusCode,
    pub body: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_gets_its_own_audience() {
        let keys = JwtKeys::new(b"client-test-secret-0123456789abcdef");
        let client =
            ServiceClient::new("http://u", "http://m", keys.clone(), Duration::from_secs(1));
        let user = UserId::new_random();
        for (service, audience) in [
            (Service::UserStore, "chat-user-store"),
            (Service::MessageStore, "chat-message-store"),
        ] {
            let claims = keys
                .verify(&client.token(service, user), audience, &[ISSUER_BFF])
                .unwrap();
            assert_eq!(claims.sub, user);
            assert_eq!(claims.aud, audience);
            assert!(claims.exp - claims.iat <= 60);
        }
    }

    /// The only place in the bff's source that sets an Authorization header
    /// or mints a token is this file.
    #[test]
    fn no_handler_sets_authorization() {
        fn visit(dir: &std::path::Path, hits: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    visit(&path, hits);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("client.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for needle in [
                        "bearer_auth",
                        "AUTHORIZATION",
                        "\"Authorization\"",
                        "Bearer ",
                        ".mint(",
                    ] {
                        if text.contains(needle) {
                            hits.push(format!("{} uses {needle}", path.display()));
                        }
                    }
                }
            }
        }
        let mut hits = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut hits,
        );
        // The ws-token route mints the browser's gateway token; that is its
        // purpose, and it goes through `auth::ws_token`, not a header.
        hits.retain(|h| !h.contains("auth/session.rs uses .mint("));
        assert!(hits.is_empty(), "outside client.rs: {hits:#?}");
    }
}
