use std::time::Duration;

use actors_common::log::LogEvent;
use actors_common::UserId;
use serde_json::json;
use test_support::kafka::Collector;

use crate::helpers::spawn_stack;

#[actix_web::test]
async fn an_added_user_receives_live_and_a_removed_one_stops_at_once() {
    let stack = spawn_stack(1).await;
    let (owner, newcomer) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(owner, &[]).await;
    let mut o = stack.connect(0, owner).await;
    let mut n = stack.connect(0, newcomer).await;

    let (status, _) = stack
        .store(
            "POST",
            &format!("/conversations/{conv}/participants"),
            owner,
            Some(json!({"user_id": newcomer})),
        )
        .await;
    assert_eq!(status, 201);
    // (The owner's own creation event may arrive first: skip it.)
    let added = json!({"type": "participant_added", "conversation_id": conv, "user_id": newcomer});
    assert_eq!(
        n.next_where(|f| f["type"] == "participant_added").await,
        added
    );
    assert_eq!(o.next_where(|f| *f == added).await, added);

    o.say(conv, "welcome").await;
    n.message_with_body("welcome").await;
    // And the newcomer may send without reconnecting.
    let cid = n.say(conv, "thanks").await;
    assert_eq!(n.next_of("ack").await["client_id"], json!(cid));

    let (status, _) = stack
        .store(
            "DELETE",
            &format!("/conversations/{conv}/participants/{newcomer}"),
            owner,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let removed =
        json!({"type": "participant_removed", "conversation_id": conv, "user_id": newcomer});
    assert_eq!(n.next_of("participant_removed").await, removed);
    assert_eq!(o.next_of("participant_removed").await, removed);

    o.say(conv, "after removal").await;
    assert_eq!(
        o.next_of("message").await["message"]["body"],
        "after removal"
    );
    let late = n.drain(Duration::from_millis(1500)).await;
    assert!(late.iter().all(|f| f["type"] != "message"), "{late:?}");
    let cid = n.say(conv, "let me in").await;
    let err = n.next_of("error").await;
    assert_eq!(
        (err["code"].as_str(), err["client_id"].clone()),
        (Some("not_participant"), json!(cid))
    );
}

#[actix_web::test]
async fn add_remove_and_re_add_in_quick_succession_deliver_exactly_by_membership() {
    let stack = spawn_stack(2).await;
    let (owner, flip) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(owner, &[]).await;
    let log = Collector::from_latest(&[&stack.topics.messages]);
    let mut flips = [stack.connect(0, flip).await, stack.connect(1, flip).await];
    let mut o = stack.connect(0, owner).await;

    // Membership changes while the owner's messages are in flight.
    for i in 0..80 {
        if i % 20 == 0 && i > 0 {
            let status = match i {
                20 => stack.add(conv, owner, flip).await,
                40 => stack.remove(conv, owner, flip).await,
                _ => stack.add(conv, owner, flip).await,
            };
            assert!(status == 201 || status == 204, "{status}");
        }
        o.say(conv, &format!("m{i}")).await;
    }
    let mut acks = 0;
    while acks < 80 {
        if o.next_within(Duration::from_secs(10)).await.expect("frame")["type"] == "ack" {
            acks += 1;
        }
    }

    // What the log says flip should have seen: the messages between their
    // add and their removal, and after their re-add.
    let mut records = log.take(83, Duration::from_secs(20)).await;
    records.retain(|r| r.key.as_deref() == Some(conv.to_string().as_str()));
    let mut member = false;
    let mut expected = Vec::new();
    let mut all = Vec::new();
    let mut rejoined_at = 0;
    for r in &records {
        match r.log_event() {
            LogEvent::ParticipantsAdded(e) if e.user_ids.contains(&flip) => {
                member = true;
                rejoined_at = r.offset;
            }
            LogEvent::ParticipantRemoved(e) if e.user_id == flip => member = false,
            LogEvent::Message(m) => {
                all.push(r.offset);
                if member {
                    expected.push((r.offset, m.body));
                }
            }
            _ => {}
        }
    }
    assert_eq!(all.len(), 80);
    assert!(
        expected.len() >= 20 && expected.len() < 80,
        "some messages fell outside the membership: {}",
        expected.len()
    );
    for (g, session) in flips.iter_mut().enumerate() {
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let m = session.next_of("message").await["message"].clone();
            got.push((
                m["seq"].as_i64().unwrap(),
                m["body"].as_str().unwrap().to_owned(),
            ));
        }
        assert_eq!(got, expected, "flip on gateway {g}");
        let late = session.drain(Duration::from_millis(300)).await;
        assert!(late.iter().all(|f| f["type"] != "message"), "{late:?}");
    }
    // History agrees: the owner has all 80 in the log's order, flip what
    // came after their latest arrival.
    let owner_history = stack.history_when(conv, owner, |h| h.len() >= 80).await;
    let owner_seqs: Vec<i64> = owner_history
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(owner_seqs, all);
    let flip_history = stack.history(conv, flip).await;
    let flip_seqs: Vec<i64> = flip_history
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    let after_rejoin: Vec<i64> = all.iter().copied().filter(|s| *s > rejoined_at).collect();
    assert_eq!(flip_seqs, after_rejoin);

    // A fresh session agrees: it lists the conversation in `ready`.
    let mut fresh = stack.open(1, &stack.ws_token(flip)).await;
    assert_eq!(fresh.next_of("ready").await["conversations"], json!([conv]));
}

#[actix_web::test]
async fn members_of_a_new_group_hear_of_their_own_arrival_only() {
    let stack = spawn_stack(1).await;
    let users: Vec<UserId> = (0..4).map(|_| UserId::new_random()).collect();
    let mut clients = Vec::new();
    for &u in &users {
        clients.push(stack.connect(0, u).await);
    }
    let conv = stack.create_group(users[0], &users[1..]).await;
    for (i, c) in clients.iter_mut().enumerate() {
        let added = c.next_of("participant_added").await;
        assert_eq!(
            added,
            json!({"type": "participant_added", "conversation_id": conv, "user_id": users[i]})
        );
    }
    clients[1].say(conv, "first words").await;
    for c in &mut clients {
        let frames = c.drain(Duration::from_millis(1500)).await;
        assert!(
            frames.iter().all(|f| f["type"] != "participant_added"),
            "no N² announcements: {frames:?}"
        );
        assert_eq!(
            frames.iter().filter(|f| f["type"] == "message").count(),
            1,
            "{frames:?}"
        );
    }
}

/// Strangers put a victim in a thousand groups: the victim still connects
/// (every id in `ready`, each conversation joined), sends, and leaves one.
/// What the connect costs is bounded by message-store's cap on
/// conversations per user.
#[actix_web::test]
async fn a_user_in_a_thousand_forced_groups_still_connects_sends_and_leaves() {
    let stack = spawn_stack(1).await;
    let victim = UserId::new_random();
    let named = [victim];
    let mut made = Vec::new();
    // Eight at a time: message-store's test pool has eight connections.
    for _ in 0..125 {
        let batch = (0..8).map(|_| stack.create_group(UserId::new_random(), &named));
        made.extend(futures_util::future::join_all(batch).await);
    }
    let mut client = stack.connect(0, victim).await;
    // `connect` read `ready`; ask again on a second socket to see its list.
    let mut second = stack.open(0, &stack.ws_token(victim)).await;
    let ready = second.next_of("ready").await;
    let listed: std::collections::HashSet<_> = ready["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed.len(), 1000);
    assert!(made.iter().all(|c| listed.contains(&c.to_string())));

    let last = *made.last().unwrap();
    client.say(last, "still here").await;
    let echoed = second.message_with_body("still here").await;
    assert_eq!(echoed["message"]["conversation_id"], json!(last));
    assert_eq!(stack.remove(last, victim, victim).await, 204);
}
