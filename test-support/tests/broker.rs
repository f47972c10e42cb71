//! The test stack itself, on the real broker: fan-out to unique groups,
//! durable resume after stored offsets, and isolation between tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use actors_common::kafka::durable_consumer_config;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use test_support::kafka::{produce, producer, Collector};
use test_support::{fresh_topics, stack, unique};

#[actix_web::test]
async fn a_message_reaches_two_consumers_with_unique_groups() {
    let (_, topics) = fresh_topics().await;
    let a = Collector::from_latest(&[&topics.messages]);
    let b = Collector::from_latest(&[&topics.messages]);

    produce(&producer(), &topics.messages, "conv-1", "hello both").await;

    for c in [&a, &b] {
        let got = c.take(1, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload, "hello both");
        assert_eq!(got[0].key.as_deref(), Some("conv-1"));
    }
}

fn durable(group: &str, topic: &str) -> StreamConsumer {
    let c: StreamConsumer = durable_consumer_config(&stack().kafka_bootstrap, group)
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    c
}

async fn next_payload(c: &StreamConsumer) -> (String, i32, i64) {
    let m = tokio::time::timeout(Duration::from_secs(20), c.recv())
        .await
        .expect("a record in time")
        .unwrap();
    (
        String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
        m.partition(),
        m.offset(),
    )
}

#[actix_web::test]
async fn a_durable_consumer_resumes_after_its_stored_offsets() {
    let (_, topics) = fresh_topics().await;
    let p = producer();
    // One key: one partition, so the order is the production order.
    for i in 0..6 {
        produce(&p, &topics.messages, "same-key", &format!("m{i}")).await;
    }
    let group = unique("durable-");

    let first = durable(&group, &topics.messages);
    for i in 0..3 {
        let (payload, partition, offset) = next_payload(&first).await;
        assert_eq!(payload, format!("m{i}"));
        first
            .store_offset(&topics.messages, partition, offset)
            .unwrap();
    }
    // Read one more without storing it: it must come again after restart.
    let (payload, _, _) = next_payload(&first).await;
    assert_eq!(payload, "m3");
    first.commit_consumer_state(CommitMode::Sync).unwrap();
    drop(first);

    let second = durable(&group, &topics.messages);
    let resumed: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(next_payload(&second).await.0);
        }
        v
    };
    assert_eq!(resumed, ["m3", "m4", "m5"]);
}

#[actix_web::test]
async fn concurrent_tests_do_not_see_each_others_records() {
    let (_, mine) = fresh_topics().await;
    let (_, theirs) = fresh_topics().await;
    assert_ne!(mine.messages, theirs.messages);
    let p = producer();
    produce(&p, &theirs.messages, "k", "not for me").await;
    produce(&p, &mine.messages, "k", "for me").await;
    let c = Collector::from_earliest(&[&mine.messages]);
    let got = c.take(2, Duration::from_secs(8)).await;
    assert_eq!(
        got.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>(),
        ["for me"]
    );
}

#[actix_web::test]
async fn each_test_gets_its_own_database() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
        diesel_migrations::embed_migrations!("tests/migrations");
    let a = test_support::fresh_database("support_check", MIGRATIONS).await;
    let b = test_support::fresh_database("support_check", MIGRATIONS).await;
    assert_ne!(a, b);
    let mut conn_a = AsyncPgConnection::establish(&a).await.unwrap();
    diesel::sql_query("INSERT INTO notes (body) VALUES ('only in a')")
        .execute(&mut conn_a)
        .await
        .unwrap();
    let mut conn_b = AsyncPgConnection::establish(&b).await.unwrap();
    let rows = diesel::sql_query("SELECT body FROM notes")
        .execute(&mut conn_b)
        .await
        .unwrap();
    assert_eq!(
        rows, 0,
        "b is cloned from the migrated template, not from a"
    );
}
