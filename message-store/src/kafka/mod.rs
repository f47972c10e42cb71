//! Kafka: the ingest consumer of `chat.messages` and the outbox publisher
//! of participant events.

pub mod consumer;
pub mod publisher;
