//! The web UI: plain HTML, CSS and JavaScript modules compiled into the
//! binary (no Node.js toolchain to build or run). Every path that is not
//! `/api/…` or a file here serves the page, which routes by itself.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{guard, web, HttpResponse};

const INDEX: &str = include_str!("../../ui/index.html");
const APP_JS: &str = include_str!("../../ui/app.js");
const STYLE_CSS: &str = include_str!("../../ui/style.css");

/// Scripts and styles from this origin only; sockets to any ws/wss URL (the
/// gateway is another origin); no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", get_or_head().to(index))
        .route("/app.js", get_or_head().to(app_js))
        .route("/style.css", get_or_head().to(style_css));
}

/// GET, and HEAD for probes and caches that ask for headers only (the
/// server sends a HEAD response without its body).
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

fn file(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .body(body)
}

async fn index() -> HttpResponse {
    let mut resp = file("text/html; charset=utf-8", INDEX);
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

async fn app_js() -> HttpResponse {
    file("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> HttpResponse {
    file("text/css; charset=utf-8", STYLE_CSS)
}

#[cfg(test)]
mod tests {
    use actix_web::{test, App};

    use super::*;

    #[actix_web::test]
    async fn serves_the_page_and_its_files() {
        let app = test::init_service(App::new().configure(configure)).await;
        for (path, kind) in [
            ("/", "text/html"),
            ("/app.js", "text/javascript"),
            ("/style.css", "text/css"),
        ] {
            let resp =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(resp.status(), 200, "{path}");
            let ct = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(ct.starts_with(kind), "{path}: {ct}");
        }
        for path in ["/", "/app.js", "/style.css"] {
            let head = test::TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(path)
                .to_request();
            let resp = test::call_service(&app, head).await;
            assert_eq!(resp.status(), 200, "HEAD {path}");
        }
        let post = test::TestRequest::post().uri("/").to_request();
        assert_eq!(
            test::call_service(&app, post).await.status(),
            404,
            "POST / is not a page"
        );
        let resp = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
        assert!(resp
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some());
        let body = test::read_body(resp).await;
        assert!(String::from_utf8_lossy(&body).contains("/app.js"));
    }
}
