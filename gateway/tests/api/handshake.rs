use std::time::Duration;

use actors_common::jwt::{Claims, JwtKeys, AUDIENCE_GATEWAY, AUDIENCE_MESSAGE_STORE, ISSUER_BFF};
use actors_common::UserId;
use base64::Engine as _;

use crate::helpers::spawn_stack;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[actix_web::test]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let stack = spawn_stack(1).await;
    let user = UserId::new_random();
    let now = chrono::Utc::now().timestamp();
    let expired = stack.keys.sign(&Claims {
        iss: ISSUER_BFF.into(),
        aud: AUDIENCE_GATEWAY.into(),
        sub: user,
        iat: now - 120,
        exp: now - 60,
        jti: uuid::Uuid::new_v4(),
        sid: None,
        sx: None,
    });
    let none_alg = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(serde_json::to_string(&serde_json::json!({"iss": ISSUER_BFF, "aud": AUDIENCE_GATEWAY, "sub": user, "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4()})).unwrap().as_bytes())
    );
    let cases = [
        (None, "invalid_token"),
        (
            Some(stack.keys.mint(
                ISSUER_BFF,
                AUDIENCE_MESSAGE_STORE,
                user,
                Duration::from_secs(60),
            )),
            "wrong_audience",
        ),
        (Some(expired), "expired_token"),
        (
            Some(JwtKeys::new(b"another-secret-0123456789abcdef").mint(
                ISSUER_BFF,
                AUDIENCE_GATEWAY,
                user,
                Duration::from_secs(60),
            )),
            "invalid_token",
        ),
        (Some(none_alg), "invalid_token"),
    ];
    for (token, code) in cases {
        let mut req = stack
            .http
            .get(stack.ws_url(0).replace("ws://", "http://"))
            .insert_header(("Upgrade", "websocket"))
            .insert_header(("Connection", "Upgrade"))
            .insert_header(("Sec-WebSocket-Version", "13"))
            .insert_header(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="));
        req = match &token {
            Some(t) => {
                req.insert_header(("Sec-WebSocket-Protocol", format!("chat.v1, bearer.{t}")))
            }
            None => req.insert_header(("Sec-WebSocket-Protocol", "chat.v1")),
        };
        let mut resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{code}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
}

#[actix_web::test]
async fn the_server_selects_chat_v1_and_never_echoes_the_token() {
    let stack = spawn_stack(1).await;
    let token = stack.ws_token(UserId::new_random());
    let (resp, _framed) = awc::Client::new()
        .ws(stack.ws_url(0))
        .protocols(["chat.v1".to_owned(), format!("bearer.{token}")])
        .connect()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "chat.v1"
    );
    for (name, value) in resp.headers() {
        assert!(
            !value.to_str().unwrap_or_default().contains(&token),
            "{name} echoes the token"
        );
    }
}

#[actix_web::test]
async fn the_authorization_header_works_for_other_clients() {
    let stack = spawn_stack(1).await;
    let user = UserId::new_random();
    let (_, framed) = awc::Client::new()
        .ws(stack.ws_url(0))
        .bearer_auth(stack.ws_token(user))
        .protocols(["chat.v1"])
        .connect()
        .await
        .unwrap();
    let mut client = crate::helpers::Client { framed };
    let ready = client.next_of("ready").await;
    assert_eq!(
        ready,
        serde_json::json!({"type": "ready", "user_id": user, "conversations": []})
    );
}

#[actix_web::test]
async fn foreign_origins_are_refused_with_403() {
    let stack = spawn_stack(1).await;
    let token = stack.ws_token(UserId::new_random());
    let connect = |origin: &'static str| {
        awc::Client::new()
            .ws(stack.ws_url(0))
            .origin(origin)
            .protocols(["chat.v1".to_owned(), format!("bearer.{token}")])
            .connect()
    };
    match connect("https://evil.example.com").await {
        Err(awc::error::WsClientError::InvalidResponseStatus(s)) => assert_eq!(s.as_u16(), 403),
        other => panic!("expected 403, got {:?}", other.map(|(r, _)| r.status())),
    }
    assert!(
        connect("http://chat.example.test").await.is_ok(),
        "listed origin"
    );
    assert!(
        connect("http://127.0.0.1:3000").await.is_ok(),
        "loopback origin"
    );
}
