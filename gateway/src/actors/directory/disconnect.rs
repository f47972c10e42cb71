//! `Disconnect`: a session ended.

use actix::prelude::*;

use super::Directory;
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// Forget a session and take it out of its conversations.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub session_id: SessionId,
}

impl Handler<Disconnect> for Directory {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::DirectoryDisconnect);
        let Some(session) = self.sessions.remove(&msg.session_id) else {
            return;
        };
        for conversation in session.conversations {
            self.drop_member(msg.session_id, session.hub, conversation, ctx);
        }
        if let Some(user) = self.users.get_mut(&session.user) {
            user.sessions.retain(|s| *s != msg.session_id);
            if user.sessions.is_empty() {
                self.users.remove(&session.user);
                self.roster.offline(session.user);
            }
        }
    }
}
