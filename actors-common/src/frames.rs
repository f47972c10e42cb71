//! WebSocket frames: JSON text frames tagged by `type`, exactly as PROTOCOL.md.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{ConversationId, UserId};
use crate::model::Message;

/// What a client may send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Post a message; `client_id` makes resends idempotent.
    Send {
        conversation_id: ConversationId,
        client_id: Uuid,
        body: String,
        /// An extension: ask for a trace of this message through the
        /// gateways (honoured for users the gateway lets ask).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        trace: bool,
    },
    /// "I am typing" in a conversation (relayed, never stored).
    Typing { conversation_id: ConversationId },
}

/// A client frame that could not be read: answered with a `bad_frame`
/// error (with the frame's `client_id`, when one can be read from it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub message: String,
    pub client_id: Option<Uuid>,
}

impl ClientFrame {
    /// Reads a text frame from a client.
    pub fn read(text: &str) -> Result<Self, Unreadable> {
        serde_json::from_str(text).map_err(|e| Unreadable {
            message: format!("unreadable frame: {e}"),
            client_id: serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("client_id")?.as_str()?.parse().ok()),
        })
    }
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Ready {
        user_id: UserId,
        conversations: Vec<ConversationId>,
        /// An extension: per conversation, the seq from which its messages
        /// reach this session live; those before it are in history (a
        /// reconnecting client catches up to there, see `complete_through`
        /// in history pages).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        live_from: std::collections::BTreeMap<ConversationId, i64>,
    },
    Ack {
        client_id: Uuid,
        message: Message,
    },
    Message {
        message: Message,
    },
    ParticipantAdded {
        conversation_id: ConversationId,
        user_id: UserId,
    },
    ParticipantRemoved {
        conversation_id: ConversationId,
        user_id: UserId,
    },
    /// A group was renamed.
    ConversationUpdated {
        conversation_id: ConversationId,
        name: String,
    },
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<Uuid>,
    },
}

impl ServerFrame {
    /// An `error` frame.
    pub fn error(code: ErrorCode, message: impl Into<String>, client_id: Option<Uuid>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            client_id,
        }
    }

    /// The frame as JSON text. Serialising these types cannot fail: every
    /// field is a string, a UUID, a timestamp or a list of those.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("frame serialisation: {e}"))
    }
}

/// The `code` of an `error` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Unparseable JSON, unknown `type`, or missing/ill-typed fields.
    BadFrame,
    /// The sender is not a participant of that conversation (or it does not exist).
    NotParticipant,
    /// The body is empty after trimming or longer than 4000 characters.
    InvalidBody,
    /// Over the per-connection rate limit.
    RateLimited,
    /// Kafka did not accept the message in time; resend with the same `client_id`.
    Unavailable,
}

impl ErrorCode {
    /// The snake_case name, as it appears on the wire and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::NotParticipant => "not_participant",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CONV: &str = "0192f0c1-7b7e-7cc0-8f00-3a1d2b4c5d6e";
    const USER: &str = "5f0c7a0e-4b7c-4c1e-9a8e-2f1d3c4b5a69";
    const CLIENT: &str = "8d8ac610-566d-4ef0-9c22-186b2a5ed793";
    const MSG: &str = "0192f0c2-0000-7000-8000-000000000001";

    fn message_json() -> serde_json::Value {
        json!({"id": MSG, "conversation_id": CONV, "sender_id": USER, "body": "hello",
               "created_at": "2026-11-27T10:00:00.123Z", "client_id": CLIENT, "seq": 42})
    }

    /// Parses `literal` as `T`, re-serialises it, and checks nothing changed.
    fn round_trip<T>(literal: serde_json::Value) -> T
    where
        T: serde::de::DeserializeOwned + Serialize,
    {
        let parsed: T = serde_json::from_value(literal.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);
        parsed
    }

    #[test]
    fn client_send_round_trips() {
        let frame: ClientFrame = round_trip(
            json!({"type":"send","conversation_id":CONV,"client_id":CLIENT,"body":"hi there"}),
        );
        assert!(matches!(frame, ClientFrame::Send { ref body, .. } if body == "hi there"));
    }

    #[test]
    fn client_typing_round_trips() {
        let frame: ClientFrame = round_trip(json!({"type":"typing","conversation_id":CONV}));
        assert_eq!(
            frame,
            ClientFrame::Typing {
                conversation_id: CONV.parse().unwrap()
            }
        );
    }

    #[test]
    fn unknown_client_frames_are_refused() {
        for bad in [
            json!({"type":"shout","conversation_id":CONV}),
            json!({"conversation_id":CONV}),
            json!({"type":"send","conversation_id":CONV,"body":"no client id"}),
            json!({"type":"send","conversation_id":"nope","client_id":CLIENT,"body":"x"}),
        ] {
            assert!(
                serde_json::from_value::<ClientFrame>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn server_frames_round_trip() {
        round_trip::<ServerFrame>(json!({"type":"ready","user_id":USER,"conversations":[CONV]}));
        round_trip::<ServerFrame>(
            json!({"type":"ready","user_id":USER,"conversations":[CONV],"live_from":{CONV: 17}}),
        );
        round_trip::<ServerFrame>(
            json!({"type":"ack","client_id":CLIENT,"message":message_json()}),
        );
        round_trip::<ServerFrame>(json!({"type":"message","message":message_json()}));
        round_trip::<ServerFrame>(
            json!({"type":"participant_added","conversation_id":CONV,"user_id":USER}),
        );
        round_trip::<ServerFrame>(
            json!({"type":"participant_removed","conversation_id":CONV,"user_id":USER}),
        );
        round_trip::<ServerFrame>(
            json!({"type":"conversation_updated","conversation_id":CONV,"name":"new name"}),
        );
        round_trip::<ServerFrame>(json!({"type":"typing","conversation_id":CONV,"user_id":USER}));
        round_trip::<ServerFrame>(
            json!({"type":"error","code":"unavailable","message":"try again","client_id":CLIENT}),
        );
        round_trip::<ServerFrame>(json!({"type":"error","code":"bad_frame","message":"not JSON"}));
    }

    #[test]
    fn every_error_code_has_its_protocol_name() {
        for (code, name) in [
            (ErrorCode::BadFrame, "bad_frame"),
            (ErrorCode::NotParticipant, "not_participant"),
            (ErrorCode::InvalidBody, "invalid_body"),
            (ErrorCode::RateLimited, "rate_limited"),
            (ErrorCode::Unavailable, "unavailable"),
        ] {
            assert_eq!(code.as_str(), name);
            assert_eq!(serde_json::to_value(code).unwrap(), json!(name));
        }
    }

    #[test]
    fn message_with_null_client_id_round_trips() {
        let mut m = message_json();
        m["client_id"] = serde_json::Value::Null;
        let msg: Message = round_trip(m);
        assert_eq!(msg.client_id, None);
    }
}
