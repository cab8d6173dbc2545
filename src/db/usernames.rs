//! The ids of the usernames this process has read. A username never changes and a user is
//! never removed (accounts are deactivated), so a name's id, once read, stays true for good
//! and on every node: a send batch resolves its `@name`s here and asks the database only
//! for names it has not seen (issue 28: reading every named member with each batch's checks
//! cost the send a statement planned on every run). Names that matched no one are not kept:
//! someone may register them later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use parley_types::UserId;

/// Names kept, at most; past it the map starts over (a busy server reads its active names
/// back within a few batches).
const CAPACITY: usize = 100_000;

#[derive(Clone, Default)]
pub struct UsernameIds {
    known: Arc<Mutex<HashMap<String, UserId>>>,
}

impl UsernameIds {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, UserId>> {
        // Every critical section leaves the map whole: a poisoned lock is still usable.
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ids of the `names` known here, and the names that are not.
    pub fn look_up<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> (HashMap<String, UserId>, Vec<String>) {
        let known = self.lock();
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        for name in names {
            match known.get(name) {
                Some(&id) => {
                    found.insert(name.to_owned(), id);
                }
                None => unknown.push(name.to_owned()),
            }
        }
        (found, unknown)
    }

    /// Keeps names read from the database.
    pub fn learn(&self, read: &[(String, UserId)]) {
        let mut known = self.lock();
        if known.len() + read.len() > CAPACITY {
            known.clear();
        }
        for (name, id) in read {
            known.insert(name.clone(), *id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_are_kept_and_the_rest_asked_for() {
        let ids = UsernameIds::default();
        let (found, unknown) = ids.look_up(["alice", "bob"]);
        assert!(found.is_empty());
        assert_eq!(unknown, ["alice", "bob"]);
        ids.learn(&[("alice".to_owned(), UserId(7))]);
        let (found, unknown) = ids.look_up(["alice", "bob"]);
        assert_eq!(found.get("alice"), Some(&UserId(7)));
        assert_eq!(unknown, ["bob"]);
    }

    #[test]
    fn a_full_map_starts_over() {
        let ids = UsernameIds::default();
        let many: Vec<(String, UserId)> = (0..CAPACITY)
            .map(|i| (format!("user{i}"), UserId(i as i64)))
            .collect();
        ids.learn(&many);
        assert_eq!(ids.lock().len(), CAPACITY);
        ids.learn(&[("late".to_owned(), UserId(-1))]);
        assert_eq!(ids.lock().len(), 1);
        assert_eq!(ids.look_up(["late"]).0.get("late"), Some(&UserId(-1)));
    }
}
