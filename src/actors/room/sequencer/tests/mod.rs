//! Property tests of the sequencer: random interleavings of commits (arriving out of order,
//! twice, or never), sweeps, gap fills, sessions that open, subscribe, resume, overflow and
//! close, members that join and leave, replay reads answered late or superseded, and restarts
//! that carry the sessions to a fresh sequencer. For every session, what it is sent is checked
//! against what it is owed: every seq after its start, exactly once, in order, and a `resumed`
//! that says so; and once everything has arrived, every bound session has the whole log.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

mod run;
mod world;

use run::{op, Op, Run};
use world::{Event, Key, Seen};

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
