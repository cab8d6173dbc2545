//! Recently authenticated tokens, so that a request does not cost a token query. Logout
//! removes a token at once, a token past its own expiry is never served, and entries are
//! re-read from the database after `TTL`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::queries::TokenOwner;
use crate::domain::Timestamp;

const TTL: Duration = Duration::from_secs(30);
/// Entries kept at most; past this the cache is cleared (it refills from the database).
const CAPACITY: usize = 100_000;

#[derive(Clone, Default)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<String, (TokenOwner, Instant)>>>,
}

impl TokenCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (TokenOwner, Instant)>> {
        // Each critical section is one map operation: a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, digest: &str) -> Option<TokenOwner> {
        let entries = self.lock();
        let (owner, cached_at) = entries.get(digest)?;
        (cached_at.elapsed() < TTL && owner.expires_at > Timestamp::now()).then_some(*owner)
    }

    pub fn put(&self, digest: String, owner: TokenOwner) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(digest, (owner, Instant::now()));
    }

    pub fn forget_token(&self, token_id: i64) {
        self.lock()
            .retain(|_, (owner, _)| owner.token_id != token_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(token_id: i64, expires_in_millis: i64) -> TokenOwner {
        TokenOwner {
            token_id,
            user_id: 7,
            expires_at: Timestamp(Timestamp::now().millis() + expires_in_millis),
        }
    }

    #[test]
    fn serves_live_tokens_only() {
        let cache = TokenCache::default();
        cache.put("live".into(), owner(1, 60_000));
        cache.put("expired".into(), owner(2, -1));
        assert_eq!(cache.get("live").map(|o| o.token_id), Some(1));
        assert_eq!(cache.get("expired"), None);
        assert_eq!(cache.get("unknown"), None);
        cache.forget_token(1);
        assert_eq!(cache.get("live"), None);
    }
}
