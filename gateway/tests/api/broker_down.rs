use std::time::{Duration, Instant};

use actors_common::UserId;
use serde_json::json;
use test_support::broker::PrivateBroker;

use crate::helpers::{spawn_stack_on, SEND_TIMEOUT_MS};

#[actix_web::test]
async fn sends_fail_with_unavailable_while_the_broker_is_down_and_recover() {
    let (_, topics) = test_support::fresh_topics().await;
    let mut broker = PrivateBroker::start(&topics).await;
    let stack = spawn_stack_on(&broker.bootstrap, topics.clone(), 1).await;
    let me = UserId::new_random();
    let conv = stack.create_group(me, &[]).await;
    let mut c = stack.connect(0, me).await;
    let ok = c.say(conv, "before").await;
    assert_eq!(c.next_of("ack").await["client_id"], json!(ok));

    broker.stop();
    let started = Instant::now();
    let lost = c.say(conv, "while down").await;
    let frame = c
        .next_where(|f| f["type"] == "error" || f["type"] == "ack")
        .await;
    assert_eq!(
        frame["type"], "error",
        "nothing is acked that Kafka did not store: {frame}"
    );
    assert_eq!(
        (frame["code"].as_str(), frame["client_id"].clone()),
        (Some("unavailable"), json!(lost))
    );
    assert!(
        started.elapsed() < Duration::from_millis(SEND_TIMEOUT_MS + 3000),
        "answered after {:?}",
        started.elapsed()
    );

    broker.resume();
    // The producer reconnects by itself; a resend with the same client id goes through.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.send(json!({"type": "send", "conversation_id": conv, "client_id": lost, "body": "while down"})).await;
        let frame = c
            .next_where(|f| f["type"] == "error" || f["type"] == "ack")
            .await;
        if frame["type"] == "ack" {
            assert_eq!(frame["client_id"], json!(lost));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still unavailable 30 s after the broker returned"
        );
    }
}
