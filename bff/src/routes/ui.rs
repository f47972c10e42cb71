//! The web UI: plain HTML, CSS and JavaScript modules compiled into the
//! binary (no Node.js toolchain to build or run). Only the files of
//! [`FILES`] and the page at `/` are served: a fixed table, never a path
//! taken from the request.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{guard, web, HttpResponse};

const INDEX: &str = include_str!("../../ui/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads: path, content type, contents. `app.js` is the
/// entry module (named in `index.html`); it imports the others by relative
/// path (`./state.js`), so each module the UI has must be listed here (a
/// test checks the imports).
pub const FILES: &[(&str, &str, &str)] = &[
    ("/app.js", JS, include_str!("../../ui/app.js")),
    ("/api.js", JS, include_str!("../../ui/api.js")),
    ("/state.js", JS, include_str!("../../ui/state.js")),
    ("/socket.js", JS, include_str!("../../ui/socket.js")),
    ("/views.js", JS, include_str!("../../ui/views.js")),
    ("/style.css", CSS, include_str!("../../ui/style.css")),
];

/// Scripts and styles from this origin only; sockets to any ws/wss URL (the
/// gateway is another origin); no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", get_or_head().to(index));
    for &(path, content_type, body) in FILES {
        cfg.route(
            path,
            get_or_head().to(move || async move { file(content_type, body) }),
        );
    }
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

#[cfg(test)]
mod tests {
    use actix_web::{test, App};

    use super::*;

    fn header_of<B>(resp: &actix_web::dev::ServiceResponse<B>, name: header::HeaderName) -> String {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[actix_web::test]
    async fn serves_the_page_and_its_files() {
        let app = test::init_service(App::new().configure(configure)).await;
        let mut paths = vec![("/", "text/html")];
        paths.extend(FILES.iter().map(|&(path, kind, _)| (path, kind)));
        for (path, kind) in paths {
            let resp =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(resp.status(), 200, "{path}");
            let ct = header_of(&resp, header::CONTENT_TYPE);
            assert!(ct.starts_with(kind), "{path}: {ct}");
            assert_eq!(
                header_of(&resp, header::CACHE_CONTROL),
                "no-cache",
                "{path}"
            );
            assert_eq!(
                header_of(&resp, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff",
                "{path}"
            );
            let head = test::TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(path)
                .to_request();
            let resp = test::call_service(&app, head).await;
            assert_eq!(resp.status(), 200, "HEAD {path}");
        }
        for path in ["/app.js", "/state.js", "/views.js"] {
            let resp =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert!(
                header_of(&resp, header::CONTENT_TYPE).starts_with("text/javascript"),
                "{path} is a JavaScript module"
            );
        }
        let post = test::TestRequest::post().uri("/").to_request();
        assert_eq!(
            test::call_service(&app, post).await.status(),
            404,
            "POST / is not a page"
        );
        for path in [
            "/nope.js",
            "/test/state.test.mjs",
            "/ui/app.js",
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
        ] {
            let resp =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(resp.status(), 404, "{path} is not served");
        }
        let resp = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
        assert!(resp
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some());
        let body = test::read_body(resp).await;
        assert!(String::from_utf8_lossy(&body).contains("/app.js"));
    }

    /// Every `from "./x.js"` in a served module names a served file: a new
    /// module cannot be forgotten in [`FILES`].
    // `test` here is actix-web's module (and its async attribute).
    #[::core::prelude::v1::test]
    fn every_imported_module_is_served() {
        const IMPORT: &str = "from \"./";
        let served: Vec<&str> = FILES.iter().map(|&(path, _, _)| path).collect();
        for &(path, _, body) in FILES.iter().filter(|(p, _, _)| p.ends_with(".js")) {
            for (at, _) in body.match_indices(IMPORT) {
                let rest = &body[at + IMPORT.len()..];
                let name = rest.split('"').next().unwrap_or_default();
                let wanted = format!("/{name}");
                assert!(
                    served.contains(&wanted.as_str()),
                    "{path} imports ./{name}, which is not in FILES"
                );
            }
        }
    }
}
