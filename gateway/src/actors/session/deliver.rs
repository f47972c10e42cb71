//! `Deliver`: a ready-made frame for the socket.

use std::time::Instant;

use actix::prelude::*;
use actix_web_actors::ws;
use bytestring::ByteString;

use super::WsSession;

/// A frame to write as it is. The same bytes go to every member of a
/// conversation (`ByteString` clones share one buffer).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    pub frame: ByteString,
    /// When the Kafka consumer received the record, for `message` frames.
    pub received: Option<Instant>,
}

impl Handler<Deliver> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut ws::WebsocketContext<Self>) {
        if self.closing {
            return;
        }
        ctx.text(msg.frame);
        let metrics = &self.config.metrics;
        metrics.frames_out.inc();
        if let Some(received) = msg.received {
            metrics.deliveries.inc();
            metrics
                .delivery_seconds
                .observe(received.elapsed().as_secs_f64());
        }
    }
}
