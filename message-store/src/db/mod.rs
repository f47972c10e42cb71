//! The database: `schema` (diesel's view of the migrations), `models` (rows
//! and their wire shapes), and one module of queries per concern. Query
//! functions take a connection; transactions are explicit.
//!
//! | module | holds |
//! |---|---|
//! | [`conversations`] | conversations and membership changes (each writes its log event to the outbox) |
//! | [`messages`] | history pages in `seq` order, and who may see from where |
//! | [`ingest`] | a batch of log records applied in log order, with the partitions' offsets |
//! | [`outbox`] | log events waiting to be published |
//! | [`explain`] | `EXPLAIN` of a built query, for plan tests |

pub mod conversations;
pub mod explain;
pub mod ingest;
pub mod messages;
pub mod models;
pub mod outbox;
pub mod schema;
