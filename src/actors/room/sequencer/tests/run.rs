//! One run of the property tests: the operations, and how each drives the sequencer and the
//! world around it.

use std::collections::{HashMap, HashSet};

use parley_types::{Seq, UserId};
use proptest::prelude::*;

use super::super::{MembershipChange, ReplayRead, ReplayStep, Sequencer};
use super::world::{Call, Event, Key, Seen, World, FIRST_MEMBERS};

pub(super) const USERS: i64 = 5;
/// Small, so that replays and gap fills take several reads.
pub(super) const LOG_BATCH: usize = 3;

#[derive(Clone, Debug)]
pub(super) enum Op {
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

pub(super) fn op() -> impl Strategy<Value = Op> {
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

pub(super) struct Run {
    pub(super) world: World,
    pub(super) sequencer: Sequencer<Key, Event>,
    /// Events committed and not yet arrived at the room.
    pub(super) on_the_way: Vec<Event>,
    /// Replay reads asked for and not answered.
    /// Replay reads asked for and not answered, with where the log ended when each was asked:
    /// the read runs at some moment between then and its answer.
    pub(super) reads: Vec<(ReplayRead<Key>, Seq)>,
    pub(super) next_key: Key,
    /// The highest seq the room has been told of (an event, a sweep, a log read, its start):
    /// what a session that subscribes now is not owed.
    pub(super) known_to_room: Seq,
}

pub(super) fn pick<T>(items: &[T], n: usize) -> Option<&T> {
    if items.is_empty() {
        None
    } else {
        items.get(n % items.len())
    }
}

impl Run {
    pub(super) fn new() -> Self {
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

    pub(super) fn open_sessions(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.world.directory.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    pub(super) fn flush(&mut self) {
        self.world.call = Call::Flush;
        self.sequencer.flush(&mut self.world);
        self.world.call = Call::Other;
    }

    pub(super) fn gap_fill(&mut self) {
        let events = self
            .world
            .read_log(self.sequencer.delivered(), LOG_BATCH, self.world.end);
        let whole_log = events.len() < LOG_BATCH;
        self.tell_room(events.last().map(|e| e.seq));
        self.sequencer.log_read(events, whole_log);
        self.flush();
    }

    pub(super) fn answer_replay(&mut self, n: usize) {
        if self.reads.is_empty() {
            return;
        }
        let (read, asked_at) = self.reads.remove(n % self.reads.len());
        let span = u64::try_from(self.world.end - asked_at).unwrap_or(0) + 1;
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

    pub(super) fn tell_room(&mut self, seq: Option<Seq>) {
        if let Some(seq) = seq {
            self.known_to_room = self.known_to_room.max(seq);
        }
    }

    pub(super) fn accept(&mut self, event: Event) {
        self.tell_room(Some(event.seq));
        self.sequencer.accept(event);
    }

    pub(super) fn apply(&mut self, op: Op) {
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
    pub(super) fn restart(&mut self) {
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
    pub(super) fn settle(&mut self) {
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
