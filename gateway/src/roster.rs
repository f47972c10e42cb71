//! The roster: the conversations of every user online on this gateway, as
//! the Directory has applied them, and how far into each partition of
//! `chat.messages` it has applied. Sessions read it when they send; only the
//! Directory writes it.
//!
//! It is shared state rather than a message to an actor because a send
//! needs two facts that must agree: "is the sender a member?" and "as of
//! which offset?". The offset goes into the record as `checked_seq`, and
//! every reader of the log checks the membership events after it
//! (`actors_common::log`). Reading the offset first and the membership
//! second can only make `checked_seq` older than what the membership
//! reflects, which is the safe direction.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use actors_common::log::partition_of;
use actors_common::{ConversationId, UserId};

/// What a sender's gateway knows when a send arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// Whether the roster has the sender in the conversation.
    pub member: bool,
    /// The conversation's partition of `chat.messages`.
    pub partition: i32,
    /// Offsets of that partition below this have been applied.
    pub checked_seq: i64,
}

/// See the module docs.
#[derive(Debug)]
pub struct Roster {
    members: RwLock<HashMap<UserId, HashSet<ConversationId>>>,
    applied: Vec<AtomicI64>,
}

impl Roster {
    /// A roster for `partitions` partitions whose first offsets to apply are
    /// `from` (records before them predate this process: what they changed
    /// is in message-store, where sessions read their conversations).
    pub fn new(from: &[i64]) -> Self {
        Self {
            members: RwLock::default(),
            applied: from.iter().map(|&o| AtomicI64::new(o)).collect(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<UserId, HashSet<ConversationId>>> {
        self.members.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<UserId, HashSet<ConversationId>>> {
        self.members.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn partitions(&self) -> i32 {
        self.applied.len() as i32
    }

    pub fn partition(&self, conversation: ConversationId) -> i32 {
        partition_of(conversation, self.partitions())
    }

    /// Whether `user` is in `conversation`, and as of which offset.
    pub fn check(&self, user: UserId, conversation: ConversationId) -> Check {
        let partition = self.partition(conversation);
        let checked_seq = self
            .applied
            .get(partition as usize)
            .map_or(0, |a| a.load(Ordering::Acquire));
        let member = self
            .read()
            .get(&user)
            .is_some_and(|c| c.contains(&conversation));
        Check {
            member,
            partition,
            checked_seq,
        }
    }

    /// The conversations of `user` (empty when not online here).
    pub fn conversations_of(&self, user: UserId) -> Vec<ConversationId> {
        self.read()
            .get(&user)
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    }

    // Writers: the Directory only.

    /// `user` came online (no conversations yet).
    pub fn online(&self, user: UserId) {
        self.write().entry(user).or_default();
    }

    /// `user`'s last session here ended.
    pub fn offline(&self, user: UserId) {
        self.write().remove(&user);
    }

    /// `user` (online) is in `conversation`; false if they were already.
    pub fn add(&self, user: UserId, conversation: ConversationId) -> bool {
        self.write()
            .get_mut(&user)
            .is_some_and(|c| c.insert(conversation))
    }

    /// `user` is no longer in `conversation`; false if they were not.
    pub fn remove(&self, user: UserId, conversation: ConversationId) -> bool {
        self.write()
            .get_mut(&user)
            .is_some_and(|c| c.remove(&conversation))
    }

    /// The first offset of `conversation`'s partition the Directory has not
    /// applied yet: a session joined now gets its messages from there on.
    pub fn live_from(&self, conversation: ConversationId) -> i64 {
        self.applied
            .get(self.partition(conversation) as usize)
            .map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// The Directory has applied `partition` up to `seq` (inclusive).
    pub fn applied_through(&self, partition: i32, seq: i64) {
        if let Some(a) = self.applied.get(partition as usize) {
            a.fetch_max(seq + 1, Ordering::Release);
        }
    }

    /// Users online here.
    pub fn users(&self) -> usize {
        self.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_and_the_offset_it_holds_as_of() {
        let r = Roster::new(&[5, 7]);
        let (u, c) = (UserId::new_random(), ConversationId::new_v7());
        let p = r.partition(c);
        assert!(!r.check(u, c).member);
        assert!(!r.add(u, c), "not online: nothing to add to");
        r.online(u);
        assert!(r.add(u, c));
        let check = r.check(u, c);
        assert!(check.member);
        assert_eq!(check.partition, p);
        assert_eq!(check.checked_seq, [5, 7][p as usize]);
        r.applied_through(p, 40);
        r.applied_through(p, 30);
        assert_eq!(r.check(u, c).checked_seq, 41, "never goes back");
        assert!(r.remove(u, c));
        assert!(!r.check(u, c).member);
        r.offline(u);
        assert_eq!(r.users(), 0);
    }
}
