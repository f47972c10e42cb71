//! `ParticipantAdded`: someone joined a conversation (from
//! `chat.participants.created`).

use actix::prelude::*;
use actors_common::frames::ServerFrame;
use actors_common::kafka;

use super::Directory;
use crate::actors::conversation::Announce;

/// The Kafka event, as it arrived.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ParticipantAdded(pub kafka::ParticipantAdded);

impl Handler<ParticipantAdded> for Directory {
    type Result = ();

    fn handle(&mut self, ParticipantAdded(event): ParticipantAdded, ctx: &mut Context<Self>) {
        let (conversation, user) = (event.conversation_id, event.user_id);
        if !self.is_newer(conversation, user, event.version, true) {
            log::debug!(
                "directory: stale add conversation_id={conversation} user_id={user} version={}",
                event.version
            );
            return;
        }
        // Every session of the user joins at once: live from this moment.
        for session_id in self.sessions_of(user) {
            if self.join(session_id, conversation, ctx) {
                self.tell_session(session_id, conversation, true);
            }
        }
        if let Some(addr) = self
            .conversations
            .get(&conversation)
            .map(|e| e.addr.clone())
        {
            let frame = ServerFrame::ParticipantAdded {
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
    }
}
