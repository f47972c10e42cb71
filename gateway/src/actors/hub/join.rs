//! `Join`, `Leave`: a session of this thread enters or leaves a
//! conversation (sent by the Conversation, in line with its frames).

use actix::prelude::*;
use actors_common::ConversationId;

use super::{Hub, THREAD};
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// This thread's session joins a conversation's local members.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Join {
    pub conversation: ConversationId,
    /// The sending Conversation actor's (see `hub::Members`).
    pub generation: u64,
    pub session_id: SessionId,
}

/// This thread's session leaves them.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Leave {
    pub conversation: ConversationId,
    pub generation: u64,
    pub session_id: SessionId,
}

impl Handler<Join> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Join, _: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::HubJoin);
        self.depth.handled();
        THREAD.with(|t| {
            let mut t = t.borrow_mut();
            let Some(conn) = t.sessions.get(&msg.session_id).cloned() else {
                return; // gone meanwhile
            };
            t.members.entry(msg.conversation).or_default().join(
                msg.generation,
                msg.session_id,
                conn,
            );
        });
    }
}

impl Handler<Leave> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::HubLeave);
        self.depth.handled();
        THREAD.with(|t| {
            let mut t = t.borrow_mut();
            if let Some(members) = t.members.get_mut(&msg.conversation) {
                if members.leave(msg.generation, msg.session_id) {
                    t.members.remove(&msg.conversation);
                }
            }
        });
    }
}
