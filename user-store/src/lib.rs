//! user-store: chat user profiles over HTTP, on PostgreSQL.
//!
//! | module | holds |
//! |---|---|
//! | [`settings`] | flags and environment variables |
//! | [`startup`] | `Application`: migrations, pool, listener, routes |
//! | [`routes::users`] | `POST /users`, `GET /users/{id}`, `GET /users?q=…` / `?ids=…` |
//! | [`db`] | schema, row types and the queries |
//!
//! Every route but the health ones needs a bearer token with audience
//! `chat-user-store` from the bff (`iss=chat-bff`).

pub mod db;
pub mod routes;
pub mod settings;
pub mod startup;

/// The embedded migrations, run at start.
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");
