//! The gateway's calls to message-store, each with a 30-second service
//! token minted for the user (`iss=chat-gateway`, `aud=chat-message-store`;
//! the user's own token is never forwarded): a user's conversation ids at
//! connect, and whether a user may send to a conversation this gateway has
//! not heard of yet.

use std::time::Duration;

use actors_common::api::{paths, ConversationIds, MessageEnvelope};
use actors_common::jwt::JwtKeys;
use actors_common::{ConversationId, Message, UserId};
use anyhow::Context as _;

thread_local! {
    // awc's client is per thread; sessions live on the HTTP worker threads.
    // A send waits on these answers: they must not take long.
    static CLIENT: awc::Client = awc::Client::builder().timeout(Duration::from_secs(2)).finish();
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
    let ids: ConversationIds = resp
        .json()
        .limit(4 << 20)
        .await
        .context("message-store's answer")?;
    Ok(ids.ids)
}

/// Whether a user may send to a conversation, by the source of truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// A participant, and the event that added them is in the log.
    Member,
    /// Not a participant (or no such conversation).
    NotMember,
    /// A participant whose arrival is not in the log yet, or message-store
    /// could not tell: the client should try again.
    NotYet,
}

/// `GET /conversations/{id}/membership` for `user`.
pub async fn membership(
    base: &str,
    keys: &JwtKeys,
    user: UserId,
    conversation: ConversationId,
) -> Membership {
    let client = CLIENT.with(Clone::clone);
    let sent = client
        .get(format!(
            "{}{}/membership",
            base.trim_end_matches('/'),
            paths::conversation(conversation)
        ))
        .bearer_auth(keys.gateway_service_token(user))
        .send()
        .await;
    match sent.map(|r| r.status().as_u16()) {
        Ok(200) => Membership::Member,
        Ok(404) => Membership::NotMember,
        Ok(status) => {
            log::info!("message-store: membership of user_id={user} answered {status}");
            Membership::NotYet
        }
        Err(e) => {
            log::warn!("message-store: membership lookup failed: {e}");
            Membership::NotYet
        }
    }
}

/// The message `user` stored in `conversation` with `client_id`, the latest
/// before `before_seq` (`GET /conversations/{id}/messages/by-client/{client_id}`):
/// what a resend is answered with when the gateway does not remember it.
pub async fn resent_message(
    base: &str,
    keys: &JwtKeys,
    user: UserId,
    conversation: ConversationId,
    client_id: uuid::Uuid,
    before_seq: i64,
) -> Option<Message> {
    let client = CLIENT.with(Clone::clone);
    let mut resp = client
        .get(format!(
            "{}{}/by-client/{client_id}?before_seq={before_seq}",
            base.trim_end_matches('/'),
            paths::messages(conversation)
        ))
        .bearer_auth(keys.gateway_service_token(user))
        .send()
        .await
        .map_err(|e| log::warn!("message-store: resend lookup failed: {e}"))
        .ok()?;
    if !resp.status().is_success() {
        log::info!(
            "message-store: resend of user_id={user} client_id={client_id} answered {}",
            resp.status()
        );
        return None;
    }
    resp.json::<MessageEnvelope>().await.ok().map(|s| s.message)
}
