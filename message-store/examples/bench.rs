//! message-store benchmarks (results in BENCHMARKS.md; targets are goals,
//! not test assertions):
//!
//! 1. history: a conversation of 1,000,000 messages (among others'), then
//!    repeated `GET /conversations/{id}/messages` through the real HTTP API:
//!    the first page, and a page 900,000 messages deep. Reports p50/p99.
//! 2. ingest: N messages produced to Kafka first, then a message-store
//!    starts and drains them into PostgreSQL; reports messages per second.
//! 3. lists: `GET /conversations?limit=50` for a user in 50 groups of
//!    10,000 people, and for one in 50 groups of three, alternated; reports
//!    p50/p99 of each and their ratio (what a large group costs a page).
//!
//! ```text
//! cargo run --release -p message-store --example bench -- [history_messages] [requests] [ingest_messages] [list_group_size]
//! BENCH_ONLY=lists cargo run --release -p message-store --example bench   # one part (history, ingest, lists)
//! ```
//! Uses `TEST_PG_URL` / `TEST_KAFKA_BOOTSTRAP` when set, else starts its own
//! PostgreSQL and tansu (test-support).

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark stops loudly on any failure

use std::time::{Duration, Instant};

use actors_common::jwt::{JwtKeys, AUDIENCE_MESSAGE_STORE, ISSUER_BFF};
use actors_common::kafka::MESSAGES_PARTITIONS;
use actors_common::log::{partition_of, LogEvent, MessagePosted, ParticipantsAdded, EVENT_HEADER};
use actors_common::{ConversationId, UserId};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use message_store::db::ingest::{self, LogRecord};
use message_store::settings::Settings;
use message_store::startup::Application;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const SECRET: &str = "bench-secret-0123456789abcdefghijkl";

fn settings(database_url: &str, prefix: &str, ingest: bool) -> Settings {
    Settings {
        ingest,
        workers: 2,
        ..Settings::local(
            database_url,
            SECRET,
            &test_support::stack().kafka_bootstrap,
            prefix,
        )
    }
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn timed_pages(client: &awc::Client, url: &str, token: &str, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let mut resp = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let body = resp.body().limit(1 << 22).await.expect("body");
        times.push(started.elapsed());
        assert!(
            resp.status().is_success() && body.len() > 100,
            "{}",
            resp.status()
        );
    }
    times.sort();
    times
}

/// Two kinds of request measured alternately, ten rounds after `warm_up`
/// of each, so both see the same machine: each one's sorted times.
async fn alternated(
    client: &awc::Client,
    (url_a, token_a): (&str, &str),
    (url_b, token_b): (&str, &str),
    warm_up: usize,
    requests: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    timed_pages(client, url_a, token_a, warm_up).await;
    timed_pages(client, url_b, token_b, warm_up).await;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        a.extend(timed_pages(client, url_a, token_a, requests / 10).await);
        b.extend(timed_pages(client, url_b, token_b, requests / 10).await);
    }
    a.sort();
    b.sort();
    (a, b)
}

/// A message-store that does not consume Kafka on a fresh database: the
/// database's URL and the service's base URL.
async fn serve() -> (String, String) {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let (prefix, _) = test_support::fresh_topics().await;
    let app = Application::build(settings(&database_url, &prefix, false))
        .await
        .expect("build");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    (database_url, base)
}

async fn history(total: usize, requests: usize) {
    let (database_url, base) = serve().await;
    let keys = JwtKeys::new(SECRET.as_bytes());
    let me = UserId::new_random();
    let token = keys.mint(
        ISSUER_BFF,
        AUDIENCE_MESSAGE_STORE,
        me,
        Duration::from_secs(3600),
    );
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let big = create_group(&client, &base, &token, "big", &[]).await;
    let mut others = Vec::new();
    for i in 0..9 {
        others.push(create_group(&client, &base, &token, &format!("other {i}"), &[]).await);
    }
    eprintln!("history: seeding {total} messages in one conversation (+10% in nine others)...");
    let seeded = Instant::now();
    let mut conn = AsyncPgConnection::establish(&database_url)
        .await
        .expect("connect");
    // Straight through ingest's own write path (this instance does not
    // consume Kafka, so the seqs here are the only ones): each
    // conversation's founder event, then its messages.
    let mut next_seq = std::collections::HashMap::new();
    let mut record = |event: LogEvent| {
        let seq = next_seq.entry(event.conversation_id()).or_insert(0i64);
        *seq += 1;
        LogRecord {
            partition: 0,
            offset: *seq,
            event,
        }
    };
    let mut batch: Vec<LogRecord> = std::iter::once(big)
        .chain(others.iter().copied())
        .map(|c| {
            record(LogEvent::ParticipantsAdded(ParticipantsAdded {
                conversation_id: c,
                user_ids: vec![me],
                joined_at: actors_common::time::now_millis(),
                version: 1,
                created: true,
            }))
        })
        .collect();
    let mut ids = Vec::with_capacity(total);
    let post = |c: ConversationId, body: String| {
        let m = MessagePosted::new(c, me, body, None, 0);
        let id = m.id;
        (id, LogEvent::Message(m))
    };
    for i in 0..total {
        let (id, m) = post(big, format!("message number {i} with some text"));
        ids.push(id);
        let mut r = record(m);
        if let LogEvent::Message(m) = &mut r.event {
            m.checked_seq = r.offset;
        }
        batch.push(r);
        if i % 10 == 0 {
            let (_, noise) = post(others[i % 9], "noise".into());
            let mut r = record(noise);
            if let LogEvent::Message(m) = &mut r.event {
                m.checked_seq = r.offset;
            }
            batch.push(r);
        }
        if batch.len() >= 5000 {
            ingest::apply(&mut conn, "bench", &batch, &[])
                .await
                .expect("seed");
            batch.clear();
        }
    }
    ingest::apply(&mut conn, "bench", &batch, &[])
        .await
        .expect("seed");
    diesel_async::RunQueryDsl::execute(diesel::sql_query("VACUUM ANALYZE messages"), &mut conn)
        .await
        .expect("analyze");
    eprintln!("history: seeded in {:.1}s", seeded.elapsed().as_secs_f64());

    let first_url = format!("{base}/conversations/{big}/messages?limit=50");
    // 900,000 messages deep in the full-size run; as deep as it gets in a small one.
    let depth = 900_000.min(total - 1);
    let deep_cursor = ids[total - depth];
    let deep_url = format!("{base}/conversations/{big}/messages?limit=50&before={deep_cursor}");
    let (first, deep) = alternated(
        &client,
        (&first_url, &token),
        (&deep_url, &token),
        50,
        requests,
    )
    .await;
    println!(
        "history first page: p50 {:.2} ms p99 {:.2} ms | {depth} deep: p50 {:.2} ms p99 {:.2} ms | deep/first p99 ratio {:.2}",
        percentile(&first, 0.5),
        percentile(&first, 0.99),
        percentile(&deep, 0.5),
        percentile(&deep, 0.99),
        percentile(&deep, 0.99) / percentile(&first, 0.99)
    );
}

async fn ingest(total: usize) {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let (prefix, topics) = test_support::fresh_topics().await;
    // Conversations exist first (the writer checks membership), and their
    // founder events are in the log before the messages.
    let setup = Application::build(settings(&database_url, &prefix, false))
        .await
        .expect("build");
    let base = format!("http://127.0.0.1:{}", setup.port());
    let stop = setup.stop_handle();
    actix_web::rt::spawn(setup.run_until_stopped());
    let keys = JwtKeys::new(SECRET.as_bytes());
    let me = UserId::new_random();
    let token = keys.mint(
        ISSUER_BFF,
        AUDIENCE_MESSAGE_STORE,
        me,
        Duration::from_secs(3600),
    );
    let client = awc::Client::default();
    let mut conversations = Vec::new();
    for i in 0..100 {
        let mut resp = client
            .post(format!("{base}/conversations"))
            .bearer_auth(&token)
            .send_json(&serde_json::json!({"kind": "group", "name": format!("c{i}"), "participant_ids": []}))
            .await
            .expect("create");
        let v: serde_json::Value = resp.json().await.expect("json");
        conversations.push(
            serde_json::from_value::<ConversationId>(v["conversation"]["id"].clone()).expect("id"),
        );
    }
    stop.stop().await;

    eprintln!("ingest: producing {total} messages...");
    let producer: FutureProducer = kafka_kit::producer_config(
        &test_support::stack().kafka_bootstrap,
        "bench",
        &kafka_kit::ProducerOptions {
            linger: Duration::from_millis(5),
            ..Default::default()
        },
    )
    .create()
    .expect("producer");
    let mut pending = Vec::new();
    // The next offset of each partition: this is the only producer, so a
    // message checked "now" is checked at its own offset.
    let mut next: Vec<i64> = Vec::new();
    for p in 0..MESSAGES_PARTITIONS {
        let (_, high) = rdkafka::producer::Producer::client(&producer)
            .fetch_watermarks(&topics.messages, p, Duration::from_secs(10))
            .expect("watermarks");
        next.push(high);
    }
    for i in 0..total {
        let c = conversations[i % conversations.len()];
        let partition = partition_of(c, MESSAGES_PARTITIONS);
        let checked = next[partition as usize];
        next[partition as usize] += 1;
        let m = MessagePosted::new(
            c,
            me,
            format!("ingest {i}"),
            Some(uuid::Uuid::new_v4()),
            checked,
        );
        let payload = LogEvent::Message(m).to_json();
        let key = c.to_string();
        loop {
            let headers = OwnedHeaders::new().insert(Header {
                key: EVENT_HEADER,
                value: Some("message"),
            });
            match producer.send_result(
                FutureRecord::to(&topics.messages)
                    .key(&key)
                    .partition(partition)
                    .headers(headers)
                    .payload(&payload),
            ) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        if pending.len() >= 10_000 {
            for f in pending.drain(..) {
                f.await.expect("delivery").expect("stored");
            }
        }
    }
    for f in pending.drain(..) {
        f.await.expect("delivery").expect("stored");
    }

    let started = Instant::now();
    let app = Application::build(settings(&database_url, &prefix, true))
        .await
        .expect("build");
    actix_web::rt::spawn(app.run_until_stopped());
    let mut conn = AsyncPgConnection::establish(&database_url)
        .await
        .expect("connect");
    loop {
        use diesel::QueryDsl as _;
        let n: i64 = diesel_async::RunQueryDsl::get_result(
            message_store::db::schema::messages::table.count(),
            &mut conn,
        )
        .await
        .expect("count");
        if n as usize >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ingest: {total} messages from Kafka into PostgreSQL in {secs:.2}s = {:.0} messages/s",
        total as f64 / secs
    );
}

/// Creates a group of `creator` and `members` through the API; its id.
async fn create_group(
    client: &awc::Client,
    base: &str,
    token: &str,
    name: &str,
    members: &[UserId],
) -> ConversationId {
    let mut resp = client
        .post(format!("{base}/conversations"))
        .bearer_auth(token)
        .send_json(&serde_json::json!({"kind": "group", "name": name, "participant_ids": members}))
        .await
        .expect("create");
    assert!(resp.status().is_success(), "{}", resp.status());
    let v: serde_json::Value = resp.json().limit(1 << 24).await.expect("json");
    serde_json::from_value(v["conversation"]["id"].clone()).expect("id")
}

async fn lists(group_size: usize, requests: usize) {
    const GROUPS: usize = 50;
    let (database_url, base) = serve().await;
    let keys = JwtKeys::new(SECRET.as_bytes());
    let token_of = |u: UserId| {
        keys.mint(
            ISSUER_BFF,
            AUDIENCE_MESSAGE_STORE,
            u,
            Duration::from_secs(3600),
        )
    };
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish();
    let (big_viewer, small_viewer) = (UserId::new_random(), UserId::new_random());
    let crowd: Vec<UserId> = (1..group_size).map(|_| UserId::new_random()).collect();
    let pair: Vec<UserId> = (0..2).map(|_| UserId::new_random()).collect();
    eprintln!("lists: {GROUPS} groups of {group_size} and {GROUPS} of 3...");
    let seeded = Instant::now();
    for i in 0..GROUPS {
        create_group(
            &client,
            &base,
            &token_of(big_viewer),
            &format!("big {i}"),
            &crowd,
        )
        .await;
        create_group(
            &client,
            &base,
            &token_of(small_viewer),
            &format!("small {i}"),
            &pair,
        )
        .await;
    }
    let mut conn = AsyncPgConnection::establish(&database_url)
        .await
        .expect("connect");
    diesel_async::RunQueryDsl::execute(diesel::sql_query("VACUUM ANALYZE"), &mut conn)
        .await
        .expect("analyze");
    eprintln!("lists: seeded in {:.1}s", seeded.elapsed().as_secs_f64());
    let url = format!("{base}/conversations?limit={GROUPS}");
    let (big_token, small_token) = (token_of(big_viewer), token_of(small_viewer));
    let (big, small) = alternated(
        &client,
        (&url, &big_token),
        (&url, &small_token),
        20,
        requests,
    )
    .await;
    println!(
        "list page of {GROUPS}: groups of {group_size}: p50 {:.2} ms p99 {:.2} ms | groups of 3: p50 {:.2} ms p99 {:.2} ms | p50 ratio {:.2}",
        percentile(&big, 0.5),
        percentile(&big, 0.99),
        percentile(&small, 0.5),
        percentile(&small, 0.99),
        percentile(&big, 0.5) / percentile(&small, 0.5)
    );
}

#[actix_web::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let history_messages = args.first().copied().unwrap_or(1_000_000);
    let requests = args.get(1).copied().unwrap_or(1000);
    let ingest_messages = args.get(2).copied().unwrap_or(200_000);
    let list_group_size = args.get(3).copied().unwrap_or(10_000);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    if wanted("history") {
        history(history_messages, requests).await;
    }
    if wanted("ingest") {
        ingest(ingest_messages).await;
    }
    if wanted("lists") {
        lists(list_group_size, requests).await;
    }
}
