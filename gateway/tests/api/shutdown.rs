use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actors_common::UserId;

use crate::helpers::{gateway_settings, spawn_stack, Ended, SECRET};

#[actix_web::test]
async fn graceful_shutdown_closes_sessions_with_1001() {
    let stack = spawn_stack(1).await;
    let mut a = stack.connect(0, UserId::new_random()).await;
    let mut b = stack.connect(0, UserId::new_random()).await;
    stack.gateways[0].stop.shutdown().await;
    assert_eq!(
        a.ended(Duration::from_secs(10)).await,
        Ended::Closed(Some(1001))
    );
    assert_eq!(
        b.ended(Duration::from_secs(10)).await,
        Ended::Closed(Some(1001))
    );
}

#[actix_web::test]
async fn sigterm_closes_sessions_with_1001_and_exits_within_ten_seconds() {
    let stack = spawn_stack(0).await;
    let s = gateway_settings(&stack.topics, &stack.message_store);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .env("PORT", port.to_string())
        .env("JWT_SECRET", SECRET)
        .env("KAFKA_BOOTSTRAP", &s.kafka_bootstrap)
        .env("KAFKA_TOPIC_PREFIX", &s.kafka_topic_prefix)
        .env("MESSAGE_STORE_URL", &s.message_store_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack
        .http
        .get(&url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
        != 200
    {
        assert!(Instant::now() < deadline, "gateway did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let user = UserId::new_random();
    let mut client =
        crate::helpers::open_ws(&format!("ws://127.0.0.1:{port}/ws"), &stack.ws_token(user)).await;
    client.next_of("ready").await;

    let started = Instant::now();
    let pid = i32::try_from(child.id()).unwrap();
    // Signal through kill(1): the workspace forbids unsafe code.
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        client.ended(Duration::from_secs(10)).await,
        Ended::Closed(Some(1001))
    );
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
