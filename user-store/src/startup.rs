//! `Application`: builds everything, binds its own listener (port 0 works),
//! and runs until stopped.

use actix_web::{dev::Server, web, App, HttpServer};
use actors_common::jwt::{JwtKeys, AUDIENCE_USER_STORE, ISSUER_BFF};
use service_kit::health::Readiness;
use service_kit::{db, TokenVerifier};

use crate::settings::Settings;

/// A built, not yet running, user-store.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::connect(
            &settings.database_url,
            crate::MIGRATIONS,
            "user-store",
            settings.db_pool_size,
        )
        .await?;
        let (listener, port) = service_kit::listen(&settings.host, settings.port)?;

        let verifier = web::Data::new(TokenVerifier::new(
            JwtKeys::new(settings.jwt_secret.as_bytes()),
            AUDIENCE_USER_STORE,
            &[ISSUER_BFF],
        ));
        let registry = web::Data::new(prometheus::Registry::new());
        service_kit::db::PoolMetrics::register(&registry, &pool);
        let readiness = web::Data::new(Readiness::new().database(&pool));
        let pool = web::Data::new(pool);

        let http_metrics = web::Data::new(service_kit::metrics::HttpMetrics::new(&registry));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(pool.clone())
                .app_data(verifier.clone())
                .app_data(http_metrics.clone())
                .wrap(actix_web::middleware::from_fn(service_kit::metrics::record))
                .app_data(registry.clone())
                .app_data(readiness.clone())
                .configure(service_kit::edge)
                .configure(crate::routes::configure)
        })
        .workers(settings.workers)
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
