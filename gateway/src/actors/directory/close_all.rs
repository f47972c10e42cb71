//! `CloseAll`: the process is shutting down.

use actix::prelude::*;
use actix_web_actors::ws::CloseCode;

use super::Directory;
use crate::actors::session::Close;

/// Close every session with 1001 (going away); answers how many.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for Directory {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        for session in self.sessions.values() {
            session.addr.do_send(Close {
                code: CloseCode::Away,
                reason: "server shutting down",
            });
        }
        self.sessions.len()
    }
}
