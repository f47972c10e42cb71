//! `Hub`: one actor per HTTP worker thread, the local end of fan-out.
//!
//! A Conversation sends each frame once to every Hub whose thread holds
//! members of it (not once per member); the Hub writes it to those members'
//! sockets itself, on their own thread: no message, no wake-up per member.
//! It also keeps every connection of its thread alive: a sweep pings them
//! once every `PING_INTERVAL_SECS` and closes those silent for
//! `IDLE_TIMEOUT_SECS`, with no timer per connection. The sweep goes a
//! slice at a time ([`SLICES`] ticks per interval), so a thread of 10,000
//! connections writes ~100 pings a tick instead of stalling its deliveries
//! for all 10,000 at once.
//!
//! The thread's connections and which conversations they are in live in
//! thread-local state ([`attach`], [`detach`]), shared by the Hub and the
//! sessions of that thread: connections (`Rc<Conn>`) never leave it.
//!
//! | file | handles |
//! |---|---|
//! | [`deliver`] | [`Deliver`]: a frame for the thread's members of a conversation (slow consumers closed with 1008) |
//! | [`join`] | [`Join`], [`Leave`]: a session of this thread enters or leaves a conversation |
//! | [`to_session`] | [`ToSession`], [`Close`], [`CloseAll`]: a frame for one session; one session's close (signed out); the shutdown's 1001 |
//! | [`report`] | [`Report`]: this thread's connections, for the inspector |

pub mod deliver;
pub mod join;
pub mod report;
pub mod to_session;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actors_common::ConversationId;

pub use deliver::Deliver;
pub use join::{Join, Leave};
pub use report::Report;
pub use to_session::{Close, CloseAll, ToSession};

use super::directory::{Directory, SlowConsumer};
use super::mailbox::Depth;
use super::session::SessionConfig;
use super::SessionId;
use crate::inspect::stats::Kind;
use crate::metrics::Metrics;
use crate::ws::conn::Conn;

/// Capacity of a Hub's mailbox: Conversations wait when it is full.
pub const MAILBOX: usize = 4096;

/// This thread's connections, and its members of each conversation.
#[derive(Default)]
struct Thread {
    sessions: HashMap<SessionId, Rc<Conn>>,
    members: HashMap<ConversationId, Members<Rc<Conn>>>,
}

/// This thread's members of one conversation, as joined through one
/// Conversation actor: its `generation`. When the last member of a
/// conversation on this gateway leaves, its actor stops, and a later join
/// starts another with a higher generation; the two send to this Hub from
/// different threads, so their messages can arrive interleaved. What the
/// older one sends after the newer one's first `Join` is stale and
/// ignored: its `Leave` would take a member the newer one just added, its
/// `Deliver` would hand a session a frame from before it joined.
struct Members<C> {
    generation: u64,
    sessions: HashMap<SessionId, C>,
}

impl<C> Default for Members<C> {
    fn default() -> Self {
        Self {
            generation: 0,
            sessions: HashMap::new(),
        }
    }
}

impl<C> Members<C> {
    /// A `Join` from the actor of `generation`.
    fn join(&mut self, generation: u64, session: SessionId, conn: C) {
        if generation < self.generation {
            return; // from an actor that has been replaced
        }
        if generation > self.generation {
            // A new actor: whatever the old one left here is stale.
            self.generation = generation;
            self.sessions.clear();
        }
        self.sessions.insert(session, conn);
    }

    /// A `Leave` from the actor of `generation`; true when none are left.
    fn leave(&mut self, generation: u64, session: SessionId) -> bool {
        if generation == self.generation {
            self.sessions.remove(&session);
        } // else the old actor's word on a member the new one holds
        self.sessions.is_empty()
    }

    /// Who a `Deliver` from the actor of `generation` reaches.
    fn of(&self, generation: u64) -> Option<&HashMap<SessionId, C>> {
        (generation == self.generation).then_some(&self.sessions)
    }
}

thread_local! {
    static THREAD: RefCell<Thread> = RefCell::default();
    static HUB: OnceCell<HubHandle> = const { OnceCell::new() };
}

static NEXT_HUB: AtomicUsize = AtomicUsize::new(0);

/// How others reach a Hub: its id, address and mailbox depth.
#[derive(Clone, Debug)]
pub struct HubHandle {
    pub id: usize,
    pub addr: Addr<Hub>,
    pub depth: Arc<Depth>,
}

/// This thread's Hub, started on first use.
pub fn here(config: &Arc<SessionConfig>) -> HubHandle {
    HUB.with(|h| {
        h.get_or_init(|| {
            let id = NEXT_HUB.fetch_add(1, Ordering::Relaxed);
            let depth = Arc::new(config.metrics.actors.depth(Kind::Hub));
            let hub = Hub {
                id,
                directory: config.directory.clone(),
                metrics: config.metrics.clone(),
                ping_interval: config.ping_interval,
                idle_timeout: config.idle_timeout,
                depth: depth.clone(),
                round: 0,
            };
            let addr = Hub::create(|ctx| {
                ctx.set_mailbox_capacity(MAILBOX);
                hub
            });
            HubHandle { id, addr, depth }
        })
        .clone()
    })
}

/// A new connection of this thread.
pub fn attach(conn: Rc<Conn>) {
    THREAD.with(|t| {
        t.borrow_mut().sessions.insert(conn.session_id, conn);
    });
}

/// A connection of this thread ended (its conversations' Leave follow
/// through the Directory).
pub fn detach(session_id: SessionId) {
    THREAD.with(|t| {
        t.borrow_mut().sessions.remove(&session_id);
    });
}

/// Ticks per ping interval; each tick sweeps the connections whose session
/// id falls in its slice.
pub const SLICES: u64 = 100;

/// The Hub of one worker thread.
pub struct Hub {
    id: usize,
    directory: Addr<Directory>,
    metrics: Arc<Metrics>,
    ping_interval: Duration,
    idle_timeout: Duration,
    /// This Hub's mailbox depth, counted with the Conversations that send.
    depth: Arc<Depth>,
    /// Sweep ticks so far.
    round: u64,
}

impl Hub {
    /// Closes a connection of this thread that cannot take more (1008):
    /// at once, so its slot is free, and the Directory takes it out of its
    /// conversations.
    fn slow_consumer(&self, conn: &Rc<Conn>) {
        log::warn!(
            "hub: hub={} session_id={} slow consumer, closing",
            self.id,
            conn.session_id
        );
        self.metrics.slow_consumers.inc();
        conn.close(1008, "slow consumer", false);
        self.directory.do_send(SlowConsumer {
            session_id: conn.session_id,
        });
    }

    /// Pings this tick's slice of the thread's connections; closes the
    /// silent ones (their sessions stop when the socket ends).
    fn sweep(&mut self) {
        let idle_timeout = self.idle_timeout;
        let slice = self.round % SLICES;
        self.round += 1;
        THREAD.with(|t| {
            for conn in t.borrow().sessions.values() {
                if conn.session_id % SLICES != slice || conn.is_closing() {
                    continue;
                }
                if conn.last_heard().elapsed() > idle_timeout {
                    log::info!("hub: session_id={} idle, closing", conn.session_id);
                    conn.close(1001, "idle timeout", false);
                } else if conn.queued() == 0 {
                    let _ = conn.send(actix_http::ws::OpCode::Ping, bytes::Bytes::new());
                }
            }
        });
    }
}

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.metrics.actors.alive(Kind::Hub).inc();
        let tick = (self.ping_interval / SLICES as u32).max(Duration::from_millis(10));
        ctx.run_interval(tick, |hub, _| hub.sweep());
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.metrics.actors.alive(Kind::Hub).dec();
    }
}

#[cfg(test)]
mod tests {
    use super::Members;

    /// The last member leaves (actor 1 stops), rejoins at once (actor 2):
    /// actor 1's Leave and a frame of it reach the Hub after actor 2's
    /// Join. The member stays, and gets actor 2's frames, not actor 1's.
    #[test]
    fn a_replaced_actors_late_leave_and_frames_change_nothing() {
        let mut m: Members<&str> = Members::default();
        m.join(1, 7, "s7");
        m.join(2, 7, "s7"); // the new actor's Join overtook the old Leave
        assert!(!m.leave(1, 7), "the old actor's Leave is stale");
        assert_eq!(m.of(2).map(|s| s.len()), Some(1), "still a member");
        assert!(m.of(1).is_none(), "the old actor's frames reach nobody");
        m.join(1, 8, "s8");
        assert!(!m.of(2).unwrap().contains_key(&8), "nor do its Joins");
        assert!(m.leave(2, 7), "the new actor's Leave counts");
    }
}
