//! One order, on any number of gateways: `seq` is the same in the ack, in
//! every live frame and in history; the first message of a new
//! conversation is accepted and delivered; a resend is the message history
//! keeps; a rename reaches everyone.

use std::collections::HashSet;
use std::time::Duration;

use actors_common::{ConversationId, UserId};
use serde_json::{json, Value};

use crate::helpers::{spawn_stack, Client};

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn three_senders_on_three_gateways_give_every_receiver_historys_order() {
    let stack = spawn_stack(3).await;
    let senders: Vec<UserId> = (0..3).map(|_| UserId::new_random()).collect();
    let receivers: Vec<UserId> = (0..3).map(|_| UserId::new_random()).collect();
    let members: Vec<UserId> = senders.iter().chain(&receivers).copied().collect();
    let conv = stack.create_group(members[0], &members[1..]).await;
    let mut tx: Vec<Client> = Vec::new();
    for (g, &u) in senders.iter().enumerate() {
        tx.push(stack.connect(g, u).await);
    }
    // Every receiver on every gateway, two of them twice.
    let mut rx: Vec<Client> = Vec::new();
    for (g, &r) in receivers.iter().enumerate() {
        rx.push(stack.connect(g, r).await);
    }
    rx.push(stack.connect(1, receivers[0]).await);
    rx.push(stack.connect(2, receivers[1]).await);

    // 100 each, interleaved: the three send at once. A sender is a member
    // too: it reads its acks and every message.
    let sending = tx.iter_mut().enumerate().map(|(g, c)| async move {
        for i in 0..100 {
            c.say(conv, &format!("s{g} m{i}")).await;
        }
        let (mut acks, mut live) = (Vec::new(), Vec::new());
        while acks.len() < 100 || live.len() < 300 {
            let f = c
                .next_within(Duration::from_secs(10))
                .await
                .expect("a frame");
            match f["type"].as_str() {
                Some("ack") => acks.push(f["message"].clone()),
                Some("message") => live.push(f["message"].clone()),
                _ => {}
            }
        }
        // Its own messages, in the order it sent them (acks may come in
        // any order; their seqs may not).
        acks.sort_by_key(|m| m["seq"].as_i64());
        let bodies: Vec<String> = acks
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect();
        let sent: Vec<String> = (0..100).map(|i| format!("s{g} m{i}")).collect();
        assert_eq!(bodies, sent, "sender {g}'s messages keep their send order");
        (acks, live)
    });
    let (acked, sender_views): (Vec<Vec<Value>>, Vec<Vec<Value>>) =
        futures_util::future::join_all(sending)
            .await
            .into_iter()
            .unzip();
    let acked: Vec<Value> = acked.into_iter().flatten().collect();

    let history = stack
        .history_when(conv, receivers[0], |h| h.len() >= 300)
        .await;
    let history_seqs = seqs(&history);
    assert!(
        history_seqs.windows(2).all(|w| w[0] < w[1]),
        "history in seq order"
    );
    let acked_seqs: HashSet<i64> = seqs(&acked).into_iter().collect();
    assert_eq!(
        acked_seqs,
        history_seqs.iter().copied().collect(),
        "every ack's seq is history's"
    );
    for (i, r) in rx.iter_mut().enumerate() {
        let live = r.messages(300).await;
        assert_eq!(
            seqs(&live),
            history_seqs,
            "receiver {i}: live order is history's"
        );
        assert_eq!(
            live, history,
            "receiver {i}: the same messages, field for field"
        );
    }
    for (g, live) in sender_views.iter().enumerate() {
        assert_eq!(seqs(live), history_seqs, "sender {g} sees the same order");
    }
}

/// Creates a conversation (group or private) as `creator` and sends into
/// it at once; every other member must get it live.
async fn create_then_send(
    stack: &crate::helpers::Stack,
    round: usize,
    users: &[UserId],
    clients: &mut [Client],
) {
    let (creator, others) = (users[0], &users[1..]);
    let conv: ConversationId = if round % 2 == 0 {
        stack.create_group(creator, others).await
    } else {
        stack.create_private(creator, others[0]).await
    };
    let members = if round % 2 == 0 { users.len() } else { 2 };
    let body = format!("first words {round}");
    let cid = clients[0].say(conv, &body).await;
    // The sender's own copy may come before or after its ack.
    let (mut answer, mut own) = (None, None);
    while answer.is_none() || own.is_none() {
        let f = clients[0]
            .next_within(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("round {round}: no ack or copy"));
        if f["client_id"] == json!(cid) {
            assert_eq!(f["type"], "ack", "round {round}: refused: {f}");
            answer = Some(f);
        } else if f["type"] == "message" && f["message"]["body"] == json!(body) {
            own = Some(f);
        }
    }
    let (answer, own) = (answer.unwrap(), own.unwrap());
    let seq = answer["message"]["seq"].clone();
    assert_eq!(
        own["message"]["seq"], seq,
        "round {round}: the sender's copy"
    );
    for (k, c) in clients.iter_mut().enumerate().take(members).skip(1) {
        let got = c.message_with_body(&body).await;
        assert_eq!(got["message"]["seq"], seq, "round {round}, member {k}");
    }
}

#[actix_web::test]
async fn a_hundred_conversations_created_and_sent_to_at_once_lose_nothing() {
    let stack = spawn_stack(3).await;
    for round in 0..100 {
        // Fresh people each round (a private pair exists only once), on
        // three different gateways, online before the conversation exists.
        let users: Vec<UserId> = (0..3).map(|_| UserId::new_random()).collect();
        let mut clients = Vec::new();
        for (i, &u) in users.iter().enumerate() {
            clients.push(stack.connect((round + i) % 3, u).await);
        }
        create_then_send(&stack, round, &users, &mut clients).await;
    }
    let metrics = stack.metrics(0).await;
    assert!(
        !metrics.contains("gateway_errors_total{code=\"not_participant\"}"),
        "nothing refused: {metrics}"
    );
}

#[actix_web::test]
async fn a_resend_through_another_gateway_is_acked_with_the_stored_message() {
    let stack = spawn_stack(3).await;
    let (me, friend) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(me, &[friend]).await;
    let mut f = stack.connect(2, friend).await;

    // Acked on gateway 0; the connection drops; resent through gateway 1.
    let mut first = stack.connect(0, me).await;
    let cid = uuid::Uuid::new_v4();
    let send = json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "once"});
    first.send(send.clone()).await;
    let acked = first.next_of("ack").await["message"].clone();
    drop(first);
    let mut again = stack.connect(1, me).await;
    again.send(send.clone()).await;
    let resent = again.next_of("ack").await["message"].clone();
    assert_eq!(resent, acked, "same id, same seq, same message");

    // Sent on gateway 0 with no ack read before the drop (as when a
    // gateway dies mid-send): resent through gateway 2 once a member saw it.
    let mut lost = stack.connect(0, me).await;
    let cid2 = uuid::Uuid::new_v4();
    let send2 =
        json!({"type": "send", "conversation_id": conv, "client_id": cid2, "body": "twice?"});
    lost.send(send2.clone()).await;
    let seen = f.message_with_body("twice?").await["message"].clone();
    drop(lost);
    let mut third = stack.connect(2, me).await;
    third.send(send2).await;
    assert_eq!(third.next_of("ack").await["message"], seen);

    // One row each, one live delivery each.
    third.say(conv, "marker").await;
    let history = stack
        .history_when(conv, friend, |h| h.iter().any(|m| m["body"] == "marker"))
        .await;
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["once", "twice?", "marker"]);
    assert_eq!(history[0], acked);
    f.message_with_body("marker").await;
    let frames = f.drain(Duration::from_millis(300)).await;
    assert!(
        frames.iter().all(|x| x["type"] != "message"),
        "nothing delivered twice: {frames:?}"
    );
}

#[actix_web::test]
async fn a_rename_reaches_every_members_sessions_on_every_gateway() {
    let stack = spawn_stack(3).await;
    let users: Vec<UserId> = (0..3).map(|_| UserId::new_random()).collect();
    let conv = stack.create_group(users[0], &users[1..]).await;
    let mut sessions = Vec::new();
    for g in 0..3 {
        for &u in &users {
            sessions.push(stack.connect(g, u).await);
        }
    }
    assert_eq!(stack.rename(conv, users[1], "a better name").await, 200);
    let updated =
        json!({"type": "conversation_updated", "conversation_id": conv, "name": "a better name"});
    for s in &mut sessions {
        assert_eq!(s.next_of("conversation_updated").await, updated);
    }
}

#[actix_web::test]
async fn a_resend_through_a_gateway_started_since_is_the_stored_message() {
    let mut stack = spawn_stack(1).await;
    let (me, friend) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(me, &[friend]).await;
    let mut first = stack.connect(0, me).await;
    let cid = uuid::Uuid::new_v4();
    let send = json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "before you came"});
    first.send(send.clone()).await;
    let acked = first.next_of("ack").await["message"].clone();
    // History has it before the new gateway starts.
    stack
        .history_when(conv, me, |h| h.iter().any(|m| m["id"] == acked["id"]))
        .await;
    drop(first);

    // A gateway that did not exist when the message was sent: it knows the
    // log only from its own start, and asks message-store.
    let later = stack.spawn_gateway(|_| {}).await;
    let mut again = stack.connect(later, me).await;
    again.send(send).await;
    assert_eq!(again.next_of("ack").await["message"], acked);

    // A resend with another body is still the stored message, body and all.
    let edited =
        json!({"type": "send", "conversation_id": conv, "client_id": cid, "body": "edited"});
    again.send(edited).await;
    assert_eq!(again.next_of("ack").await["message"], acked);
    again.say(conv, "marker").await;
    let history = stack
        .history_when(conv, friend, |h| h.iter().any(|m| m["body"] == "marker"))
        .await;
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["before you came", "marker"], "stored once");
}
