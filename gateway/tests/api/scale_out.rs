//! Two gateways behind a real nginx (scripts/nginx.sh, the routing of
//! docker/nginx.conf): clients are spread by nginx, not by the test; when one
//! gateway shuts down, its clients reconnect through nginx to the other and
//! recover what they missed with `after=`.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use actors_common::{ConversationId, UserId};
use awc::ws;
use futures_util::StreamExt as _;
use serde_json::Value;

use crate::helpers::{spawn_stack, Client, Stack};

const CLIENTS: usize = 50;
const CONVERSATIONS: usize = 10;

struct Nginx {
    dir: std::path::PathBuf,
    port: u16,
}

impl Nginx {
    fn start(gateway_ports: &[u16]) -> Self {
        let dir = std::env::temp_dir().join(test_support::unique("nginx-"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/nginx.sh");
        let ports: Vec<String> = gateway_ports.iter().map(u16::to_string).collect();
        // No bff in this test: `/` goes to a closed port (9), only `/ws` is used.
        let status = Command::new("bash")
            .arg(script)
            .args(["start", &port.to_string(), "9", &ports.join(",")])
            .env("NGINX_DIR", &dir)
            .status()
            .expect("running scripts/nginx.sh");
        assert!(status.success(), "nginx did not start");
        Self { dir, port }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/nginx.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .env("NGINX_DIR", &self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn connect_via(stack: &Stack, port: u16, user: UserId) -> Client {
    let mut c =
        crate::helpers::open_ws(&format!("ws://127.0.0.1:{port}/ws"), &stack.ws_token(user)).await;
    c.next_of("ready").await;
    c
}

/// Reads frames until the socket closes or `window` passes; returns the
/// message ids per conversation and whether the server closed with 1001.
async fn read(c: &mut Client, window: Duration, got: &mut HashMap<String, Vec<String>>) -> bool {
    let deadline = tokio::time::Instant::now() + window;
    loop {
        match tokio::time::timeout_at(deadline, c.framed.next()).await {
            Err(_) => return false,
            Ok(Some(Ok(ws::Frame::Text(bytes)))) => {
                let f: Value = serde_json::from_slice(&bytes).unwrap();
                if f["type"] == "message" {
                    let conv = f["message"]["conversation_id"].as_str().unwrap().to_owned();
                    got.entry(conv)
                        .or_default()
                        .push(f["message"]["id"].as_str().unwrap().to_owned());
                }
            }
            Ok(Some(Ok(ws::Frame::Close(reason)))) => {
                return reason.is_some_and(|r| u16::from(r.code) == 1001)
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return false,
        }
    }
}

#[actix_web::test]
async fn clients_behind_nginx_fail_over_to_the_other_gateway_without_loss() {
    let stack = spawn_stack(2).await;
    let nginx = Nginx::start(&[stack.gateways[0].port, stack.gateways[1].port]);

    let users: Vec<UserId> = (0..CLIENTS).map(|_| UserId::new_random()).collect();
    let per = CLIENTS / CONVERSATIONS;
    let mut conversations: Vec<(ConversationId, Vec<usize>)> = Vec::new();
    for k in 0..CONVERSATIONS {
        let members: Vec<usize> = (k * per..(k + 1) * per).collect();
        let ids: Vec<UserId> = members.iter().map(|&i| users[i]).collect();
        conversations.push((stack.create_group(ids[0], &ids[1..]).await, members));
    }
    let mut clients = Vec::new();
    for &u in &users {
        clients.push(connect_via(&stack, nginx.port, u).await);
    }

    // Every member of every conversation sends a few messages.
    let mut acked: HashMap<String, HashSet<String>> = HashMap::new();
    let mut got: Vec<HashMap<String, Vec<String>>> = vec![HashMap::new(); CLIENTS];
    for round in 0..3 {
        for (conv, members) in &conversations {
            for &m in members {
                clients[m]
                    .say(*conv, &format!("round {round} from {m}"))
                    .await;
            }
        }
        for (i, c) in clients.iter_mut().enumerate() {
            // Each client's own acks, plus everything it receives meanwhile.
            let mut acks = 0;
            while acks < 1 {
                let f = c.next_within(Duration::from_secs(10)).await.expect("frame");
                match f["type"].as_str() {
                    Some("ack") => {
                        acks += 1;
                        acked
                            .entry(f["message"]["conversation_id"].as_str().unwrap().to_owned())
                            .or_default()
                            .insert(f["message"]["id"].as_str().unwrap().to_owned());
                    }
                    Some("message") => got[i]
                        .entry(f["message"]["conversation_id"].as_str().unwrap().to_owned())
                        .or_default()
                        .push(f["message"]["id"].as_str().unwrap().to_owned()),
                    _ => {}
                }
            }
        }
    }

    // Every delivery lands: each member reads until it holds every acked
    // message of its conversation (a copy beyond that is caught below).
    for (conv, members) in &conversations {
        let expected = acked[&conv.to_string()].len();
        for &m in members {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let have: HashSet<_> = got[m]
                    .get(&conv.to_string())
                    .into_iter()
                    .flatten()
                    .collect();
                if have.len() >= expected {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "member {m} is missing live messages"
                );
                read(&mut clients[m], Duration::from_millis(100), &mut got[m]).await;
            }
        }
    }
    for (i, seen) in got.iter().enumerate() {
        for ids in seen.values() {
            let unique: HashSet<_> = ids.iter().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "client {i} received a message twice live"
            );
        }
    }

    // Gateway 0 shuts down (what SIGTERM does); its clients find 1001.
    stack.gateways[0].stop.shutdown().await;
    let mut moved = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        if read(c, Duration::from_millis(300), &mut got[i]).await {
            moved.push(i);
        }
    }
    assert!(
        !moved.is_empty() && moved.len() < CLIENTS,
        "nginx spread clients over both gateways: {} moved",
        moved.len()
    );

    // They reconnect through nginx (now to gateway 1) and recover with after=.
    for &i in &moved {
        clients[i] = connect_via(&stack, nginx.port, users[i]).await;
    }
    // History holds every acked message before anyone catches up from it
    // (it lags the live stream by the persistence delay).
    for (conv, members) in &conversations {
        let expected = &acked[&conv.to_string()];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let stored: HashSet<String> = stack
                .history(*conv, users[members[0]])
                .await
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            if expected.is_subset(&stored) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "history never held {conv}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for (conv, members) in &conversations {
        for &m in members {
            // As the UI does: everything after the last message seen live,
            // merged by id (a message seen live is not added twice).
            let mut after = got[m]
                .get(&conv.to_string())
                .and_then(|v| v.last().cloned());
            loop {
                let path = match &after {
                    Some(a) => format!("/conversations/{conv}/messages?after={a}&limit=100"),
                    None => format!("/conversations/{conv}/messages?after=00000000-0000-7000-8000-000000000000&limit=100"),
                };
                let (status, page) = stack.store("GET", &path, users[m], None).await;
                assert_eq!(status, 200, "{page}");
                let seen = got[m].entry(conv.to_string()).or_default();
                for msg in page["messages"].as_array().unwrap() {
                    let id = msg["id"].as_str().unwrap().to_owned();
                    if !seen.contains(&id) {
                        seen.push(id);
                    }
                }
                match page["next"].as_str() {
                    Some(n) => after = Some(n.to_owned()),
                    None => break,
                }
            }
        }
    }
    // Nothing lost, nothing twice, for every member.
    for (conv, members) in &conversations {
        let expected = &acked[&conv.to_string()];
        assert_eq!(expected.len(), 3 * per);
        for &m in members {
            let seen = got[m].get(&conv.to_string()).cloned().unwrap_or_default();
            let unique: HashSet<_> = seen.iter().cloned().collect();
            assert_eq!(unique.len(), seen.len(), "member {m} saw a message twice");
            assert_eq!(&unique, expected, "member {m} of {conv}");
        }
    }
}
