use actors_common::jwt::{
    Claims, JwtKeys, AUDIENCE_MESSAGE_STORE, AUDIENCE_USER_STORE, ISSUER_BFF, ISSUER_GATEWAY,
};
use actors_common::UserId;
use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn created_profile_can_be_read_back() {
    let app = spawn_app().await;
    let id = UserId::new_random();
    let (status, body) = app
        .post(
            "/users",
            &app.token(id),
            &json!({"id": id, "username": "alice", "display_name": "Alice A."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["id"], json!(id));
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["display_name"], "Alice A.");
    let created_at = body["user"]["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );

    let (status, fetched) = app.get(&format!("/users/{id}"), &app.token(id)).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["user"], body["user"]);
}

#[actix_web::test]
async fn display_name_defaults_to_username() {
    let app = spawn_app().await;
    let id = UserId::new_random();
    let (status, body) = app
        .post(
            "/users",
            &app.token(id),
            &json!({"id": id, "username": "bob"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["user"]["display_name"], "bob");
}

#[actix_web::test]
async fn a_profile_can_be_created_only_for_the_tokens_subject() {
    let app = spawn_app().await;
    let someone_else = UserId::new_random();
    let (status, body) = app
        .post(
            "/users",
            &app.token(UserId::new_random()),
            &json!({"id": someone_else, "username": "mallory"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = app
        .get(&format!("/users/{someone_else}"), &app.token(someone_else))
        .await;
    assert_eq!(status, 404, "nothing was created");
}

#[actix_web::test]
async fn duplicate_id_and_username_conflict() {
    let app = spawn_app().await;
    let id = app.create_user("carol").await;
    let (status, body) = app
        .post(
            "/users",
            &app.token(id),
            &json!({"id": id, "username": "carol2"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("user_exists"))
    );
    let other = UserId::new_random();
    let (status, body) = app
        .post(
            "/users",
            &app.token(other),
            &json!({"id": other, "username": "carol"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("username_taken"))
    );
}

#[actix_web::test]
async fn a_retried_create_gets_the_same_profile_and_a_removed_one_frees_its_name() {
    let app = spawn_app().await;
    let id = UserId::new_random();
    let body = json!({"id": id, "username": "dave", "display_name": "Dave"});
    let (status, first) = app.post("/users", &app.token(id), &body).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = app.post("/users", &app.token(id), &body).await;
    assert_eq!(status, 201, "the retry is answered like the first: {again}");
    assert_eq!(again["user"], first["user"], "with the same profile");

    // Someone else may not remove it; its subject may, and the name is free.
    let other = UserId::new_random();
    let (status, _) = app.delete(&format!("/users/{id}"), &app.token(other)).await;
    assert_eq!(status, 403);
    let (status, _) = app.delete(&format!("/users/{id}"), &app.token(id)).await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&format!("/users/{id}"), &app.token(id)).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            "/users",
            &app.token(other),
            &json!({"id": other, "username": "dave"}),
        )
        .await;
    assert_eq!(status, 201, "the username can be registered again");
}

#[actix_web::test]
async fn invalid_fields_are_refused_with_their_codes() {
    let app = spawn_app().await;
    let id = UserId::new_random();
    for (body, code) in [
        (json!({"id": id, "username": "AB"}), "invalid_username"),
        (
            json!({"id": id, "username": "ok_name", "display_name": "d".repeat(65)}),
            "invalid_display_name",
        ),
        (
            json!({"id": id, "username": "ok_name", "display_name": "two\nlines"}),
            "invalid_display_name",
        ),
        (json!({"id": id}), "invalid_json"),
    ] {
        let (status, resp) = app.post("/users", &app.token(id), &body).await;
        assert_eq!(
            (status, resp["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
}

#[actix_web::test]
async fn prefix_search_pages_by_username() {
    let app = spawn_app().await;
    for name in ["dan", "dana", "danny", "dave", "d_x", "dzz", "erin"] {
        app.create_user(name).await;
    }
    let t = app.token(UserId::new_random());
    let (status, page1) = app.get("/users?q=da&limit=2", &t).await;
    assert_eq!(status, 200);
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&page1), ["dan", "dana"]);
    assert_eq!(page1["next"], "dana");
    let (_, page2) = app.get("/users?q=da&limit=2&after=dana", &t).await;
    assert_eq!(names(&page2), ["danny", "dave"]);
    let (_, page3) = app.get("/users?q=da&limit=2&after=dave", &t).await;
    assert_eq!(names(&page3), Vec::<String>::new());
    assert_eq!(page3["next"], serde_json::Value::Null);
    // `_` is a literal, not a LIKE wildcard.
    let (_, underscore) = app.get("/users?q=d_", &t).await;
    assert_eq!(names(&underscore), ["d_x"]);
    let (status, body) = app.get("/users?q=d&limit=51", &t).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_limit"))
    );
}

#[actix_web::test]
async fn batch_lookup_by_ids() {
    let app = spawn_app().await;
    let a = app.create_user("fay").await;
    let b = app.create_user("gus").await;
    let unknown = UserId::new_random();
    let (status, body) = app
        .get(&format!("/users?ids={a},{unknown},{b}"), &app.token(a))
        .await;
    assert_eq!(status, 200);
    let ids: Vec<_> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    assert_eq!(ids, [json!(a), json!(b)]);
    let too_many = (0..101)
        .map(|_| UserId::new_random().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (status, body) = app
        .get(&format!("/users?ids={too_many}"), &app.token(a))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_ids"))
    );
}

#[actix_web::test]
async fn refuses_bad_tokens_with_their_reason() {
    let app = spawn_app().await;
    let user = app.create_user("hal").await;
    let path = format!("/users/{user}");
    let now = chrono::Utc::now().timestamp();

    let wrong_aud = app.keys.mint(
        ISSUER_BFF,
        AUDIENCE_MESSAGE_STORE,
        user,
        std::time::Duration::from_secs(60),
    );
    let expired = app.forged(&Claims {
        iss: ISSUER_BFF.into(),
        aud: AUDIENCE_USER_STORE.into(),
        sub: user,
        iat: now - 120,
        exp: now - 60,
        jti: uuid::Uuid::new_v4(),
        sid: None,
        sx: None,
    });
    let other_secret = JwtKeys::new(b"not-the-secret-at-all-0123456789").mint(
        ISSUER_BFF,
        AUDIENCE_USER_STORE,
        user,
        std::time::Duration::from_secs(60),
    );
    let gateway_issued = app.keys.mint(
        ISSUER_GATEWAY,
        AUDIENCE_USER_STORE,
        user,
        std::time::Duration::from_secs(60),
    );
    for (token, code) in [
        (wrong_aud, "wrong_audience"),
        (expired, "expired_token"),
        (other_secret, "invalid_token"),
        (gateway_issued, "invalid_token"),
        ("garbage".to_owned(), "invalid_token"),
    ] {
        let (status, body) = app.get(&path, &token).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some(code)));
    }
    let mut resp = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_token");
}

#[actix_web::test]
async fn health_ready_and_metrics_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let (status, body) = app.get(path, "").await;
        assert_eq!((status, body), (200, json!({"status": "ok"})));
    }
    let resp = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_search_with_control_characters_is_a_bad_request_not_a_server_error() {
    let app = spawn_app().await;
    let t = app.token(UserId::new_random());
    for path in [
        "/users?q=a%00b",
        "/users?q=%1b%5b2J",
        "/users?q=da&after=dan%00",
    ] {
        let (status, body) = app.get(path, &t).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_not_by_path() {
    let app = spawn_app().await;
    let t = app.token(UserId::new_random());
    for _ in 0..2 {
        let (status, _) = app
            .get(&format!("/users/{}", UserId::new_random()), &t)
            .await;
        assert_eq!(status, 404);
    }
    let mut resp = awc::Client::new()
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(resp.body().await.unwrap().to_vec()).unwrap();
    let line = r#"http_requests_total{method="GET",route="/users/{id}",status="404"} 2"#;
    assert!(text.contains(line), "{line} in:\n{text}");
}
