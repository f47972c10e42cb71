//! The bodies of the HTTP APIs (PROTOCOL.md), one definition used by both
//! ends: the bff sends exactly what message-store and user-store read, and
//! reads exactly what they answer.
//!
//! | type | body of |
//! |---|---|
//! | [`NewConversation`] | `POST /conversations` (and the bff's `/api/conversations`) |
//! | [`Rename`] | `PATCH /conversations/{id}` |
//! | [`NewParticipant`] | `POST /conversations/{id}/participants` |
//! | [`NewUser`] | `POST /users` (the bff, at registration) |
//! | [`User`], [`UserEnvelope`] | PROTOCOL.md's `User`, and `{"user": User}` |
//! | [`UserList`], [`UserPage`] | `GET /users?ids=`, and a page of `GET /users?q=` |
//! | [`Conversation`], [`Participant`] | PROTOCOL.md's `Conversation`; names only from the bff |
//! | [`ConversationEnvelope`], [`ConversationPage`] | `{"conversation"}`, and a page of the list |
//! | [`ParticipantEnvelope`] | `201 {"participant"}` of an add |
//! | [`HistoryPage`], [`MessageEnvelope`] | a page of history, and `{"message"}` |
//! | [`ConversationIds`] | `GET /conversations/ids` (what a gateway joins at connect) |
//! | [`WsToken`] | the bff's `GET /api/ws-token` |
//!
//! [`paths`] builds the services' paths from typed ids, so a caller cannot
//! put a user id where a conversation id goes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::Message;

/// A conversation to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NewConversation {
    /// With one other person: the existing one if there is one.
    Private { participant_id: UserId },
    /// A named group; the caller is a participant.
    Group {
        name: String,
        participant_ids: Vec<UserId>,
    },
}

/// A group's new name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    pub name: String,
}

/// Someone to add to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewParticipant {
    pub user_id: UserId,
}

/// A profile to create; `id` must be the token's subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    /// The username when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// PROTOCOL.md's `User`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: DateTime<Utc>,
}

/// `{"user": User}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEnvelope {
    pub user: User,
}

/// `GET /users?ids=`: the profiles found (unknown ids are absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<User>,
}

/// `GET /users?q=`: a page of a username search; `next` is the `after`
/// of the following page, `null` on the last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    pub users: Vec<User>,
    pub next: Option<String>,
}

/// A conversation's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Private,
    Group,
}

/// A participant's profile names, as the bff adds them (`null` when the
/// profile is gone). Both keys are required when reading, so a participant
/// without them (message-store's) reads as `names: None`, not as a gone
/// profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    #[serde(deserialize_with = "Option::deserialize")]
    pub username: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub display_name: Option<String>,
}

impl Names {
    /// The names of `profile`; `null` both when it is gone.
    pub fn of(profile: Option<&User>) -> Self {
        Self {
            username: profile.map(|u| u.username.clone()),
            display_name: profile.map(|u| u.display_name.clone()),
        }
    }
}

/// An active participant of a conversation. message-store does not know
/// names and leaves them out; the bff fills them from user-store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub user_id: UserId,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub joined_at: DateTime<Utc>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Names>,
}

/// PROTOCOL.md's `Conversation`, as its viewer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// A group's name; `null` for a private conversation.
    pub name: Option<String>,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// Active participants in joining order: all of them in
    /// `GET /conversations/{id}`, the first 20 in a list entry.
    pub participants: Vec<Participant>,
    /// How many active participants there are.
    pub participant_count: i64,
    /// The newest message the viewer may see.
    pub last_message: Option<Message>,
}

/// `{"conversation": Conversation}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEnvelope {
    pub conversation: Conversation,
}

/// A page of the caller's conversations, newest activity first; `next` is
/// the `after` of the following page, `null` on the last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    pub next: Option<String>,
}

/// `201 {"participant": Participant}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantEnvelope {
    pub participant: Participant,
}

/// A page of history. `next` is the cursor of the following page (`null`
/// at the end); `complete_through` the highest seq of the conversation's
/// partition that is stored (-1 when none), so a client knows no gap below
/// it is still coming.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub next: Option<MessageId>,
    pub complete_through: i64,
}

/// `{"message": Message}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEnvelope {
    pub message: Message,
}

/// The conversations a user is announced in (what a gateway joins at connect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationIds {
    pub ids: Vec<ConversationId>,
}

/// `GET /api/ws-token`: a gateway token, where to connect, and for how
/// many seconds the token opens a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsToken {
    pub token: String,
    pub url: String,
    pub expires_in: u64,
}

/// The services' paths, built from typed ids (the routes' own patterns are
/// in each service's `routes`).
pub mod paths {
    use crate::ids::{ConversationId, UserId};

    /// message-store: a conversation.
    pub fn conversation(id: ConversationId) -> String {
        format!("/conversations/{id}")
    }

    /// message-store: a conversation's history.
    pub fn messages(id: ConversationId) -> String {
        format!("/conversations/{id}/messages")
    }

    /// message-store: a group's participants (POST adds one).
    pub fn participants(id: ConversationId) -> String {
        format!("/conversations/{id}/participants")
    }

    /// message-store: one participant of a group (DELETE removes them).
    pub fn participant(id: ConversationId, user: UserId) -> String {
        format!("/conversations/{id}/participants/{user}")
    }

    /// user-store: a profile.
    pub fn user(id: UserId) -> String {
        format!("/users/{id}")
    }

    /// user-store: the profiles of `ids` (at most 100).
    pub fn users_by_ids(ids: &[UserId]) -> String {
        let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
        format!("/users?ids={}", list.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_protocols_shape() {
        let id = UserId::new_random();
        let group = NewConversation::Group {
            name: "g".into(),
            participant_ids: vec![id],
        };
        let json = serde_json::to_value(&group).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "group", "name": "g", "participant_ids": [id]})
        );
        let private: NewConversation =
            serde_json::from_value(serde_json::json!({"kind": "private", "participant_id": id}))
                .unwrap();
        assert_eq!(private, NewConversation::Private { participant_id: id });
        let user: NewUser =
            serde_json::from_value(serde_json::json!({"id": id, "username": "ada"})).unwrap();
        assert_eq!(user.display_name, None);
        assert!(serde_json::from_value::<NewUser>(
            serde_json::json!({"id": id, "username": "ada", "admin": true})
        )
        .is_err());
    }

    #[test]
    fn names_are_absent_from_message_store_and_present_from_the_bff() {
        let p = Participant {
            user_id: UserId::new_random(),
            joined_at: crate::time::now_millis(),
            names: None,
        };
        let bare = serde_json::to_value(&p).unwrap();
        assert!(bare.get("username").is_none(), "{bare}");
        let read: Participant = serde_json::from_value(bare).unwrap();
        assert_eq!(read.names, None, "no keys: no names, not a gone profile");
        let gone: Participant = serde_json::from_value(serde_json::json!({
            "user_id": p.user_id, "joined_at": "2026-12-01T00:00:00.000Z",
            "username": null, "display_name": null,
        }))
        .unwrap();
        assert_eq!(
            gone.names,
            Some(Names::default()),
            "null keys: a gone profile"
        );
        let named = Participant {
            names: Some(Names {
                username: Some("ada".into()),
                display_name: None,
            }),
            ..p.clone()
        };
        let json = serde_json::to_value(&named).unwrap();
        assert_eq!(json["username"], "ada");
        assert!(json["display_name"].is_null() && json.get("display_name").is_some());
        let back: Participant = serde_json::from_value(json).unwrap();
        assert_eq!(back, named);
    }
}
