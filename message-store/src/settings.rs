//! Settings: every one a command-line flag and an environment variable.

/// message-store's settings.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "message-store",
    about = "Chat conversations and message history"
)]
pub struct Settings {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// PostgreSQL URL of message-store's own database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// The HS256 secret shared by every service.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP", default_value = "127.0.0.1:19092")]
    pub kafka_bootstrap: String,
    /// Prefix of every topic name (empty in production).
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    pub kafka_topic_prefix: String,
    /// Kafka producer idempotence (see actors_common::kafka).
    #[arg(long, env = "KAFKA_IDEMPOTENCE", default_value_t = false)]
    pub kafka_idempotence: bool,
    /// Persist chat.messages (turn off to run an API-only instance).
    #[arg(long, env = "INGEST", default_value_t = true, action = clap::ArgAction::Set)]
    pub ingest: bool,
    /// Publish the outbox (turn off to run an API-only instance).
    #[arg(long, env = "OUTBOX_PUBLISHER", default_value_t = true, action = clap::ArgAction::Set)]
    pub outbox_publisher: bool,
    /// Most conversations one user may be in: a create or add that would
    /// put anyone past it is refused (409 conversation_limit).
    #[arg(long, env = "MAX_CONVERSATIONS_PER_USER", default_value_t = 5_000)]
    pub max_conversations_per_user: i64,
    /// Most participants of a group, its creator included (409 group_full
    /// past it): a creator and up to 10,000 others by default.
    #[arg(long, env = "MAX_GROUP_PARTICIPANTS", default_value_t = 10_001)]
    pub max_group_participants: i64,
    /// Database connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// HTTP worker threads.
    #[arg(long, env = "WORKERS", default_value_t = 2)]
    pub workers: usize,
}

impl Settings {
    /// One instance on loopback, on a free port, with every default except
    /// where its database and broker are: what the tests, the other
    /// services' tests and the bench start. The defaults are the flags'
    /// own (parsed, never written out again); a small pool and one worker,
    /// since tests run many instances side by side.
    #[allow(clippy::expect_used)] // the arguments are this function's own
    pub fn local(
        database_url: &str,
        jwt_secret: &str,
        kafka_bootstrap: &str,
        prefix: &str,
    ) -> Self {
        let mut settings = <Self as clap::Parser>::try_parse_from([
            "message-store",
            "--database-url",
            database_url,
            "--jwt-secret",
            jwt_secret,
        ])
        .expect("valid arguments");
        settings.host = "127.0.0.1".into();
        settings.port = 0;
        settings.kafka_bootstrap = kafka_bootstrap.to_owned();
        settings.kafka_topic_prefix = prefix.to_owned();
        settings.db_pool_size = 8;
        settings.workers = 1;
        settings
    }
}
