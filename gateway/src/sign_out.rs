//! `POST /sessions/end`: the bff's word that a browser session was logged
//! out. The caller presents a gateway token of that session (its `sid`);
//! the gateway writes the end to `chat.sessions`, which every gateway reads
//! (`actors::directory::sign_out` closes the session's sockets with 1008),
//! and answers 204 once the broker has it. Anyone holding a token of a
//! session may end it, and only that one: the user and session come from
//! the token, never from the body.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use actors_common::kafka::SessionEnded;
use service_kit::{Caller, HttpError};

use crate::kafka::ChatProducer;

/// What the route needs.
#[derive(Clone, Debug)]
pub struct SignOut {
    pub producer: ChatProducer,
    pub timeout: Duration,
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
    let ended = SessionEnded {
        user_id: caller.user_id,
        sid,
    };
    let queued = state.producer.send_session_ended(&ended).map_err(|e| {
        log::warn!("sign-out: user_id={} not queued: {e}", caller.user_id);
        HttpError::unavailable("the broker did not take the sign-out, try again")
    })?;
    match tokio::time::timeout(state.timeout, queued).await {
        Ok(Ok(Ok(_))) => {
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
