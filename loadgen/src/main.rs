//! loadgen: opens many WebSocket connections to one or more gateways, runs a
//! scenario, measures with HDR histograms, and verifies that every member of
//! every conversation received every acknowledged message exactly once and
//! in one order. Exits non-zero on any loss, duplicate or reorder.
//!
//! | module | holds |
//! |---|---|
//! | [`cli`] | the command line (scenarios and their knobs) |
//! | [`provision`] | users, tokens (minted, or through the bff) and conversations |
//! | [`client`] | one connection: handshake from a chosen source address, send, receive, record |
//! | [`workers`] | `--workers N`: spreading users over processes, merging their results |
//! | [`stats`] | the aggregator: histograms, per-second series, progress line |
//! | [`verify`] | the verdicts: lost, unanswered, duplicated, out of order, sender order, leaks, refusals, history |
//! | [`history`] | sampled conversations' history, read back from message-store |
//! | [`report`] | final table, JSON result file, gateway /proc sampling |
//! | [`plot`] | `--plot`: latency percentiles and deliveries per second over time, as PNG |

mod cli;
mod client;
mod history;
mod plot;
mod provision;
mod report;
mod stats;
mod verify;
mod workers;

use std::time::{Duration, Instant};

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    let args = cli::Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    let clean = runtime.block_on(run(args))?;
    // Open sockets close with the runtime; do not wait for peers.
    runtime.shutdown_background();
    if !clean {
        std::process::exit(2);
    }
    Ok(())
}

async fn run(args: cli::Args) -> anyhow::Result<bool> {
    if args.worker_index.is_some() {
        workers::work(&args).await?;
        return Ok(true);
    }
    let plan = provision::plan(&args).await?;
    // Worker processes need a moment to start and read the plan.
    let lead = if args.workers > 1 {
        Duration::from_secs(2) + Duration::from_micros(50 * plan.users.len() as u64)
    } else {
        Duration::ZERO
    };
    let timeline = client::Timeline::new(&args, Instant::now() + lead);
    let work = async {
        if args.workers > 1 {
            workers::coordinate(&args, &plan, timeline).await
        } else {
            let everyone: Vec<usize> = (0..plan.users.len()).collect();
            let progress = if args.quiet {
                stats::ProgressOut::Quiet
            } else {
                stats::ProgressOut::Human
            };
            client::run_users(&args, &plan, &everyone, timeline, progress).await
        }
    };
    let (result, gateways) = report::sampling_gateways(&args, timeline, work).await;
    let (logs, recorded) = result?;
    let histories = history::sample(&args, &plan, &logs).await?;
    let outcome = report::Outcome {
        logs,
        histories,
        summary: recorded.summary(),
        gateways,
    };
    report::print_and_save(&args, &plan, &outcome)
}
