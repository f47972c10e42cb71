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
use crate::stats::{legs, Aggregator, Counters, ProgressOut, Recorded, Sample};

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
    /// Times it went out (more than one: resent after `unavailable` or a
    /// reconnect; such a message may land after later ones).
    #[serde(default = "one")]
    pub attempts: u32,
}

fn one() -> u32 {
    1
}

/// What a client that stopped reading found when it read again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallOutcome {
    /// The server had closed the connection (or dropped it).
    pub closed: bool,
    /// The close code, when a close frame came.
    pub code: Option<u16>,
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
    /// `--resilient`: messages read from history after a reconnect (not
    /// seen live), per conversation.
    pub caught_up: HashMap<ConversationId, Vec<Delivered>>,
    /// `--resilient`: times this client connected again.
    pub reconnects: u32,
    /// `--resilient`: sends sent again (after `unavailable` or a reconnect).
    pub resent: u64,
    /// `--resilient`: `unavailable` answers.
    pub unavailable: u64,
    /// Time from the fault to the first ack of a send sent after it.
    pub first_ack_after_fault: Option<Duration>,
    /// `--stall`: what this client found after it stopped reading.
    pub stall: Option<StallOutcome>,
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
    /// A `Message` in `message` and `ack` frames, a text in `error` frames:
    /// read once the kind is known.
    #[serde(borrow)]
    message: Option<&'a serde_json::value::RawValue>,
    client_id: Option<Uuid>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    /// A traced message's hops (`message` and `ack` frames).
    #[serde(borrow)]
    trace: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct FrameTrace<'a> {
    #[serde(borrow)]
    hops: Vec<FrameHop<'a>>,
}

#[derive(Deserialize)]
struct FrameHop<'a> {
    #[serde(borrow)]
    hop: Cow<'a, str>,
    at_us: i64,
}

impl<'a> Frame<'a> {
    /// The frame's `Message` (`message` and `ack` frames).
    fn message(&self) -> Option<FrameMessage<'a>> {
        serde_json::from_str(self.message?.get()).ok()
    }
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
    /// `--trace-sample`: ask for a trace on every N-th send (0: never).
    trace_sample: u64,
    /// `churn`: how this sender creates each conversation it sends to.
    churn: Option<Churn>,
    /// `--resilient`: how this client catches up after a reconnect.
    recovery: Option<Recovery>,
    /// `--stall`: this client stops reading for this long at the fault.
    stall: Option<Duration>,
    /// When the fault was injected (loadgen got SIGUSR1), once it was.
    fault: Arc<std::sync::OnceLock<Instant>>,
    fault_seen: Arc<tokio::sync::Notify>,
}

/// What a resilient client needs to catch up from history.
#[derive(Clone)]
struct Recovery {
    http: reqwest::Client,
    message_store_url: String,
    /// A message-store token for this user.
    token: String,
    /// This user's conversations.
    conversations: Vec<ConversationId>,
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
    // The fault: `--fault-cmd` runs at `--fault-at` seconds into sending,
    // and that moment is the fault's time for every client.
    let fault: Arc<std::sync::OnceLock<Instant>> = Arc::default();
    let fault_seen: Arc<tokio::sync::Notify> = Arc::default();
    if let Some(cmd) = args.fault_cmd.clone() {
        let (fault, seen) = (fault.clone(), fault_seen.clone());
        let at = timeline.send_from + Duration::from_secs(args.fault_at);
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let _ = fault.set(Instant::now());
            seen.notify_waiters();
            eprintln!("loadgen: injecting the fault: {cmd}");
            match tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .status()
                .await
            {
                Ok(s) if s.success() => eprintln!("loadgen: the fault command finished"),
                Ok(s) => eprintln!("loadgen: the fault command failed: {s}"),
                Err(e) => eprintln!("loadgen: cannot run the fault command: {e}"),
            }
        });
    }
    let mut member_of: HashMap<usize, Vec<ConversationId>> = HashMap::new();
    for c in &plan.conversations {
        for &m in &c.members {
            member_of.entry(m).or_default().push(c.id);
        }
    }
    // Stallers: the first `--stall` users that do not send.
    let stallers: std::collections::HashSet<usize> = (0..plan.users.len())
        .filter(|i| !sender_of.contains_key(i))
        .take(args.stall)
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
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
            trace_sample: args.trace_sample,
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
            recovery: (args.resilient && !stallers.contains(&i)).then(|| Recovery {
                http: http.clone(),
                message_store_url: args.message_store_url.clone(),
                token: user.store_token.clone(),
                conversations: member_of.get(&i).cloned().unwrap_or_default(),
            }),
            stall: stallers
                .contains(&i)
                .then(|| Duration::from_secs(args.stall_secs)),
            fault: fault.clone(),
            fault_seen: fault_seen.clone(),
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

/// A send not answered yet: when it went, where it is in `log.sent`, and
/// its frame (a resilient client sends the same frame again).
struct PendingSend {
    at: Instant,
    k: usize,
    frame: String,
}

/// How one connection of a client ended.
enum Ended {
    /// The run is over.
    Done,
    /// The server closed it or it dropped.
    Lost,
}

/// Everything a client keeps across its connections.
struct Client<'a> {
    s: &'a Shared,
    t: Timeline,
    samples: &'a mpsc::UnboundedSender<Sample>,
    counters: &'a Counters,
    log: Log,
    pending: HashMap<Uuid, PendingSend>,
    /// Sends to go again (answered `unavailable`), each when it is due.
    retry: Vec<(Uuid, Instant)>,
    round: usize,
}

async fn connection(
    s: Shared,
    ramp_at: Instant,
    t: Timeline,
    samples: mpsc::UnboundedSender<Sample>,
    counters: Arc<Counters>,
) -> Log {
    tokio::time::sleep_until(ramp_at.into()).await;
    let mut c = Client {
        s: &s,
        t,
        samples: &samples,
        counters: &counters,
        log: Log::default(),
        pending: HashMap::new(),
        retry: Vec::new(),
        round: 0,
    };
    let padding = "x".repeat(s.body_bytes);
    // Senders' ticks: at their phase of the interval (non-senders get one
    // that never matters; its arm is disabled).
    let mut ticker = tokio::time::interval_at(
        (t.send_from + s.phase).into(),
        s.interval.unwrap_or(Duration::from_secs(86_400)),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut backoff = Duration::from_millis(100);
    loop {
        let began = Instant::now();
        let connected = match handshake(&s).await {
            Ok(mut ws) => ready(&mut ws).await.map(|live_from| (ws, live_from)),
            Err(e) => {
                *c.log.errors.entry(format!("connect: {e}")).or_default() += 1;
                None
            }
        };
        let Some((mut ws, live_from)) = connected else {
            if !c.log.connected {
                *c.log.errors.entry("no ready frame".into()).or_default() += 1;
                counters.errors.fetch_add(1, Ordering::Relaxed);
                if s.recovery.is_none() {
                    return c.log;
                }
            }
            if s.recovery.is_none() || Instant::now() >= t.close_at {
                return c.log;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            continue;
        };
        backoff = Duration::from_millis(100);
        if c.log.connected {
            c.log.reconnects += 1;
            // Back online: what was missed comes from history, and what
            // was never answered goes again with its client id (as the UI).
            if let Some(r) = &s.recovery {
                c.catch_up(r, &live_from).await;
            }
            let again: Vec<(usize, String)> = {
                let mut p: Vec<&PendingSend> = c.pending.values().collect();
                p.sort_by_key(|p| p.k);
                p.iter().map(|p| (p.k, p.frame.clone())).collect()
            };
            for (k, frame) in again {
                c.log.resent += 1;
                c.log.sent[k].attempts += 1;
                if ws.send(Message::Text(frame.into())).await.is_err() {
                    break;
                }
            }
        } else {
            c.log.connected = true;
            let _ = samples.send(Sample::Connect(began.elapsed()));
            counters.connected.fetch_add(1, Ordering::Relaxed);
        }
        match c.session(&mut ws, &mut ticker, &padding).await {
            Ended::Done => {
                let _ = ws.close(None).await;
                break;
            }
            Ended::Lost if s.recovery.is_some() && Instant::now() < t.close_at => {
                tokio::time::sleep(backoff).await;
            }
            Ended::Lost => break,
        }
    }
    c.log
}

/// Reads the `ready` frame; the `live_from` it gives, per conversation.
async fn ready(ws: &mut Ws) -> Option<HashMap<ConversationId, i64>> {
    #[derive(Deserialize)]
    struct Ready {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        live_from: HashMap<ConversationId, i64>,
    }
    // The first text frame; pings may come before it (tungstenite answers them).
    let text = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await
    .ok()??;
    let ready: Ready = serde_json::from_str(&text).ok()?;
    (ready.kind == "ready").then_some(ready.live_from)
}

impl Client<'_> {
    /// One connection's life: sends at the client's pace, reads every frame.
    async fn session(
        &mut self,
        ws: &mut Ws,
        ticker: &mut tokio::time::Interval,
        padding: &str,
    ) -> Ended {
        let (s, t) = (self.s, self.t);
        let is_sender = s.interval.is_some();
        let close_at = tokio::time::sleep_until(t.close_at.into());
        tokio::pin!(close_at);
        let retry_every = Duration::from_millis(250);
        let mut retry_tick = tokio::time::interval(retry_every);
        // `churn`: conversations created (by a task each), ready for their first message.
        let (created_tx, mut created_rx) =
            mpsc::unbounded_channel::<(ConversationId, Vec<usize>)>();
        loop {
            // A stalled client stops reading at the fault for a while: the
            // gateway must close it (1008) without anyone else waiting.
            if let Some(stall) = s.stall {
                if let Some(at) = s.fault.get().copied() {
                    if self.log.stall.is_none() {
                        return self.stalled(ws, at + stall).await;
                    }
                }
            }
            let target = tokio::select! {
                _ = &mut close_at => return Ended::Done,
                _ = s.fault_seen.notified(), if s.stall.is_some() && self.log.stall.is_none() => continue,
                _ = ticker.tick(), if is_sender && Instant::now() < t.send_until => {
                    if let Some(churn) = &s.churn {
                        let (churn, tx, members) = (churn.clone(), created_tx.clone(), churn.members(self.round));
                        self.round += 1;
                        tokio::spawn(async move {
                            match churn.create(&members).await {
                                Ok(c) => { let _ = tx.send((c, members)); }
                                Err(e) => eprintln!("loadgen: churn: {e:#}"),
                            }
                        });
                        continue;
                    }
                    s.conversation
                }
                _ = retry_tick.tick(), if !self.retry.is_empty() => {
                    let now = Instant::now();
                    let (due, later) = std::mem::take(&mut self.retry)
                        .into_iter()
                        .partition::<Vec<_>, _>(|(_, at)| *at <= now);
                    self.retry = later;
                    for (cid, _) in due {
                        if let Some(p) = self.pending.get(&cid) {
                            self.log.resent += 1;
                            self.log.sent[p.k].attempts += 1;
                            if ws.send(Message::Text(p.frame.clone().into())).await.is_err() {
                                return Ended::Lost;
                            }
                        }
                    }
                    continue;
                }
                Some((c, members)) = created_rx.recv() => {
                    self.log.created.push((c, members));
                    Some(c)
                }
                // One stream for reading and writing (no split halves and
                // their lock on every poll); `next` is cancel-safe.
                frame = ws.next() => {
                    let Some(Ok(frame)) = frame else {
                        *self.log.errors.entry("disconnected".into()).or_default() += 1;
                        if s.recovery.is_none() {
                            self.counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        return Ended::Lost;
                    };
                    match frame {
                        Message::Text(text) => self.on_frame(&text),
                        Message::Close(_) => {
                            *self.log.errors.entry("closed by the server".into()).or_default() += 1;
                            if s.recovery.is_none() {
                                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                            }
                            return Ended::Lost;
                        }
                        _ => {}
                    }
                    continue;
                }
            };
            let Some(conversation) = target else { continue };
            let client_id = Uuid::new_v4();
            let body = format!("lg|{}|{padding}", now_us());
            let mut frame = serde_json::json!({"type": "send", "conversation_id": conversation, "client_id": client_id, "body": body});
            let n = self.counters.sends_begun.fetch_add(1, Ordering::Relaxed);
            if s.trace_sample > 0 && n % s.trace_sample == 0 {
                frame["trace"] = true.into();
            }
            let frame = frame.to_string();
            self.pending.insert(
                client_id,
                PendingSend {
                    at: Instant::now(),
                    k: self.log.sent.len(),
                    frame: frame.clone(),
                },
            );
            self.log.sent.push(Sent {
                conversation,
                answer: Answer::Unanswered,
                attempts: 1,
            });
            if ws.send(Message::Text(frame.into())).await.is_err() {
                return Ended::Lost;
            }
            self.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_frame(&mut self, text: &str) {
        let Ok(f) = serde_json::from_str::<Frame>(text) else {
            return;
        };
        match f.kind.as_ref() {
            "message" => {
                if let Some(m) = f.message() {
                    if let Some(at) = sent_at(&m.body) {
                        let now = now_us();
                        let _ = self.samples.send(Sample::Deliver(Duration::from_micros(
                            now.saturating_sub(at),
                        )));
                        self.record_legs(&f, "", at, now);
                    }
                    self.log
                        .received
                        .entry(m.conversation_id)
                        .or_default()
                        .push((m.id, m.seq));
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            "ack" => {
                if let (Some(cid), Some(m)) = (f.client_id, f.message()) {
                    if let Some(at) = sent_at(&m.body) {
                        self.record_legs(&f, "ack ", at, now_us());
                    }
                    if let Some(p) = self.pending.remove(&cid) {
                        let _ = self.samples.send(Sample::Ack(p.at.elapsed()));
                        self.log.sent[p.k].answer = Answer::Acked(m.id, m.seq);
                        // Recovery: the first ack of a send sent after the fault.
                        if let Some(&fault) = self.s.fault.get() {
                            if p.at > fault {
                                let after = fault.elapsed();
                                let first = &mut self.log.first_ack_after_fault;
                                if first.is_none_or(|f| after < f) {
                                    *first = Some(after);
                                }
                            }
                        }
                    }
                    self.counters.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            "error" => {
                let code = f.code.unwrap_or_default().into_owned();
                let resilient = self.s.recovery.is_some();
                if let Some(cid) = f.client_id {
                    if let Some(p) = self
                        .pending
                        .get(&cid)
                        .filter(|_| resilient && code == "unavailable")
                    {
                        // The protocol's answer to it: send it again, same
                        // client id, backing off (0.5 s, doubling to 8 s) so
                        // that a struggling system is not flooded by retries.
                        let attempts = self.log.sent[p.k].attempts.clamp(1, 5);
                        let delay = Duration::from_millis(500) * (1 << (attempts - 1));
                        self.retry.push((cid, Instant::now() + delay));
                        self.log.unavailable += 1;
                        return;
                    }
                    if let Some(p) = self.pending.remove(&cid) {
                        self.log.sent[p.k].answer = Answer::Refused(code.clone());
                    }
                }
                *self.log.errors.entry(code).or_default() += 1;
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// A traced frame's legs, each a sample named `prefix` + leg.
    fn record_legs(&self, f: &Frame, prefix: &str, sent_at_us: u64, read_at_us: u64) {
        let Some(trace) = f.trace else { return };
        let Ok(trace) = serde_json::from_str::<FrameTrace>(trace.get()) else {
            return;
        };
        let hops: Vec<(&str, i64)> = trace
            .hops
            .iter()
            .map(|h| (h.hop.as_ref(), h.at_us))
            .collect();
        for (leg, d) in legs(sent_at_us, &hops, read_at_us) {
            let _ = self.samples.send(Sample::Leg(format!("{prefix}{leg}"), d));
        }
    }

    /// Stops reading until `until`, then reads what is left: the server
    /// should have closed the connection (1008) meanwhile.
    async fn stalled(&mut self, ws: &mut Ws, until: Instant) -> Ended {
        tokio::time::sleep_until(until.into()).await;
        let mut outcome = StallOutcome::default();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    outcome.closed = true;
                    outcome.code = frame.map(|f| u16::from(f.code));
                    break;
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) | Ok(None) => {
                    outcome.closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        self.log.stall = Some(outcome);
        Ended::Done
    }

    /// Reads history after the last message seen in each conversation until
    /// it is complete up to where this connection's live messages begin.
    async fn catch_up(&mut self, r: &Recovery, live_from: &HashMap<ConversationId, i64>) {
        #[derive(Deserialize)]
        struct Page {
            messages: Vec<PageMessage>,
            next: Option<MessageId>,
            complete_through: i64,
        }
        #[derive(Deserialize)]
        struct PageMessage {
            id: MessageId,
            seq: i64,
        }
        let base = r.message_store_url.trim_end_matches('/');
        let deadline = Instant::now() + Duration::from_secs(30);
        for &c in &r.conversations {
            let seen: std::collections::HashSet<MessageId> = self
                .log
                .received
                .get(&c)
                .into_iter()
                .chain(self.log.caught_up.get(&c))
                .flatten()
                .map(|(id, _)| *id)
                .collect();
            let last = self
                .log
                .received
                .get(&c)
                .into_iter()
                .chain(self.log.caught_up.get(&c))
                .flatten()
                .map(|(_, seq)| *seq)
                .max()
                .unwrap_or(-1);
            let mut query = format!("after_seq={last}");
            let mut found = Vec::new();
            loop {
                let url = format!("{base}/conversations/{c}/messages?{query}&limit=100");
                let page = match r.http.get(&url).bearer_auth(&r.token).send().await {
                    Ok(resp) if resp.status().is_success() => resp.json::<Page>().await.ok(),
                    _ => None,
                };
                if let Some(page) = &page {
                    // Only what lies before this connection's live part:
                    // from `live_from` on, the gateway delivers it, and a
                    // copy both ways is the verdict's `duplicated`.
                    let live_part = live_from.get(&c).copied().unwrap_or(i64::MAX);
                    found.extend(
                        page.messages
                            .iter()
                            .filter(|m| !seen.contains(&m.id) && m.seq < live_part)
                            .map(|m| (m.id, m.seq)),
                    );
                    if let Some(next) = page.next {
                        query = format!("after={next}");
                        continue;
                    }
                    let wanted = live_from.get(&c).map_or(i64::MIN, |l| l - 1);
                    if page.complete_through >= wanted {
                        break;
                    }
                }
                if Instant::now() > deadline {
                    *self
                        .log
                        .errors
                        .entry("catch-up incomplete".into())
                        .or_default() += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let last = found
                    .iter()
                    .map(|(_, s)| *s)
                    .max()
                    .unwrap_or(last)
                    .max(last);
                query = format!("after_seq={last}");
            }
            if !found.is_empty() {
                self.log.caught_up.entry(c).or_default().extend(found);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_frame_kind_is_read() {
        let error = r#"{"type":"error","code":"unavailable","message":"resend it","client_id":"8d8ac610-566d-4ef0-9c22-186b2a5ed793"}"#;
        let f: Frame = serde_json::from_str(error).unwrap();
        assert_eq!(
            (f.kind.as_ref(), f.code.as_deref()),
            ("error", Some("unavailable"))
        );
        assert!(f.client_id.is_some());
        assert!(f.message().is_none(), "an error's message is text");

        let message = r#"{"type":"message","message":{"id":"0192f0c2-0000-7000-8000-000000000001","conversation_id":"0192f0c1-7b7e-7cc0-8f00-3a1d2b4c5d6e","sender_id":"5f0c7a0e-4b7c-4c1e-9a8e-2f1d3c4b5a69","body":"lg|5|x","created_at":"2026-11-27T10:00:00.123Z","client_id":null,"seq":7}}"#;
        let f: Frame = serde_json::from_str(message).unwrap();
        let m = f.message().unwrap();
        assert_eq!((m.seq, sent_at(&m.body)), (7, Some(5)));
    }
}
