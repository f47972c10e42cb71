use std::time::Duration;

use actors_common::{ConversationId, UserId};
use serde_json::{json, Value};

use crate::helpers::{spawn_stack, spawn_stack_with, Ended};

#[actix_web::test]
async fn every_bad_input_gets_its_code_and_the_connection_keeps_working() {
    let stack = spawn_stack(1).await;
    let me = UserId::new_random();
    let conv = stack.create_group(me, &[]).await;
    let mut c = stack.connect(0, me).await;
    let cid = uuid::Uuid::new_v4();

    let cases: Vec<(String, &str, Option<uuid::Uuid>)> = vec![
        ("not json at all".into(), "bad_frame", None),
        (json!({"type": "shout", "conversation_id": conv}).to_string(), "bad_frame", None),
        (json!({"type": "send", "conversation_id": conv, "client_id": cid}).to_string(), "bad_frame", Some(cid)),
        (json!({"type": "send", "conversation_id": ConversationId::new_v7(), "client_id": cid, "body": "hi"}).to_string(), "not_participant", Some(cid)),
        (json!({"type": "typing", "conversation_id": ConversationId::new_v7()}).to_string(), "not_participant", None),
        (json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "   "}).to_string(), "invalid_body", Some(cid)),
        (json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "é".repeat(4001)}).to_string(), "invalid_body", Some(cid)),
        (json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "bell\u{7}"}).to_string(), "invalid_body", Some(cid)),
    ];
    for (frame, code, client_id) in cases {
        c.send_raw(frame.clone()).await;
        let err = c.next_of("error").await;
        assert_eq!(err["code"], code, "{frame:.80}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(
            err.get("client_id").cloned(),
            client_id.map(|c| json!(c)),
            "{frame:.80}"
        );
    }
    // Still open and working.
    let ok = c.say(conv, "still here").await;
    assert_eq!(c.next_of("ack").await["client_id"], json!(ok));
}

#[actix_web::test]
async fn a_frame_over_64_kib_closes_with_1009() {
    let stack = spawn_stack(1).await;
    let me = UserId::new_random();
    let conv = stack.create_group(me, &[]).await;
    let mut c = stack.connect(0, me).await;
    let huge = json!({"type": "send", "conversation_id": conv, "client_id": uuid::Uuid::new_v4(), "body": "x".repeat(70_000)});
    c.send_raw(huge.to_string()).await;
    assert_eq!(
        c.ended(Duration::from_secs(10)).await,
        Ended::Closed(Some(1009))
    );
}

#[actix_web::test]
async fn sending_past_the_rate_limit_is_refused_then_recovers() {
    // One token a second: the eight sends go out far faster than that,
    // however slow the machine (the bucket's arithmetic has its own
    // clock-driven unit test in `session::limit`).
    let stack = spawn_stack_with(1, |s| {
        s.rate_per_sec = 1;
        s.rate_burst = 5;
    })
    .await;
    let me = UserId::new_random();
    let conv = stack.create_group(me, &[]).await;
    let mut c = stack.connect(0, me).await;
    let mut sent = Vec::new();
    for i in 0..8 {
        sent.push(c.say(conv, &format!("burst {i}")).await);
    }
    // Every send gets its answer: an ack or a rate_limited error.
    let (mut acks, mut limited) = (0, 0);
    while acks + limited < sent.len() {
        let f = c
            .next_within(Duration::from_secs(10))
            .await
            .expect("an answer");
        match (f["type"].as_str(), f["code"].as_str()) {
            (Some("ack"), _) => acks += 1,
            (Some("error"), Some("rate_limited")) => limited += 1,
            _ => {}
        }
    }
    assert_eq!((acks, limited), (5, 3));
    // It recovers: a send is acked again once a token has come back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = c.say(conv, "after a pause").await;
        let f = c.next_where(|f| f["client_id"] == json!(again)).await;
        if f["type"] == "ack" {
            break;
        }
        assert_eq!(f["code"], "rate_limited", "{f}");
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        c.next_within(Duration::from_millis(250)).await; // a pause, reading
    }
}

#[actix_web::test]
async fn a_resend_with_the_same_client_id_is_delivered_and_stored_once() {
    let stack = spawn_stack(1).await;
    let (me, friend) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(me, &[friend]).await;
    let mut c = stack.connect(0, me).await;
    let mut f = stack.connect(0, friend).await;
    let cid = uuid::Uuid::new_v4();
    let mut acks = Vec::new();
    for _ in 0..2 {
        c.send(json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "once"}))
            .await;
        acks.push(c.next_of("ack").await["message"].clone());
    }
    assert_eq!(
        acks[0], acks[1],
        "the resend is acked with the same message"
    );
    c.say(conv, "marker").await;
    let live: Vec<Value> = f.messages(2).await;
    assert_eq!(
        live.iter().map(|m| m["body"].clone()).collect::<Vec<_>>(),
        [json!("once"), json!("marker")],
        "delivered once"
    );
    let history = stack
        .history_when(conv, friend, |h| h.iter().any(|m| m["body"] == "marker"))
        .await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0], acks[0]);
    let late = f.drain(Duration::from_millis(300)).await;
    assert!(late.iter().all(|x| x["type"] != "message"), "{late:?}");
}
