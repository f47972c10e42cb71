//! `POST /sessions/end`: the bff's word that a browser session was logged
//! out. The caller presents a gateway token of that session (its `sid`);
//! the gateway writes the end to `chat.sessions`, which every gateway reads
//! (`actors::directory::sign_out` closes the session's sockets with 1008),
//! and answers 204 once the broker has it. Anyone holding a token of a
//! session may end it, and only that one: the user and session come from
//! the token, never from the body.
//!
//! An end this gateway wrote less than [`SESSION_END_REPEAT`] ago answers
//! 204 again without a second record, so a holder of a token cannot flood
//! `chat.sessions` (and every gateway that reads it) by repeating the call:
//! one record per session per 5 s at most. Later repeats are written again:
//! the bff's end at logout may come after the browser ended its own session
//! (its gateway token may call this too), and that end must start the
//! gateways' memory afresh, or a token taken just before the logout would
//! outlive it. Every gateway remembers an end for
//! [`SESSION_END_MEMORY`](actors_common::kafka::SESSION_END_MEMORY),
//! which counts the repeat window in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use actors_common::kafka::{SessionEnded, SESSION_END_REPEAT};
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

/// The session ends this gateway wrote in the last [`SESSION_END_REPEAT`].
#[derive(Debug, Default)]
pub struct Written(Mutex<HashMap<(UserId, String), Instant>>);

impl Written {
    fn contains(&self, key: &(UserId, String)) -> bool {
        self.contains_at(key, Instant::now())
    }

    fn insert(&self, key: (UserId, String)) {
        self.insert_at(key, Instant::now());
    }

    fn contains_at(&self, key: &(UserId, String), now: Instant) -> bool {
        let ends = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ends.get(key)
            .is_some_and(|at| now.duration_since(*at) < SESSION_END_REPEAT)
    }

    fn insert_at(&self, key: (UserId, String), now: Instant) {
        let mut ends = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if ends.len() >= REMEMBERED_ENDS {
            ends.retain(|_, at| now.duration_since(*at) < SESSION_END_REPEAT);
        }
        if ends.len() < REMEMBERED_ENDS {
            ends.insert(key, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_swallowed_only_within_the_window() {
        let written = Written::default();
        let t0 = Instant::now();
        let key = (UserId::new_random(), "sid".to_owned());
        assert!(!written.contains_at(&key, t0));
        written.insert_at(key.clone(), t0);
        assert!(written.contains_at(&key, t0 + Duration::from_secs(4)));
        assert!(
            !written.contains_at(&key, t0 + SESSION_END_REPEAT),
            "a later end is written again, so it restarts every gateway's memory"
        );
        let other = (key.0, "another sid".to_owned());
        assert!(!written.contains_at(&other, t0));
    }

    #[test]
    fn a_full_memory_drops_old_ends_and_never_grows_past_its_bound() {
        let written = Written::default();
        let t0 = Instant::now();
        let user = UserId::new_random();
        for i in 0..REMEMBERED_ENDS {
            written.insert_at((user, i.to_string()), t0);
        }
        // Full of fresh ends: one more is written but not remembered.
        written.insert_at((user, "one more".into()), t0);
        assert!(!written.contains_at(&(user, "one more".into()), t0));
        // Once those are old, room is made.
        let later = t0 + SESSION_END_REPEAT;
        written.insert_at((user, "later".into()), later);
        assert!(written.contains_at(&(user, "later".into()), later));
        let held = written.0.lock().unwrap().len();
        assert_eq!(held, 1);
    }
}
