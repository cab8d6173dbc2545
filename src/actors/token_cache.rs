//! Recently authenticated tokens, so that a request does not cost a token query. Logout
//! removes a token at once, a token past its own expiry is never served, and entries are
//! re-read from the database after `TTL`.
//!
//! A revoked token is remembered for `TTL`: an `Authenticate` that read the token from the
//! database just before the revocation committed cannot put it back into the cache afterwards.

use parley_types::TokenId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::queries::TokenOwner;
use crate::domain::Timestamp;

const TTL: Duration = Duration::from_secs(30);
/// Entries kept at most; past this the cache is cleared (it refills from the database).
const CAPACITY: usize = 100_000;

#[derive(Default)]
struct Entries {
    by_digest: HashMap<String, (TokenOwner, Instant)>,
    /// Token ids revoked less than `TTL` ago, with the time of their revocation.
    revoked: HashMap<TokenId, Instant>,
}

#[derive(Clone)]
pub struct TokenCache {
    entries: Arc<Mutex<Entries>>,
    /// Off on a node with peers: another node's logout must be final here the moment it
    /// answers, and only the database knows that at once.
    enabled: bool,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            entries: Arc::default(),
            enabled: true,
        }
    }
}

impl TokenCache {
    /// A cache that holds nothing: every token is read from the database.
    pub fn disabled() -> Self {
        TokenCache {
            enabled: false,
            ..TokenCache::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Each critical section leaves both maps consistent: a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, digest: &str) -> Option<TokenOwner> {
        if !self.enabled {
            return None;
        }
        let entries = self.lock();
        let (owner, cached_at) = entries.by_digest.get(digest)?;
        (cached_at.elapsed() < TTL && owner.expires_at > Timestamp::now()).then_some(*owner)
    }

    /// Caches a token read from the database, unless it has been revoked meanwhile.
    pub fn put(&self, digest: String, owner: TokenOwner) {
        if !self.enabled {
            return;
        }
        let mut entries = self.lock();
        if entries.revoked.contains_key(&owner.token_id) {
            return;
        }
        if entries.by_digest.len() >= CAPACITY {
            entries.by_digest.clear();
        }
        entries.by_digest.insert(digest, (owner, Instant::now()));
    }

    /// Called once the token's revocation has committed.
    pub fn forget_token(&self, token_id: TokenId) {
        let mut entries = self.lock();
        entries
            .by_digest
            .retain(|_, (owner, _)| owner.token_id != token_id);
        entries.revoked.retain(|_, at| at.elapsed() < TTL);
        entries.revoked.insert(token_id, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(token_id: TokenId, expires_in_millis: i64) -> TokenOwner {
        TokenOwner {
            token_id,
            user_id: parley_types::UserId(7),
            expires_at: Timestamp(Timestamp::now().millis() + expires_in_millis),
        }
    }

    #[test]
    fn serves_live_tokens_only() {
        let cache = TokenCache::default();
        cache.put("live".into(), owner(TokenId(1), 60_000));
        cache.put("expired".into(), owner(TokenId(2), -1));
        assert_eq!(cache.get("live").map(|o| o.token_id), Some(TokenId(1)));
        assert_eq!(cache.get("expired"), None);
        assert_eq!(cache.get("unknown"), None);
        cache.forget_token(TokenId(1));
        assert_eq!(cache.get("live"), None);
    }

    /// Authenticate read the token, Logout revoked and forgot it, then Authenticate cached it:
    /// the revoked token must not be served from the cache.
    #[test]
    fn a_token_revoked_meanwhile_is_not_cached_again() {
        let cache = TokenCache::default();
        let read_before_revocation = owner(TokenId(3), 60_000);
        cache.forget_token(TokenId(3));
        cache.put("revoked".into(), read_before_revocation);
        assert_eq!(cache.get("revoked"), None);
        // Other tokens are cached as before.
        cache.put("other".into(), owner(TokenId(4), 60_000));
        assert_eq!(cache.get("other").map(|o| o.token_id), Some(TokenId(4)));
    }
}
