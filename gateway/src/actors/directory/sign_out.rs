//! Signing out: a browser session ended (`chat.sessions`), so every socket
//! opened with its tokens closes with 1008 "signed out", on every gateway.
//!
//! The Directory knows each session's `sid` (a hash of it: 8 bytes per
//! connection) and remembers ended ones for as long as a token minted
//! before the logout could still be presented, so a socket that opens just
//! after the event (with a token taken just before) is closed as it
//! registers.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use actors_common::kafka::SESSION_END_MEMORY as REMEMBER;
use actors_common::UserId;

use super::Directory;
use crate::actors::hub;
use crate::actors::SessionId;

/// The close a signed-out session gets (the UI shows "signed out").
pub const SIGNED_OUT: (u16, &str) = (1008, "signed out");

/// A session's `sid`, as the Directory keeps it.
pub fn sid_hash(sid: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sid.hash(&mut h);
    h.finish()
}

impl Directory {
    /// `user`'s session `sid` ended `age` ago: close its sockets here, and
    /// remember it until no token of it can open one (a gateway that
    /// starts reads the ends of the last [`REMEMBER`] again, so `age` can
    /// be most of it).
    pub(super) fn session_ended(&mut self, user: UserId, sid: &str, age: Duration) {
        let sid = sid_hash(sid);
        let now = Instant::now();
        self.ended
            .retain(|_, at| now.duration_since(*at) < REMEMBER);
        if age < REMEMBER {
            self.ended
                .insert((user, sid), now.checked_sub(age).unwrap_or(now));
        }
        let closing: Vec<SessionId> = self
            .sessions_of(user)
            .into_iter()
            .filter(|s| self.sessions.get(s).is_some_and(|e| e.sid == Some(sid)))
            .collect();
        for session in closing {
            self.sign_out(session);
        }
    }

    /// Whether `user`'s session `sid` ended a moment ago.
    pub(super) fn has_ended(&self, user: UserId, sid: u64) -> bool {
        self.ended
            .get(&(user, sid))
            .is_some_and(|at| at.elapsed() < REMEMBER)
    }

    /// Closes one session with [`SIGNED_OUT`] (through its thread's Hub, at
    /// once: see `hub::Close`); it unregisters as it stops.
    pub(super) fn sign_out(&self, session: SessionId) {
        let Some(hub) = self
            .sessions
            .get(&session)
            .and_then(|e| self.hubs.get(&e.hub))
        else {
            return;
        };
        log::info!("directory: session_id={session} signed out");
        hub.addr.do_send(hub::Close {
            session_id: session,
            code: SIGNED_OUT.0,
            reason: SIGNED_OUT.1,
        });
    }
}
