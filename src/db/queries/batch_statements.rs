//! The statements of a send batch that each backend runs its own way.
//!
//! On PostgreSQL every statement is a round trip, and diesel caches the prepared statement of
//! neither an `UPDATE`, a multi-row `INSERT` nor a raw query (each would cost a parse, a bind and a
//! close), so a batch is six round trips whatever its size: `BEGIN`; lock the chats; the checks,
//! pipelined (stored keys and memberships, and as the batch needs them the messages replied to and
//! thread roots, attachments, every member where `@all` was written, devices and blocks); the seqs,
//! messages, events, thread roots, mention rows, push rows, the authors' counts and presence in one
//! statement; the idempotency records; `COMMIT`. (A batch with attachments adds their link; one
//! whose thread roots hold files, a read of them; one naming `@name`s this process has not seen
//! yet, a read of their ids before the lock.) The lock is not pipelined with the checks, which
//! must run after it is granted (to see a member removed meanwhile): diesel-async sends a statement
//! it has not prepared on the connection yet only once the preparation has come back, behind any
//! that were. Nor folded into one of them: a statement that waits for a lock has already taken its
//! snapshot. Every statement has a fixed text with arrays for its rows, so it is parsed once per
//! connection, and planned once: they run on the send lane's connections
//! (`db::PG_SEND_LANE_SESSION`), whose plans are made with only index probes and nested loops
//! allowed. So every statement here finds its rows by key; one whose best plan depends on its
//! values does not belong in a send round.
//! SQLite runs in-process: there a statement per row costs little (and diesel-async cannot send
//! it a multi-row `INSERT`).

use parley_types::{Attachment, AttachmentId, ChatId, ChatKind, MessageId, Reaction};
use parley_types::{SubscriptionId, UserId};
use std::collections::{HashMap, HashSet};
use std::future::Future;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;

use super::fixed_text::FixedText;
use super::history_page::PageRow;
use crate::db::rows::{mentionable, AttachmentRow, IdempotencyRow, MemberNameRow, MessageRow};
use crate::db::schema::{attachments, chats, user_blocks, users};
use crate::db::PgConn;
use crate::domain::mentions::MentionableMember;
use crate::domain::search::index_terms;

/// A message of a batch that passed its checks; `pos` is its place (from 1) among the batch's
/// messages to the same chat, so that its seq is the chat's last seq before the batch + `pos`.
pub struct PendingMessage<'a> {
    pub chat_id: ChatId,
    pub pos: i64,
    pub author_id: UserId,
    pub content: &'a str,
    pub reply_to_id: Option<MessageId>,
    pub client_id: Option<&'a str>,
    /// The members it mentions, as the JSON array the row keeps.
    pub mention_ids: String,
    pub thread_root_id: Option<MessageId>,
}

/// A member a message of the batch mentions: the message's chat and `pos`, and the member.
pub type MentionRow = (ChatId, i64, UserId);

/// A notification a batch owes: a device, and the chat whose newest message concerns its
/// person (a row of `push_outbox`).
pub type PushRow = (SubscriptionId, ChatId);

/// A device of a member a room found offline, with what decides whether a message of the
/// chat concerns them: their level and mute there, and whether the chat is direct.
#[derive(Clone, Debug, PartialEq, Eq, QueryableByName)]
pub struct MemberDevice {
    #[diesel(sql_type = BigInt)]
    pub chat_id: ChatId,
    #[diesel(sql_type = BigInt)]
    pub user_id: UserId,
    #[diesel(sql_type = BigInt)]
    pub subscription_id: SubscriptionId,
    #[diesel(sql_type = Text)]
    pub notify_level: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub muted_until: Option<i64>,
    #[diesel(sql_type = Text)]
    pub kind: String,
}

/// How many seqs a batch takes in a chat, and how many of them are messages (a thread reply
/// takes two: its own, and the one of its root's `message.updated`).
#[derive(Clone, Copy, Debug)]
pub struct ChatCount {
    pub chat_id: ChatId,
    pub seqs: i64,
    pub messages: i64,
}

/// What a batch's thread replies change in their roots: each root's summary after the batch
/// (`StoredThread` as JSON), and a `message.updated` event of the root at each reply's
/// `pos` + 1 (written from this list on SQLite; PostgreSQL's store statement writes the same
/// events from the replies it stored: `thread_events!`).
#[derive(Clone, Debug, Default)]
pub struct ThreadWrites {
    pub roots: Vec<(MessageId, String)>,
    pub events: Vec<(ChatId, i64, MessageId)>,
}

/// What a batch's checks read, under the chats' locks.
#[derive(Default)]
pub struct BatchChecks {
    /// Idempotency records already stored under the batch's keys.
    pub stored_keys: Vec<IdempotencyRow>,
    /// The memberships among `member_pairs` that exist.
    pub memberships: HashSet<(ChatId, UserId)>,
    /// (blocker, blocked) among the batch's `direct_pairs`: sends refused.
    pub blocking: HashSet<(UserId, UserId)>,
    /// The messages replied to and the thread roots named, as they are under the chats' locks.
    pub referenced: HashMap<MessageId, MessageRow>,
    /// The reactions and attachments of the thread roots named, to complete the aggregates
    /// their `message.updated` events carry.
    pub root_reactions: HashMap<MessageId, Vec<Reaction>>,
    pub root_attachments: HashMap<MessageId, Vec<Attachment>>,
    /// The attachments the batch's sends name, locked until the transaction ends so that
    /// no other send can take one meanwhile.
    pub attachments: HashMap<AttachmentId, AttachmentRow>,
    /// The members (with their usernames and roles) of the chats where a send may mention
    /// someone, and each such chat's kind.
    pub mentionable: HashMap<ChatId, (ChatKind, Vec<MentionableMember>)>,
    /// The devices of the members of `offline_in` who have one, online or not (most often
    /// none: then the store statement has no push rows to write, and no part to plan for
    /// them).
    pub devices: Vec<MemberDevice>,
}

impl BatchChecks {
    /// Keeps the referenced rows, and the reactions of those that are thread roots.
    fn take_referenced(&mut self, rows: Vec<PageRow>, roots: &[MessageId]) -> QueryResult<()> {
        for row in rows {
            if roots.binary_search(&row.message.id).is_ok() {
                let reactions = row.reactions().map_err(|e| {
                    diesel::result::Error::DeserializationError(e.to_string().into())
                })?;
                self.root_reactions.insert(row.message.id, reactions);
            }
            self.referenced.insert(row.message.id, row.message);
        }
        Ok(())
    }

    /// The thread roots that were sent with attachments.
    fn roots_holding_files(&self, roots: &[MessageId]) -> Vec<MessageId> {
        roots
            .iter()
            .filter(|id| {
                self.referenced
                    .get(id)
                    .is_some_and(|row| row.attachment_count > 0)
            })
            .copied()
            .collect()
    }
}

#[derive(QueryableByName)]
struct MemberName {
    #[diesel(sql_type = BigInt)]
    chat_id: ChatId,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    user_id: UserId,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    role: String,
}

/// All the members of the chats where `@all` was written, with their names and roles.
const MENTIONED_MEMBERS: &str = "\
SELECT cm.chat_id, c.kind, cm.user_id, u.username, cm.role \
FROM chat_members cm JOIN users u ON u.id = cm.user_id JOIN chats c ON c.id = cm.chat_id \
WHERE cm.chat_id = ANY($1::int8[])";

/// What a batch's checks read.
#[derive(Clone, Debug, Default)]
pub struct CheckInputs {
    pub keys: Vec<(UserId, String)>,
    /// The (chat, user) memberships read, sorted and distinct: each send's author and the
    /// users its text names, in the send's chat.
    pub member_pairs: Vec<(ChatId, UserId)>,
    /// Messages replied to and thread roots, sorted and distinct.
    pub referenced: Vec<MessageId>,
    /// The thread roots among them.
    pub roots: Vec<MessageId>,
    pub attachment_ids: Vec<AttachmentId>,
    /// The chats where someone wrote `@all`: every member of them is read, with names and
    /// roles. (`@name`s resolve through `UsernameIds` and the memberships read anyway.)
    pub mention_all_in: Vec<ChatId>,
    /// The chats whose rooms found members offline, sorted and distinct: their members'
    /// devices are read (the batch keeps those of the members found offline).
    pub offline_in: Vec<ChatId>,
    /// `(other member, author)` of the sends into direct chats, sorted and distinct. A block
    /// of the author, or of the person who owns the author (a bot), refuses the send.
    pub direct_pairs: Vec<(UserId, UserId)>,
}

pub trait BatchStatements {
    /// Locks the rows of the chats that exist among `chat_ids` until the transaction ends,
    /// in id order (so that concurrent batches cannot deadlock); returns their ids, sorted.
    fn lock_chats<'a>(
        &'a mut self,
        chat_ids: &'a [ChatId],
    ) -> impl Future<Output = QueryResult<Vec<ChatId>>> + Send + 'a;

    /// Reads what the batch's checks need: stored keys among `keys`, the memberships among
    /// `member_pairs`, the rows of `referenced` (messages replied to and thread roots) and the
    /// reactions and attachments of `roots`, the rows of `attachment_ids` (locked, in id
    /// order), every member of the chats in `mention_all_in`, and the devices of the members
    /// of `offline_in`.
    fn batch_checks<'a>(
        &'a mut self,
        wanted: &'a CheckInputs,
    ) -> impl Future<Output = QueryResult<BatchChecks>> + Send + 'a;

    /// Gives each `(attachment, message, position)` to its message, if no message holds it
    /// yet; returns how many were given.
    fn link_attachments<'a>(
        &'a mut self,
        links: &'a [(AttachmentId, MessageId, i32)],
    ) -> impl Future<Output = QueryResult<usize>> + Send + 'a;

    /// Takes each chat's seqs (and sets its activity time), stores the messages under them
    /// with their `message.created` events, updates the thread roots they reply in with the
    /// roots' `message.updated` events, writes the mention rows (`mentions`: the same members
    /// as each message's `mention_ids`, which PostgreSQL reads them back from), queues the push
    /// notifications the messages owe (`pushes`, see `push_rows!`), and returns the stored rows.
    fn store_messages<'a>(
        &'a mut self,
        counts: &'a [ChatCount],
        pending: &'a [PendingMessage<'a>],
        mentions: &'a [MentionRow],
        threads: &'a ThreadWrites,
        pushes: &'a [PushRow],
        now: i64,
    ) -> impl Future<Output = QueryResult<Vec<MessageRow>>> + Send + 'a;

    /// Inserts idempotency records, skipping keys that exist; returns the keys inserted.
    fn insert_keys<'a>(
        &'a mut self,
        rows: &'a [IdempotencyRow],
    ) -> impl Future<Output = QueryResult<Vec<(UserId, String)>>> + Send + 'a;
}

/// The messages replied to and the thread roots a batch names, with their reactions.
const REFERENCED: &str = concat!(
    message_columns!(pg_reactions!()),
    " FROM messages m WHERE m.id = ANY($1)"
);

/// The memberships among the batch's (chat, user) pairs: a probe of the primary key per pair.
/// (`chat_id = ANY(…) AND user_id = ANY(…)` probed every chat × every user: 196 descents for
/// a batch of 14 sends into 14 chats, where these are 14; docs/benchmarks.md, "Memberships
/// read by pair".)
const MEMBER_PAIRS: &str = "SELECT cm.chat_id, cm.user_id FROM chat_members cm \
     JOIN unnest($1::int8[], $2::int8[]) AS want(chat_id, user_id) \
       ON cm.chat_id = want.chat_id AND cm.user_id = want.user_id";

#[derive(QueryableByName)]
struct MemberPair {
    #[diesel(sql_type = BigInt)]
    chat_id: ChatId,
    #[diesel(sql_type = BigInt)]
    user_id: UserId,
}

const FIND_KEYS: &str = "SELECT k.user_id, k.key, k.fingerprint, k.status, k.body, k.created_at, \
            k.message_id \
     FROM idempotency_keys k \
     JOIN unnest($1::int8[], $2::text[]) AS want(user_id, key) \
       ON k.user_id = want.user_id AND k.key = want.key";

/// The statement that stores a batch: the chats' seqs (`r`), the messages (`m`), their events
/// (`e`), their authors' counts (`a`) and presence (`p`); with thread replies also the roots'
/// summaries (`t`) and the roots' `message.updated` events; with mentions the mention rows
/// (`x`). One text per combination, each naming only the parameters it binds, so that a batch
/// without threads or mentions runs no more than one did before they existed.
/// `m` takes the messages' ids in seq order (`ORDER BY`: the ids are the insert's defaults,
/// evaluated above the sorted `SELECT`), so that within a chat a message's id rises with its
/// seq: the mentions page merges each chat's newest mentions by seq into one order by id
/// (`mention_page`).
macro_rules! store_messages {
    ($threads:expr, $events:expr, $mentions:expr, $push:expr) => {
        concat!(
            "WITH want AS (SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS w(id, n, k)), \
r AS (UPDATE chats SET last_seq = chats.last_seq + want.n, last_activity_at = $4, \
                       message_count = chats.message_count + want.k \
      FROM want WHERE chats.id = want.id \
      RETURNING chats.id, chats.last_seq - want.n AS base), \
m AS (INSERT INTO messages (chat_id, seq, author_id, kind, content, reply_to_id, client_id, \
                            created_at, deleted, search_terms, mention_ids, thread_root_id) \
      SELECT s.chat_id, r.base + s.pos, s.author_id, 'text', s.content, s.reply_to_id, \
             s.client_id, $4, false, s.search_terms, s.mention_ids, s.thread_root_id \
      FROM unnest($5::int8[], $6::int8[], $7::int8[], $8::text[], $9::int8[], $10::text[], \
                  $11::text[], $12::text[], $13::int8[]) \
           AS s(chat_id, pos, author_id, content, reply_to_id, client_id, search_terms, \
                mention_ids, thread_root_id) \
      JOIN r ON r.id = s.chat_id \
      ORDER BY s.chat_id, s.pos \
      RETURNING id, chat_id, seq, author_id, kind, content, reply_to_id, client_id, \
                created_at, edited_at, deleted, attachment_count, mention_ids, thread_root_id, \
                thread_summary), ",
            $threads,
            "e AS (INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at) \
      SELECT chat_id, seq, 'message.created', id, $4 FROM m",
            $events,
            "), ",
            $mentions,
            $push,
            "a AS (INSERT INTO chat_authors (chat_id, user_id, message_count) \
      SELECT chat_id, author_id, count(*) FROM m GROUP BY chat_id, author_id \
      ON CONFLICT (chat_id, user_id) \
      DO UPDATE SET message_count = chat_authors.message_count + EXCLUDED.message_count), \
p AS (UPDATE chat_members SET shows_presence = true \
      FROM (SELECT DISTINCT chat_id, author_id FROM m) AS a \
      WHERE chat_members.chat_id = a.chat_id AND chat_members.user_id = a.author_id \
        AND NOT chat_members.shows_presence) \
SELECT * FROM m"
        )
    };
}

/// The roots' summaries (`$14`, `$15`).
macro_rules! thread_summaries {
    () => {
        "t AS (UPDATE messages SET thread_summary = u.summary \
      FROM unnest($14::int8[], $15::text[]) AS u(id, summary) \
      WHERE messages.id = u.id), "
    };
}

/// The roots' `message.updated` events: each at the seq right after its reply's (the seq the
/// batch kept free for it: `ThreadWrites::events`), read from the stored replies in `m` rather
/// than bound as three more arrays joined to `r`.
macro_rules! thread_events {
    () => {
        " UNION ALL \
      SELECT chat_id, seq + 1, 'message.updated', thread_root_id, $4 FROM m \
      WHERE thread_root_id IS NOT NULL"
    };
}

/// The mention rows: one per member in each stored message's `mention_ids` (the JSON array the
/// batch wrote from the same list). Read back from `m` rather than joined to it from arrays of
/// `(chat, pos, user)`: the planner takes `m` for one row, so that join ran as a nested loop
/// over every mention × every message of the batch (7,650 comparisons for a batch of 51 sends
/// naming three members each). What mentions add to a batch of 32 went from 1.13 ms to 0.79 ms
/// (docs/benchmarks.md, "The send path's foreign keys, and the mention rows' join").
macro_rules! mention_rows {
    () => {
        "x AS (INSERT INTO message_mentions (user_id, message_id, chat_id, seq) \
      SELECT j.user_id::int8, m.id, m.chat_id, m.seq \
      FROM m CROSS JOIN LATERAL json_array_elements_text(m.mention_ids::json) AS j(user_id) \
      WHERE m.mention_ids <> '[]'), "
    };
}

/// The push notifications the batch owes (`o`): a row per `PushRow` (device and chat, decided
/// by the batch from its checks), arrays numbered from `$first`, after the chat's seq before
/// the batch. A row already owed for that device and chat stays as it is: it will send the
/// chat's newest message, this one or a later one.
///
/// A row the statement's snapshot shows is left alone before any insert is tried: an insert
/// that meets a row a claim or a settling is updating waits for that transaction to commit,
/// and in a busy chat, whose devices' rows are nearly always there, those waits held up the
/// chat's batches (the sends' p99: docs/benchmarks.md, issue 29). A row deleted by a settling
/// that has not committed yet is seen, and skipped. If that settling found nothing to send, it
/// waits for this batch and then owes its message (`PushClaims::await_chat_sends`); if it drops
/// the row (the device refused, or failed for a day; the person online, silenced or gone),
/// nothing more is owed to that device for it, and later sends queue afresh.
macro_rules! push_rows {
    ($a:literal, $b:literal) => {
        concat!(
            "o AS (INSERT INTO push_outbox (subscription_id, chat_id, after_seq, queued_at, due_at) \
      SELECT u.subscription_id, u.chat_id, r.base, $4, $4 \
      FROM unnest(",
            $a,
            "::int8[], ",
            $b,
            "::int8[]) AS u(subscription_id, chat_id) \
      JOIN r ON r.id = u.chat_id \
      WHERE NOT EXISTS (SELECT 1 FROM push_outbox q \
                        WHERE q.subscription_id = u.subscription_id AND q.chat_id = u.chat_id) \
      ON CONFLICT (subscription_id, chat_id) DO NOTHING), "
        )
    };
}

/// The devices of the chats' members who have one, with their level and mute in the chat and
/// the chat's kind: the chat's members flagged `has_devices` (a partial index), so that the
/// cost follows the members with a device, not the members offline (a chat of 20,000 members
/// probed the devices of every one found offline: docs/benchmarks.md, "The devices check in a
/// large chat"). Through a function (migration `members_with_devices`) that keeps one plan,
/// made with sequential scans ruled out, whichever connection calls it: planned on every run
/// (as every send statement was before the send lane), the devices check cost 2 ms to plan
/// and 0.1 ms to run.
const CHAT_DEVICES: &str = "\
SELECT chat_id, user_id, subscription_id, notify_level, muted_until, kind \
FROM parley_chat_devices($1)";

/// The store statement's texts: `[without threads, with][without mentions, with][without
/// push rows, with]`.
const STORE_TEXTS: [[[&str; 2]; 2]; 2] = [
    [
        [
            store_messages!("", "", "", ""),
            store_messages!("", "", "", push_rows!("$14", "$15")),
        ],
        [
            store_messages!("", "", mention_rows!(), ""),
            store_messages!("", "", mention_rows!(), push_rows!("$14", "$15")),
        ],
    ],
    [
        [
            store_messages!(thread_summaries!(), thread_events!(), "", ""),
            store_messages!(
                thread_summaries!(),
                thread_events!(),
                "",
                push_rows!("$16", "$17")
            ),
        ],
        [
            store_messages!(thread_summaries!(), thread_events!(), mention_rows!(), ""),
            store_messages!(
                thread_summaries!(),
                thread_events!(),
                mention_rows!(),
                push_rows!("$16", "$17")
            ),
        ],
    ],
];

const LINK_ATTACHMENTS: &str = "\
WITH l AS (UPDATE attachments SET message_id = l.message_id, position = l.position \
           FROM unnest($1::int8[], $2::int8[], $3::int4[]) AS l(id, message_id, position) \
           WHERE attachments.id = l.id AND attachments.message_id IS NULL \
           RETURNING attachments.message_id), \
c AS (UPDATE messages SET attachment_count = n.count \
      FROM (SELECT message_id, count(*) FROM l GROUP BY message_id) AS n(message_id, count) \
      WHERE messages.id = n.message_id) \
SELECT count(*) AS linked FROM l";

#[derive(QueryableByName)]
struct Linked {
    #[diesel(sql_type = BigInt)]
    linked: i64,
}

const INSERT_KEYS: &str = "\
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at, message_id) \
SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::int8[], \
                     $7::int8[]) \
ON CONFLICT (user_id, key) DO NOTHING \
RETURNING user_id, key";

#[derive(QueryableByName)]
struct UserKey {
    #[diesel(sql_type = BigInt)]
    user_id: UserId,
    #[diesel(sql_type = Text)]
    key: String,
}

impl BatchStatements for PgConn {
    async fn lock_chats<'a>(&'a mut self, chat_ids: &'a [ChatId]) -> QueryResult<Vec<ChatId>> {
        chats::table
            .filter(chats::id.eq_any(chat_ids))
            .order(chats::id)
            .select(chats::id)
            // Not `FOR UPDATE`: a send changes no key, and this lock must not keep read
            // markers waiting (`UnreadLocks`).
            .for_no_key_update()
            .load(self)
            .await
    }

    async fn batch_checks<'a>(&'a mut self, wanted: &'a CheckInputs) -> QueryResult<BatchChecks> {
        // Independent reads, sent together (pipelined on the one connection).
        let conn: &PgConn = self;
        let (users, key_texts): (Vec<UserId>, Vec<&str>) =
            wanted.keys.iter().map(|(u, k)| (*u, k.as_str())).unzip();
        let stored = async {
            if wanted.keys.is_empty() {
                return Ok(Vec::new());
            }
            FixedText(
                diesel::sql_query(FIND_KEYS)
                    .bind::<Array<BigInt>, _>(&users)
                    .bind::<Array<Text>, _>(&key_texts),
            )
            .load::<IdempotencyRow>(&mut &*conn)
            .await
        };
        let (pair_chats, pair_users): (Vec<ChatId>, Vec<UserId>) =
            wanted.member_pairs.iter().copied().unzip();
        let memberships = FixedText(
            diesel::sql_query(MEMBER_PAIRS)
                .bind::<Array<BigInt>, _>(&pair_chats)
                .bind::<Array<BigInt>, _>(&pair_users),
        )
        .load::<MemberPair>(&mut &*conn);
        // The rows replied to and the roots, with each one's reactions aggregated by the same
        // statement (as a history page does); a root's attachments, rare, are read after.
        let referenced = async {
            if wanted.referenced.is_empty() {
                return Ok(Vec::new());
            }
            FixedText(diesel::sql_query(REFERENCED).bind::<Array<BigInt>, _>(&wanted.referenced))
                .load::<PageRow>(&mut &*conn)
                .await
        };
        let attached = async {
            if wanted.attachment_ids.is_empty() {
                return Ok(Vec::new());
            }
            attachments::table
                .filter(attachments::id.eq_any(&wanted.attachment_ids))
                .order(attachments::id)
                .select(AttachmentRow::as_select())
                .for_update()
                .load::<AttachmentRow>(&mut &*conn)
                .await
        };
        let members = async {
            if wanted.mention_all_in.is_empty() {
                return Ok(Vec::new());
            }
            let rows: Vec<MemberName> = FixedText(
                diesel::sql_query(MENTIONED_MEMBERS)
                    .bind::<Array<BigInt>, _>(&wanted.mention_all_in),
            )
            .load(&mut &*conn)
            .await?;
            Ok(rows
                .into_iter()
                .map(|m| (m.chat_id, m.kind, m.user_id, m.username, m.role))
                .collect::<Vec<MemberNameRow>>())
        };
        let devices = async {
            if wanted.offline_in.is_empty() {
                return Ok(Vec::new());
            }
            FixedText(diesel::sql_query(CHAT_DEVICES).bind::<Array<BigInt>, _>(&wanted.offline_in))
                .load::<MemberDevice>(&mut &*conn)
                .await
        };
        // Most batches hold no send into a direct chat, and then send no query for blocks.
        let blocking = async {
            if wanted.direct_pairs.is_empty() {
                return Ok(Vec::new());
            }
            let (peers, authors): (Vec<UserId>, Vec<UserId>) =
                wanted.direct_pairs.iter().copied().unzip();
            // The authors' blocks, and (a block of a bot's owner covers the bot) their
            // owners'. Index probes per pair; one join on `a OR b` was six times slower for a
            // peer who blocks a thousand people (docs/large-db/moderation-plans.sql).
            user_blocks::table
                .filter(user_blocks::blocker_id.eq_any(&peers))
                .filter(user_blocks::blocked_id.eq_any(&authors))
                .select((user_blocks::blocker_id, user_blocks::blocked_id))
                .union_all(
                    users::table
                        .inner_join(
                            user_blocks::table
                                .on(users::bot_owner_id.eq(user_blocks::blocked_id.nullable())),
                        )
                        .filter(users::id.eq_any(&authors))
                        .filter(user_blocks::blocker_id.eq_any(&peers))
                        .select((user_blocks::blocker_id, users::id)),
                )
                .load::<(UserId, UserId)>(&mut &*conn)
                .await
        };
        let ((stored_keys, memberships, attached, members, referenced), (devices, blocking)) =
            futures_util::future::try_join(
                futures_util::future::try_join5(stored, memberships, attached, members, referenced),
                futures_util::future::try_join(devices, blocking),
            )
            .await?;
        let mut checks = BatchChecks {
            stored_keys,
            memberships: memberships
                .into_iter()
                .map(|m| (m.chat_id, m.user_id))
                .collect(),
            blocking: blocking.into_iter().collect(),
            attachments: attached.into_iter().map(|a| (a.id, a)).collect(),
            mentionable: mentionable(members),
            devices,
            ..BatchChecks::default()
        };
        checks.take_referenced(referenced, &wanted.roots)?;
        let holding = checks.roots_holding_files(&wanted.roots);
        if !holding.is_empty() {
            checks.root_attachments = crate::db::rows::group_attachments(
                attachments::table
                    .filter(attachments::message_id.eq_any(&holding))
                    .filter(attachments::removed_at.is_null())
                    .order((attachments::message_id.asc(), attachments::position.asc()))
                    .select(AttachmentRow::as_select())
                    .load::<AttachmentRow>(self)
                    .await?,
            );
        }
        Ok(checks)
    }

    async fn store_messages<'a>(
        &'a mut self,
        counts: &'a [ChatCount],
        pending: &'a [PendingMessage<'a>],
        mentions: &'a [MentionRow],
        threads: &'a ThreadWrites,
        pushes: &'a [PushRow],
        now: i64,
    ) -> QueryResult<Vec<MessageRow>> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let threaded = !threads.events.is_empty();
        let [[plain, with_mentions], [with_threads, with_both]] = STORE_TEXTS;
        let [without_push, with_push] = match (threaded, !mentions.is_empty()) {
            (false, false) => plain,
            (false, true) => with_mentions,
            (true, false) => with_threads,
            (true, true) => with_both,
        };
        let text = if pushes.is_empty() {
            without_push
        } else {
            with_push
        };
        let mut query = diesel::sql_query(text)
            .into_boxed::<diesel::pg::Pg>()
            .bind::<Array<BigInt>, _>(counts.iter().map(|c| c.chat_id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(counts.iter().map(|c| c.seqs).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(counts.iter().map(|c| c.messages).collect::<Vec<_>>())
            .bind::<BigInt, _>(now)
            .bind::<Array<BigInt>, _>(pending.iter().map(|p| p.chat_id).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(pending.iter().map(|p| p.pos).collect::<Vec<_>>())
            .bind::<Array<BigInt>, _>(pending.iter().map(|p| p.author_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(pending.iter().map(|p| p.content).collect::<Vec<_>>())
            .bind::<Array<Nullable<BigInt>>, _>(
                pending.iter().map(|p| p.reply_to_id).collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Text>>, _>(
                pending.iter().map(|p| p.client_id).collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(
                pending
                    .iter()
                    .map(|p| index_terms(p.content))
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(
                pending
                    .iter()
                    .map(|p| p.mention_ids.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<BigInt>>, _>(
                pending.iter().map(|p| p.thread_root_id).collect::<Vec<_>>(),
            );
        if threaded {
            query = query
                .bind::<Array<BigInt>, _>(threads.roots.iter().map(|r| r.0).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(
                    threads
                        .roots
                        .iter()
                        .map(|r| r.1.as_str())
                        .collect::<Vec<_>>(),
                );
        }
        if !pushes.is_empty() {
            query = query
                .bind::<Array<BigInt>, _>(pushes.iter().map(|p| p.0).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(pushes.iter().map(|p| p.1).collect::<Vec<_>>());
        }
        FixedText(query).load::<MessageRow>(self).await
    }

    async fn link_attachments<'a>(
        &'a mut self,
        links: &'a [(AttachmentId, MessageId, i32)],
    ) -> QueryResult<usize> {
        if links.is_empty() {
            return Ok(0);
        }
        let linked: Linked = FixedText(
            diesel::sql_query(LINK_ATTACHMENTS)
                .bind::<Array<BigInt>, _>(links.iter().map(|l| l.0).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(links.iter().map(|l| l.1).collect::<Vec<_>>())
                .bind::<Array<diesel::sql_types::Integer>, _>(
                    links.iter().map(|l| l.2).collect::<Vec<_>>(),
                ),
        )
        .get_result(self)
        .await?;
        Ok(usize::try_from(linked.linked).unwrap_or(0))
    }

    async fn insert_keys<'a>(
        &'a mut self,
        rows: &'a [IdempotencyRow],
    ) -> QueryResult<Vec<(UserId, String)>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let inserted: Vec<UserKey> = FixedText(
            diesel::sql_query(INSERT_KEYS)
                .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(
                    rows.iter()
                        .map(|r| r.fingerprint.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<diesel::sql_types::Integer>, _>(
                    rows.iter().map(|r| r.status).collect::<Vec<_>>(),
                )
                .bind::<Array<Text>, _>(rows.iter().map(|r| r.body.as_str()).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
                .bind::<Array<Nullable<BigInt>>, _>(
                    rows.iter().map(|r| r.message_id).collect::<Vec<_>>(),
                ),
        )
        .load(self)
        .await?;
        Ok(inserted.into_iter().map(|k| (k.user_id, k.key)).collect())
    }
}

mod sqlite {
    use std::collections::HashMap;

    use diesel::prelude::*;

    use super::{BatchChecks, BatchStatements, ChatCount, PendingMessage, ThreadWrites};
    use crate::db::rows::{mentionable, MemberNameRow, ReactionRow, MEMBER_NAME};
    use crate::db::rows::{AttachmentRow, EventRow, IdempotencyRow, MessageRow, NewMessageRow};
    use crate::db::schema::{
        attachments, chat_authors, chat_events, chat_members, chats, idempotency_keys,
        message_mentions, messages, push_outbox, push_subscriptions, reactions, user_blocks, users,
    };
    use crate::db::SqliteConn;
    use parley_types::{AttachmentId, ChatId, MessageId, MessageKind, Seq, SubscriptionId, UserId};

    // SQLite runs each statement on a blocking thread of the runtime; one hand-off per step (not
    // per row) keeps a batch at a handful of thread hops whatever its size.
    impl BatchStatements for SqliteConn {
        async fn lock_chats<'a>(&'a mut self, chat_ids: &'a [ChatId]) -> QueryResult<Vec<ChatId>> {
            // The pool's one connection already makes this transaction the only writer.
            let chat_ids = chat_ids.to_vec();
            self.spawn_blocking(move |conn| {
                chats::table
                    .filter(chats::id.eq_any(&chat_ids))
                    .order(chats::id)
                    .select(chats::id)
                    .load(conn)
            })
            .await
        }

        async fn batch_checks<'a>(
            &'a mut self,
            wanted: &'a super::CheckInputs,
        ) -> QueryResult<BatchChecks> {
            let wanted = wanted.clone();
            self.spawn_blocking(move |conn| {
                let mut checks = BatchChecks::default();
                // Point lookups: in-process, each costs microseconds, and none scans.
                for (user_id, key) in &wanted.keys {
                    let found: Option<IdempotencyRow> = idempotency_keys::table
                        .find((user_id, key))
                        .select(IdempotencyRow::as_select())
                        .first(conn)
                        .optional()?;
                    checks.stored_keys.extend(found);
                }
                for &(chat_id, user_id) in &wanted.member_pairs {
                    let found: Option<(ChatId, UserId)> = chat_members::table
                        .find((chat_id, user_id))
                        .select((chat_members::chat_id, chat_members::user_id))
                        .first(conn)
                        .optional()?;
                    checks.memberships.extend(found);
                }
                for &(peer, author) in &wanted.direct_pairs {
                    // A block of a bot's owner covers the bot.
                    let owner: Option<Option<UserId>> = users::table
                        .find(author)
                        .select(users::bot_owner_id)
                        .first(conn)
                        .optional()?;
                    let acting: Vec<UserId> =
                        std::iter::once(author).chain(owner.flatten()).collect();
                    let found: Option<UserId> = user_blocks::table
                        .filter(user_blocks::blocker_id.eq(peer))
                        .filter(user_blocks::blocked_id.eq_any(&acting))
                        .select(user_blocks::blocker_id)
                        .first(conn)
                        .optional()?;
                    if found.is_some() {
                        checks.blocking.insert((peer, author));
                    }
                }
                if !wanted.referenced.is_empty() {
                    checks.referenced = messages::table
                        .filter(messages::id.eq_any(&wanted.referenced))
                        .select(MessageRow::as_select())
                        .load::<MessageRow>(conn)?
                        .into_iter()
                        .map(|m| (m.id, m))
                        .collect();
                }
                if !wanted.roots.is_empty() {
                    checks.root_reactions = crate::db::rows::group_reactions(
                        reactions::table
                            .filter(reactions::message_id.eq_any(&wanted.roots))
                            .order((
                                reactions::created_at.asc(),
                                reactions::user_id.asc(),
                                reactions::emoji.asc(),
                            ))
                            .select(ReactionRow::as_select())
                            .load(conn)?,
                    );
                    let holding = checks.roots_holding_files(&wanted.roots);
                    checks.root_attachments = crate::db::rows::group_attachments(
                        attachments::table
                            .filter(attachments::message_id.eq_any(&holding))
                            .filter(attachments::removed_at.is_null())
                            .order((attachments::message_id.asc(), attachments::position.asc()))
                            .select(AttachmentRow::as_select())
                            .load(conn)?,
                    );
                }
                // The one connection makes this transaction the only writer: no other send
                // can take these attachments before it commits.
                if !wanted.attachment_ids.is_empty() {
                    checks.attachments = attachments::table
                        .filter(attachments::id.eq_any(&wanted.attachment_ids))
                        .select(AttachmentRow::as_select())
                        .load::<AttachmentRow>(conn)?
                        .into_iter()
                        .map(|a| (a.id, a))
                        .collect();
                }
                if !wanted.mention_all_in.is_empty() {
                    let rows: Vec<MemberNameRow> = chat_members::table
                        .inner_join(users::table)
                        .inner_join(chats::table)
                        .filter(chat_members::chat_id.eq_any(&wanted.mention_all_in))
                        .select(MEMBER_NAME)
                        .load::<MemberNameRow>(conn)?;
                    checks.mentionable = mentionable(rows);
                }
                if !wanted.offline_in.is_empty() {
                    checks.devices = push_subscriptions::table
                        .inner_join(
                            chat_members::table
                                .on(chat_members::user_id.eq(push_subscriptions::user_id)),
                        )
                        .inner_join(chats::table.on(chats::id.eq(chat_members::chat_id)))
                        .filter(chat_members::chat_id.eq_any(&wanted.offline_in))
                        // The bare column, as the partial index states it: SQLite uses
                        // that index only for the same term (`= ?` would read every member).
                        .filter(chat_members::has_devices)
                        .select((
                            chat_members::chat_id,
                            chat_members::user_id,
                            push_subscriptions::id,
                            chat_members::notify_level,
                            chat_members::muted_until,
                            chats::kind,
                        ))
                        .load::<(ChatId, UserId, SubscriptionId, String, Option<i64>, String)>(
                            conn,
                        )?
                        .into_iter()
                        .map(
                            |(
                                chat_id,
                                user_id,
                                subscription_id,
                                notify_level,
                                muted_until,
                                kind,
                            )| {
                                super::MemberDevice {
                                    chat_id,
                                    user_id,
                                    subscription_id,
                                    notify_level,
                                    muted_until,
                                    kind,
                                }
                            },
                        )
                        .collect();
                }
                Ok(checks)
            })
            .await
        }

        async fn link_attachments<'a>(
            &'a mut self,
            links: &'a [(AttachmentId, MessageId, i32)],
        ) -> QueryResult<usize> {
            let links = links.to_vec();
            self.spawn_blocking(move |conn| {
                let mut linked = 0;
                for (attachment_id, message_id, position) in links {
                    let given = diesel::update(
                        attachments::table
                            .find(attachment_id)
                            .filter(attachments::message_id.is_null()),
                    )
                    .set((
                        attachments::message_id.eq(message_id),
                        attachments::position.eq(position),
                    ))
                    .execute(conn)?;
                    if given == 1 {
                        diesel::update(messages::table.find(message_id))
                            .set(messages::attachment_count.eq(messages::attachment_count + 1))
                            .execute(conn)?;
                    }
                    linked += given;
                }
                Ok(linked)
            })
            .await
        }

        async fn store_messages<'a>(
            &'a mut self,
            counts: &'a [ChatCount],
            pending: &'a [PendingMessage<'a>],
            mentions: &'a [super::MentionRow],
            threads: &'a ThreadWrites,
            pushes: &'a [super::PushRow],
            now: i64,
        ) -> QueryResult<Vec<MessageRow>> {
            let counts = counts.to_vec();
            let mentions = mentions.to_vec();
            let pushes = pushes.to_vec();
            let pending: Vec<OwnedPending> = pending.iter().map(OwnedPending::from).collect();
            let threads = threads.clone();
            self.spawn_blocking(move |conn| {
                let mut base = HashMap::with_capacity(counts.len());
                for count in &counts {
                    let last: Seq = diesel::update(chats::table.find(count.chat_id))
                        .set((
                            chats::last_seq.eq(chats::last_seq + count.seqs),
                            chats::last_activity_at.eq(now),
                            chats::message_count.eq(chats::message_count + count.messages),
                        ))
                        .returning(chats::last_seq)
                        .get_result(conn)?;
                    base.insert(count.chat_id, last - count.seqs);
                }
                let mut stored = Vec::with_capacity(pending.len());
                for p in &pending {
                    let Some(base) = base.get(&p.chat_id) else {
                        continue;
                    };
                    let row: MessageRow = diesel::insert_into(messages::table)
                        .values(NewMessageRow {
                            chat_id: p.chat_id,
                            seq: *base + p.pos,
                            author_id: p.author_id,
                            kind: MessageKind::Text.as_str(),
                            content: &p.content,
                            reply_to_id: p.reply_to_id,
                            client_id: p.client_id.as_deref(),
                            created_at: now,
                            deleted: false,
                            search_terms: &crate::domain::search::index_terms(&p.content),
                            mention_ids: &p.mention_ids,
                            thread_root_id: p.thread_root_id,
                        })
                        .returning(MessageRow::as_returning())
                        .get_result(conn)?;
                    diesel::insert_into(chat_events::table)
                        .values(EventRow::message(
                            crate::domain::events::EventKind::MessageCreated,
                            row.chat_id,
                            row.seq,
                            row.id,
                            now,
                        ))
                        .execute(conn)?;
                    stored.push(row);
                }
                for &(chat_id, pos, user_id) in &mentions {
                    let Some(row) = base.get(&chat_id).and_then(|base| {
                        stored
                            .iter()
                            .find(|m| m.chat_id == chat_id && m.seq == *base + pos)
                    }) else {
                        continue;
                    };
                    diesel::insert_into(message_mentions::table)
                        .values((
                            message_mentions::user_id.eq(user_id),
                            message_mentions::message_id.eq(row.id),
                            message_mentions::chat_id.eq(chat_id),
                            message_mentions::seq.eq(row.seq),
                        ))
                        .execute(conn)?;
                }
                for (root_id, summary) in &threads.roots {
                    diesel::update(messages::table.find(root_id))
                        .set(messages::thread_summary.eq(summary))
                        .execute(conn)?;
                }
                for &(chat_id, pos, root_id) in &threads.events {
                    let Some(base) = base.get(&chat_id) else {
                        continue;
                    };
                    diesel::insert_into(chat_events::table)
                        .values(EventRow::message(
                            crate::domain::events::EventKind::MessageUpdated,
                            chat_id,
                            *base + pos,
                            root_id,
                            now,
                        ))
                        .execute(conn)?;
                }
                let mut written: HashMap<(ChatId, UserId), i64> = HashMap::new();
                for row in &stored {
                    *written.entry((row.chat_id, row.author_id)).or_default() += 1;
                }
                for (&(chat_id, author_id), &count) in &written {
                    diesel::insert_into(chat_authors::table)
                        .values((
                            chat_authors::chat_id.eq(chat_id),
                            chat_authors::user_id.eq(author_id),
                            chat_authors::message_count.eq(count),
                        ))
                        .on_conflict((chat_authors::chat_id, chat_authors::user_id))
                        .do_update()
                        .set(chat_authors::message_count.eq(chat_authors::message_count + count))
                        .execute(conn)?;
                }
                // Writing in a chat shows the author's presence to its members.
                for &(chat_id, author_id) in written.keys() {
                    diesel::update(chat_members::table.find((chat_id, author_id)))
                        .filter(chat_members::shows_presence.eq(false))
                        .set(chat_members::shows_presence.eq(true))
                        .execute(conn)?;
                }
                for &(subscription_id, chat_id) in &pushes {
                    let Some(&after_seq) = base.get(&chat_id) else {
                        continue;
                    };
                    diesel::insert_into(push_outbox::table)
                        .values((
                            push_outbox::subscription_id.eq(subscription_id),
                            push_outbox::chat_id.eq(chat_id),
                            push_outbox::after_seq.eq(after_seq),
                            push_outbox::queued_at.eq(now),
                            push_outbox::due_at.eq(now),
                        ))
                        .on_conflict((push_outbox::subscription_id, push_outbox::chat_id))
                        .do_nothing()
                        .execute(conn)?;
                }
                Ok(stored)
            })
            .await
        }

        async fn insert_keys<'a>(
            &'a mut self,
            rows: &'a [IdempotencyRow],
        ) -> QueryResult<Vec<(UserId, String)>> {
            let rows = rows.to_vec();
            self.spawn_blocking(move |conn| {
                let mut inserted = Vec::with_capacity(rows.len());
                for row in &rows {
                    let done = diesel::insert_into(idempotency_keys::table)
                        .values(row)
                        .on_conflict((idempotency_keys::user_id, idempotency_keys::key))
                        .do_nothing()
                        .execute(conn)?;
                    if done == 1 {
                        inserted.push((row.user_id, row.key.clone()));
                    }
                }
                Ok(inserted)
            })
            .await
        }
    }

    /// A `PendingMessage` that can move to a blocking thread.
    struct OwnedPending {
        chat_id: ChatId,
        pos: i64,
        author_id: UserId,
        content: String,
        reply_to_id: Option<MessageId>,
        client_id: Option<String>,
        mention_ids: String,
        thread_root_id: Option<MessageId>,
    }

    impl From<&PendingMessage<'_>> for OwnedPending {
        fn from(p: &PendingMessage<'_>) -> Self {
            OwnedPending {
                chat_id: p.chat_id,
                pos: p.pos,
                author_id: p.author_id,
                content: p.content.to_owned(),
                reply_to_id: p.reply_to_id,
                client_id: p.client_id.map(str::to_owned),
                mention_ids: p.mention_ids.clone(),
                thread_root_id: p.thread_root_id,
            }
        }
    }
}
