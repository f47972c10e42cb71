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
use actix_web_actors::ws;
use actors_common::frames::{ClientFrame, ErrorCode, ServerFrame};
use actors_common::kafka::UserTyped;
use actors_common::log::{MessagePosted, ResendKey};
use actors_common::{validation, ConversationId, Message};
use uuid::Uuid;

use super::WsSession;
use crate::ledger::{Pending, Verdict};
use crate::message_store::{self, Membership};
use crate::roster::Check;

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(
        &mut self,
        item: Result<ws::Message, ws::ProtocolError>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        self.last_heard = Instant::now();
        match item {
            Ok(ws::Message::Text(text)) => {
                self.config.metrics.frames_in.inc();
                self.on_text(&text, ctx);
            }
            Ok(ws::Message::Binary(_)) | Ok(ws::Message::Continuation(_)) => {
                self.config.metrics.frames_in.inc();
                self.send_error(
                    ErrorCode::BadFrame,
                    "frames are JSON text frames",
                    None,
                    ctx,
                );
            }
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                self.closing = true;
                ctx.close(reason);
                ctx.stop();
            }
            Err(ws::ProtocolError::Overflow) => {
                log::info!(
                    "session: session_id={} user_id={} frame over 64 KiB",
                    self.id,
                    self.user
                );
                self.close(ws::CloseCode::Size, "frame too large", ctx);
            }
            Err(e) => {
                log::info!("session: session_id={} protocol error: {e}", self.id);
                self.close(ws::CloseCode::Protocol, "protocol error", ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.stop();
    }
}

/// The `client_id` of a frame that did not parse, if it has a readable one.
fn salvage_client_id(text: &str) -> Option<Uuid> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("client_id")?.as_str()?.parse().ok()
}

impl WsSession {
    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                let message = format!("unreadable frame: {e}");
                self.send_error(ErrorCode::BadFrame, &message, salvage_client_id(text), ctx);
                return;
            }
        };
        match frame {
            ClientFrame::Send {
                conversation_id,
                client_id,
                body,
            } => self.on_send(conversation_id, client_id, body, ctx),
            ClientFrame::Typing { conversation_id } => self.on_typing(conversation_id, ctx),
        }
    }

    fn on_send(
        &mut self,
        conversation: ConversationId,
        client_id: Uuid,
        body: String,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if self.limiter.check().is_err() {
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
        let check = self.config.roster.check(self.user, conversation);
        let key = ResendKey {
            conversation_id: conversation,
            sender_id: self.user,
            client_id,
        };
        // A resend of a message the log already holds: that message.
        if let Some(first) = self.config.ledger.accepted(check.partition, &key) {
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
            return;
        }
        if check.member {
            self.produce(conversation, client_id, body, check, ctx);
            return;
        }
        // Not heard of here yet (created or joined a moment ago): ask the
        // source of truth. Frames wait meanwhile, so this session's sends
        // keep their order.
        self.config.metrics.membership_lookups.inc();
        let config = self.config.clone();
        let user = self.user;
        let lookup = async move {
            message_store::membership(&config.message_store_url, &config.keys, user, conversation)
                .await
        };
        ctx.wait(
            lookup
                .into_actor(self)
                .map(move |membership, act, ctx| match membership {
                    Membership::Member => act.produce(conversation, client_id, body, check, ctx),
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
                }),
        );
    }

    /// Produces an accepted send and answers with the ledger's verdict.
    fn produce(
        &mut self,
        conversation: ConversationId,
        client_id: Uuid,
        body: String,
        check: Check,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let posted = MessagePosted::new(
            conversation,
            self.user,
            body,
            Some(client_id),
            check.checked_seq,
        );
        let delivery = match self.config.producer.send_message(&posted, check.partition) {
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
        let key = ResendKey {
            conversation_id: conversation,
            sender_id: self.user,
            client_id,
        };
        let partition = check.partition;
        let verdict = async move {
            let delivered = tokio::time::timeout_at(deadline, delivery).await;
            let Ok(Ok(Ok(stored))) = delivered else {
                return None;
            };
            match ledger.verdict(partition, stored.offset, &key) {
                Pending::Ready(v) => Some(v),
                Pending::Wait(rx) => match tokio::time::timeout_at(deadline, rx).await {
                    Ok(Ok(v)) => Some(v),
                    _ => {
                        ledger.forget_wait(partition, stored.offset);
                        None
                    }
                },
            }
        };
        ctx.spawn(verdict.into_actor(self).map(move |verdict, act, ctx| {
            let message = match verdict {
                Some(Verdict::Accepted { seq }) => posted.at(seq),
                Some(Verdict::Duplicate(first)) => Message {
                    id: first.id,
                    created_at: first.created_at,
                    seq: first.seq,
                    ..posted.at(first.seq)
                },
                Some(Verdict::NotParticipant) => {
                    act.send_error(
                        ErrorCode::NotParticipant,
                        "no longer a participant of that conversation",
                        Some(client_id),
                        ctx,
                    );
                    return;
                }
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
                    return;
                }
            };
            act.config
                .metrics
                .send_ack_seconds
                .observe(started.elapsed().as_secs_f64());
            act.send_frame(&ServerFrame::Ack { client_id, message }, ctx);
        }));
    }

    fn on_typing(&mut self, conversation: ConversationId, ctx: &mut ws::WebsocketContext<Self>) {
        if self.limiter.check().is_err() {
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
