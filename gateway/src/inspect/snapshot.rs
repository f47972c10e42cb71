//! What the inspector shows at one moment: built by the Directory
//! ([`TakeSnapshot`], `actors/directory/snapshot.rs`) from what it knows and
//! what each Hub reports of its thread (`actors/hub/snapshot.rs`).

use std::collections::BTreeMap;

use actix::prelude::*;
use actors_common::{ConversationId, MessageId, UserId};
use serde::Serialize;

use super::stats::{HandledRow, Kind};
use crate::actors::SessionId;

/// Ask the Directory for a [`Snapshot`] with the `top` busiest
/// conversations and sessions.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "Snapshot")]
pub struct TakeSnapshot {
    pub top: usize,
}

/// See the module docs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    pub gateway: String,
    /// Wall clock, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Actors alive, by kind.
    pub actors: BTreeMap<&'static str, i64>,
    /// Messages handled and handling times, by actor kind and message type.
    pub handled: Vec<HandledRow>,
    pub mailboxes: Vec<MailboxRow>,
    /// The busiest conversations (by deliveries).
    pub conversations: Vec<ConversationRow>,
    /// The busiest sessions (most frames waiting, then most written).
    pub sessions: Vec<SessionRow>,
    pub hubs: Vec<HubRow>,
    pub consumer_lag: i64,
    pub connections: i64,
    pub frames_in: u64,
    pub frames_out: u64,
    pub deliveries: u64,
    pub slow_consumers: u64,
    /// Ids of the traces this gateway keeps, newest first.
    pub traces: Vec<MessageId>,
}

/// The mailboxes of one kind of actor: messages in them now (summed) and
/// the most any one of them has held.
#[derive(Clone, Debug, Serialize)]
pub struct MailboxRow {
    pub kind: Kind,
    pub actors: usize,
    pub now: i64,
    pub high: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConversationRow {
    pub id: ConversationId,
    /// Member sessions online here.
    pub members: usize,
    /// `message` frames written to its members' sockets.
    pub deliveries: u64,
    /// Its members closed with 1008 while it was delivering.
    pub slow_consumers: u64,
    pub mailbox: i64,
    pub mailbox_high: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SessionRow {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub hub: usize,
    /// Frames waiting for the socket (the client reads slower than it is written to).
    pub queued: usize,
    pub frames_out: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct HubRow {
    pub id: usize,
    pub thread: String,
    pub connections: usize,
    /// Conversations with members on this thread.
    pub conversations: usize,
    pub mailbox: i64,
    pub mailbox_high: i64,
}
