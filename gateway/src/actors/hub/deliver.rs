//! `Deliver`: a conversation's frame, to this thread's members of it.

use std::time::Instant;

use actix::prelude::*;
use actors_common::{ConversationId, UserId};
use bytestring::ByteString;

use super::{Hub, THREAD};

/// Write `frame` to every member of `conversation` on this thread (but
/// those of `except`: a typist does not hear their own typing).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    pub conversation: ConversationId,
    pub frame: ByteString,
    /// When the Kafka consumer received the record, for `message` frames.
    pub received: Option<Instant>,
    pub except: Option<UserId>,
}

impl Handler<Deliver> for Hub {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) {
        self.depth.handled();
        let payload = msg.frame.into_bytes();
        let mut slow = Vec::new();
        let mut delivered = 0u64;
        THREAD.with(|t| {
            let t = t.borrow();
            let Some(members) = t.members.get(&msg.conversation) else {
                return;
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
        let m = &self.metrics;
        m.frames_out.inc_by(delivered);
        if let Some(received) = msg.received {
            m.deliveries.inc_by(delivered);
            // One observation per delivery: the same time for every member
            // of this thread (they were written one after another, now).
            let seconds = received.elapsed().as_secs_f64();
            for _ in 0..delivered {
                m.delivery_seconds.observe(seconds);
            }
        }
    }
}
