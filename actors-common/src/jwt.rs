//! JSON Web Tokens: what the bff mints for users and the gateway mints for itself.
//!
//! Only HS256 is accepted; `none` and every other algorithm are refused. A
//! token must carry `iss`, `aud` (one string), `sub`, `iat`, `exp` and `jti`.
//! Verification checks the signature, `exp` with at most [`LEEWAY_SECS`] of
//! leeway, the audience (the verifying service's own) and the issuer (from the
//! service's allowed set), and reports one of three reason classes.

use std::time::Duration;

use jsonwebtoken::{decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey};
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::UserId;

/// Issuer of tokens the bff mints for a logged-in user.
pub const ISSUER_BFF: &str = "chat-bff";
/// Issuer of the gateway's short-lived service tokens.
pub const ISSUER_GATEWAY: &str = "chat-gateway";

/// Audience of the WebSocket gateway.
pub const AUDIENCE_GATEWAY: &str = "chat-gateway";
/// Audience of message-store.
pub const AUDIENCE_MESSAGE_STORE: &str = "chat-message-store";
/// Audience of user-store.
pub const AUDIENCE_USER_STORE: &str = "chat-user-store";

/// Clock skew tolerated on `exp`.
pub const LEEWAY_SECS: u64 = 5;
/// TTL of the token the gateway mints to call message-store for a user.
pub const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(30);
/// TTL of the WebSocket token the bff hands to the browser.
pub const WS_TOKEN_TTL: Duration = Duration::from_secs(60);
/// TTL of the tokens the bff mints per outgoing request.
pub const BFF_CALL_TOKEN_TTL: Duration = Duration::from_secs(60);

/// The claims of every token in the system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The browser session a gateway token was minted for (see
    /// [`Session`]); absent in every other token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When that session expires, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sx: Option<i64>,
}

/// The session a gateway token carries: a gateway closes its sockets with
/// 1008 when it expires (`sx`) or is ended (`sid`, on `chat.sessions`).
/// `sid` is a public name of the session, not its secret: the bff derives
/// it from the hash it stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub expires_at: i64,
}

/// Why a token was refused. Each maps to the protocol's error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, algorithm, issuer, shape, or not a JWT at all.
    #[error("the token is invalid")]
    Invalid,
    /// `exp` is more than the leeway in the past.
    #[error("the token has expired")]
    Expired,
    /// Signed correctly but meant for another service.
    #[error("the token is meant for another service")]
    WrongAudience,
}

impl TokenError {
    /// The `code` of the JSON error body.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Invalid => "invalid_token",
            TokenError::Expired => "expired_token",
            TokenError::WrongAudience => "wrong_audience",
        }
    }
}

/// Signing and verification keys made from `JWT_SECRET`.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Mints a token for `sub` addressed to `audience`, valid for `ttl`.
    pub fn mint(&self, issuer: &str, audience: &str, sub: UserId, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            sub,
            iat: now,
            exp: now.saturating_add(ttl),
            jti: Uuid::new_v4(),
            sid: None,
            sx: None,
        };
        self.sign(&claims)
    }

    /// A browser's gateway token: like [`JwtKeys::mint`], and naming the
    /// session it came from, never outliving it.
    pub fn mint_for_session(&self, sub: UserId, ttl: Duration, session: &Session) -> String {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.sign(&Claims {
            iss: ISSUER_BFF.to_owned(),
            aud: AUDIENCE_GATEWAY.to_owned(),
            sub,
            iat: now,
            exp: now.saturating_add(ttl).min(session.expires_at),
            jti: Uuid::new_v4(),
            sid: Some(session.sid.clone()),
            sx: Some(session.expires_at),
        })
    }

    /// Signs arbitrary claims with HS256 (tests use it to forge edge cases).
    pub fn sign(&self, claims: &Claims) -> String {
        // Encoding HS256 over a struct of strings and integers cannot fail:
        // serialisation is infallible and HMAC accepts any key length.
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_else(|e| unreachable!("HS256 signing failed: {e}"))
    }

    /// The gateway's 30-second token to call message-store on `user`'s behalf.
    pub fn gateway_service_token(&self, user: UserId) -> String {
        self.mint(
            ISSUER_GATEWAY,
            AUDIENCE_MESSAGE_STORE,
            user,
            SERVICE_TOKEN_TTL,
        )
    }

    /// Verifies `token` for the service whose audience is `audience`,
    /// accepting only the issuers in `issuers`.
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
        issuers: &[&str],
    ) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.set_audience(&[audience]);
        validation.set_issuer(issuers);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const SECRET: &[u8] = b"test-secret-that-is-long-enough-for-hs256";

    fn keys() -> JwtKeys {
        JwtKeys::new(SECRET)
    }

    fn claims(aud: &str, iss: &str, exp_offset: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: iss.into(),
            aud: aud.into(),
            sub: UserId::new_random(),
            iat: now,
            exp: now + exp_offset,
            jti: Uuid::new_v4(),
            sid: None,
            sx: None,
        }
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token with the given header JSON, the given claims, and a signature
    /// made with HS256 over the secret (valid only if the header says HS256).
    fn forged(header: &str, claims: &Claims, signature: &str) -> String {
        let payload = b64(&serde_json::to_vec(claims).unwrap());
        format!("{}.{}.{}", b64(header.as_bytes()), payload, signature)
    }

    fn verify_for_gateway(token: &str) -> Result<Claims, TokenError> {
        keys().verify(token, AUDIENCE_GATEWAY, &[ISSUER_BFF])
    }

    #[test]
    fn accepts_a_fresh_token_for_its_audience() {
        let user = UserId::new_random();
        let token = keys().mint(ISSUER_BFF, AUDIENCE_GATEWAY, user, WS_TOKEN_TTL);
        let claims = verify_for_gateway(&token).unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.aud, AUDIENCE_GATEWAY);
        assert_eq!(claims.iss, ISSUER_BFF);
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn refuses_alg_none() {
        let c = claims(AUDIENCE_GATEWAY, ISSUER_BFF, 60);
        let token = forged(r#"{"alg":"none","typ":"JWT"}"#, &c, "");
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn refuses_another_alg_in_the_header() {
        // A real HS256 signature, but the header claims HS512: refused
        // because only HS256 is allowed, whatever the signature.
        let c = claims(AUDIENCE_GATEWAY, ISSUER_BFF, 60);
        let good = keys().sign(&c);
        let signature = good.rsplit('.').next().unwrap();
        let token = forged(r#"{"alg":"HS512","typ":"JWT"}"#, &c, signature);
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Invalid));

        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &c,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verify_for_gateway(&hs512), Err(TokenError::Invalid));
    }

    #[test]
    fn refuses_a_wrong_secret() {
        let token = JwtKeys::new(b"another-secret-entirely-0123456789").mint(
            ISSUER_BFF,
            AUDIENCE_GATEWAY,
            UserId::new_random(),
            WS_TOKEN_TTL,
        );
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn refuses_a_wrong_audience() {
        let token = keys().mint(
            ISSUER_BFF,
            AUDIENCE_MESSAGE_STORE,
            UserId::new_random(),
            WS_TOKEN_TTL,
        );
        assert_eq!(verify_for_gateway(&token), Err(TokenError::WrongAudience));
    }

    #[test]
    fn refuses_a_wrong_issuer() {
        let token = keys().mint(
            "someone-else",
            AUDIENCE_GATEWAY,
            UserId::new_random(),
            WS_TOKEN_TTL,
        );
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Invalid));
        // The gateway's own service tokens are not accepted by the gateway.
        let token = keys().mint(
            ISSUER_GATEWAY,
            AUDIENCE_GATEWAY,
            UserId::new_random(),
            WS_TOKEN_TTL,
        );
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn refuses_expired_past_the_leeway() {
        let token = keys().sign(&claims(AUDIENCE_GATEWAY, ISSUER_BFF, -10));
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Expired));
    }

    #[test]
    fn tolerates_expiry_within_the_leeway() {
        let token = keys().sign(&claims(AUDIENCE_GATEWAY, ISSUER_BFF, -2));
        assert!(verify_for_gateway(&token).is_ok());
    }

    #[test]
    fn refuses_garbage() {
        for token in ["", "garbage", "a.b.c", "e30.e30.", "....."] {
            assert_eq!(
                verify_for_gateway(token),
                Err(TokenError::Invalid),
                "{token:?}"
            );
        }
    }

    #[test]
    fn refuses_missing_claims() {
        let now = chrono::Utc::now().timestamp();
        let no_sub = serde_json::json!({"iss": ISSUER_BFF, "aud": AUDIENCE_GATEWAY, "iat": now, "exp": now + 60});
        let token = encode(
            &Header::new(Algorithm::HS256),
            &no_sub,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verify_for_gateway(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn gateway_service_token_targets_message_store_for_thirty_seconds() {
        let user = UserId::new_random();
        let token = keys().gateway_service_token(user);
        let c = keys()
            .verify(&token, AUDIENCE_MESSAGE_STORE, &[ISSUER_GATEWAY])
            .unwrap();
        assert_eq!(c.sub, user);
        assert_eq!(c.exp - c.iat, 30);
    }

    #[test]
    fn error_codes_match_the_protocol() {
        assert_eq!(TokenError::Invalid.code(), "invalid_token");
        assert_eq!(TokenError::Expired.code(), "expired_token");
        assert_eq!(TokenError::WrongAudience.code(), "wrong_audience");
    }
}
