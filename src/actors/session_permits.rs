//! Caps on open WebSocket sessions: per user (each session holds memory and a binding in every
//! room of the user's chats) and per client address. A permit is taken before the upgrade and
//! held by the session; it is given back when the session ends, however it ends, so the counts
//! cannot drift.

use parley_types::UserId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Counts {
    users: HashMap<UserId, usize>,
    addresses: HashMap<IpAddr, usize>,
}

#[derive(Clone)]
pub struct SessionPermits {
    per_user: usize,
    per_address: usize,
    counts: Arc<Mutex<Counts>>,
}

/// Which cap a refused session met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    User,
    Address,
}

/// One open session's place under the caps.
pub struct SessionPermit {
    counts: Arc<Mutex<Counts>>,
    user_id: UserId,
    address: Option<IpAddr>,
}

fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    // Every critical section is a few counter updates: a poisoned lock is still consistent.
    counts.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionPermits {
    /// A cap of 0 means no cap.
    pub fn new(per_user: usize, per_address: usize) -> Self {
        SessionPermits {
            per_user: if per_user == 0 { usize::MAX } else { per_user },
            per_address: if per_address == 0 {
                usize::MAX
            } else {
                per_address
            },
            counts: Arc::default(),
        }
    }

    pub fn try_acquire(
        &self,
        user_id: UserId,
        address: Option<IpAddr>,
    ) -> Result<SessionPermit, Refused> {
        let mut counts = lock(&self.counts);
        if counts.users.get(&user_id).copied().unwrap_or(0) >= self.per_user {
            return Err(Refused::User);
        }
        if let Some(ip) = address {
            if counts.addresses.get(&ip).copied().unwrap_or(0) >= self.per_address {
                return Err(Refused::Address);
            }
            *counts.addresses.entry(ip).or_default() += 1;
        }
        *counts.users.entry(user_id).or_default() += 1;
        Ok(SessionPermit {
            counts: self.counts.clone(),
            user_id,
            address,
        })
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.users.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.users.remove(&self.user_id);
            }
        }
        if let Some(ip) = self.address {
            if let Some(n) = counts.addresses.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.addresses.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_permits_come_back() {
        let permits = SessionPermits::new(2, 3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = permits.try_acquire(UserId(1), Some(ip)).unwrap();
        let _b = permits.try_acquire(UserId(1), Some(ip)).unwrap();
        assert_eq!(
            permits.try_acquire(UserId(1), Some(ip)).err(),
            Some(Refused::User)
        );
        let _c = permits.try_acquire(UserId(2), Some(ip)).unwrap();
        assert_eq!(
            permits.try_acquire(UserId(3), Some(ip)).err(),
            Some(Refused::Address)
        );
        drop(a);
        assert!(permits.try_acquire(UserId(1), Some(ip)).is_ok());
        assert!(SessionPermits::new(0, 0)
            .try_acquire(UserId(1), None)
            .is_ok());
    }
}
