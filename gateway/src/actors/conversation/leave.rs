//! `Leave`: a session stops being a member.

use actix::prelude::*;

use super::Conversation;
use crate::actors::hub;
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// Remove this session (held by the thread of Hub `hub_id`) from the members.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Leave {
    pub session_id: SessionId,
    pub hub_id: usize,
}

impl Handler<Leave> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::ConversationLeave);
        self.depth.handled();
        let leave = hub::Leave {
            conversation: self.id,
            generation: self.generation,
            session_id: msg.session_id,
        };
        self.send_to_hub(msg.hub_id, leave, ctx);
        if let Some(on) = self.hubs.get_mut(&msg.hub_id) {
            on.sessions = on.sessions.saturating_sub(1);
            if on.sessions == 0 {
                self.hubs.remove(&msg.hub_id);
            }
        }
    }
}
