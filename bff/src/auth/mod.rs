//! Who the browser is: passwords, sessions, login rate limits.
//!
//! | module | holds |
//! |---|---|
//! | [`password`] | Argon2id hashing and verification, off the async workers |
//! | [`session`] | the session cookie, its hashed store, the `SessionUser` extractor, the WebSocket token |
//! | [`rate_limit`] | login attempts per username and per client address |

pub mod password;
pub mod rate_limit;
pub mod session;

pub use session::SessionUser;
