//! Rows. What the API sends is `actors_common::api`'s.

use actors_common::api::ConversationKind;
use actors_common::{ConversationId, Message, MessageId, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{conversations, log_members, messages, participants};

pub const KIND_PRIVATE: &str = "private";
pub const KIND_GROUP: &str = "group";

#[derive(Clone, Debug, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = conversations, check_for_backend(diesel::pg::Pg))]
pub struct ConversationRow {
    pub id: ConversationId,
    pub kind: String,
    pub name: Option<String>,
    pub private_low: Option<UserId>,
    pub private_high: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub membership_version: i64,
    /// Its creation or its newest stored message, whichever is later: the
    /// list's sort key.
    pub activity_at: DateTime<Utc>,
    /// Active participants, kept by triggers on `participants`.
    pub participant_count: i64,
}

impl ConversationRow {
    pub fn is_private(&self) -> bool {
        self.kind == KIND_PRIVATE
    }

    /// Its kind as the API names it.
    pub fn api_kind(&self) -> ConversationKind {
        if self.is_private() {
            ConversationKind::Private
        } else {
            ConversationKind::Group
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = participants, check_for_backend(diesel::pg::Pg))]
pub struct ParticipantRow {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub joined_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
}

/// A (conversation, user)'s latest membership event, as ingest read it
/// from the log: whether it added them, and at which seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = log_members, check_for_backend(diesel::pg::Pg))]
pub struct LogMemberRow {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub active: bool,
    pub seq: i64,
    /// The conversation's membership version of that event.
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct MessageRow {
    pub conversation_id: ConversationId,
    pub id: MessageId,
    pub sender_id: UserId,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub client_id: Option<Uuid>,
    pub seq: i64,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: r.id,
            conversation_id: r.conversation_id,
            sender_id: r.sender_id,
            body: r.body,
            created_at: r.created_at,
            client_id: r.client_id,
            seq: r.seq,
        }
    }
}

impl From<&Message> for MessageRow {
    fn from(m: &Message) -> Self {
        MessageRow {
            id: m.id,
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            body: m.body.clone(),
            created_at: m.created_at,
            client_id: m.client_id,
            seq: m.seq,
        }
    }
}
