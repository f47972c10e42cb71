//! `Deliver`: a conversation's frame, to this thread's members of it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use actors_common::{ConversationId, UserId};
use bytestring::ByteString;

use super::{Hub, THREAD};
use crate::actors::conversation::Traffic;
use crate::inspect::stats::Handled;
use crate::inspect::trace::{with_trace, Trace};

/// Write `frame` to every member of `conversation` on this thread (but
/// those of `except`: a typist does not hear their own typing).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    pub conversation: ConversationId,
    /// The sending Conversation actor's (see `hub::Members`).
    pub generation: u64,
    pub frame: ByteString,
    /// When the Kafka consumer received the record, for `message` frames.
    pub received: Option<Instant>,
    pub except: Option<UserId>,
    /// The conversation's counters.
    pub traffic: Arc<Traffic>,
    /// Its hops so far, for a traced message: this Hub adds its own and
    /// writes them into the frame.
    pub trace: Option<Box<Trace>>,
}

impl Handler<Deliver> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) {
        let _timer = self.metrics.actors.time(Handled::HubDeliver);
        self.depth.handled();
        let tracer = &self.metrics.tracer;
        let trace = msg.trace.map(|mut t| {
            t.hops.push(tracer.hop("hub", format!("hub {}", self.id)));
            tracer.keep(t.id, &t.hops);
            t
        });
        let payload = match &trace {
            Some(t) => bytes::Bytes::from(with_trace(&msg.frame, t)),
            None => msg.frame.into_bytes(),
        };
        let mut slow = Vec::new();
        let mut delivered = 0u64;
        THREAD.with(|t| {
            let t = t.borrow();
            let Some(members) = t
                .members
                .get(&msg.conversation)
                .and_then(|m| m.of(msg.generation))
            else {
                return; // no members here, or a replaced actor's frame
            };
            for conn in members.values() {
                if msg.except == Some(conn.user) || conn.is_closing() {
                    continue;
                }
                match conn.text(payload.clone()) {
                    Ok(()) => delivered += 1,
                    Err(_) => slow.push(conn.clone()),
                }
            }
        });
        for conn in &slow {
            self.slow_consumer(conn);
        }
        msg.traffic
            .slow_consumers
            .fetch_add(slow.len() as u64, Ordering::Relaxed);
        let m = &self.metrics;
        m.frames_out.inc_by(delivered);
        if let Some(received) = msg.received {
            m.deliveries.inc_by(delivered);
            msg.traffic
                .deliveries
                .fetch_add(delivered, Ordering::Relaxed);
            // One observation per delivery: the same time for every member
            // of this thread (they were written one after another, now).
            let seconds = received.elapsed().as_secs_f64();
            for _ in 0..delivered {
                m.delivery_seconds.observe(seconds);
            }
        }
    }
}
