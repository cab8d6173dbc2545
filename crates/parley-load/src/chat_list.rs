//! The chat list of someone in many chats: C concurrent readers of `GET /api/v1/chats`, the
//! whole list, each chat's last message mentioning the reader, half of them thread replies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::client::{run_id, Api};
use crate::report::{Report, Tally};
use crate::scenarios::{progress, register_many};
use crate::Common;

#[derive(Args, Debug, Clone)]
pub struct ChatListArgs {
    /// Concurrent readers (all the same user: one person's list, from several devices).
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Chats the reader is a member of.
    #[arg(long, default_value_t = 200)]
    pub chats: usize,
    /// Lists to fetch at most.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
}

/// The part of a list the readers check: how many chats, and their mention counts.
#[derive(serde::Deserialize)]
struct Summary {
    unread_mention_count: i64,
}

pub async fn chat_list(common: &Common, args: ChatListArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let run = run_id();
    let users = register_many(&api, &run, 2).await?;
    let [writer, reader, ..] = users.as_slice() else {
        return Err("registering gave fewer than two users".into());
    };
    let chats = args.chats.max(1);
    let seed_bar = progress(common, chats as u64, "seed");
    for i in 0..chats {
        let chat_id = api.group(writer, &[reader.id]).await?;
        let root = api
            .send(writer, chat_id, &format!("@load{run}u1 look at {i}"), None)
            .await;
        let root_id = root
            .body
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("seeding answered {} {}", root.status, root.body))?;
        if i % 2 == 0 {
            api.post(
                "/api/v1/messages",
                Some(&writer.token),
                &json!({"chat_id": chat_id, "content": "in the thread", "thread_root_id": root_id}),
            )
            .await;
        }
        seed_bar.inc(1);
    }
    seed_bar.finish_and_clear();
    let issued = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, args.count as u64, "chat list");
    let deadline = Instant::now() + common.time_limit();
    let started = Instant::now();
    let meter = crate::cpu::Meter::start(common.server_pid);
    let readers = (0..args.clients.max(1)).map(|_| {
        let (api, issued, bar, token) = (
            api.clone(),
            issued.clone(),
            bar.clone(),
            reader.token.clone(),
        );
        async move {
            let mut tally = Tally::default();
            let mut wrong = 0u64;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < args.count {
                let t = Instant::now();
                let (status, list) = api.get_as::<Vec<Summary>>("/api/v1/chats", &token).await;
                tally.record(status, status == 200, t.elapsed());
                let complete = list.is_some_and(|list| {
                    list.len() == chats && list.iter().all(|c| c.unread_mention_count == 1)
                });
                if status == 200 && !complete {
                    wrong += 1;
                }
                bar.inc(1);
            }
            (tally, wrong)
        }
    });
    let results = futures_util::future::join_all(readers).await;
    let elapsed = started.elapsed();
    let cpu = meter.finish();
    bar.finish_and_clear();
    let mut report = Report::new("chat-list");
    report.cpu(cpu);
    report.param("clients", args.clients);
    report.param("chats", chats);
    let mut tally = Tally::default();
    let mut wrong = 0;
    for (lane, lane_wrong) in results {
        tally.merge(lane);
        wrong += lane_wrong;
    }
    let lists = report.absorb(tally);
    report.figure("lists", lists as f64);
    report.figure("seconds", elapsed.as_secs_f64());
    report.figure("lists per second", lists as f64 / elapsed.as_secs_f64());
    if wrong > 0 {
        report.problem(format!("{wrong} lists were incomplete or miscounted"));
    }
    if report.statuses.keys().any(|s| *s != 200) {
        report.problem("some lists did not answer 200".into());
    }
    Ok(report)
}
