use std::time::Duration;

use actors_common::UserId;
use serde_json::json;

use crate::helpers::spawn_stack;

#[actix_web::test]
async fn a_send_is_acked_once_and_reaches_every_session_of_every_participant() {
    let stack = spawn_stack(1).await;
    let (alice, bob) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(alice, &[bob]).await;
    let mut a1 = stack.connect(0, alice).await;
    let mut a2 = stack.connect(0, alice).await;
    let mut b1 = stack.connect(0, bob).await;
    let mut b2 = stack.connect(0, bob).await;

    let client_id = a1.say(conv, "hello everyone").await;
    // The sender's own copy of the message may come before or after its ack.
    let mut before_ack = Vec::new();
    let ack = loop {
        let f = a1
            .next_within(Duration::from_secs(10))
            .await
            .expect("an ack");
        if f["type"] == "ack" {
            break f;
        }
        before_ack.push(f);
    };
    assert_eq!(ack["client_id"], json!(client_id));
    let message = ack["message"].clone();
    assert_eq!(message["body"], "hello everyone");
    assert_eq!(message["sender_id"], json!(alice));
    assert_eq!(message["conversation_id"], json!(conv));
    assert_eq!(message["client_id"], json!(client_id));
    let id: uuid::Uuid = serde_json::from_value(message["id"].clone()).unwrap();
    assert_eq!(id.get_version_num(), 7);

    for (name, session) in [
        ("a1", &mut a1),
        ("a2", &mut a2),
        ("b1", &mut b1),
        ("b2", &mut b2),
    ] {
        let mut frames = session.drain(Duration::from_millis(1500)).await;
        if name == "a1" {
            frames.splice(0..0, before_ack.drain(..));
        }
        let messages: Vec<_> = frames.iter().filter(|f| f["type"] == "message").collect();
        assert_eq!(messages.len(), 1, "{name}: {frames:?}");
        assert_eq!(messages[0]["message"], message, "{name}: identical payload");
        assert_eq!(
            frames.iter().filter(|f| f["type"] == "ack").count(),
            0,
            "{name}: one ack only, already read"
        );
    }
}

#[actix_web::test]
async fn every_receiver_sees_one_order_and_it_is_historys_order() {
    let stack = spawn_stack(1).await;
    let (s1, s2, r1, r2, r3) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let conv = stack.create_group(s1, &[s2, r1, r2, r3]).await;
    let mut senders = [stack.connect(0, s1).await, stack.connect(0, s2).await];
    let mut receivers = [
        stack.connect(0, r1).await,
        stack.connect(0, r2).await,
        stack.connect(0, r3).await,
    ];

    for i in 0..100 {
        senders[i % 2].say(conv, &format!("m{i}")).await;
    }
    for s in &mut senders {
        for _ in 0..50 {
            s.next_of("ack").await;
        }
    }
    let mut orders = Vec::new();
    for r in &mut receivers {
        let mut ids = Vec::new();
        while ids.len() < 100 {
            let f = r.next_of("message").await;
            ids.push(f["message"]["id"].clone());
        }
        orders.push(ids);
    }
    assert_eq!(orders[0], orders[1]);
    assert_eq!(orders[1], orders[2]);

    // History (persisted by message-store from the same topic) has that order.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let history = loop {
        let h = stack.history(conv, r1).await;
        if h.len() >= 100 || tokio::time::Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let history_ids: Vec<_> = history.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(history_ids, orders[0]);
}

#[actix_web::test]
async fn users_on_different_gateways_talk_both_ways_and_see_typing() {
    let stack = spawn_stack(2).await;
    let (ann, ben) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(ann, &[ben]).await;
    let mut a = stack.connect(0, ann).await;
    let mut b = stack.connect(1, ben).await;

    a.say(conv, "from gateway 0").await;
    b.message_with_body("from gateway 0").await;
    b.say(conv, "from gateway 1").await;
    a.message_with_body("from gateway 1").await;

    a.send(json!({"type": "typing", "conversation_id": conv}))
        .await;
    let typing = b.next_of("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "conversation_id": conv, "user_id": ann})
    );
    let own = a.drain(Duration::from_millis(500)).await;
    assert!(
        own.iter().all(|f| f["type"] != "typing"),
        "the typist does not hear itself: {own:?}"
    );
}

#[actix_web::test]
async fn a_slow_reader_is_closed_with_1008_and_the_others_keep_receiving() {
    let stack = crate::helpers::spawn_stack_with(1, |s| {
        s.outbound_queue = 64;
        s.rate_per_sec = 100_000;
        s.rate_burst = 100_000;
    })
    .await;
    let (sender, fast, slow) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let conv = stack.create_group(sender, &[fast, slow]).await;
    let mut tx = stack.connect(0, sender).await;
    let mut fast_client = stack.connect(0, fast).await;
    let mut slow_client = stack.connect(0, slow).await;

    // The slow client never reads while ~6 MB flow past it.
    let body = "x".repeat(3900);
    let total = 1500;
    let reader = async {
        let mut got = 0;
        while got < total {
            let f = fast_client.next_of("message").await;
            assert_eq!(f["message"]["body"].as_str().map(str::len), Some(3900));
            got += 1;
        }
        got
    };
    let writer = async {
        for _ in 0..total {
            tx.say(conv, &body).await;
            // The sender is a member too: it reads its acks and echoes.
            while tx.next_within(Duration::from_millis(1)).await.is_some() {}
        }
    };
    let (got, ()) = tokio::join!(reader, writer);
    assert_eq!(got, total, "the fast reader got everything");

    // When the slow client finally reads, it finds the 1008 close.
    assert_eq!(
        slow_client.ended(Duration::from_secs(20)).await,
        crate::helpers::Ended::Closed(Some(1008))
    );
    assert!(stack
        .metrics(0)
        .await
        .contains("gateway_slow_consumer_disconnects_total 1"));
}
