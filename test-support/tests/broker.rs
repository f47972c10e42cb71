//! The test stack itself, on the real broker: fan-out to unique groups and
//! isolation between tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use test_support::fresh_topics;
use test_support::kafka::{produce, producer, Collector};

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
