//! Which WebSocket sessions each user has open. Rooms read it (synchronously) to bind their
//! members' sessions when they start and a new member's sessions before its `member.joined`
//! goes out; logout reads it to close a token's sessions.

use parley_types::{TokenId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::messages::{Kick, SessionId, Subscriber};

#[derive(Clone, Default)]
pub struct SessionDirectory {
    by_user: Arc<Mutex<HashMap<UserId, HashMap<SessionId, Subscriber>>>>,
}

impl SessionDirectory {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, HashMap<SessionId, Subscriber>>> {
        // A panic while holding this lock cannot leave the map half-updated (every update is
        // one insert or remove), so a poisoned lock is still safe to use.
        self.by_user
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn add(&self, subscriber: Subscriber) {
        self.lock()
            .entry(subscriber.user_id)
            .or_default()
            .insert(subscriber.session_id, subscriber);
    }

    pub fn remove(&self, user_id: UserId, session_id: SessionId) {
        let mut map = self.lock();
        if let Some(sessions) = map.get_mut(&user_id) {
            sessions.remove(&session_id);
            if sessions.is_empty() {
                map.remove(&user_id);
            }
        }
    }

    /// Whether the user has a session open here (without copying its subscribers).
    pub fn has_sessions(&self, user_id: UserId) -> bool {
        self.lock().contains_key(&user_id)
    }

    pub fn sessions_of(&self, user_id: UserId) -> Vec<Subscriber> {
        self.lock()
            .get(&user_id)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks every session to close (at shutdown).
    pub fn kick_all(&self, kick: Kick) {
        let sessions: Vec<Subscriber> = self
            .lock()
            .values()
            .flat_map(|s| s.values().cloned())
            .collect();
        for session in sessions {
            session.kick.do_send(kick.clone());
        }
    }

    /// Asks every session of the user to close.
    pub fn kick_user(&self, user_id: UserId, kick: Kick) {
        for session in self.sessions_of(user_id) {
            session.kick.do_send(kick.clone());
        }
    }

    /// Asks every session opened with this token to close.
    pub fn kick_token(&self, user_id: UserId, token_id: TokenId, kick: Kick) {
        for session in self.sessions_of(user_id) {
            if session.token_id == token_id {
                session.kick.do_send(kick.clone());
            }
        }
    }

    /// The tokens the open sessions were opened with, each once.
    pub fn token_ids(&self) -> Vec<TokenId> {
        let mut ids: Vec<TokenId> = self
            .lock()
            .values()
            .flat_map(|s| s.values().map(|session| session.token_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Asks every session opened with one of `token_ids` to close.
    pub fn kick_tokens(&self, token_ids: &[TokenId], kick: Kick) {
        let sessions: Vec<Subscriber> = self
            .lock()
            .values()
            .flat_map(|s| s.values())
            .filter(|session| token_ids.contains(&session.token_id))
            .cloned()
            .collect();
        for session in sessions {
            session.kick.do_send(kick.clone());
        }
    }
}
