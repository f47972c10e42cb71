//! The inspector: actor counts after a known sequence, a trace across two
//! gateways, and who may look.

use std::time::Duration;

use actors_common::UserId;
use serde_json::{json, Value};

use crate::helpers::{spawn_stack_with, Client, Stack};

fn metric_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

async fn snapshot(stack: &Stack, gateway: usize) -> Value {
    let url = format!(
        "http://127.0.0.1:{}/inspect/api/snapshot",
        stack.gateways[gateway].port
    );
    let mut resp = stack.http.get(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.unwrap()
}

fn handled(s: &Value, kind: &str, message: &str) -> u64 {
    s["handled"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == kind && h["message"] == message)
        .and_then(|h| h["count"].as_u64())
        .unwrap_or_else(|| panic!("no row for {kind}.{message}"))
}

fn count(s: &Value, field: &str) -> u64 {
    s[field].as_u64().unwrap()
}

/// Connects and waits for `ready`, then for the notice that the user is in
/// `conversations` new groups.
async fn arrived(client: &mut Client, groups: usize) {
    for _ in 0..groups {
        client.next_of("participant_added").await;
    }
}

#[actix_web::test]
async fn a_known_sequence_gives_exact_actor_counts() {
    // One worker thread: one Hub, so every delivery is counted in one place.
    let stack = spawn_stack_with(1, |s| s.workers = 1).await;
    let (ann, ben, cat) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let (mut a, mut b, mut c) = (
        stack.connect(0, ann).await,
        stack.connect(0, ben).await,
        stack.connect(0, cat).await,
    );
    let three = stack.create_group(ann, &[ben, cat]).await;
    let two = stack.create_group(ann, &[ben]).await;
    arrived(&mut a, 2).await;
    arrived(&mut b, 2).await;
    arrived(&mut c, 1).await;
    let before = snapshot(&stack, 0).await;

    // 10 messages: 6 to the group of three, 4 to the group of two.
    for i in 0..10 {
        let conversation = if i < 6 { three } else { two };
        a.say(conversation, &format!("m{i}")).await;
    }
    let mut acks = 0;
    let mut own = 0;
    while acks < 10 || own < 10 {
        match a
            .next_within(Duration::from_secs(10))
            .await
            .expect("a frame")["type"]
            .as_str()
        {
            Some("ack") => acks += 1,
            Some("message") => own += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(b.messages(10).await.len(), 10);
    assert_eq!(c.messages(6).await.len(), 6);
    let after = snapshot(&stack, 0).await;

    let delta = |kind: &str, message: &str| {
        handled(&after, kind, message) - handled(&before, kind, message)
    };
    assert_eq!(delta("session", "Frame"), 10, "one client frame per send");
    assert_eq!(delta("consumer", "Record"), 10, "one record per message");
    assert_eq!(delta("directory", "Dispatch"), 10);
    assert_eq!(delta("conversation", "Broadcast"), 10);
    assert_eq!(delta("hub", "Deliver"), 10, "once per message: one thread");
    // 6 × 3 members + 4 × 2, and 10 acks on top.
    assert_eq!(
        count(&after, "deliveries") - count(&before, "deliveries"),
        26
    );
    assert_eq!(
        count(&after, "frames_out") - count(&before, "frames_out"),
        36
    );

    assert_eq!(
        after["actors"],
        json!({"session": 3, "conversation": 2, "hub": 1, "directory": 1, "consumer": 1})
    );
    let row = |id| {
        after["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == json!(id))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            row(three)["deliveries"].as_u64(),
            row(three)["members"].as_u64()
        ),
        (Some(18), Some(3))
    );
    assert_eq!(
        (
            row(two)["deliveries"].as_u64(),
            row(two)["members"].as_u64()
        ),
        (Some(8), Some(2))
    );
    assert_eq!(after["hubs"][0]["connections"], 3);
    assert_eq!(after["sessions"].as_array().unwrap().len(), 3);

    // The same counts in /metrics.
    let metrics = stack.metrics(0).await;
    let line = format!(
        "gateway_actor_messages_total{{kind=\"hub\",message=\"Deliver\"}} {}",
        handled(&after, "hub", "Deliver")
    );
    assert!(metrics.contains(&line), "{line} in /metrics");
    assert!(metrics.contains("gateway_actors{kind=\"conversation\"} 2"));
    // Every mailbox is empty again, and the kinds' highs saw messages.
    for kind in ["conversation", "hub"] {
        let now = format!("gateway_mailbox_messages{{kind=\"{kind}\"}} 0");
        assert!(metrics.contains(&now), "{now} in /metrics");
        let high = metric_value(
            &metrics,
            &format!("gateway_mailbox_messages_high{{kind=\"{kind}\"}}"),
        );
        assert!(high >= 1.0, "{kind} mailbox high {high}");
    }
}

/// The hop names of a trace, in order.
fn hops(trace: &Value) -> Vec<String> {
    let hops = trace["hops"].as_array().unwrap();
    let times: Vec<i64> = hops.iter().map(|h| h["at_us"].as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {trace}"
    );
    hops.iter()
        .map(|h| {
            format!(
                "{}@{}",
                h["hop"].as_str().unwrap(),
                h["gateway"].as_str().unwrap()
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_trace_follows_a_message_through_two_gateways_every_hop_once_in_order() {
    let mut stack = spawn_stack_with(1, |s| {
        s.trace_users = "*".into();
        s.gateway_name = "gw-b".into();
    })
    .await;
    let peer = format!("http://127.0.0.1:{}", stack.gateways[0].port);
    stack
        .spawn_gateway(|s| {
            s.trace_users = "*".into();
            s.gateway_name = "gw-a".into();
            s.inspect_peers = vec![peer.clone()];
        })
        .await;
    let (ann, ben) = (UserId::new_random(), UserId::new_random());
    let conv = stack.create_group(ann, &[ben]).await;
    let mut a = stack.connect(1, ann).await; // on gw-a
    let mut b = stack.connect(0, ben).await; // on gw-b
    let client_id = uuid::Uuid::new_v4();
    a.send(json!({"type": "send", "conversation_id": conv, "client_id": client_id, "body": "follow me", "trace": true}))
        .await;

    let ack = a.next_of("ack").await;
    assert_eq!(
        hops(&ack["trace"]),
        [
            "received@gw-a",
            "produced@gw-a",
            "stored@gw-a",
            "acked@gw-a"
        ]
    );
    let id = ack["message"]["id"].clone();
    assert_eq!(ack["trace"]["id"], id);
    let sender_side = ["received@gw-a", "produced@gw-a"];
    let delivered = |gw: &str| {
        let mut h: Vec<String> = sender_side.iter().map(|s| s.to_string()).collect();
        for hop in ["consumed", "directory", "conversation", "hub"] {
            h.push(format!("{hop}@{gw}"));
        }
        h
    };
    let theirs = b.message_with_body("follow me").await;
    assert_eq!(hops(&theirs["trace"]), delivered("gw-b"));
    let mine = a.message_with_body("follow me").await;
    assert_eq!(hops(&mine["trace"]), delivered("gw-a"));
    // An untraced message carries no trace.
    a.say(conv, "plain").await;
    assert!(b.message_with_body("plain").await.get("trace").is_none());

    // gw-a's inspector merges what gw-b kept: each gateway's hops once.
    let mut resp = stack
        .http
        .get(format!(
            "http://127.0.0.1:{}/inspect/api/traces/{}",
            stack.gateways[1].port,
            id.as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let merged: Value = resp.json().await.unwrap();
    let mut got = hops(&merged);
    got.sort();
    let mut want: Vec<String> = delivered("gw-a");
    want.extend(["stored@gw-a", "acked@gw-a"].map(String::from));
    want.extend(delivered("gw-b").into_iter().skip(2));
    want.sort();
    assert_eq!(got, want);
}

#[actix_web::test]
async fn only_operators_may_look() {
    let stack = spawn_stack_with(1, |s| s.inspect_token = "operator-secret".into()).await;
    let base = format!("http://127.0.0.1:{}", stack.gateways[0].port);
    let status = |path: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let (http, base) = (stack.http.clone(), base.clone());
        async move {
            let mut req = http.get(format!("{base}{path}"));
            for h in headers {
                req = req.insert_header(h);
            }
            let mut resp = req.send().await.unwrap();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (resp.status().as_u16(), body["error"]["code"].clone())
        }
    };
    // Through a proxy (not this machine's own request): refused, before
    // anything is read.
    let proxied = vec![("X-Forwarded-For", "203.0.113.9")];
    for path in ["/inspect", "/inspect/api/snapshot", "/inspect/api/events"] {
        assert_eq!(
            status(path, proxied.clone()).await,
            (403, json!("forbidden")),
            "{path}"
        );
    }
    let wrong = vec![
        ("X-Forwarded-For", "203.0.113.9"),
        ("Authorization", "Bearer guess"),
    ];
    assert_eq!(
        status("/inspect/api/snapshot", wrong).await,
        (401, json!("invalid_token"))
    );
    let right = vec![
        ("X-Forwarded-For", "203.0.113.9"),
        ("Authorization", "Bearer operator-secret"),
    ];
    assert_eq!(status("/inspect/api/snapshot", right).await.0, 200);
    // A chat user's token is not an operator's.
    let user_token: &'static str =
        Box::leak(format!("Bearer {}", stack.ws_token(UserId::new_random())).into_boxed_str());
    let chat_user = vec![
        ("X-Forwarded-For", "203.0.113.9"),
        ("Authorization", user_token),
    ];
    assert_eq!(status("/inspect/api/snapshot", chat_user).await.0, 401);
    // From this machine, directly: the page.
    let mut page = stack
        .http
        .get(format!("{base}/inspect"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = String::from_utf8(page.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("Gateway inspector"));
}
