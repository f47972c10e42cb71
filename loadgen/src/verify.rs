//! The judge of every run: did every member of every conversation get every
//! acknowledged message exactly once, in the conversation's one order
//! (`seq`), and nothing else?
//!
//! | verdict | counts |
//! |---|---|
//! | `lost` | acknowledged messages a connected member never received |
//! | `unanswered` | sends that got neither an `ack` nor an `error` by the end |
//! | `duplicated` | deliveries of a message the member had already received |
//! | `out_of_order` | deliveries whose `seq` is not above the member's previous one in that conversation |
//! | `sender_reordered` | acks whose `seq` is below that of an earlier send of the same sender to the same conversation (among sends acked on their first attempt: a resend may rightly land after later messages) |
//! | `leaked` | deliveries to a member of no such conversation (someone who is not a participant) |
//! | `refused` | sends answered `not_participant` (no send of a run goes to a conversation its sender is not in) |
//! | `history_mismatch` | members of a sampled conversation whose live sequence differs from history's (with `--resilient`: live messages history lacks or has at another seq) |
//! | `history_missing` | acknowledged messages of a sampled conversation history does not hold |
//! | `history_duplicates` | messages history holds twice (one sender, one `client_id`) |
//! | `ack_mismatch` | acks whose seq is not the one history holds for that message |
//!
//! With `--resilient` a member's view is its live messages plus what it
//! read from history after each reconnect; clients stalled on purpose
//! (`--stall`) are judged by what they found, not by what they missed.
//! A run is clean when all of them are zero.

use std::collections::{HashMap, HashSet};

use actors_common::ConversationId;
use serde::Serialize;

use crate::client::{Answer, Delivered, Log};
use crate::history::Stored;
use crate::provision::Plan;

/// The verdict.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Verdict {
    pub lost: u64,
    pub unanswered: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub sender_reordered: u64,
    pub leaked: u64,
    pub refused: u64,
    pub history_mismatch: u64,
    pub history_missing: u64,
    pub history_duplicates: u64,
    pub ack_mismatch: u64,
    /// Stalled clients that found their connection closed, of those stalled.
    pub stalled_closed: u64,
    pub stalled: u64,
    /// Conversations compared with history.
    pub history_checked: u64,
    /// Deliveries checked (member × message).
    pub checked: u64,
    /// The first lost message, described (conversation, message, seq,
    /// sender, member, and what the member got of that conversation), so
    /// one failed run is enough to start explaining it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_lost: Option<String>,
}

impl Verdict {
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.unanswered == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.sender_reordered == 0
            && self.leaked == 0
            && self.refused == 0
            && self.history_mismatch == 0
            && self.history_missing == 0
            && self.history_duplicates == 0
            && self.ack_mismatch == 0
            && self.stalled_closed == self.stalled
    }
}

/// Every conversation of the run with its members: the plan's, and those
/// created during it (`churn`).
pub fn conversations(plan: &Plan, logs: &[Log]) -> HashMap<ConversationId, Vec<usize>> {
    plan.conversations
        .iter()
        .map(|c| (c.id, c.members.clone()))
        .chain(logs.iter().flat_map(|l| l.created.iter().cloned()))
        .collect()
}

/// Judges the logs; `histories` holds history (in seq order) of the
/// conversations sampled for comparison.
pub fn verify(
    plan: &Plan,
    logs: &[Log],
    histories: &HashMap<ConversationId, Vec<Stored>>,
    resilient: bool,
) -> Verdict {
    let conversations = conversations(plan, logs);
    let mut v = Verdict::default();
    let mut acked: HashMap<ConversationId, HashSet<_>> = HashMap::new();
    let mut acked_seq: HashMap<actors_common::MessageId, i64> = HashMap::new();
    let mut sender_of: HashMap<actors_common::MessageId, usize> = HashMap::new();
    for (user, log) in logs.iter().enumerate() {
        for sent in &log.sent {
            if let Answer::Acked(id, _) = &sent.answer {
                sender_of.insert(*id, user);
            }
        }
    }
    for log in logs {
        if let Some(stall) = log.stall {
            v.stalled += 1;
            v.stalled_closed += u64::from(stall.closed);
        }
        let mut last_seq: HashMap<ConversationId, i64> = HashMap::new();
        for sent in &log.sent {
            match &sent.answer {
                Answer::Acked(id, seq) => {
                    acked.entry(sent.conversation).or_default().insert(*id);
                    acked_seq.insert(*id, *seq);
                    if sent.attempts == 1 {
                        let last = last_seq.entry(sent.conversation).or_insert(i64::MIN);
                        if *seq <= *last {
                            v.sender_reordered += 1;
                        }
                        *last = (*last).max(*seq);
                    }
                }
                Answer::Refused(code) if code == "not_participant" => v.refused += 1,
                Answer::Refused(_) => {}
                Answer::Unanswered => v.unanswered += 1,
            }
        }
    }
    // Leaks: anything received from a conversation one is not a member of.
    for (user, log) in logs.iter().enumerate() {
        for (c, got) in &log.received {
            if !conversations.get(c).is_some_and(|m| m.contains(&user)) {
                v.leaked += got.len() as u64;
            }
        }
    }
    let empty = Vec::new();
    for (c, members) in &conversations {
        let expected = acked.get(c).cloned().unwrap_or_default();
        let history: Option<Vec<Delivered>> = histories.get(c).map(|h| {
            v.history_checked += 1;
            let mut keys = HashSet::new();
            for m in h {
                if let Some(client) = m.client_id {
                    if !keys.insert((m.sender_id, client)) {
                        v.history_duplicates += 1;
                    }
                }
                if acked_seq.get(&m.id).is_some_and(|s| *s != m.seq) {
                    v.ack_mismatch += 1;
                }
            }
            let stored: HashSet<_> = h.iter().map(|m| m.id).collect();
            v.history_missing += expected.iter().filter(|id| !stored.contains(id)).count() as u64;
            h.iter().map(|m| (m.id, m.seq)).collect()
        });
        for &m in members {
            let Some(log) = logs.get(m).filter(|l| l.connected && l.stall.is_none()) else {
                continue;
            };
            let got = log.received.get(c).unwrap_or(&empty);
            let mut seen = HashSet::with_capacity(got.len());
            let mut last: Option<i64> = None;
            for (id, seq) in got {
                v.checked += 1;
                if !seen.insert(*id) {
                    v.duplicated += 1;
                    continue;
                }
                if last.is_some_and(|l| *seq <= l) {
                    v.out_of_order += 1;
                }
                last = Some(*seq);
            }
            // Catch-up reads only below each connection's `live_from`, so a
            // message it found that also came live reached this member twice.
            if let Some(caught) = log.caught_up.get(c) {
                for (id, _) in caught {
                    if !seen.insert(*id) {
                        v.duplicated += 1;
                    }
                }
            }
            let missing: Vec<_> = expected.iter().filter(|id| !seen.contains(id)).collect();
            v.lost += missing.len() as u64;
            if let (None, Some(&&id)) = (&v.first_lost, missing.first()) {
                let live: Vec<i64> = got.iter().map(|(_, s)| *s).collect();
                let caught: Vec<i64> = log
                    .caught_up
                    .get(c)
                    .map(|x| x.iter().map(|(_, s)| *s).collect())
                    .unwrap_or_default();
                let span = |s: &[i64]| match (s.iter().min(), s.iter().max()) {
                    (Some(a), Some(b)) => format!("{} in {a}..={b}", s.len()),
                    _ => "none".to_owned(),
                };
                v.first_lost = Some(format!(
                    "conversation {c} message {id} seq {} sent by user {} missing at user {m}: live {}, caught up {}",
                    acked_seq.get(&id).copied().unwrap_or(-1),
                    sender_of.get(&id).map_or("?".to_owned(), |u| u.to_string()),
                    span(&live),
                    span(&caught),
                ));
            }
            if let Some(h) = &history {
                let mismatch = if resilient {
                    let stored: HashSet<&Delivered> = h.iter().collect();
                    got.iter().any(|d| !stored.contains(d))
                } else {
                    h != got
                };
                if mismatch {
                    v.history_mismatch += 1;
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use actors_common::{MessageId, UserId};

    use super::*;
    use crate::client::Sent;
    use crate::provision::{Conversation, User};

    fn plan(members: usize) -> (Plan, ConversationId) {
        let c = ConversationId::new_v7();
        let users = (0..members)
            .map(|_| User {
                id: UserId::new_random(),
                ws_token: String::new(),
                store_token: String::new(),
            })
            .collect();
        let plan = Plan {
            users,
            conversations: vec![Conversation {
                id: c,
                members: (0..members).collect(),
            }],
            senders: vec![(0, 0)],
        };
        (plan, c)
    }

    /// Five messages with seqs 10, 20, …
    fn messages() -> Vec<Delivered> {
        (1..=5).map(|i| (MessageId::new_v7(), i * 10)).collect()
    }

    fn log(c: ConversationId, received: &[Delivered], acked: &[Delivered]) -> Log {
        Log {
            connected: true,
            received: [(c, received.to_vec())].into_iter().collect(),
            sent: acked
                .iter()
                .map(|&(id, seq)| Sent {
                    conversation: c,
                    answer: Answer::Acked(id, seq),
                    attempts: 1,
                })
                .collect(),
            ..Log::default()
        }
    }

    fn judge(logs: &[Log], plan: &Plan) -> Verdict {
        verify(plan, logs, &HashMap::new(), false)
    }

    fn stored(m: &[Delivered]) -> Vec<Stored> {
        m.iter()
            .map(|&(id, seq)| Stored {
                id,
                seq,
                sender_id: UserId::new_random(),
                client_id: Some(uuid::Uuid::new_v4()),
            })
            .collect()
    }

    #[test]
    fn a_perfect_run_is_clean() {
        let (plan, c) = plan(2);
        let m = messages();
        let logs = vec![log(c, &m, &m), log(c, &m, &[])];
        let v = verify(
            &plan,
            &logs,
            &[(c, stored(&m))].into_iter().collect(),
            false,
        );
        assert!(v.clean(), "{v:?}");
        assert_eq!((v.checked, v.history_checked), (10, 1));
    }

    #[test]
    fn a_message_a_member_never_got_is_lost() {
        let (plan, c) = plan(2);
        let m = messages();
        let v = judge(&[log(c, &m, &m), log(c, &m[..4], &[])], &plan);
        assert_eq!(v.lost, 1);
        assert!(!v.clean());
        // The verdict names it: the fifth message, sent by user 0, missing at user 1.
        let first = v.first_lost.expect("the first lost is described");
        let (id, seq) = m[4];
        assert!(
            first.contains(&format!(
                "message {id} seq {seq} sent by user 0 missing at user 1"
            )),
            "{first}"
        );
        assert!(first.contains("live 4 in"), "{first}");
    }

    #[test]
    fn a_send_without_an_answer_is_unanswered() {
        let (plan, c) = plan(1);
        let mut l = log(c, &[], &[]);
        l.sent.push(Sent {
            conversation: c,
            answer: Answer::Unanswered,
            attempts: 1,
        });
        let v = judge(&[l], &plan);
        assert_eq!(v.unanswered, 1);
        assert!(!v.clean());
    }

    #[test]
    fn a_second_delivery_is_a_duplicate() {
        let (plan, c) = plan(2);
        let m = messages();
        let twice = [m.clone(), vec![m[4]]].concat();
        let v = judge(&[log(c, &m, &m), log(c, &twice, &[])], &plan);
        assert_eq!((v.duplicated, v.lost), (1, 0));
        assert!(!v.clean());
    }

    #[test]
    fn a_message_caught_up_and_also_delivered_live_is_a_duplicate() {
        let (plan, c) = plan(2);
        let m = messages();
        // The second member got m[0..3] live, then reconnected and caught
        // up m[3..]; m[3] also came live on the new connection.
        let mut l = log(c, &[m[0], m[1], m[2], m[3]], &[]);
        l.caught_up.insert(c, vec![m[3], m[4]]);
        let v = judge(&[log(c, &m, &m), l], &plan);
        assert_eq!((v.duplicated, v.lost), (1, 0));
        assert!(!v.clean());
        // Caught up only what it lacked: clean.
        let mut l = log(c, &[m[0], m[1], m[2]], &[]);
        l.caught_up.insert(c, vec![m[3], m[4]]);
        assert!(judge(&[log(c, &m, &m), l], &plan).clean());
    }

    #[test]
    fn a_delivery_that_goes_back_in_seq_is_out_of_order() {
        let (plan, c) = plan(2);
        let m = messages();
        let swapped = vec![m[0], m[2], m[1], m[3], m[4]];
        let v = judge(&[log(c, &m, &m), log(c, &swapped, &[])], &plan);
        assert_eq!((v.out_of_order, v.lost), (1, 0));
        assert!(!v.clean());
    }

    #[test]
    fn a_senders_later_message_with_a_lower_seq_is_sender_reordered() {
        let (plan, c) = plan(1);
        let m = messages();
        // Sent m[1] first, but it was stored after m[2].
        let acks = vec![m[0], m[2], m[1], m[3], m[4]];
        let v = judge(&[log(c, &m, &acks)], &plan);
        assert_eq!(v.sender_reordered, 1);
        assert!(!v.clean());
        // Unless it was resent: then it may rightly land later.
        let mut resent = log(c, &m, &acks);
        resent.sent[2].attempts = 2;
        assert!(judge(&[resent], &plan).clean());
    }

    #[test]
    fn a_delivery_to_a_non_member_is_a_leak() {
        let (mut plan, c) = plan(2);
        plan.conversations[0].members = vec![0];
        let m = messages();
        let v = judge(&[log(c, &m, &m), log(c, &m[..1], &[])], &plan);
        assert_eq!(v.leaked, 1);
        assert!(!v.clean());
    }

    #[test]
    fn a_send_refused_as_not_participant_counts_as_refused() {
        let (plan, c) = plan(1);
        let mut l = log(c, &[], &[]);
        l.sent.push(Sent {
            conversation: c,
            answer: Answer::Refused("not_participant".into()),
            attempts: 1,
        });
        let v = judge(&[l], &plan);
        assert_eq!(v.refused, 1);
        assert!(!v.clean());
    }

    #[test]
    fn a_member_whose_sequence_is_not_historys_is_a_mismatch() {
        let (plan, c) = plan(2);
        let m = messages();
        // History has a message nobody got live (not acked either: a
        // receiver missing it is caught here, not as lost).
        let mut history = m.clone();
        history.insert(2, (MessageId::new_v7(), 25));
        let v = verify(
            &plan,
            &[log(c, &m, &m), log(c, &m, &[])],
            &[(c, stored(&history))].into_iter().collect(),
            false,
        );
        assert_eq!((v.history_mismatch, v.history_checked), (2, 1));
        assert!(!v.clean());
    }

    #[test]
    fn an_acked_message_history_lacks_is_missing() {
        let (plan, c) = plan(1);
        let m = messages();
        let v = verify(
            &plan,
            &[log(c, &m, &m)],
            &[(c, stored(&m[1..]))].into_iter().collect(),
            true,
        );
        assert_eq!(v.history_missing, 1);
        assert!(!v.clean());
    }

    #[test]
    fn a_message_stored_twice_is_a_history_duplicate() {
        let (plan, c) = plan(1);
        let m = messages();
        let mut h = stored(&m);
        h[3].sender_id = h[2].sender_id;
        h[3].client_id = h[2].client_id;
        let v = verify(
            &plan,
            &[log(c, &m, &m)],
            &[(c, h)].into_iter().collect(),
            true,
        );
        assert_eq!(v.history_duplicates, 1);
        assert!(!v.clean());
    }

    #[test]
    fn an_ack_naming_another_seq_than_historys_is_a_mismatch() {
        let (plan, c) = plan(1);
        let m = messages();
        let mut acks = m.clone();
        acks[1].1 = 11;
        let v = verify(
            &plan,
            &[log(c, &m, &acks)],
            &[(c, stored(&m))].into_iter().collect(),
            true,
        );
        assert_eq!(v.ack_mismatch, 1);
        assert!(!v.clean());
    }

    #[test]
    fn with_reconnects_what_was_caught_up_counts_and_live_must_be_in_history() {
        let (plan, c) = plan(2);
        let m = messages();
        // Member 1 missed m[1] and m[2] live and read them from history.
        let mut reconnected = log(c, &[m[0], m[3], m[4]], &[]);
        reconnected.caught_up.insert(c, vec![m[1], m[2]]);
        let h = [(c, stored(&m))].into_iter().collect();
        let v = verify(&plan, &[log(c, &m, &m), reconnected.clone()], &h, true);
        assert!(v.clean(), "{v:?}");
        // Without the catch-up they are lost.
        reconnected.caught_up.clear();
        let v = verify(&plan, &[log(c, &m, &m), reconnected], &h, true);
        assert_eq!(v.lost, 2);
    }

    #[test]
    fn a_stalled_client_must_find_itself_closed() {
        let (plan, c) = plan(2);
        let m = messages();
        let mut stalled = log(c, &m[..1], &[]);
        stalled.stall = Some(crate::client::StallOutcome {
            closed: false,
            code: None,
        });
        let v = judge(&[log(c, &m, &m), stalled.clone()], &plan);
        assert_eq!((v.stalled, v.stalled_closed, v.lost), (1, 0, 0));
        assert!(!v.clean(), "still open");
        stalled.stall = Some(crate::client::StallOutcome {
            closed: true,
            code: Some(1008),
        });
        assert!(judge(&[log(c, &m, &m), stalled], &plan).clean());
    }

    #[test]
    fn conversations_created_during_the_run_are_judged_too() {
        let (plan, _) = plan(3);
        let created = ConversationId::new_v7();
        let m = messages();
        let mut creator = log(created, &m, &m);
        creator.created.push((created, vec![0, 2]));
        let logs = vec![
            creator,
            Log {
                connected: true,
                ..Log::default()
            },
            log(created, &m[..3], &[]),
        ];
        let v = judge(&logs, &plan);
        assert_eq!((v.lost, v.leaked), (2, 0), "member 2 missed two");
    }
}
