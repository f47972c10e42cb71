//! The contract every service of the chat system shares, in code.
//!
//! Nothing here knows about actix or Kafka clients: these are the types and
//! rules that cross process boundaries, as `spec/PROTOCOL.md` defines them.
//! The `diesel` feature (the stores and the bff turn it on) makes the id
//! newtypes PostgreSQL `uuid` values, so models and queries are typed too.
//!
//! | module | holds |
//! |---|---|
//! | [`api`] | the HTTP APIs' request and response bodies, one definition for both ends |
//! | [`ids`] | `UserId`, `ConversationId`, `MessageId` newtypes (message ids are UUIDv7) |
//! | [`jwt`] | claims, minting and verification (HS256 only, audiences, issuers, leeway) |
//! | [`kafka`] | topic names, partition count, the ephemeral topics' payloads (clients are the `kafka-kit` crate's) |
//! | [`log`] | the records of `chat.messages` (messages, membership, renames) and the admission rule every reader applies |
//! | [`frames`] | WebSocket `ClientFrame` / `ServerFrame` and error codes |
//! | [`model`] | `Message`, as HTTP and WebSocket show it (with its `seq`) |
//! | [`error`] | the JSON error body `{"error":{"code","message"}}` |
//! | [`validation`] | field rules (usernames, passwords, names, message bodies) |
//! | [`time`] | RFC 3339 UTC timestamps with milliseconds |
//! | [`headers`] | header and WebSocket subprotocol names |

pub mod api;
pub mod error;
pub mod frames;
pub mod headers;
pub mod ids;
pub mod jwt;
pub mod kafka;
pub mod log;
pub mod model;
pub mod time;
pub mod validation;

pub use error::ErrorBody;
pub use ids::{ConversationId, MessageId, UserId};
pub use model::Message;
