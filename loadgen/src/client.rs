//! One connection per user: handshake from a chosen source address, then
//! read every frame while (for senders) sending at a fixed pace.
//!
//! A message body carries its send time: `lg|<unix µs>|<padding>`, so a
//! receiver measures send→receive on the same host's clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actors_common::{ConversationId, MessageId};
use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::cli::{Args, Scenario};
use crate::provision::Plan;
use crate::report::{GatewaySample, ProcSampler};
use crate::stats::{Aggregator, Counters, Sample, Summary};

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Log {
    pub connected: bool,
    /// Message ids received, per conversation, in arrival order.
    pub received: HashMap<ConversationId, Vec<MessageId>>,
    /// Message ids this client sent and got an `ack` for.
    pub acked: Vec<(ConversationId, MessageId)>,
    /// `error` frames (and connection failures) by code.
    pub errors: HashMap<String, u64>,
}

/// The whole run's raw results.
#[derive(Debug)]
pub struct Outcome {
    pub logs: Vec<Log>,
    pub summary: Summary,
    pub gateways: Vec<GatewaySample>,
    pub send_window: Duration,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    message: Option<FrameMessage>,
    client_id: Option<Uuid>,
    code: Option<String>,
}

#[derive(Deserialize)]
struct FrameMessage {
    id: MessageId,
    conversation_id: ConversationId,
    body: String,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The send time written into a body, if it is one of ours.
fn sent_at(body: &str) -> Option<u64> {
    body.strip_prefix("lg|")?.split('|').next()?.parse().ok()
}

/// The moments every connection works to.
#[derive(Clone, Copy, Debug)]
struct Timeline {
    /// Sending starts (after the ramp and a second of settling).
    send_from: Instant,
    /// Sending stops.
    send_until: Instant,
    /// Connections close (after the drain).
    close_at: Instant,
}

struct Shared {
    url: String,
    addr: SocketAddr,
    source: std::net::IpAddr,
    token: String,
    conversation: Option<ConversationId>,
    interval: Option<Duration>,
    body_bytes: usize,
}

pub async fn run_all(args: &Args, plan: &Plan) -> anyhow::Result<Outcome> {
    let counters = Arc::new(Counters::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let aggregator = tokio::spawn(Aggregator::run(
        rx,
        counters.clone(),
        args.quiet,
        args.connections,
    ));
    let sampler = ProcSampler::new(&args.gateway_pids);
    let before = sampler.sample();

    let start = Instant::now();
    let send_from = start + args.ramp() + Duration::from_secs(1);
    let timeline = Timeline {
        send_from,
        send_until: send_from + args.duration(),
        close_at: send_from + args.duration() + args.drain(),
    };
    let per_sender = if plan.senders.is_empty() {
        0.0
    } else {
        args.rate / plan.senders.len() as f64
    };
    let mut sender_of: HashMap<usize, usize> = HashMap::new();
    for (user, conv) in &plan.senders {
        sender_of.insert(*user, *conv);
    }

    let mut tasks = Vec::with_capacity(plan.users.len());
    for (i, user) in plan.users.iter().enumerate() {
        let url = args.gateways[i % args.gateways.len()].clone();
        let addr = resolve(&url).await?;
        let conv = sender_of.get(&i).map(|&c| plan.conversations[c].id);
        let shared = Shared {
            url,
            addr,
            source: args.source_addrs[i % args.source_addrs.len()],
            token: user.ws_token.clone(),
            conversation: conv,
            interval: (conv.is_some() && per_sender > 0.0)
                .then(|| Duration::from_secs_f64(1.0 / per_sender)),
            body_bytes: args.body_bytes,
        };
        let ramp_at = start + args.ramp().mul_f64(i as f64 / plan.users.len() as f64);
        tasks.push(tokio::spawn(connection(
            shared,
            ramp_at,
            timeline,
            tx.clone(),
            counters.clone(),
        )));
    }
    drop(tx);

    // Memory is sampled with everyone connected, CPU over the sending window.
    tokio::time::sleep_until(timeline.send_from.into()).await;
    let connected = sampler.sample();
    let hold_end = if args.scenario == Scenario::Idle {
        timeline.send_until
    } else {
        timeline.close_at
    };
    tokio::time::sleep_until(hold_end.into()).await;
    let end = sampler.sample();

    let mut logs = Vec::with_capacity(tasks.len());
    for t in tasks {
        logs.push(t.await.context("connection task")?);
    }
    let summary = aggregator.await.context("aggregator")?;
    Ok(Outcome {
        logs,
        summary,
        gateways: ProcSampler::combine(&before, &connected, &end),
        send_window: args.duration(),
    })
}

async fn resolve(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("ws://")
        .context("only ws:// URLs are supported")?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    tokio::net::lookup_host(hostport)
        .await?
        .next()
        .with_context(|| format!("cannot resolve {hostport}"))
}

async fn connection(
    s: Shared,
    ramp_at: Instant,
    t: Timeline,
    samples: mpsc::UnboundedSender<Sample>,
    counters: Arc<Counters>,
) -> Log {
    let mut log = Log::default();
    tokio::time::sleep_until(ramp_at.into()).await;
    let began = Instant::now();
    let ws = match handshake(&s).await {
        Ok(ws) => ws,
        Err(e) => {
            *log.errors.entry(format!("connect: {e}")).or_default() += 1;
            counters.errors.fetch_add(1, Ordering::Relaxed);
            return log;
        }
    };
    let (mut sink, mut stream) = ws.split();
    // `ready` comes first.
    let ready = tokio::time::timeout(Duration::from_secs(30), stream.next()).await;
    if !matches!(&ready, Ok(Some(Ok(Message::Text(t)))) if t.contains("\"ready\"")) {
        *log.errors.entry("no ready frame".into()).or_default() += 1;
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return log;
    }
    log.connected = true;
    let _ = samples.send(Sample::Connect(began.elapsed()));
    counters.connected.fetch_add(1, Ordering::Relaxed);

    let mut pending: HashMap<Uuid, Instant> = HashMap::new();
    let padding = "x".repeat(s.body_bytes);
    let is_sender = s.interval.is_some();
    // Non-senders get a ticker that never matters (its arm is disabled).
    let mut ticker = tokio::time::interval_at(
        t.send_from.into(),
        s.interval.unwrap_or(Duration::from_secs(86_400)),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let close_at = tokio::time::sleep_until(t.close_at.into());
    tokio::pin!(close_at);
    loop {
        tokio::select! {
            _ = &mut close_at => break,
            _ = ticker.tick(), if is_sender && Instant::now() < t.send_until => {
                let Some(conversation) = s.conversation else { continue };
                let client_id = Uuid::new_v4();
                let body = format!("lg|{}|{padding}", now_us());
                let frame = serde_json::json!({"type": "send", "conversation_id": conversation, "client_id": client_id, "body": body});
                pending.insert(client_id, Instant::now());
                if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else {
                    *log.errors.entry("disconnected".into()).or_default() += 1;
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                };
                let Message::Text(text) = frame else { continue };
                let Ok(f) = serde_json::from_str::<Frame>(&text) else { continue };
                match f.kind.as_str() {
                    "message" => if let Some(m) = f.message {
                        if let Some(at) = sent_at(&m.body) {
                            let _ = samples.send(Sample::Deliver(Duration::from_micros(now_us().saturating_sub(at))));
                        }
                        log.received.entry(m.conversation_id).or_default().push(m.id);
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                    },
                    "ack" => if let (Some(cid), Some(m)) = (f.client_id, f.message) {
                        if let Some(at) = pending.remove(&cid) {
                            let _ = samples.send(Sample::Ack(at.elapsed()));
                        }
                        log.acked.push((m.conversation_id, m.id));
                        counters.acked.fetch_add(1, Ordering::Relaxed);
                    },
                    "error" => {
                        if let Some(cid) = f.client_id { pending.remove(&cid); }
                        *log.errors.entry(f.code.unwrap_or_default()).or_default() += 1;
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = sink.close().await;
    log
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn handshake(s: &Shared) -> anyhow::Result<Ws> {
    let socket = if s.addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(s.source, 0))?;
    let stream = socket.connect(s.addr).await?;
    stream.set_nodelay(true)?;
    let mut request = s.url.as_str().into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(&format!("chat.v1, bearer.{}", s.token))?,
    );
    let (ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    Ok(ws)
}
