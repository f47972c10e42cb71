//! Kafka, as the contract: topic names, how many partitions, and the
//! payloads of the ephemeral topics. What `chat.messages` carries is in
//! [`crate::log`]. Building clients (configs, assignment, readiness) is the
//! `kafka-kit` crate's, which only the services that talk to Kafka link:
//! this crate has no librdkafka in it.
//!
//! ## Topics
//!
//! | topic | key | records |
//! |---|---|---|
//! | `chat.messages` | conversation id | messages, membership changes and renames of a conversation, in its one order (`crate::log`) |
//! | `chat.typing` | conversation id | [`UserTyped`] (ephemeral) |
//! | `chat.sessions` | user id | [`SessionEnded`] (ephemeral): a browser session was logged out; every gateway closes its sockets |
//!
//! PROTOCOL.md's default layout also has `chat.participants.created` and
//! `chat.participants.removed`. Membership events travel on the
//! conversation's own partition of `chat.messages` instead, so that they are
//! ordered with its messages: that is what makes membership causal.
//!

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, UserId};

/// Base names of the topics. A deployment (or a test) may prefix them.
pub const TOPIC_MESSAGES: &str = "chat.messages";
pub const TOPIC_TYPING: &str = "chat.typing";
pub const TOPIC_SESSIONS: &str = "chat.sessions";

/// Partitions of `chat.messages` in the local stack and in tests.
pub const MESSAGES_PARTITIONS: i32 = 6;

/// The topic names one deployment uses: the base names behind a prefix
/// (empty in production; unique per test so tests never share records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    pub prefix: String,
    pub messages: String,
    pub typing: String,
    pub sessions: String,
}

impl Topics {
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            messages: format!("{prefix}{TOPIC_MESSAGES}"),
            typing: format!("{prefix}{TOPIC_TYPING}"),
            sessions: format!("{prefix}{TOPIC_SESSIONS}"),
        }
    }

    /// The deployment's name of a topic given by its base name.
    pub fn resolve(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    /// Every topic with the partition count it is created with.
    pub fn all(&self) -> [(&str, i32); 3] {
        [
            (&self.messages, MESSAGES_PARTITIONS),
            (&self.typing, 3),
            (&self.sessions, 1),
        ]
    }
}

impl Default for Topics {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

/// `chat.typing`: someone is typing (ephemeral).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTyped {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
}

/// A browser session ended (logout): every gateway closes the sockets
/// opened with its tokens (`Claims::sid`) with 1008.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnded {
    pub user_id: UserId,
    pub sid: String,
}

/// A gateway answers a repeated end of one session within this long of
/// the one it wrote without writing another record (a token holder cannot
/// flood `chat.sessions`).
pub const SESSION_END_REPEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a gateway remembers a session's end, and how far back one that
/// starts reads them: as long as a token taken before the end can still
/// open a socket (a gateway token's lifetime and the verification leeway),
/// plus [`SESSION_END_REPEAT`], since an end answered as a repeat relies on
/// the memory of the record before it.
pub const SESSION_END_MEMORY: std::time::Duration = std::time::Duration::from_secs(
    crate::jwt::WS_TOKEN_TTL.as_secs() + crate::jwt::LEEWAY_SECS + SESSION_END_REPEAT.as_secs(),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_take_a_prefix() {
        let t = Topics::with_prefix("t1-");
        assert_eq!(t.messages, "t1-chat.messages");
        assert_eq!(t.typing, "t1-chat.typing");
        assert_eq!(t.resolve(TOPIC_MESSAGES), "t1-chat.messages");
        assert_eq!(Topics::default().messages, "chat.messages");
    }
}
