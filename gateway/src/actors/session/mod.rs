//! `WsSession`: one actor per WebSocket connection.
//!
//! Lifecycle: `started` registers with the [`Directory`], fetches the user's
//! conversation ids from message-store (with a 30-second service token of
//! its own minting), subscribes, and sends `ready`; until then no client
//! frame is processed. `stopped` unregisters, here and with its thread's
//! [`Hub`](super::hub).
//!
//! | file | handles |
//! |---|---|
//! | [`frames`] | client frames (the stream `ws::frames` reads): `send`, `typing`, pings, close, bad frames |
//! | [`limit`] | the session's rate limit (a token bucket of 8 bytes) |
//!
//! Whether the user may send to a conversation is the [`Roster`]'s answer
//! (kept by the Directory in log order), shared by all the user's sessions
//! here; when it has not heard of the conversation yet, message-store's.
//!
//! The session writes its own answers to the socket ([`Conn`]); deliveries
//! to it are written by its thread's Hub, not through this actor. A client
//! that does not read fills its `Conn`'s queue (`OUTBOUND_QUEUE` frames)
//! and is closed with 1008 by whichever writer finds it full.

pub mod frames;
pub mod limit;

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actors_common::frames::{ErrorCode, ServerFrame};
use actors_common::jwt::JwtKeys;
use actors_common::{ConversationId, UserId};
use uuid::Uuid;

use limit::Bucket;

use super::directory::{Connect, Directory, Disconnect, Subscribe};
use super::hub;
use super::SessionId;
use crate::inspect::stats::Kind;
use crate::inspect::trace::Hop;
use crate::kafka::ChatProducer;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::roster::Roster;
use crate::ws::conn::Conn;

/// What every session of this process shares.
#[derive(Debug)]
pub struct SessionConfig {
    pub producer: ChatProducer,
    pub directory: Addr<Directory>,
    pub roster: Arc<Roster>,
    pub ledger: Arc<Ledger>,
    pub metrics: Arc<Metrics>,
    pub keys: JwtKeys,
    pub message_store_url: String,
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    pub send_timeout: Duration,
    /// Frames a connection may have waiting for its socket (slow consumer beyond).
    pub outbound_queue: usize,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    /// Per-user connection slots and send budget on this gateway.
    pub users: Arc<crate::users::Users>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A session id unused in this process.
pub fn next_id() -> SessionId {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Most sends of one session that may wait behind a membership lookup.
pub const MAX_QUEUED: usize = 64;

/// A send waiting its turn.
#[derive(Debug)]
pub struct QueuedSend {
    pub conversation: ConversationId,
    pub client_id: Uuid,
    pub body: String,
    /// Its hops so far, when it is traced (`crate::inspect::trace`).
    pub trace: Option<Vec<Hop>>,
}

/// The browser session a connection's token named: the connection closes
/// with 1008 when it is logged out (`directory::sign_out`) or expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrowserSession {
    /// `directory::sign_out::sid_hash` of its `sid`.
    pub sid: u64,
    /// When it expires, in Unix seconds.
    pub expires_at: Option<i64>,
}

/// The close of a connection whose browser session expired.
pub const SESSION_EXPIRED: (u16, &str) = (1008, "session expired");

/// One WebSocket connection of one user.
pub struct WsSession {
    id: SessionId,
    user: UserId,
    browser: Option<BrowserSession>,
    config: Arc<SessionConfig>,
    conn: Rc<Conn>,
    limit: Bucket,
    /// Sends in arrival order, waiting while `looking_up` (boxed: most
    /// sessions never queue, and every byte here is paid per connection).
    #[allow(clippy::box_collection)] // 8 bytes here instead of 32
    queued: Option<Box<VecDeque<QueuedSend>>>,
    /// Message-store is being asked whether the user may send somewhere.
    looking_up: bool,
}

impl std::fmt::Debug for WsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSession")
            .field("id", &self.id)
            .field("user", &self.user)
            .finish()
    }
}

impl WsSession {
    pub fn new(
        id: SessionId,
        user: UserId,
        browser: Option<BrowserSession>,
        config: Arc<SessionConfig>,
        conn: Rc<Conn>,
    ) -> Self {
        Self {
            id,
            user,
            browser,
            limit: Bucket::full(config.rate_burst),
            config,
            conn,
            queued: None,
            looking_up: false,
        }
    }

    /// Takes one of the session's tokens (`send` and `typing` each cost one).
    /// Also one of the user's tokens, shared by all of their connections.
    fn within_rate(&mut self) -> bool {
        self.limit
            .take(self.config.rate_per_sec, self.config.rate_burst)
            && self.config.users.take(self.user)
    }

    /// Writes a frame built here (not shared) to the socket; a client that
    /// stopped reading is closed.
    fn send_frame(&self, frame: &ServerFrame, ctx: &mut Context<Self>) {
        self.write(frame.to_json().into(), ctx);
    }

    /// This session as a trace names it.
    fn actor_name(&self) -> String {
        format!("session {}", self.id)
    }

    /// Writes ready-made bytes to the socket (see `send_frame`).
    fn write(&self, payload: bytes::Bytes, ctx: &mut Context<Self>) {
        if self.conn.text(payload).is_err() {
            self.slow_consumer(ctx);
            return;
        }
        self.config.metrics.frames_out.inc();
    }

    /// The client does not read what is written to it: 1008, at once.
    fn slow_consumer(&self, ctx: &mut Context<Self>) {
        log::warn!(
            "session: session_id={} user_id={} slow consumer, closing",
            self.id,
            self.user
        );
        self.config.metrics.slow_consumers.inc();
        self.conn.close(1008, "slow consumer", false);
        ctx.stop();
    }

    fn send_error(
        &self,
        code: ErrorCode,
        message: &str,
        client_id: Option<Uuid>,
        ctx: &mut Context<Self>,
    ) {
        self.config
            .metrics
            .errors
            .with_label_values(&[code.as_str()])
            .inc();
        self.send_frame(&ServerFrame::error(code, message, client_id), ctx);
    }

    /// Says goodbye with `code` (after what is queued) and stops.
    fn close(&mut self, code: u16, reason: &str, ctx: &mut Context<Self>) {
        self.conn.close(code, reason, true);
        ctx.stop();
    }

    /// Registers with the Directory, fetches conversation ids, subscribes,
    /// sends `ready`. Runs with `ctx.wait`, so frames wait for it.
    fn join_conversations(&self, ctx: &mut Context<Self>) {
        let directory = self.config.directory.clone();
        directory.do_send(Connect {
            session_id: self.id,
            user_id: self.user,
            hub: hub::here(&self.config),
            sid: self.browser.map(|b| b.sid),
        });
        let config = self.config.clone();
        let (id, user) = (self.id, self.user);
        let fut = async move {
            let ids = crate::message_store::conversation_ids(
                &config.message_store_url,
                &config.keys,
                user,
            )
            .await?;
            let joined = directory
                .send(Subscribe {
                    session_id: id,
                    conversation_ids: ids,
                })
                .await
                .map_err(|e| anyhow::anyhow!("directory: {e}"))?;
            anyhow::Ok(joined)
        };
        ctx.wait(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(joined) => {
                let ready = ServerFrame::Ready {
                    user_id: act.user,
                    conversations: joined.iter().map(|(c, _)| *c).collect(),
                    live_from: joined.into_iter().collect(),
                };
                // Ahead of whatever reached the connection meanwhile.
                if act.conn.open(ready.to_json().into()).is_err() {
                    act.slow_consumer(ctx);
                } else {
                    act.config.metrics.frames_out.inc();
                }
            }
            Err(e) => {
                log::warn!(
                    "session: session_id={} user_id={} cannot load conversations: {e:#}",
                    act.id,
                    act.user
                );
                act.close(1013, "conversations unavailable, try again", ctx);
            }
        }));
    }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.config.metrics.connections.inc();
        self.config.metrics.actors.alive(Kind::Session).inc();
        if let Some(at) = self.browser.and_then(|b| b.expires_at) {
            let left = at.saturating_sub(chrono::Utc::now().timestamp()).max(0);
            ctx.run_later(Duration::from_secs(left.unsigned_abs()), |act, ctx| {
                act.close(SESSION_EXPIRED.0, SESSION_EXPIRED.1, ctx);
            });
        }
        self.join_conversations(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.config.metrics.connections.dec();
        self.config.users.disconnect(self.user);
        self.config.metrics.actors.alive(Kind::Session).dec();
        // Whatever the reason, the socket ends with the actor (a goodbye
        // already queued still goes out first).
        self.conn.close(1000, "", true);
        hub::detach(self.id);
        self.config.directory.do_send(Disconnect {
            session_id: self.id,
        });
    }
}
