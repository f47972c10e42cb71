//! The command line.

use std::net::IpAddr;
use std::time::Duration;

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Connect N clients, hold them, measure connect time and gateway memory.
    Idle,
    /// C conversations of M members; S senders at R messages/s in total.
    Fanout,
    /// One conversation with every client; S senders at R messages/s.
    Broadcast,
    /// S senders create conversations of M members (online on several
    /// gateways) at R per second in total, and send into each the moment
    /// it exists: the first-message race. Fails on any refusal or miss.
    Churn,
}

/// How clients get their tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Auth {
    /// Mint gateway and message-store tokens with JWT_SECRET (scales to any N).
    Mint,
    /// Register every user through the bff and ask it for WebSocket tokens (realistic).
    Bff,
}

#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "loadgen",
    about = "WebSocket load generator for the chat gateway, verifying every delivery"
)]
pub struct Args {
    /// Scenario.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Gateway WebSocket URLs; clients are spread over them round-robin.
    #[arg(long, value_delimiter = ',', default_value = "ws://127.0.0.1:8180/ws")]
    pub gateways: Vec<String>,
    /// Local source addresses to connect from (each has ~28k ports per destination).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    pub source_addrs: Vec<IpAddr>,
    /// Connections (one user each).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub connections: usize,
    /// Conversations (fanout).
    #[arg(long, default_value_t = 10)]
    pub conversations: usize,
    /// Members per conversation (fanout).
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Sending clients.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Bytes of padding in each message body.
    #[arg(long, default_value_t = 64)]
    pub body_bytes: usize,
    /// Seconds of sending (or holding, for idle).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds over which connections are opened.
    #[arg(long, default_value_t = 2)]
    pub ramp: u64,
    /// Seconds to wait after sending stops, for deliveries in flight.
    #[arg(long, default_value_t = 3)]
    pub drain: u64,
    /// Token source.
    #[arg(long, value_enum, default_value_t = Auth::Mint)]
    pub auth: Auth,
    /// HS256 secret shared with the services (auth=mint).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, default_value = "")]
    pub jwt_secret: String,
    /// message-store base URL (auth=mint provisions conversations there).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub message_store_url: String,
    /// bff base URL (auth=bff).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub bff_url: String,
    /// Gateway process ids to sample from /proc (RSS, CPU time).
    #[arg(long, value_delimiter = ',')]
    pub gateway_pids: Vec<u32>,
    /// Write the JSON result here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Draw latency percentiles and deliveries per second over time here (PNG).
    #[arg(long)]
    pub plot: Option<std::path::PathBuf>,
    /// Runtime threads (per worker process).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Worker processes to spread the connections over (each process may
    /// hold at most ~19,000 sockets here). Users are dealt round-robin; the
    /// coordinator merges histograms and verifies every conversation whole.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Internal: this process is worker K of `--workers`, reading its job on
    /// stdin and writing its result on stdout.
    #[arg(long, hide = true)]
    pub worker_index: Option<u16>,
    /// Print no per-second progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Clients reconnect (with backoff) when their connection ends, catch up
    /// from history (up to where live delivery resumed) and resend what was
    /// not answered or was answered `unavailable`, with the same client id:
    /// what the web UI does. For fault runs (scripts/faults.sh).
    #[arg(long)]
    pub resilient: bool,
    /// A shell command that injects a fault (scripts/faults.sh writes one),
    /// run `--fault-at` seconds after sending starts; recovery is measured
    /// from that moment.
    #[arg(long)]
    pub fault_cmd: Option<String>,
    /// Seconds into sending when `--fault-cmd` runs.
    #[arg(long, default_value_t = 10)]
    pub fault_at: u64,
    /// This many clients (non-senders) stop reading when the fault is
    /// injected, for `--stall-secs`: the gateway must close them (1008)
    /// while everyone else goes on.
    #[arg(long, default_value_t = 0)]
    pub stall: usize,
    /// How long stalled clients stop reading.
    #[arg(long, default_value_t = 20)]
    pub stall_secs: u64,
    /// Conversations whose members' sequences are compared with history at
    /// the end (message-store, read with minted tokens; 0 turns it off).
    #[arg(long, default_value_t = 10)]
    pub history_sample: usize,
    /// Ask the gateway to trace 1 send in N (0: none) and print where the
    /// latency of the traced messages went, hop by hop. The gateways must
    /// let loadgen's users ask (`TRACE_USERS='*'`).
    #[arg(long, default_value_t = 0)]
    pub trace_sample: u64,
}

impl Args {
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }
    pub fn ramp(&self) -> Duration {
        Duration::from_secs(self.ramp)
    }
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain)
    }
}
