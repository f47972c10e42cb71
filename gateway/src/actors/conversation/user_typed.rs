//! `UserTyped`: someone is typing; everyone else online hears it.

use actix::prelude::*;
use actors_common::UserId;
use bytestring::ByteString;

use super::Conversation;

/// A `typing` frame for every member except the typist's own sessions.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct UserTyped {
    pub user_id: UserId,
    pub frame: ByteString,
}

impl Handler<UserTyped> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: UserTyped, _: &mut Context<Self>) {
        self.broadcast(&msg.frame, None, Some(msg.user_id));
    }
}
