//! Ingest on the real broker: what the log admits is stored once, with its
//! offset as seq; what it refuses is not; a restart resumes exactly.

use std::collections::HashSet;
use std::time::Duration;

use actors_common::kafka::MESSAGES_PARTITIONS;
use actors_common::log::{
    partition_of, LogEvent, MessagePosted, ParticipantRemoved, ParticipantsAdded, WINDOW,
};
use actors_common::{Message, UserId};
use serde_json::json;
use test_support::kafka::{end_offset, produce, produce_log, producer};

use crate::helpers::{settings, spawn_app, spawn_with, TestApp};

async fn metrics(app: &TestApp) -> String {
    let body = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    String::from_utf8_lossy(&body).into_owned()
}

#[actix_web::test]
async fn messages_from_kafka_are_stored_with_their_offset_as_seq() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let sent = app.seed(conv, me, 50).await;
    let stored: Vec<Message> = app
        .stored(conv)
        .await
        .into_iter()
        .map(Message::from)
        .collect();
    assert_eq!(stored, sent, "same fields and seqs, same order");
    assert!(sent.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[actix_web::test]
async fn redelivery_and_resends_are_stored_once() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let p = producer();
    let topic = &app.topics.messages;
    let checked = end_offset(&p, topic, partition_of(conv, MESSAGES_PARTITIONS)).await;
    let original = MessagePosted::new(conv, me, "once".into(), Some(uuid::Uuid::new_v4()), checked);
    // The same record twice (a producer retry), then a resend: a new
    // message id with the same sender and client id.
    let first = produce_log(&p, topic, &LogEvent::Message(original.clone())).await;
    produce_log(&p, topic, &LogEvent::Message(original.clone())).await;
    let mut resend = MessagePosted::new(conv, me, "once".into(), original.client_id, checked);
    resend.client_id = original.client_id;
    produce_log(&p, topic, &LogEvent::Message(resend)).await;
    // A marker: when it is stored, everything before it was decided.
    let marker = MessagePosted::new(conv, me, "marker".into(), None, checked);
    let marker_seq = produce_log(&p, topic, &LogEvent::Message(marker.clone())).await;

    assert_eq!(app.wait_for_rows(conv, 2, Duration::from_secs(20)).await, 2);
    let rows = app.stored(conv).await;
    assert_eq!(
        rows.iter().map(|r| (r.id, r.seq)).collect::<Vec<_>>(),
        [(original.id, first), (marker.id, marker_seq)]
    );
    assert!(metrics(&app)
        .await
        .contains("message_store_duplicates_total 2"));
}

#[actix_web::test]
async fn what_the_log_refuses_is_not_stored_and_does_not_block_the_partition() {
    let app = spawn_app().await;
    let (me, stranger, leaver) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let conv = app.create_group(me, &[leaver]).await;
    let p = producer();
    let topic = &app.topics.messages;
    let partition = partition_of(conv, MESSAGES_PARTITIONS);
    let key = conv.to_string();
    let checked = end_offset(&p, topic, partition).await;
    let post = |sender, body: &str, checked| {
        LogEvent::Message(MessagePosted::new(conv, sender, body.into(), None, checked))
    };
    produce(&p, topic, &key, "{not json").await;
    produce_log(&p, topic, &post(me, "   ", checked)).await;
    // A sender the log never added: only a faulty gateway writes one. Every
    // reader applies the same rule, so it is kept (as gateways delivered
    // it), and counted so that it shows.
    let intruder = produce_log(&p, topic, &post(stranger, "intruder", checked)).await;
    // The leaver's removal lands, then a message they sent just before it
    // was known: refused, as every gateway refuses it.
    produce_log(
        &p,
        topic,
        &LogEvent::ParticipantRemoved(ParticipantRemoved {
            conversation_id: conv,
            user_id: leaver,
            version: 2,
        }),
    )
    .await;
    produce_log(&p, topic, &post(leaver, "too late", checked)).await;
    let good = app
        .seed_bodies(conv, me, &["after the bad ones".into()])
        .await;

    let rows = app.stored(conv).await;
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [intruder, good[0].seq]
    );
    let m = metrics(&app).await;
    for line in [
        "message_store_skipped_total{reason=\"unparseable\"} 1",
        "message_store_skipped_total{reason=\"invalid\"} 1",
        "message_store_skipped_total{reason=\"not_participant\"} 1",
        "message_store_unexpected_senders_total 1",
        "message_store_membership_events_total 2",
    ] {
        assert!(m.contains(line), "missing {line} in\n{m}");
    }
}

#[actix_web::test]
async fn a_message_checked_more_than_a_window_ago_is_stale() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let p = producer();
    let topic = &app.topics.messages;
    let end = end_offset(&p, topic, partition_of(conv, MESSAGES_PARTITIONS)).await;
    // As if the sending gateway had applied nothing for WINDOW + 1 offsets.
    let old = MessagePosted::new(conv, me, "old view".into(), None, end - WINDOW - 1);
    produce_log(&p, topic, &LogEvent::Message(old)).await;
    let good = app.seed_bodies(conv, me, &["fresh view".into()]).await;
    let rows = app.stored(conv).await;
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [good[0].id]);
    assert!(metrics(&app)
        .await
        .contains("message_store_skipped_total{reason=\"stale\"} 1"));
}

#[actix_web::test]
async fn a_member_removed_and_re_added_keeps_every_message_sent_while_a_member() {
    let app = spawn_app().await;
    let (owner, bob) = (UserId::new_random(), UserId::new_random());
    let conv = app.create_group(owner, &[bob]).await;
    let before = app.seed(conv, bob, 3).await;
    let path = format!("/conversations/{conv}/participants");
    assert_eq!(
        app.call("DELETE", &format!("{path}/{bob}"), owner, None)
            .await
            .0,
        204
    );
    assert_eq!(app.post(&path, owner, json!({"user_id": bob})).await.0, 201);
    let after = app.seed(conv, bob, 2).await;
    let stored: Vec<i64> = app.stored(conv).await.iter().map(|r| r.seq).collect();
    let sent: Vec<i64> = before.iter().chain(&after).map(|m| m.seq).collect();
    assert_eq!(stored, sent, "nothing acked while a member is lost");
}

#[actix_web::test]
async fn a_restarted_instance_resumes_exactly_where_it_stopped() {
    let first = spawn_app().await;
    let me = UserId::new_random();
    let conv = first.create_group(me, &[]).await;
    let all: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let sent = first.seed_bodies(conv, me, &all[..500]).await;
    first.stop.stop().await;

    // Posted while nothing ingests.
    let p = producer();
    let topic = &first.topics.messages;
    let checked = end_offset(&p, topic, partition_of(conv, MESSAGES_PARTITIONS)).await;
    let mut later = Vec::new();
    for body in &all[500..] {
        let m = MessagePosted::new(conv, me, body.clone(), Some(uuid::Uuid::new_v4()), checked);
        later.push(produce_log(&p, topic, &LogEvent::Message(m)).await);
    }
    let second = spawn_with(settings(&first.database_url, &first.topics)).await;
    assert_eq!(
        second
            .wait_for_rows(conv, 1000, Duration::from_secs(60))
            .await,
        1000
    );
    let rows = second.stored(conv).await;
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let expected: Vec<i64> = sent.iter().map(|m| m.seq).chain(later).collect();
    assert_eq!(seqs, expected, "each exactly once, in log order");
    let unique: HashSet<_> = rows.iter().map(|r| r.id).collect();
    assert_eq!(unique.len(), 1000);
}

#[actix_web::test]
async fn a_membership_event_sent_again_changes_nothing() {
    let app = spawn_app().await;
    let (owner, bob) = (UserId::new_random(), UserId::new_random());
    let conv = app.create_group(owner, &[bob]).await;
    let first = app.seed(conv, owner, 2).await;
    // The outbox sends the creation again (a retry after a lost ack), and a
    // removal and re-add of bob twice over (a retried batch).
    let p = producer();
    let topic = &app.topics.messages;
    let again = |e: LogEvent| {
        let p = p.clone();
        async move { produce_log(&p, topic, &e).await }
    };
    again(LogEvent::ParticipantsAdded(ParticipantsAdded {
        conversation_id: conv,
        user_ids: vec![owner, bob],
        joined_at: actors_common::time::now_millis(),
        version: 1,
        created: true,
    }))
    .await;
    let middle = app.seed(conv, owner, 2).await;
    for _ in 0..2 {
        again(LogEvent::ParticipantRemoved(ParticipantRemoved {
            conversation_id: conv,
            user_id: bob,
            version: 2,
        }))
        .await;
        again(LogEvent::ParticipantsAdded(ParticipantsAdded {
            conversation_id: conv,
            user_ids: vec![bob],
            joined_at: actors_common::time::now_millis(),
            version: 3,
            created: false,
        }))
        .await;
    }
    let last = app.seed(conv, bob, 1).await;
    // The owner's history still starts at the creation: all five.
    let (_, page) = app
        .get(&format!("/conversations/{conv}/messages?limit=100"), owner)
        .await;
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    let sent: Vec<i64> = first
        .iter()
        .chain(&middle)
        .chain(&last)
        .map(|m| m.seq)
        .collect();
    assert_eq!(
        seqs, sent,
        "a copy of the creation did not move anyone's start"
    );
    // And bob, re-added by the first copy of version 3, is a member: his
    // message after the second copies was stored.
    assert!(app.stored(conv).await.iter().any(|r| r.seq == last[0].seq));
}

/// Makes every insert of a message fail with `code` until `flaky.failing`
/// is false: a database that answers but cannot write (a full disk, a
/// failover, a serialisation failure), as opposed to rows it refuses.
async fn refuse_writes(app: &TestApp, code: &str) {
    let mut conn = app.conn().await;
    for statement in [
        "CREATE TABLE flaky (failing boolean NOT NULL)".to_owned(),
        "INSERT INTO flaky VALUES (true)".to_owned(),
        format!(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF (SELECT failing FROM flaky) THEN RAISE EXCEPTION 'cannot write now' \
             USING ERRCODE = '{code}'; END IF; RETURN NEW; END $$"
        ),
        "CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse()"
            .to_owned(),
    ] {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn)
            .await
            .unwrap();
    }
}

async fn allow_writes(app: &TestApp) {
    let mut conn = app.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE flaky SET failing = false"),
        &mut conn,
    )
    .await
    .unwrap();
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_database_that_cannot_write_for_a_while_loses_nothing() {
    // 53100: disk_full, and 40001: serialization_failure; neither is about
    // the rows, so ingest waits them out instead of skipping anything.
    for code in ["53100", "40001"] {
        let app = spawn_app().await;
        let me = UserId::new_random();
        let conv = app.create_group(me, &[]).await;
        refuse_writes(&app, code).await;
        let p = producer();
        let topic = &app.topics.messages;
        let checked = end_offset(&p, topic, partition_of(conv, MESSAGES_PARTITIONS)).await;
        let mut sent = Vec::new();
        for i in 0..20 {
            let m = MessagePosted::new(
                conv,
                me,
                format!("m{i}"),
                Some(uuid::Uuid::new_v4()),
                checked,
            );
            sent.push(produce_log(&p, topic, &LogEvent::Message(m)).await);
        }
        // Wait until ingest has tried, and failed, a few times.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while counter(&metrics(&app).await, "message_store_write_retries_total") < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{code}: no retries seen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(app.stored(conv).await.is_empty());
        allow_writes(&app).await;
        assert_eq!(
            app.wait_for_rows(conv, 20, Duration::from_secs(30)).await,
            20
        );
        let seqs: Vec<i64> = app.stored(conv).await.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, sent, "{code}: every message, once, in order");
        let m = metrics(&app).await;
        assert!(
            !m.contains("reason=\"unstorable\""),
            "{code}: nothing skipped\n{m}"
        );
    }
}
