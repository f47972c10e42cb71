//! `Join`: a session becomes a member.

use actix::prelude::*;

use super::{Conversation, OnHub};
use crate::actors::hub::{self, HubHandle};
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// Add this session (held by `hub`'s thread) to the members.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Join {
    pub session_id: SessionId,
    pub hub: HubHandle,
}

impl Handler<Join> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::ConversationJoin);
        self.depth.handled();
        let hub_id = msg.hub.id;
        self.hubs
            .entry(hub_id)
            .or_insert(OnHub {
                hub: msg.hub,
                sessions: 0,
            })
            .sessions += 1;
        let join = hub::Join {
            conversation: self.id,
            generation: self.generation,
            session_id: msg.session_id,
        };
        self.send_to_hub(hub_id, join, ctx);
    }
}
