//! The actor system. Read it in this order:
//!
//! | actor | one per | does |
//! |---|---|---|
//! | [`session::WsSession`] | WebSocket connection | reads its client's frames, validates, rate-limits, produces to Kafka, answers with the ledger's verdict |
//! | [`directory::Directory`] | process | the registry: conversation id → [`conversation::Conversation`], user id → sessions; applies membership events in log order |
//! | [`conversation::Conversation`] | conversation with a member online here | the group registry of its online sessions, by worker thread; serialises nothing, hands the same bytes to each [`hub::Hub`] with members |
//! | [`hub::Hub`] | HTTP worker thread | writes a conversation's frame to that thread's members' sockets; pings them, closes idle and slow ones |
//! | [`kafka_consumer::KafkaConsumer`] | process | the only door from Kafka: a group id of its own, so every gateway sees every record |
//!
//! Each folder holds the actor in `mod.rs` and one file per message it
//! handles, named after the message. [`mailbox`] keeps the bounded
//! mailboxes bounded and in order.

pub mod conversation;
pub mod directory;
pub mod hub;
pub mod kafka_consumer;
pub mod mailbox;
pub mod session;

/// Identifies a session within this process.
pub type SessionId = u64;
