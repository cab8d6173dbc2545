//! The room's ordering rules, apart from actix, the database and the sockets: given the events
//! a chat commits (in any order, some only from the event log), the sessions that bind, resume
//! and go, and the room's restarts, it decides what each session is sent, in `seq` order, each
//! event once.
//!
//! Each bound session has a high-water mark, `sent_up_to`: it is sent exactly the events above
//! it, in order. The live stream goes out in `seq` order without holes (`delivered` is its end);
//! a session that resumes is fed from the event log instead, batch by batch, until it reaches
//! the live stream, and then joins it. Everything here runs on the room's one thread, so nothing
//! falls between the replay and the live events, and nothing is sent twice.
//!
//! What the sequencer cannot do itself — find a user's open sessions, put frames into a
//! session's outbox, tell a session it is bound — it asks of an [`Outlet`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

use parley_types::{Seq, UserId};

mod replay;

/// Most events the live stream puts in one outbox message.
pub const MAX_RUN: usize = 32;

/// A committed event as the sequencer sees it.
pub trait Sequenced: Clone {
    fn seq(&self) -> Seq;
    /// The membership the event changes, if it is `member.joined` or `member.left`.
    fn membership(&self) -> Option<MembershipChange>;
}

/// A change of who is in the chat, carried by the event that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipChange {
    Joined(UserId),
    Left(UserId),
}

/// What the sequencer needs from the world around it.
pub trait Outlet<K, E> {
    /// Frames ready to go to any number of sessions (built once, shared by all of them).
    type Batch;

    fn batch(&mut self, events: &[E]) -> Self::Batch;
    /// Puts the batch in the session's outbox without waiting; false if the session is gone or
    /// cannot keep up (the sequencer forgets it).
    fn offer(&mut self, session: K, batch: &Self::Batch) -> bool;
    /// Tells the session whether it now receives the chat's events.
    fn bound(&mut self, session: K, bound: bool);
    /// The open sessions of a user, bound to this chat or not.
    fn sessions_of(&mut self, user: UserId) -> Vec<K>;
    /// Tells a session that its replay reached the live stream: it was sent every event from
    /// `from` to `to`, and the live ones follow. False if the session is gone.
    fn resumed(&mut self, session: K, from: Seq, to: Seq) -> bool;
}

/// Why a session's request about the chat is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotMember;

/// A read of the event log a replay needs: the events after `after`, for the replay numbered
/// `generation` of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayRead<K> {
    pub session: K,
    pub generation: u64,
    pub after: Seq,
    /// How far the live stream had gone when the read was asked for: every seq up to it was
    /// committed before the read, so a read that reaches the end of the log has seen them all.
    live: Seq,
}

/// How far a replay got with one batch read from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayStep<K> {
    /// The session resumed again (or went) meanwhile: this read is of no use.
    Stale,
    /// More to read: read the events after `after` next.
    More(ReplayRead<K>),
    /// The session has reached the live stream.
    Live,
    /// The session is gone or could not take the batch; it was forgotten.
    Dropped,
}

struct Cursor {
    user: UserId,
    /// Every event up to this seq has been sent to the session (or predates its interest).
    sent_up_to: Seq,
    /// Set while the session is fed from the event log.
    replay: Option<Replay>,
}

#[derive(Clone, Copy)]
struct Replay {
    from: Seq,
    /// Distinguishes this replay from a newer one the session asked for meanwhile.
    generation: u64,
}

pub struct Sequencer<K, E> {
    members: HashSet<UserId>,
    /// Every event up to here has been sent to the live stream, in order.
    delivered: Seq,
    /// The highest seq known to be committed (from a sweep or another node); above
    /// `delivered` it is a gap to read from the log.
    known: Seq,
    /// Events that arrived ahead of an earlier one.
    pending: BTreeMap<Seq, E>,
    sessions: HashMap<K, Cursor>,
    replay_generation: u64,
}

impl<K: Copy + Eq + Hash, E: Sequenced> Sequencer<K, E> {
    /// A chat with these members, whose events up to `delivered` need no broadcast.
    pub fn new(members: impl IntoIterator<Item = UserId>, delivered: Seq) -> Self {
        Sequencer {
            members: members.into_iter().collect(),
            delivered,
            known: delivered,
            pending: BTreeMap::new(),
            sessions: HashMap::new(),
            replay_generation: 0,
        }
    }

    /// A chat whose log ends at `last_seq` but whose broadcast starts at `from` (below it):
    /// the events in between are delivered next (another node's, that started this room).
    pub fn starting_below(
        members: impl IntoIterator<Item = UserId>,
        last_seq: Seq,
        from: Seq,
    ) -> Self {
        let mut sequencer = Self::new(members, from.min(last_seq));
        sequencer.known = last_seq;
        sequencer
    }

    pub fn is_member(&self, user: UserId) -> bool {
        self.members.contains(&user)
    }

    /// The members as of the events delivered so far.
    pub fn members(&self) -> impl Iterator<Item = UserId> + '_ {
        self.members.iter().copied()
    }

    pub fn delivered(&self) -> Seq {
        self.delivered
    }

    /// The highest seq the sequencer knows to be committed, broadcast or not.
    pub fn committed(&self) -> Seq {
        let waiting = self
            .pending
            .last_key_value()
            .map_or(Seq::ZERO, |(&seq, _)| seq);
        self.delivered.max(waiting).max(self.known)
    }

    /// Whether committed events are missing below the ones waiting, or below what is known.
    pub fn behind(&self) -> bool {
        !self.pending.is_empty() || self.known > self.delivered
    }

    /// Whether nothing waits for a broadcast and no session is bound.
    pub fn at_rest(&self) -> bool {
        self.pending.is_empty() && self.sessions.is_empty()
    }

    pub fn is_bound(&self, session: K) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Each bound session with its user and how far it was sent: what a room that takes over
    /// carries.
    pub fn cursors(&self) -> impl Iterator<Item = (K, UserId, Seq)> + '_ {
        self.sessions
            .iter()
            .map(|(&k, c)| (k, c.user, c.sent_up_to))
    }

    /// Takes a committed event (a second copy of one, or one already delivered, is ignored).
    pub fn accept(&mut self, event: E) {
        if event.seq() > self.delivered {
            self.pending.insert(event.seq(), event);
        }
    }

    /// Notes that everything up to `seq` is committed (events still on their way, or lost on
    /// the way, are read from the log).
    pub fn note_committed(&mut self, seq: Seq) {
        self.known = self.known.max(seq);
    }

    /// Takes the events read from the log after `delivered`, in seq order; `whole_log` says the
    /// read reached the end of the log. A seq the log does not hold although a later one is
    /// committed was never written (only a hand-made change to the database can do that): seqs
    /// are handed out under the chat's row lock, so an earlier one commits first. It is skipped
    /// when the read starts after it, or reached the end of the log below events waiting.
    /// Returns the seqs skipped, if any.
    pub fn log_read(&mut self, events: Vec<E>, whole_log: bool) -> Option<(Seq, Seq)> {
        let first_read = events.first().map(Sequenced::seq);
        for event in events {
            self.accept(event);
        }
        let next = *self.pending.keys().next()?;
        if (whole_log || first_read == Some(next)) && next > self.delivered.next() {
            let skipped = (self.delivered.next(), next.prev());
            self.delivered = next.prev();
            return Some(skipped);
        }
        None
    }

    /// Binds the open sessions of every member that are not bound yet, live from `delivered`.
    pub fn bind_members<O: Outlet<K, E>>(&mut self, outlet: &mut O) {
        let members: Vec<UserId> = self.members.iter().copied().collect();
        for user in members {
            for session in outlet.sessions_of(user) {
                if !self.sessions.contains_key(&session) {
                    self.bind(session, user, self.delivered, outlet);
                }
            }
        }
    }

    /// A session of `user` that opened: it is owed what is committed after now, not the
    /// events committed before and still waiting for their broadcast (it said `ready` after
    /// those). False if it is not a member's, or is bound already.
    pub fn subscribe<O: Outlet<K, E>>(&mut self, session: K, user: UserId, outlet: &mut O) -> bool {
        if !self.members.contains(&user) || self.sessions.contains_key(&session) {
            return false;
        }
        self.bind(session, user, self.committed(), outlet);
        true
    }

    /// A session asks for every event after `after` (it binds if it was not bound): the reads
    /// of the log that feed it start with the one returned.
    pub fn resume<O: Outlet<K, E>>(
        &mut self,
        session: K,
        user: UserId,
        after: Seq,
        outlet: &mut O,
    ) -> Result<ReplayRead<K>, NotMember> {
        if !self.members.contains(&user) {
            return Err(NotMember);
        }
        if !self.sessions.contains_key(&session) {
            self.bind(session, user, after, outlet);
        }
        Ok(self.start_replay(session, after))
    }

    /// Sessions carried over from a room that failed, each with how far that room sent it:
    /// each is fed from the log from there, as if it had resumed. A session whose user is no
    /// longer a member is told it is unbound.
    pub fn take_over<O: Outlet<K, E>>(
        &mut self,
        carried: impl IntoIterator<Item = (K, UserId, Seq)>,
        outlet: &mut O,
    ) -> Vec<ReplayRead<K>> {
        let mut reads = Vec::new();
        for (session, user, sent_up_to) in carried {
            if !self.members.contains(&user) {
                outlet.bound(session, false);
                continue;
            }
            self.bind(session, user, sent_up_to, outlet);
            reads.push(self.start_replay(session, sent_up_to));
        }
        reads
    }

    /// Forgets a session (it closed, overflowed, or its replay failed).
    pub fn forget(&mut self, session: K) -> bool {
        self.sessions.remove(&session).is_some()
    }

    /// Sends every waiting event that is next in line to the live stream. Events that change
    /// the membership go out on their own, because who receives what changes with them; the
    /// others go out in runs of up to `MAX_RUN`, one outbox message per session for the lot.
    /// Returns whether anything went out.
    pub fn flush<O: Outlet<K, E>>(&mut self, outlet: &mut O) -> bool {
        let before = self.delivered;
        let mut run: Vec<E> = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered.next() {
                break;
            }
            let event = entry.remove();
            self.delivered = event.seq();
            if let Some(change) = event.membership() {
                self.send_run(&std::mem::take(&mut run), outlet);
                self.send_membership_event(event, change, outlet);
            } else {
                run.push(event);
                if run.len() == MAX_RUN {
                    self.send_run(&std::mem::take(&mut run), outlet);
                }
            }
        }
        self.send_run(&run, outlet);
        self.delivered > before
    }

    fn bind<O: Outlet<K, E>>(&mut self, session: K, user: UserId, sent_up_to: Seq, outlet: &mut O) {
        outlet.bound(session, true);
        self.sessions.insert(
            session,
            Cursor {
                user,
                sent_up_to,
                replay: None,
            },
        );
    }

    /// Offers consecutive events to every live session as one outbox message. A session that
    /// has already been sent the start of them (it finished a replay meanwhile, or bound after
    /// they were committed) gets the rest.
    fn send_run<O: Outlet<K, E>>(&mut self, run: &[E], outlet: &mut O) {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return;
        };
        let (first_seq, last_seq) = (first.seq(), last.seq());
        let mut whole = None;
        self.sessions.retain(|&session, cursor| {
            if cursor.replay.is_some() || cursor.sent_up_to >= last_seq {
                return true;
            }
            let keep = if cursor.sent_up_to < first_seq {
                let whole = whole.get_or_insert_with(|| outlet.batch(run));
                outlet.offer(session, whole)
            } else {
                let rest: Vec<E> = run
                    .iter()
                    .filter(|e| e.seq() > cursor.sent_up_to)
                    .cloned()
                    .collect();
                let rest = outlet.batch(&rest);
                outlet.offer(session, &rest)
            };
            cursor.sent_up_to = last_seq;
            keep
        });
    }

    fn send_membership_event<O: Outlet<K, E>>(
        &mut self,
        event: E,
        change: MembershipChange,
        outlet: &mut O,
    ) {
        if let MembershipChange::Joined(user) = change {
            // The new member's open sessions see the event that adds them, and all after it.
            self.members.insert(user);
            for session in outlet.sessions_of(user) {
                if !self.sessions.contains_key(&session) {
                    self.bind(session, user, event.seq().prev(), outlet);
                }
            }
        }
        self.send_run(std::slice::from_ref(&event), outlet);
        if let MembershipChange::Left(user) = change {
            self.members.remove(&user);
            self.sessions.retain(|&session, cursor| {
                let stays = cursor.user != user;
                if !stays {
                    outlet.bound(session, false);
                }
                stays
            });
        }
    }
}

#[cfg(test)]
mod tests;
