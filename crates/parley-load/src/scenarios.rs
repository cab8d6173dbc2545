//! The send, fanout, idle and history scenarios (search has a file of its own). Each sets up its own users and chats, runs bounded by count and time,
//! and returns a report.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::client::{client_from, run_id, Api, User};
use crate::report::{Latencies, Report, Tally};
use crate::Common;

pub fn progress(common: &Common, total: u64, what: &str) -> ProgressBar {
    if common.quiet || common.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:<10} [{bar:40}] {pos}/{len} ({per_sec}, {elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

pub async fn register_many(api: &Api, run: &str, n: usize) -> Result<Vec<User>, String> {
    let mut users = Vec::with_capacity(n);
    // A few at a time: registration hashes passwords, deliberately slowly.
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let made =
            futures_util::future::join_all(chunk.iter().map(|&i| api.register(run, i))).await;
        for user in made {
            users.push(user?);
        }
    }
    Ok(users)
}

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

// ---- send ----------------------------------------------------------------------------------

#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Concurrent senders (one user each).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Chats the senders spread over (every sender is a member of every chat).
    #[arg(long, default_value_t = 1)]
    pub chats: usize,
    /// Messages to send at most.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
    /// Characters per message.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Members each message mentions (`@name` of the next senders), at the start of its text.
    #[arg(long, default_value_t = 0)]
    pub mentions: usize,
    /// With `--mentions`: write the names without their `@` (the same words, mentioning no
    /// one), to tell what resolving and storing mentions costs from what the longer text does.
    #[arg(long)]
    pub names_only: bool,
    /// Send every message as a reply in one thread per chat (its root sent first).
    #[arg(long)]
    pub threads: bool,
    /// Also report throughput and latency per stretch of this many seconds (0: only the
    /// whole run).
    #[arg(long, default_value_t = 0)]
    pub interval: u64,
    /// Members of every chat who never connect (each may be owed push notifications).
    #[arg(long, default_value_t = 0)]
    pub offline_members: usize,
    /// A Web Push receiver (npm's `web-push-testing`, at `http://localhost:PORT`) where each
    /// offline member subscribes a device; the server must allow plain http to its host
    /// (`PARLEY_PUSH_ALLOW_HTTP_HOSTS`).
    #[arg(long)]
    pub push_receiver: Option<String>,
    /// An outgoing webhook receiver: every chat subscribes it to `message.created` (the server
    /// must allow its host, `PARLEY_WEBHOOK_ALLOW_HOSTS`).
    #[arg(long)]
    pub webhook_receiver: Option<String>,
    /// Post through each chat's incoming webhook (`POST /hooks/<secret>`) instead of
    /// `POST /api/v1/messages` (the server should not limit hook posts:
    /// `PARLEY_HOOK_POSTS_PER_MINUTE=0`).
    #[arg(long)]
    pub through_hooks: bool,
    /// Each sender writes in its own direct chat with the first one (`--chats` is then the
    /// number of senders less one): the path a block is checked on.
    #[arg(long)]
    pub direct: bool,
}

/// Registers `count` users who never connect, each with a device at `receiver` if given.
async fn offline_members(
    api: &Api,
    run: &str,
    first: usize,
    count: usize,
    receiver: Option<&str>,
) -> Result<Vec<i64>, String> {
    let mut ids = Vec::with_capacity(count);
    for n in first..first + count {
        let user = api.register(run, n).await?;
        if let Some(receiver) = receiver {
            let (status, key) = api
                .get_as::<serde_json::Value>("/api/v1/push/vapid-public-key", &user.token)
                .await;
            let key = key
                .and_then(|k| k.get("key").and_then(|k| k.as_str()).map(str::to_owned))
                .ok_or_else(|| format!("the VAPID key: status {status}"))?;
            let device: serde_json::Value = crate::client::client()
                .post(format!("{receiver}/subscribe"))
                .send_json(&serde_json::json!({"applicationServerKey": key}))
                .await
                .map_err(|e| format!("subscribing at the receiver: {e}"))?
                .json()
                .await
                .map_err(|e| format!("the receiver's answer: {e}"))?;
            let data = device.get("data").cloned().unwrap_or_default();
            let subscription = serde_json::json!({
                "endpoint": data.get("endpoint"), "keys": data.get("keys"),
            });
            let answer = api
                .post(
                    "/api/v1/push/subscriptions",
                    Some(&user.token),
                    &subscription,
                )
                .await;
            if answer.status != 201 {
                return Err(format!("subscribing a device: status {}", answer.status));
            }
        }
        ids.push(user.id);
    }
    Ok(ids)
}

pub async fn send(common: &Common, args: SendArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let run = run_id();
    let users = register_many(&api, &run, args.clients.max(1)).await?;
    let owner = users
        .first()
        .ok_or_else(|| "registering gave no users".to_owned())?;
    let mut member_ids: Vec<i64> = users.iter().skip(1).map(|u| u.id).collect();
    member_ids.extend(
        offline_members(
            &api,
            &run,
            users.len(),
            args.offline_members,
            args.push_receiver.as_deref(),
        )
        .await?,
    );
    // Each chat with the root of its thread, when the sends are thread replies.
    let mut chats: Vec<(i64, Option<i64>)> = Vec::new();
    if args.direct {
        for user in users.iter().skip(1) {
            chats.push((api.direct(user, owner.id).await?, None));
        }
    }
    for _ in 0..if args.direct { 0 } else { args.chats.max(1) } {
        let chat_id = api.group(owner, &member_ids).await?;
        let root = if args.threads {
            let answer = api.send(owner, chat_id, "thread root", None).await;
            let id = answer.body.get("id").and_then(|id| id.as_i64());
            Some(id.ok_or_else(|| format!("sending a thread root: status {}", answer.status))?)
        } else {
            None
        };
        if let Some(receiver) = &args.webhook_receiver {
            let body = serde_json::json!({"url": receiver, "events": ["message.created"]});
            let path = format!("/api/v1/chats/{chat_id}/subscriptions");
            let answer = api.post(&path, Some(&owner.token), &body).await;
            if answer.status != 201 {
                return Err(format!("subscribing a receiver: status {}", answer.status));
            }
        }
        chats.push((chat_id, root));
    }
    // Each chat's incoming webhook, when the sends go through them.
    let mut hooks: HashMap<i64, String> = HashMap::new();
    if args.through_hooks {
        for &(chat_id, _) in &chats {
            let path = format!("/api/v1/chats/{chat_id}/webhooks");
            let answer = api
                .post(
                    &path,
                    Some(&owner.token),
                    &serde_json::json!({"name": "load"}),
                )
                .await;
            let url = answer.body.get("url").and_then(|u| u.as_str());
            let url = url.ok_or_else(|| format!("making a webhook: status {}", answer.status))?;
            hooks.insert(chat_id, url.to_owned());
        }
    }
    let hooks = Arc::new(hooks);
    let content = "x".repeat(args.size.clamp(1, 4000));
    let issued = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, args.count as u64, "send");
    let deadline = Instant::now() + common.time_limit();
    let started = Instant::now();
    let meter = crate::cpu::Meter::start(common.server_pid);
    let lanes = users.iter().enumerate().map(|(lane, user)| {
        // The next `--mentions` senders, by name, before the filler.
        let names: String = (1..=args.mentions.min(users.len().saturating_sub(1)))
            .map(|k| {
                let at = if args.names_only { "" } else { "@" };
                format!("{at}load{run}u{} ", (lane + k) % users.len())
            })
            .collect();
        let content = format!("{names}{content}");
        let (api, issued, bar, chats) = (api.clone(), issued.clone(), bar.clone(), chats.clone());
        let hooks = hooks.clone();
        async move {
            let mut tally = Tally::default();
            let mut completions = Vec::new();
            let mut i = lane;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < args.count {
                // In direct chats a sender is a member of its own chat only (the first sender,
                // of every one); `chats` holds at least one chat, else there is nowhere to send.
                let at = if args.direct && lane > 0 {
                    Some(lane - 1)
                } else {
                    i.checked_rem(chats.len())
                };
                let Some(&(chat_id, root)) = at.and_then(|at| chats.get(at)) else {
                    break;
                };
                i += 1;
                let t = Instant::now();
                let key = Some(uuid::Uuid::new_v4().to_string());
                let answer = match hooks.get(&chat_id) {
                    Some(hook) => api.post_hook(hook, &content, key).await,
                    None => api.send_in(user, chat_id, &content, key, root).await,
                };
                tally.record(answer.status, answer.status == 200, t.elapsed());
                if answer.status == 200 && args.interval > 0 {
                    completions.push((started.elapsed(), t.elapsed()));
                }
                bar.inc(1);
            }
            (tally, completions)
        }
    });
    let results = futures_util::future::join_all(lanes).await;
    let elapsed = started.elapsed();
    let cpu = meter.finish();
    bar.finish_and_clear();
    let mut report = Report::new("send");
    report.cpu(cpu);
    report.param("clients", args.clients);
    report.param("mentions per message", args.mentions);
    report.param("thread replies", args.threads);
    report.param("names without @", args.names_only);
    report.param("chats", args.chats);
    report.param("message size", args.size);
    report.param("offline members", args.offline_members);
    report.param("with push devices", args.push_receiver.is_some());
    report.param("with a webhook receiver", args.webhook_receiver.is_some());
    report.param("through incoming webhooks", args.through_hooks);
    report.param("direct chats", args.direct);
    let mut tally = Tally::default();
    let mut completions = Vec::new();
    for (lane, lane_completions) in results {
        tally.merge(lane);
        completions.extend(lane_completions);
    }
    if args.interval > 0 {
        report.intervals = crate::report::IntervalFigure::series(
            &completions,
            Duration::from_secs(args.interval),
            elapsed,
        );
    }
    let ok = report.absorb(tally);
    report.figure("messages sent (200)", ok as f64);
    report.figure("seconds", elapsed.as_secs_f64());
    report.figure("messages per second", ok as f64 / elapsed.as_secs_f64());
    if report.statuses.keys().any(|s| *s >= 500 || *s == 0) {
        report.problem("some requests failed (5xx or no answer)".into());
    }
    Ok(report)
}

// ---- history -------------------------------------------------------------------------------

#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// Concurrent readers.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Messages in the chat, each with two reactions.
    #[arg(long, default_value_t = 500)]
    pub messages: usize,
    /// Messages per page.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Pages to fetch at most.
    #[arg(long, default_value_t = 200_000)]
    pub count: usize,
}

/// The part of a history page the readers check: how many messages, and that each carries
/// its two reactions; the rest of the answer is skipped unparsed.
#[derive(serde::Deserialize)]
struct HistoryPage {
    messages: Vec<PageMessage>,
}

#[derive(serde::Deserialize)]
struct PageMessage {
    reactions: Vec<serde::de::IgnoredAny>,
}

pub async fn history(common: &Common, args: HistoryArgs) -> Result<Report, String> {
    if args.messages == 0 {
        return Err("--messages must be at least 1: pages are read from them".into());
    }
    let api = Api::new(common.url());
    let run = run_id();
    let users = register_many(&api, &run, 2).await?;
    let [owner, member, ..] = users.as_slice() else {
        return Err("registering gave fewer than two users".into());
    };
    let chat_id = api.group(owner, &[member.id]).await?;
    let seed_bar = progress(common, args.messages as u64, "seed");
    let mut seqs = Vec::with_capacity(args.messages);
    for i in 0..args.messages {
        let sent = api
            .send(owner, chat_id, &format!("history message {i}"), None)
            .await;
        let id = sent
            .body
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("seeding answered {} {}", sent.status, sent.body))?;
        let seq = sent
            .body
            .get("seq")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        seqs.push(seq);
        for (user, emoji) in [(owner, "👍"), (member, "🎉")] {
            api.post(
                &format!("/api/v1/messages/{id}/reactions"),
                Some(&user.token),
                &json!({"emoji": emoji}),
            )
            .await;
        }
        seed_bar.inc(1);
    }
    seed_bar.finish_and_clear();
    let limit = args.limit.clamp(1, 200);
    let issued = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, args.count as u64, "history");
    let deadline = Instant::now() + common.time_limit();
    let started = Instant::now();
    let meter = crate::cpu::Meter::start(common.server_pid);
    let seqs = Arc::new(seqs);
    let readers = (0..args.clients.max(1)).map(|reader| {
        let (api, issued, bar, seqs, token) = (
            api.clone(),
            issued.clone(),
            bar.clone(),
            seqs.clone(),
            member.token.clone(),
        );
        async move {
            let mut tally = Tally::default();
            let mut short_pages = 0u64;
            let mut n = reader;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < args.count {
                // Walk back through the history from a different place each time.
                n = n.wrapping_mul(31).wrapping_add(7);
                // A seq at index `limit` or later (when there are that many), so that the page
                // before it is a full one. `seqs` is never empty (`--messages` is at least 1);
                // were it, there would be nothing to read.
                let lowest = limit.min(seqs.len().saturating_sub(1));
                let span = seqs.len().saturating_sub(lowest).max(1);
                let Some(&before) = seqs.get(lowest + n % span) else {
                    break;
                };
                let t = Instant::now();
                let (status, page) = api
                    .get_as::<HistoryPage>(
                        &format!(
                            "/api/v1/chats/{chat_id}/messages?limit={limit}&before_seq={before}"
                        ),
                        &token,
                    )
                    .await;
                tally.record(status, status == 200, t.elapsed());
                if status == 200 {
                    let complete = page.is_some_and(|page| {
                        page.messages.len() + 1 >= limit.min(seqs.len())
                            && page.messages.iter().all(|m| m.reactions.len() == 2)
                    });
                    if !complete {
                        short_pages += 1;
                    }
                }
                bar.inc(1);
            }
            (tally, short_pages)
        }
    });
    let results = futures_util::future::join_all(readers).await;
    let elapsed = started.elapsed();
    let cpu = meter.finish();
    bar.finish_and_clear();
    let mut report = Report::new("history");
    report.cpu(cpu);
    report.param("clients", args.clients);
    report.param("page size", limit);
    report.param("messages (2 reactions each)", args.messages);
    let mut tally = Tally::default();
    let mut short = 0;
    for (lane, short_pages) in results {
        tally.merge(lane);
        short += short_pages;
    }
    let pages = report.absorb(tally);
    report.figure("pages", pages as f64);
    report.figure("seconds", elapsed.as_secs_f64());
    report.figure("pages per second", pages as f64 / elapsed.as_secs_f64());
    if short > 0 {
        report.problem(format!("{short} pages were short or lacked reactions"));
    }
    if report.statuses.keys().any(|s| *s != 200) {
        report.problem("some pages did not answer 200".into());
    }
    Ok(report)
}

// ---- WebSocket sessions --------------------------------------------------------------------

/// What one session saw of the chat.
#[derive(Default)]
struct SessionLog {
    /// Which of the `--url`s the session is connected to.
    node: usize,
    received: usize,
    /// Events at or below a seq already seen.
    duplicated: usize,
    /// Events that skipped a seq (one missing, or one to come later).
    out_of_order: usize,
    latencies: Latencies,
    /// From the message's commit (`created_at`) to its receipt.
    after_commit: Latencies,
    closed_early: bool,
    /// When the last event arrived.
    last_at: Option<Instant>,
}

/// One session in this many reads its events' commit times (commit-to-receipt): a sample,
/// because the parse would otherwise be a good part of the tool's own cost at a million
/// frames a second.
const COMMIT_TIME_SAMPLE: usize = 16;

fn micros_between(earlier: u128, later: u128) -> Duration {
    Duration::from_micros(u64::try_from(later.saturating_sub(earlier)).unwrap_or(u64::MAX))
}

/// What each session thread sends back: its sessions' logs, or why it could not open one.
type SessionResults = std::sync::mpsc::Receiver<Result<Vec<SessionLog>, String>>;

async fn open_session(
    url: &str,
    token: &str,
    source: IpAddr,
) -> Result<actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>, String> {
    let ws_url = format!("{}/api/v1/ws", url.replacen("http", "ws", 1));
    let (_, mut conn) = client_from(Some(source))
        .ws(ws_url)
        .bearer_auth(token)
        .max_frame_size(1024 * 1024)
        .connect()
        .await
        .map_err(|e| format!("websocket connect: {e}"))?;
    // The first frame is `ready`; after it every committed event reaches the session.
    match conn.next().await {
        Some(Ok(awc::ws::Frame::Text(_))) => Ok(conn),
        other => Err(format!("expected ready, got {other:?}")),
    }
}

/// Runs `sessions` sessions spread over `threads` threads, each following `expect` messages
/// (or just holding on until `hold` passes when `expect` is 0).
fn run_sessions(
    common: &Common,
    tokens: Vec<String>,
    sessions: usize,
    threads: usize,
    expect: usize,
    hold: Duration,
    connected: Arc<AtomicUsize>,
) -> SessionResults {
    let (tx, rx) = std::sync::mpsc::channel();
    let threads = threads.max(1);
    let urls = &common.urls;
    for t in 0..threads {
        // Session i goes to node i mod nodes: every node gets its share of every thread.
        // The callers pass at least one token; without any, no session could be opened and
        // the caller reports the sessions that did not open.
        let share: Vec<(usize, String, IpAddr)> = (0..sessions)
            .filter(|i| i % threads == t)
            .filter_map(|i| {
                let token = i.checked_rem(tokens.len()).and_then(|at| tokens.get(at))?;
                Some((
                    i % urls.len().max(1),
                    token.clone(),
                    common.source_address(i),
                ))
            })
            .collect();
        let (urls, tx, connected) = (urls.clone(), tx.clone(), connected.clone());
        std::thread::spawn(move || {
            let result = actix_rt::System::new().block_on(async move {
                let mut conns = Vec::with_capacity(share.len());
                for chunk in share.chunks(100) {
                    let opened = futures_util::future::join_all(chunk.iter().map(
                        |(node, token, source)| {
                            let url = urls.get(*node).map_or("", String::as_str);
                            async move { (*node, open_session(url, token, *source).await) }
                        },
                    ))
                    .await;
                    for (node, conn) in opened {
                        conns.push((node, conn?));
                        connected.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let deadline = tokio::time::Instant::now() + hold;
                let logs = futures_util::future::join_all(conns.into_iter().enumerate().map(
                    |(index, (node, mut conn))| async move {
                        let mut log = SessionLog {
                            node,
                            ..SessionLog::default()
                        };
                        let with_commit_time = index % COMMIT_TIME_SAMPLE == 0;
                        // One deadline for the whole read, not a timer per frame.
                        let read = async {
                            let mut last_seq = 0i64;
                            while expect == 0 || log.received < expect {
                                let Some(Ok(frame)) = conn.next().await else {
                                    log.closed_early = expect > 0;
                                    break;
                                };
                                let awc::ws::Frame::Text(bytes) = frame else {
                                    continue;
                                };
                                let Some(event) =
                                    std::str::from_utf8(&bytes).ok().and_then(|text| {
                                        crate::frames::created(text, with_commit_time)
                                    })
                                else {
                                    continue;
                                };
                                let seq = event.seq;
                                if last_seq != 0 && seq <= last_seq {
                                    log.duplicated += 1;
                                    continue;
                                }
                                if last_seq != 0 && seq != last_seq + 1 {
                                    log.out_of_order += 1;
                                }
                                last_seq = seq;
                                log.received += 1;
                                log.last_at = Some(Instant::now());
                                let now = now_micros();
                                if let Some(sent) = event.sent_micros {
                                    log.latencies.record(micros_between(sent, now));
                                }
                                if let Some(committed) = event.committed_micros {
                                    log.after_commit.record(micros_between(committed, now));
                                }
                            }
                        };
                        let _ = tokio::time::timeout_at(deadline, read).await;
                        log
                    },
                ))
                .await;
                Ok(logs)
            });
            let _ = tx.send(result);
        });
    }
    rx
}

/// Waits until every session is open or `limit` passes. A session thread that could not open
/// one (refused by a session cap, say) ends the wait with its error; one that already
/// finished leaves its logs in `early`.
async fn await_connected(
    rx: &SessionResults,
    early: &mut Vec<Vec<SessionLog>>,
    connected: &AtomicUsize,
    sessions: usize,
    bar: &ProgressBar,
    limit: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    while connected.load(Ordering::Relaxed) < sessions && started.elapsed() < limit {
        match rx.try_recv() {
            Ok(Err(e)) => return Err(e),
            Ok(Ok(logs)) => early.push(logs),
            Err(_) => {}
        }
        bar.set_position(connected.load(Ordering::Relaxed) as u64);
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish_and_clear();
    Ok(())
}

fn collect(
    rx: SessionResults,
    early: Vec<Vec<SessionLog>>,
    threads: usize,
    wait: Duration,
) -> Result<Vec<SessionLog>, String> {
    let mut all: Vec<SessionLog> = Vec::new();
    let pending = threads.max(1).saturating_sub(early.len());
    for logs in early {
        all.extend(logs);
    }
    for _ in 0..pending {
        all.extend(
            rx.recv_timeout(wait)
                .map_err(|_| "a session thread did not finish".to_owned())??,
        );
    }
    Ok(all)
}

#[derive(Args, Debug, Clone)]
pub struct FanoutArgs {
    /// WebSocket sessions in the chat.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Messages per second from the sender.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Messages to send.
    #[arg(long, default_value_t = 200)]
    pub messages: usize,
    /// Distinct users the sessions belong to (a user may have many sessions).
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Client threads reading the sessions.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Concurrent senders sharing the rate (one closed-loop sender tops out near its
    /// round-trip time).
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
}

pub async fn fanout(common: &Common, args: FanoutArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let run = run_id();
    let users = register_many(&api, &run, args.users.max(1) + 1).await?;
    let Some((sender, receivers)) = users.split_first() else {
        return Err("registering gave no users".into());
    };
    let sender = sender.clone();
    let members: Vec<i64> = receivers.iter().map(|u| u.id).collect();
    let chat_id = api.group(&sender, &members).await?;
    let tokens: Vec<String> = receivers.iter().map(|u| u.token.clone()).collect();
    let connected = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, args.sessions as u64, "connect");
    let rx = run_sessions(
        common,
        tokens,
        args.sessions,
        args.threads,
        args.messages,
        common.time_limit() + Duration::from_secs(30),
        connected.clone(),
    );
    let mut early = Vec::new();
    let limit = common.time_limit() + Duration::from_secs(60);
    await_connected(&rx, &mut early, &connected, args.sessions, &bar, limit).await?;
    let open = connected.load(Ordering::Relaxed);
    if open < args.sessions {
        return Err(format!("only {open} of {} sessions opened", args.sessions));
    }
    let bar = progress(common, args.messages as u64, "fanout");
    let senders = args.senders.clamp(1, 64);
    // Each sender keeps its share of the rate; together they offer `rate`.
    let interval = Duration::from_secs_f64(senders as f64 / f64::from(args.rate.max(1)));
    let started = Instant::now();
    let meter = crate::cpu::Meter::start(common.server_pid);
    let deadline = started + common.time_limit();
    let claimed = AtomicUsize::new(0);
    let lanes = (0..senders).map(|lane| {
        let (api, sender, bar, claimed) = (&api, &sender, &bar, &claimed);
        // Lanes start a share of the interval apart, so that the sends are spread evenly over
        // time instead of leaving in bursts of `senders` at once.
        let phase = interval.mul_f64(lane as f64 / senders as f64);
        async move {
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            let mut answered = Latencies::default();
            let mut ticker =
                actix_rt::time::interval_at(tokio::time::Instant::now() + phase, interval);
            while Instant::now() < deadline {
                ticker.tick().await;
                if claimed.fetch_add(1, Ordering::Relaxed) >= args.messages {
                    break;
                }
                let asked = Instant::now();
                let answer = api
                    .send(sender, chat_id, &format!("t={}", now_micros()), None)
                    .await;
                answered.record(asked.elapsed());
                *statuses.entry(answer.status).or_default() += 1;
                bar.inc(1);
            }
            (statuses, answered)
        }
    });
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut answered = Latencies::default();
    for (lane, lane_answered) in futures_util::future::join_all(lanes).await {
        for (status, count) in lane {
            *statuses.entry(status).or_default() += count;
        }
        answered.extend(lane_answered);
    }
    let sent = statuses.values().sum::<u64>() as usize;
    bar.finish_and_clear();
    let logs = actix_rt::task::spawn_blocking(move || {
        collect(rx, early, args.threads, Duration::from_secs(120))
    })
    .await
    .map_err(|e| e.to_string())??;
    // Deliveries per second over the time they took: sessions that expected more than was
    // sent wait out their hold, which is not delivery time.
    let last_delivery = logs.iter().filter_map(|log| log.last_at).max();
    let elapsed =
        last_delivery.map_or_else(|| started.elapsed(), |last| last.duration_since(started));
    let mut report = Report::new("fanout");
    report.param("sessions", args.sessions);
    report.param("users", args.users);
    report.param("rate (msg/s)", args.rate);
    report.param("messages", sent);
    report.param("nodes", common.urls.len());
    report.statuses = statuses;
    let mut latencies = Latencies::default();
    let mut after_commit = Latencies::default();
    let (mut same_node, mut cross_node) = (Latencies::default(), Latencies::default());
    let (mut delivered, mut disordered, mut duplicated, mut incomplete) = (0, 0, 0, 0);
    for log in logs {
        delivered += log.received;
        disordered += log.out_of_order;
        duplicated += log.duplicated;
        if log.received != sent || log.closed_early {
            incomplete += 1;
        }
        if log.node == 0 {
            same_node.extend_from(&log.latencies);
        } else {
            cross_node.extend_from(&log.latencies);
        }
        latencies.extend(log.latencies);
        after_commit.extend(log.after_commit);
    }
    if common.urls.len() > 1 {
        for (name, part) in [("same-node", same_node), ("cross-node", cross_node)] {
            let summary = part.summary();
            report.figure(&format!("{name} p50 (ms)"), summary.p50_ms);
            report.figure(&format!("{name} p99 (ms)"), summary.p99_ms);
        }
    }
    // The send's own time (request, commit) against the fan-out's: created_at is the
    // server's clock to the millisecond, on this machine the tool's clock too.
    let answered = answered.summary();
    report.figure("send answered p50 (ms)", answered.p50_ms);
    report.figure("send answered p99 (ms)", answered.p99_ms);
    let after_commit = after_commit.summary();
    report.figure("commit-to-receipt p50 (ms)", after_commit.p50_ms);
    report.figure("commit-to-receipt p99 (ms)", after_commit.p99_ms);
    report.figure("deliveries", delivered as f64);
    report.figure(
        "deliveries per second",
        delivered as f64 / elapsed.as_secs_f64(),
    );
    report.figure("sessions missing events", incomplete as f64);
    report.figure("out-of-order deliveries", disordered as f64);
    report.figure("duplicated deliveries", duplicated as f64);
    // Up to the last delivery: sessions that expected more than was sent wait out their hold
    // afterwards, doing nothing.
    report.cpu(meter.finish_at(last_delivery.unwrap_or_else(Instant::now)));
    report.latency = Some(latencies.summary());
    if incomplete > 0 || disordered > 0 || duplicated > 0 {
        report.problem(format!(
            "{incomplete} sessions did not get every seq once; {disordered} out of order; \
             {duplicated} duplicated"
        ));
    }
    Ok(report)
}

#[derive(Args, Debug, Clone)]
pub struct IdleArgs {
    /// WebSocket sessions to hold open.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Distinct users the sessions belong to.
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Client threads holding the sessions.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

pub(crate) fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub async fn idle(common: &Common, args: IdleArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let run = run_id();
    let users = register_many(&api, &run, args.users.max(1)).await?;
    let Some((owner, others)) = users.split_first() else {
        return Err("registering gave no users".into());
    };
    let ids: Vec<i64> = others.iter().map(|u| u.id).collect();
    api.group(owner, &ids).await?;
    let before = common.server_pid.and_then(resident_kib);
    let tokens: Vec<String> = users.iter().map(|u| u.token.clone()).collect();
    let connected = Arc::new(AtomicUsize::new(0));
    let hold = common.time_limit();
    let bar = progress(common, args.sessions as u64, "connect");
    // Every session on the one server whose memory is read.
    let one_node = Common {
        urls: vec![common.url().to_owned()],
        ..common.clone()
    };
    let rx = run_sessions(
        &one_node,
        tokens,
        args.sessions,
        args.threads,
        0,
        hold + Duration::from_secs(60),
        connected.clone(),
    );
    let mut early = Vec::new();
    let limit = hold + Duration::from_secs(60);
    await_connected(&rx, &mut early, &connected, args.sessions, &bar, limit).await?;
    let open = connected.load(Ordering::Relaxed);
    // Let the server settle, then read its memory while every session is open.
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    let during = common.server_pid.and_then(resident_kib);
    let mut report = Report::new("idle");
    report.param("sessions", args.sessions);
    report.param("source addresses", common.source_addresses.max(1));
    report.figure("sessions open", open as f64);
    if let (Some(before), Some(during)) = (before, during) {
        report.figure("server RSS before (KiB)", before as f64);
        report.figure("server RSS with sessions (KiB)", during as f64);
        report.figure(
            "KiB per session",
            (during.saturating_sub(before)) as f64 / open.max(1) as f64,
        );
    } else if common.server_pid.is_some() {
        report.problem("could not read the server's memory from /proc".into());
    }
    if open < args.sessions {
        report.problem(format!("only {open} of {} sessions opened", args.sessions));
    }
    drop(rx);
    Ok(report)
}
