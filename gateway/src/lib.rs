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
//! | [`ws`] | the WebSocket layer: the upgrade (token, origin), a connection's socket, reading frames |
//! | [`actors`] | the actor system (one file per message) |
//! | [`inbound`] | what a Kafka record is: parsed at the edge into one enum |
//! | [`ledger`] | the last admission window of the log: the verdict on every message record, waited for by the sessions that sent them |
//! | [`roster`] | who online here is in which conversation, as of which offset (read by sessions when they send) |
//! | [`kafka`] | the producer and the fan-out consumer |
//! | [`message_store`] | conversation ids at connect, with a service token |
//! | [`metrics`] | Prometheus metrics |
//! | [`inspect`] | the inspector: actor statistics, message traces, `/inspect` |
//! | [`users`] | per-user limits on this gateway: connections, send budget |
//! | [`sign_out`] | `POST /sessions/end`: a logout, written to `chat.sessions` for every gateway |

pub mod actors;
pub mod inbound;
pub mod inspect;
pub mod kafka;
pub mod ledger;
pub mod message_store;
pub mod metrics;
pub mod roster;
pub mod settings;
pub mod sign_out;
pub mod startup;
pub mod users;
pub mod ws;
