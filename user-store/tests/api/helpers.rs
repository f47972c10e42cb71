//! `spawn_app()`: a real user-store on a fresh database and a free port.

use std::time::Duration;

use actors_common::jwt::{Claims, JwtKeys, AUDIENCE_USER_STORE, ISSUER_BFF};
use actors_common::UserId;
use serde_json::Value;
use user_store::settings::Settings;
use user_store::startup::Application;

pub const SECRET: &str = "user-store-test-secret-0123456789abcdef";

pub struct TestApp {
    pub base: String,
    pub keys: JwtKeys,
    pub client: awc::Client,
}

pub async fn spawn_app() -> TestApp {
    let database_url = test_support::fresh_database("user_store", user_store::MIGRATIONS).await;
    let settings = Settings {
        host: "127.0.0.1".into(),
        port: 0,
        database_url,
        jwt_secret: SECRET.into(),
        db_pool_size: 4,
        workers: 1,
    };
    let app = Application::build(settings)
        .await
        .expect("build user-store");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        keys: JwtKeys::new(SECRET.as_bytes()),
        client: awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish(),
    }
}

impl TestApp {
    /// A valid bff token for `user`.
    pub fn token(&self, user: UserId) -> String {
        self.keys.mint(
            ISSUER_BFF,
            AUDIENCE_USER_STORE,
            user,
            Duration::from_secs(60),
        )
    }

    pub fn forged(&self, claims: &Claims) -> String {
        self.keys.sign(claims)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        Self::send(self.client.get(format!("{}{path}", self.base)), token).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        Self::send(self.client.delete(format!("{}{path}", self.base)), token).await
    }

    async fn send(req: awc::ClientRequest, token: &str) -> (u16, Value) {
        let mut resp = req.bearer_auth(token).send().await.expect("request");
        let body = resp
            .json::<Value>()
            .limit(1 << 20)
            .await
            .unwrap_or(Value::Null);
        (resp.status().as_u16(), body)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let mut resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send_json(body)
            .await
            .expect("request");
        let body = resp
            .json::<Value>()
            .limit(1 << 20)
            .await
            .unwrap_or(Value::Null);
        (resp.status().as_u16(), body)
    }

    /// Creates a profile and returns its id.
    pub async fn create_user(&self, username: &str) -> UserId {
        let id = UserId::new_random();
        let (status, body) = self
            .post(
                "/users",
                &self.token(id),
                &serde_json::json!({"id": id, "username": username, "display_name": username.to_uppercase()}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        id
    }
}
