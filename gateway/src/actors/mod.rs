//! The actor system. Read it in this order:
//!
//! | actor | one per | does |
//! |---|---|---|
//! | [`session::WsSession`] | WebSocket connection | parses frames, validates, rate-limits, produces to Kafka, acks after the delivery report, writes frames to its socket |
//! | [`directory::Directory`] | process | the registry: conversation id → [`conversation::Conversation`], user id → sessions; applies participant events by version |
//! | [`conversation::Conversation`] | conversation with a member online here | the group registry of its online sessions; serialises nothing, hands the same bytes to every member |
//! | [`kafka_consumer::KafkaConsumer`] | process | the only door from Kafka: a group id of its own, so every gateway sees every record |
//!
//! Each folder holds the actor in `mod.rs` and one file per message it
//! handles, named after the message. [`mailbox`] keeps the bounded
//! mailboxes bounded and in order.

pub mod conversation;
pub mod directory;
pub mod kafka_consumer;
pub mod mailbox;
pub mod session;

/// Identifies a session within this process.
pub type SessionId = u64;
