//! The bff's browser-facing API, with a real user-store and real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod accounts;
mod conversations;
mod helpers;
mod schema;
