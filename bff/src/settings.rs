//! Settings: every one a command-line flag and an environment variable.

use std::time::Duration;

/// bff's settings.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "bff", about = "Chat backend-for-frontend and web UI")]
pub struct Settings {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// PostgreSQL URL of the bff's own database (accounts, sessions).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The HS256 secret shared by every service.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Base URL of user-store.
    #[arg(long, env = "USER_STORE_URL", default_value = "http://127.0.0.1:8380")]
    pub user_store_url: String,
    /// Base URL of message-store.
    #[arg(
        long,
        env = "MESSAGE_STORE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub message_store_url: String,
    /// The WebSocket URL browsers connect to (the gateway, or nginx in front of several).
    #[arg(
        long,
        env = "GATEWAY_PUBLIC_URL",
        default_value = "ws://127.0.0.1:8180/ws"
    )]
    pub gateway_public_url: String,
    /// The gateways' HTTP base URLs, comma-separated, for ending a logged-out
    /// session's sockets (any one will do: it tells every gateway). Empty:
    /// the gateway behind `GATEWAY_PUBLIC_URL`.
    #[arg(long, env = "GATEWAY_URLS", value_delimiter = ',', default_value = "")]
    pub gateway_urls: Vec<String>,
    /// Mark the session cookie `Secure` (set when served over TLS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,
    /// Session lifetime, in hours.
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 168)]
    pub session_ttl_hours: u64,
    /// Login attempts allowed per username per minute (burst twice that).
    #[arg(long, env = "LOGIN_PER_USERNAME_PER_MIN", default_value_t = 10)]
    pub login_per_username_per_min: u32,
    /// Login attempts allowed per client address per minute (burst twice that).
    #[arg(long, env = "LOGIN_PER_ADDRESS_PER_MIN", default_value_t = 60)]
    pub login_per_address_per_min: u32,
    /// Sign-ups allowed per client address per minute (burst twice that).
    #[arg(long, env = "SIGNUP_PER_ADDRESS_PER_MIN", default_value_t = 60)]
    pub signup_per_address_per_min: u32,
    /// Groups one user may create per minute (burst twice that).
    #[arg(long, env = "GROUPS_PER_USER_PER_MIN", default_value_t = 30)]
    pub groups_per_user_per_min: u32,
    /// Gateway tokens (`/api/ws-token`) one session may take per minute
    /// (burst twice that); the UI takes one per connect.
    #[arg(long, env = "WS_TOKENS_PER_SESSION_PER_MIN", default_value_t = 30)]
    pub ws_tokens_per_session_per_min: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    #[arg(long, env = "TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// With `TRUST_PROXY`: how many proxies of ours add themselves to
    /// `X-Forwarded-For`; the client is the address the outermost of them
    /// saw (that many entries from the right), never one the client wrote.
    #[arg(long, env = "TRUSTED_PROXIES", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub trusted_proxies: u8,
    /// Password hashes computed at once (0: one per core).
    #[arg(long, env = "HASH_THREADS", default_value_t = 0)]
    pub hash_threads: usize,
    /// Sign-ups and logins that may wait for a hash thread; past it, 503.
    #[arg(long, env = "HASH_QUEUE", default_value_t = 32)]
    pub hash_queue: usize,
    /// Longest wait for a hash thread before 503, in milliseconds.
    #[arg(long, env = "HASH_TIMEOUT_MS", default_value_t = 5000)]
    pub hash_timeout_ms: u64,
    /// Timeout of each call to user-store or message-store, in milliseconds.
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value_t = 5000)]
    pub upstream_timeout_ms: u64,
    /// Database connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// HTTP worker threads.
    #[arg(long, env = "WORKERS", default_value_t = 2)]
    pub workers: usize,
}

impl Settings {
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours * 3600)
    }

    /// `GATEWAY_URLS`, or the HTTP base of `GATEWAY_PUBLIC_URL`.
    pub fn gateways(&self) -> Vec<String> {
        let listed: Vec<String> = self
            .gateway_urls
            .iter()
            .filter(|g| !g.trim().is_empty())
            .cloned()
            .collect();
        if !listed.is_empty() {
            return listed;
        }
        let public = &self.gateway_public_url;
        let http = public
            .strip_prefix("wss://")
            .map(|rest| format!("https://{rest}"))
            .or_else(|| {
                public
                    .strip_prefix("ws://")
                    .map(|rest| format!("http://{rest}"))
            })
            .unwrap_or_else(|| public.clone());
        vec![http.trim_end_matches("/ws").to_owned()]
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }
}
