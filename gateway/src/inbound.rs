//! What a Kafka record is, to the gateway: every record is parsed here, at
//! the edge, into one [`Inbound`] event; nothing past this file looks at a
//! topic name, a header or a payload.
//!
//! | topic | record | event |
//! |---|---|---|
//! | `chat.messages` | message | [`Inbound::Posted`] |
//! | `chat.messages` | `participants_added` | [`Inbound::Joined`] |
//! | `chat.messages` | `participant_removed` | [`Inbound::Left`] |
//! | `chat.messages` | `conversation_renamed` | [`Inbound::Renamed`] |
//! | `chat.typing` | | [`Inbound::Typing`] |
//! | `chat.sessions` | | [`Inbound::SessionEnded`] |
//!
//! What happens next to each is in `actors::kafka_consumer` (the ledger's
//! verdict on messages) and `actors::directory::dispatch` (everything else).

use actors_common::kafka::{SessionEnded, Topics, UserTyped};
use actors_common::log::{LogEvent, MessagePosted};
use actors_common::{ConversationId, UserId};

/// Where a record of `chat.messages` is: its seq is its offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub partition: i32,
    pub seq: i64,
}

/// A record, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A message was written to its conversation's log.
    Posted {
        at: Position,
        message: MessagePosted,
    },
    /// Users joined a conversation (`created`: its founders).
    Joined {
        at: Position,
        conversation_id: ConversationId,
        user_ids: Vec<UserId>,
        created: bool,
        /// The conversation's membership version after the change.
        version: i64,
    },
    /// A user left a conversation or was removed.
    Left {
        at: Position,
        conversation_id: ConversationId,
        user_id: UserId,
        version: i64,
    },
    /// A group was renamed.
    Renamed {
        at: Position,
        conversation_id: ConversationId,
        name: String,
    },
    /// Someone is typing (not part of the log).
    Typing {
        conversation_id: ConversationId,
        user_id: UserId,
    },
    /// A browser session was logged out (not part of the log).
    /// `replayed_at_ms`: for an end read again as the gateway started, the
    /// record's time (Unix ms, the writer's clock); `None` for a live one.
    SessionEnded {
        user_id: UserId,
        sid: String,
        replayed_at_ms: Option<i64>,
    },
}

/// Why a record was skipped.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("record of unexpected topic {0}")]
    Topic(String),
    #[error(transparent)]
    Log(#[from] actors_common::log::DecodeError),
    #[error("unreadable typing record: {0}")]
    Typing(serde_json::Error),
    #[error("unreadable session record: {0}")]
    Session(serde_json::Error),
    #[error("typing or session record has no value")]
    NoValue,
}

/// A record as it arrived: topic, position, the `chat.event` header, value.
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub event_header: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    /// The record's timestamp (Unix ms) if it is a `chat.sessions` record
    /// from before the gateway started; `None` otherwise.
    pub replayed_at_ms: Option<i64>,
}

impl Inbound {
    /// Parses one record of the topics the gateway reads.
    pub fn parse(raw: Raw<'_>, topics: &Topics) -> Result<Self, ParseError> {
        if raw.topic == topics.typing {
            let payload = raw.payload.ok_or(ParseError::NoValue)?;
            let typed: UserTyped = serde_json::from_slice(payload).map_err(ParseError::Typing)?;
            return Ok(Inbound::Typing {
                conversation_id: typed.conversation_id,
                user_id: typed.user_id,
            });
        }
        if raw.topic == topics.sessions {
            let payload = raw.payload.ok_or(ParseError::NoValue)?;
            let ended: SessionEnded =
                serde_json::from_slice(payload).map_err(ParseError::Session)?;
            return Ok(Inbound::SessionEnded {
                user_id: ended.user_id,
                sid: ended.sid,
                replayed_at_ms: raw.replayed_at_ms,
            });
        }
        if raw.topic != topics.messages {
            return Err(ParseError::Topic(raw.topic.to_owned()));
        }
        let at = Position {
            partition: raw.partition,
            seq: raw.offset,
        };
        Ok(match LogEvent::decode(raw.event_header, raw.payload)? {
            LogEvent::Message(message) => Inbound::Posted { at, message },
            LogEvent::ParticipantsAdded(e) => Inbound::Joined {
                at,
                conversation_id: e.conversation_id,
                user_ids: e.user_ids,
                created: e.created,
                version: e.version,
            },
            LogEvent::ParticipantRemoved(e) => Inbound::Left {
                at,
                conversation_id: e.conversation_id,
                user_id: e.user_id,
                version: e.version,
            },
            LogEvent::ConversationRenamed(e) => Inbound::Renamed {
                at,
                conversation_id: e.conversation_id,
                name: e.name,
            },
        })
    }

    /// Where it is in the log (`None` for typing, which is not).
    pub fn position(&self) -> Option<Position> {
        match self {
            Inbound::Posted { at, .. }
            | Inbound::Joined { at, .. }
            | Inbound::Left { at, .. }
            | Inbound::Renamed { at, .. } => Some(*at),
            Inbound::Typing { .. } | Inbound::SessionEnded { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use actors_common::log::{ConversationRenamed, ParticipantRemoved, ParticipantsAdded};
    use uuid::Uuid;

    use super::*;

    fn raw<'a>(topic: &'a str, header: Option<&'a [u8]>, payload: &'a [u8]) -> Raw<'a> {
        Raw {
            topic,
            partition: 2,
            offset: 17,
            event_header: header,
            payload: Some(payload),
            replayed_at_ms: None,
        }
    }

    fn ids() -> (Topics, ConversationId, UserId) {
        (
            Topics::with_prefix("t."),
            ConversationId::new_v7(),
            UserId::new_random(),
        )
    }

    const AT: Position = Position {
        partition: 2,
        seq: 17,
    };

    #[test]
    fn a_message_record_is_posted_at_its_offset() {
        let (t, c, u) = ids();
        let m = MessagePosted::new(c, u, "hi".into(), Some(Uuid::new_v4()), 3);
        let json = LogEvent::Message(m.clone()).to_json();
        let parsed = Inbound::parse(raw(&t.messages, None, &json), &t).unwrap();
        assert_eq!(parsed, Inbound::Posted { at: AT, message: m });
        assert_eq!(parsed.position(), Some(AT));
    }

    #[test]
    fn membership_and_rename_records_are_their_events() {
        let (t, c, u) = ids();
        let joined = LogEvent::ParticipantsAdded(ParticipantsAdded {
            conversation_id: c,
            user_ids: vec![u],
            joined_at: actors_common::time::now_millis(),
            version: 1,
            created: true,
        });
        let left = LogEvent::ParticipantRemoved(ParticipantRemoved {
            conversation_id: c,
            user_id: u,
            version: 2,
        });
        let renamed = LogEvent::ConversationRenamed(ConversationRenamed {
            conversation_id: c,
            name: "n".into(),
        });
        let parse = |e: &LogEvent| {
            let json = e.to_json();
            Inbound::parse(
                raw(&t.messages, Some(e.kind().as_str().as_bytes()), &json),
                &t,
            )
            .unwrap()
        };
        assert_eq!(
            parse(&joined),
            Inbound::Joined {
                at: AT,
                conversation_id: c,
                user_ids: vec![u],
                created: true,
                version: 1
            }
        );
        assert_eq!(
            parse(&left),
            Inbound::Left {
                at: AT,
                conversation_id: c,
                user_id: u,
                version: 2
            }
        );
        assert_eq!(
            parse(&renamed),
            Inbound::Renamed {
                at: AT,
                conversation_id: c,
                name: "n".into()
            }
        );
    }

    #[test]
    fn a_typing_record_is_typing_and_has_no_place_in_the_log() {
        let (t, c, u) = ids();
        let json = serde_json::to_vec(&UserTyped {
            conversation_id: c,
            user_id: u,
        })
        .unwrap();
        let parsed = Inbound::parse(raw(&t.typing, None, &json), &t).unwrap();
        assert_eq!(
            parsed,
            Inbound::Typing {
                conversation_id: c,
                user_id: u
            }
        );
        assert_eq!(parsed.position(), None);
    }

    #[test]
    fn unreadable_records_and_other_topics_are_errors() {
        let (t, ..) = ids();
        assert!(matches!(
            Inbound::parse(raw(&t.messages, None, b"not json"), &t),
            Err(ParseError::Log(_))
        ));
        assert!(matches!(
            Inbound::parse(raw(&t.messages, Some(b"shout"), b"{}"), &t),
            Err(ParseError::Log(_))
        ));
        assert!(matches!(
            Inbound::parse(raw(&t.typing, None, b"{}"), &t),
            Err(ParseError::Typing(_))
        ));
        assert!(matches!(
            Inbound::parse(raw("elsewhere", None, b"{}"), &t),
            Err(ParseError::Topic(_))
        ));
    }
}
