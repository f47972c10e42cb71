//! The ledger: this gateway's memory of the recent log of each partition of
//! `chat.messages`, and the verdict on every message record.
//!
//! The Kafka consumer feeds it every record in log order: it remembers the
//! latest membership event of each (conversation, user) within the window
//! (by version, so a copy an outbox sent again changes nothing) and, per
//! resend key, the run of admissible records (its first record is the
//! message; `actors_common::log`). It decides each message with
//! [`actors_common::log::admit`], the rule message-store and every other
//! gateway apply too, so a verdict here is the verdict everywhere.
//!
//! At start the consumer reads two windows back (`crate::kafka`): the first
//! window only to learn membership events, so that from one window before
//! the live end on, admissibility, and so every verdict on a live record,
//! is exact. Which message a resend's run began with is known exactly for
//! runs that began at or after the live end; for older ones the session
//! asks message-store ([`Verdict::DuplicateOfOlder`]).
//!
//! A session that sent a message waits here for its record's verdict
//! ([`Ledger::verdict`]) before it acks: the ack then names the message
//! history keeps (the run's first, for a resend) with its `seq`, and a send
//! that lost the race with the sender's removal is refused instead.
//!
//! One `Mutex` guards it: the consumer takes it once per record, a session
//! once or twice per send.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use actors_common::log::{self, Admission, MessagePosted, ResendKey, WINDOW};
use actors_common::{ConversationId, MessageId, UserId};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

/// The message a run of resends is, as much of it as an ack needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub id: MessageId,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
    /// A hash of its body: an ack must carry the stored body, so a resend
    /// with another body is answered from message-store.
    pub body_hash: u64,
}

/// A hash of a message body (for [`Accepted::body_hash`]).
pub fn body_hash(body: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// The verdict on a record a session of this gateway produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stored at this seq, as sent.
    Accepted { seq: i64 },
    /// A resend: the message is this one.
    Duplicate(Accepted),
    /// A resend of a message from before this gateway's exact memory: ask
    /// message-store which (it is stored, before `seq`).
    DuplicateOfOlder { seq: i64 },
    /// The sender was removed before this point of the log.
    NotParticipant,
    /// The gateway's view of membership was too old when it accepted it.
    Stale,
}

/// A verdict now, or a promise of one.
#[derive(Debug)]
pub enum Pending {
    Ready(Verdict),
    Wait(oneshot::Receiver<Verdict>),
}

/// A run of admissible records with one resend key.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// The message (the run's first record), when known exactly.
    first: Option<Accepted>,
    /// The latest admissible record of the run.
    last: i64,
}

/// What the ledger knows of one partition.
struct Window {
    /// Records from here on are live: runs beginning here are known exactly.
    live_from: i64,
    /// Offsets below this have been read.
    next: i64,
    runs: HashMap<ResendKey, Run>,
    runs_order: VecDeque<(i64, ResendKey)>,
    /// Latest membership event per (conversation, user): (seq, added, version).
    events: HashMap<(ConversationId, UserId), (i64, bool, i64)>,
    events_order: VecDeque<(i64, (ConversationId, UserId))>,
    /// Verdicts on records read, for sessions that ask after the fact.
    verdicts: VecDeque<(i64, Verdict)>,
}

impl Window {
    fn new(live_from: i64) -> Self {
        Self {
            live_from,
            next: 0,
            runs: HashMap::new(),
            runs_order: VecDeque::new(),
            events: HashMap::new(),
            events_order: VecDeque::new(),
            verdicts: VecDeque::new(),
        }
    }

    /// Forgets what fell out of the window before `seq`.
    fn forget_before(&mut self, seq: i64) {
        let horizon = seq - WINDOW;
        while let Some(&(s, key)) = self.runs_order.front() {
            if s >= horizon {
                break;
            }
            self.runs_order.pop_front();
            if self.runs.get(&key).is_some_and(|r| r.last == s) {
                self.runs.remove(&key);
            }
        }
        while let Some(&(s, pair)) = self.events_order.front() {
            if s >= horizon {
                break;
            }
            self.events_order.pop_front();
            if self.events.get(&pair).is_some_and(|(e, ..)| *e == s) {
                self.events.remove(&pair);
            }
        }
        while self.verdicts.front().is_some_and(|(s, _)| *s < horizon) {
            self.verdicts.pop_front();
        }
    }
}

struct Inner {
    /// Per partition id: where its live part begins.
    live_from: Vec<i64>,
    windows: HashMap<i32, Window>,
    waiting: HashMap<(i32, i64), oneshot::Sender<Verdict>>,
}

impl Inner {
    fn window(&mut self, partition: i32) -> &mut Window {
        let live_from = self.live_from.get(partition as usize).copied().unwrap_or(0);
        self.windows
            .entry(partition)
            .or_insert_with(|| Window::new(live_from))
    }
}

/// See the module docs.
pub struct Ledger {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Ledger {
    /// A ledger whose partitions' live parts begin at `live_from` (index =
    /// partition id).
    pub fn new(live_from: &[i64]) -> Self {
        Self {
            inner: Mutex::new(Inner {
                live_from: live_from.to_vec(),
                windows: HashMap::new(),
                waiting: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The data stays consistent between statements; a panic elsewhere
        // while holding the lock leaves nothing half-written worth refusing.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides the message record at (`partition`, `seq`) and remembers it.
    pub fn admit(&self, partition: i32, seq: i64, m: &MessagePosted) -> Admission {
        let mut inner = self.lock();
        let w = inner.window(partition);
        w.forget_before(seq);
        let key = m.resend_key();
        let previous = key.and_then(|k| w.runs.get(&k)).map(|r| r.last);
        let last_event = w
            .events
            .get(&(m.conversation_id, m.sender_id))
            .map(|&(s, added, _)| (s, added));
        let admission = log::admit(seq, m.checked_seq, last_event, previous);
        let verdict = match admission {
            Admission::Accepted => {
                let first = Accepted {
                    id: m.id,
                    seq,
                    created_at: m.created_at,
                    body_hash: body_hash(&m.body),
                };
                // A run that begins before the live part may have an
                // admissible predecessor this gateway never judged.
                let exact = seq >= w.live_from;
                if let Some(k) = key {
                    w.runs.insert(
                        k,
                        Run {
                            first: exact.then_some(first),
                            last: seq,
                        },
                    );
                    w.runs_order.push_back((seq, k));
                }
                Verdict::Accepted { seq }
            }
            Admission::Duplicate { .. } => {
                // `previous` came from the run: it is there.
                let run = key.and_then(|k| w.runs.get_mut(&k));
                let first = run.and_then(|r| {
                    r.last = seq;
                    r.first
                });
                if let Some(k) = key {
                    w.runs_order.push_back((seq, k));
                }
                match first {
                    Some(a) => Verdict::Duplicate(a),
                    None => Verdict::DuplicateOfOlder { seq },
                }
            }
            Admission::NotParticipant => Verdict::NotParticipant,
            Admission::Stale => Verdict::Stale,
        };
        w.verdicts.push_back((seq, verdict));
        w.next = w.next.max(seq + 1);
        if let Some(tx) = inner.waiting.remove(&(partition, seq)) {
            let _ = tx.send(verdict);
        }
        admission
    }

    /// Remembers a membership event of the log; false when it is a copy of
    /// one already applied (its version is not newer), for every user.
    pub fn membership(
        &self,
        partition: i32,
        seq: i64,
        conversation: ConversationId,
        users: &[UserId],
        added: bool,
        version: i64,
    ) -> bool {
        let mut inner = self.lock();
        let w = inner.window(partition);
        w.forget_before(seq);
        let mut any = false;
        for &u in users {
            let newer = w
                .events
                .get(&(conversation, u))
                .is_none_or(|&(.., v)| version > v);
            if newer {
                w.events.insert((conversation, u), (seq, added, version));
                w.events_order.push_back((seq, (conversation, u)));
                any = true;
            }
        }
        w.next = w.next.max(seq + 1);
        any
    }

    /// Notes that a record other than a message was read at `seq`.
    pub fn passed(&self, partition: i32, seq: i64) {
        let mut inner = self.lock();
        let w = inner.window(partition);
        w.next = w.next.max(seq + 1);
    }

    /// The message a resend with `key` repeats, if its run is in the window
    /// and known exactly.
    pub fn accepted(&self, partition: i32, key: &ResendKey) -> Option<Accepted> {
        let inner = self.lock();
        let w = inner.windows.get(&partition)?;
        w.runs
            .get(key)
            .filter(|r| r.last >= w.next - WINDOW)
            .and_then(|r| r.first)
    }

    /// The verdict on the record this gateway produced at (`partition`,
    /// `seq`), or a receiver that gets it when the consumer reads that far.
    pub fn verdict(&self, partition: i32, seq: i64) -> Pending {
        let mut inner = self.lock();
        if let Some(w) = inner.windows.get(&partition).filter(|w| w.next > seq) {
            let verdict = w
                .verdicts
                .iter()
                .rev()
                .find(|(s, _)| *s == seq)
                .map(|(_, v)| *v);
            // Read but forgotten: it fell out of the window while the
            // session waited; it must be sent again.
            return Pending::Ready(verdict.unwrap_or(Verdict::Stale));
        }
        let (tx, rx) = oneshot::channel();
        inner.waiting.insert((partition, seq), tx);
        Pending::Wait(rx)
    }

    /// Gives up waiting for a verdict (the send timed out).
    pub fn forget_wait(&self, partition: i32, seq: i64) {
        self.lock().waiting.remove(&(partition, seq));
    }

    /// How many resend runs and membership events are remembered.
    pub fn sizes(&self) -> (usize, usize) {
        let inner = self.lock();
        inner
            .windows
            .values()
            .fold((0, 0), |(a, e), w| (a + w.runs.len(), e + w.events.len()))
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn posted(c: ConversationId, s: UserId, client: Uuid, checked: i64) -> MessagePosted {
        MessagePosted::new(c, s, "hi".into(), Some(client), checked)
    }

    fn ready(p: Pending) -> Verdict {
        match p {
            Pending::Ready(v) => v,
            Pending::Wait(_) => panic!("not read yet"),
        }
    }

    #[test]
    fn a_resend_is_the_first_message_and_is_not_delivered_again() {
        let l = Ledger::new(&[0]);
        let (c, s, client) = (
            ConversationId::new_v7(),
            UserId::new_random(),
            Uuid::new_v4(),
        );
        let first = posted(c, s, client, 0);
        assert_eq!(l.admit(0, 10, &first), Admission::Accepted);
        let again = posted(c, s, client, 0);
        assert_eq!(
            l.admit(0, 12, &again),
            Admission::Duplicate { previous: 10 }
        );
        let third = posted(c, s, client, 0);
        assert_eq!(
            l.admit(0, 15, &third),
            Admission::Duplicate { previous: 12 }
        );
        let key = again.resend_key().unwrap();
        assert_eq!(
            l.accepted(0, &key).map(|a| (a.id, a.seq)),
            Some((first.id, 10))
        );
        assert!(
            matches!(ready(l.verdict(0, 15)), Verdict::Duplicate(a) if a.id == first.id && a.seq == 10)
        );
        assert_eq!(ready(l.verdict(0, 10)), Verdict::Accepted { seq: 10 });
    }

    #[test]
    fn a_run_that_began_before_the_live_part_is_asked_about() {
        let l = Ledger::new(&[100]);
        let (c, s, client) = (
            ConversationId::new_v7(),
            UserId::new_random(),
            Uuid::new_v4(),
        );
        assert_eq!(
            l.admit(0, 90, &posted(c, s, client, 90)),
            Admission::Accepted
        );
        let key = ResendKey {
            conversation_id: c,
            sender_id: s,
            client_id: client,
        };
        assert_eq!(l.accepted(0, &key), None, "not known exactly");
        l.admit(0, 120, &posted(c, s, client, 110));
        assert_eq!(
            ready(l.verdict(0, 120)),
            Verdict::DuplicateOfOlder { seq: 120 }
        );
    }

    #[test]
    fn a_session_waiting_for_its_record_gets_the_verdict_when_it_is_read() {
        let l = Ledger::new(&[0; 4]);
        let (c, s) = (ConversationId::new_v7(), UserId::new_random());
        let m = posted(c, s, Uuid::new_v4(), 0);
        let Pending::Wait(mut rx) = l.verdict(3, 5) else {
            panic!("not read yet")
        };
        assert!(rx.try_recv().is_err());
        l.admit(3, 5, &m);
        assert_eq!(rx.try_recv().unwrap(), Verdict::Accepted { seq: 5 });
    }

    #[test]
    fn a_send_after_the_senders_removal_is_refused_and_after_re_adding_accepted() {
        let l = Ledger::new(&[0, 0]);
        let (c, s) = (ConversationId::new_v7(), UserId::new_random());
        assert!(l.membership(1, 20, c, &[s], false, 3));
        let late = posted(c, s, Uuid::new_v4(), 19);
        assert_eq!(l.admit(1, 21, &late), Admission::NotParticipant);
        assert_eq!(ready(l.verdict(1, 21)), Verdict::NotParticipant);
        assert!(l.membership(1, 22, c, &[s], true, 4));
        assert_eq!(
            l.admit(1, 23, &posted(c, s, Uuid::new_v4(), 22)),
            Admission::Accepted
        );
    }

    #[test]
    fn a_copy_of_an_event_sent_again_changes_nothing() {
        let l = Ledger::new(&[0]);
        let (c, s) = (ConversationId::new_v7(), UserId::new_random());
        // remove v3, add v4, then the same two again (a retried batch).
        assert!(l.membership(0, 1, c, &[s], false, 3));
        assert!(l.membership(0, 2, c, &[s], true, 4));
        assert!(!l.membership(0, 3, c, &[s], false, 3));
        assert!(!l.membership(0, 4, c, &[s], true, 4));
        assert_eq!(
            l.admit(0, 5, &posted(c, s, Uuid::new_v4(), 4)),
            Admission::Accepted,
            "still a member"
        );
    }

    #[test]
    fn what_falls_out_of_the_window_is_forgotten() {
        let l = Ledger::new(&[0]);
        let (c, s, client) = (
            ConversationId::new_v7(),
            UserId::new_random(),
            Uuid::new_v4(),
        );
        l.admit(0, 0, &posted(c, s, client, 0));
        l.membership(0, 1, c, &[UserId::new_random()], true, 2);
        assert_eq!(l.sizes(), (1, 1));
        l.passed(0, WINDOW + 5);
        l.admit(
            0,
            WINDOW + 10,
            &posted(c, UserId::new_random(), Uuid::new_v4(), WINDOW),
        );
        assert_eq!(l.sizes(), (1, 0), "only the new message is remembered");
        // The old client id is a new message now, as for every other reader.
        assert_eq!(
            l.admit(0, WINDOW + 11, &posted(c, s, client, WINDOW)),
            Admission::Accepted
        );
    }
}
