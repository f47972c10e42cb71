use std::time::Duration;

use actors_common::kafka::{ParticipantAdded, ParticipantRemoved};
use actors_common::UserId;
use serde_json::json;
use test_support::kafka::Collector;

use crate::helpers::{settings, spawn_app, spawn_with};

fn added(records: &[test_support::kafka::Record], topic: &str) -> Vec<ParticipantAdded> {
    records
        .iter()
        .filter(|r| r.topic == topic)
        .map(|r| serde_json::from_str(&r.payload).unwrap())
        .collect()
}

#[actix_web::test]
async fn committed_changes_publish_one_event_and_rolled_back_ones_none() {
    let app = spawn_app().await;
    let t = &app.topics;
    let events = Collector::from_earliest(&[&t.participants_created, &t.participants_removed]);
    let (a, b, c) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let conv = app.create_group(a, &[b]).await;

    // Refused changes roll back: no event, no version bump.
    assert_eq!(
        app.post(
            &format!("/conversations/{conv}/participants"),
            a,
            json!({"user_id": b})
        )
        .await
        .0,
        409
    );
    assert_eq!(
        app.call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{c}"),
            a,
            None
        )
        .await
        .0,
        404
    );
    // Committed changes: one event each.
    assert_eq!(
        app.post(
            &format!("/conversations/{conv}/participants"),
            a,
            json!({"user_id": c})
        )
        .await
        .0,
        201
    );
    assert_eq!(
        app.call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{b}"),
            a,
            None
        )
        .await
        .0,
        204
    );

    let mut got = events.take(4, Duration::from_secs(20)).await;
    got.extend(events.drain(Duration::from_secs(1)).await);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got
        .iter()
        .all(|r| r.key.as_deref() == Some(conv.to_string().as_str())));
    let mut creations = added(&got, &t.participants_created);
    creations.sort_by_key(|e| e.version);
    let summary: Vec<_> = creations.iter().map(|e| (e.user_id, e.version)).collect();
    assert!(
        summary[..2].contains(&(a, 1)) && summary[..2].contains(&(b, 1)),
        "{summary:?}"
    );
    assert_eq!(summary[2], (c, 2), "the refused changes bumped nothing");
    let removal: ParticipantRemoved = serde_json::from_str(
        &got.iter()
            .find(|r| r.topic == t.participants_removed)
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(
        (removal.conversation_id, removal.user_id, removal.version),
        (conv, b, 3)
    );
}

#[actix_web::test]
async fn events_survive_a_publisher_that_stops_between_commit_and_send() {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let (_, topics) = test_support::fresh_topics().await;
    let mut quiet = settings(&database_url, &topics, &test_support::unique("ms-"));
    quiet.outbox_publisher = false;
    let first = spawn_with(quiet).await;
    let events =
        Collector::from_earliest(&[&topics.participants_created, &topics.participants_removed]);

    let (a, b) = (UserId::new_random(), UserId::new_random());
    let conv = first.create_group(a, &[]).await;
    assert_eq!(
        first
            .post(
                &format!("/conversations/{conv}/participants"),
                a,
                json!({"user_id": b})
            )
            .await
            .0,
        201
    );
    first.stop.stop().await;
    assert!(
        events.drain(Duration::from_secs(2)).await.is_empty(),
        "nothing sent before a publisher runs"
    );

    let second = spawn_with(settings(
        &database_url,
        &topics,
        &test_support::unique("ms-"),
    ))
    .await;
    let mut got = events.take(2, Duration::from_secs(20)).await;
    got.extend(events.drain(Duration::from_secs(2)).await);
    let mut summary: Vec<_> = added(&got, &topics.participants_created)
        .iter()
        .map(|e| (e.user_id, e.version))
        .collect();
    summary.sort_by_key(|(_, v)| *v);
    assert_eq!(
        summary,
        [(a, 1), (b, 2)],
        "each committed change exactly once"
    );

    let mut conn = second.conn().await;
    assert_eq!(
        message_store::db::outbox::pending(&mut conn).await.unwrap(),
        0
    );
}
