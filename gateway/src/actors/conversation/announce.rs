//! `Announce`: a membership frame for every member.

use actix::prelude::*;
use bytestring::ByteString;

use super::Conversation;

/// `participant_added` / `participant_removed`, to every member.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Announce {
    pub frame: ByteString,
}

impl Handler<Announce> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Announce, _: &mut Context<Self>) {
        self.broadcast(&msg.frame, None, None);
    }
}
