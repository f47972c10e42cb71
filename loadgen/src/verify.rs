//! Did every member of every conversation get every acknowledged message
//! exactly once, and did all members see one order?

use std::collections::{HashMap, HashSet};

use actors_common::{ConversationId, MessageId};
use serde::Serialize;

use crate::client::Log;
use crate::provision::Plan;

/// The verdict.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Verdict {
    /// Acknowledged messages a connected member never received.
    pub lost: u64,
    /// Deliveries of a message a member had already received.
    pub duplicated: u64,
    /// Deliveries that came before one that the conversation's order puts first.
    pub reordered: u64,
    /// Deliveries checked (member × message).
    pub checked: u64,
}

impl Verdict {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.reordered == 0
    }
}

pub fn verify(plan: &Plan, logs: &[Log]) -> Verdict {
    let mut acked: HashMap<ConversationId, HashSet<MessageId>> = HashMap::new();
    for log in logs {
        for (c, m) in &log.acked {
            acked.entry(*c).or_default().insert(*m);
        }
    }
    let mut v = Verdict::default();
    for conversation in &plan.conversations {
        let expected = acked.get(&conversation.id).cloned().unwrap_or_default();
        let empty = Vec::new();
        let sequences: Vec<&Vec<MessageId>> = conversation
            .members
            .iter()
            .filter(|&&m| logs[m].connected)
            .map(|&m| logs[m].received.get(&conversation.id).unwrap_or(&empty))
            .collect();
        // The conversation's order: the longest sequence any member saw.
        let canonical: HashMap<MessageId, usize> = sequences
            .iter()
            .max_by_key(|s| s.len())
            .map(|s| s.iter().enumerate().map(|(i, id)| (*id, i)).collect())
            .unwrap_or_default();
        for seq in sequences {
            let mut seen = HashSet::with_capacity(seq.len());
            let mut last_pos: Option<usize> = None;
            for id in seq {
                v.checked += 1;
                if !seen.insert(*id) {
                    v.duplicated += 1;
                    continue;
                }
                if let Some(&pos) = canonical.get(id) {
                    if last_pos.is_some_and(|l| pos < l) {
                        v.reordered += 1;
                    }
                    last_pos = Some(pos);
                }
            }
            v.lost += expected.iter().filter(|id| !seen.contains(id)).count() as u64;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use actors_common::UserId;

    use super::*;
    use crate::provision::{Conversation, User};

    fn plan(members: usize) -> (Plan, ConversationId) {
        let c = ConversationId::new_v7();
        let users = (0..members)
            .map(|_| User {
                id: UserId::new_random(),
                ws_token: String::new(),
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

    fn log(c: ConversationId, received: &[MessageId], acked: &[MessageId]) -> Log {
        Log {
            connected: true,
            received: [(c, received.to_vec())].into_iter().collect(),
            acked: acked.iter().map(|m| (c, *m)).collect(),
            errors: HashMap::new(),
        }
    }

    #[test]
    fn counts_loss_duplicates_and_reordering() {
        let (plan, c) = plan(3);
        let ids: Vec<MessageId> = (0..4).map(|_| MessageId::new_v7()).collect();
        let logs = vec![
            log(c, &ids, &ids),
            log(c, &[ids[0], ids[1], ids[1], ids[2], ids[3]], &[]),
            log(c, &[ids[0], ids[2], ids[1]], &[]),
        ];
        let v = verify(&plan, &logs);
        assert_eq!(v.duplicated, 1, "member 1 got ids[1] twice");
        assert_eq!(v.lost, 1, "member 2 never got ids[3]");
        assert_eq!(v.reordered, 1, "member 2 got ids[1] after ids[2]");
        assert!(!v.clean());
    }

    #[test]
    fn a_perfect_run_is_clean() {
        let (plan, c) = plan(2);
        let ids: Vec<MessageId> = (0..5).map(|_| MessageId::new_v7()).collect();
        let logs = vec![log(c, &ids, &ids), log(c, &ids, &[])];
        let v = verify(&plan, &logs);
        assert!(v.clean(), "{v:?}");
        assert_eq!(v.checked, 10);
    }
}
