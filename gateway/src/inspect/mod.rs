//! The inspector: the gateway's actors made visible to people who study them.
//!
//! | module | holds |
//! |---|---|
//! | [`stats`] | per actor kind and message type: messages handled, handling time; actors alive |
//! | [`trace`] | traced messages: a hop at every step, on every gateway, in the frames and kept for the page |
//! | [`snapshot`] | what the page shows at one moment (the Directory and the Hubs build it) |
//! | [`routes`] | `/inspect` and its API, for operators only |
//!
//! `docs/STUDY.md` walks through it with the system running.

pub mod routes;
pub mod snapshot;
pub mod stats;
pub mod trace;

pub use snapshot::Snapshot;
