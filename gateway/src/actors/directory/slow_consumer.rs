//! `SlowConsumer`: a Conversation could not hand a session a frame.

use actix::prelude::*;

use super::Directory;
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// A session's queue was full: close it with 1008 rather than slow anyone.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct SlowConsumer {
    pub session_id: SessionId,
}

impl Handler<SlowConsumer> for Directory {
    type Result = ();

    fn handle(&mut self, msg: SlowConsumer, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::DirectorySlowConsumer);
        let Some(session) = self.sessions.get(&msg.session_id) else {
            return;
        };
        let conversations: Vec<_> = session.conversations.iter().copied().collect();
        for conversation in conversations {
            self.leave(msg.session_id, conversation, ctx);
        }
    }
}
