//! `spawn_app()`: a real user-store and a real bff, each on a fresh database.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actors_common::jwt::{JwtKeys, AUDIENCE_USER_STORE, ISSUER_BFF};
use actors_common::UserId;
use bff::settings::Settings;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::Value;

pub const SECRET: &str = "bff-test-secret-0123456789abcdefghij";

pub struct TestApp {
    pub base: String,
    pub bff_db: String,
    pub user_store_db: String,
    pub user_store_port: u16,
    pub user_store: Option<ServerHandle>,
    pub keys: JwtKeys,
    pub client: awc::Client,
}

/// A response's status, JSON body and session cookie (if it set one).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub cookie: Option<String>,
}

pub async fn start_user_store(database_url: &str, port: u16) -> ServerHandle {
    let settings = user_store::settings::Settings {
        host: "127.0.0.1".into(),
        port,
        database_url: database_url.to_owned(),
        jwt_secret: SECRET.into(),
        db_pool_size: 4,
        workers: 1,
    };
    let app = user_store::startup::Application::build(settings)
        .await
        .expect("build user-store");
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    handle
}

/// A real message-store on a fresh database and fresh topics; its base URL.
pub async fn start_message_store() -> String {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let (_, topics) = test_support::fresh_topics().await;
    let app = message_store::startup::Application::build(message_store::settings::Settings::local(
        &database_url,
        SECRET,
        &test_support::stack().kafka_bootstrap,
        &topics.prefix,
    ))
    .await
    .expect("build message-store");
    let url = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    url
}

pub fn settings(database_url: String, user_store_port: u16) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        database_url,
        jwt_secret: SECRET.into(),
        user_store_url: format!("http://127.0.0.1:{user_store_port}"),
        message_store_url: "http://127.0.0.1:9".into(),
        gateway_public_url: "ws://127.0.0.1:8180/ws".into(),
        gateway_urls: vec!["http://127.0.0.1:9".into()],
        cookie_secure: false,
        session_ttl_hours: 1,
        login_per_username_per_min: 1000,
        login_per_address_per_min: 1000,
        trust_proxy: false,
        trusted_proxies: 1,
        signup_per_address_per_min: 1000,
        groups_per_user_per_min: 1000,
        ws_tokens_per_session_per_min: 1000,
        hash_threads: 2,
        hash_queue: 32,
        hash_timeout_ms: 5000,
        upstream_timeout_ms: 3000,
        db_pool_size: 8,
        workers: 1,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let user_store_db = test_support::fresh_database("user_store", user_store::MIGRATIONS).await;
    let bff_db = test_support::fresh_database("bff", bff::MIGRATIONS).await;
    let user_store_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let user_store = start_user_store(&user_store_db, user_store_port).await;
    let message_store_url = start_message_store().await;
    let mut settings = settings(bff_db.clone(), user_store_port);
    settings.message_store_url = message_store_url;
    tweak(&mut settings);
    let app = bff::startup::Application::build(settings)
        .await
        .expect("build bff");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        bff_db,
        user_store_db,
        user_store_port,
        user_store: Some(user_store),
        keys: JwtKeys::new(SECRET.as_bytes()),
        client: awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish(),
    }
}

impl TestApp {
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        cookie: Option<&str>,
    ) -> Answer {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.insert_header(("Cookie", c.to_owned()));
        }
        let mut resp = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("request");
        let cookie = resp.cookies().ok().and_then(|cs| {
            cs.iter()
                .find(|c| c.name() == "chat_session")
                .map(|c| format!("chat_session={}", c.value()))
        });
        let bytes = resp.body().limit(1 << 22).await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status: resp.status().as_u16(),
            body,
            cookie,
        }
    }

    /// The bff's `/metrics`, as text.
    pub async fn metrics(&self) -> String {
        let mut resp = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics request");
        String::from_utf8_lossy(&resp.body().await.unwrap_or_default()).into_owned()
    }

    /// Registers `username` and returns its id and session cookie.
    pub async fn user(&self, username: &str) -> (UserId, String) {
        let a = self.register(username, "password123").await;
        assert_eq!(a.status, 201, "{}", a.body);
        (
            serde_json::from_value(a.body["user"]["id"].clone()).unwrap(),
            a.cookie.unwrap(),
        )
    }

    pub async fn register(&self, username: &str, password: &str) -> Answer {
        self.request(
            "POST",
            "/api/auth/register",
            Some(serde_json::json!({"username": username, "password": password})),
            None,
        )
        .await
    }

    /// A login through a proxy of ours that saw `forwarded` (the whole
    /// `X-Forwarded-For` it sends on: what the client wrote, then the peer).
    pub async fn login_via(&self, username: &str, password: &str, forwarded: &str) -> u16 {
        self.client
            .post(format!("{}/api/auth/login", self.base))
            .insert_header(("X-Forwarded-For", forwarded.to_owned()))
            .send_json(&serde_json::json!({"username": username, "password": password}))
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    pub async fn login(&self, username: &str, password: &str) -> Answer {
        self.request(
            "POST",
            "/api/auth/login",
            Some(serde_json::json!({"username": username, "password": password})),
            None,
        )
        .await
    }

    /// The profile user-store holds for `id` (read with a token of our own).
    pub async fn profile(&self, id: UserId) -> (u16, Value) {
        let token = self
            .keys
            .mint(ISSUER_BFF, AUDIENCE_USER_STORE, id, Duration::from_secs(60));
        let mut resp = self
            .client
            .get(format!(
                "http://127.0.0.1:{}/users/{id}",
                self.user_store_port
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("user-store request");
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// Accounts with this username in the bff's database.
    pub async fn account_count(&self, username: &str) -> i64 {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = AsyncPgConnection::establish(&self.bff_db).await.unwrap();
        bff::db::schema::accounts::table
            .filter(bff::db::schema::accounts::username.eq(username))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }

    /// Profiles with this username in user-store's database.
    pub async fn profile_count(&self, username: &str) -> i64 {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = AsyncPgConnection::establish(&self.user_store_db)
            .await
            .unwrap();
        user_store::db::schema::users::table
            .filter(user_store::db::schema::users::username.eq(username))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }
}
