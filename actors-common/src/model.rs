//! `Message`: a chat message as clients see it, the same in HTTP bodies and
//! WebSocket frames. On Kafka it travels as `log::MessagePosted`, whose
//! record offset becomes `seq`.

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
    /// The message's place in its conversation's order: the offset of its
    /// record in the conversation's partition of `chat.messages`
    /// (`crate::log`). Strictly increasing within a conversation.
    pub seq: i64,
}
