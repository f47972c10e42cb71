//! `Users`: what each user may do on this gateway, summed over all of their
//! connections: how many connections they hold (`MAX_CONNECTIONS_PER_USER`)
//! and how fast they send (`USER_RATE_PER_SEC`, `USER_RATE_BURST`), so one
//! account cannot take every slot or send at N times the per-connection
//! rate by opening N connections. One short lock per connect, disconnect and
//! send; a user's entry goes with their last connection.

use std::collections::HashMap;
use std::sync::Mutex;

use actors_common::UserId;

use crate::actors::session::limit::Bucket;

/// See the module docs.
#[derive(Debug)]
pub struct Users {
    max_connections: u32,
    rate_per_sec: u32,
    rate_burst: u32,
    online: Mutex<HashMap<UserId, Online>>,
}

#[derive(Debug)]
struct Online {
    connections: u32,
    sends: Bucket,
}

impl Users {
    pub fn new(max_connections: u32, rate_per_sec: u32, rate_burst: u32) -> Self {
        Self {
            max_connections: max_connections.max(1),
            rate_per_sec,
            rate_burst,
            online: Mutex::new(HashMap::new()),
        }
    }

    fn online(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Online>> {
        // Every change under the lock is one assignment: a panic elsewhere
        // cannot leave an entry half-made, so a poisoned lock is still right.
        self.online.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a connection slot for `user`; false when they hold the most.
    pub fn connect(&self, user: UserId) -> bool {
        let mut online = self.online();
        let entry = online.entry(user).or_insert_with(|| Online {
            connections: 0,
            sends: Bucket::full(self.rate_burst),
        });
        if entry.connections >= self.max_connections {
            return false;
        }
        entry.connections += 1;
        true
    }

    /// A slot taken by [`Users::connect`], given back when the guard drops
    /// unless it was [`Slot::keep`]t (the session then gives it back when it
    /// stops): a handshake cancelled halfway cannot leak it.
    pub fn slot(&self, user: UserId) -> Slot<'_> {
        Slot {
            users: self,
            user,
            kept: false,
        }
    }

    /// Gives back a slot taken by [`Users::connect`].
    pub fn disconnect(&self, user: UserId) {
        let mut online = self.online();
        if let Some(entry) = online.get_mut(&user) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 {
                online.remove(&user);
            }
        }
    }

    /// Takes one of the user's send tokens; false when they have none.
    pub fn take(&self, user: UserId) -> bool {
        self.online()
            .get_mut(&user)
            .is_none_or(|e| e.sends.take(self.rate_per_sec, self.rate_burst))
    }

    /// Users with a connection here.
    pub fn len(&self) -> usize {
        self.online().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// See [`Users::slot`].
#[derive(Debug)]
pub struct Slot<'a> {
    users: &'a Users,
    user: UserId,
    kept: bool,
}

impl Slot<'_> {
    /// The slot now belongs to a running session.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.users.disconnect(self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_user_and_come_back() {
        let users = Users::new(2, 10, 10);
        let (ann, ben) = (UserId::new_random(), UserId::new_random());
        assert!(users.connect(ann));
        assert!(users.connect(ann));
        assert!(!users.connect(ann), "the third is refused");
        assert!(users.connect(ben), "others still connect");
        users.disconnect(ann);
        assert!(users.connect(ann), "a slot given back is free again");
        users.disconnect(ann);
        users.disconnect(ann);
        users.disconnect(ben);
        assert!(users.is_empty(), "entries go with the last connection");
    }

    #[test]
    fn a_slot_not_kept_is_given_back() {
        let users = Users::new(1, 10, 10);
        let ann = UserId::new_random();
        assert!(users.connect(ann));
        drop(users.slot(ann));
        assert!(users.connect(ann), "dropped: free again");
        users.slot(ann).keep();
        assert!(!users.connect(ann), "kept: still taken");
    }

    #[test]
    fn the_send_budget_is_shared_by_a_users_connections() {
        let users = Users::new(5, 1, 3);
        let ann = UserId::new_random();
        assert!(users.connect(ann));
        assert!(users.connect(ann));
        let taken = (0..10).filter(|_| users.take(ann)).count();
        assert_eq!(taken, 3, "one burst for both connections");
    }
}
