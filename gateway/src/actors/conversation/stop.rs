//! `Stop`: the Directory retires this Conversation (its last member left).

use actix::prelude::*;

use super::Conversation;
use crate::inspect::stats::Handled;

/// Stop the actor. It comes after every other message the Directory sent
/// it, in line (`actors::mailbox`), so nothing is dropped.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Conversation {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::ConversationStop);
        self.depth.handled();
        ctx.stop();
    }
}
