//! Header and WebSocket subprotocol names, in one place.

/// The WebSocket subprotocol every client offers and the server selects.
pub const WS_SUBPROTOCOL: &str = "chat.v1";
/// Prefix of the subprotocol entry that carries a token (`bearer.<JWT>`).
pub const WS_BEARER_PREFIX: &str = "bearer.";
/// Scheme of the `Authorization` header.
pub const BEARER_SCHEME: &str = "Bearer ";
/// The bff's session cookie.
pub const SESSION_COOKIE: &str = "chat_session";
