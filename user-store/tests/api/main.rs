//! user-store's HTTP API against a real PostgreSQL database.

mod helpers;
mod users;
