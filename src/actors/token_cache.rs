//! Recently authenticated tokens, so that a request does not cost a token query. Logout
//! removes a token at once; other entries live for `TTL`, which bounds how long an expired
//! token can outlive its expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::queries::TokenOwner;

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
        (cached_at.elapsed() < TTL).then_some(*owner)
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
