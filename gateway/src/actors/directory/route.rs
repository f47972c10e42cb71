//! `RouteMessage`, `RouteTyping`: records from Kafka, to their Conversation.
//! A conversation with nobody online on this node has no actor, and the
//! record is not needed here.

use actix::prelude::*;
use actors_common::ConversationId;

use super::Directory;
use crate::actors::conversation::{MessagePublished, UserTyped};

/// A message for the members of `conversation_id`.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RouteMessage {
    pub conversation_id: ConversationId,
    pub published: MessagePublished,
}

/// A typing notice for the members of `conversation_id`.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RouteTyping {
    pub conversation_id: ConversationId,
    pub typed: UserTyped,
}

impl Handler<RouteMessage> for Directory {
    type Result = ();

    fn handle(&mut self, msg: RouteMessage, ctx: &mut Context<Self>) {
        if let Some(addr) = self
            .conversations
            .get(&msg.conversation_id)
            .map(|e| e.addr.clone())
        {
            self.forward(&addr, msg.published, ctx);
        }
    }
}

impl Handler<RouteTyping> for Directory {
    type Result = ();

    fn handle(&mut self, msg: RouteTyping, ctx: &mut Context<Self>) {
        if let Some(addr) = self
            .conversations
            .get(&msg.conversation_id)
            .map(|e| e.addr.clone())
        {
            self.forward(&addr, msg.typed, ctx);
        }
    }
}
