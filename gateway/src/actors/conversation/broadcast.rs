//! `Broadcast`: a frame for every member (a message, a membership or
//! rename notice, someone typing).

use std::time::Instant;

use actix::prelude::*;
use actors_common::UserId;
use bytestring::ByteString;

use super::Conversation;
use crate::actors::hub;
use crate::inspect::stats::Handled;
use crate::inspect::trace::Trace;

/// Hand `frame` to every member session, but those of `except` (a typist
/// does not hear their own typing). The same bytes for everyone.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Broadcast {
    pub frame: ByteString,
    /// When the Kafka consumer received the record, for `message` frames
    /// (the gateway's own share of their latency is measured from it).
    pub received: Option<Instant>,
    pub except: Option<UserId>,
    /// Its hops so far, for a traced message.
    pub trace: Option<Box<Trace>>,
}

impl Handler<Broadcast> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, ctx: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::ConversationBroadcast);
        self.depth.handled();
        let trace = msg.trace.map(|mut t| {
            let me = format!("conversation {}", self.id);
            t.hops.push(self.metrics.tracer.hop("conversation", me));
            t
        });
        let deliver = hub::Deliver {
            conversation: self.id,
            generation: self.generation,
            frame: msg.frame,
            received: msg.received,
            except: msg.except,
            traffic: self.traffic.clone(),
            trace,
        };
        self.broadcast(deliver, ctx);
    }
}
