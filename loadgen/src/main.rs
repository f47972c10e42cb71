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
//! | [`stats`] | the aggregator: histograms, per-second series, progress line |
//! | [`verify`] | loss / duplicate / reorder accounting |
//! | [`report`] | final table, JSON result file, gateway /proc sampling |

mod cli;
mod client;
mod provision;
mod report;
mod stats;
mod verify;

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
    let plan = provision::plan(&args).await?;
    let outcome = client::run_all(&args, &plan).await?;
    let clean = report::print_and_save(&args, &plan, &outcome)?;
    Ok(clean)
}
