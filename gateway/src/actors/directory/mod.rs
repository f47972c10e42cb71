//! `Directory`: the registry of this process, one actor on an arbiter of
//! its own.
//!
//! It maps conversation ids to their [`Conversation`] actors (starting one on
//! a spread of arbiters when the first member joins, stopping it when the
//! last leaves) and users to their sessions (every tab and device), and it
//! keeps the [`Roster`] (who is in which conversation, as of which offset)
//! that sessions check when they send.
//!
//! | file | handles |
//! |---|---|
//! | [`dispatch`] | [`Dispatch`]: every record from Kafka, in log order: deliver a message, apply a membership change or a rename, relay typing |
//! | [`connect`] | [`Connect`]: a session opened |
//! | [`subscribe`] | [`Subscribe`]: a session's conversations, from message-store |
//! | [`disconnect`] | [`Disconnect`]: a session ended |
//! | [`slow_consumer`] | [`SlowConsumer`]: close a session whose queue stayed full (1008) |
//! | [`close_all`] | [`CloseAll`]: shutdown, close every session (1001) |
//! | [`sign_out`] | a logout on `chat.sessions` (a `Dispatch`): close that browser session's sockets (1008) |
//! | [`snapshot`] | `TakeSnapshot`: the inspector's view of the actors (with every Hub's report) |
//!
//! Membership events arrive in the conversation's log order, with messages.
//! An outbox may send one again; the consumer drops a copy (the ledger knows
//! its version), and for each online user and conversation the Directory
//! also remembers the version of the last event it applied, which lets a
//! removal seen since a session connected win over its conversation list.

pub mod close_all;
pub mod connect;
pub mod disconnect;
pub mod dispatch;
pub mod sign_out;
pub mod slow_consumer;
pub mod snapshot;
pub mod subscribe;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use actors_common::{ConversationId, UserId};

pub use close_all::CloseAll;
pub use connect::Connect;
pub use disconnect::Disconnect;
pub use dispatch::{Delivery, Dispatch};
pub use slow_consumer::SlowConsumer;
pub use subscribe::Subscribe;

use super::conversation::{self, Broadcast, Conversation, Join, Leave, Traffic};
use smallvec::SmallVec;

use super::hub::{HubHandle, ToSession};
use super::mailbox::{self, Depth, Forwards, Line};
use super::SessionId;
use crate::inspect::stats::Kind;
use crate::metrics::Metrics;
use crate::roster::Roster;

/// Capacity of the Directory's mailbox: the Kafka consumer waits when it is full.
pub const MAILBOX: usize = 8192;

// Session and user entries exist per connection and per online user:
// their size is part of what an idle connection costs (BENCHMARKS.md).

struct SessionEntry {
    user: UserId,
    /// The id of the Hub (worker thread) that holds its connection.
    hub: usize,
    /// Its browser session (`sign_out::sid_hash`), when its token named one.
    sid: Option<u64>,
    conversations: HashSet<ConversationId>,
}

/// An online user: their sessions here, and the last membership event
/// applied per conversation, (version, added?).
#[derive(Default)]
struct UserEntry {
    sessions: SmallVec<[SessionId; 2]>,
    /// Absent until the first event for them (8 bytes instead of 48).
    #[allow(clippy::box_collection)]
    applied: Option<Box<HashMap<ConversationId, (i64, bool)>>>,
}

struct ConversationEntry {
    addr: Addr<Conversation>,
    members: usize,
    /// Its mailbox's depth (the Conversation counts what it handles).
    depth: Arc<Depth>,
    traffic: Arc<Traffic>,
}

/// The registry of sessions and conversations on this node.
pub struct Directory {
    sessions: HashMap<SessionId, SessionEntry>,
    users: HashMap<UserId, UserEntry>,
    /// Every worker thread's Hub, by id.
    hubs: HashMap<usize, HubHandle>,
    conversations: HashMap<ConversationId, ConversationEntry>,
    roster: Arc<Roster>,
    arbiters: Vec<ArbiterHandle>,
    metrics: Arc<Metrics>,
    /// Messages to Conversations waiting for room (see `actors::mailbox`).
    line: Line,
    /// Browser sessions that ended a moment ago (see `sign_out`).
    ended: HashMap<(UserId, u64), std::time::Instant>,
}

impl Forwards for Directory {
    fn line(&mut self) -> &mut Line {
        &mut self.line
    }
}

impl Directory {
    pub fn new(arbiters: Vec<ArbiterHandle>, roster: Arc<Roster>, metrics: Arc<Metrics>) -> Self {
        Self {
            sessions: HashMap::new(),
            users: HashMap::new(),
            hubs: HashMap::new(),
            conversations: HashMap::new(),
            roster,
            arbiters,
            metrics,
            line: Line::default(),
            ended: HashMap::new(),
        }
    }

    /// Sends to a Conversation in order and within its mailbox's bound;
    /// when the mailbox is full the Directory waits for room, and so, in
    /// turn, does the Kafka consumer (`actors::mailbox`).
    fn forward<M>(&mut self, conversation: ConversationId, msg: M, ctx: &mut Context<Self>)
    where
        M: Message<Result = ()> + Send + 'static,
        Conversation: Handler<M>,
    {
        // Through the entry's own `Addr` (a clone would be a fresh sender
        // that actix never parks).
        if let Some(entry) = self.conversations.get(&conversation) {
            mailbox::forward(&mut self.line, &entry.addr, &entry.depth, msg, ctx);
        }
    }

    /// A frame for every member of `conversation` online here.
    fn broadcast(&mut self, conversation: ConversationId, msg: Broadcast, ctx: &mut Context<Self>) {
        self.forward(conversation, msg, ctx);
    }

    fn arbiter_for(&self, id: ConversationId) -> Option<&ArbiterHandle> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        let n = self.arbiters.len().max(1);
        self.arbiters.get((h.finish() % n as u64) as usize)
    }

    /// Makes a session a member of a conversation; false if it was one.
    fn join(
        &mut self,
        session_id: SessionId,
        conversation: ConversationId,
        ctx: &mut Context<Self>,
    ) -> bool {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return false;
        };
        let Some(hub) = self.hubs.get(&session.hub) else {
            return false;
        };
        if !session.conversations.insert(conversation) {
            return false;
        }
        let join = Join {
            session_id,
            hub: hub.clone(),
        };
        match self.conversations.get_mut(&conversation) {
            Some(entry) => entry.members += 1,
            None => {
                let metrics = self.metrics.clone();
                let depth = Arc::new(self.metrics.actors.depth(Kind::Conversation));
                let traffic = Arc::new(Traffic::default());
                let start = {
                    let (depth, traffic) = (depth.clone(), traffic.clone());
                    move |ctx: &mut Context<Conversation>| {
                        ctx.set_mailbox_capacity(conversation::MAILBOX);
                        Conversation::new(conversation, metrics, depth, traffic)
                    }
                };
                let addr = match self.arbiter_for(conversation) {
                    Some(arbiter) => Conversation::start_in_arbiter(arbiter, start),
                    None => Conversation::create(start),
                };
                self.conversations.insert(
                    conversation,
                    ConversationEntry {
                        addr,
                        members: 1,
                        depth,
                        traffic,
                    },
                );
            }
        }
        self.forward(conversation, join, ctx);
        true
    }

    /// Takes a session out of a conversation; stops the Conversation when it
    /// was the last member.
    fn leave(
        &mut self,
        session_id: SessionId,
        conversation: ConversationId,
        ctx: &mut Context<Self>,
    ) {
        let hub = self
            .sessions
            .get_mut(&session_id)
            .and_then(|s| s.conversations.remove(&conversation).then_some(s.hub));
        if let Some(hub_id) = hub {
            self.drop_member(session_id, hub_id, conversation, ctx);
        }
    }

    fn drop_member(
        &mut self,
        session_id: SessionId,
        hub_id: usize,
        conversation: ConversationId,
        ctx: &mut Context<Self>,
    ) {
        let Some(entry) = self.conversations.get_mut(&conversation) else {
            return;
        };
        entry.members = entry.members.saturating_sub(1);
        let empty = entry.members == 0;
        self.forward(conversation, Leave { session_id, hub_id }, ctx);
        if empty {
            // In line with the rest: the Conversation handles every message
            // the Directory sent it before it stops.
            self.forward(conversation, conversation::Stop, ctx);
            self.conversations.remove(&conversation);
        }
    }

    /// Whether a membership event at `seq` is newer than the last one
    /// applied for this user (recorded for users online here), and records
    /// it if so.
    fn is_newer(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        seq: i64,
        added: bool,
    ) -> bool {
        let Some(applied) = self
            .users
            .get_mut(&user)
            .map(|u| u.applied.get_or_insert_with(Box::default))
        else {
            return true;
        };
        if applied.get(&conversation).is_some_and(|(s, _)| *s >= seq) {
            return false;
        }
        applied.insert(conversation, (seq, added));
        true
    }

    /// Sessions of a user on this node.
    fn sessions_of(&self, user: UserId) -> Vec<SessionId> {
        self.users
            .get(&user)
            .map(|u| u.sessions.to_vec())
            .unwrap_or_default()
    }

    /// A frame for one session only (not through a Conversation).
    fn deliver_to_session(&self, session_id: SessionId, frame: bytestring::ByteString) {
        if let Some(hub) = self
            .sessions
            .get(&session_id)
            .and_then(|s| self.hubs.get(&s.hub))
        {
            hub.addr.do_send(ToSession { session_id, frame });
        }
    }
}

impl Actor for Directory {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        self.metrics.actors.alive(Kind::Directory).set(1);
    }
}
