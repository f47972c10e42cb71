//! `KafkaConsumer`: the only door from Kafka into the actor system.
//!
//! Its consumer group id is unique to this process, so every gateway sees
//! every record and no sticky sessions or shared state are needed. For each
//! record, in order:
//!
//! 1. parse it into an [`Inbound`] event (`crate::inbound`); an unreadable
//!    one is logged, counted and passed over;
//! 2. tell the [`Ledger`]: a message gets its verdict there (new, a resend,
//!    or refused), a membership event is remembered for the verdicts to
//!    come; a session of this gateway waiting for its record's verdict
//!    gets it now;
//! 3. records older than the gateway's start (read only to fill the
//!    ledger's window) stop here; a new message is serialised into its
//!    `message` frame once, and it and every other live event go to the
//!    [`Directory`] as a [`Dispatch`].
//!
//! When the Directory's mailbox is full it waits, which pauses consumption:
//! back-pressure instead of unbounded queues.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use actors_common::frames::ServerFrame;
use actors_common::kafka::Topics;
use actors_common::log::{Admission, EVENT_HEADER};
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};

use super::directory::{Delivery, Directory, Dispatch};
use crate::inbound::{Inbound, Raw};
use crate::inspect::stats::{Handled, Kind};
use crate::inspect::trace::{Hop, Trace, TRACE_HEADER};
use crate::kafka::LagContext;
use crate::ledger::Ledger;
use crate::metrics::Metrics;

/// Reads Kafka and feeds the ledger and the Directory.
pub struct KafkaConsumer {
    consumer: Arc<StreamConsumer<LagContext>>,
    topics: Topics,
    /// Per partition of `chat.messages`: the first offset to deliver.
    live_from: Arc<Vec<i64>>,
    /// Per partition of `chat.sessions`: the end when the gateway started
    /// (records below it are ends read again).
    sessions_live_from: Arc<Vec<i64>>,
    ledger: Arc<Ledger>,
    directory: Addr<Directory>,
    metrics: Arc<Metrics>,
}

impl KafkaConsumer {
    pub fn new(
        consumer: StreamConsumer<LagContext>,
        (live_from, sessions_live_from): (Vec<i64>, Vec<i64>),
        topics: Topics,
        ledger: Arc<Ledger>,
        directory: Addr<Directory>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            consumer: Arc::new(consumer),
            topics,
            live_from: Arc::new(live_from),
            sessions_live_from: Arc::new(sessions_live_from),
            ledger,
            directory,
            metrics,
        }
    }
}

/// Sends to the Directory; waits for room when its mailbox is full.
async fn deliver(directory: &Addr<Directory>, msg: Dispatch) {
    match directory.try_send(msg) {
        Ok(()) | Err(SendError::Closed(_)) => {}
        Err(SendError::Full(msg)) => {
            let _ = directory.send(msg).await;
        }
    }
}

/// The sender's hops of a traced message (`crate::inspect::trace`).
fn trace_header(m: &BorrowedMessage<'_>) -> Option<Vec<Hop>> {
    let value = m.headers()?.iter().find(|h| h.key == TRACE_HEADER)?.value?;
    serde_json::from_slice(value).ok()
}

/// Everything one record needs from the actor.
struct Context<'a> {
    topics: &'a Topics,
    live_from: &'a [i64],
    sessions_live_from: &'a [i64],
    ledger: &'a Ledger,
    directory: &'a Addr<Directory>,
    metrics: &'a Metrics,
}

async fn on_record(m: &BorrowedMessage<'_>, cx: &Context<'_>) {
    // Includes any wait for room in the Directory's mailbox.
    let _timer = cx.metrics.actors.time(Handled::ConsumerRecord);
    let received = Instant::now();
    let raw = Raw {
        topic: m.topic(),
        partition: m.partition(),
        offset: m.offset(),
        event_header: m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == EVENT_HEADER)
                .and_then(|h| h.value)
        }),
        payload: m.payload(),
        replayed_at_ms: (m.topic() == cx.topics.sessions
            && usize::try_from(m.partition())
                .ok()
                .and_then(|p| cx.sessions_live_from.get(p))
                .is_some_and(|&live| m.offset() < live))
        .then(|| m.timestamp().to_millis())
        .flatten(),
    };
    let inbound = match Inbound::parse(raw, cx.topics) {
        Ok(i) => i,
        Err(e) => {
            log::warn!(
                "consumer: topic={} partition={} offset={} skipped: {e}",
                raw.topic,
                raw.partition,
                raw.offset
            );
            cx.metrics.bad_records.inc();
            if raw.topic == cx.topics.messages {
                cx.ledger.passed(raw.partition, raw.offset);
            }
            return;
        }
    };
    let live = inbound.position().is_none_or(|at| {
        cx.live_from
            .get(at.partition as usize)
            .is_none_or(|&from| at.seq >= from)
    });
    match inbound {
        Inbound::Posted { at, message } => {
            let admission = cx.ledger.admit(at.partition, at.seq, &message);
            if !live {
                return;
            }
            if admission != Admission::Accepted {
                cx.metrics
                    .not_delivered
                    .with_label_values(&[match admission {
                        Admission::Duplicate { .. } => "duplicate",
                        Admission::NotParticipant => "not_participant",
                        Admission::Stale | Admission::Accepted => "stale",
                    }])
                    .inc();
                return;
            }
            let conversation_id = message.conversation_id;
            let message = message.at(at.seq);
            let trace = trace_header(m).map(|mut hops| {
                hops.push(cx.metrics.tracer.hop("consumed", "consumer"));
                cx.metrics.tracer.keep(message.id, &hops);
                Box::new(Trace {
                    id: message.id,
                    hops,
                })
            });
            let delivery = Delivery {
                at,
                conversation_id,
                frame: ServerFrame::Message { message }.to_json().into(),
                received,
                trace,
            };
            deliver(cx.directory, Dispatch::Message(delivery)).await;
        }
        Inbound::Joined {
            at,
            conversation_id,
            ref user_ids,
            version,
            ..
        } => {
            let fresh = cx.ledger.membership(
                at.partition,
                at.seq,
                conversation_id,
                user_ids,
                true,
                version,
            );
            // A copy of an event applied already (an outbox sent it again)
            // changes nothing anywhere.
            if live && fresh {
                deliver(cx.directory, Dispatch::Event(inbound)).await;
            }
        }
        Inbound::Left {
            at,
            conversation_id,
            user_id,
            version,
        } => {
            let fresh = cx.ledger.membership(
                at.partition,
                at.seq,
                conversation_id,
                &[user_id],
                false,
                version,
            );
            if live && fresh {
                deliver(cx.directory, Dispatch::Event(inbound)).await;
            }
        }
        Inbound::Renamed { at, .. } => {
            cx.ledger.passed(at.partition, at.seq);
            if live {
                deliver(cx.directory, Dispatch::Event(inbound)).await;
            }
        }
        Inbound::Typing { .. } | Inbound::SessionEnded { .. } => {
            deliver(cx.directory, Dispatch::Event(inbound)).await
        }
    }
}

impl Actor for KafkaConsumer {
    type Context = actix::Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.metrics.actors.alive(Kind::Consumer).set(1);
        let consumer = self.consumer.clone();
        let topics = self.topics.clone();
        let live_from = self.live_from.clone();
        let sessions_live_from = self.sessions_live_from.clone();
        let ledger = self.ledger.clone();
        let directory = self.directory.clone();
        let metrics = self.metrics.clone();
        let run = async move {
            let cx = Context {
                topics: &topics,
                live_from: &live_from,
                sessions_live_from: &sessions_live_from,
                ledger: &ledger,
                directory: &directory,
                metrics: &metrics,
            };
            loop {
                match consumer.recv().await {
                    Ok(m) => on_record(&m, &cx).await,
                    Err(e) => log::warn!("consumer: {e}"),
                }
            }
        };
        ctx.spawn(run.into_actor(self));
    }
}
