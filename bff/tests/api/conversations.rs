use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn names(conversation: &Value) -> Vec<(String, String)> {
    let mut v: Vec<_> = conversation["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["username"].as_str().unwrap().to_owned(),
                p["display_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[actix_web::test]
async fn private_conversations_are_found_again_and_carry_names() {
    let app = spawn_app().await;
    let (_, alice) = app.user("alice").await;
    let (bob_id, bob) = app.user("bob").await;

    let body = json!({"kind": "private", "participant_id": bob_id});
    let first = app
        .request(
            "POST",
            "/api/conversations",
            Some(body.clone()),
            Some(&alice),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let conv = &first.body["conversation"];
    assert_eq!(conv["kind"], "private");
    assert_eq!(
        names(conv),
        [
            ("alice".into(), "alice".into()),
            ("bob".into(), "bob".into())
        ]
    );
    assert!(conv["participants"][0]["joined_at"].as_str().is_some());

    let alice_id: Value =
        app.request("GET", "/api/me", None, Some(&alice)).await.body["user"]["id"].clone();
    let again = app
        .request(
            "POST",
            "/api/conversations",
            Some(json!({"kind": "private", "participant_id": alice_id})),
            Some(&bob),
        )
        .await;
    assert_eq!(again.status, 200, "the other direction finds the same one");
    assert_eq!(again.body["conversation"]["id"], conv["id"]);

    let list = app
        .request("GET", "/api/conversations", None, Some(&bob))
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(names(&list.body["conversations"][0]).len(), 2);
}

#[actix_web::test]
async fn groups_rename_add_remove_and_history_through_the_bff() {
    let app = spawn_app().await;
    let (_, owner) = app.user("owner").await;
    let (a_id, a) = app.user("member_a").await;
    let (b_id, _) = app.user("member_b").await;
    let (c_id, c) = app.user("member_c").await;

    let created = app
        .request(
            "POST",
            "/api/conversations",
            Some(json!({"kind": "group", "name": "Team", "participant_ids": [a_id, b_id]})),
            Some(&owner),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(names(&created.body["conversation"]).len(), 3);

    let renamed = app
        .request(
            "PATCH",
            &format!("/api/conversations/{id}"),
            Some(json!({"name": "Dream team"})),
            Some(&a),
        )
        .await;
    assert_eq!(
        (
            renamed.status,
            renamed.body["conversation"]["name"].as_str()
        ),
        (200, Some("Dream team"))
    );

    let outsider = app
        .request("GET", &format!("/api/conversations/{id}"), None, Some(&c))
        .await;
    assert_eq!(
        (outsider.status, outsider.body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let added = app
        .request(
            "POST",
            &format!("/api/conversations/{id}/participants"),
            Some(json!({"user_id": c_id})),
            Some(&a),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    // The added participant comes back named, like every participant.
    let participant = &added.body["participant"];
    assert_eq!(participant["user_id"], json!(c_id));
    assert_eq!(
        (&participant["username"], &participant["display_name"]),
        (&json!("member_c"), &json!("member_c")),
        "{participant}"
    );
    let seen = app
        .request("GET", &format!("/api/conversations/{id}"), None, Some(&c))
        .await;
    assert_eq!(seen.status, 200);
    assert_eq!(names(&seen.body["conversation"]).len(), 4);

    let history = app
        .request(
            "GET",
            &format!("/api/conversations/{id}/messages?limit=10"),
            None,
            Some(&c),
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(history.body["messages"], json!([]));
    assert_eq!(history.body["next"], json!(null));
    // How far message-store has applied the conversation's partition of
    // the log (its membership events are in it too).
    assert!(
        history.body["complete_through"]
            .as_i64()
            .is_some_and(|c| c >= -1),
        "{}",
        history.body
    );
    let bad = app
        .request(
            "GET",
            &format!("/api/conversations/{id}/messages?limit=500"),
            None,
            Some(&c),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"]["code"].as_str()),
        (400, Some("invalid_limit"))
    );

    let left = app
        .request(
            "DELETE",
            &format!("/api/conversations/{id}/participants/{c_id}"),
            None,
            Some(&c),
        )
        .await;
    assert_eq!(left.status, 204);
    let gone = app
        .request("GET", &format!("/api/conversations/{id}"), None, Some(&c))
        .await;
    assert_eq!(gone.status, 404);
}

#[actix_web::test]
async fn unknown_users_cannot_be_added() {
    let app = spawn_app().await;
    let (_, me) = app.user("lonely").await;
    let ghost = uuid::Uuid::new_v4();
    for body in [
        json!({"kind": "private", "participant_id": ghost}),
        json!({"kind": "group", "name": "g", "participant_ids": [ghost]}),
    ] {
        let a = app
            .request("POST", "/api/conversations", Some(body), Some(&me))
            .await;
        assert_eq!(
            (a.status, a.body["error"]["code"].as_str()),
            (400, Some("unknown_user"))
        );
    }
    let none = app
        .request("GET", "/api/conversations", None, Some(&me))
        .await;
    assert_eq!(none.body, json!({"conversations": [], "next": null}));
}

/// Group creations are budgeted per user (429 past it, counted in
/// `/metrics`), as are gateway tokens per session; one user's budget spent
/// leaves another's and another session's alone.
#[actix_web::test]
async fn group_creations_per_user_and_gateway_tokens_per_session_are_limited() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.groups_per_user_per_min = 1; // burst 2
        s.ws_tokens_per_session_per_min = 1;
    })
    .await;
    let (_, alice) = app.user("alice").await;
    let (bob_id, bob) = app.user("bob").await;
    let group = serde_json::json!({"kind": "group", "name": "g", "participant_ids": [bob_id]});
    for _ in 0..2 {
        let a = app
            .request(
                "POST",
                "/api/conversations",
                Some(group.clone()),
                Some(&alice),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let refused = app
        .request(
            "POST",
            "/api/conversations",
            Some(group.clone()),
            Some(&alice),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let b = app
        .request("POST", "/api/conversations", Some(group), Some(&bob))
        .await;
    assert_eq!(b.status, 201, "bob's budget is his own: {}", b.body);

    for _ in 0..2 {
        assert_eq!(
            app.request("GET", "/api/ws-token", None, Some(&alice))
                .await
                .status,
            200
        );
    }
    let refused = app
        .request("GET", "/api/ws-token", None, Some(&alice))
        .await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let again = app.login("alice", "password123").await;
    let other_session = again.cookie.unwrap();
    let fresh = app
        .request("GET", "/api/ws-token", None, Some(&other_session))
        .await;
    assert_eq!(fresh.status, 200, "another session has its own budget");

    let metrics = app.metrics().await;
    for line in [
        r#"limiter_rejections_total{limit="group_creations_user"} 1"#,
        r#"limiter_rejections_total{limit="ws_tokens_session"} 1"#,
        // The database pool (the test bff's has eight connections).
        r#"db_pool_connections{state="max"} 8"#,
        r#"db_pool_connections{state="waiting"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
}

/// The gateway token names the session and never outlives it.
#[actix_web::test]
async fn the_gateway_token_names_its_session() {
    let app = crate::helpers::spawn_app().await;
    let (id, cookie) = app.user("carol").await;
    let a = app
        .request("GET", "/api/ws-token", None, Some(&cookie))
        .await;
    let claims = app
        .keys
        .verify(
            a.body["token"].as_str().unwrap(),
            actors_common::jwt::AUDIENCE_GATEWAY,
            &[actors_common::jwt::ISSUER_BFF],
        )
        .unwrap();
    assert_eq!(claims.sub, id);
    let sid = claims.sid.expect("a session id");
    assert!(
        sid.len() >= 20 && !cookie.contains(&sid),
        "public, not the cookie"
    );
    let sx = claims.sx.expect("the session's expiry");
    // The test bff's sessions last an hour.
    let hour = chrono::Utc::now().timestamp() + 3600;
    assert!((hour - 10..=hour + 1).contains(&sx), "{sx} vs {hour}");
    assert!(claims.exp <= sx);
}
