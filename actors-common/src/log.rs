//! The conversation log: what `chat.messages` carries, and the one rule every
//! reader of it applies.
//!
//! Every record of a conversation goes to the same partition of
//! `chat.messages` ([`partition_of`]), so the partition's order is the
//! conversation's order and a record's offset is its `seq`. Membership
//! changes and renames travel in that same order, as records of their own
//! kind (the [`EVENT_HEADER`] header names it; a record without it is a
//! message). So "was the sender a member when this message was written?" and
//! "is this user still in the conversation?" have one answer, the log's, on
//! every gateway and in message-store alike.
//!
//! | record | value |
//! |---|---|
//! | `message` | [`MessagePosted`]: a [`Message`] without `seq` (the offset is its seq), plus `checked_seq` |
//! | `participants_added` | [`ParticipantsAdded`]: users joined (all founders, for a new conversation) |
//! | `participant_removed` | [`ParticipantRemoved`] |
//! | `conversation_renamed` | [`ConversationRenamed`] |
//!
//! ## Admission
//!
//! A gateway accepts a `send` from what it knows at that moment, and the
//! record lands in the log a little later; a removal may land in between, or
//! the same `client_id` may have landed before (a resend). So every reader
//! decides each message record again with [`admit`], from the log alone:
//!
//! 1. the sending gateway had applied the log only up to `checked_seq`; if
//!    that is more than [`WINDOW`] offsets behind, its view was too old to
//!    trust: **stale** (the sender is told to resend);
//! 2. the latest membership event for (conversation, sender) within the
//!    window decides: a removal → **not a participant**; an add, or none in
//!    the window, → the gateway's check stands.
//!
//! A record that passes both is *admissible*. It is a **duplicate** when an
//! earlier admissible record with the same conversation, sender and
//! `client_id` lies within the window; otherwise it is **accepted**: a new
//! message, delivered and stored. A run of resends each within the window
//! of the one before is one message, the run's first record; a resend is
//! answered with it.
//!
//! Every input is in the log, and nothing depends on an earlier verdict but
//! admissibility, which reaches back one window for its events: a reader
//! that has read the last two windows of a partition (gateways read that
//! much back when they start) decides every new record exactly as
//! message-store, which has read all of it. What one gateway acks, every
//! gateway delivers and history keeps; what it refuses, nobody sees.
//!
//! Membership events carry the conversation's membership `version`. An
//! outbox may send an event again (a retry after a lost broker ack, a crash
//! before its delete); a copy has the version of the original, and every
//! reader ignores an event whose version is not above the last it applied
//! for that (conversation, user), so a copy changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::Message;

/// The record header that names a record's kind.
pub const EVENT_HEADER: &str = "chat.event";

/// How many offsets of a partition the admission rule looks back: resends
/// within it are recognised, membership events within it decide. Every
/// reader must use the same number, so it is a constant of the protocol.
/// At 1,000 messages/s spread over six partitions it spans about two
/// minutes; at the rate people chat, days.
pub const WINDOW: i64 = 20_000;

/// The kind of a `chat.messages` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Message,
    ParticipantsAdded,
    ParticipantRemoved,
    ConversationRenamed,
}

impl EventKind {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::ParticipantsAdded => "participants_added",
            EventKind::ParticipantRemoved => "participant_removed",
            EventKind::ConversationRenamed => "conversation_renamed",
        }
    }

    /// The kind a header value names; a record without the header is a message.
    pub fn from_header(value: Option<&[u8]>) -> Option<Self> {
        match value {
            None | Some(b"message") => Some(EventKind::Message),
            Some(b"participants_added") => Some(EventKind::ParticipantsAdded),
            Some(b"participant_removed") => Some(EventKind::ParticipantRemoved),
            Some(b"conversation_renamed") => Some(EventKind::ConversationRenamed),
            Some(_) => None,
        }
    }
}

/// A message as the sending gateway writes it: everything but `seq`, which
/// is the record's offset, known only once the broker has stored it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePosted {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub body: String,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    pub client_id: Option<Uuid>,
    /// The offset of this conversation's partition up to which the sending
    /// gateway had applied membership when it accepted the send. (Records
    /// from before there was one are taken as checked at their own offset.)
    #[serde(default = "checked_by_an_older_gateway")]
    pub checked_seq: i64,
}

fn checked_by_an_older_gateway() -> i64 {
    i64::MAX
}

impl MessagePosted {
    /// A new message: a fresh UUIDv7 id, and `created_at` taken from that
    /// id's own millisecond, so id order and time order always agree.
    pub fn new(
        conversation_id: ConversationId,
        sender_id: UserId,
        body: String,
        client_id: Option<Uuid>,
        checked_seq: i64,
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
            checked_seq,
        }
    }

    /// The message as clients see it, once the log gave it `seq`.
    pub fn at(self, seq: i64) -> Message {
        Message {
            id: self.id,
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            body: self.body,
            created_at: self.created_at,
            client_id: self.client_id,
            seq,
        }
    }

    /// What identifies a resend of this message.
    pub fn resend_key(&self) -> Option<ResendKey> {
        self.client_id.map(|client_id| ResendKey {
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            client_id,
        })
    }
}

/// A message is the same message when these three are the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResendKey {
    pub conversation_id: ConversationId,
    pub sender_id: UserId,
    pub client_id: Uuid,
}

/// Users joined a conversation: every founder of a new one (`created`), or
/// one user added to a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantsAdded {
    pub conversation_id: ConversationId,
    pub user_ids: Vec<UserId>,
    #[serde(with = "crate::time::rfc3339_millis")]
    pub joined_at: DateTime<Utc>,
    /// The conversation's membership version after this change.
    pub version: i64,
    /// True for the founders of a conversation that was just created.
    pub created: bool,
}

/// A user left a group, or was removed from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantRemoved {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    /// The conversation's membership version after this change.
    pub version: i64,
}

/// A group got a new name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRenamed {
    pub conversation_id: ConversationId,
    pub name: String,
}

/// One record of `chat.messages`, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    Message(MessagePosted),
    ParticipantsAdded(ParticipantsAdded),
    ParticipantRemoved(ParticipantRemoved),
    ConversationRenamed(ConversationRenamed),
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown record kind {0:?}")]
    UnknownKind(String),
    #[error("record has no value")]
    NoValue,
    #[error("unreadable {kind} record: {source}")]
    Json {
        kind: &'static str,
        source: serde_json::Error,
    },
}

impl LogEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            LogEvent::Message(_) => EventKind::Message,
            LogEvent::ParticipantsAdded(_) => EventKind::ParticipantsAdded,
            LogEvent::ParticipantRemoved(_) => EventKind::ParticipantRemoved,
            LogEvent::ConversationRenamed(_) => EventKind::ConversationRenamed,
        }
    }

    /// The conversation the record belongs to (its key and partition).
    pub fn conversation_id(&self) -> ConversationId {
        match self {
            LogEvent::Message(m) => m.conversation_id,
            LogEvent::ParticipantsAdded(e) => e.conversation_id,
            LogEvent::ParticipantRemoved(e) => e.conversation_id,
            LogEvent::ConversationRenamed(e) => e.conversation_id,
        }
    }

    /// The record's value. These types hold strings, UUIDs, numbers and
    /// timestamps only: encoding cannot fail.
    pub fn to_json(&self) -> Vec<u8> {
        let encoded = match self {
            LogEvent::Message(m) => serde_json::to_vec(m),
            LogEvent::ParticipantsAdded(e) => serde_json::to_vec(e),
            LogEvent::ParticipantRemoved(e) => serde_json::to_vec(e),
            LogEvent::ConversationRenamed(e) => serde_json::to_vec(e),
        };
        encoded.unwrap_or_else(|e| unreachable!("log event encoding: {e}"))
    }

    /// Reads a record from its [`EVENT_HEADER`] value and its payload.
    pub fn decode(header: Option<&[u8]>, payload: Option<&[u8]>) -> Result<Self, DecodeError> {
        let kind = EventKind::from_header(header).ok_or_else(|| {
            DecodeError::UnknownKind(String::from_utf8_lossy(header.unwrap_or_default()).into())
        })?;
        let payload = payload.ok_or(DecodeError::NoValue)?;
        let json = |source| DecodeError::Json {
            kind: kind.as_str(),
            source,
        };
        Ok(match kind {
            EventKind::Message => LogEvent::Message(serde_json::from_slice(payload).map_err(json)?),
            EventKind::ParticipantsAdded => {
                LogEvent::ParticipantsAdded(serde_json::from_slice(payload).map_err(json)?)
            }
            EventKind::ParticipantRemoved => {
                LogEvent::ParticipantRemoved(serde_json::from_slice(payload).map_err(json)?)
            }
            EventKind::ConversationRenamed => {
                LogEvent::ConversationRenamed(serde_json::from_slice(payload).map_err(json)?)
            }
        })
    }
}

/// Kafka's own key hash (murmur2, as the Java client and librdkafka's
/// `murmur2` partitioner compute it).
pub fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() == 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// The partition of `chat.messages` that holds a conversation: the one
/// Kafka's default partitioner picks for its key, so any producer that keys
/// by conversation id lands there too. Producers here name it explicitly,
/// because a gateway needs it before it sends (see `checked_seq`).
pub fn partition_of(conversation: ConversationId, partitions: i32) -> i32 {
    let n = partitions.max(1) as u32;
    ((murmur2(conversation.to_string().as_bytes()) & 0x7fff_ffff) % n) as i32
}

/// What a reader does with a message record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A new message: deliver it, store it, ack it with this record's seq.
    Accepted,
    /// A resend: the admissible record at `previous` (within the window)
    /// has the same resend key. Nothing is delivered or stored again; the
    /// resend is answered with the message its run of resends began with.
    Duplicate { previous: i64 },
    /// The sending gateway's view of membership was more than [`WINDOW`]
    /// offsets old: nobody sees it, the sender is asked to resend.
    Stale,
    /// The sender was no longer a participant at this point of the log.
    NotParticipant,
}

impl Admission {
    /// Passed the membership checks (accepted, or a resend of a message).
    pub fn admissible(self) -> bool {
        matches!(self, Admission::Accepted | Admission::Duplicate { .. })
    }
}

/// The admission rule (see the module docs) for the message record at
/// `seq`, given:
/// - `checked_seq` from the record;
/// - `last_event`: the latest membership event for (conversation, sender)
///   before `seq` the reader knows, as (its seq, whether it added);
/// - `previous`: the seq of the latest earlier *admissible* record with the
///   same [`ResendKey`] the reader knows.
///
/// Facts older than the window are ignored here, so a reader that
/// remembers more than the window decides the same as one that does not.
pub fn admit(
    seq: i64,
    checked_seq: i64,
    last_event: Option<(i64, bool)>,
    previous: Option<i64>,
) -> Admission {
    let in_window = |s: i64| s < seq && s >= seq - WINDOW;
    if seq.saturating_sub(checked_seq) > WINDOW {
        return Admission::Stale;
    }
    if let Some((_, false)) = last_event.filter(|&(s, _)| in_window(s)) {
        return Admission::NotParticipant;
    }
    match previous.filter(|&s| in_window(s)) {
        Some(previous) => Admission::Duplicate { previous },
        None => Admission::Accepted,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CONV: &str = "0192f0c1-7b7e-7cc0-8f00-3a1d2b4c5d6e";
    const USER: &str = "5f0c7a0e-4b7c-4c1e-9a8e-2f1d3c4b5a69";

    #[test]
    fn a_record_without_the_header_is_a_message() {
        let value = json!({"id":"0192f0c2-0000-7000-8000-000000000001","conversation_id":CONV,
            "sender_id":USER,"body":"hi","created_at":"2026-11-27T10:00:00.123Z",
            "client_id":null,"checked_seq":41});
        let bytes = serde_json::to_vec(&value).unwrap();
        let LogEvent::Message(m) = LogEvent::decode(None, Some(&bytes)).unwrap() else {
            panic!("not a message");
        };
        assert_eq!(m.checked_seq, 41);
        let message = m.at(42);
        assert_eq!(message.seq, 42);
        assert_eq!(serde_json::to_value(&message).unwrap()["seq"], json!(42));
    }

    #[test]
    fn every_kind_round_trips_through_header_and_value() {
        let conversation_id: ConversationId = CONV.parse().unwrap();
        let user_id: UserId = USER.parse().unwrap();
        let events = [
            LogEvent::Message(MessagePosted::new(
                conversation_id,
                user_id,
                "hello".into(),
                Some(Uuid::new_v4()),
                7,
            )),
            LogEvent::ParticipantsAdded(ParticipantsAdded {
                conversation_id,
                user_ids: vec![user_id],
                joined_at: crate::time::now_millis(),
                version: 1,
                created: true,
            }),
            LogEvent::ParticipantRemoved(ParticipantRemoved {
                conversation_id,
                user_id,
                version: 2,
            }),
            LogEvent::ConversationRenamed(ConversationRenamed {
                conversation_id,
                name: "new name".into(),
            }),
        ];
        for event in events {
            let header = event.kind().as_str().as_bytes();
            let decoded = LogEvent::decode(Some(header), Some(&event.to_json())).unwrap();
            assert_eq!(decoded, event);
            assert_eq!(decoded.conversation_id(), conversation_id);
        }
    }

    #[test]
    fn unknown_kinds_and_bad_values_are_errors() {
        assert!(matches!(
            LogEvent::decode(Some(b"shout"), Some(b"{}")),
            Err(DecodeError::UnknownKind(k)) if k == "shout"
        ));
        assert!(matches!(
            LogEvent::decode(None, None),
            Err(DecodeError::NoValue)
        ));
        assert!(matches!(
            LogEvent::decode(Some(b"participant_removed"), Some(b"{\"x\":1}")),
            Err(DecodeError::Json {
                kind: "participant_removed",
                ..
            })
        ));
    }

    #[test]
    fn murmur2_matches_kafkas_reference_values() {
        // From Kafka's own UtilsTest (Java's murmur2, as a signed int).
        let cases: [(&str, i32); 4] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()) as i32, expected, "{input}");
        }
    }

    #[test]
    fn a_conversation_always_has_the_same_partition() {
        let c = ConversationId::new_v7();
        let p = partition_of(c, 6);
        assert!((0..6).contains(&p));
        assert_eq!(partition_of(c, 6), p);
        assert_eq!(partition_of(c, 1), 0);
    }

    #[test]
    fn a_resend_within_the_window_of_the_previous_one_is_a_duplicate() {
        assert_eq!(
            admit(100, 90, None, Some(95)),
            Admission::Duplicate { previous: 95 }
        );
        // Outside the window it is a new message.
        assert_eq!(
            admit(WINDOW + 200, WINDOW + 190, None, Some(100)),
            Admission::Accepted
        );
    }

    #[test]
    fn the_latest_membership_event_in_the_window_decides() {
        assert_eq!(
            admit(100, 90, Some((95, false)), None),
            Admission::NotParticipant
        );
        assert_eq!(admit(100, 90, Some((95, true)), None), Admission::Accepted);
        assert_eq!(admit(100, 99, None, None), Admission::Accepted);
        // A resend from a sender removed since is refused too.
        assert_eq!(
            admit(100, 90, Some((97, false)), Some(95)),
            Admission::NotParticipant
        );
        // A removal older than the window is not known to every reader.
        assert_eq!(
            admit(WINDOW + 200, WINDOW + 190, Some((100, false)), None),
            Admission::Accepted
        );
    }

    #[test]
    fn a_record_of_an_older_gateway_counts_as_checked_where_it_is() {
        let value = json!({"id":"0192f0c2-0000-7000-8000-000000000001","conversation_id":CONV,
            "sender_id":USER,"body":"hi","created_at":"2026-11-27T10:00:00.123Z","client_id":null});
        let LogEvent::Message(m) =
            LogEvent::decode(None, Some(&serde_json::to_vec(&value).unwrap())).unwrap()
        else {
            panic!("not a message");
        };
        assert_eq!(admit(5, m.checked_seq, None, None), Admission::Accepted);
    }

    #[test]
    fn a_gateway_too_far_behind_is_stale() {
        assert_eq!(admit(WINDOW + 100, 99, None, None), Admission::Stale);
        assert_eq!(admit(WINDOW + 100, 100, None, None), Admission::Accepted);
        assert!(
            !Admission::Stale.admissible() && Admission::Duplicate { previous: 1 }.admissible()
        );
    }
}
