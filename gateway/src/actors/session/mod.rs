//! `WsSession`: one actor per WebSocket connection.
//!
//! Lifecycle: `started` registers with the [`Directory`], fetches the user's
//! conversation ids from message-store (with a 30-second service token of
//! its own minting), subscribes, and sends `ready`; until then no client
//! frame is processed. `stopped` unregisters.
//!
//! | file | handles |
//! |---|---|
//! | [`frames`] | client frames (the WebSocket stream): `send`, `typing`, pings, close, oversize |
//! | [`deliver`] | [`Deliver`]: a frame from a Conversation or the Directory, written to the socket |
//! | [`close`] | [`Close`]: the Directory closes this session (slow consumer 1008, shutdown 1001) |
//!
//! Whether the user may send to a conversation is the [`Roster`]'s answer
//! (kept by the Directory in log order), shared by all the user's sessions
//! here; when it has not heard of the conversation yet, message-store's.
//!
//! The mailbox is bounded (`OUTBOUND_QUEUE`): while the client does not
//! read, the HTTP layer stops polling this actor, its mailbox fills, and the
//! Conversation that cannot hand it a frame reports a slow consumer.

pub mod close;
pub mod deliver;
pub mod frames;

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws;
use actors_common::frames::{ErrorCode, ServerFrame};
use actors_common::jwt::JwtKeys;
use actors_common::{ConversationId, UserId};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

pub use close::Close;
pub use deliver::Deliver;

use super::directory::{Connect, Directory, Disconnect, Subscribe};
use super::SessionId;
use crate::kafka::ChatProducer;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::roster::Roster;

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
    pub outbound_queue: usize,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Most sends of one session that may wait behind a membership lookup.
pub const MAX_QUEUED: usize = 64;

/// A send waiting its turn.
#[derive(Debug)]
pub struct QueuedSend {
    pub conversation: ConversationId,
    pub client_id: Uuid,
    pub body: String,
}

/// One WebSocket connection of one user.
pub struct WsSession {
    id: SessionId,
    user: UserId,
    config: Arc<SessionConfig>,
    limiter: DefaultDirectRateLimiter,
    last_heard: Instant,
    closing: bool,
    /// Sends in arrival order, waiting while `looking_up`.
    queued: VecDeque<QueuedSend>,
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
    pub fn new(user: UserId, config: Arc<SessionConfig>) -> Self {
        let per_sec = NonZeroU32::new(config.rate_per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            user,
            limiter: RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst)),
            config,
            last_heard: Instant::now(),
            closing: false,
            queued: VecDeque::new(),
            looking_up: false,
        }
    }

    /// Writes a frame built here (not shared) to the socket.
    fn send_frame(&self, frame: &ServerFrame, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.text(frame.to_json());
        self.config.metrics.frames_out.inc();
    }

    fn send_error(
        &self,
        code: ErrorCode,
        message: &str,
        client_id: Option<Uuid>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        self.config
            .metrics
            .errors
            .with_label_values(&[code.as_str()])
            .inc();
        self.send_frame(&ServerFrame::error(code, message, client_id), ctx);
    }

    /// Closes the socket with `code` and stops.
    fn close(&mut self, code: ws::CloseCode, reason: &str, ctx: &mut ws::WebsocketContext<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    /// Pings every `ping_interval`; closes the connection when nothing was
    /// heard from the client for `idle_timeout`.
    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.run_interval(self.config.ping_interval, |act, ctx| {
            if act.last_heard.elapsed() > act.config.idle_timeout {
                log::info!(
                    "session: session_id={} user_id={} idle, closing",
                    act.id,
                    act.user
                );
                act.close(ws::CloseCode::Away, "idle timeout", ctx);
                return;
            }
            ctx.ping(b"");
        });
    }

    /// Registers with the Directory, fetches conversation ids, subscribes,
    /// sends `ready`. Runs with `ctx.wait`, so frames wait for it.
    fn join_conversations(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let directory = self.config.directory.clone();
        directory.do_send(Connect {
            session_id: self.id,
            user_id: self.user,
            session: ctx.address(),
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
                act.send_frame(&ready, ctx);
            }
            Err(e) => {
                log::warn!(
                    "session: session_id={} user_id={} cannot load conversations: {e:#}",
                    act.id,
                    act.user
                );
                act.close(
                    ws::CloseCode::Again,
                    "conversations unavailable, try again",
                    ctx,
                );
            }
        }));
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.config.outbound_queue);
        self.config.metrics.connections.inc();
        self.heartbeat(ctx);
        self.join_conversations(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.config.metrics.connections.dec();
        self.config.directory.do_send(Disconnect {
            session_id: self.id,
        });
    }
}
