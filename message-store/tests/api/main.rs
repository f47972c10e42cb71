//! message-store against real PostgreSQL and the real broker.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod conversations;
mod helpers;
mod history;
mod ingest;
mod outbox;
mod schema;
