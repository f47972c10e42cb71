use std::time::Duration;

use actors_common::UserId;
use serde_json::json;

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
async fn a_fast_add_remove_add_ends_right_on_every_gateway() {
    let stack = spawn_stack(2).await;
    let (owner, flip) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(owner, &[]).await;
    let mut on_g0 = stack.connect(0, flip).await;
    let mut on_g1 = stack.connect(1, flip).await;
    let mut o = stack.connect(0, owner).await;

    let path = format!("/conversations/{conv}/participants");
    assert_eq!(
        stack
            .store("POST", &path, owner, Some(json!({"user_id": flip})))
            .await
            .0,
        201
    );
    assert_eq!(
        stack
            .store("DELETE", &format!("{path}/{flip}"), owner, None)
            .await
            .0,
        204
    );
    assert_eq!(
        stack
            .store("POST", &path, owner, Some(json!({"user_id": flip})))
            .await
            .0,
        201
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    o.say(conv, "are you in?").await;
    for session in [&mut on_g0, &mut on_g1] {
        let frames = session.drain(Duration::from_millis(2000)).await;
        let bodies: Vec<_> = frames
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| f["message"]["body"].clone())
            .collect();
        assert_eq!(bodies, [json!("are you in?")], "{frames:?}");
    }
    // A fresh session agrees: it lists the conversation in `ready`.
    let (_, framed) = awc::Client::new()
        .ws(stack.ws_url(1))
        .protocols([
            "chat.v1".to_owned(),
            format!("bearer.{}", stack.ws_token(flip)),
        ])
        .connect()
        .await
        .unwrap();
    let mut fresh = crate::helpers::Client { framed };
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
