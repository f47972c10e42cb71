//! The bff's browser-facing API, with a real user-store and real PostgreSQL.

mod accounts;
mod helpers;
