//! Who is online. A user is online while at least one of their sessions is open, on any node.
//!
//! The `Presence` actor counts this node's sessions per user and, with other nodes, what they
//! report over the bus. When a user's state changes it tells the sessions here of every user
//! who shares a chat with them (`presence` frames); each node tells its own sessions, so each
//! session hears a change once. Going offline is debounced: the frame waits `grace`, and a
//! session opened meanwhile (a reconnect, a page reload) cancels it, so nobody sees a flap.
//!
//! Nothing here writes to the database per connect: state lives in memory, and `last_seen_at`
//! is written at most once a minute per user (for users online here, and once for each who
//! went offline since), in one transaction per minute. Announcements are bounded: one in
//! flight per user, whose contacts are read in one query, capped at `MAX_CONTACTS`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use parley_types::UserId;

use super::cluster_bus::ClusterBus;
use super::db_executor::{ask, DbExecutor};
use super::db_ops::{ContactsOf, RecordLastSeen};
use super::messages::Outbound;
use super::session_directory::SessionDirectory;
use super::ws_protocol::{PresenceData, PresenceStatus, ServerFrame};
use crate::config::PresenceSettings;
use crate::domain::{Chat, ChatSummary, Timestamp, User};
use crate::metrics::Metrics;

/// Most users told of one user's change (the first this many who share a chat with them).
const MAX_CONTACTS: i64 = 10_000;
/// How often a node tells the others which users have sessions on it.
pub const ROSTER_EVERY: Duration = Duration::from_secs(10);
/// A user another node reported and has not confirmed for this long is taken as gone from it
/// (that node died, or the bus lost its message).
const REMOTE_EXPIRY: Duration = Duration::from_secs(35);

/// What everyone may read of presence at once: who is online now, and when those who went
/// offline here were last seen (until that is written to the database).
#[derive(Clone, Default)]
pub struct PresenceBoard {
    state: Arc<RwLock<BoardState>>,
}

#[derive(Default)]
struct BoardState {
    online: HashSet<UserId>,
    went_offline: HashMap<UserId, Timestamp>,
}

impl PresenceBoard {
    fn read<R>(&self, f: impl FnOnce(&BoardState) -> R) -> R {
        // Every update is a single insert or remove, so a poisoned lock holds whole state.
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write(&self, f: impl FnOnce(&mut BoardState)) {
        f(&mut self.state.write().unwrap_or_else(PoisonError::into_inner));
    }

    /// Those of `users` with no open session on any node, sorted: who may be owed a push.
    pub fn offline_among(&self, users: impl Iterator<Item = UserId>) -> Vec<UserId> {
        let mut offline: Vec<UserId> =
            self.read(|s| users.filter(|u| !s.online.contains(u)).collect());
        offline.sort_unstable();
        offline
    }

    /// Whether the user has an open session on some node.
    pub fn is_online(&self, user_id: UserId) -> bool {
        self.read(|s| s.online.contains(&user_id))
    }

    /// `(online, last_seen_at)` of a user, given what the database last recorded.
    fn seen(&self, user_id: UserId, recorded: Option<Timestamp>) -> (bool, Option<Timestamp>) {
        self.read(|s| {
            if s.online.contains(&user_id) {
                (true, Some(Timestamp::now()))
            } else {
                let here = s.went_offline.get(&user_id).copied();
                (false, here.max(recorded))
            }
        })
    }

    /// Fills in the presence of the members who show it in this chat; the others' stays null,
    /// as the database layer loaded it (`MemberRow::into_domain`).
    fn show_members(&self, chat: &mut Chat) {
        for member in chat.members.iter_mut().filter(|m| m.shows_presence) {
            let (online, last_seen_at) = self.seen(member.user_id, member.last_seen_at);
            member.online = Some(online);
            member.last_seen_at = last_seen_at;
        }
    }

    /// The chat with its members' presence filled in.
    pub fn showing(&self, mut chat: Chat) -> Chat {
        self.show_members(&mut chat);
        chat
    }

    /// The chats with their members' presence filled in.
    pub fn showing_chats(&self, mut chats: Vec<ChatSummary>) -> Vec<ChatSummary> {
        for summary in &mut chats {
            self.show_members(&mut summary.chat);
        }
        chats
    }

    /// The user with its presence filled in, where the database marked it as visible to the
    /// caller (`online` set).
    pub fn showing_user(&self, mut user: User) -> User {
        if user.online.is_some() {
            let (online, last_seen_at) = self.seen(user.id, user.last_seen_at);
            user.online = Some(online);
            user.last_seen_at = last_seen_at;
        }
        user
    }
}

fn presence_frame(user_id: UserId, online: bool) -> Option<ByteString> {
    let frame = ServerFrame::Presence {
        data: PresenceData {
            user_id,
            status: if online {
                PresenceStatus::Online
            } else {
                PresenceStatus::Offline
            },
        },
    };
    serde_json::to_string(&frame).ok().map(ByteString::from)
}

/// A session of this user opened here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionOpened {
    pub user_id: UserId,
}

/// A session of this user here ended.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub user_id: UserId,
}

/// Another node says whether these users have sessions on it: `here` for users that do (a
/// change, or its periodic roster, which confirms them), not `here` for a user that no longer
/// does.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RemotePresence {
    pub node: String,
    pub users: Vec<UserId>,
    pub here: bool,
}

pub struct Presence {
    board: PresenceBoard,
    db: Addr<DbExecutor>,
    directory: SessionDirectory,
    metrics: Arc<Metrics>,
    bus: Option<ClusterBus>,
    settings: PresenceSettings,
    /// Open sessions here, per user.
    local: HashMap<UserId, usize>,
    /// Nodes that reported the user, and when they last confirmed it.
    remote: HashMap<UserId, HashMap<String, Instant>>,
    /// What this node's sessions are (being) told of each user; absent: offline.
    told_online: HashSet<UserId>,
    /// Offline announcements waiting out the grace period.
    pending_offline: HashMap<UserId, SpawnHandle>,
    /// Users whose announcement is in flight; each sends the state current when it goes out.
    announcing: HashSet<UserId>,
    /// Users who went offline since the last flush, and when.
    unsaved: HashMap<UserId, i64>,
}

impl Presence {
    pub fn new(
        board: PresenceBoard,
        db: Addr<DbExecutor>,
        directory: SessionDirectory,
        metrics: Arc<Metrics>,
        bus: Option<ClusterBus>,
        settings: PresenceSettings,
    ) -> Self {
        Presence {
            board,
            db,
            directory,
            metrics,
            bus,
            settings,
            local: HashMap::new(),
            remote: HashMap::new(),
            told_online: HashSet::new(),
            pending_offline: HashMap::new(),
            announcing: HashSet::new(),
            unsaved: HashMap::new(),
        }
    }

    fn online_anywhere(&self, user_id: UserId) -> bool {
        self.local.contains_key(&user_id)
            || self.remote.get(&user_id).is_some_and(|n| !n.is_empty())
    }

    /// Brings what this node says of the user in line with where their sessions are.
    fn reconsider(&mut self, user_id: UserId, ctx: &mut Context<Self>) {
        if self.online_anywhere(user_id) {
            if let Some(pending) = self.pending_offline.remove(&user_id) {
                // Back within the grace period: the offline frame never goes out.
                ctx.cancel_future(pending);
            }
            if self.told_online.insert(user_id) {
                self.board.write(|s| {
                    s.online.insert(user_id);
                });
                self.announce(user_id, ctx);
            }
        } else if self.told_online.contains(&user_id)
            && !self.pending_offline.contains_key(&user_id)
        {
            let pending = ctx.run_later(self.settings.grace, move |this, ctx| {
                this.pending_offline.remove(&user_id);
                if this.online_anywhere(user_id) || !this.told_online.remove(&user_id) {
                    return;
                }
                let now = Timestamp::now();
                this.board.write(|s| {
                    s.online.remove(&user_id);
                    s.went_offline.insert(user_id, now);
                });
                this.unsaved.insert(user_id, now.millis());
                this.announce(user_id, ctx);
            });
            self.pending_offline.insert(user_id, pending);
        }
    }

    /// Tells the sessions here of everyone who shares a chat with the user its current state.
    fn announce(&mut self, user_id: UserId, ctx: &mut Context<Self>) {
        if !self.announcing.insert(user_id) {
            return;
        }
        let db = self.db.clone();
        let contacts = async move {
            ask(
                &db,
                ContactsOf {
                    user_id,
                    limit: MAX_CONTACTS,
                },
            )
            .await
        };
        ctx.spawn(contacts.into_actor(self).map(move |found, this, _| {
            this.announcing.remove(&user_id);
            let contacts = match found {
                Ok(contacts) => contacts,
                Err(e) => {
                    tracing::warn!(user.id = %user_id, error = %e.chain(), "presence not announced");
                    return;
                }
            };
            let online = this.told_online.contains(&user_id);
            let Some(frame) = presence_frame(user_id, online) else {
                return;
            };
            let outbound = Outbound::one(frame);
            for contact in contacts {
                for session in this.directory.sessions_of(contact) {
                    session.offer(&outbound, None, &this.metrics);
                }
            }
        }));
    }

    /// Writes `last_seen_at` for the users online here and those who went offline since the
    /// last flush.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let now = Timestamp::now().millis();
        let mut seen: Vec<(UserId, i64)> = self.unsaved.drain().collect();
        seen.extend(self.local.keys().map(|&user_id| (user_id, now)));
        if seen.is_empty() {
            return;
        }
        let written = seen.clone();
        let db = self.db.clone();
        let record = async move { ask(&db, RecordLastSeen { seen }).await };
        ctx.spawn(
            record
                .into_actor(self)
                .map(move |result, this, _| match result {
                    // The database has them now; keep only what is newer (gone offline since).
                    Ok(()) => this.board.write(|s| {
                        for (user_id, at) in written {
                            if s.went_offline
                                .get(&user_id)
                                .is_some_and(|t| t.millis() <= at)
                            {
                                s.went_offline.remove(&user_id);
                            }
                        }
                    }),
                    Err(e) => tracing::warn!(error = %e.chain(), "last_seen_at not written"),
                }),
        );
    }

    /// Tells the other nodes which users have sessions here, and forgets what they have not
    /// confirmed for too long.
    fn roster(&mut self, ctx: &mut Context<Self>) {
        if let Some(bus) = &self.bus {
            let users: Vec<UserId> = self.local.keys().copied().collect();
            bus.publish_presence(&users, true);
        }
        let now = Instant::now();
        let mut lapsed = Vec::new();
        self.remote.retain(|&user_id, nodes| {
            nodes.retain(|_, heard| now.duration_since(*heard) < REMOTE_EXPIRY);
            if nodes.is_empty() {
                lapsed.push(user_id);
            }
            !nodes.is_empty()
        });
        for user_id in lapsed {
            self.reconsider(user_id, ctx);
        }
    }
}

impl Actor for Presence {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.flush_every, Self::flush);
        if self.bus.is_some() {
            ctx.run_interval(ROSTER_EVERY, Self::roster);
        }
    }
}

impl Handler<SessionOpened> for Presence {
    type Result = ();

    fn handle(&mut self, opened: SessionOpened, ctx: &mut Context<Self>) {
        let count = self.local.entry(opened.user_id).or_default();
        *count += 1;
        if *count == 1 {
            if let Some(bus) = &self.bus {
                bus.publish_presence(&[opened.user_id], true);
            }
        }
        self.reconsider(opened.user_id, ctx);
    }
}

impl Handler<SessionClosed> for Presence {
    type Result = ();

    fn handle(&mut self, closed: SessionClosed, ctx: &mut Context<Self>) {
        let Some(count) = self.local.get_mut(&closed.user_id) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.local.remove(&closed.user_id);
            if let Some(bus) = &self.bus {
                bus.publish_presence(&[closed.user_id], false);
            }
        }
        self.reconsider(closed.user_id, ctx);
    }
}

impl Handler<RemotePresence> for Presence {
    type Result = ();

    fn handle(&mut self, report: RemotePresence, ctx: &mut Context<Self>) {
        let now = Instant::now();
        for user_id in report.users {
            if report.here {
                self.remote
                    .entry(user_id)
                    .or_default()
                    .insert(report.node.clone(), now);
            } else if let Some(nodes) = self.remote.get_mut(&user_id) {
                nodes.remove(&report.node);
                if nodes.is_empty() {
                    self.remote.remove(&user_id);
                }
            }
            self.reconsider(user_id, ctx);
        }
    }
}
