//! `Report`: what this thread holds, for the inspector's snapshot.

use actix::prelude::*;

use super::{Hub, THREAD};
use crate::inspect::snapshot::SessionRow;
use crate::inspect::stats::Handled;

/// Report this thread's connections, with the `top` busiest.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "HubReport")]
pub struct Report {
    pub top: usize,
}

#[derive(Debug)]
pub struct HubReport {
    pub thread: String,
    pub connections: usize,
    /// Conversations with members on this thread.
    pub conversations: usize,
    /// The busiest: most frames waiting, then most written.
    pub sessions: Vec<SessionRow>,
}

impl Handler<Report> for Hub {
    type Result = MessageResult<Report>;

    fn handle(&mut self, msg: Report, _: &mut Context<Self>) -> Self::Result {
        let _timer = self.metrics.actors.time(Handled::HubSnapshot);
        let report = THREAD.with(|t| {
            let t = t.borrow();
            let mut sessions: Vec<SessionRow> = t
                .sessions
                .values()
                .map(|c| SessionRow {
                    session_id: c.session_id,
                    user_id: c.user,
                    hub: self.id,
                    queued: c.queued(),
                    frames_out: c.frames_out(),
                })
                .collect();
            let busiest = |a: &SessionRow, b: &SessionRow| {
                (b.queued, b.frames_out).cmp(&(a.queued, a.frames_out))
            };
            if sessions.len() > msg.top && msg.top > 0 {
                sessions.select_nth_unstable_by(msg.top - 1, busiest);
                sessions.truncate(msg.top);
            }
            sessions.sort_unstable_by(busiest);
            sessions.truncate(msg.top);
            HubReport {
                thread: std::thread::current().name().unwrap_or("?").to_owned(),
                connections: t.sessions.len(),
                conversations: t.members.len(),
                sessions,
            }
        });
        MessageResult(report)
    }
}
