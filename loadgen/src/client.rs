//! One connection per user: handshake from a chosen source address, then
//! read every frame while (for senders) sending at a fixed pace. In the
//! `churn` scenario a sender's tick first creates a new conversation (over
//! HTTP, as the bff would) and then sends its first message at once.
//!
//! A message body carries its send time: `lg|<unix µs>|<padding>`, so a
//! receiver measures send→receive on the same host's clock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actors_common::{ConversationId, MessageId};
use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::cli::{Args, Scenario};
use crate::provision::Plan;
use crate::stats::{Aggregator, Counters, ProgressOut, Recorded, Sample};

/// A delivered message: its id and its `seq`.
pub type Delivered = (MessageId, i64);

/// What became of one `send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// Acknowledged: stored as this message.
    Acked(MessageId, i64),
    /// Refused with this error code.
    Refused(String),
    /// Neither ack nor error came before the end.
    Unanswered,
}

/// One `send` of this client, in send order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub conversation: ConversationId,
    pub answer: Answer,
}

/// What one connection saw.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub connected: bool,
    /// Messages received, per conversation, in arrival order.
    pub received: HashMap<ConversationId, Vec<Delivered>>,
    /// This client's sends, in the order it sent them.
    pub sent: Vec<Sent>,
    /// Conversations this client created during the run (`churn`), with
    /// their members (indices into the plan's users).
    pub created: Vec<(ConversationId, Vec<usize>)>,
    /// `error` frames (and connection failures) by code.
    pub errors: HashMap<String, u64>,
}

impl Log {
    /// The messages this client got an `ack` for.
    pub fn acked(&self) -> impl Iterator<Item = (ConversationId, MessageId, i64)> + '_ {
        self.sent.iter().filter_map(|s| match s.answer {
            Answer::Acked(id, seq) => Some((s.conversation, id, seq)),
            _ => None,
        })
    }
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    message: Option<FrameMessage<'a>>,
    client_id: Option<Uuid>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

/// Borrowed from the frame's text where it can be (no escapes): one frame
/// per delivery, so allocations here are per delivery.
#[derive(Deserialize)]
struct FrameMessage<'a> {
    id: MessageId,
    conversation_id: ConversationId,
    #[serde(borrow)]
    body: Cow<'a, str>,
    seq: i64,
}

pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The send time written into a body, if it is one of ours.
fn sent_at(body: &str) -> Option<u64> {
    body.strip_prefix("lg|")?.split('|').next()?.parse().ok()
}

/// The moments every connection works to, shared by all worker processes.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// Connections start opening (spread over the ramp).
    pub start: Instant,
    /// Sending starts (after the ramp and a second of settling).
    pub send_from: Instant,
    /// Sending stops.
    pub send_until: Instant,
    /// Connections close (after the drain).
    pub close_at: Instant,
    ramp: Duration,
}

impl Timeline {
    pub fn new(args: &Args, start: Instant) -> Self {
        let send_from = start + args.ramp() + Duration::from_secs(1);
        Self {
            start,
            send_from,
            send_until: send_from + args.duration(),
            close_at: send_from + args.duration() + args.drain(),
            ramp: args.ramp(),
        }
    }

    /// The end of the window over which gateway CPU is measured: the
    /// holding time for `idle`, sending plus drain otherwise.
    pub fn measured_until(&self, scenario: Scenario) -> Instant {
        if scenario == Scenario::Idle {
            self.send_until
        } else {
            self.close_at
        }
    }
}

struct Shared {
    url: String,
    addr: SocketAddr,
    source: std::net::IpAddr,
    token: String,
    conversation: Option<ConversationId>,
    interval: Option<Duration>,
    /// This sender's first send, after `send_from`: senders are spread
    /// evenly over one interval so the load is a steady stream, not a
    /// burst from every sender at the same instant.
    phase: Duration,
    body_bytes: usize,
    /// `churn`: how this sender creates each conversation it sends to.
    churn: Option<Churn>,
}

/// What a `churn` sender needs to create conversations.
#[derive(Clone)]
struct Churn {
    http: reqwest::Client,
    message_store_url: String,
    /// A message-store token for this user.
    token: String,
    /// This sender's position among the users, and the users' ids.
    me: usize,
    users: Arc<Vec<actors_common::UserId>>,
    members: usize,
}

impl Churn {
    /// The members of this sender's conversation number `round`: itself and
    /// the next ones by index, shifted each round (so they sit on every
    /// gateway, as users are dealt to gateways by index).
    fn members(&self, round: usize) -> Vec<usize> {
        let n = self.users.len();
        let mut m = vec![self.me];
        let mut k = self.me + 1 + round;
        while m.len() < self.members.min(n) {
            let candidate = k % n;
            if !m.contains(&candidate) {
                m.push(candidate);
            }
            k += 1;
        }
        m
    }

    /// Creates the group, as the bff would (on message-store directly).
    async fn create(&self, members: &[usize]) -> anyhow::Result<ConversationId> {
        let others: Vec<actors_common::UserId> =
            members.iter().skip(1).map(|&i| self.users[i]).collect();
        let resp = self
            .http
            .post(format!(
                "{}/conversations",
                self.message_store_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"kind": "group", "name": "churn", "participant_ids": others}))
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        anyhow::ensure!(status.as_u16() == 201, "creating: {status} {body}");
        Ok(serde_json::from_value(body["conversation"]["id"].clone())?)
    }
}

/// Runs the connections of `users` (indices into `plan.users`) on this
/// process's runtime. User `i` opens at `start + ramp * i / N`, goes to
/// gateway `i mod G` from source address `i mod A`, whichever process runs
/// it, so a run spread over worker processes behaves like one process.
/// Returns the logs in the order of `users`, and what was recorded.
pub async fn run_users(
    args: &Args,
    plan: &Plan,
    users: &[usize],
    timeline: Timeline,
    progress: ProgressOut,
) -> anyhow::Result<(Vec<Log>, Recorded)> {
    let counters = Arc::new(Counters::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let aggregator = tokio::spawn(Aggregator::run(
        rx,
        counters.clone(),
        progress,
        plan.users.len(),
        timeline.start,
    ));
    let per_sender = if plan.senders.is_empty() {
        0.0
    } else {
        args.rate / plan.senders.len() as f64
    };
    // user → (conversation, position among the senders)
    let mut sender_of: HashMap<usize, (usize, usize)> = HashMap::new();
    for (k, (user, conv)) in plan.senders.iter().enumerate() {
        sender_of.insert(*user, (*conv, k));
    }
    let mut addrs = HashMap::new();
    for url in &args.gateways {
        addrs.insert(url.clone(), resolve(url).await?);
    }
    let churn = (args.scenario == Scenario::Churn).then(|| {
        (
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            Arc::new(plan.users.iter().map(|u| u.id).collect::<Vec<_>>()),
        )
    });

    let mut tasks = Vec::with_capacity(users.len());
    for &i in users {
        let user = plan.users.get(i).context("user index out of range")?;
        let url = args.gateways[i % args.gateways.len()].clone();
        let conv = sender_of
            .get(&i)
            .and_then(|&(c, _)| plan.conversations.get(c))
            .map(|c| c.id);
        let is_sender = sender_of.contains_key(&i);
        let interval =
            (is_sender && per_sender > 0.0).then(|| Duration::from_secs_f64(1.0 / per_sender));
        let phase = match (interval, sender_of.get(&i)) {
            (Some(every), Some(&(_, k))) => every.mul_f64(k as f64 / plan.senders.len() as f64),
            _ => Duration::ZERO,
        };
        let shared = Shared {
            addr: addrs[&url],
            url,
            source: args.source_addrs[i % args.source_addrs.len()],
            token: user.ws_token.clone(),
            conversation: conv,
            interval,
            phase,
            body_bytes: args.body_bytes,
            churn: churn
                .as_ref()
                .filter(|_| is_sender)
                .map(|(http, users)| Churn {
                    http: http.clone(),
                    message_store_url: args.message_store_url.clone(),
                    token: user.store_token.clone(),
                    me: i,
                    users: users.clone(),
                    members: args.members,
                }),
        };
        let ramp_at = timeline.start + timeline.ramp.mul_f64(i as f64 / plan.users.len() as f64);
        tasks.push(tokio::spawn(connection(
            shared,
            ramp_at,
            timeline,
            tx.clone(),
            counters.clone(),
        )));
    }
    drop(tx);

    let mut logs = Vec::with_capacity(tasks.len());
    for t in tasks {
        logs.push(t.await.context("connection task")?);
    }
    let recorded = aggregator.await.context("aggregator")?;
    Ok((logs, recorded))
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
    let mut ws = match handshake(&s).await {
        Ok(ws) => ws,
        Err(e) => {
            *log.errors.entry(format!("connect: {e}")).or_default() += 1;
            counters.errors.fetch_add(1, Ordering::Relaxed);
            return log;
        }
    };
    // `ready` comes first.
    let ready = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
    if !matches!(&ready, Ok(Some(Ok(Message::Text(t)))) if t.contains("\"ready\"")) {
        *log.errors.entry("no ready frame".into()).or_default() += 1;
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return log;
    }
    log.connected = true;
    let _ = samples.send(Sample::Connect(began.elapsed()));
    counters.connected.fetch_add(1, Ordering::Relaxed);

    // client id → (when it was sent, its place in `log.sent`)
    let mut pending: HashMap<Uuid, (Instant, usize)> = HashMap::new();
    let padding = "x".repeat(s.body_bytes);
    let is_sender = s.interval.is_some();
    // Non-senders get a ticker that never matters (its arm is disabled).
    let mut ticker = tokio::time::interval_at(
        (t.send_from + s.phase).into(),
        s.interval.unwrap_or(Duration::from_secs(86_400)),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let close_at = tokio::time::sleep_until(t.close_at.into());
    tokio::pin!(close_at);
    // `churn`: conversations created (by a task each), ready for their first message.
    let (created_tx, mut created_rx) = mpsc::unbounded_channel::<(ConversationId, Vec<usize>)>();
    let mut round = 0;
    loop {
        let target = tokio::select! {
            _ = &mut close_at => break,
            _ = ticker.tick(), if is_sender && Instant::now() < t.send_until => {
                if let Some(churn) = &s.churn {
                    let (churn, tx, members) = (churn.clone(), created_tx.clone(), churn.members(round));
                    round += 1;
                    let counters = counters.clone();
                    tokio::spawn(async move {
                        match churn.create(&members).await {
                            Ok(c) => { let _ = tx.send((c, members)); }
                            Err(e) => {
                                eprintln!("loadgen: churn: {e:#}");
                                counters.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                    continue;
                }
                s.conversation
            }
            Some((c, members)) = created_rx.recv() => {
                log.created.push((c, members));
                Some(c)
            }
            // One stream for reading and writing (no split halves and
            // their lock on every poll); `next` is cancel-safe.
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else {
                    *log.errors.entry("disconnected".into()).or_default() += 1;
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                };
                let Message::Text(text) = frame else { continue };
                let Ok(f) = serde_json::from_str::<Frame>(&text) else { continue };
                match f.kind.as_ref() {
                    "message" => if let Some(m) = f.message {
                        if let Some(at) = sent_at(&m.body) {
                            let _ = samples.send(Sample::Deliver(Duration::from_micros(now_us().saturating_sub(at))));
                        }
                        log.received.entry(m.conversation_id).or_default().push((m.id, m.seq));
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                    },
                    "ack" => if let (Some(cid), Some(m)) = (f.client_id, f.message) {
                        if let Some((at, k)) = pending.remove(&cid) {
                            let _ = samples.send(Sample::Ack(at.elapsed()));
                            log.sent[k].answer = Answer::Acked(m.id, m.seq);
                        }
                        counters.acked.fetch_add(1, Ordering::Relaxed);
                    },
                    "error" => {
                        let code = f.code.unwrap_or_default().into_owned();
                        if let Some((_, k)) = f.client_id.and_then(|cid| pending.remove(&cid)) {
                            log.sent[k].answer = Answer::Refused(code.clone());
                        }
                        *log.errors.entry(code).or_default() += 1;
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                continue;
            }
        };
        let Some(conversation) = target else { continue };
        let client_id = Uuid::new_v4();
        let body = format!("lg|{}|{padding}", now_us());
        let frame = serde_json::json!({"type": "send", "conversation_id": conversation, "client_id": client_id, "body": body});
        pending.insert(client_id, (Instant::now(), log.sent.len()));
        log.sent.push(Sent {
            conversation,
            answer: Answer::Unanswered,
        });
        if ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
        counters.sent.fetch_add(1, Ordering::Relaxed);
    }
    let _ = ws.close(None).await;
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
    // tungstenite reads into a 128 KiB buffer per connection by default:
    // 2.5 GB for 19,000 connections. Frames here are a few hundred bytes.
    // tungstenite zero-fills up to this much before every read (two reads a
    // frame: one with data, one `WouldBlock`), so keep it near frame size.
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    Ok(ws)
}
