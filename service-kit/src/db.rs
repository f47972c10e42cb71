//! The database edge: a diesel-async deadpool built once per service, and
//! embedded migrations run at start.
//!
//! Migrations run through diesel's synchronous harness over
//! `AsyncConnectionWrapper` on a blocking thread: diesel-async's own async
//! harness calls `block_in_place`, which panics on actix's current-thread
//! runtime.

use std::time::Duration;

use anyhow::Context as _;
use diesel::Connection as _;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

/// The pool type every service uses.
pub type PgPool = Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type PgConn = Object<AsyncPgConnection>;

/// Adds `application_name` to a URL so `pg_stat_activity` shows who is who.
fn with_application_name(url: &str, app: &str) -> String {
    if url.contains("application_name=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

/// Builds the pool: `max_size` connections, waits at most `wait` for one.
pub fn build_pool(url: &str, app: &str, max_size: usize, wait: Duration) -> anyhow::Result<PgPool> {
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new(with_application_name(url, app));
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .runtime(deadpool_runtime())
        .build()
        .context("building the database pool")
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

/// Runs every pending embedded migration against `url`.
pub async fn run_migrations(url: &str, migrations: EmbeddedMigrations) -> anyhow::Result<()> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .context("connecting to run migrations")?;
        let applied = conn
            .run_pending_migrations(migrations)
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
        for m in applied {
            log::info!("db: applied migration {m}");
        }
        Ok(())
    })
    .await
    .context("migration task")?
}

/// A service's database at start: pending migrations applied, then the pool
/// (`max_size` connections, five seconds to wait for one).
pub async fn connect(
    url: &str,
    migrations: EmbeddedMigrations,
    app: &str,
    max_size: usize,
) -> anyhow::Result<PgPool> {
    run_migrations(url, migrations).await?;
    build_pool(url, app, max_size, Duration::from_secs(5))
}

/// `SELECT 1` through the pool, for `/readyz`.
pub async fn ping(pool: &PgPool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `db_pool_connections{state}` in `/metrics`, read from the pool at each
/// scrape: `max` (its size limit), `open`, `idle`, and `waiting` (requests
/// queued for a connection: past zero, the pool is the bottleneck).
#[derive(Clone)]
pub struct PoolMetrics {
    pool: PgPool,
    connections: prometheus::IntGaugeVec,
}

impl std::fmt::Debug for PoolMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolMetrics")
    }
}

impl PoolMetrics {
    /// Registers the pool's gauges in `registry`. The name and label are
    /// constants: construction cannot fail.
    #[allow(clippy::expect_used)]
    pub fn register(registry: &prometheus::Registry, pool: &PgPool) {
        let connections = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "db_pool_connections",
                "Database pool: max, open, idle connections, and requests waiting for one",
            ),
            &["state"],
        )
        .expect("valid gauge vec");
        crate::health::register(
            registry,
            Self {
                pool: pool.clone(),
                connections,
            },
        );
    }
}

impl prometheus::core::Collector for PoolMetrics {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.connections.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let s = self.pool.status();
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        for (state, value) in [
            ("max", n(s.max_size)),
            ("open", n(s.size)),
            ("idle", i64::try_from(s.available).unwrap_or(0).max(0)),
            ("waiting", n(s.waiting)),
        ] {
            self.connections.with_label_values(&[state]).set(value);
        }
        self.connections.collect()
    }
}
