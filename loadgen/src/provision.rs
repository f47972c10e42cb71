//! Users, tokens and conversations for a run.
//!
//! `--auth mint` makes users out of fresh UUIDs and mints their tokens with
//! `JWT_SECRET` (any N, no accounts); conversations are created directly on
//! message-store with bff-style tokens. `--auth bff` registers real accounts
//! through the bff, creates conversations through it, and asks it for
//! WebSocket tokens (60 s: keep the ramp short).

use std::time::Duration;

use actors_common::jwt::{JwtKeys, AUDIENCE_GATEWAY, AUDIENCE_MESSAGE_STORE, ISSUER_BFF};
use actors_common::{ConversationId, UserId};
use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cli::{Args, Auth, Scenario};

/// One simulated user (one connection).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub ws_token: String,
    /// A message-store token (minted users only; `churn` creates with it).
    #[serde(default)]
    pub store_token: String,
}

/// A conversation and its members (indices into `Plan::users`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub members: Vec<usize>,
}

/// Everything a run needs before the first connection; worker processes
/// get it on stdin.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub users: Vec<User>,
    pub conversations: Vec<Conversation>,
    /// (user index, conversation index) of each sender.
    pub senders: Vec<(usize, usize)>,
}

/// Which users belong to which conversation, by scenario.
fn memberships(args: &Args) -> Vec<Vec<usize>> {
    let n = args.connections;
    match args.scenario {
        Scenario::Idle | Scenario::Churn => Vec::new(),
        Scenario::Broadcast => vec![(0..n).collect()],
        Scenario::Fanout => (0..args.conversations)
            .map(|k| {
                let mut m: Vec<usize> = (0..args.members)
                    .map(|j| (k * args.members + j) % n)
                    .collect();
                m.dedup();
                m
            })
            .collect(),
    }
}

fn senders(args: &Args, conversations: &[Vec<usize>]) -> Vec<(usize, usize)> {
    if args.scenario == Scenario::Churn {
        // Creators, spread evenly over the users (and so over gateways).
        let n = args.connections;
        let k = args.senders.min(n);
        return (0..k).map(|i| (i * n / k.max(1), 0)).collect();
    }
    if conversations.is_empty() {
        return Vec::new();
    }
    (0..args.senders)
        .map(|i| {
            let c = i % conversations.len();
            let members = &conversations[c];
            (members[(i / conversations.len()) % members.len()], c)
        })
        .collect()
}

pub async fn plan(args: &Args) -> anyhow::Result<Plan> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let groups = memberships(args);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let (users, conversations) = match args.auth {
        Auth::Mint => mint(args, &http, &groups).await?,
        Auth::Bff if args.scenario == Scenario::Churn => {
            bail!("churn creates conversations with minted tokens: use --auth mint")
        }
        Auth::Bff => through_bff(args, &groups).await?,
    };
    let senders = senders(args, &groups);
    eprintln!(
        "loadgen: {} users, {} conversations, {} senders provisioned",
        users.len(),
        conversations.len(),
        senders.len()
    );
    Ok(Plan {
        users,
        conversations,
        senders,
    })
}

async fn mint(
    args: &Args,
    http: &reqwest::Client,
    groups: &[Vec<usize>],
) -> anyhow::Result<(Vec<User>, Vec<Conversation>)> {
    if args.jwt_secret.is_empty() {
        bail!("--auth mint needs JWT_SECRET (or --auth bff)");
    }
    let keys = JwtKeys::new(args.jwt_secret.as_bytes());
    // Tokens are checked at the handshake only; they must outlive the ramp.
    let ttl = args.ramp() + Duration::from_secs(300);
    let users: Vec<User> = (0..args.connections)
        .map(|_| {
            let id = UserId::new_random();
            User {
                id,
                ws_token: keys.mint(ISSUER_BFF, AUDIENCE_GATEWAY, id, ttl),
                store_token: keys.mint(
                    ISSUER_BFF,
                    AUDIENCE_MESSAGE_STORE,
                    id,
                    ttl + args.duration() + Duration::from_secs(60),
                ),
            }
        })
        .collect();
    let mut conversations = Vec::with_capacity(groups.len());
    for (k, members) in groups.iter().enumerate() {
        let creator = users[members[0]].id;
        let ids: Vec<UserId> = members.iter().map(|&i| users[i].id).collect();
        let token = keys.mint(
            ISSUER_BFF,
            AUDIENCE_MESSAGE_STORE,
            creator,
            Duration::from_secs(60),
        );
        let resp = http
            .post(format!(
                "{}/conversations",
                args.message_store_url.trim_end_matches('/')
            ))
            .bearer_auth(token)
            .json(&json!({"kind": "group", "name": format!("loadgen {k}"), "participant_ids": ids}))
            .send()
            .await
            .context("message-store unreachable")?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("creating conversation {k}: {status} {body}");
        }
        conversations.push(Conversation {
            id: serde_json::from_value(body["conversation"]["id"].clone())?,
            members: members.clone(),
        });
    }
    Ok((users, conversations))
}

async fn through_bff(
    args: &Args,
    groups: &[Vec<usize>],
) -> anyhow::Result<(Vec<User>, Vec<Conversation>)> {
    let base = args.bff_url.trim_end_matches('/');
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut clients = Vec::with_capacity(args.connections);
    let mut ids = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        // A client per user keeps each session cookie apart.
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        let resp = client
            .post(format!("{base}/api/auth/register"))
            .json(&json!({"username": format!("lg{}_{i}", &run[..8]), "password": "loadgen-password"}))
            .send()
            .await
            .context("bff unreachable")?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.as_u16() != 201 {
            bail!("registering user {i}: {status} {body}");
        }
        ids.push(serde_json::from_value::<UserId>(
            body["user"]["id"].clone(),
        )?);
        clients.push(client);
    }
    let mut conversations = Vec::with_capacity(groups.len());
    for (k, members) in groups.iter().enumerate() {
        let others: Vec<UserId> = members.iter().skip(1).map(|&i| ids[i]).collect();
        let body: Value = clients[members[0]]
            .post(format!("{base}/api/conversations"))
            .json(&json!({"kind": "group", "name": format!("loadgen {k}"), "participant_ids": others}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        conversations.push(Conversation {
            id: serde_json::from_value(body["conversation"]["id"].clone())?,
            members: members.clone(),
        });
    }
    let mut users = Vec::with_capacity(ids.len());
    for (client, id) in clients.iter().zip(ids) {
        let ticket: Value = client
            .get(format!("{base}/api/ws-token"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        users.push(User {
            id,
            ws_token: ticket["token"].as_str().unwrap_or_default().to_owned(),
            store_token: String::new(),
        });
    }
    Ok((users, conversations))
}
