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
//! | [`broadcast`] | [`Broadcast`]: a frame for every member (a message, a notice, typing) |
//! | [`stop`] | [`Stop`]: the Directory retires this actor |
//!
//! Nothing reaches it twice: the Kafka consumer's ledger lets each message
//! through once (`crate::ledger`), in the log's order.

pub mod broadcast;
pub mod join;
pub mod leave;
pub mod stop;

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use actors_common::{ConversationId, UserId};
use bytestring::ByteString;

pub use broadcast::Broadcast;
pub use join::Join;
pub use leave::Leave;
pub use stop::Stop;

use super::directory::{Directory, SlowConsumer};
use super::mailbox::Depth;
use super::session::Deliver;
use super::SessionId;
use crate::metrics::Metrics;

/// Capacity of a Conversation's mailbox (the Directory waits when it is full).
pub const MAILBOX: usize = 4096;
struct Member {
    user: UserId,
    session: Recipient<Deliver>,
}

/// The online members of one conversation on this node.
pub struct Conversation {
    id: ConversationId,
    members: HashMap<SessionId, Member>,
    directory: Addr<Directory>,
    metrics: Arc<Metrics>,
    /// This actor's mailbox depth, counted with the Directory.
    depth: Arc<Depth>,
}

impl Conversation {
    pub fn new(
        id: ConversationId,
        directory: Addr<Directory>,
        metrics: Arc<Metrics>,
        depth: Arc<Depth>,
    ) -> Self {
        Self {
            id,
            members: HashMap::new(),
            directory,
            metrics,
            depth,
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

    fn started(&mut self, _: &mut Self::Context) {
        self.metrics.conversations.inc();
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.metrics.conversations.dec();
    }
}
