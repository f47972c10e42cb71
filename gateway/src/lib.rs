//! gateway: WebSocket delivery with actor fan-out through Kafka.
//!
//! Every connection is a [`actors::session::WsSession`] actor; every
//! conversation with a member online here is a [`actors::conversation::Conversation`]
//! actor; a [`actors::directory::Directory`] maps ids to both; a
//! [`actors::kafka_consumer::KafkaConsumer`] with a group id of its own
//! feeds them every record, so any number of gateways fan out without
//! sticky sessions. `docs/ARCHITECTURE.md` traces a send, a delivery and a
//! membership change file by file.
//!
//! | module | holds |
//! |---|---|
//! | [`settings`] | flags and environment variables |
//! | [`startup`] | `Application`: arbiters, actors, HTTP server, graceful shutdown |
//! | [`routes::ws`] | `GET /ws`: token, origin, upgrade |
//! | [`actors`] | the actor system (one file per message) |
//! | [`kafka`] | the producer and the fan-out consumer |
//! | [`message_store`] | conversation ids at connect, with a service token |
//! | [`metrics`] | Prometheus metrics |

pub mod actors;
pub mod kafka;
pub mod message_store;
pub mod metrics;
pub mod routes;
pub mod settings;
pub mod startup;
