//! `Conversation`: one actor per conversation with at least one member
//! session online on this node, started by the Directory on one of several
//! arbiters (so conversations spread over every core) and stopped by it
//! when the last member leaves.
//!
//! It holds its member sessions and hands each incoming frame, as one shared
//! buffer, to every one of them with `try_send`: a member whose bounded
//! mailbox is full is dropped and reported as a slow consumer, so nobody
//! else waits for it.
//!
//! | file | handles |
//! |---|---|
//! | [`join`] | [`Join`]: a session becomes a member |
//! | [`leave`] | [`Leave`]: a session stops being one |
//! | [`message_published`] | [`MessagePublished`]: a message from Kafka, to every member (duplicates dropped) |
//! | [`user_typed`] | [`UserTyped`]: a typing frame, to every member but the typist |
//! | [`announce`] | [`Announce`]: a membership frame, to every member |
//! | [`stop`] | [`Stop`]: the Directory retires this actor |

pub mod announce;
pub mod join;
pub mod leave;
pub mod message_published;
pub mod stop;
pub mod user_typed;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use actors_common::{ConversationId, MessageId, UserId};
use bytestring::ByteString;
use uuid::Uuid;

pub use announce::Announce;
pub use join::Join;
pub use leave::Leave;
pub use message_published::MessagePublished;
pub use stop::Stop;
pub use user_typed::UserTyped;

use super::directory::{Directory, SlowConsumer};
use super::session::Deliver;
use super::SessionId;
use crate::metrics::Metrics;

/// Capacity of a Conversation's mailbox (the Directory waits when it is full).
pub const MAILBOX: usize = 4096;
/// How many recent messages a conversation remembers to drop redeliveries.
pub const RECENT: usize = 1024;

struct Member {
    user: UserId,
    session: Recipient<Deliver>,
}

/// Recently delivered message ids and (sender, client id) pairs: Kafka may
/// redeliver a record, and a client may resend with the same `client_id`.
#[derive(Default)]
struct Recent {
    order: VecDeque<(MessageId, Option<(UserId, Uuid)>)>,
    ids: HashSet<MessageId>,
    client_ids: HashSet<(UserId, Uuid)>,
}

impl Recent {
    /// Records a message; false when it was seen already.
    fn first_time(&mut self, id: MessageId, client: Option<(UserId, Uuid)>) -> bool {
        if self.ids.contains(&id) || client.is_some_and(|c| self.client_ids.contains(&c)) {
            return false;
        }
        if self.order.len() == RECENT {
            if let Some((old_id, old_client)) = self.order.pop_front() {
                self.ids.remove(&old_id);
                if let Some(c) = old_client {
                    self.client_ids.remove(&c);
                }
            }
        }
        self.ids.insert(id);
        if let Some(c) = client {
            self.client_ids.insert(c);
        }
        self.order.push_back((id, client));
        true
    }
}

/// The online members of one conversation on this node.
pub struct Conversation {
    id: ConversationId,
    members: HashMap<SessionId, Member>,
    recent: Recent,
    directory: Addr<Directory>,
    metrics: Arc<Metrics>,
}

impl Conversation {
    pub fn new(id: ConversationId, directory: Addr<Directory>, metrics: Arc<Metrics>) -> Self {
        Self {
            id,
            members: HashMap::new(),
            recent: Recent::default(),
            directory,
            metrics,
        }
    }

    /// Hands `frame` to every member (but `except`'s sessions). Members
    /// whose mailbox is full are dropped and reported; closed ones forgotten.
    fn broadcast(
        &mut self,
        frame: &ByteString,
        received: Option<std::time::Instant>,
        except: Option<UserId>,
    ) {
        let mut slow = Vec::new();
        let mut gone = Vec::new();
        for (session_id, member) in &self.members {
            if except == Some(member.user) {
                continue;
            }
            let deliver = Deliver {
                frame: frame.clone(),
                received,
            };
            match member.session.try_send(deliver) {
                Ok(()) => {}
                Err(SendError::Full(_)) => slow.push(*session_id),
                Err(SendError::Closed(_)) => gone.push(*session_id),
            }
        }
        for session_id in gone {
            self.members.remove(&session_id);
        }
        for session_id in slow {
            self.members.remove(&session_id);
            log::warn!(
                "conversation: conversation_id={} session_id={session_id} slow consumer",
                self.id
            );
            self.directory.do_send(SlowConsumer { session_id });
        }
    }
}

impl Actor for Conversation {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        self.metrics.conversations.inc();
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.metrics.conversations.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_drops_repeats_and_forgets_the_oldest() {
        let mut r = Recent::default();
        let user = UserId::new_random();
        let client = Uuid::new_v4();
        let first = MessageId::new_v7();
        assert!(r.first_time(first, Some((user, client))));
        assert!(!r.first_time(first, None), "same message id");
        assert!(
            !r.first_time(MessageId::new_v7(), Some((user, client))),
            "same sender and client id"
        );
        for _ in 0..RECENT {
            assert!(r.first_time(MessageId::new_v7(), None));
        }
        assert!(
            r.first_time(first, Some((user, client))),
            "forgotten after RECENT newer ones"
        );
        assert_eq!(r.order.len(), RECENT);
        assert!(r.ids.len() <= RECENT && r.client_ids.len() <= RECENT);
    }
}
