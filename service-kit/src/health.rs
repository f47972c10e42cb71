//! `/healthz` (process up), `/readyz` (named dependency checks), `/metrics`
//! (Prometheus text from the service's own registry).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use futures_util::future::LocalBoxFuture;
use prometheus::{Encoder, Registry, TextEncoder};
use serde_json::json;

type CheckFn = dyn Fn() -> LocalBoxFuture<'static, Result<(), String>> + Send + Sync;

/// The dependency checks behind `/readyz`, each with the name it reports.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Arc<CheckFn>)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.checks.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check named `name` (`database`, `kafka`, …).
    pub fn check<F>(mut self, name: &'static str, f: F) -> Self
    where
        F: Fn() -> LocalBoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        self.checks.push((name, Arc::new(f)));
        self
    }

    /// Adds the `database` check: `SELECT 1` through `pool`.
    pub fn database(self, pool: &crate::db::PgPool) -> Self {
        let pool = pool.clone();
        self.check("database", move || {
            let pool = pool.clone();
            Box::pin(async move { crate::db::ping(&pool).await })
        })
    }

    /// Adds a check that blocks (a broker round trip, say); it runs on the
    /// blocking thread pool, never on an HTTP worker.
    pub fn blocking<F>(self, name: &'static str, f: F) -> Self
    where
        F: Fn() -> Result<(), String> + Clone + Send + Sync + 'static,
    {
        self.check(name, move || {
            let f = f.clone();
            Box::pin(async move {
                tokio::task::spawn_blocking(f)
                    .await
                    .map_err(|e| e.to_string())?
            })
        })
    }

    /// Runs every check; the failing ones by name.
    pub async fn failing(&self) -> Vec<(&'static str, String)> {
        let mut failing = Vec::new();
        for (name, check) in &self.checks {
            if let Err(e) = check().await {
                failing.push((*name, e));
            }
        }
        failing
    }
}

/// Registers `/healthz`, `/readyz` and `/metrics`. Needs `web::Data<Readiness>`
/// and `web::Data<Registry>` in the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// Registers `metric` with `registry` and returns it (a name registered
/// twice is logged, not fatal).
pub fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: T,
) -> T {
    if let Err(e) = registry.register(Box::new(metric.clone())) {
        log::warn!("metrics: {e}");
    }
    metric
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let failing = readiness.failing().await;
    if failing.is_empty() {
        return HttpResponse::Ok().json(json!({"status": "ok"}));
    }
    for (name, e) in &failing {
        log::warn!("readyz: dependency={name} failing: {e}");
    }
    let names: Vec<_> = failing.iter().map(|(n, _)| *n).collect();
    HttpResponse::ServiceUnavailable().json(json!({
        "status": "unavailable",
        "failing": names,
        "error": {"code": "unavailable", "message": format!("not ready: {}", names.join(", "))},
    }))
}

async fn metrics(registry: web::Data<Registry>) -> HttpResponse {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        log::error!("metrics: encoding failed: {e}");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(buf)
}

#[cfg(test)]
mod tests {
    use actix_web::{test, App};

    use super::*;

    #[actix_web::test]
    async fn readyz_names_each_failing_check_and_passes_when_all_pass() {
        let readiness = Readiness::new()
            .blocking("kafka", || Err("broker down".to_owned()))
            .check("database", || Box::pin(async { Ok(()) }));
        let failing = readiness.failing().await;
        assert_eq!(failing, vec![("kafka", "broker down".to_owned())]);

        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(readiness))
                .app_data(web::Data::new(Registry::new()))
                .configure(configure),
        )
        .await;
        let resp =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(resp.status(), 503);
        let body: serde_json::Value = test::read_body_json(resp).await;
        assert_eq!(body["failing"], json!(["kafka"]));
        assert_eq!(body["error"]["code"], "unavailable");

        let ok = Readiness::new().blocking("kafka", || Ok(()));
        assert!(ok.failing().await.is_empty());
    }
}
