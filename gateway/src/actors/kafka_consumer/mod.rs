//! `KafkaConsumer`: the only door from Kafka into the actor system.
//!
//! Its consumer group id is unique to this process, so every gateway sees
//! every record and no sticky sessions or shared state are needed. It reads
//! `chat.messages`, both participant topics and `chat.typing`; each record is
//! parsed and (for messages) serialised into its frame once, here, then
//! routed through the [`Directory`]. When the Directory's mailbox is full it
//! waits, which pauses consumption: back-pressure instead of unbounded queues.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use actors_common::frames::ServerFrame;
use actors_common::kafka::{self, Topics};
use actors_common::Message as ChatMessage;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{BorrowedMessage, Message as _};

use super::conversation::{MessagePublished, UserTyped};
use super::directory::{
    Directory, ParticipantAdded, ParticipantRemoved, RouteMessage, RouteTyping,
};
use crate::kafka::LagContext;
use crate::metrics::Metrics;

/// Reads Kafka and feeds the Directory.
pub struct KafkaConsumer {
    consumer: Arc<StreamConsumer<LagContext>>,
    topics: Topics,
    directory: Addr<Directory>,
    metrics: Arc<Metrics>,
}

impl KafkaConsumer {
    pub fn new(
        consumer: StreamConsumer<LagContext>,
        topics: Topics,
        directory: Addr<Directory>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            consumer: Arc::new(consumer),
            topics,
            directory,
            metrics,
        }
    }
}

/// Sends to the Directory; waits for room when its mailbox is full.
async fn deliver<M>(directory: &Addr<Directory>, msg: M)
where
    M: Message<Result = ()> + Send + 'static,
    Directory: Handler<M>,
{
    match directory.try_send(msg) {
        Ok(()) | Err(SendError::Closed(_)) => {}
        Err(SendError::Full(msg)) => {
            let _ = directory.send(msg).await;
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(m: &BorrowedMessage<'_>, metrics: &Metrics) -> Option<T> {
    match m.payload().map(serde_json::from_slice::<T>) {
        Some(Ok(v)) => Some(v),
        other => {
            let why = match other {
                Some(Err(e)) => e.to_string(),
                _ => "no value".into(),
            };
            log::warn!(
                "consumer: topic={} partition={} offset={} unreadable ({why}), skipped",
                m.topic(),
                m.partition(),
                m.offset()
            );
            metrics.bad_records.inc();
            None
        }
    }
}

impl KafkaConsumer {
    async fn dispatch(
        m: &BorrowedMessage<'_>,
        topics: &Topics,
        directory: &Addr<Directory>,
        metrics: &Metrics,
    ) {
        let received = Instant::now();
        let topic = m.topic();
        if topic == topics.messages {
            let Some(message) = parse::<ChatMessage>(m, metrics) else {
                return;
            };
            let conversation_id = message.conversation_id;
            let published = MessagePublished {
                message_id: message.id,
                sender_id: message.sender_id,
                client_id: message.client_id,
                frame: ServerFrame::Message { message }.to_json().into(),
                received,
            };
            deliver(
                directory,
                RouteMessage {
                    conversation_id,
                    published,
                },
            )
            .await;
        } else if topic == topics.participants_created {
            if let Some(event) = parse::<kafka::ParticipantAdded>(m, metrics) {
                deliver(directory, ParticipantAdded(event)).await;
            }
        } else if topic == topics.participants_removed {
            if let Some(event) = parse::<kafka::ParticipantRemoved>(m, metrics) {
                deliver(directory, ParticipantRemoved(event)).await;
            }
        } else if topic == topics.typing {
            if let Some(event) = parse::<kafka::UserTyped>(m, metrics) {
                let frame = ServerFrame::Typing {
                    conversation_id: event.conversation_id,
                    user_id: event.user_id,
                };
                let typed = UserTyped {
                    user_id: event.user_id,
                    frame: frame.to_json().into(),
                };
                deliver(
                    directory,
                    RouteTyping {
                        conversation_id: event.conversation_id,
                        typed,
                    },
                )
                .await;
            }
        }
    }
}

impl Actor for KafkaConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let consumer = self.consumer.clone();
        let topics = self.topics.clone();
        let directory = self.directory.clone();
        let metrics = self.metrics.clone();
        let run = async move {
            loop {
                match consumer.recv().await {
                    Ok(m) => Self::dispatch(&m, &topics, &directory, &metrics).await,
                    Err(e) => log::warn!("consumer: {e}"),
                }
            }
        };
        ctx.spawn(run.into_actor(self));
    }
}
