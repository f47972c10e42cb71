//! `POST /sessions/end`: the bff's word that a browser session was logged
//! out. The caller presents a gateway token of that session (its `sid`);
//! the gateway writes the end to `chat.sessions`, which every gateway reads
//! (`actors::directory::sign_out` closes the session's sockets with 1008),
//! and answers 204 once the broker has it. Anyone holding a token of a
//! session may end it, and only that one: the user and session come from
//! the token, never from the body.
//!
//! A session ends once: an end this gateway wrote in the last
//! [`SESSION_END_MEMORY`] answers 204 again without a second record, so a
//! holder of a token cannot flood `chat.sessions` (and every gateway that
//! reads it) by repeating the call; a new session takes a login, and logins
//! have their budgets at the bff.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use actors_common::kafka::{SessionEnded, SESSION_END_MEMORY};
use actors_common::UserId;
use service_kit::{Caller, HttpError};

use crate::kafka::ChatProducer;

/// Most ends [`Written`] holds; past it, ends are written without being
/// remembered (a repeat costs one more record, never memory).
const REMEMBERED_ENDS: usize = 100_000;

/// What the route needs.
#[derive(Debug)]
pub struct SignOut {
    pub producer: ChatProducer,
    pub timeout: Duration,
    pub written: Written,
}

impl SignOut {
    pub fn new(producer: ChatProducer, timeout: Duration) -> Self {
        Self {
            producer,
            timeout,
            written: Written::default(),
        }
    }
}

/// The session ends this gateway wrote lately, and when.
#[derive(Debug, Default)]
pub struct Written(Mutex<HashMap<(UserId, String), Instant>>);

impl Written {
    fn contains(&self, key: &(UserId, String)) -> bool {
        let ends = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ends.get(key)
            .is_some_and(|at| at.elapsed() < SESSION_END_MEMORY)
    }

    fn insert(&self, key: (UserId, String)) {
        let mut ends = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if ends.len() >= REMEMBERED_ENDS {
            ends.retain(|_, at| at.elapsed() < SESSION_END_MEMORY);
        }
        if ends.len() < REMEMBERED_ENDS {
            ends.insert(key, Instant::now());
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions/end", web::post().to(end));
}

async fn end(caller: Caller, state: web::Data<SignOut>) -> Result<HttpResponse, HttpError> {
    let Some(sid) = caller.claims.sid.clone() else {
        return Err(HttpError::bad_request(
            "invalid_token",
            "the token names no browser session",
        ));
    };
    let key = (caller.user_id, sid);
    if state.written.contains(&key) {
        return Ok(HttpResponse::NoContent().finish());
    }
    let ended = SessionEnded {
        user_id: key.0,
        sid: key.1.clone(),
    };
    let queued = state.producer.send_session_ended(&ended).map_err(|e| {
        log::warn!("sign-out: user_id={} not queued: {e}", caller.user_id);
        HttpError::unavailable("the broker did not take the sign-out, try again")
    })?;
    match tokio::time::timeout(state.timeout, queued).await {
        Ok(Ok(Ok(_))) => {
            state.written.insert(key);
            log::info!("sign-out: user_id={} session ended", caller.user_id);
            Ok(HttpResponse::NoContent().finish())
        }
        other => {
            log::warn!(
                "sign-out: user_id={} not delivered: {other:?}",
                caller.user_id
            );
            Err(HttpError::unavailable(
                "the broker did not take the sign-out, try again",
            ))
        }
    }
}
