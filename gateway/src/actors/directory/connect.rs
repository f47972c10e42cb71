//! `Connect`: a session opened.

use actix::prelude::*;
use actors_common::UserId;

use super::{Directory, SessionEntry};
use crate::actors::hub::HubHandle;
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// Register a session. Sent before it loads its conversations, so
/// membership events that arrive meanwhile already reach it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub hub: HubHandle,
    /// Its browser session, when its token named one (`sign_out::sid_hash`).
    pub sid: Option<u64>,
}

impl Handler<Connect> for Directory {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::DirectoryConnect);
        let hub = msg.hub.id;
        self.hubs.entry(hub).or_insert(msg.hub);
        self.sessions.insert(
            msg.session_id,
            SessionEntry {
                user: msg.user_id,
                hub,
                sid: msg.sid,
                conversations: Default::default(),
            },
        );
        let user = self.users.entry(msg.user_id).or_default();
        if !user.sessions.contains(&msg.session_id) {
            user.sessions.push(msg.session_id);
        }
        self.roster.online(msg.user_id);
        // Its token was taken just before its session was logged out.
        if msg.sid.is_some_and(|sid| self.has_ended(msg.user_id, sid)) {
            self.sign_out(msg.session_id);
        }
    }
}
