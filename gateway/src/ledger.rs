//! The ledger: this gateway's memory of the last [`WINDOW`] offsets of each
//! partition of `chat.messages`, and the verdict on every message record.
//!
//! The Kafka consumer feeds it every record in log order (at start it reads
//! the last window of each partition back, so it knows as much as any
//! reader): it remembers accepted messages by [`ResendKey`] and the latest
//! membership event of each (conversation, user), and decides each message
//! with [`actors_common::log::admit`], the rule message-store and every
//! other gateway apply too. So a verdict here is the verdict everywhere.
//!
//! A session that sent a message waits here for its record's verdict
//! ([`Ledger::verdict`]) before it acks: the ack then names the message
//! history keeps (the earlier one, for a resend) with its `seq`, and a send
//! that lost the race with the sender's removal is refused instead.
//!
//! One `Mutex` guards it: the consumer takes it once per record, a session
//! once or twice per send.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use actors_common::log::{self, Admission, MessagePosted, ResendKey, WINDOW};
use actors_common::{ConversationId, MessageId, UserId};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

/// An accepted message, as much of it as a resend's ack needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub id: MessageId,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
}

/// The verdict on a record a session of this gateway produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stored at this seq, as sent.
    Accepted { seq: i64 },
    /// A resend: the message is this earlier one.
    Duplicate(Accepted),
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

/// What the ledger knows of one partition.
#[derive(Default)]
struct Window {
    /// Offsets below this have been read.
    next: i64,
    accepted: HashMap<ResendKey, Accepted>,
    accepted_order: VecDeque<(i64, ResendKey)>,
    events: HashMap<(ConversationId, UserId), (i64, bool)>,
    events_order: VecDeque<(i64, (ConversationId, UserId))>,
    refused: VecDeque<(i64, Verdict)>,
}

impl Window {
    /// Forgets what fell out of the window before `seq`.
    fn forget_before(&mut self, seq: i64) {
        let horizon = seq - WINDOW;
        while let Some(&(s, key)) = self.accepted_order.front() {
            if s >= horizon {
                break;
            }
            self.accepted_order.pop_front();
            if self.accepted.get(&key).is_some_and(|a| a.seq == s) {
                self.accepted.remove(&key);
            }
        }
        while let Some(&(s, pair)) = self.events_order.front() {
            if s >= horizon {
                break;
            }
            self.events_order.pop_front();
            if self.events.get(&pair).is_some_and(|(e, _)| *e == s) {
                self.events.remove(&pair);
            }
        }
        while self.refused.front().is_some_and(|(s, _)| *s < horizon) {
            self.refused.pop_front();
        }
    }
}

#[derive(Default)]
struct Inner {
    windows: HashMap<i32, Window>,
    waiting: HashMap<(i32, i64), oneshot::Sender<Verdict>>,
}

/// See the module docs.
#[derive(Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The data stays consistent between statements; a panic elsewhere
        // while holding the lock leaves nothing half-written worth refusing.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides the message record at (`partition`, `seq`) and remembers it.
    /// Returns whether it is to be delivered.
    pub fn admit(&self, partition: i32, seq: i64, m: &MessagePosted) -> Admission {
        let mut inner = self.lock();
        let w = inner.windows.entry(partition).or_default();
        w.forget_before(seq);
        let key = m.resend_key();
        let earlier = key.and_then(|k| w.accepted.get(&k)).map(|a| a.seq);
        let last_event = w.events.get(&(m.conversation_id, m.sender_id)).copied();
        let admission = log::admit(seq, m.checked_seq, earlier, last_event);
        let verdict = match admission {
            Admission::Accepted => {
                if let Some(k) = key {
                    w.accepted.insert(
                        k,
                        Accepted {
                            id: m.id,
                            seq,
                            created_at: m.created_at,
                        },
                    );
                    w.accepted_order.push_back((seq, k));
                }
                Verdict::Accepted { seq }
            }
            Admission::Duplicate { .. } => {
                // `earlier` is in the map: that is where the seq came from.
                let first = key.and_then(|k| w.accepted.get(&k)).copied();
                match first {
                    Some(a) => Verdict::Duplicate(a),
                    None => Verdict::Stale,
                }
            }
            Admission::NotParticipant => Verdict::NotParticipant,
            Admission::Stale => Verdict::Stale,
        };
        if !matches!(verdict, Verdict::Accepted { .. } | Verdict::Duplicate(_)) {
            w.refused.push_back((seq, verdict));
        }
        w.next = w.next.max(seq + 1);
        if let Some(tx) = inner.waiting.remove(&(partition, seq)) {
            let _ = tx.send(verdict);
        }
        admission
    }

    /// Remembers a membership event of the log.
    pub fn membership(
        &self,
        partition: i32,
        seq: i64,
        conversation: ConversationId,
        users: &[UserId],
        added: bool,
    ) {
        let mut inner = self.lock();
        let w = inner.windows.entry(partition).or_default();
        w.forget_before(seq);
        for &u in users {
            w.events.insert((conversation, u), (seq, added));
            w.events_order.push_back((seq, (conversation, u)));
        }
        w.next = w.next.max(seq + 1);
    }

    /// Notes that a record other than a message was read at `seq`.
    pub fn passed(&self, partition: i32, seq: i64) {
        let mut inner = self.lock();
        let w = inner.windows.entry(partition).or_default();
        w.next = w.next.max(seq + 1);
    }

    /// The accepted message a resend with `key` repeats, if it is in the
    /// window of its partition.
    pub fn accepted(&self, partition: i32, key: &ResendKey) -> Option<Accepted> {
        self.lock()
            .windows
            .get(&partition)
            .and_then(|w| w.accepted.get(key))
            .copied()
    }

    /// The verdict on the record this gateway produced at (`partition`,
    /// `seq`), or a receiver that gets it when the consumer reads that far.
    pub fn verdict(&self, partition: i32, seq: i64, key: &ResendKey) -> Pending {
        let mut inner = self.lock();
        if let Some(w) = inner.windows.get(&partition).filter(|w| w.next > seq) {
            if let Some(a) = w.accepted.get(key) {
                return Pending::Ready(if a.seq == seq {
                    Verdict::Accepted { seq }
                } else {
                    Verdict::Duplicate(*a)
                });
            }
            let refused = w
                .refused
                .iter()
                .rev()
                .find(|(s, _)| *s == seq)
                .map(|(_, v)| *v);
            // Read, not accepted and not refused: it fell out of the
            // window while the session waited; it must be sent again.
            return Pending::Ready(refused.unwrap_or(Verdict::Stale));
        }
        let (tx, rx) = oneshot::channel();
        inner.waiting.insert((partition, seq), tx);
        Pending::Wait(rx)
    }

    /// Gives up waiting for a verdict (the send timed out).
    pub fn forget_wait(&self, partition: i32, seq: i64) {
        self.lock().waiting.remove(&(partition, seq));
    }

    /// How many accepted messages and membership events are remembered.
    pub fn sizes(&self) -> (usize, usize) {
        let inner = self.lock();
        inner.windows.values().fold((0, 0), |(a, e), w| {
            (a + w.accepted.len(), e + w.events.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn posted(c: ConversationId, s: UserId, client: Uuid, checked: i64) -> MessagePosted {
        MessagePosted::new(c, s, "hi".into(), Some(client), checked)
    }

    #[test]
    fn a_resend_is_the_first_message_and_is_not_delivered_again() {
        let l = Ledger::default();
        let (c, s, client) = (
            ConversationId::new_v7(),
            UserId::new_random(),
            Uuid::new_v4(),
        );
        let first = posted(c, s, client, 0);
        assert_eq!(l.admit(0, 10, &first), Admission::Accepted);
        let again = posted(c, s, client, 0);
        assert_eq!(l.admit(0, 12, &again), Admission::Duplicate { seq: 10 });
        let key = again.resend_key().unwrap();
        assert_eq!(
            l.accepted(0, &key).map(|a| (a.id, a.seq)),
            Some((first.id, 10))
        );
        let Pending::Ready(v) = l.verdict(0, 12, &key) else {
            panic!("read already")
        };
        assert!(matches!(v, Verdict::Duplicate(a) if a.id == first.id && a.seq == 10));
        let Pending::Ready(v) = l.verdict(0, 10, &key) else {
            panic!("read already")
        };
        assert_eq!(v, Verdict::Accepted { seq: 10 });
    }

    #[test]
    fn a_session_waiting_for_its_record_gets_the_verdict_when_it_is_read() {
        let l = Ledger::default();
        let (c, s) = (ConversationId::new_v7(), UserId::new_random());
        let m = posted(c, s, Uuid::new_v4(), 0);
        let Pending::Wait(mut rx) = l.verdict(3, 5, &m.resend_key().unwrap()) else {
            panic!("not read yet")
        };
        assert!(rx.try_recv().is_err());
        l.admit(3, 5, &m);
        assert_eq!(rx.try_recv().unwrap(), Verdict::Accepted { seq: 5 });
    }

    #[test]
    fn a_send_after_the_senders_removal_is_refused_and_after_re_adding_accepted() {
        let l = Ledger::default();
        let (c, s) = (ConversationId::new_v7(), UserId::new_random());
        l.membership(1, 20, c, &[s], false);
        let late = posted(c, s, Uuid::new_v4(), 19);
        assert_eq!(l.admit(1, 21, &late), Admission::NotParticipant);
        let key = late.resend_key().unwrap();
        let Pending::Ready(v) = l.verdict(1, 21, &key) else {
            panic!()
        };
        assert_eq!(v, Verdict::NotParticipant);
        l.membership(1, 22, c, &[s], true);
        assert_eq!(
            l.admit(1, 23, &posted(c, s, Uuid::new_v4(), 22)),
            Admission::Accepted
        );
    }

    #[test]
    fn what_falls_out_of_the_window_is_forgotten() {
        let l = Ledger::default();
        let (c, s, client) = (
            ConversationId::new_v7(),
            UserId::new_random(),
            Uuid::new_v4(),
        );
        l.admit(0, 0, &posted(c, s, client, 0));
        l.membership(0, 1, c, &[UserId::new_random()], true);
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
