//! The WebSocket layer's own rules (`gateway::ws`), byte by byte over a raw
//! TCP socket: what a browser or a hand-written client may put on the wire.

use std::time::Duration;

use actors_common::UserId;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_stack, spawn_stack_with, Stack};

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const CONTINUATION: u8 = 0x0;

/// A client frame: masked (as clients must) unless `masked` is false.
fn frame(fin: bool, op: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | op];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

fn upgrade_request(port: u16, path: &str, token: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat.v1, bearer.{token}\r\n\r\n"
    )
}

/// A raw connection after its handshake.
struct Raw {
    socket: TcpStream,
    buf: Vec<u8>,
}

/// A server frame: opcode and payload.
type ServerFrame = (u8, Vec<u8>);

impl Raw {
    /// Upgrades, sending `extra` in the same write as the request.
    async fn connect(stack: &Stack, user: UserId, extra: &[u8]) -> Raw {
        let port = stack.gateways[0].port;
        let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut request = upgrade_request(port, "/ws", &stack.ws_token(user)).into_bytes();
        request.extend_from_slice(extra);
        socket.write_all(&request).await.unwrap();
        let mut raw = Raw {
            socket,
            buf: Vec::new(),
        };
        let head = raw.http_head().await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        raw
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), self.socket.read(&mut chunk))
            .await
            .expect("the server said nothing for 10 s")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The HTTP response head (up to the blank line).
    async fn http_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end + 4]).into_owned();
                self.buf.drain(..end + 4);
                return head;
            }
            assert!(self.fill().await, "closed before the response head");
        }
    }

    /// The next frame, or None when the server closed the TCP connection.
    async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are not masked");
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => (
                        usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                        4,
                    ),
                    126 => (usize::MAX, 0),
                    127 => panic!("no test frame is that long"),
                    n => (usize::from(n), 2),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let op = self.buf[0] & 0x0f;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((op, payload));
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next frame that is not a ping.
    async fn next_not_ping(&mut self) -> Option<ServerFrame> {
        loop {
            match self.next().await {
                Some((PING, _)) => continue,
                other => return other,
            }
        }
    }

    /// The next control frame (skipping text frames, which may come at any
    /// time: a member of a new group hears of their own arrival).
    async fn next_control(&mut self) -> Option<ServerFrame> {
        loop {
            match self.next_not_ping().await {
                Some((TEXT, _)) => continue,
                other => return other,
            }
        }
    }

    async fn next_json(&mut self) -> Value {
        let (op, payload) = self.next_not_ping().await.expect("a frame");
        assert_eq!(op, TEXT);
        serde_json::from_slice(&payload).unwrap()
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.unwrap();
    }

    /// The close frame's code (after any text frames), then the end of the
    /// connection.
    async fn closed_with(&mut self) -> u16 {
        let (op, payload) = self.next_control().await.expect("a close frame");
        assert_eq!(op, CLOSE, "{:?}", String::from_utf8_lossy(&payload));
        let code = u16::from_be_bytes([payload[0], payload[1]]);
        assert_eq!(self.next().await, None, "nothing after the close frame");
        code
    }
}

#[actix_web::test]
async fn frames_sent_with_the_handshake_pings_and_fragments_are_read() {
    let stack = spawn_stack(1).await;
    let me = UserId::new_random();
    let conv = stack.create_group(me, &[]).await;
    // A ping in the same write as the upgrade request: bytes the HTTP
    // layer had already read when it handed the socket over.
    let mut c = Raw::connect(&stack, me, &frame(true, PING, b"early", true)).await;
    assert_eq!(c.next_json().await["type"], "ready");
    assert_eq!(c.next_control().await, Some((PONG, b"early".to_vec())));

    // A send in three fragments, with a ping between them.
    let send = json!({"type": "send", "conversation_id": conv, "client_id": uuid::Uuid::new_v4(), "body": "in pieces"})
        .to_string()
        .into_bytes();
    let (a, rest) = send.split_at(10);
    let (b, tail) = rest.split_at(20);
    let mut bytes = frame(false, TEXT, a, true);
    bytes.extend(frame(false, CONTINUATION, b, true));
    bytes.extend(frame(true, PING, b"between", true));
    bytes.extend(frame(true, CONTINUATION, tail, true));
    c.write(&bytes).await;
    // The ack, and the message itself (the sender is a member), and the
    // pong, which may come before or between them.
    let (mut ack, mut echo, mut ponged) = (None, None, false);
    while ack.is_none() || echo.is_none() || !ponged {
        let (op, payload) = c.next_not_ping().await.expect("a frame");
        if op == PONG {
            assert_eq!(payload, b"between");
            ponged = true;
            continue;
        }
        let f: Value = serde_json::from_slice(&payload).unwrap();
        match f["type"].as_str() {
            Some("ack") => ack = Some(f),
            Some("message") => echo = Some(f),
            _ => {}
        }
    }
    assert_eq!(ack.unwrap()["message"]["body"], "in pieces");
    assert_eq!(echo.unwrap()["message"]["body"], "in pieces");

    // The client's goodbye is answered with its code, then the end.
    c.write(&frame(true, CLOSE, &1000u16.to_be_bytes(), true))
        .await;
    assert_eq!(c.closed_with().await, 1000);
}

#[actix_web::test]
async fn bad_frames_close_with_the_code_that_names_them() {
    let stack = spawn_stack(1).await;
    let me = UserId::new_random();
    stack.create_group(me, &[]).await;
    let cases: [(&str, Vec<u8>, u16); 4] = [
        (
            "text that is not UTF-8",
            frame(true, TEXT, &[0xff, 0xfe, 0x41], true),
            1007,
        ),
        (
            "an unmasked client frame",
            frame(true, TEXT, b"{}", false),
            1002,
        ),
        (
            "a continuation nothing began",
            frame(true, CONTINUATION, b"x", true),
            1002,
        ),
        (
            "a message over 64 KiB in fragments",
            [
                frame(false, TEXT, &[b'x'; 40_000], true),
                frame(true, CONTINUATION, &[b'x'; 40_000], true),
            ]
            .concat(),
            1009,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut c = Raw::connect(&stack, me, &[]).await;
        assert_eq!(c.next_json().await["type"], "ready", "{what}");
        c.write(&bytes).await;
        assert_eq!(c.closed_with().await, code, "{what}");
    }
}

#[actix_web::test]
async fn requests_that_are_not_upgrades_get_json_errors_on_the_same_port() {
    let stack = spawn_stack(1).await;
    let base = stack
        .ws_url(0)
        .replace("ws://", "http://")
        .replace("/ws", "");
    let mut plain = stack.http.get(format!("{base}/ws")).send().await.unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_handshake");
    assert_eq!(
        stack
            .http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // An upgrade to another path: 404 with the JSON body, no upgrade.
    let port = stack.gateways[0].port;
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let token = stack.ws_token(UserId::new_random());
    socket
        .write_all(upgrade_request(port, "/elsewhere", &token).as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(
        answer.ends_with(r#""code":"not_found","message":"no such path"}}"#),
        "{answer}"
    );
}

/// An upgrade for `user` over a raw socket: the answer's status, its whole
/// text when it is a refusal (the server closes after it), and the socket.
async fn upgrade_answer(stack: &Stack, user: UserId) -> (u16, String, TcpStream) {
    let port = stack.gateways[0].port;
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = upgrade_request(port, "/ws", &stack.ws_token(user));
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        if (status == 101 && text.contains("\r\n\r\n")) || n == 0 {
            return (status, text, socket);
        }
    }
}

#[actix_web::test]
async fn a_user_past_the_connection_cap_is_refused_while_others_connect() {
    let stack = spawn_stack_with(1, |s| s.max_connections_per_user = 3).await;
    let (hog, other) = (UserId::new_random(), UserId::new_random());
    let mut held = Vec::new();
    for _ in 0..3 {
        let (status, _, socket) = upgrade_answer(&stack, hog).await;
        assert_eq!(status, 101);
        held.push(socket);
    }
    // The fourth is refused before any upgrade, with the protocol's body.
    let (status, text, _) = upgrade_answer(&stack, hog).await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains(r#""code":"too_many_connections""#), "{text}");
    // Someone else still connects, and gets ready.
    let _other = stack.connect(0, other).await;
    // A closed connection's slot is free again once its session has ended:
    // wait for that fact (the gateway's connection count), then connect.
    drop(held.pop());
    stack.wait_for_metric(0, "gateway_connections 3").await;
    let (status, text, _again) = upgrade_answer(&stack, hog).await;
    assert_eq!(status, 101, "{text}");
}

#[actix_web::test]
async fn silent_clients_are_pinged_then_closed_and_answering_ones_stay() {
    let stack = spawn_stack_with(1, |s| {
        s.ping_interval_secs = 1;
        s.idle_timeout_secs = 3;
    })
    .await;
    let mut silent = Raw::connect(&stack, UserId::new_random(), &[]).await;
    let mut answering = Raw::connect(&stack, UserId::new_random(), &[]).await;
    assert_eq!(silent.next_json().await["type"], "ready");
    assert_eq!(answering.next_json().await["type"], "ready");
    // The silent one is pinged (every slice of the sweep comes round within
    // the interval), never answers, and is closed 1001.
    let (done, mut finished) = tokio::sync::oneshot::channel();
    let watch_silent = async move {
        let mut pinged = false;
        let code = loop {
            match silent.next().await {
                Some((PING, _)) => pinged = true,
                Some((CLOSE, payload)) => break u16::from_be_bytes([payload[0], payload[1]]),
                Some(_) => {}
                None => panic!("closed without a close frame"),
            }
        };
        let _ = done.send(());
        (pinged, code)
    };
    // The other answers every ping with a pong until then.
    let keep_answering = async {
        let mut pongs = 0;
        loop {
            tokio::select! {
                _ = &mut finished => break,
                f = answering.next() => match f {
                    Some((PING, payload)) => {
                        answering.write(&frame(true, PONG, &payload, true)).await;
                        pongs += 1;
                    }
                    Some((CLOSE, _)) | None => panic!("the answering client was closed"),
                    Some(_) => {}
                },
            }
        }
        pongs
    };
    let ((pinged, code), pongs) = tokio::join!(watch_silent, keep_answering);
    assert!(pinged, "the silent client was pinged before it was closed");
    assert_eq!(code, 1001);
    assert!(pongs >= 2, "pinged every interval: {pongs}");
    // It is still served: a ping of its own is answered.
    answering
        .write(&frame(true, PING, b"still here", true))
        .await;
    assert_eq!(
        answering.next_control().await,
        Some((PONG, b"still here".to_vec()))
    );
}
