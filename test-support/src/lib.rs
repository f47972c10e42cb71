//! Real PostgreSQL and a real Kafka-protocol broker for integration tests.
//!
//! | item | does |
//! |---|---|
//! | [`stack`] | the servers of this test process: taken from `TEST_PG_URL` and `TEST_KAFKA_BOOTSTRAP` when set (the test script starts one pair for the whole run), else started here once, on free loopback ports |
//! | [`fresh_database`] | a new database cloned from a migrated template, one per call |
//! | [`fresh_topics`] | the chat topics (`Topics::all`) behind a unique prefix, created on the broker |
//! | [`unique`] | a unique name for groups, users, prefixes |
//! | [`kafka`] | a producer, and `Collector` to read what reached a topic |
//! | [`broker::PrivateBroker`] | a broker of one test's own, to stop and restart |
//! | [`schema`] | `schema.rs` checked against the database the migrations build |
//!
//! Servers started here are children of a dedicated thread that lives as long
//! as the test process, and carry `PR_SET_PDEATHSIG`: when the test process
//! ends, however it ends, the kernel stops them. Their scratch directories are
//! removed by the next test process that finds them orphaned.

pub mod broker;
pub mod kafka;
mod process;
pub mod schema;

use std::sync::OnceLock;
use std::time::Duration;

use actors_common::kafka::Topics;
use anyhow::Context as _;
use diesel::migration::MigrationSource;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::EmbeddedMigrations;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

/// Where this test process's PostgreSQL server and broker listen.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Server URL without a database name: `postgres://postgres@127.0.0.1:PORT`.
    pub pg_url: String,
    /// `127.0.0.1:PORT` of the Kafka-protocol broker.
    pub kafka_bootstrap: String,
}

impl Stack {
    /// The URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        format!("{}/{name}", self.pg_url.trim_end_matches('/'))
    }
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// The servers for this test process (started on first use).
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        if let (Ok(pg_url), Ok(kafka_bootstrap)) = (
            std::env::var("TEST_PG_URL"),
            std::env::var("TEST_KAFKA_BOOTSTRAP"),
        ) {
            return Stack {
                pg_url,
                kafka_bootstrap,
            };
        }
        process::start_stack().unwrap_or_else(|e| panic!("starting the test stack: {e:#}"))
    })
}

/// A name no other test (in any process) uses: `prefix` plus 12 hex digits.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..12])
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A key for `pg_advisory_lock` derived from a name.
fn lock_key(name: &str) -> i64 {
    // FNV-1a: stable across processes (std's hasher is randomised).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// A fresh database for one test, cloned from a template that has every
/// migration of `migrations` applied; returns its URL.
///
/// The template is built once per server (guarded by an advisory lock, since
/// test processes run concurrently) and named after the migrations it holds
/// and the test binary's build time: diesel does not show a migration's SQL,
/// so a migration edited in place (and embedded again by the crate's
/// `build.rs`) gets a new template with the next build, never a stale one.
pub async fn fresh_database(service: &str, migrations: EmbeddedMigrations) -> String {
    try_fresh_database(service, migrations)
        .await
        .unwrap_or_else(|e| panic!("creating a test database for {service}: {e:#}"))
}

async fn try_fresh_database(
    service: &str,
    migrations: EmbeddedMigrations,
) -> anyhow::Result<String> {
    let stack = stack();
    let names: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&migrations)
        .map_err(|e| anyhow::anyhow!("listing migrations: {e}"))?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let built = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let template = format!(
        "tpl_{service}_{:x}",
        lock_key(&format!("{}@{built}", names.join(","))) as u64
    );
    let database = unique(&format!("t_{service}_"));

    let mut admin = AsyncPgConnection::establish(&stack.database_url("postgres"))
        .await
        .context("connecting to the test server")?;
    let key = lock_key(&template);
    diesel::sql_query(format!("SELECT pg_advisory_lock({key})"))
        .execute(&mut admin)
        .await?;
    let result = async {
        let exists: Count =
            diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
                .bind::<Text, _>(&template)
                .get_result(&mut admin)
                .await?;
        if exists.n == 0 {
            diesel::sql_query(format!("CREATE DATABASE \"{template}\""))
                .execute(&mut admin)
                .await?;
            if let Err(e) =
                service_kit::db::run_migrations(&stack.database_url(&template), migrations).await
            {
                let _ = diesel::sql_query(format!("DROP DATABASE \"{template}\""))
                    .execute(&mut admin)
                    .await;
                return Err(e);
            }
        }
        // Cloning is serialised by the same lock: PostgreSQL refuses to copy a
        // template that another CREATE DATABASE is reading.
        diesel::sql_query(format!(
            "CREATE DATABASE \"{database}\" TEMPLATE \"{template}\""
        ))
        .execute(&mut admin)
        .await?;
        anyhow::Ok(())
    }
    .await;
    diesel::sql_query(format!("SELECT pg_advisory_unlock({key})"))
        .execute(&mut admin)
        .await?;
    result?;
    Ok(stack.database_url(&database))
}

/// The chat topics behind a fresh prefix, created on the broker.
pub async fn fresh_topics() -> (String, Topics) {
    let prefix = unique("t");
    let prefix = format!("{prefix}.");
    let topics = Topics::with_prefix(&prefix);
    create_topics(&stack().kafka_bootstrap, &topics)
        .await
        .unwrap_or_else(|e| panic!("creating test topics: {e:#}"));
    (prefix, topics)
}

/// Creates `topics` (idempotent: an existing topic is fine).
pub async fn create_topics(bootstrap: &str, topics: &Topics) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka_kit::admin_config(bootstrap)
        .create()
        .context("creating the admin client")?;
    let new: Vec<NewTopic<'_>> = topics
        .all()
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(_) => {}
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}
