//! Message traces: a traced send records a [`Hop`] at every step it takes
//! through the actors, on every gateway that delivers it.
//!
//! A send is traced when its frame says `"trace": true` and its sender may
//! ask (`TRACE_USERS`), or when it is the N-th send of this gateway
//! (`TRACE_SAMPLE`). The sender's gateway puts the hops so far in the
//! record's `chat.trace` header; every gateway that reads the record adds
//! its own (consumer, Directory, Conversation, Hub) and writes them into the
//! `message` frame it delivers (a `trace` field next to `message`), so each
//! receiver gets the whole path of its own copy; the sender's `ack` carries
//! the sender's side. Each gateway also keeps its last traces for the
//! inspector. Times are wall-clock microseconds: comparable between the
//! processes of one machine, off by the clocks' skew across machines.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use actors_common::{MessageId, UserId};
use serde::{Deserialize, Serialize};

/// The record header that carries the sender's hops.
pub const TRACE_HEADER: &str = "chat.trace";

/// Traces each gateway keeps for the inspector.
pub const KEPT: usize = 200;

/// One step of a traced message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// What happened (`received`, `produced`, `consumed`, ...).
    pub hop: String,
    /// Wall clock, microseconds since the Unix epoch.
    pub at_us: i64,
    /// The gateway.
    pub gateway: String,
    /// The thread it ran on.
    pub thread: String,
    /// The actor (`session 17`, `conversation 01a2…`, `hub 0`).
    pub actor: String,
}

/// A message's hops, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The message's id.
    pub id: MessageId,
    pub hops: Vec<Hop>,
}

/// Who may ask for a trace with the frame's flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceUsers {
    Nobody,
    Anyone,
    These(HashSet<UserId>),
}

impl TraceUsers {
    /// `""` nobody, `"*"` anyone, else a comma-separated list of user ids.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" => Ok(TraceUsers::Nobody),
            "*" => Ok(TraceUsers::Anyone),
            list => list
                .split(',')
                .map(|u| {
                    u.trim()
                        .parse::<UserId>()
                        .map_err(|e| format!("{u:?}: {e}"))
                })
                .collect::<Result<_, _>>()
                .map(TraceUsers::These),
        }
    }

    fn allows(&self, user: UserId) -> bool {
        match self {
            TraceUsers::Nobody => false,
            TraceUsers::Anyone => true,
            TraceUsers::These(set) => set.contains(&user),
        }
    }
}

/// This gateway's tracing: who is traced, and the last traces.
#[derive(Debug)]
pub struct Tracer {
    gateway: String,
    users: TraceUsers,
    /// Trace one send in this many (0: none by sampling).
    sample_every: u64,
    sends: AtomicU64,
    kept: Mutex<VecDeque<Trace>>,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl Tracer {
    pub fn new(gateway: impl Into<String>, users: TraceUsers, sample_every: u64) -> Self {
        Self {
            gateway: gateway.into(),
            users,
            sample_every,
            sends: AtomicU64::new(0),
            kept: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }

    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// Whether this send is traced: asked for by a user who may, or sampled.
    pub fn traced(&self, user: UserId, asked: bool) -> bool {
        if asked && self.users.allows(user) {
            return true;
        }
        self.sample_every > 0 && self.sends.fetch_add(1, Ordering::Relaxed) % self.sample_every == 0
    }

    /// A hop happening now, here (on this thread), in `actor`.
    pub fn hop(&self, hop: &str, actor: impl Into<String>) -> Hop {
        Hop {
            hop: hop.to_owned(),
            at_us: now_us(),
            gateway: self.gateway.clone(),
            thread: std::thread::current().name().unwrap_or("?").to_owned(),
            actor: actor.into(),
        }
    }

    /// Keeps `hops` of message `id` (added to what is kept of it already,
    /// without repeating a hop kept before).
    pub fn keep(&self, id: MessageId, hops: &[Hop]) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let trace = match kept.iter().position(|t| t.id == id) {
            Some(i) => &mut kept[i],
            None => {
                if kept.len() == KEPT {
                    kept.pop_front();
                }
                kept.push_back(Trace {
                    id,
                    hops: Vec::new(),
                });
                kept.back_mut()
                    .unwrap_or_else(|| unreachable!("just pushed"))
            }
        };
        for hop in hops {
            if !trace.hops.contains(hop) {
                trace.hops.push(hop.clone());
            }
        }
        trace.hops.sort_by_key(|h| h.at_us);
    }

    /// The trace kept of `id`.
    pub fn get(&self, id: MessageId) -> Option<Trace> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter().find(|t| t.id == id).cloned()
    }

    /// The ids of the traces kept, newest first.
    pub fn recent(&self) -> Vec<MessageId> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter().rev().map(|t| t.id).collect()
    }
}

/// `frame` (a JSON object) with a `trace` field added: a traced message's
/// shared frame, re-made once per Hub that writes it.
pub fn with_trace(frame: &str, trace: &Trace) -> String {
    let hops = serde_json::to_string(trace).unwrap_or_else(|_| "null".into());
    match frame.strip_suffix('}') {
        Some(open) => format!("{open},\"trace\":{hops}}}"),
        None => frame.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_is_traced() {
        let me = UserId::new_random();
        let off = Tracer::new("gw", TraceUsers::Nobody, 0);
        assert!(!off.traced(me, true) && !off.traced(me, false));
        let listed = Tracer::new("gw", TraceUsers::parse(&me.to_string()).unwrap(), 0);
        assert!(listed.traced(me, true));
        assert!(!listed.traced(UserId::new_random(), true), "not listed");
        assert!(!listed.traced(me, false), "not asked, not sampled");
        let sampled = Tracer::new("gw", TraceUsers::Nobody, 3);
        let picks: Vec<bool> = (0..6).map(|_| sampled.traced(me, false)).collect();
        assert_eq!(picks, [true, false, false, true, false, false]);
        assert!(TraceUsers::parse("not-a-uuid").is_err());
        assert_eq!(TraceUsers::parse(" * ").unwrap(), TraceUsers::Anyone);
    }

    #[test]
    fn kept_traces_merge_hops_in_time_order_and_the_oldest_go() {
        let t = Tracer::new("gw", TraceUsers::Nobody, 0);
        let id = MessageId::new_v7();
        let first = t.hop("received", "session 1");
        let mut second = t.hop("consumed", "consumer");
        second.at_us = first.at_us + 10;
        t.keep(id, std::slice::from_ref(&second));
        t.keep(id, &[first.clone(), second.clone()]);
        let kept = t.get(id).unwrap();
        assert_eq!(kept.hops, [first, second], "merged once each, by time");
        for _ in 0..KEPT {
            t.keep(MessageId::new_v7(), &[]);
        }
        assert!(t.get(id).is_none(), "the oldest trace went");
        assert_eq!(t.recent().len(), KEPT);
    }

    #[test]
    fn a_frame_with_its_trace_is_still_the_frame() {
        let trace = Trace {
            id: MessageId::new_v7(),
            hops: vec![],
        };
        let framed = with_trace(r#"{"type":"message","message":{"seq":1}}"#, &trace);
        let v: serde_json::Value = serde_json::from_str(&framed).unwrap();
        assert_eq!(v["message"]["seq"], 1);
        assert_eq!(v["trace"]["hops"], serde_json::json!([]));
    }
}
