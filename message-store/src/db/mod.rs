//! The database: `schema` (diesel's view of the migrations), `models` (rows
//! and their wire shapes), and one module of queries per concern. Query
//! functions take a connection; transactions are explicit.

pub mod conversations;
pub mod messages;
pub mod models;
pub mod outbox;
pub mod schema;
