//! `ParticipantAdded`: someone joined a conversation (from
//! `chat.participants.created`).

use actix::prelude::*;
use actors_common::frames::ServerFrame;
use actors_common::kafka;

use super::Directory;
use crate::actors::conversation::Announce;

/// The membership version of the transaction that created a conversation.
pub const CREATION_VERSION: i64 = 1;

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
        let sessions = self.sessions_of(user);
        for &session_id in &sessions {
            if self.join(session_id, conversation, ctx) {
                self.tell_session(session_id, conversation, true);
            }
        }
        let frame: bytestring::ByteString = ServerFrame::ParticipantAdded {
            conversation_id: conversation,
            user_id: user,
        }
        .to_json()
        .into();
        if event.version == CREATION_VERSION {
            // The conversation was just created with all its members: each
            // member hears of its own arrival (and loads the conversation,
            // with everyone in it). Announcing every member to every other
            // would be N² frames for a group created with N people.
            for session_id in sessions {
                self.deliver_to_session(session_id, frame.clone());
            }
        } else if let Some(addr) = self
            .conversations
            .get(&conversation)
            .map(|e| e.addr.clone())
        {
            self.forward(&addr, Announce { frame }, ctx);
        }
    }
}
