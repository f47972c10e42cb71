//! message-store against real PostgreSQL and the real broker.

mod conversations;
mod helpers;
mod history;
mod ingest;
mod outbox;
