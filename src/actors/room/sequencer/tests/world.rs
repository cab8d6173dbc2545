//! The world around the sequencer in the property tests: the log, the session directory, and
//! what each session was sent.

use std::collections::{HashMap, HashSet};

use parley_types::{Seq, UserId};

use super::super::{MembershipChange, Outlet, Sequenced};

pub(super) type Key = u32;

/// The members of the chat before its first event.
pub(super) const FIRST_MEMBERS: [i64; 3] = [1, 2, 3];

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub(super) seq: Seq,
    pub(super) change: Option<MembershipChange>,
}

impl Sequenced for Event {
    fn seq(&self) -> Seq {
        self.seq
    }

    fn membership(&self) -> Option<MembershipChange> {
        self.change
    }
}

/// What a session saw, in the order it saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// Bound, or resumed: owed every seq after `start`, in order. `resume` says a `resumed`
    /// ends the replay.
    Owed {
        start: Seq,
        resume: bool,
    },
    /// Bound as its user joins: owed the event that adds them, and every one after it.
    OwedFromJoin(UserId),
    Event(Seq),
    Resumed {
        from: Seq,
        to: Seq,
    },
    Unbound,
    /// Its outbox overflowed: it is closed and sees nothing more.
    Dropped,
}

/// Why the sequencer is being called, so that the world knows what a session that binds now is
/// owed (the world works it out from the log, not from the sequencer's state).
#[derive(Clone, Copy, Debug)]
pub(super) enum Call {
    Other,
    /// A subscribe: owed what is committed after now.
    Subscribe(Seq),
    /// A flush: a session bound now belongs to a member who joins, and is owed the event
    /// that adds them.
    Flush,
    /// A fresh sequencer binding the members' sessions from its start.
    Start(Seq),
}

/// The world around the sequencer: the session directory, the sessions' outboxes, the log.
pub(super) struct World {
    /// The events written, in seq order.
    pub(super) log: Vec<Event>,
    /// The highest seq committed.
    pub(super) end: Seq,
    /// Seqs handed out but never written (only a hand-made change to the database does that):
    /// the room skips them.
    pub(super) holes: HashSet<Seq>,
    /// Open sessions and their users.
    pub(super) directory: HashMap<Key, UserId>,
    pub(super) seen: HashMap<Key, Vec<Seen>>,
    /// Sessions whose next offer finds the outbox full.
    pub(super) full: HashSet<Key>,
    pub(super) call: Call,
}

impl World {
    pub(super) fn record(&mut self, session: Key, seen: Seen) {
        self.seen.entry(session).or_default().push(seen);
    }

    pub(super) fn log_end(&self) -> Seq {
        self.end
    }

    /// The last seq written.
    pub(super) fn last_written(&self) -> Seq {
        self.log.last().map_or(Seq::ZERO, |e| e.seq)
    }

    /// The events after `after`, at most `limit`, of the log as it was when it ended at `end`.
    pub(super) fn read_log(&self, after: Seq, limit: usize, end: Seq) -> Vec<Event> {
        self.log
            .iter()
            .filter(|e| e.seq > after && e.seq <= end)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The members once every event of the log is applied.
    pub(super) fn members(&self) -> HashSet<UserId> {
        let mut members: HashSet<UserId> = FIRST_MEMBERS.iter().copied().map(UserId).collect();
        for event in &self.log {
            match event.change {
                Some(MembershipChange::Joined(u)) => {
                    members.insert(u);
                }
                Some(MembershipChange::Left(u)) => {
                    members.remove(&u);
                }
                None => {}
            }
        }
        members
    }
}

impl Outlet<Key, Event> for World {
    type Batch = Vec<Seq>;

    fn batch(&mut self, events: &[Event]) -> Vec<Seq> {
        events.iter().map(|e| e.seq).collect()
    }

    fn offer(&mut self, session: Key, batch: &Vec<Seq>) -> bool {
        if !self.directory.contains_key(&session) {
            return false;
        }
        if self.full.remove(&session) {
            self.directory.remove(&session);
            self.record(session, Seen::Dropped);
            return false;
        }
        for &seq in batch {
            self.record(session, Seen::Event(seq));
        }
        true
    }

    fn bound(&mut self, session: Key, bound: bool) {
        if !bound {
            self.record(session, Seen::Unbound);
            return;
        }
        let start = match self.call {
            Call::Subscribe(committed) => committed,
            Call::Start(delivered) => delivered,
            Call::Flush => {
                let user = self.directory.get(&session).copied().unwrap_or(UserId(0));
                self.record(session, Seen::OwedFromJoin(user));
                return;
            }
            // Resumes and take-overs record their own start.
            Call::Other => return,
        };
        self.record(
            session,
            Seen::Owed {
                start,
                resume: false,
            },
        );
    }

    fn sessions_of(&mut self, user: UserId) -> Vec<Key> {
        let mut sessions: Vec<Key> = self
            .directory
            .iter()
            .filter(|(_, &u)| u == user)
            .map(|(&k, _)| k)
            .collect();
        sessions.sort_unstable();
        sessions
    }

    fn resumed(&mut self, session: Key, from: Seq, to: Seq) -> bool {
        if !self.directory.contains_key(&session) {
            return false;
        }
        self.record(session, Seen::Resumed { from, to });
        true
    }
}
