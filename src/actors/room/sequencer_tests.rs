//! Property tests of the sequencer: random interleavings of commits (arriving out of order,
//! twice, or never), sweeps, gap fills, sessions that open, subscribe, resume, overflow and
//! close, members that join and leave, replay reads answered late or superseded, and restarts
//! that carry the sessions to a fresh sequencer. For every session, what it is sent is checked
//! against what it is owed: every seq after its start, exactly once, in order, and a `resumed`
//! that says so; and once everything has arrived, every bound session has the whole log.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;

type Key = u32;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    seq: Seq,
    change: Option<MembershipChange>,
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
enum Seen {
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
enum Call {
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
struct World {
    /// The events written, in seq order.
    log: Vec<Event>,
    /// The highest seq committed.
    end: Seq,
    /// Seqs handed out but never written (only a hand-made change to the database does that):
    /// the room skips them.
    holes: HashSet<Seq>,
    /// Open sessions and their users.
    directory: HashMap<Key, UserId>,
    seen: HashMap<Key, Vec<Seen>>,
    /// Sessions whose next offer finds the outbox full.
    full: HashSet<Key>,
    call: Call,
}

impl World {
    fn record(&mut self, session: Key, seen: Seen) {
        self.seen.entry(session).or_default().push(seen);
    }

    fn log_end(&self) -> Seq {
        self.end
    }

    /// The last seq written.
    fn last_written(&self) -> Seq {
        self.log.last().map_or(Seq::ZERO, |e| e.seq)
    }

    /// The events after `after`, at most `limit`, of the log as it was when it ended at `end`.
    fn read_log(&self, after: Seq, limit: usize, end: Seq) -> Vec<Event> {
        self.log
            .iter()
            .filter(|e| e.seq > after && e.seq <= end)
            .take(limit)
            .cloned()
            .collect()
    }

    /// The members once every event of the log is applied.
    fn members(&self) -> HashSet<UserId> {
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

const FIRST_MEMBERS: [i64; 3] = [1, 2, 3];
const USERS: i64 = 5;
/// Small, so that replays and gap fills take several reads.
const LOG_BATCH: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    /// Commits events; `shape` picks each one's kind, `arrive` which reach the room at once
    /// (the others arrive later, or never).
    Commit {
        shape: Vec<u8>,
        arrive: Vec<bool>,
    },
    /// An event still on its way arrives (possibly a second time).
    Arrive {
        pick: usize,
        again: bool,
    },
    Flush,
    /// A sweep says how far the log goes.
    Sweep,
    GapFill,
    Open {
        user: i64,
    },
    Subscribe {
        pick: usize,
    },
    /// Resume from `back` seqs before the end of the log (may be past it).
    Resume {
        pick: usize,
        back: i64,
    },
    /// Answers one outstanding replay read.
    AnswerReplay {
        pick: usize,
    },
    Close {
        pick: usize,
    },
    Overflow {
        pick: usize,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 1..5), prop::collection::vec(any::<bool>(), 5))
            .prop_map(|(shape, arrive)| Op::Commit { shape, arrive }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, again)| Op::Arrive { pick, again }),
        4 => Just(Op::Flush),
        1 => Just(Op::Sweep),
        2 => Just(Op::GapFill),
        2 => (1..=USERS).prop_map(|user| Op::Open { user }),
        2 => any::<usize>().prop_map(|pick| Op::Subscribe { pick }),
        2 => (any::<usize>(), -2..8i64).prop_map(|(pick, back)| Op::Resume { pick, back }),
        4 => any::<usize>().prop_map(|pick| Op::AnswerReplay { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Close { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Overflow { pick }),
        1 => Just(Op::Restart),
    ]
}

struct Run {
    world: World,
    sequencer: Sequencer<Key, Event>,
    /// Events committed and not yet arrived at the room.
    on_the_way: Vec<Event>,
    /// Replay reads asked for and not answered.
    /// Replay reads asked for and not answered, with where the log ended when each was asked:
    /// the read runs at some moment between then and its answer.
    reads: Vec<(ReplayRead<Key>, Seq)>,
    next_key: Key,
    /// The highest seq the room has been told of (an event, a sweep, a log read, its start):
    /// what a session that subscribes now is not owed.
    known_to_room: Seq,
}

fn pick<T>(items: &[T], n: usize) -> Option<&T> {
    if items.is_empty() {
        None
    } else {
        items.get(n % items.len())
    }
}

impl Run {
    fn new() -> Self {
        Run {
            world: World {
                log: Vec::new(),
                end: Seq::ZERO,
                holes: HashSet::new(),
                directory: HashMap::new(),
                seen: HashMap::new(),
                full: HashSet::new(),
                call: Call::Other,
            },
            sequencer: Sequencer::new(FIRST_MEMBERS.iter().copied().map(UserId), Seq::ZERO),
            on_the_way: Vec::new(),
            reads: Vec::new(),
            next_key: 0,
            known_to_room: Seq::ZERO,
        }
    }

    fn open_sessions(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.world.directory.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    fn flush(&mut self) {
        self.world.call = Call::Flush;
        self.sequencer.flush(&mut self.world);
        self.world.call = Call::Other;
    }

    fn gap_fill(&mut self) {
        let events = self
            .world
            .read_log(self.sequencer.delivered(), LOG_BATCH, self.world.end);
        let whole_log = events.len() < LOG_BATCH;
        self.tell_room(events.last().map(|e| e.seq));
        self.sequencer.log_read(events, whole_log);
        self.flush();
    }

    fn answer_replay(&mut self, n: usize) {
        if self.reads.is_empty() {
            return;
        }
        let (read, asked_at) = self.reads.remove(n % self.reads.len());
        let span = asked_at.count_to(self.world.end) + 1;
        let read_at = Seq(asked_at.get() + (n as u64 % span) as i64);
        let events = self.world.read_log(read.after, LOG_BATCH, read_at);
        let full = events.len() >= LOG_BATCH;
        if let ReplayStep::More(next) =
            self.sequencer
                .replay_read(read, events, full, &mut self.world)
        {
            self.reads.push((next, self.world.end));
        }
    }

    fn tell_room(&mut self, seq: Option<Seq>) {
        if let Some(seq) = seq {
            self.known_to_room = self.known_to_room.max(seq);
        }
    }

    fn accept(&mut self, event: Event) {
        self.tell_room(Some(event.seq));
        self.sequencer.accept(event);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Commit { shape, arrive } => {
                let mut members = self.world.members();
                for (i, kind) in shape.into_iter().enumerate() {
                    let seq = self.world.log_end().next();
                    self.world.end = seq;
                    if kind >= 250 {
                        self.world.holes.insert(seq);
                        continue;
                    }
                    let user = UserId(i64::from(kind) % USERS + 1);
                    let change = match kind % 8 {
                        0 if !members.contains(&user) => {
                            members.insert(user);
                            Some(MembershipChange::Joined(user))
                        }
                        1 if members.contains(&user) => {
                            members.remove(&user);
                            Some(MembershipChange::Left(user))
                        }
                        _ => None,
                    };
                    let event = Event { seq, change };
                    self.world.log.push(event.clone());
                    if arrive.get(i).copied().unwrap_or(true) {
                        self.accept(event);
                    } else {
                        self.on_the_way.push(event);
                    }
                }
            }
            Op::Arrive { pick: n, again } => {
                if self.on_the_way.is_empty() {
                    return;
                }
                let i = n % self.on_the_way.len();
                let event = if again {
                    self.on_the_way.get(i).cloned()
                } else {
                    Some(self.on_the_way.remove(i))
                };
                if let Some(event) = event {
                    self.accept(event);
                }
            }
            Op::Flush => self.flush(),
            Op::Sweep => {
                self.tell_room(Some(self.world.log_end()));
                self.sequencer.note_committed(self.world.log_end());
            }
            Op::GapFill => self.gap_fill(),
            Op::Open { user } => {
                self.next_key += 1;
                self.world.directory.insert(self.next_key, UserId(user));
            }
            Op::Subscribe { pick: n } => {
                let Some(&session) = pick(&self.open_sessions(), n) else {
                    return;
                };
                let Some(&user) = self.world.directory.get(&session) else {
                    return;
                };
                self.world.call = Call::Subscribe(self.known_to_room);
                self.sequencer.subscribe(session, user, &mut self.world);
                self.world.call = Call::Other;
            }
            Op::Resume { pick: n, back } => {
                let Some(&session) = pick(&self.open_sessions(), n) else {
                    return;
                };
                let Some(&user) = self.world.directory.get(&session) else {
                    return;
                };
                let after = Seq((self.world.log_end().get() - back).max(0));
                if let Ok(read) = self.sequencer.resume(session, user, after, &mut self.world) {
                    self.world.record(
                        session,
                        Seen::Owed {
                            start: after,
                            resume: true,
                        },
                    );
                    self.reads.push((read, self.world.end));
                }
            }
            Op::AnswerReplay { pick: n } => self.answer_replay(n),
            Op::Close { pick: n } => {
                let Some(&session) = pick(&self.open_sessions(), n) else {
                    return;
                };
                self.world.directory.remove(&session);
                self.sequencer.forget(session);
            }
            Op::Overflow { pick: n } => {
                if let Some(&session) = pick(&self.open_sessions(), n) {
                    self.world.full.insert(session);
                }
            }
            Op::Restart => self.restart(),
        }
    }

    /// The room fails: a fresh one loads the chat's members and the log's end, binds the
    /// sessions the failed one had (each fed from the log from where it got to) and the
    /// members' other sessions. Reads the failed room asked for are never answered; events
    /// on their way reach the fresh room.
    fn restart(&mut self) {
        let carried: Vec<(Key, UserId, Seq)> = self.sequencer.cursors().collect();
        let members = self.world.members();
        self.sequencer = Sequencer::new(members, self.world.log_end());
        self.known_to_room = self.world.log_end();
        self.reads.clear();
        for &(session, _, sent_up_to) in &carried {
            if self.world.directory.contains_key(&session) {
                self.world.record(
                    session,
                    Seen::Owed {
                        start: sent_up_to,
                        resume: true,
                    },
                );
            }
        }
        let carried_open: Vec<(Key, UserId, Seq)> = carried
            .into_iter()
            .filter(|(k, _, _)| self.world.directory.contains_key(k))
            .collect();
        let reads = self.sequencer.take_over(carried_open, &mut self.world);
        let end = self.world.end;
        self.reads.extend(reads.into_iter().map(|r| (r, end)));
        self.world.call = Call::Start(self.sequencer.delivered());
        self.sequencer.bind_members(&mut self.world);
        self.world.call = Call::Other;
    }

    /// Lets everything settle: the events on their way arrive, sweeps and gap fills read the
    /// rest, every replay is answered to its end.
    fn settle(&mut self) {
        for event in std::mem::take(&mut self.on_the_way) {
            self.accept(event);
        }
        self.tell_room(Some(self.world.log_end()));
        self.sequencer.note_committed(self.world.log_end());
        for _ in 0..10_000 {
            self.flush();
            let before = self.sequencer.delivered();
            if self.sequencer.behind() && before < self.world.last_written() {
                self.gap_fill();
            } else if !self.reads.is_empty() {
                self.answer_replay(0);
            } else {
                return;
            }
        }
        panic!("the sequencer did not settle");
    }
}

/// Checks one session's stream: within what it is owed, each seq once and in order, a replay
/// ends with a `resumed` that covers exactly what was replayed, nothing after it is unbound or
/// dropped. Returns the last seq it was sent, if it is still owed the live stream.
fn check_stream(
    session: Key,
    seen: &[Seen],
    log: &[Event],
    holes: &HashSet<Seq>,
) -> Result<Option<Seq>, String> {
    // The next seq the session is owed, and whether a `resumed` is owed first.
    let mut next: Option<Seq> = None;
    let mut joining: Option<UserId> = None;
    let mut replaying: Option<Seq> = None;
    for (i, item) in seen.iter().enumerate() {
        let at = || format!("session {session}, item {i}: {seen:?}");
        match *item {
            Seen::Owed { start, resume } => {
                next = Some(start.next());
                replaying = resume.then(|| start.next());
                joining = None;
            }
            Seen::OwedFromJoin(user) => {
                next = None;
                replaying = None;
                joining = Some(user);
            }
            Seen::Event(seq) if joining.is_some() => {
                let adds = log.iter().find(|e| e.seq == seq).is_some_and(|e| {
                    joining.is_some_and(|u| e.change == Some(MembershipChange::Joined(u)))
                });
                if !adds {
                    return Err(format!(
                        "first sent {seq:?}, not the event that adds it; {}",
                        at()
                    ));
                }
                joining = None;
                next = Some(seq.next());
            }
            Seen::Event(seq) => {
                let Some(mut expected) = next else {
                    return Err(format!("an event when none is owed; {}", at()));
                };
                while holes.contains(&expected) {
                    expected = expected.next();
                }
                if seq != expected {
                    return Err(format!("sent {seq:?}, owed {expected:?}; {}", at()));
                }
                next = Some(seq.next());
            }
            Seen::Resumed { from, to } => {
                // Seqs never written count as sent.
                while let Some(skipped) = next.filter(|n| holes.contains(n) && *n <= to) {
                    next = Some(skipped.next());
                }
                if replaying != Some(from) || next != Some(to.next()) {
                    return Err(format!(
                        "resumed {from:?}..={to:?} after a replay from {replaying:?} to {next:?}; {}",
                        at()
                    ));
                }
                replaying = None;
            }
            Seen::Unbound | Seen::Dropped => {
                next = None;
                replaying = None;
                joining = None;
            }
        }
    }
    Ok(if replaying.is_some() {
        None
    } else {
        next.map(Seq::prev)
    })
}

fn check(run: &Run, settled: bool) -> Result<(), String> {
    for (&session, seen) in &run.world.seen {
        let last = check_stream(session, seen, &run.world.log, &run.world.holes)?;
        if settled && run.sequencer.is_bound(session) {
            let Some(last) = last else {
                return Err(format!("session {session} bound but not live: {seen:?}"));
            };
            // (A session that resumed after more than the log holds is owed what comes after.)
            if last < run.world.last_written() {
                return Err(format!(
                    "session {session} has up to {last:?} of {:?}: {seen:?}",
                    run.world.log_end()
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        max_shrink_iters: 10_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_session_gets_every_seq_after_its_start_once_and_in_order(
        ops in prop::collection::vec(op(), 1..80)
    ) {
        let mut run = Run::new();
        for op in ops {
            run.apply(op);
            if let Err(e) = check(&run, false) {
                prop_assert!(false, "{}", e);
            }
        }
        run.settle();
        if let Err(e) = check(&run, true) {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn a_member_who_joins_is_sent_the_event_that_adds_them_and_the_ones_after() {
    let mut run = Run::new();
    run.apply(Op::Open { user: 4 });
    run.apply(Op::Subscribe { pick: 0 });
    assert!(!run.sequencer.is_bound(1), "not a member yet");
    run.world.log.push(Event {
        seq: Seq(1),
        change: Some(MembershipChange::Joined(UserId(4))),
    });
    run.world.end = Seq(1);
    run.sequencer.accept(Event {
        seq: Seq(1),
        change: Some(MembershipChange::Joined(UserId(4))),
    });
    run.apply(Op::Commit {
        shape: vec![2],
        arrive: vec![true],
    });
    run.apply(Op::Flush);
    assert_eq!(
        run.world.seen.get(&1),
        Some(&vec![
            Seen::OwedFromJoin(UserId(4)),
            Seen::Event(Seq(1)),
            Seen::Event(Seq(2)),
        ])
    );
    assert_eq!(check(&run, true), Ok(()));
}

#[test]
fn the_checker_catches_a_skipped_and_a_repeated_seq() {
    let owed = Seen::Owed {
        start: Seq(2),
        resume: false,
    };
    assert!(check_stream(
        1,
        &[owed.clone(), Seen::Event(Seq(3)), Seen::Event(Seq(4))],
        &[],
        &HashSet::new()
    )
    .is_ok());
    assert!(check_stream(
        1,
        &[owed.clone(), Seen::Event(Seq(4))],
        &[],
        &HashSet::new()
    )
    .is_err());
    assert!(check_stream(
        1,
        &[owed.clone(), Seen::Event(Seq(3)), Seen::Event(Seq(3))],
        &[],
        &HashSet::new()
    )
    .is_err());
    assert!(check_stream(1, &[Seen::Event(Seq(1))], &[], &HashSet::new()).is_err());
    let resume = Seen::Owed {
        start: Seq(0),
        resume: true,
    };
    assert!(check_stream(
        1,
        &[
            resume.clone(),
            Seen::Event(Seq(1)),
            Seen::Resumed {
                from: Seq(1),
                to: Seq(1)
            }
        ],
        &[],
        &HashSet::new()
    )
    .is_ok());
    assert!(check_stream(
        1,
        &[
            resume,
            Seen::Event(Seq(1)),
            Seen::Resumed {
                from: Seq(1),
                to: Seq(2)
            }
        ],
        &[],
        &HashSet::new()
    )
    .is_err());
}
