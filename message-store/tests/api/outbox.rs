//! Membership changes and renames reach the conversation's log exactly
//! once each, in order, and before the request that made them answers.

use std::time::Duration;

use actors_common::log::{LogEvent, ParticipantsAdded};
use actors_common::UserId;
use serde_json::json;
use test_support::kafka::{Collector, Record};

use crate::helpers::{settings, spawn_app, spawn_with};

fn summary(records: &[Record]) -> Vec<(String, Vec<UserId>, i64)> {
    records
        .iter()
        .map(|r| match r.log_event() {
            LogEvent::ParticipantsAdded(ParticipantsAdded {
                user_ids,
                version,
                created,
                ..
            }) => (
                if created { "created" } else { "added" }.to_owned(),
                user_ids,
                version,
            ),
            LogEvent::ParticipantRemoved(e) => ("removed".into(), vec![e.user_id], e.version),
            LogEvent::ConversationRenamed(e) => (format!("renamed {}", e.name), vec![], 0),
            LogEvent::Message(_) => ("message".into(), vec![], 0),
        })
        .collect()
}

#[actix_web::test]
async fn each_committed_change_is_in_the_log_when_its_request_answers() {
    let app = spawn_app().await;
    let t = &app.topics;
    let log = Collector::from_earliest(&[&t.messages]);
    let (a, b, c) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let p = test_support::kafka::producer();
    let ends = |p: &rdkafka::producer::FutureProducer| {
        let (p, topic) = (p.clone(), t.messages.clone());
        async move {
            let mut total = 0;
            for partition in 0..actors_common::kafka::MESSAGES_PARTITIONS {
                total += test_support::kafka::end_offset(&p, &topic, partition).await;
            }
            total
        }
    };
    let before = ends(&p).await;
    let conv = app.create_group(a, &[b]).await;
    // In the log when the request answered: the broker already holds it.
    assert_eq!(ends(&p).await, before + 1);
    let created = log.take(1, Duration::from_secs(10)).await;
    assert_eq!(summary(&created), [("created".into(), vec![a, b], 1)]);

    // Refused changes roll back: no event, no version bump.
    let participants = format!("/conversations/{conv}/participants");
    assert_eq!(
        app.post(&participants, a, json!({"user_id": b})).await.0,
        409
    );
    assert_eq!(
        app.call("DELETE", &format!("{participants}/{c}"), a, None)
            .await
            .0,
        404
    );
    // Committed ones: one event each, in order, on the conversation's key.
    assert_eq!(
        app.post(&participants, a, json!({"user_id": c})).await.0,
        201
    );
    assert_eq!(
        app.call("DELETE", &format!("{participants}/{b}"), a, None)
            .await
            .0,
        204
    );
    assert_eq!(
        app.call(
            "PATCH",
            &format!("/conversations/{conv}"),
            a,
            Some(json!({"name": "renamed"}))
        )
        .await
        .0,
        200
    );
    let mut got = log.take(3, Duration::from_millis(500)).await;
    got.extend(log.drain(Duration::from_millis(500)).await);
    assert_eq!(
        summary(&got),
        [
            ("added".into(), vec![c], 2),
            ("removed".into(), vec![b], 3),
            ("renamed renamed".into(), vec![], 0),
        ]
    );
    assert!(got
        .iter()
        .chain(&created)
        .all(|r| r.key.as_deref() == Some(conv.to_string().as_str())));
    assert!(
        got.windows(2).all(|w| w[0].offset < w[1].offset)
            && got.iter().all(|r| r.partition == created[0].partition),
        "one partition, in order"
    );
}

#[actix_web::test]
async fn events_left_unsent_are_sent_later_exactly_once() {
    let database_url =
        test_support::fresh_database("message_store", message_store::MIGRATIONS).await;
    let (_, topics) = test_support::fresh_topics().await;
    let mut quiet = settings(&database_url, &topics);
    quiet.outbox_publisher = false;
    let first = spawn_with(quiet).await;
    let log = Collector::from_earliest(&[&topics.messages]);

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
    // A removal answers at once too (its event is left to a publisher).
    let c = UserId::new_random();
    assert_eq!(
        first
            .post(
                &format!("/conversations/{conv}/participants"),
                a,
                json!({"user_id": c})
            )
            .await
            .0,
        201
    );
    assert_eq!(
        first
            .call(
                "DELETE",
                &format!("/conversations/{conv}/participants/{c}"),
                a,
                None
            )
            .await
            .0,
        204
    );
    first.stop.stop().await;
    assert!(
        log.drain(Duration::from_secs(1)).await.is_empty(),
        "nothing sent by an instance that does not publish"
    );

    let second = spawn_with(settings(&database_url, &topics)).await;
    let mut got = log.take(4, Duration::from_secs(20)).await;
    got.extend(log.drain(Duration::from_secs(1)).await);
    assert_eq!(
        summary(&got),
        [
            ("created".into(), vec![a], 1),
            ("added".into(), vec![b], 2),
            ("added".into(), vec![c], 3),
            ("removed".into(), vec![c], 4)
        ],
        "each committed change exactly once, in order"
    );
    let mut conn = second.conn().await;
    assert_eq!(
        message_store::db::outbox::pending(&mut conn).await.unwrap(),
        0
    );
}
