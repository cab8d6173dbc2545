//! Credentials: argon2id password hashes and opaque bearer tokens stored as SHA-256 digests.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// How long a token lives when it is not revoked first.
pub const TOKEN_TTL_MILLIS: i64 = 30 * 24 * 60 * 60 * 1000;

/// A new bearer token: the value the client gets, and the digest the database keeps.
pub struct IssuedToken {
    pub token: String,
    pub digest: String,
}

pub fn issue_token() -> IssuedToken {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let digest = token_digest(&token);
    IssuedToken { token, digest }
}

/// Tokens carry 256 random bits, so a fast digest is enough: nothing is left to brute-force.
pub fn token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes with argon2id and the crate's recommended parameters. CPU-heavy: call off the
/// actor threads (`tokio::task::spawn_blocking`).
pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal_from("password hashing failed", e))
}

/// Checks `password` against a stored hash; `None` (unknown user) still spends the time of a
/// real check so that response times do not reveal which usernames exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(stored) => matches_hash(password, stored),
        None => {
            if let Some(decoy) = decoy_hash() {
                let _ = matches_hash(password, decoy);
            }
            false
        }
    }
}

fn matches_hash(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Computes the decoy hash ahead of the first login for an unknown account, which would
/// otherwise pay for it (and so stand out). CPU-heavy: call off the actor threads.
pub fn prepare_decoy() {
    let _ = decoy_hash();
}

fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| hash_password(&URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())).ok())
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("correct horse", None));
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let a = issue_token();
        let b = issue_token();
        assert_ne!(a.token, b.token);
        assert_eq!(a.digest, token_digest(&a.token));
        assert_eq!(a.digest.len(), 64);
    }
}
