//! Settings: every one a command-line flag and an environment variable.

use std::time::Duration;

/// The gateway's settings.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "gateway", about = "Chat WebSocket delivery gateway")]
pub struct Settings {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8180)]
    pub port: u16,
    /// The HS256 secret shared by every service.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP", default_value = "127.0.0.1:19092")]
    pub kafka_bootstrap: String,
    /// Prefix of every topic name (empty in production).
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub kafka_topic_prefix: String,
    /// Prefix of this process's unique consumer group id.
    #[arg(long, env = "KAFKA_GROUP_PREFIX", default_value = "gateway")]
    pub kafka_group_prefix: String,
    /// Kafka producer idempotence (see actors_common::kafka).
    #[arg(long, env = "KAFKA_IDEMPOTENCE", default_value_t = false)]
    pub kafka_idempotence: bool,
    /// Consumer fetch wait (ms): lower is lower latency, more broker requests.
    #[arg(long, env = "KAFKA_FETCH_WAIT_MS", default_value_t = 1)]
    pub kafka_fetch_wait_ms: u64,
    /// Base URL of message-store.
    #[arg(
        long,
        env = "MESSAGE_STORE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub message_store_url: String,
    /// Comma-separated `Origin`s allowed besides loopback ones.
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        default_value = "http://127.0.0.1:3000,http://localhost:3000",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Messages per second a connection may send (sustained).
    #[arg(long, env = "RATE_PER_SEC", default_value_t = 20)]
    pub rate_per_sec: u32,
    /// Messages a connection may send in a burst.
    #[arg(long, env = "RATE_BURST", default_value_t = 40)]
    pub rate_burst: u32,
    /// How long a send waits for Kafka's acknowledgement before `unavailable` (ms).
    #[arg(long, env = "SEND_TIMEOUT_MS", default_value_t = 5000)]
    pub send_timeout_ms: u64,
    /// Frames a session may have queued before it counts as a slow consumer.
    #[arg(long, env = "OUTBOUND_QUEUE", default_value_t = 256)]
    pub outbound_queue: usize,
    /// Seconds between server pings.
    #[arg(long, env = "PING_INTERVAL_SECS", default_value_t = 15)]
    pub ping_interval_secs: u64,
    /// Seconds without any frame from a client before it is closed.
    #[arg(long, env = "IDLE_TIMEOUT_SECS", default_value_t = 45)]
    pub idle_timeout_secs: u64,
    /// HTTP worker threads (they host the session actors); 0 = one per core.
    #[arg(long, env = "WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Arbiters (threads) hosting Conversation actors; 0 = one per core.
    #[arg(long, env = "CONVERSATION_ARBITERS", default_value_t = 0)]
    pub conversation_arbiters: usize,
    /// Most connections this process accepts (stay under the open-file limit).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 25_000)]
    pub max_connections: usize,
    /// Most connections one user may hold on this gateway.
    #[arg(long, env = "MAX_CONNECTIONS_PER_USER", default_value_t = 20)]
    pub max_connections_per_user: u32,
    /// Messages (and typing notices) a second one user may send through
    /// this gateway, over all of their connections (0: twice `RATE_PER_SEC`).
    #[arg(long, env = "USER_RATE_PER_SEC", default_value_t = 0)]
    pub user_rate_per_sec: u32,
    /// The same user's burst (0: twice `RATE_BURST`).
    #[arg(long, env = "USER_RATE_BURST", default_value_t = 0)]
    pub user_rate_burst: u32,
    /// This gateway's name in traces and the inspector (default `gw-PORT`).
    #[arg(long, env = "GATEWAY_NAME", default_value = "")]
    pub gateway_name: String,
    /// Trace one send in this many (0: none sampled).
    #[arg(long, env = "TRACE_SAMPLE", default_value_t = 0)]
    pub trace_sample: u64,
    /// Users whose sends may ask to be traced (`"trace": true`): `*` for
    /// anyone, or comma-separated user ids; empty for nobody.
    #[arg(long, env = "TRACE_USERS", default_value = "")]
    pub trace_users: String,
    /// Token that opens the inspector from elsewhere than this machine
    /// (empty: loopback only).
    #[arg(
        long,
        env = "INSPECT_TOKEN",
        default_value = "",
        hide_env_values = true
    )]
    pub inspect_token: String,
    /// Other gateways' base URLs, asked for their part of a trace.
    #[arg(long, env = "INSPECT_PEERS", default_value = "", value_delimiter = ',')]
    pub inspect_peers: Vec<String>,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Settings {
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            cores()
        } else {
            self.workers
        }
    }
    pub fn arbiter_count(&self) -> usize {
        if self.conversation_arbiters == 0 {
            cores()
        } else {
            self.conversation_arbiters
        }
    }
}
