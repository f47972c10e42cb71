//! The gateway's one call to message-store: a user's conversation ids, with
//! a 30-second service token minted for that user (`iss=chat-gateway`,
//! `aud=chat-message-store`). The user's own token is never forwarded.

use std::time::Duration;

use actors_common::jwt::JwtKeys;
use actors_common::{ConversationId, UserId};
use anyhow::Context as _;
use serde::Deserialize;

#[derive(Deserialize)]
struct Ids {
    ids: Vec<ConversationId>,
}

thread_local! {
    // awc's client is per thread; sessions live on the HTTP worker threads.
    static CLIENT: awc::Client = awc::Client::builder().timeout(Duration::from_secs(5)).finish();
}

/// `GET /conversations/ids` for `user`.
pub async fn conversation_ids(
    base: &str,
    keys: &JwtKeys,
    user: UserId,
) -> anyhow::Result<Vec<ConversationId>> {
    let client = CLIENT.with(Clone::clone);
    let mut resp = client
        .get(format!("{}/conversations/ids", base.trim_end_matches('/')))
        .bearer_auth(keys.gateway_service_token(user))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("message-store unreachable: {e}"))?;
    if !resp.status().is_success() {
        anyhow::bail!("message-store answered {}", resp.status());
    }
    let ids: Ids = resp
        .json()
        .limit(4 << 20)
        .await
        .context("message-store's answer")?;
    Ok(ids.ids)
}
