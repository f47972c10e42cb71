//! Bounded mailboxes that stay bounded and in order, and count themselves.
//!
//! actix's bounded mailbox lets each *sender* put one message past its
//! capacity, then parks that sender until the receiver catches up. A fresh
//! clone of an `Addr` is a fresh, unparked sender: sending through a new
//! clone each time never waits, and the mailbox grows without bound. So a
//! forwarder sends through the one `Addr` it keeps for each receiver
//! ([`forward`]); when actix refuses (`Full`), the message joins the
//! forwarder's [`Line`], and the forwarder stops taking messages of its own
//! (`ctx.wait`) until the line has gone out, each message only once the one
//! before it was handled. That holds up whoever feeds the forwarder, in
//! turn (back-pressure up to the Kafka consumer). While the line is not
//! empty, every later message joins it, even one that would fit: nothing
//! overtakes (a `Stop` never passes the messages before it).
//!
//! The line is a queue of its own because `ctx.wait` is a stack: several
//! futures waited on in one handler run last one first.
//!
//! [`Depth`] counts what is in a mailbox now and the most it ever held.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use prometheus::IntGauge;

/// Messages in a mailbox: now, and the most at any time; also added to its
/// actor kind's gauges in `/metrics` when made by
/// [`ActorStats::depth`](crate::inspect::stats::ActorStats::depth).
#[derive(Debug, Default)]
pub struct Depth {
    now: AtomicI64,
    high: AtomicI64,
    /// The kind's messages waiting now (summed) and any one mailbox's most.
    kind: Option<(IntGauge, IntGauge)>,
}

impl Depth {
    /// A mailbox counted in these gauges too.
    pub fn counted(now: IntGauge, high: IntGauge) -> Self {
        Self {
            now: AtomicI64::new(0),
            high: AtomicI64::new(0),
            kind: Some((now, high)),
        }
    }

    /// A message was put in.
    pub fn sent(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        let before = self.high.fetch_max(now, Ordering::Relaxed);
        if let Some((total, high)) = &self.kind {
            total.inc();
            if now > before && now > high.get() {
                high.set(now);
            }
        }
    }

    /// A message was taken out (call first thing in its handler).
    pub fn handled(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
        if let Some((total, _)) = &self.kind {
            total.dec();
        }
    }

    pub fn now(&self) -> i64 {
        self.now.load(Ordering::Relaxed)
    }

    pub fn high(&self) -> i64 {
        self.high.load(Ordering::Relaxed)
    }
}

impl Drop for Depth {
    /// Messages still counted when the mailbox goes (its actor stopped
    /// before taking them) leave the kind's total.
    fn drop(&mut self) {
        if let Some((total, _)) = &self.kind {
            total.sub(self.now());
        }
    }
}

type Send = Pin<Box<dyn Future<Output = ()>>>;

/// Messages waiting for room, in the order they were forwarded.
#[derive(Default)]
pub struct Line {
    queue: VecDeque<Box<dyn FnOnce() -> Send>>,
    draining: bool,
}

impl Line {
    /// Messages in the line now.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("waiting", &self.queue.len())
            .finish()
    }
}

/// An actor that forwards to bounded mailboxes with [`forward`].
pub trait Forwards: Actor<Context = Context<Self>> {
    fn line(&mut self) -> &mut Line;
}

/// Sends `msg` to `to` in order and within its bound (see the module docs).
/// `to` must be the forwarder's own `Addr` for the receiver, not a fresh
/// clone; `line` is the forwarder's [`Forwards::line`], and `depth` the
/// receiver's count.
pub fn forward<A, B, M>(
    line: &mut Line,
    to: &Addr<B>,
    depth: &Arc<Depth>,
    msg: M,
    ctx: &mut Context<A>,
) where
    A: Forwards,
    B: Actor + Handler<M>,
    B::Context: ToEnvelope<B, M>,
    M: Message<Result = ()> + std::marker::Send + 'static,
{
    let msg = if line.queue.is_empty() && !line.draining {
        depth.sent();
        match to.try_send(msg) {
            Ok(()) => return,
            Err(SendError::Closed(_)) => {
                depth.handled();
                return;
            }
            Err(SendError::Full(msg)) => {
                depth.handled();
                msg
            }
        }
    } else {
        msg
    };
    let (to, depth) = (to.clone(), depth.clone());
    line.queue.push_back(Box::new(move || {
        Box::pin(async move {
            depth.sent();
            let _ = to.send(msg).await;
        })
    }));
    if !line.draining {
        line.draining = true;
        ctx.wait(Drain::<A> {
            current: None,
            actor: PhantomData,
        });
    }
}

/// Sends the line out, one message at a time, each once the one before it
/// was handled; the forwarder takes nothing else meanwhile.
struct Drain<A> {
    current: Option<Send>,
    actor: PhantomData<fn() -> A>,
}

impl<A: Forwards> ActorFuture<A> for Drain<A> {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        _: &mut Context<A>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let current = match this.current.as_mut() {
                Some(current) => current,
                None => match act.line().queue.pop_front() {
                    Some(next) => this.current.insert(next()),
                    None => {
                        act.line().draining = false;
                        return Poll::Ready(());
                    }
                },
            };
            match current.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => this.current = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// A receiver with a small mailbox that records what it handles.
    struct Slow {
        depth: Arc<Depth>,
        log: Arc<Mutex<Vec<u32>>>,
    }
    impl Actor for Slow {
        type Context = Context<Self>;
    }
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Item(u32);
    impl Handler<Item> for Slow {
        type Result = ();
        fn handle(&mut self, Item(n): Item, _: &mut Context<Self>) {
            self.depth.handled();
            self.log.lock().unwrap().push(n);
        }
    }
    /// Answers once the receiver runs (with its small mailbox set).
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Started;
    impl Handler<Started> for Slow {
        type Result = ();
        fn handle(&mut self, _: Started, _: &mut Context<Self>) {}
    }
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Halt;
    impl Handler<Halt> for Slow {
        type Result = ();
        fn handle(&mut self, _: Halt, ctx: &mut Context<Self>) {
            self.depth.handled();
            self.log.lock().unwrap().push(u32::MAX);
            ctx.stop();
        }
    }

    /// Forwards `n` items and then a `Halt`, all in one handler call.
    struct Forwarder {
        to: Addr<Slow>,
        depth: Arc<Depth>,
        line: Line,
    }
    impl Actor for Forwarder {
        type Context = Context<Self>;
    }
    impl Forwards for Forwarder {
        fn line(&mut self) -> &mut Line {
            &mut self.line
        }
    }
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Burst(u32);
    impl Handler<Burst> for Forwarder {
        type Result = ();
        fn handle(&mut self, Burst(n): Burst, ctx: &mut Context<Self>) {
            for i in 0..n {
                forward(&mut self.line, &self.to, &self.depth, Item(i), ctx);
            }
            forward(&mut self.line, &self.to, &self.depth, Halt, ctx);
        }
    }
    /// Answers once every message before it was handled.
    #[derive(Message)]
    #[rtype(result = "usize")]
    struct Probe;
    impl Handler<Probe> for Forwarder {
        type Result = usize;
        fn handle(&mut self, _: Probe, _: &mut Context<Self>) -> usize {
            self.line.len()
        }
    }

    #[test]
    fn a_full_mailbox_stays_bounded_keeps_order_and_the_halt_comes_last() {
        let system = actix::System::new();
        system.block_on(async {
            let depth = Arc::new(Depth::default());
            let log = Arc::new(Mutex::new(Vec::new()));
            // The receiver's thread is held up first, so its mailbox fills.
            let arbiter = Arbiter::new();
            let (release, hold) = mpsc::channel::<()>();
            let slow = {
                let (depth, log) = (depth.clone(), log.clone());
                Slow::start_in_arbiter(&arbiter.handle(), move |ctx| {
                    ctx.set_mailbox_capacity(4);
                    Slow { depth, log }
                })
            };
            slow.send(Started).await.unwrap();
            let (held, is_held) = mpsc::channel::<()>();
            arbiter.spawn(async move {
                let _ = held.send(());
                let _ = hold.recv_timeout(Duration::from_secs(10));
            });
            is_held.recv_timeout(Duration::from_secs(10)).unwrap();
            let forwarder = Forwarder {
                to: slow,
                depth: depth.clone(),
                line: Line::default(),
            }
            .start();
            forwarder.do_send(Burst(200));
            // A probe sent now is handled only once the forwarder stopped
            // waiting for room, after everything before it went out.
            let probe = forwarder.send(Probe);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while depth.now() < 4 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the mailbox never filled"
                );
                actix::clock::sleep(Duration::from_millis(5)).await;
            }
            // The receiver's mailbox is full and the forwarder waits: the
            // burst did not pile up.
            assert!(
                depth.now() <= 4 + 2,
                "{} queued, over the bound",
                depth.now()
            );
            release.send(()).unwrap();
            assert_eq!(
                probe.await.unwrap(),
                0,
                "every message sent before the probe"
            );
            let log = log.lock().unwrap().clone();
            let mut expected: Vec<u32> = (0..200).collect();
            expected.push(u32::MAX);
            assert_eq!(log, expected, "in order, the halt last, nothing lost");
            assert!(depth.high() <= 6, "high-water {}", depth.high());
            assert_eq!(depth.now(), 0);
            arbiter.stop();
        });
    }
}
