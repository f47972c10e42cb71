//! Request metrics for every service: requests by route pattern, method and
//! status, and their latency by route, in `/metrics`. The route is the
//! pattern it matched (`/api/conversations/{id}`), or `unmatched`, so the
//! label set stays small whatever paths clients send.
//!
//! ```ignore
//! App::new()
//!     .app_data(web::Data::new(HttpMetrics::new(&registry)))
//!     .wrap(actix_web::middleware::from_fn(service_kit::metrics::record))
//! ```

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::health::register;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    seconds: HistogramVec,
}

impl HttpMetrics {
    /// Names, labels and buckets are constants: construction cannot fail.
    #[allow(clippy::expect_used)]
    pub fn new(registry: &Registry) -> Self {
        Self {
            requests: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "http_requests_total",
                        "HTTP requests answered, by route, method and status",
                    ),
                    &["route", "method", "status"],
                )
                .expect("valid counter vec"),
            ),
            seconds: register(
                registry,
                HistogramVec::new(
                    HistogramOpts::new("http_request_seconds", "Time to answer, by route")
                        .buckets(exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")),
                    &["route"],
                )
                .expect("valid histogram vec"),
            ),
        }
    }
}

/// The middleware (`from_fn`): counts and times every request.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let res = next.call(req).await;
    if let Some(m) = metrics {
        let status = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        m.requests
            .with_label_values(&[&route, &method, &status.to_string()])
            .inc();
        m.seconds
            .with_label_values(&[&route])
            .observe(started.elapsed().as_secs_f64());
    }
    res
}
