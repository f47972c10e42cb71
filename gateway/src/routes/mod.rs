//! HTTP routes of the gateway: `/ws` (the upgrade) and the health routes.

pub mod ws;
