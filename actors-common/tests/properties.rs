//! Property tests of what every service reads from the outside: client
//! frames, tokens and input fields. Thousands of generated inputs each; no
//! input may panic, and every rejection must be the error the protocol
//! names for it (each property states its oracle).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use actors_common::frames::ClientFrame;
use actors_common::jwt::{Claims, JwtKeys, TokenError, AUDIENCE_GATEWAY, ISSUER_BFF};
use actors_common::{validation, UserId};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// JSON values of every kind, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!(Uuid::new_v4())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Objects shaped like client frames, with each field right, wrong or missing.
fn frame_like() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just(json!("send")),
        Just(json!("typing")),
        Just(json!("shout")),
        any_json()
    ];
    let id = prop_oneof![Just(json!(Uuid::new_v4())), any_json()];
    (
        prop::option::of(kind),
        prop::option::of(id.clone()),
        prop::option::of(id),
        prop::option::of(prop_oneof![".{0,50}".prop_map(Value::String), any_json()]),
        prop::option::of(any_json()),
    )
        .prop_map(|(kind, conversation, client, body, extra)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [
                ("type", kind),
                ("conversation_id", conversation),
                ("client_id", client),
                ("body", body),
                ("extra", extra),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(config())]

    /// Any text: read, or refused as unreadable (`bad_frame`); never a panic.
    #[test]
    fn any_text_is_a_frame_or_a_bad_frame(text in ".{0,200}") {
        match ClientFrame::read(&text) {
            Ok(frame) => {
                let again = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(ClientFrame::read(&again).unwrap(), frame);
            }
            Err(bad) => prop_assert!(bad.message.starts_with("unreadable frame")),
        }
    }

    /// Frame-shaped objects: accepted exactly when every field is right and
    /// none is extra; a refusal carries the `client_id` when the object
    /// has a readable one.
    #[test]
    fn frame_shaped_objects_are_read_exactly_when_well_formed(v in frame_like()) {
        let text = v.to_string();
        let is_uuid = |k: &str| v.get(k).and_then(Value::as_str).is_some_and(|s| s.parse::<Uuid>().is_ok());
        let well_formed = v.get("extra").is_none() && match v.get("type").and_then(Value::as_str) {
            Some("send") => is_uuid("conversation_id") && is_uuid("client_id") && v.get("body").is_some_and(Value::is_string),
            Some("typing") => is_uuid("conversation_id") && v.get("client_id").is_none() && v.get("body").is_none(),
            _ => false,
        };
        match ClientFrame::read(&text) {
            Ok(_) => prop_assert!(well_formed, "accepted {text}"),
            Err(bad) => {
                prop_assert!(!well_formed, "refused {text}");
                let readable = v.get("client_id").and_then(Value::as_str).and_then(|s| s.parse::<Uuid>().ok());
                prop_assert_eq!(bad.client_id, readable);
            }
        }
    }

    /// A well-formed send keeps its body exactly, whatever the body is.
    #[test]
    fn a_send_keeps_any_body(body in any::<String>()) {
        let (c, id) = (Uuid::new_v4(), Uuid::new_v4());
        let text = json!({"type": "send", "conversation_id": c, "client_id": id, "body": body}).to_string();
        match ClientFrame::read(&text).unwrap() {
            ClientFrame::Send { body: got, client_id, .. } => {
                prop_assert_eq!(got, body);
                prop_assert_eq!(client_id, id);
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }
}

const SECRET: &[u8] = b"property-test-secret-0123456789abcdef";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

proptest! {
    #![proptest_config(config())]

    /// Any text as a token is refused as `invalid_token` (no signature of
    /// ours), never with a panic.
    #[test]
    fn any_text_is_an_invalid_token(text in ".{0,300}") {
        let keys = JwtKeys::new(SECRET);
        prop_assert_eq!(keys.verify(&text, AUDIENCE_GATEWAY, &[ISSUER_BFF]).unwrap_err(), TokenError::Invalid);
    }

    /// Signed tokens with generated claims get the verdict the protocol
    /// gives: a foreign key → invalid; expired (past the 5 s leeway) →
    /// expired; a foreign issuer → invalid; another audience → wrong
    /// audience; else accepted.
    #[test]
    fn signed_tokens_get_the_protocols_verdict(
        expires_in in prop_oneof![-100_000i64..-10, 10i64..100_000],
        right_audience in any::<bool>(),
        right_issuer in any::<bool>(),
        right_key in any::<bool>(),
        other in "[a-z.-]{1,20}",
    ) {
        let signer = JwtKeys::new(if right_key { SECRET } else { b"another-secret-0123456789abcdefghij" });
        let claims = Claims {
            iss: if right_issuer { ISSUER_BFF.into() } else { format!("x{other}") },
            aud: if right_audience { AUDIENCE_GATEWAY.into() } else { format!("x{other}") },
            sub: UserId::new_random(),
            iat: now(),
            exp: now() + expires_in,
            jti: Uuid::new_v4(),
            sid: None,
            sx: None,
        };
        let token = signer.sign(&claims);
        let got = JwtKeys::new(SECRET).verify(&token, AUDIENCE_GATEWAY, &[ISSUER_BFF]);
        let expected = if !right_key {
            Err(TokenError::Invalid)
        } else if expires_in < 0 {
            Err(TokenError::Expired)
        } else if !right_issuer {
            Err(TokenError::Invalid)
        } else if !right_audience {
            Err(TokenError::WrongAudience)
        } else {
            Ok(())
        };
        prop_assert_eq!(got.map(|c| { assert_eq!(c.sub, claims.sub); }), expected);
    }

    /// A minted token verifies for its audience, whatever its lifetime.
    #[test]
    fn minted_tokens_verify(ttl in 6u64..1_000_000) {
        let keys = JwtKeys::new(SECRET);
        let user = UserId::new_random();
        let token = keys.mint(ISSUER_BFF, AUDIENCE_GATEWAY, user, Duration::from_secs(ttl));
        prop_assert_eq!(keys.verify(&token, AUDIENCE_GATEWAY, &[ISSUER_BFF]).unwrap().sub, user);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn usernames_are_3_to_32_of_a_small_alphabet(name in prop_oneof![".{0,40}", "[a-z0-9_.-]{0,40}"]) {
        let n = name.chars().count();
        let ok = (3..=32).contains(&n)
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
        match validation::username(&name) {
            Ok(()) => prop_assert!(ok, "{name:?}"),
            Err(e) => { prop_assert!(!ok, "{name:?}"); prop_assert_eq!(e.code, "invalid_username"); }
        }
    }

    #[test]
    fn passwords_are_8_to_256_characters(password in ".{0,300}") {
        let ok = (8..=256).contains(&password.chars().count());
        match validation::password(&password) {
            Ok(()) => prop_assert!(ok),
            Err(e) => { prop_assert!(!ok); prop_assert_eq!(e.code, "invalid_password"); }
        }
    }

    #[test]
    fn message_bodies_follow_the_protocol(body in prop_oneof![
        any::<String>(),
        "\\PC{3990,4010}",
        "[ \\t\\n]{0,5}",
    ]) {
        let ok = !body.trim().is_empty()
            && !body.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
            && body.chars().count() <= 4000;
        match validation::body(&body) {
            Ok(()) => prop_assert!(ok, "{} chars", body.chars().count()),
            Err(e) => { prop_assert!(!ok); prop_assert_eq!(e.code, "invalid_body"); }
        }
    }

    #[test]
    fn group_and_display_names_follow_the_protocol(name in prop_oneof![any::<String>(), "\\PC{60,110}"]) {
        let n = name.chars().count();
        let control = name.chars().any(char::is_control);
        match validation::group_name(&name) {
            Ok(()) => prop_assert!(!control && !name.trim().is_empty() && n <= 100),
            Err(e) => {
                prop_assert!(control || name.trim().is_empty() || n > 100);
                prop_assert_eq!(e.code, "invalid_name");
            }
        }
        match validation::display_name(&name) {
            Ok(()) => prop_assert!(!control && n <= 64),
            Err(e) => { prop_assert!(control || n > 64); prop_assert_eq!(e.code, "invalid_display_name"); }
        }
    }
}
