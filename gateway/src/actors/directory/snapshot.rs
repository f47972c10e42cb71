//! `TakeSnapshot`: the inspector asks what the actors are doing.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use actix::prelude::*;
use futures_util::future::join_all;

use super::Directory;
use crate::actors::hub;
use crate::inspect::snapshot::{ConversationRow, HubRow, MailboxRow, Snapshot, TakeSnapshot};
use crate::inspect::stats::{Handled, Kind};

impl Handler<TakeSnapshot> for Directory {
    type Result = ResponseFuture<Snapshot>;

    fn handle(&mut self, msg: TakeSnapshot, _: &mut Context<Self>) -> Self::Result {
        let _timer = self.metrics.actors.time(Handled::DirectorySnapshot);
        let m = &self.metrics;
        let mut mailbox = MailboxRow {
            kind: Kind::Conversation,
            actors: self.conversations.len(),
            now: 0,
            high: 0,
        };
        let mut conversations: Vec<ConversationRow> = self
            .conversations
            .iter()
            .map(|(id, e)| {
                mailbox.now += e.depth.now();
                mailbox.high = mailbox.high.max(e.depth.high());
                ConversationRow {
                    id: *id,
                    members: e.members,
                    deliveries: e.traffic.deliveries.load(Ordering::Relaxed),
                    slow_consumers: e.traffic.slow_consumers.load(Ordering::Relaxed),
                    mailbox: e.depth.now(),
                    mailbox_high: e.depth.high(),
                }
            })
            .collect();
        conversations
            .sort_unstable_by_key(|c| std::cmp::Reverse((c.deliveries, c.mailbox, c.members)));
        conversations.truncate(msg.top);
        let mut snapshot = Snapshot {
            gateway: m.tracer.gateway().to_owned(),
            at_ms: actors_common::time::now_millis().timestamp_millis(),
            actors: Kind::ALL
                .iter()
                .map(|&k| (k.as_str(), m.actors.alive(k).get()))
                .collect::<BTreeMap<_, _>>(),
            handled: m.actors.rows(),
            mailboxes: vec![mailbox],
            conversations,
            consumer_lag: m.consumer_lag.get(),
            connections: m.connections.get(),
            frames_in: m.frames_in.get(),
            frames_out: m.frames_out.get(),
            deliveries: m.deliveries.get(),
            slow_consumers: m.slow_consumers.get(),
            traces: m.tracer.recent(),
            ..Snapshot::default()
        };
        let hubs: Vec<_> = self.hubs.values().cloned().collect();
        Box::pin(async move {
            let asked = hubs
                .iter()
                .map(|h| h.addr.send(hub::Report { top: msg.top }));
            let reports = join_all(asked).await;
            let mut mailbox = MailboxRow {
                kind: Kind::Hub,
                actors: hubs.len(),
                now: 0,
                high: 0,
            };
            for (h, report) in hubs.iter().zip(reports) {
                let Ok(report) = report else { continue };
                mailbox.now += h.depth.now();
                mailbox.high = mailbox.high.max(h.depth.high());
                snapshot.hubs.push(HubRow {
                    id: h.id,
                    thread: report.thread,
                    connections: report.connections,
                    conversations: report.conversations,
                    mailbox: h.depth.now(),
                    mailbox_high: h.depth.high(),
                });
                snapshot.sessions.extend(report.sessions);
            }
            snapshot.hubs.sort_by_key(|h| h.id);
            snapshot
                .sessions
                .sort_unstable_by_key(|s| std::cmp::Reverse((s.queued, s.frames_out)));
            snapshot.sessions.truncate(msg.top);
            snapshot.mailboxes.push(mailbox);
            snapshot
        })
    }
}
