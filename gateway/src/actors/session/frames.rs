//! Client frames: what arrives on the socket.
//!
//! `send` → rate limit, body, membership → a `Message` with a fresh UUIDv7
//! → produced to `chat.messages` keyed by conversation → `ack` when Kafka's
//! delivery report says it is stored (acks=all), else `unavailable`.
//! `typing` → the same checks → `chat.typing` (fire and forget).

use std::time::Instant;

use actix::prelude::*;
use actix_web_actors::ws;
use actors_common::frames::{ClientFrame, ErrorCode, ServerFrame};
use actors_common::kafka::UserTyped;
use actors_common::{validation, ConversationId};
use uuid::Uuid;

use super::WsSession;

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

    /// The checks every client action passes; the error to send if one fails.
    fn check(&self, conversation: ConversationId) -> Result<(), (ErrorCode, &'static str)> {
        if self.limiter.check().is_err() {
            return Err((ErrorCode::RateLimited, "slow down"));
        }
        if !self.conversations.contains(&conversation) {
            return Err((
                ErrorCode::NotParticipant,
                "not a participant of that conversation",
            ));
        }
        Ok(())
    }

    fn on_send(
        &mut self,
        conversation: ConversationId,
        client_id: Uuid,
        body: String,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Err((code, why)) = self.check(conversation) {
            self.send_error(code, why, Some(client_id), ctx);
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
        let (message, delivery) =
            match self
                .config
                .producer
                .send_message(conversation, self.user, body, client_id)
            {
                Ok(sent) => sent,
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
        let timeout = self.config.send_timeout;
        let acked =
            async move { matches!(tokio::time::timeout(timeout, delivery).await, Ok(Ok(Ok(_)))) };
        ctx.spawn(acked.into_actor(self).map(move |stored, act, ctx| {
            if stored {
                act.config
                    .metrics
                    .send_ack_seconds
                    .observe(started.elapsed().as_secs_f64());
                act.send_frame(&ServerFrame::Ack { client_id, message }, ctx);
            } else {
                log::warn!(
                    "session: session_id={} message_id={} not acknowledged by Kafka in time",
                    act.id,
                    message.id
                );
                act.send_error(
                    ErrorCode::Unavailable,
                    "message not stored in time, resend it",
                    Some(client_id),
                    ctx,
                );
            }
        }));
    }

    fn on_typing(&mut self, conversation: ConversationId, ctx: &mut ws::WebsocketContext<Self>) {
        if let Err((code, why)) = self.check(conversation) {
            self.send_error(code, why, None, ctx);
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
