//! The database: `schema` (diesel's view of the migrations), `models` (row
//! types) and `users` (the queries, each taking a connection).

pub mod models;
pub mod schema;
pub mod users;
