//! `Stop`: the Directory retires this Conversation (its last member left).

use actix::prelude::*;

use super::Conversation;

/// Stop the actor. Sent after every other message the Directory had for it.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Conversation {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
