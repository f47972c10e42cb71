use std::collections::HashSet;
use std::time::Duration;

use actors_common::{ConversationId, MessageId, UserId};
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn ids_of(page: &Value) -> Vec<MessageId> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_value(m["id"].clone()).unwrap())
        .collect()
}

/// Follows `next` from `first` to the end; returns every id seen, in order.
async fn walk(
    app: &TestApp,
    conv: ConversationId,
    user: UserId,
    direction: &str,
) -> Vec<MessageId> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = match direction {
        "after" => Some(MessageId::floor_at_millis(0).to_string()),
        _ => None,
    };
    loop {
        let path = match &cursor {
            Some(c) => format!("/conversations/{conv}/messages?{direction}={c}&limit=100"),
            None => format!("/conversations/{conv}/messages?limit=100"),
        };
        let (status, page) = app.get(&path, user).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids_of(&page));
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
}

#[actix_web::test]
async fn a_thousand_messages_walk_both_ways_exactly_once() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let sent: Vec<MessageId> = app
        .seed(conv, me, 1000)
        .await
        .iter()
        .map(|m| m.id)
        .collect();

    let backwards = walk(&app, conv, me, "before").await;
    assert_eq!(backwards.len(), 1000);
    assert!(
        backwards.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first"
    );
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(
        backwards.iter().rev().copied().collect::<Vec<_>>(),
        expected
    );

    let forwards = walk(&app, conv, me, "after").await;
    assert_eq!(forwards, expected, "strictly oldest first, each once");
    assert_eq!(forwards.iter().collect::<HashSet<_>>().len(), 1000);
}

#[actix_web::test]
async fn first_page_shape_and_limits() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let conv = app.create_group(me, &[]).await;
    let sent = app.seed(conv, me, 3).await;
    let (status, page) = app
        .get(&format!("/conversations/{conv}/messages"), me)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["next"], Value::Null);
    let newest = &page["messages"][0];
    assert_eq!(newest["id"], json!(sent[2].id));
    assert_eq!(newest["conversation_id"], json!(conv));
    assert_eq!(newest["sender_id"], json!(me));
    assert_eq!(newest["body"], "message 2");
    assert_eq!(newest["client_id"], json!(sent[2].client_id));
    assert_eq!(
        newest["created_at"],
        json!(actors_common::time::format(&sent[2].created_at))
    );

    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("before=x", "invalid_query"),
    ] {
        let (status, body) = app
            .get(&format!("/conversations/{conv}/messages?{query}"), me)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    let (status, _) = app
        .get(
            &format!(
                "/conversations/{conv}/messages?before={}&after={}",
                sent[0].id, sent[1].id
            ),
            me,
        )
        .await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn joined_at_guards_history_and_removal_hides_it() {
    let app = spawn_app().await;
    let (owner, late) = (UserId::new_random(), UserId::new_random());
    let conv = app.create_group(owner, &[]).await;
    app.seed(conv, owner, 5).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, _) = app
        .post(
            &format!("/conversations/{conv}/participants"),
            owner,
            json!({"user_id": late}),
        )
        .await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let after: Vec<MessageId> = app
        .seed(conv, owner, 3)
        .await
        .iter()
        .map(|m| m.id)
        .collect();

    let (_, page) = app
        .get(&format!("/conversations/{conv}/messages"), late)
        .await;
    let mut seen = ids_of(&page);
    seen.reverse();
    assert_eq!(seen, after, "only messages from joining on");
    let (_, page) = app
        .get(&format!("/conversations/{conv}/messages"), owner)
        .await;
    assert_eq!(ids_of(&page).len(), 8);

    // The late joiner's own messages stay visible to the owner after they leave.
    let theirs = app.seed(conv, late, 1).await;
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/conversations/{conv}/participants/{late}"),
            late,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .get(&format!("/conversations/{conv}/messages"), late)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, page) = app
        .get(&format!("/conversations/{conv}/messages"), owner)
        .await;
    assert_eq!(ids_of(&page)[0], theirs[0].id);
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

#[actix_web::test]
async fn history_query_is_an_index_range_scan() {
    let app = spawn_app().await;
    let me = UserId::new_random();
    let mut conversations = Vec::new();
    for _ in 0..50 {
        conversations.push(app.create_group(me, &[]).await);
    }
    // A large conversation (10,000 messages) among 49 small ones, their
    // messages interleaved in time as in real life.
    let conv = conversations[7];
    let all: Vec<actors_common::Message> = (0..200)
        .flat_map(|i| {
            let busy = std::iter::repeat_n(conv, 49);
            conversations
                .iter()
                .filter(move |c| **c != conv)
                .copied()
                .chain(busy)
                .map(move |c| actors_common::Message::new(c, me, format!("m{i}"), None))
        })
        .collect();
    let mut conn = app.conn().await;
    message_store::db::messages::store_batch(&mut conn, &all)
        .await
        .unwrap();
    let msgs: Vec<_> = all.iter().filter(|m| m.conversation_id == conv).collect();
    diesel::sql_query("ANALYZE messages")
        .execute(&mut conn)
        .await
        .unwrap();
    // The statement `db::messages::page` builds for a `before` page.
    let plan: Vec<PlanLine> = diesel::sql_query(
        "EXPLAIN SELECT id, conversation_id, sender_id, body, created_at, client_id FROM messages \
         WHERE conversation_id = $1 AND id >= $2 AND id < $3 ORDER BY id DESC LIMIT 51",
    )
    .bind::<diesel::sql_types::Uuid, _>(conv.as_uuid())
    .bind::<diesel::sql_types::Uuid, _>(MessageId::floor_at_millis(0).0)
    .bind::<diesel::sql_types::Uuid, _>(msgs[5000].id.0)
    .load(&mut conn)
    .await
    .unwrap();
    let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
    let text = plan.join("\n");
    assert!(
        text.contains("Index Scan Backward using messages_pkey"),
        "{text}"
    );
    assert!(!text.contains("Seq Scan"), "{text}");
}
