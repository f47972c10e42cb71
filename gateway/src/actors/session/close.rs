//! `Close`: the Directory ends this session.

use actix::prelude::*;
use actix_web_actors::ws;

use super::WsSession;

/// Close the socket with this code: 1008 for a slow consumer, 1001 at shutdown.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Close {
    pub code: ws::CloseCode,
    pub reason: &'static str,
}

impl Handler<Close> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut ws::WebsocketContext<Self>) {
        log::info!(
            "session: session_id={} user_id={} closed: {}",
            self.id,
            self.user,
            msg.reason
        );
        self.close(msg.code, msg.reason, ctx);
    }
}
