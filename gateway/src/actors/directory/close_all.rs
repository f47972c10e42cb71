//! `CloseAll`: the process is shutting down.

use actix::prelude::*;

use super::Directory;
use crate::actors::hub;

/// Close every session with 1001 (going away), each after what is queued
/// for it; answers how many there were.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for Directory {
    type Result = usize;

    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        for hub in self.hubs.values() {
            hub.addr.do_send(hub::CloseAll {
                code: 1001,
                reason: "server shutting down",
            });
        }
        self.sessions.len()
    }
}
