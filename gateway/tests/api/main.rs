//! The gateway against the real broker, a real message-store and PostgreSQL,
//! driven by a Rust WebSocket client (awc).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod broker_down;
mod delivery;
mod handshake;
mod helpers;
mod inputs;
mod inspect;
mod membership;
mod order;
mod scale_out;
mod shutdown;
mod sign_out;
mod wire;
