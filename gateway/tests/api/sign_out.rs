//! Logging out ends a browser session's sockets on every gateway, and an
//! expired session's sockets end by themselves: 1008, with the reason the
//! UI shows.

use std::time::Duration;

use actors_common::jwt::Session;
use actors_common::UserId;

use crate::helpers::{spawn_stack, Stack};

const WAIT: Duration = Duration::from_secs(15);

fn session(sid: &str, expires_in: i64) -> Session {
    Session {
        sid: sid.to_owned(),
        expires_at: chrono::Utc::now().timestamp() + expires_in,
    }
}

fn token(stack: &Stack, user: UserId, s: &Session) -> String {
    stack
        .keys
        .mint_for_session(user, Duration::from_secs(60), s)
}

/// `POST /sessions/end` on gateway `n` with `token`; the status.
async fn end(stack: &Stack, n: usize, token: Option<&str>) -> u16 {
    let mut req = stack.http.post(format!(
        "http://127.0.0.1:{}/sessions/end",
        stack.gateways[n].port
    ));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

#[actix_web::test]
async fn logout_closes_the_sessions_sockets_on_every_gateway_and_no_others() {
    let stack = spawn_stack(2).await;
    let user = UserId::new_random();
    let (a, b) = (session("session-a", 3600), session("session-b", 3600));
    let (token_a, token_b) = (token(&stack, user, &a), token(&stack, user, &b));
    let mut a_here = stack.connect_with(0, user, &token_a).await;
    let mut a_there = stack.connect_with(1, user, &token_a).await;
    let mut b_there = stack.connect_with(1, user, &token_b).await;

    // Ended through gateway 0; gateway 1 hears of it through chat.sessions.
    assert_eq!(end(&stack, 0, Some(&token_a)).await, 204);
    let signed_out = Some((1008, "signed out".to_owned()));
    assert_eq!(a_here.close_reason(WAIT).await, signed_out);
    assert_eq!(a_there.close_reason(WAIT).await, signed_out);

    // The other browser session of the same user still works.
    let conversation = stack.create_group(user, &[]).await;
    let body = "still signed in";
    b_there.next_of("participant_added").await;
    b_there.say(conversation, body).await;
    b_there.message_with_body(body).await;

    // A token of the ended session taken before the logout opens nothing
    // for long, on either gateway.
    for gateway in [0, 1] {
        let mut late = stack.open(gateway, &token_a).await;
        assert_eq!(
            late.close_reason(WAIT).await,
            signed_out,
            "gateway {gateway}"
        );
    }
}

#[actix_web::test]
async fn an_expired_sessions_sockets_close_by_themselves() {
    let stack = spawn_stack(1).await;
    let user = UserId::new_random();
    let soon = session("session-soon", 2);
    let mut client = stack
        .connect_with(0, user, &token(&stack, user, &soon))
        .await;
    assert_eq!(
        client.close_reason(WAIT).await,
        Some((1008, "session expired".to_owned()))
    );
}

#[actix_web::test]
async fn ending_a_session_needs_a_token_that_names_one() {
    let stack = spawn_stack(1).await;
    let user = UserId::new_random();
    assert_eq!(end(&stack, 0, None).await, 401);
    assert_eq!(end(&stack, 0, Some("not-a-token")).await, 401);
    // A gateway token without a session (loadgen's kind) ends nothing.
    assert_eq!(end(&stack, 0, Some(&stack.ws_token(user))).await, 400);
}

#[actix_web::test]
async fn a_gateway_started_just_after_a_logout_refuses_the_sessions_tokens_too() {
    let mut stack = spawn_stack(1).await;
    let user = UserId::new_random();
    let s = session("session-before-start", 3600);
    let taken_before = token(&stack, user, &s);
    assert_eq!(end(&stack, 0, Some(&taken_before)).await, 204);
    // This gateway was not running when the session ended: it reads the
    // ends of the last minute as it starts.
    let late = stack.spawn_gateway(|_| {}).await;
    let mut client = stack.open(late, &taken_before).await;
    assert_eq!(
        client.close_reason(WAIT).await,
        Some((1008, "signed out".to_owned()))
    );
}

#[actix_web::test]
async fn ending_a_session_again_writes_no_second_record() {
    let stack = spawn_stack(1).await;
    let user = UserId::new_random();
    let t = token(&stack, user, &session("session-twice", 3600));
    let producer = test_support::kafka::producer();
    let before = test_support::kafka::end_offset(&producer, &stack.topics.sessions, 0).await;
    for _ in 0..5 {
        assert_eq!(end(&stack, 0, Some(&t)).await, 204);
    }
    let after = test_support::kafka::end_offset(&producer, &stack.topics.sessions, 0).await;
    assert_eq!(after - before, 1, "one end, one record");
}

/// A live end is remembered from its arrival, not from its record's time:
/// the gateway that wrote it may run a clock minutes behind this one's.
#[actix_web::test]
async fn a_live_end_stamped_by_a_slow_clock_is_still_remembered() {
    use rdkafka::producer::FutureRecord;

    let stack = spawn_stack(1).await;
    let user = UserId::new_random();
    let s = session("session-slow-clock", 3600);
    let t = token(&stack, user, &s);
    let mut open = stack.connect_with(0, user, &t).await;
    let ten_minutes_ago = chrono::Utc::now().timestamp_millis() - 600_000;
    let payload = serde_json::json!({"user_id": user, "sid": s.sid}).to_string();
    let key = user.to_string();
    test_support::kafka::producer()
        .send(
            FutureRecord::to(&stack.topics.sessions)
                .key(&key)
                .payload(&payload)
                .timestamp(ten_minutes_ago),
            WAIT,
        )
        .await
        .unwrap();
    let signed_out = Some((1008, "signed out".to_owned()));
    assert_eq!(open.close_reason(WAIT).await, signed_out);
    // Remembered: a token taken before the end opens nothing.
    let mut late = stack.open(0, &t).await;
    assert_eq!(late.close_reason(WAIT).await, signed_out);
}
