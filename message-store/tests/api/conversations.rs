use actors_common::{ConversationId, UserId};
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn concurrent_private_creates_converge_on_one_conversation() {
    let app = spawn_app().await;
    let (a, b) = (UserId::new_random(), UserId::new_random());
    let answers = join_all((0..20).map(|i| {
        let (me, other) = if i % 2 == 0 { (a, b) } else { (b, a) };
        app.post(
            "/conversations",
            me,
            json!({"kind": "private", "participant_id": other}),
        )
    }))
    .await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(_, body)| body["conversation"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let existing = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, existing), (1, 19));

    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use message_store::db::schema::conversations;
    let mut conn = app.conn().await;
    let rows: i64 = conversations::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[actix_web::test]
async fn a_private_conversation_shows_both_people_and_cannot_change() {
    let app = spawn_app().await;
    let (a, b, c) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let (status, body) = app
        .post(
            "/conversations",
            a,
            json!({"kind": "private", "participant_id": b}),
        )
        .await;
    assert_eq!(status, 201);
    let conv = &body["conversation"];
    assert_eq!(conv["kind"], "private");
    assert_eq!(conv["name"], serde_json::Value::Null);
    assert_eq!(conv["last_message"], serde_json::Value::Null);
    let mut people: Vec<_> = conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_id"].clone())
        .collect();
    people.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut expected = vec![json!(a), json!(b)];
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(people, expected);
    let id = conv["id"].as_str().unwrap();

    let (status, body) = app
        .call(
            "PATCH",
            &format!("/conversations/{id}"),
            a,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("private_conversation"))
    );
    let (status, body) = app
        .post(
            &format!("/conversations/{id}/participants"),
            a,
            json!({"user_id": c}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("private_conversation"))
    );
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{id}/participants/{b}"),
            a,
            None,
        )
        .await;
    assert_eq!(status, 400);

    let (status, body) = app
        .post(
            "/conversations",
            a,
            json!({"kind": "private", "participant_id": a}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_participant"))
    );
}

#[actix_web::test]
async fn outsiders_get_404_for_everything() {
    let app = spawn_app().await;
    let (owner, stranger) = (UserId::new_random(), UserId::new_random());
    let conv = app.create_group(owner, &[]).await;
    for (method, path, body) in [
        ("GET", format!("/conversations/{conv}"), None),
        ("GET", format!("/conversations/{conv}/messages"), None),
        (
            "PATCH",
            format!("/conversations/{conv}"),
            Some(json!({"name": "mine now"})),
        ),
        (
            "POST",
            format!("/conversations/{conv}/participants"),
            Some(json!({"user_id": stranger})),
        ),
        (
            "DELETE",
            format!("/conversations/{conv}/participants/{owner}"),
            None,
        ),
    ] {
        let (status, resp) = app.call(method, &path, stranger, body).await;
        assert_eq!(
            (status, resp["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    // And a conversation that does not exist answers the same.
    let (status, _) = app
        .get(
            &format!("/conversations/{}", ConversationId::new_v7()),
            stranger,
        )
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn groups_rename_add_remove_and_leave() {
    let app = spawn_app().await;
    let (a, b, c) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let conv = app.create_group(a, &[b, b]).await;
    let (_, body) = app.get(&format!("/conversations/{conv}"), b).await;
    assert_eq!(
        body["conversation"]["participants"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "creator included, duplicates ignored"
    );

    let (status, body) = app
        .call(
            "PATCH",
            &format!("/conversations/{conv}"),
            b,
            Some(json!({"name": "  Renamed  "})),
        )
        .await;
    assert_eq!(
        (status, body["conversation"]["name"].as_str()),
        (200, Some("Renamed"))
    );
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/conversations/{conv}"),
            b,
            Some(json!({"name": " "})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_name"))
    );

    let (status, body) = app
        .post(
            &format!("/conversations/{conv}/participants"),
            b,
            json!({"user_id": c}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["participant"]["user_id"], json!(c));
    let (status, body) = app
        .post(
            &format!("/conversations/{conv}/participants"),
            b,
            json!({"user_id": c}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_participant"))
    );

    // c removes a; a can no longer see it.
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{a}"),
            c,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&format!("/conversations/{conv}"), a).await.0, 404);
    let (_, ids) = app.get("/conversations/ids", a).await;
    assert_eq!(ids, json!({"ids": []}));

    // b leaves.
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{b}"),
            b,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, body) = app.get(&format!("/conversations/{conv}"), c).await;
    let left: Vec<_> = body["conversation"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_id"].clone())
        .collect();
    assert_eq!(left, [json!(c)]);
    let (status, body) = app
        .call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{b}"),
            c,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[actix_web::test]
async fn list_is_newest_activity_first_with_last_message() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let older = app.create_group(me, &[]).await;
    let newer = app.create_group(me, &[]).await;
    let (_, body) = app.get("/conversations", me).await;
    let order: Vec<_> = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(
        order,
        [json!(newer), json!(older)],
        "no messages: by creation time"
    );

    let sent = app.seed(older, me, 3).await;
    let (_, body) = app.get("/conversations", me).await;
    let list = body["conversations"].as_array().unwrap();
    assert_eq!(list[0]["id"], json!(older), "a message moves it to the top");
    assert_eq!(list[0]["last_message"]["id"], json!(sent[2].id));
    assert_eq!(list[0]["last_message"]["body"], "message 2");
    assert_eq!(list[1]["last_message"], serde_json::Value::Null);

    let (_, ids) = app.get("/conversations/ids", me).await;
    let mut ids: Vec<_> = ids["ids"].as_array().unwrap().clone();
    ids.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut expected = vec![json!(older), json!(newer)];
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(ids, expected);
}

#[actix_web::test]
async fn bad_requests_have_clear_codes() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    for (body, code) in [
        (
            json!({"kind": "group", "name": "", "participant_ids": []}),
            "invalid_name",
        ),
        (
            json!({"kind": "group", "name": "n".repeat(101), "participant_ids": []}),
            "invalid_name",
        ),
        (json!({"kind": "channel"}), "invalid_json"),
        (
            json!({"kind": "private", "participant_id": "not-a-uuid"}),
            "invalid_json",
        ),
    ] {
        let (status, resp) = app.post("/conversations", me, body.clone()).await;
        assert_eq!(
            (status, resp["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let (status, _) = app.get("/conversations/not-a-uuid", me).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_group_can_start_with_thousands_of_participants() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let members: Vec<UserId> = (0..5000).map(|_| UserId::new_random()).collect();
    let (status, body) = app
        .post(
            "/conversations",
            me,
            json!({"kind": "group", "name": "everyone", "participant_ids": members}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["conversation"]["participants"]
            .as_array()
            .unwrap()
            .len(),
        5001
    );
}
