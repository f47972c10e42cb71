//! The bff's database: accounts and sessions.

pub mod accounts;
pub mod schema;
pub mod sessions;
