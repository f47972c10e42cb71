//! bff: the browser's only HTTP peer.
//!
//! | module | holds |
//! |---|---|
//! | [`settings`] | flags and environment variables |
//! | [`startup`] | `Application`: migrations, pool, listener, routes |
//! | [`client`] | `ServiceClient`: the one layer that calls user-store and message-store, minting a token per call for the right audience |
//! | [`auth`] | password hashing (Argon2id), sessions (cookie + hashed id), login rate limits |
//! | [`routes`] | `/api/auth/*`, `/api/me`, `/api/ws-token`, `/api/users*`, `/api/conversations*`, the UI |
//! | [`db`] | accounts and sessions tables |
//!
//! No handler builds an `Authorization` header: the browser holds a session
//! cookie, and [`client::ServiceClient`] turns it into per-call tokens.

pub mod auth;
pub mod client;
pub mod db;
pub mod routes;
pub mod settings;
pub mod startup;

/// The embedded migrations, run at start.
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");
