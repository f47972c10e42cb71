//! A message-store and N gateways on fresh topics and a fresh database, and
//! a WebSocket client that speaks the protocol.

use std::time::Duration;

use actix_codec::Framed;
use actors_common::jwt::{JwtKeys, AUDIENCE_GATEWAY, AUDIENCE_MESSAGE_STORE, ISSUER_BFF};
use actors_common::kafka::Topics;
use actors_common::{ConversationId, UserId};
use awc::ws;
use awc::BoxedSocket;
use futures_util::{SinkExt as _, StreamExt as _};
use gateway::settings::Settings;
use serde_json::{json, Value};

pub const SECRET: &str = "gateway-test-secret-0123456789abcdef";
/// The gateways' send timeout in these tests.
pub const SEND_TIMEOUT_MS: u64 = 2000;

pub struct Stack {
    pub message_store: String,
    pub gateways: Vec<Gateway>,
    pub topics: Topics,
    pub keys: JwtKeys,
    pub http: awc::Client,
    pub bootstrap: String,
}

pub struct Gateway {
    pub port: u16,
    pub stop: gateway::startup::StopHandle,
}

pub fn gateway_settings(topics: &Topics, message_store: &str) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        jwt_secret: SECRET.into(),
        kafka_bootstrap: test_support::stack().kafka_bootstrap.clone(),
        kafka_topic_prefix: topics.prefix.clone(),
        kafka_group_prefix: "gateway-test".into(),
        kafka_idempotence: false,
        kafka_fetch_wait_ms: 1,
        message_store_url: message_store.to_owned(),
        allowed_origins: vec!["http://chat.example.test".into()],
        rate_per_sec: 1000,
        rate_burst: 1000,
        send_timeout_ms: SEND_TIMEOUT_MS,
        outbound_queue: 256,
        ping_interval_secs: 15,
        idle_timeout_secs: 45,
        workers: 2,
        conversation_arbiters: 2,
        max_connections: 10_000,
        max_connections_per_user: 20,
        user_rate_per_sec: 0,
        user_rate_burst: 0,
        gateway_name: String::new(),
        trace_sample: 0,
        trace_users: String::new(),
        inspect_token: String::new(),
        inspect_peers: Vec::new(),
    }
}

pub async fn spawn_stack(gateways: usize) -> Stack {
    spawn_stack_with(gateways, |_| {}).await
}

pub async fn spawn_stack_with(gateways: usize, tweak: impl Fn(&mut Settings)) -> Stack {
    let (_, topics) = test_support::fresh_topics().await;
    let bootstrap = test_support::stack().kafka_bootstrap.clone();
    spawn_stack_full(&bootstrap, topics, gateways, tweak).await
}

/// A stack on a broker of the test's own.
pub async fn spawn_stack_on(bootstrap: &str, topics: Topics, gateways: usize) -> Stack {
    spawn_stack_full(bootstrap, topics, gateways, |_| {}).await
}

async fn spawn_stack_full(
    bootstrap: &str,
    topics: Topics,
    gateways: usize,
    tweak: impl Fn(&mut Settings),
) -> Stack {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let ms = message_store::startup::Application::build(message_store::settings::Settings::local(
        &database_url,
        SECRET,
        bootstrap,
        &topics.prefix,
    ))
    .await
    .expect("build message-store");
    let message_store = format!("http://127.0.0.1:{}", ms.port());
    actix_web::rt::spawn(ms.run_until_stopped());

    let mut stack = Stack {
        message_store,
        gateways: Vec::new(),
        topics,
        keys: JwtKeys::new(SECRET.as_bytes()),
        http: awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish(),
        bootstrap: bootstrap.to_owned(),
    };
    for _ in 0..gateways {
        stack.spawn_gateway(&tweak).await;
    }
    stack
}

impl Stack {
    /// A gateway's `/metrics`, as text.
    pub async fn metrics(&self, gateway: usize) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.gateways[gateway].port);
        let body = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .body()
            .await
            .unwrap();
        String::from_utf8_lossy(&body).into_owned()
    }

    /// Waits until a gateway's `/metrics` holds `line` (a counter or gauge
    /// reaching a value is the fact waited for), for at most 10 s.
    pub async fn wait_for_metric(&self, gateway: usize, line: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.metrics(gateway).await.lines().any(|l| l == line) {
            assert!(
                std::time::Instant::now() < deadline,
                "{line} never in /metrics"
            );
            tokio::task::yield_now().await;
        }
    }

    /// Starts one more gateway on this stack (it joins the running system,
    /// as a gateway started later in a deployment does); returns its index.
    pub async fn spawn_gateway(&mut self, tweak: impl Fn(&mut Settings)) -> usize {
        let mut settings = gateway_settings(&self.topics, &self.message_store);
        settings.kafka_bootstrap = self.bootstrap.clone();
        tweak(&mut settings);
        let app = gateway::startup::Application::build(settings)
            .await
            .expect("build gateway");
        self.gateways.push(Gateway {
            port: app.port(),
            stop: app.stop_handle(),
        });
        actix_web::rt::spawn(app.run_until_stopped());
        self.gateways.len() - 1
    }

    /// The token the bff would hand `user` for the gateway.
    pub fn ws_token(&self, user: UserId) -> String {
        self.keys
            .mint(ISSUER_BFF, AUDIENCE_GATEWAY, user, Duration::from_secs(60))
    }

    pub fn ws_url(&self, gateway: usize) -> String {
        format!("ws://127.0.0.1:{}/ws", self.gateways[gateway].port)
    }

    /// Connects `user` to gateway `n` and waits for `ready`.
    pub async fn connect(&self, gateway: usize, user: UserId) -> Client {
        self.connect_with(gateway, user, &self.ws_token(user)).await
    }

    /// Opens a socket to gateway `n` with `token`, as a browser does.
    pub async fn open(&self, gateway: usize, token: &str) -> Client {
        open_ws(&self.ws_url(gateway), token).await
    }

    /// Connects `user` to gateway `n` with `token` and waits for `ready`.
    pub async fn connect_with(&self, gateway: usize, user: UserId, token: &str) -> Client {
        let mut client = self.open(gateway, token).await;
        let ready = client.next_of("ready").await;
        assert_eq!(ready["user_id"], json!(user));
        client
    }

    /// Calls message-store as `user` (the bff's way).
    pub async fn store(
        &self,
        method: &str,
        path: &str,
        user: UserId,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.keys.mint(
            ISSUER_BFF,
            AUDIENCE_MESSAGE_STORE,
            user,
            Duration::from_secs(60),
        );
        let req = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.message_store),
            )
            .bearer_auth(token);
        let mut resp = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("message-store request");
        let bytes = resp.body().limit(1 << 24).await.unwrap_or_default();
        (
            resp.status().as_u16(),
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn create_group(&self, creator: UserId, members: &[UserId]) -> ConversationId {
        let (status, body) = self
            .store(
                "POST",
                "/conversations",
                creator,
                Some(json!({"kind": "group", "name": "g", "participant_ids": members})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_value(body["conversation"]["id"].clone()).unwrap()
    }

    pub async fn create_private(&self, a: UserId, b: UserId) -> ConversationId {
        let (status, body) = self
            .store(
                "POST",
                "/conversations",
                a,
                Some(json!({"kind": "private", "participant_id": b})),
            )
            .await;
        assert!(status == 201 || status == 200, "{status} {body}");
        serde_json::from_value(body["conversation"]["id"].clone()).unwrap()
    }

    /// Adds `user` to a group as `by`; the status.
    pub async fn add(&self, conversation: ConversationId, by: UserId, user: UserId) -> u16 {
        let path = format!("/conversations/{conversation}/participants");
        self.store("POST", &path, by, Some(json!({"user_id": user})))
            .await
            .0
    }

    /// Removes `user` from a group as `by`; the status.
    pub async fn remove(&self, conversation: ConversationId, by: UserId, user: UserId) -> u16 {
        let path = format!("/conversations/{conversation}/participants/{user}");
        self.store("DELETE", &path, by, None).await.0
    }

    /// Renames a group as `by`; the status.
    pub async fn rename(&self, conversation: ConversationId, by: UserId, name: &str) -> u16 {
        let path = format!("/conversations/{conversation}");
        self.store("PATCH", &path, by, Some(json!({"name": name})))
            .await
            .0
    }

    /// History as `user` sees it once `done` holds for it (it is stored a
    /// moment after it is delivered); panics after 20 s.
    pub async fn history_when(
        &self,
        conversation: ConversationId,
        user: UserId,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let h = self.history(conversation, user).await;
            if done(&h) {
                return h;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "history never got there: {h:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// History as `user` sees it, oldest first (all pages).
    pub async fn history(&self, conversation: ConversationId, user: UserId) -> Vec<Value> {
        let mut all = Vec::new();
        let mut path = format!("/conversations/{conversation}/messages?limit=100");
        loop {
            let (status, page) = self.store("GET", &path, user, None).await;
            assert_eq!(status, 200, "{page}");
            all.extend(page["messages"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(next) => {
                    path = format!("/conversations/{conversation}/messages?limit=100&before={next}")
                }
                None => break,
            }
        }
        all.reverse();
        all
    }
}

/// Opens a socket to `url` as a browser does: the token as the
/// `bearer.` subprotocol next to `chat.v1` (the one place tests build that).
pub async fn open_ws(url: &str, token: &str) -> Client {
    let (_, framed) = awc::Client::new()
        .ws(url)
        .protocols(["chat.v1".to_owned(), format!("bearer.{token}")])
        // `ready` of a user in thousands of conversations is larger than
        // awc's default 64 KiB (browsers have no such limit).
        .max_frame_size(4 << 20)
        .connect()
        .await
        .expect("websocket connect");
    Client { framed }
}

/// A protocol client.
pub struct Client {
    pub framed: Framed<BoxedSocket, ws::Codec>,
}

/// What the server ended a connection with.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Closed(Option<u16>),
    Dropped,
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.framed
            .send(ws::Message::Text(frame.to_string().into()))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, text: String) {
        self.framed
            .send(ws::Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    /// Sends a message; returns its client id.
    pub async fn say(&mut self, conversation: ConversationId, body: &str) -> uuid::Uuid {
        let client_id = uuid::Uuid::new_v4();
        self.send(json!({"type": "send", "conversation_id": conversation, "client_id": client_id, "body": body}))
            .await;
        client_id
    }

    /// The next JSON frame within `timeout`; answers pings on the way.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            match frame.ok()? {
                ws::Frame::Text(bytes) => return serde_json::from_slice(&bytes).ok(),
                ws::Frame::Ping(p) => {
                    let _ = self.framed.send(ws::Message::Pong(p)).await;
                }
                ws::Frame::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// The next frame of `kind`, skipping others; panics after 10 s.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(f) if f["type"] == kind => return f,
                Some(_) => continue,
                None => panic!("no {kind} frame within 10 s"),
            }
        }
    }

    /// The next frame for which `wanted` is true, skipping others; panics after 10 s.
    pub async fn next_where(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(f) if wanted(&f) => return f,
                Some(_) => continue,
                None => panic!("no wanted frame within 10 s"),
            }
        }
    }

    /// The next `n` messages this session receives (skipping other frames).
    pub async fn messages(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            out.push(self.next_of("message").await["message"].clone());
        }
        out
    }

    /// The `message` frame whose body is `body`.
    pub async fn message_with_body(&mut self, body: &str) -> Value {
        self.next_where(|f| f["type"] == "message" && f["message"]["body"] == body)
            .await
    }

    /// Every frame that arrives within `window`.
    pub async fn drain(&mut self, window: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return out;
            }
            match self.next_within(left).await {
                Some(f) => out.push(f),
                None => return out,
            }
        }
    }

    /// Reads until the server closes; returns the close code and reason
    /// (`None` when the connection dropped without a close frame).
    pub async fn close_reason(&mut self, timeout: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Ok(Some(Ok(ws::Frame::Close(reason)))) => {
                    return reason.map(|r| (u16::from(r.code), r.description.unwrap_or_default()))
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("connection still open after {timeout:?}"),
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn ended(&mut self, timeout: Duration) -> Ended {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Ok(Some(Ok(ws::Frame::Close(reason)))) => {
                    return Ended::Closed(reason.map(|r| u16::from(r.code)))
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return Ended::Dropped,
                Err(_) => panic!("connection still open after {timeout:?}"),
            }
        }
    }
}
