//! `Connect`: a session opened.

use actix::prelude::*;
use actors_common::UserId;

use super::{Directory, SessionEntry};
use crate::actors::session::WsSession;
use crate::actors::SessionId;

/// Register a session. Sent before it loads its conversations, so
/// membership events that arrive meanwhile already reach it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub session: Addr<WsSession>,
}

impl Handler<Connect> for Directory {
    type Result = ();

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        self.sessions.insert(
            msg.session_id,
            SessionEntry {
                user: msg.user_id,
                addr: msg.session,
                conversations: Default::default(),
            },
        );
        self.users
            .entry(msg.user_id)
            .or_default()
            .insert(msg.session_id);
        self.applied.entry(msg.user_id).or_default();
        self.roster.online(msg.user_id);
    }
}
