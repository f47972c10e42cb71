//! Worker processes, for runs larger than one process may hold (20,000 open
//! files here).
//!
//! With `--workers N` the coordinator provisions once, then starts N copies
//! of this binary with the same arguments plus `--worker-index K`. Worker K
//! reads a [`Job`] on stdin (the whole plan, its users `K, K+N, K+2N, …`,
//! and the run's start as wall-clock time), runs them exactly as a single
//! process would, prints an `@progress` line a second on stderr, and writes
//! a [`WorkerResult`] on stdout. The coordinator adds the progress lines up
//! into one display, merges the histograms, and verifies every
//! conversation with all its members' logs, whichever worker held them.
//!
//! Received sequences are sent once per distinct sequence: members of a
//! conversation normally saw the same one, so a 5,000-member broadcast
//! ships one list of ids per worker, not 5,000.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actors_common::ConversationId;
use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::cli::Args;
use crate::client::{self, now_us, Delivered, Log, Sent, StallOutcome, Timeline};
use crate::provision::Plan;
use crate::stats::{print_progress, ProgressOut, Recorded, Snapshot, WireRecorded};

/// What a worker is asked to do.
#[derive(Serialize, Deserialize)]
struct Job<P> {
    /// When connections start opening, as Unix microseconds.
    start_unix_us: u64,
    /// Indices into `plan.users` this worker runs.
    users: Vec<usize>,
    plan: P,
}

/// One connection's log, with received sequences by index.
#[derive(Serialize, Deserialize)]
struct WireLog {
    connected: bool,
    /// (conversation, index into `WorkerResult::sequences`).
    received: Vec<(ConversationId, usize)>,
    sent: Vec<Sent>,
    created: Vec<(ConversationId, Vec<usize>)>,
    errors: HashMap<String, u64>,
    caught_up: Vec<(ConversationId, Vec<Delivered>)>,
    reconnects: u32,
    resent: u64,
    unavailable: u64,
    first_ack_after_fault_us: Option<u64>,
    stall: Option<StallOutcome>,
}

/// What a worker reports: its users' logs, in the order of `Job::users`.
#[derive(Serialize, Deserialize)]
struct WorkerResult {
    logs: Vec<WireLog>,
    sequences: Vec<Vec<Delivered>>,
    recorded: WireRecorded,
}

fn pack(logs: &[Log], recorded: &Recorded) -> WorkerResult {
    let mut index: HashMap<&[Delivered], usize> = HashMap::new();
    let mut sequences: Vec<Vec<Delivered>> = Vec::new();
    let logs = logs
        .iter()
        .map(|log| WireLog {
            connected: log.connected,
            received: log
                .received
                .iter()
                .map(|(c, seq)| {
                    let k = *index.entry(seq.as_slice()).or_insert_with(|| {
                        sequences.push(seq.clone());
                        sequences.len() - 1
                    });
                    (*c, k)
                })
                .collect(),
            sent: log.sent.clone(),
            created: log.created.clone(),
            errors: log.errors.clone(),
            caught_up: log.caught_up.iter().map(|(c, d)| (*c, d.clone())).collect(),
            reconnects: log.reconnects,
            resent: log.resent,
            unavailable: log.unavailable,
            first_ack_after_fault_us: log
                .first_ack_after_fault
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            stall: log.stall,
        })
        .collect();
    WorkerResult {
        logs,
        sequences,
        recorded: WireRecorded::from(recorded),
    }
}

fn unpack(result: &WorkerResult) -> anyhow::Result<(Vec<Log>, Recorded)> {
    let logs = result
        .logs
        .iter()
        .map(|w| {
            let received = w
                .received
                .iter()
                .map(|&(c, k)| {
                    let seq = result.sequences.get(k).context("bad sequence index")?;
                    Ok((c, seq.clone()))
                })
                .collect::<anyhow::Result<_>>()?;
            Ok(Log {
                connected: w.connected,
                received,
                sent: w.sent.clone(),
                created: w.created.clone(),
                errors: w.errors.clone(),
                caught_up: w.caught_up.iter().cloned().collect(),
                reconnects: w.reconnects,
                resent: w.resent,
                unavailable: w.unavailable,
                first_ack_after_fault: w.first_ack_after_fault_us.map(Duration::from_micros),
                stall: w.stall,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((logs, Recorded::try_from(&result.recorded)?))
}

/// The `Instant` of a wall-clock time in Unix microseconds.
fn instant_of(unix_us: u64) -> Instant {
    let (now, now_unix) = (Instant::now(), now_us());
    if unix_us >= now_unix {
        now + Duration::from_micros(unix_us - now_unix)
    } else {
        now.checked_sub(Duration::from_micros(now_unix - unix_us))
            .unwrap_or(now)
    }
}

/// The worker side: job on stdin, result on stdout.
pub async fn work(args: &Args) -> anyhow::Result<()> {
    let mut input = Vec::new();
    tokio::io::stdin().read_to_end(&mut input).await?;
    let job: Job<Plan> = serde_json::from_slice(&input).context("reading the job on stdin")?;
    let timeline = Timeline::new(args, instant_of(job.start_unix_us));
    let (logs, recorded) =
        client::run_users(args, &job.plan, &job.users, timeline, ProgressOut::Machine).await?;
    let out = serde_json::to_vec(&pack(&logs, &recorded))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(())
}

/// The coordinator side: runs the plan over `args.workers` processes and
/// returns every user's log (in plan order) and the merged histograms.
pub async fn coordinate(
    args: &Args,
    plan: &Plan,
    timeline: Timeline,
) -> anyhow::Result<(Vec<Log>, Recorded)> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (n, workers) = (plan.users.len(), usize::from(args.workers));
    let ahead = timeline.start.saturating_duration_since(Instant::now());
    let start_unix_us = now_us() + u64::try_from(ahead.as_micros()).unwrap_or(0);
    let progress = Arc::new(Mutex::new(vec![Snapshot::default(); workers]));

    let mut children = Vec::with_capacity(workers);
    for k in 0..workers {
        let users: Vec<usize> = (k..n).step_by(workers).collect();
        let mut child = tokio::process::Command::new(&exe)
            .args(&argv)
            .arg("--worker-index")
            .arg(k.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker process")?;
        let job = serde_json::to_vec(&Job {
            start_unix_us,
            users: users.clone(),
            plan,
        })?;
        let mut stdin = child.stdin.take().context("worker stdin")?;
        tokio::spawn(async move {
            // A worker that cannot read its job fails, and says so.
            let _ = stdin.write_all(&job).await;
        });
        let stderr = child.stderr.take().context("worker stderr")?;
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match Snapshot::from_line(&line) {
                    Some(s) => {
                        if let Ok(mut p) = progress.lock() {
                            p[k] = s;
                        }
                    }
                    None => eprintln!("[worker {k}] {line}"),
                }
            }
        });
        children.push((k, users, child));
    }

    let display = (!args.quiet).then(|| {
        let progress = progress.clone();
        tokio::spawn(async move {
            let first = timeline.start + Duration::from_secs(1);
            let mut tick = tokio::time::interval_at(first.into(), Duration::from_secs(1));
            let mut last = Snapshot::default();
            loop {
                tick.tick().await;
                let now = progress.lock().map_or(Snapshot::default(), |p| {
                    p.iter().fold(Snapshot::default(), |a, s| a.add(*s))
                });
                print_progress(timeline.start.elapsed().as_secs(), now, last, n);
                last = now;
            }
        })
    });

    let mut logs: Vec<Log> = vec![Log::default(); n];
    let mut recorded = Recorded::default();
    let mut failure = None;
    for (k, users, child) in children {
        let output = child.wait_with_output().await?;
        if !output.status.success() {
            failure.get_or_insert(format!("worker {k} failed: {}", output.status));
            continue;
        }
        let result: WorkerResult = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("reading worker {k}'s result"))?;
        let (share, share_recorded) = unpack(&result)?;
        if share.len() != users.len() {
            bail!(
                "worker {k} returned {} logs for {} users",
                share.len(),
                users.len()
            );
        }
        for (i, log) in users.into_iter().zip(share) {
            logs[i] = log;
        }
        recorded.merge(&share_recorded)?;
    }
    if let Some(d) = display {
        d.abort();
    }
    if let Some(f) = failure {
        bail!(f);
    }
    Ok((logs, recorded))
}

#[cfg(test)]
mod tests {
    use actors_common::MessageId;

    use super::*;

    #[test]
    fn identical_sequences_are_shipped_once_and_restored_for_everyone() {
        let (a, b) = (ConversationId::new_v7(), ConversationId::new_v7());
        let ids: Vec<Delivered> = (0..3).map(|i| (MessageId::new_v7(), i)).collect();
        let sent = vec![Sent {
            conversation: a,
            answer: client::Answer::Acked(ids[0].0, ids[0].1),
            attempts: 1,
        }];
        let log = |seq: &[Delivered]| Log {
            connected: true,
            received: [(a, seq.to_vec()), (b, vec![ids[2]])].into_iter().collect(),
            sent: sent.clone(),
            created: vec![(b, vec![0, 1])],
            reconnects: 2,
            ..Log::default()
        };
        let logs = vec![log(&ids), log(&ids), log(&ids[..2]), Log::default()];
        let packed = pack(&logs, &Recorded::default());
        assert_eq!(
            packed.sequences.len(),
            3,
            "full, prefix, and b's one message"
        );
        let bytes = serde_json::to_vec(&packed).unwrap();
        let (restored, _) = unpack(&serde_json::from_slice(&bytes).unwrap()).unwrap();
        assert_eq!(restored.len(), 4);
        assert_eq!(restored[1].received[&a], ids);
        assert_eq!(restored[2].received[&a], ids[..2].to_vec());
        assert_eq!(restored[2].received[&b], vec![ids[2]]);
        assert_eq!(restored[0].sent, sent);
        assert_eq!(restored[0].created, vec![(b, vec![0, 1])]);
        assert_eq!(restored[0].reconnects, 2);
        assert!(!restored[3].connected && restored[3].received.is_empty());
    }

    #[test]
    fn wall_clock_start_maps_to_the_same_moment() {
        let later = instant_of(now_us() + 2_000_000);
        let d = later.saturating_duration_since(Instant::now());
        assert!(
            d > Duration::from_millis(1_900) && d <= Duration::from_secs(2),
            "{d:?}"
        );
    }
}
