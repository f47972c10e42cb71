//! History of sampled conversations, read back from message-store at the
//! end of a run so [`crate::verify`] can hold every member's live sequence
//! against it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use actors_common::jwt::{JwtKeys, AUDIENCE_MESSAGE_STORE, ISSUER_BFF};
use actors_common::{ConversationId, MessageId};
use anyhow::Context as _;
use serde::Deserialize;

use crate::cli::{Args, Auth};
use crate::client::Log;
use crate::provision::Plan;
use crate::verify;

/// How long history may take to catch up with what was acknowledged.
const CATCH_UP: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Page {
    messages: Vec<Stored>,
    next: Option<MessageId>,
}

/// A stored message, as much as the verdicts need.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Stored {
    pub id: MessageId,
    pub seq: i64,
    pub sender_id: actors_common::UserId,
    pub client_id: Option<uuid::Uuid>,
}

async fn read_all(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    conversation: ConversationId,
) -> anyhow::Result<Vec<Stored>> {
    let mut all = Vec::new();
    let mut query = "after_seq=-1".to_owned();
    loop {
        let url = format!("{base}/conversations/{conversation}/messages?{query}&limit=100");
        let page: Page = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        all.extend(page.messages);
        match page.next {
            Some(next) => query = format!("after={next}"),
            None => return Ok(all),
        }
    }
}

/// History of up to `--history-sample` conversations (spread over all of
/// them), each read once it holds every message acknowledged in it.
pub async fn sample(
    args: &Args,
    plan: &Plan,
    logs: &[Log],
) -> anyhow::Result<HashMap<ConversationId, Vec<Stored>>> {
    if args.history_sample == 0 {
        return Ok(HashMap::new());
    }
    if args.auth != Auth::Mint {
        eprintln!("loadgen: history is compared with --auth mint only");
        return Ok(HashMap::new());
    }
    let keys = JwtKeys::new(args.jwt_secret.as_bytes());
    let mut conversations: Vec<(ConversationId, Vec<usize>)> =
        verify::conversations(plan, logs).into_iter().collect();
    conversations.sort_by_key(|(c, _)| *c);
    let step = (conversations.len() / args.history_sample).max(1);
    let mut acked: HashMap<ConversationId, HashSet<MessageId>> = HashMap::new();
    for (c, id, _) in logs.iter().flat_map(Log::acked) {
        acked.entry(c).or_default().insert(id);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = args.message_store_url.trim_end_matches('/');
    let deadline = Instant::now() + CATCH_UP;
    let mut out = HashMap::new();
    for (c, members) in conversations.iter().step_by(step).take(args.history_sample) {
        let reader = plan
            .users
            .get(members[0])
            .context("a conversation member out of range")?;
        let token = keys.mint(
            ISSUER_BFF,
            AUDIENCE_MESSAGE_STORE,
            reader.id,
            Duration::from_secs(120),
        );
        let want = acked.get(c).cloned().unwrap_or_default();
        loop {
            let history = read_all(&http, base, &token, *c).await?;
            let have: HashSet<MessageId> = history.iter().map(|m| m.id).collect();
            if want.is_subset(&have) || Instant::now() > deadline {
                out.insert(*c, history);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(out)
}
