//! `ToSession`, `Close`, `CloseAll`: the Directory's word to connections of
//! this thread (a frame for one session; one session's end, as when it
//! signed out; the shutdown's goodbye).

use actix::prelude::*;
use bytestring::ByteString;

use super::{Hub, THREAD};
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// A frame for one session (a `conversation_updated`, a removal).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ToSession {
    pub session_id: SessionId,
    pub frame: ByteString,
}

/// Close one session with `code` at once: its queue is dropped, the close
/// frame goes next, and the socket is shut down when that is out or after
/// 2 s, whether or not the client reads (a signed-out session must not
/// linger behind a full queue).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Close {
    pub session_id: SessionId,
    pub code: u16,
    pub reason: &'static str,
}

impl Handler<Close> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Close, _: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::HubClose);
        if let Some(conn) = THREAD.with(|t| t.borrow().sessions.get(&msg.session_id).cloned()) {
            conn.close(msg.code, msg.reason, false);
        }
    }
}

/// Close every connection of this thread with `code`, after what is queued
/// for it; answers how many.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "usize")]
pub struct CloseAll {
    pub code: u16,
    pub reason: &'static str,
}

impl Handler<ToSession> for Hub {
    type Result = ();

    fn handle(&mut self, msg: ToSession, _: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::HubToSession);
        let Some(conn) = THREAD.with(|t| t.borrow().sessions.get(&msg.session_id).cloned()) else {
            return; // gone meanwhile
        };
        match conn.text(msg.frame.into_bytes()) {
            Ok(()) => self.metrics.frames_out.inc(),
            Err(_) => self.slow_consumer(&conn),
        }
    }
}

impl Handler<CloseAll> for Hub {
    type Result = usize;

    fn handle(&mut self, msg: CloseAll, _: &mut Context<Self>) -> usize {
        let conns: Vec<_> = THREAD.with(|t| t.borrow().sessions.values().cloned().collect());
        for conn in &conns {
            conn.close(msg.code, msg.reason, true);
        }
        conns.len()
    }
}
