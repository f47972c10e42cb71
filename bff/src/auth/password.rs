//! Argon2id password hashes (PHC strings), computed on blocking threads so
//! a login never stalls the async workers.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use service_kit::HttpError;

/// Hashes a password with Argon2id (default parameters: m=19 MiB, t=2, p=1).
pub async fn hash(password: String) -> Result<String, HttpError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| {
            log::error!("password: hashing task failed: {e}");
            HttpError::internal()
        })?
}

fn hash_blocking(password: &str) -> Result<String, HttpError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| {
            log::error!("password: hashing failed: {e}");
            HttpError::internal()
        })
}

/// A hash of a password nobody knows, verified when the username does not
/// exist so that a failed login costs the same either way.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking("no account has this password, it only spends time").unwrap_or_default()
    })
}

/// Verifies `password` against `stored` (or against the dummy hash when there
/// is no account). True only for a real account's right password.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        real && ok
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash up front, so the first unknown-user login is not
/// slower than the rest.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse".into(), Some(a.clone())).await);
        assert!(!verify("wrong horse".into(), Some(a)).await);
        assert!(
            !verify(
                "no account has this password, it only spends time".into(),
                None
            )
            .await
        );
    }
}
