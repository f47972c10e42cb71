//! message-store: conversations, participants and message history on
//! PostgreSQL; persists `chat.messages`; publishes participant events.
//!
//! | module | holds |
//! |---|---|
//! | [`settings`] | flags and environment variables |
//! | [`startup`] | `Application`: migrations, pool, Kafka tasks, listener, routes |
//! | [`routes::conversations`] | list, ids, create, get, rename, participants |
//! | [`routes::messages`] | keyset history (`before` / `after`) |
//! | [`db`] | schema, rows, queries (membership changes write the outbox in the same transaction) |
//! | [`kafka::consumer`] | ingest: batches from `chat.messages` into PostgreSQL, offsets after commit |
//! | [`kafka::publisher`] | the outbox publisher: participant events to Kafka after their transaction |
//! | [`error`] | domain errors to HTTP |
//! | [`metrics`] | Prometheus counters and histograms |
//!
//! Every API route needs a bearer token with audience `chat-message-store`
//! from the bff or the gateway; the caller is the token's `sub`.

pub mod db;
pub mod error;
pub mod kafka;
pub mod metrics;
pub mod routes;
pub mod settings;
pub mod startup;

/// The embedded migrations, run at start.
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");
