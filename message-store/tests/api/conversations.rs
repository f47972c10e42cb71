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
        (
            json!({"kind": "group", "name": "nul\u{0}", "participant_ids": []}),
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

#[actix_web::test]
async fn forced_membership_stops_at_the_cap_and_the_victim_can_still_list_and_leave() {
    let app = crate::helpers::spawn_tweaked(|s| s.max_conversations_per_user = 20).await;
    let (victim, bystander) = (UserId::new_random(), UserId::new_random());
    let group =
        |members: Vec<UserId>| json!({"kind": "group", "name": "spam", "participant_ids": members});
    let mut made = Vec::new();
    let mut refused = 0;
    for i in 0..25 {
        // Each spam group names the victim, and every fifth one a bystander too.
        let members = if i % 5 == 0 {
            vec![victim, bystander]
        } else {
            vec![victim]
        };
        // A new attacker account each time: only the victim's cap binds.
        let attacker = UserId::new_random();
        let (status, body) = app.post("/conversations", attacker, group(members)).await;
        match status {
            201 => made.push(body["conversation"]["id"].as_str().unwrap().to_owned()),
            409 => {
                assert_eq!(body["error"]["code"], "conversation_limit");
                refused += 1;
            }
            other => panic!("create answered {other}: {body}"),
        }
    }
    // The victim's cap stopped it at 20; the refused creates took no place
    // from anyone (the bystander, named in groups 0, 5, 10, 15 and 20, is in 4).
    assert_eq!((made.len(), refused), (20, 5));
    let (status, list) = app.get("/conversations", victim).await;
    assert_eq!(status, 200);
    assert_eq!(list["conversations"].as_array().unwrap().len(), 20);
    let (_, list) = app.get("/conversations", bystander).await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), 4);
    // The victim leaves one, and has a free place again (anyone's create with
    // them fits, as does a private chat of their own).
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{}/participants/{victim}", made[0]),
            victim,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let friend = UserId::new_random();
    let (status, _) = app
        .post(
            "/conversations",
            victim,
            json!({"kind": "private", "participant_id": friend}),
        )
        .await;
    assert_eq!(status, 201);
    // An add that would put the victim past the cap is refused the same way.
    let open = app.create_group(friend, &[]).await;
    let (status, body) = app
        .post(
            &format!("/conversations/{open}/participants"),
            friend,
            json!({"user_id": victim}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conversation_limit"))
    );
}

#[actix_web::test]
async fn a_group_has_at_most_its_cap_of_participants() {
    let app = crate::helpers::spawn_tweaked(|s| s.max_group_participants = 3).await;
    let (a, b, c, d) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let (status, body) = app
        .post(
            "/conversations",
            a,
            json!({"kind": "group", "name": "four", "participant_ids": [b, c, d]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("group_full"))
    );
    let conv = app.create_group(a, &[b, c]).await;
    let (status, body) = app
        .post(
            &format!("/conversations/{conv}/participants"),
            a,
            json!({"user_id": d}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("group_full"))
    );
    // After someone leaves there is room again.
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{c}"),
            c,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .post(
            &format!("/conversations/{conv}/participants"),
            a,
            json!({"user_id": d}),
        )
        .await;
    assert_eq!(status, 201);
}

/// The count a conversation carries moves with every add and removal, not
/// with a refused one (full, already there, not there), and is what the
/// participants table says, whoever wrote it.
#[actix_web::test]
async fn the_participant_count_follows_every_change_and_no_refusal() {
    let app = crate::helpers::spawn_tweaked(|s| s.max_group_participants = 3).await;
    let (a, b, c, d) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let conv = app.create_group(a, &[b]).await;
    let counted = |expected: i64| {
        let app = &app;
        async move {
            let (_, one) = app.get(&format!("/conversations/{conv}"), a).await;
            let shown = &one["conversation"];
            assert_eq!(shown["participant_count"], expected, "{shown}");
            assert_eq!(
                shown["participants"].as_array().unwrap().len() as i64,
                expected
            );
            let (_, page) = app.get("/conversations", a).await;
            assert_eq!(page["conversations"][0]["participant_count"], expected);
            let mut conn = app.conn().await;
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let stored: Count = diesel_async::RunQueryDsl::get_result(
                diesel::sql_query(
                    "SELECT count(*) AS n FROM participants \
                      WHERE conversation_id = $1 AND left_at IS NULL",
                )
                .bind::<diesel::sql_types::Uuid, _>(conv),
                &mut conn,
            )
            .await
            .unwrap();
            assert_eq!(stored.n, expected, "the table agrees");
        }
    };
    counted(2).await;
    let add = |user: UserId| {
        let app = &app;
        async move {
            app.post(
                &format!("/conversations/{conv}/participants"),
                a,
                json!({ "user_id": user }),
            )
            .await
            .0
        }
    };
    let remove = |user: UserId| {
        let app = &app;
        async move {
            app.call(
                "DELETE",
                &format!("/conversations/{conv}/participants/{user}"),
                a,
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(add(c).await, 201);
    counted(3).await;
    assert_eq!(add(d).await, 409, "full");
    assert_eq!(add(b).await, 409, "already there");
    counted(3).await;
    assert_eq!(remove(c).await, 204);
    assert_eq!(remove(c).await, 404, "not there any more");
    counted(2).await;
    assert_eq!(add(c).await, 201, "back again");
    counted(3).await;

    // The database keeps the count, whatever writes the participants (an
    // older message-store during a rolling start, an operator's statement):
    // one statement that ends two memberships takes two off.
    let mut conn = app.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE participants SET left_at = now() \
              WHERE conversation_id = $1 AND user_id <> $2",
        )
        .bind::<diesel::sql_types::Uuid, _>(conv)
        .bind::<diesel::sql_types::Uuid, _>(a),
        &mut conn,
    )
    .await
    .unwrap();
    counted(1).await;
}

/// A thousand groups made by strangers naming one victim: the victim's list
/// is pages of a bounded size, every conversation on exactly one page, in
/// activity order; one page names at most 20 participants of each group,
/// with the count; the victim can still open and leave one.
#[actix_web::test]
async fn the_list_is_keyset_pages_on_activity_whatever_its_length() {
    let app = spawn_app().await;
    let victim = UserId::new_random();
    let crowd: Vec<UserId> = (0..30).map(|_| UserId::new_random()).collect();
    let big = app.create_group(victim, &crowd).await;
    // Eight at a time: the test instance's pool has eight connections.
    for batch in 0..125 {
        let app = &app;
        let creates = (0..8).map(|_| {
            let attacker = UserId::new_random();
            let body = json!({"kind": "group", "name": format!("spam {batch}"), "participant_ids": [victim]});
            async move { app.post("/conversations", attacker, body).await }
        });
        for (status, body) in futures_util::future::join_all(creates).await {
            assert_eq!(status, 201, "{body}");
        }
    }

    let mut seen = std::collections::HashSet::new();
    let mut last_created: Option<String> = None;
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/conversations?limit=100&after={a}"),
            None => "/conversations?limit=100".to_owned(),
        };
        let (status, page) = app.get(&path, victim).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let list = page["conversations"].as_array().unwrap();
        assert!(list.len() <= 100);
        for c in list {
            assert!(
                seen.insert(c["id"].as_str().unwrap().to_owned()),
                "listed twice: {c}"
            );
            // No messages: activity is creation, newest first.
            let created = c["created_at"].as_str().unwrap().to_owned();
            if let Some(prev) = &last_created {
                assert!(&created <= prev, "{created} after {prev}");
            }
            last_created = Some(created);
            assert!(c["participants"].as_array().unwrap().len() <= 20);
            if c["id"] == json!(big) {
                assert_eq!(c["participant_count"], 31);
                assert_eq!(c["participants"].as_array().unwrap().len(), 20);
            } else {
                assert_eq!(c["participant_count"], 2);
            }
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (1001, 11));
    let (_, ids) = app.get("/conversations/ids", victim).await;
    assert_eq!(ids["ids"].as_array().unwrap().len(), 1001);

    // A message moves the oldest conversation to the top of the first page.
    app.seed(big, victim, 1).await;
    let (_, first) = app.get("/conversations?limit=1", victim).await;
    assert_eq!(first["conversations"][0]["id"], json!(big));
    assert!(first["next"].is_string());
    // Opening it names everyone; leaving it works.
    let (_, one) = app.get(&format!("/conversations/{big}"), victim).await;
    assert_eq!(
        one["conversation"]["participants"]
            .as_array()
            .unwrap()
            .len(),
        31
    );
    assert_eq!(one["conversation"]["participant_count"], 31);
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{big}/participants/{victim}"),
            victim,
            None,
        )
        .await;
    assert_eq!(status, 204);

    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("after=yesterday", "invalid_cursor"),
        ("after=12.not-a-uuid", "invalid_cursor"),
    ] {
        let (status, body) = app.get(&format!("/conversations?{query}"), victim).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
}
