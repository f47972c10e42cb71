//! The gateway against the real broker, a real message-store and PostgreSQL,
//! driven by a Rust WebSocket client (awc).

mod delivery;
mod handshake;
mod helpers;
mod inputs;
mod membership;
mod shutdown;
