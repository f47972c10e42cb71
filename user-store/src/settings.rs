//! Settings: every one a command-line flag and an environment variable.

/// user-store's settings.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "user-store", about = "Chat user profiles")]
pub struct Settings {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8380)]
    pub port: u16,
    /// PostgreSQL URL of user-store's own database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The HS256 secret shared by every service.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Database connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// HTTP worker threads.
    #[arg(long, env = "WORKERS", default_value_t = 2)]
    pub workers: usize,
}
