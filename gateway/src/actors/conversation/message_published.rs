//! `MessagePublished`: a message arrived from Kafka for this conversation.

use std::time::Instant;

use actix::prelude::*;
use actors_common::{MessageId, UserId};
use bytestring::ByteString;
use uuid::Uuid;

use super::Conversation;

/// A message from `chat.messages`, with its `message` frame already
/// serialised once by the Kafka consumer.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct MessagePublished {
    pub message_id: MessageId,
    pub sender_id: UserId,
    pub client_id: Option<Uuid>,
    pub frame: ByteString,
    /// When the consumer received the record.
    pub received: Instant,
}

impl Handler<MessagePublished> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: MessagePublished, _: &mut Context<Self>) {
        let client = msg.client_id.map(|c| (msg.sender_id, c));
        if !self.recent.first_time(msg.message_id, client) {
            log::debug!(
                "conversation: conversation_id={} message_id={} duplicate dropped",
                self.id,
                msg.message_id
            );
            return;
        }
        self.broadcast(&msg.frame, Some(msg.received), None);
    }
}
