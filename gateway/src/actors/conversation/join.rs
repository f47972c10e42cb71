//! `Join`: a session becomes a member.

use actix::prelude::*;
use actors_common::UserId;

use super::{Conversation, Member};
use crate::actors::session::Deliver;
use crate::actors::SessionId;

/// Add this session to the conversation's members.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub session: Recipient<Deliver>,
}

impl Handler<Join> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Join, _: &mut Context<Self>) {
        self.depth.handled();
        self.members.insert(
            msg.session_id,
            Member {
                user: msg.user_id,
                session: msg.session,
            },
        );
    }
}
