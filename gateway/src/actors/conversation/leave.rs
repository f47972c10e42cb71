//! `Leave`: a session stops being a member.

use actix::prelude::*;

use super::Conversation;
use crate::actors::SessionId;

/// Remove this session from the members.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Leave {
    pub session_id: SessionId,
}

impl Handler<Leave> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        self.depth.handled();
        self.members.remove(&msg.session_id);
    }
}
