//! user-store's HTTP API against a real PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod helpers;
mod schema;
mod users;
