//! `Application`: builds everything, binds its own listener (port 0 works),
//! and runs until stopped.

use std::time::Duration;

use actix_web::{dev::Server, web, App, HttpServer};
use actors_common::jwt::JwtKeys;
use service_kit::db;
use service_kit::health::Readiness;

use crate::auth::password::HashPool;
use crate::auth::rate_limit::{Budgets, Limits};
use crate::client::ServiceClient;
use crate::settings::Settings;

/// What every handler may need besides the pool and the client.
#[derive(Debug)]
pub struct AppState {
    pub keys: JwtKeys,
    pub session_ttl: Duration,
    pub cookie_secure: bool,
    /// `TRUST_PROXY`: the number of our proxies in `X-Forwarded-For`.
    pub trust_proxy: Option<usize>,
    pub gateway_public_url: String,
    pub limits: Limits,
    /// Where every password hash is computed, boundedly.
    pub hashes: HashPool,
}

/// A built, not yet running, bff.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::connect(
            &settings.database_url,
            crate::MIGRATIONS,
            "bff",
            settings.db_pool_size,
        )
        .await?;
        let (listener, port) = service_kit::listen(&settings.host, settings.port)?;

        let keys = JwtKeys::new(settings.jwt_secret.as_bytes());
        let registry = web::Data::new(prometheus::Registry::new());
        service_kit::db::PoolMetrics::register(&registry, &pool);
        let hash_threads = match settings.hash_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let state = web::Data::new(AppState {
            keys: keys.clone(),
            session_ttl: settings.session_ttl(),
            cookie_secure: settings.cookie_secure,
            trust_proxy: settings
                .trust_proxy
                .then_some(usize::from(settings.trusted_proxies)),
            gateway_public_url: settings.gateway_public_url.clone(),
            limits: Limits::new(
                Budgets {
                    login_per_username: settings.login_per_username_per_min,
                    login_per_address: settings.login_per_address_per_min,
                    signup_per_address: settings.signup_per_address_per_min,
                    groups_per_user: settings.groups_per_user_per_min,
                    ws_tokens_per_session: settings.ws_tokens_per_session_per_min,
                },
                &registry,
            ),
            hashes: HashPool::new(
                hash_threads,
                settings.hash_queue,
                Duration::from_millis(settings.hash_timeout_ms),
                &registry,
            ),
        });
        let readiness = web::Data::new(Readiness::new().database(&pool));
        tokio::task::spawn_blocking(crate::auth::password::warm_up);
        spawn_housekeeping(pool.clone(), state.limits.clone());
        let pool = web::Data::new(pool);
        let workers = settings.workers;

        let http_metrics = web::Data::new(service_kit::metrics::HttpMetrics::new(&registry));
        let gateways = settings.gateways();
        let server = HttpServer::new(move || {
            // awc's client is per thread, so one ServiceClient per worker.
            let client = web::Data::new(
                ServiceClient::new(
                    &settings.user_store_url,
                    &settings.message_store_url,
                    keys.clone(),
                    settings.upstream_timeout(),
                )
                .with_gateways(&gateways),
            );
            App::new()
                .app_data(pool.clone())
                .app_data(state.clone())
                .app_data(client)
                .app_data(http_metrics.clone())
                .wrap(actix_web::middleware::from_fn(service_kit::metrics::record))
                .app_data(registry.clone())
                .app_data(readiness.clone())
                .configure(service_kit::edge)
                .configure(crate::routes::configure)
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (tests use it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Every minute: delete expired sessions, forget idle rate-limit keys.
fn spawn_housekeeping(pool: db::PgPool, limiter: Limits) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.forget_idle();
            match pool.get().await {
                Ok(mut conn) => match crate::db::sessions::purge_expired(&mut conn).await {
                    Ok(0) => {}
                    Ok(n) => log::info!("sessions: purged {n} expired"),
                    Err(e) => log::warn!("sessions: purge failed: {e}"),
                },
                Err(e) => log::warn!("sessions: purge skipped, no connection: {e}"),
            }
        }
    });
}
