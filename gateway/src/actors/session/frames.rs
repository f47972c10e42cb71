//! Client frames: what arrives on the socket.
//!
//! `send` → rate limit, body → a resend of a message already in the log is
//! answered with that message at once → membership (the roster; for a
//! conversation it has not heard of, message-store) → a `MessagePosted`
//! with a fresh UUIDv7, produced to the conversation's partition of
//! `chat.messages` → once Kafka stored it (acks=all) and this gateway's
//! consumer has read it back, the ledger's verdict: `ack` with the message
//! and its `seq` (the earlier message, for a resend), or `not_participant`
//! when the sender's removal got into the log first; `unavailable` when
//! any of it takes longer than `SEND_TIMEOUT_MS` (the client resends with
//! the same `client_id`).
//! `typing` → the same checks, roster only → `chat.typing` (fire and forget).

use std::time::Instant;

use actix::prelude::*;
use actix_http::ws::OpCode;
use actors_common::frames::{ClientFrame, ErrorCode, ServerFrame};
use actors_common::kafka::UserTyped;
use actors_common::log::{MessagePosted, ResendKey};
use actors_common::{validation, ConversationId, Message};
use uuid::Uuid;

use super::{QueuedSend, WsSession, MAX_QUEUED};
use crate::inspect::stats::Handled;
use crate::inspect::trace::{with_trace, Trace};
use crate::ledger::{body_hash, Accepted, Pending, Verdict};
use crate::message_store::{self, Membership};
use crate::roster::Check;
use crate::ws::frames::{Frame, ReadError};

impl StreamHandler<Result<Frame, ReadError>> for WsSession {
    fn handle(&mut self, item: Result<Frame, ReadError>, ctx: &mut Context<Self>) {
        let _timer = self.config.metrics.actors.time(Handled::SessionFrame);
        // Whoever closed the connection (a sign-out, a slow consumer, the
        // shutdown) ended the session: nothing it sends after counts.
        if self.conn.is_closing() {
            ctx.stop();
            return;
        }
        match item {
            Ok(Frame::Text(text)) => {
                self.config.metrics.frames_in.inc();
                self.on_text(&text, ctx);
            }
            Ok(Frame::Binary) => {
                self.config.metrics.frames_in.inc();
                self.send_error(
                    ErrorCode::BadFrame,
                    "frames are JSON text frames",
                    None,
                    ctx,
                );
            }
            Ok(Frame::Ping(payload)) => {
                if self.conn.send(OpCode::Pong, payload).is_err() {
                    self.close(1008, "slow consumer", ctx);
                }
            }
            Ok(Frame::Pong) => {}
            Ok(Frame::Close(reason)) => {
                // The client's goodbye, answered with its own code (when
                // it is one a close frame may carry).
                let code = reason
                    .map(|r| u16::from(r.code))
                    .filter(|c| matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999))
                    .unwrap_or(1000);
                self.close(code, "", ctx);
            }
            Err(e) => {
                log::info!(
                    "session: session_id={} user_id={} {e}, closing",
                    self.id,
                    self.user
                );
                self.close(e.close_code(), &e.to_string(), ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl WsSession {
    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let frame = match ClientFrame::read(text) {
            Ok(f) => f,
            Err(bad) => {
                self.send_error(ErrorCode::BadFrame, &bad.message, bad.client_id, ctx);
                return;
            }
        };
        match frame {
            ClientFrame::Send {
                conversation_id,
                client_id,
                body,
                trace,
            } => self.on_send(conversation_id, client_id, body, trace, ctx),
            ClientFrame::Typing { conversation_id } => self.on_typing(conversation_id, ctx),
        }
    }

    fn on_send(
        &mut self,
        conversation: ConversationId,
        client_id: Uuid,
        body: String,
        trace: bool,
        ctx: &mut Context<Self>,
    ) {
        let tracer = &self.config.metrics.tracer;
        let trace = tracer
            .traced(self.user, trace)
            .then(|| vec![tracer.hop("received", self.actor_name())]);
        if !self.within_rate() {
            self.send_error(ErrorCode::RateLimited, "slow down", Some(client_id), ctx);
            return;
        }
        if let Err(invalid) = validation::body(&body) {
            self.send_error(
                ErrorCode::InvalidBody,
                &invalid.message,
                Some(client_id),
                ctx,
            );
            return;
        }
        if self.queued.as_ref().is_some_and(|q| q.len() >= MAX_QUEUED) {
            self.send_error(
                ErrorCode::Unavailable,
                "too many sends waiting, resend it",
                Some(client_id),
                ctx,
            );
            return;
        }
        self.queued
            .get_or_insert_with(Box::default)
            .push_back(QueuedSend {
                conversation,
                client_id,
                body,
                trace,
            });
        self.next_sends(ctx);
    }

    /// Takes sends in arrival order until one needs message-store's word on
    /// membership; the rest wait for that answer, so this session's
    /// messages keep their order. Deliveries to the session go on meanwhile.
    fn next_sends(&mut self, ctx: &mut Context<Self>) {
        while !self.looking_up {
            let Some(send) = self.queued.as_mut().and_then(|q| q.pop_front()) else {
                self.queued = None;
                return;
            };
            let check = self.config.roster.check(self.user, send.conversation);
            let key = ResendKey {
                conversation_id: send.conversation,
                sender_id: self.user,
                client_id: send.client_id,
            };
            // A resend of a message the log already holds: that message.
            if let Some(first) = self.config.ledger.accepted(check.partition, &key) {
                self.ack_resend(send.conversation, send.client_id, send.body, first, ctx);
                continue;
            }
            if check.member {
                self.produce(send, check, ctx);
                continue;
            }
            // Not heard of here yet (created or joined a moment ago): ask
            // the source of truth.
            self.looking_up = true;
            self.config.metrics.membership_lookups.inc();
            let config = self.config.clone();
            let (user, conversation) = (self.user, send.conversation);
            let lookup = async move {
                message_store::membership(
                    &config.message_store_url,
                    &config.keys,
                    user,
                    conversation,
                )
                .await
            };
            ctx.spawn(lookup.into_actor(self).map(move |membership, act, ctx| {
                act.looking_up = false;
                let client_id = send.client_id;
                match membership {
                    Membership::Member => act.produce(send, check, ctx),
                    Membership::NotMember => act.send_error(
                        ErrorCode::NotParticipant,
                        "not a participant of that conversation",
                        Some(client_id),
                        ctx,
                    ),
                    Membership::NotYet => act.send_error(
                        ErrorCode::Unavailable,
                        "membership not confirmed yet, resend it",
                        Some(client_id),
                        ctx,
                    ),
                }
                act.next_sends(ctx);
            }));
        }
    }

    /// Acks a resend with the message its run began with: from the ledger
    /// when the bodies match, else (another body, or a run older than the
    /// ledger's memory) as message-store stored it.
    fn ack_resend(
        &mut self,
        conversation: ConversationId,
        client_id: Uuid,
        body: String,
        first: Accepted,
        ctx: &mut Context<Self>,
    ) {
        if body_hash(&body) == first.body_hash {
            let message = Message {
                id: first.id,
                conversation_id: conversation,
                sender_id: self.user,
                body,
                created_at: first.created_at,
                client_id: Some(client_id),
                seq: first.seq,
            };
            self.send_frame(&ServerFrame::Ack { client_id, message }, ctx);
        } else {
            self.ack_from_history(conversation, client_id, first.seq + 1, ctx);
        }
    }

    /// Acks a resend with the stored message of this `client_id` before
    /// `before_seq`, read from message-store.
    fn ack_from_history(
        &mut self,
        conversation: ConversationId,
        client_id: Uuid,
        before_seq: i64,
        ctx: &mut Context<Self>,
    ) {
        let config = self.config.clone();
        let user = self.user;
        let lookup = async move {
            message_store::resent_message(
                &config.message_store_url,
                &config.keys,
                user,
                conversation,
                client_id,
                before_seq,
            )
            .await
        };
        ctx.spawn(
            lookup
                .into_actor(self)
                .map(move |found, act, ctx| match found {
                    Some(message) => act.send_frame(&ServerFrame::Ack { client_id, message }, ctx),
                    None => act.send_error(
                        ErrorCode::Unavailable,
                        "message not confirmed yet, resend it",
                        Some(client_id),
                        ctx,
                    ),
                }),
        );
    }

    /// Produces an accepted send and answers with the ledger's verdict.
    fn produce(&mut self, send: QueuedSend, check: Check, ctx: &mut Context<Self>) {
        let QueuedSend {
            conversation,
            client_id,
            body,
            trace,
        } = send;
        let posted = MessagePosted::new(
            conversation,
            self.user,
            body,
            Some(client_id),
            check.checked_seq,
        );
        let tracer = self.config.metrics.tracer.clone();
        let trace = trace.map(|mut hops| {
            hops.push(tracer.hop("produced", self.actor_name()));
            hops
        });
        let header = trace
            .as_ref()
            .map(|hops| serde_json::to_vec(hops).unwrap_or_default());
        let delivery =
            match self
                .config
                .producer
                .send_message(&posted, check.partition, header.as_deref())
            {
                Ok(d) => d,
                Err(e) => {
                    log::warn!("session: session_id={} produce refused: {e}", self.id);
                    self.send_error(
                        ErrorCode::Unavailable,
                        "message not accepted, resend it",
                        Some(client_id),
                        ctx,
                    );
                    return;
                }
            };
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.config.send_timeout;
        let ledger = self.config.ledger.clone();
        let partition = check.partition;
        let actor = self.actor_name();
        let mut trace = trace;
        let verdict = async move {
            let delivered = tokio::time::timeout_at(deadline, delivery).await;
            let Ok(Ok(Ok(stored))) = delivered else {
                return (None, trace);
            };
            if let Some(hops) = trace.as_mut() {
                hops.push(tracer.hop("stored", actor));
            }
            let trace = trace;
            let verdict = match ledger.verdict(partition, stored.offset) {
                Pending::Ready(v) => Some(v),
                Pending::Wait(rx) => match tokio::time::timeout_at(deadline, rx).await {
                    Ok(Ok(v)) => Some(v),
                    _ => {
                        ledger.forget_wait(partition, stored.offset);
                        None
                    }
                },
            };
            (verdict, trace)
        };
        ctx.spawn(
            verdict
                .into_actor(self)
                .map(move |(verdict, trace), act, ctx| match verdict {
                    Some(Verdict::Accepted { seq }) => {
                        act.config
                            .metrics
                            .send_ack_seconds
                            .observe(started.elapsed().as_secs_f64());
                        let message = posted.at(seq);
                        let id = message.id;
                        let ack = ServerFrame::Ack { client_id, message }.to_json();
                        match trace {
                            Some(mut hops) => {
                                let tracer = &act.config.metrics.tracer;
                                hops.push(tracer.hop("acked", act.actor_name()));
                                tracer.keep(id, &hops);
                                let trace = Trace { id, hops };
                                act.write(with_trace(&ack, &trace).into(), ctx);
                            }
                            None => act.write(ack.into(), ctx),
                        }
                    }
                    Some(Verdict::Duplicate(first)) => {
                        act.ack_resend(conversation, client_id, posted.body, first, ctx)
                    }
                    Some(Verdict::DuplicateOfOlder { seq }) => {
                        act.ack_from_history(conversation, client_id, seq, ctx)
                    }
                    Some(Verdict::NotParticipant) => act.send_error(
                        ErrorCode::NotParticipant,
                        "no longer a participant of that conversation",
                        Some(client_id),
                        ctx,
                    ),
                    Some(Verdict::Stale) | None => {
                        log::warn!(
                            "session: session_id={} message_id={} not confirmed in time",
                            act.id,
                            posted.id
                        );
                        act.send_error(
                            ErrorCode::Unavailable,
                            "message not stored in time, resend it",
                            Some(client_id),
                            ctx,
                        );
                    }
                }),
        );
    }

    fn on_typing(&mut self, conversation: ConversationId, ctx: &mut Context<Self>) {
        if !self.within_rate() {
            self.send_error(ErrorCode::RateLimited, "slow down", None, ctx);
            return;
        }
        if !self.config.roster.check(self.user, conversation).member {
            self.send_error(
                ErrorCode::NotParticipant,
                "not a participant of that conversation",
                None,
                ctx,
            );
            return;
        }
        let event = UserTyped {
            conversation_id: conversation,
            user_id: self.user,
        };
        if let Err(e) = self.config.producer.send_typing(&event) {
            log::debug!("session: typing not sent: {e}");
        }
    }
}
