//! `Message`: one record, the same on Kafka, in HTTP bodies and in WebSocket frames.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{ConversationId, MessageId, UserId};

/// A chat message as PROTOCOL.md shapes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub body: String,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// The sender's idempotency key; `null` for messages without one.
    pub client_id: Option<Uuid>,
}

impl Message {
    /// A new message: a fresh UUIDv7 id, and `created_at` taken from that
    /// id's own millisecond, so time order and id order always agree.
    pub fn new(
        conversation_id: ConversationId,
        sender_id: UserId,
        body: String,
        client_id: Option<Uuid>,
    ) -> Self {
        let id = MessageId::new_v7();
        let created_at = id
            .unix_millis()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(crate::time::now_millis);
        Self {
            id,
            conversation_id,
            sender_id,
            body,
            created_at,
            client_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_messages_carry_their_ids_time() {
        let m = Message::new(
            ConversationId::new_v7(),
            UserId::new_random(),
            "hi".into(),
            None,
        );
        assert_eq!(m.id.unix_millis(), Some(m.created_at.timestamp_millis()));
    }
}
