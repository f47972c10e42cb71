//! `Subscribe`: a session's conversations, as message-store listed them.

use actix::prelude::*;
use actors_common::ConversationId;

use super::Directory;
use crate::actors::SessionId;
use crate::inspect::stats::Handled;

/// Join a session to its conversations; answers with every conversation it
/// is now a member of and the seq from which each reaches it live (what
/// `ready` lists).
#[derive(Message)]
#[rtype(result = "Vec<(ConversationId, i64)>")]
pub struct Subscribe {
    pub session_id: SessionId,
    pub conversation_ids: Vec<ConversationId>,
}

impl Handler<Subscribe> for Directory {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) -> Self::Result {
        let _timer = self.metrics.actors.time(Handled::DirectorySubscribe);
        let Some(user) = self.sessions.get(&msg.session_id).map(|s| s.user) else {
            return MessageResult(Vec::new());
        };
        for conversation in msg.conversation_ids {
            // A removal applied since the session connected wins over a list
            // that may have been read before it committed.
            let removed = self
                .users
                .get(&user)
                .and_then(|u| u.applied.as_ref()?.get(&conversation))
                .is_some_and(|(_, added)| !added);
            if !removed {
                self.roster.add(user, conversation);
                self.join(msg.session_id, conversation, ctx);
            }
        }
        // Every record the Directory handled so far came before this join;
        // the next ones reach the session.
        let mut joined: Vec<(ConversationId, i64)> = self
            .sessions
            .get(&msg.session_id)
            .map(|s| {
                s.conversations
                    .iter()
                    .map(|&c| (c, self.roster.live_from(c)))
                    .collect()
            })
            .unwrap_or_default();
        joined.sort();
        MessageResult(joined)
    }
}
