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
