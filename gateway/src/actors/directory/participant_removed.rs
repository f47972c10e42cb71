//! `ParticipantRemoved`: someone left or was removed (from
//! `chat.participants.removed`).

use actix::prelude::*;
use actors_common::frames::ServerFrame;
use actors_common::kafka;

use super::Directory;
use crate::actors::conversation::Announce;

/// The Kafka event, as it arrived.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ParticipantRemoved(pub kafka::ParticipantRemoved);

impl Handler<ParticipantRemoved> for Directory {
    type Result = ();

    fn handle(&mut self, ParticipantRemoved(event): ParticipantRemoved, ctx: &mut Context<Self>) {
        let (conversation, user) = (event.conversation_id, event.user_id);
        if !self.is_newer(conversation, user, event.version, false) {
            log::debug!(
                "directory: stale removal conversation_id={conversation} user_id={user} version={}",
                event.version
            );
            return;
        }
        // Announce first, so the removed user's sessions hear it too; the
        // Leave messages that follow stop their delivery at once.
        if let Some(addr) = self
            .conversations
            .get(&conversation)
            .map(|e| e.addr.clone())
        {
            let frame = ServerFrame::ParticipantRemoved {
                conversation_id: conversation,
                user_id: user,
            };
            self.forward(
                &addr,
                Announce {
                    frame: frame.to_json().into(),
                },
                ctx,
            );
        }
        for session_id in self.sessions_of(user) {
            self.leave(session_id, conversation, ctx);
            self.tell_session(session_id, conversation, false);
        }
    }
}
