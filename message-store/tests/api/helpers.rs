//! `spawn_app()`: a real message-store on a fresh database and fresh topics.

use std::time::Duration;

use actors_common::jwt::{JwtKeys, AUDIENCE_MESSAGE_STORE, ISSUER_BFF};
use actors_common::kafka::Topics;
use actors_common::kafka::MESSAGES_PARTITIONS;
use actors_common::log::{partition_of, LogEvent, MessagePosted};
use actors_common::{ConversationId, Message, MessageId, UserId};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use message_store::settings::Settings;
use message_store::startup::{Application, StopHandle};
use serde_json::Value;
use test_support::kafka::{end_offset, produce_log};

pub const SECRET: &str = "message-store-test-secret-0123456789";

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub topics: Topics,
    pub keys: JwtKeys,
    pub client: awc::Client,
    pub stop: StopHandle,
}

pub fn settings(database_url: &str, topics: &Topics) -> Settings {
    Settings::local(
        database_url,
        SECRET,
        &test_support::stack().kafka_bootstrap,
        &topics.prefix,
    )
}

pub async fn spawn_app() -> TestApp {
    spawn_tweaked(|_| {}).await
}

/// A message-store on a fresh database and topics, its settings changed by
/// `tweak` first.
pub async fn spawn_tweaked(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let (_, topics) = test_support::fresh_topics().await;
    let mut settings = settings(&database_url, &topics);
    tweak(&mut settings);
    spawn_with(settings).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    let database_url = settings.database_url.clone();
    let topics = Topics::with_prefix(&settings.kafka_topic_prefix);
    let app = Application::build(settings)
        .await
        .expect("build message-store");
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        database_url,
        topics,
        keys: JwtKeys::new(SECRET.as_bytes()),
        client: awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish(),
        stop,
    }
}

impl TestApp {
    pub fn token(&self, user: UserId) -> String {
        self.keys.mint(
            ISSUER_BFF,
            AUDIENCE_MESSAGE_STORE,
            user,
            Duration::from_secs(60),
        )
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: UserId,
        body: Option<Value>,
    ) -> (u16, Value) {
        let req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(self.token(user));
        let mut resp = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("request");
        let bytes = resp.body().limit(1 << 24).await.unwrap_or_default();
        (
            resp.status().as_u16(),
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str, user: UserId) -> (u16, Value) {
        self.call("GET", path, user, None).await
    }

    pub async fn post(&self, path: &str, user: UserId, body: Value) -> (u16, Value) {
        self.call("POST", path, user, Some(body)).await
    }

    pub async fn create_group(&self, creator: UserId, members: &[UserId]) -> ConversationId {
        let (status, body) = self
            .post(
                "/conversations",
                creator,
                serde_json::json!({"kind": "group", "name": "team", "participant_ids": members}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_value(body["conversation"]["id"].clone()).unwrap()
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url)
            .await
            .unwrap()
    }

    /// Posts `n` messages through Kafka, as a gateway would, and waits
    /// until ingest stored them; returns them with their seqs, in order.
    pub async fn seed(
        &self,
        conversation: ConversationId,
        sender: UserId,
        n: usize,
    ) -> Vec<Message> {
        let bodies: Vec<String> = (0..n).map(|i| format!("message {i}")).collect();
        self.seed_bodies(conversation, sender, &bodies).await
    }

    /// Posts these bodies in order (see [`TestApp::seed`]).
    pub async fn seed_bodies(
        &self,
        conversation: ConversationId,
        sender: UserId,
        bodies: &[String],
    ) -> Vec<Message> {
        let producer = test_support::kafka::producer();
        let partition = partition_of(conversation, MESSAGES_PARTITIONS);
        let checked = end_offset(&producer, &self.topics.messages, partition).await;
        let posted: Vec<MessagePosted> = bodies
            .iter()
            .map(|b| {
                MessagePosted::new(
                    conversation,
                    sender,
                    b.clone(),
                    Some(uuid::Uuid::new_v4()),
                    checked,
                )
            })
            .collect();
        // Concurrently, but one partition keeps the order they were queued in.
        let events: Vec<LogEvent> = posted.iter().cloned().map(LogEvent::Message).collect();
        let seqs = futures_util::future::join_all(
            events
                .iter()
                .map(|e| produce_log(&producer, &self.topics.messages, e)),
        )
        .await;
        let sent: Vec<Message> = posted
            .into_iter()
            .zip(seqs)
            .map(|(m, seq)| m.at(seq))
            .collect();
        // Ingest stores what was posted (records before them may still be
        // on their way too: wait for these ones).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let stored: std::collections::HashSet<MessageId> = self
                .stored(conversation)
                .await
                .iter()
                .map(|r| r.id)
                .collect();
            if sent.iter().all(|m| stored.contains(&m.id)) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "ingest did not store what was posted"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent
    }

    /// Rows of a conversation, oldest first.
    pub async fn stored(
        &self,
        conversation: ConversationId,
    ) -> Vec<message_store::db::models::MessageRow> {
        let mut conn = self.conn().await;
        message_store::db::messages::all_in(&mut conn, conversation)
            .await
            .unwrap()
    }

    /// Waits until a conversation holds `n` rows (or `timeout` passes).
    pub async fn wait_for_rows(
        &self,
        conversation: ConversationId,
        n: usize,
        timeout: Duration,
    ) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let have = self.stored(conversation).await.len();
            if have >= n || tokio::time::Instant::now() >= deadline {
                return have;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
