//! `MembershipChanged`: the Directory joined this session to a conversation,
//! or took it out, after a participant event.

use actix::prelude::*;
use actix_web_actors::ws;
use actors_common::ConversationId;

use super::WsSession;

/// This session's user joined (`member: true`) or left a conversation.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct MembershipChanged {
    pub conversation_id: ConversationId,
    pub member: bool,
}

impl Handler<MembershipChanged> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: MembershipChanged, _: &mut ws::WebsocketContext<Self>) {
        if msg.member {
            self.conversations.insert(msg.conversation_id);
        } else {
            self.conversations.remove(&msg.conversation_id);
        }
    }
}
