//! `Conversation`: one actor per conversation with at least one member
//! session online on this node, started by the Directory on one of several
//! arbiters (so conversations spread over every core) and stopped by it
//! when the last member leaves.
//!
//! It is the group registry of its members, grouped by the worker thread
//! (the [`Hub`]) that holds their connections: a frame goes once to each
//! Hub with members here, as one shared buffer, and each Hub writes it to
//! its own members' sockets. Sends to a Hub keep its mailbox bound and the
//! order (`actors::mailbox`): a Hub that falls behind holds this
//! Conversation up, which holds the Directory up, and so the Kafka
//! consumer; a single client that does not read is closed by its Hub.
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
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use actix::prelude::*;
use actors_common::ConversationId;

pub use broadcast::Broadcast;
pub use join::Join;
pub use leave::Leave;
pub use stop::Stop;

use super::hub::{self, Hub, HubHandle};
use super::mailbox::{self, Depth, Forwards, Line};
use crate::inspect::stats::Kind;
use crate::metrics::Metrics;

/// Capacity of a Conversation's mailbox (the Directory waits when it is full).
pub const MAILBOX: usize = 4096;

/// The members on one worker thread.
struct OnHub {
    hub: HubHandle,
    sessions: usize,
}

/// What a Conversation did, for the inspector (shared with the Directory's
/// entry and counted by the Hubs that write its frames).
#[derive(Debug, Default)]
pub struct Traffic {
    /// `message` frames written to its members' sockets.
    pub deliveries: AtomicU64,
    /// Members closed with 1008 while it was delivering.
    pub slow_consumers: AtomicU64,
}

/// The online members of one conversation on this node, by worker thread.
pub struct Conversation {
    id: ConversationId,
    /// Unique to this actor, higher than any before it (see `hub::Members`).
    generation: u64,
    hubs: HashMap<usize, OnHub>,
    metrics: Arc<Metrics>,
    traffic: Arc<Traffic>,
    /// This actor's mailbox depth, counted with the Directory.
    depth: Arc<Depth>,
    /// Frames waiting for room in a Hub's mailbox.
    line: Line,
}

impl Forwards for Conversation {
    fn line(&mut self) -> &mut Line {
        &mut self.line
    }
}

impl Conversation {
    pub fn new(
        id: ConversationId,
        metrics: Arc<Metrics>,
        depth: Arc<Depth>,
        traffic: Arc<Traffic>,
    ) -> Self {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            id,
            generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            hubs: HashMap::new(),
            metrics,
            traffic,
            depth,
            line: Line::default(),
        }
    }

    /// Sends to one Hub in order and within its bound.
    fn send_to_hub<M>(&mut self, hub: usize, msg: M, ctx: &mut Context<Self>)
    where
        M: Message<Result = ()> + Send + 'static,
        Hub: Handler<M>,
    {
        if let Some(on) = self.hubs.get(&hub) {
            mailbox::forward(&mut self.line, &on.hub.addr, &on.hub.depth, msg, ctx);
        }
    }

    /// A frame for every Hub with members here.
    fn broadcast(&mut self, deliver: hub::Deliver, ctx: &mut Context<Self>) {
        let hubs: Vec<usize> = self.hubs.keys().copied().collect();
        for hub in hubs {
            self.send_to_hub(hub, deliver.clone(), ctx);
        }
    }
}

impl Actor for Conversation {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        self.metrics.conversations.inc();
        self.metrics.actors.alive(Kind::Conversation).inc();
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.metrics.conversations.dec();
        self.metrics.actors.alive(Kind::Conversation).dec();
    }
}
