use std::collections::HashSet;
use std::time::Duration;

use actors_common::{Message, UserId};
use test_support::kafka::{produce, producer};

use crate::helpers::{settings, spawn_app, spawn_with};

fn json(m: &Message) -> String {
    serde_json::to_string(m).unwrap()
}

#[actix_web::test]
async fn messages_from_kafka_are_stored() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let p = producer();
    let sent: Vec<Message> = (0..50)
        .map(|i| Message::new(conv, me, format!("hi {i}"), Some(uuid::Uuid::new_v4())))
        .collect();
    for m in &sent {
        produce(&p, &app.topics.messages, &conv.to_string(), &json(m)).await;
    }
    assert_eq!(
        app.wait_for_rows(conv, 50, Duration::from_secs(20)).await,
        50
    );
    let stored: Vec<Message> = app
        .stored(conv)
        .await
        .into_iter()
        .map(Message::from)
        .collect();
    assert_eq!(stored, sent, "same fields, same order");
}

#[actix_web::test]
async fn redelivery_and_resends_are_stored_once() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let p = producer();
    let original = Message::new(conv, me, "once".into(), Some(uuid::Uuid::new_v4()));
    // The same record twice (a redelivery).
    produce(
        &p,
        &app.topics.messages,
        &conv.to_string(),
        &json(&original),
    )
    .await;
    produce(
        &p,
        &app.topics.messages,
        &conv.to_string(),
        &json(&original),
    )
    .await;
    // A resend: new message id, same sender and client id.
    let mut resend = Message::new(conv, me, "once".into(), original.client_id);
    resend.client_id = original.client_id;
    produce(&p, &app.topics.messages, &conv.to_string(), &json(&resend)).await;
    // A marker, to know when everything before it was processed.
    let marker = Message::new(conv, me, "marker".into(), None);
    produce(&p, &app.topics.messages, &conv.to_string(), &json(&marker)).await;

    assert_eq!(app.wait_for_rows(conv, 2, Duration::from_secs(20)).await, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = app.stored(conv).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].id, original.id.0);
    assert_eq!(rows[1].id, marker.id.0);
}

#[actix_web::test]
async fn bad_records_are_skipped_without_blocking_the_partition() {
    let app = spawn_app().await;
    let (me, stranger) = (UserId::new_random(), UserId::new_random());
    let conv = app.create_group(me, &[]).await;
    let p = producer();
    let key = conv.to_string();
    produce(&p, &app.topics.messages, &key, "{not json").await;
    produce(
        &p,
        &app.topics.messages,
        &key,
        &json(&Message::new(conv, me, "   ".into(), None)),
    )
    .await;
    produce(
        &p,
        &app.topics.messages,
        &key,
        &json(&Message::new(conv, stranger, "intruder".into(), None)),
    )
    .await;
    let good = Message::new(conv, me, "after the bad ones".into(), None);
    produce(&p, &app.topics.messages, &key, &json(&good)).await;

    assert_eq!(app.wait_for_rows(conv, 1, Duration::from_secs(20)).await, 1);
    let rows = app.stored(conv).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, good.id.0);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    for line in [
        "message_store_skipped_total{reason=\"unparseable\"} 1",
        "message_store_skipped_total{reason=\"invalid\"} 1",
        "message_store_skipped_total{reason=\"not_participant\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
}

#[actix_web::test]
async fn a_restarted_consumer_stores_every_message_exactly_once() {
    let first = spawn_app().await;
    let me = UserId::new_random();
    let conv = first.create_group(me, &[]).await;
    let p = producer();
    let all: Vec<Message> = (0..1000)
        .map(|i| Message::new(conv, me, format!("m{i}"), Some(uuid::Uuid::new_v4())))
        .collect();
    for m in &all[..500] {
        produce(&p, &first.topics.messages, &conv.to_string(), &json(m)).await;
    }
    let partial = first
        .wait_for_rows(conv, 100, Duration::from_secs(20))
        .await;
    assert!(partial >= 100);
    first.stop.stop().await;

    for m in &all[500..] {
        produce(&p, &first.topics.messages, &conv.to_string(), &json(m)).await;
    }
    let second = spawn_with(settings(
        &first.database_url,
        &first.topics,
        &first.group_id,
    ))
    .await;
    assert_eq!(
        second
            .wait_for_rows(conv, 1000, Duration::from_secs(60))
            .await,
        1000
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = second.stored(conv).await;
    assert_eq!(rows.len(), 1000);
    let stored: HashSet<_> = rows.iter().map(|r| r.id).collect();
    let expected: HashSet<_> = all.iter().map(|m| m.id.0).collect();
    assert_eq!(stored, expected);
}
