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

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;

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
}
