//! The `search` scenario: a corpus whose words follow a Zipf law (as words in real text do),
//! seeded through the API, then concurrent readers searching it for common, middling and rare
//! words, alone and in pairs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::client::{run_id, Api};
use crate::report::{Latencies, Report, Tally};
use crate::scenarios::{progress, register_many};
use crate::Common;

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Concurrent searchers; several values (`1,16`) search the same corpus in turn, each
    /// for `--duration` and `--count`.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub clients: Vec<usize>,
    /// Messages in the corpus (5 to 15 words each).
    #[arg(long, default_value_t = 10_000)]
    pub messages: usize,
    /// Chats the corpus is spread over (the reader is a member of all of them).
    #[arg(long, default_value_t = 100)]
    pub chats: usize,
    /// Concurrent sends while seeding.
    #[arg(long, default_value_t = 64)]
    pub seeders: usize,
    /// Results per page.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Searches at most.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,
}

/// Distinct words in the corpus.
const VOCABULARY: usize = 10_000;

/// The word of frequency rank `rank` (0 the most common): a pronounceable, unique string.
fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fu", "gi", "ho", "ju",
        "be", "cy", "wo", "xa", "qe",
    ];
    let mut n = rank + SYLLABLES.len();
    let mut word = String::new();
    while n > 0 {
        if let Some(syllable) = SYLLABLES.get(n % SYLLABLES.len()) {
            word.push_str(syllable);
        }
        n /= SYLLABLES.len();
    }
    word
}

/// Draws word ranks with probability proportional to 1 / (rank + 1).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn draw(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative.partition_point(|&c| c < x)
    }
}

/// The part of a results page the readers look at: how many messages came back.
#[derive(serde::Deserialize)]
struct ResultsPage {
    messages: Vec<serde::de::IgnoredAny>,
}

/// How often a query's words occur: the bands the report keeps apart.
const BANDS: [(&str, std::ops::Range<usize>); 3] = [
    ("common (ranks 1-20)", 0..20),
    ("middling (ranks 100-1,000)", 100..1_000),
    ("rare (ranks 2,000-10,000)", 2_000..VOCABULARY),
];

pub async fn search(common: &Common, args: SearchArgs) -> Result<Report, String> {
    let api = Api::new(common.url());
    let users = register_many(&api, &run_id(), 2).await?;
    // The owner seeds the corpus; the reader searches it.
    let [owner, reader, ..] = users.as_slice() else {
        return Err("registering gave fewer than two users".into());
    };
    let mut chats = Vec::new();
    for _ in 0..args.chats.max(1) {
        chats.push(api.group(owner, &[reader.id]).await?);
    }

    let seeded_at = Instant::now();
    let zipf = Arc::new(Zipf::new(VOCABULARY));
    let next = Arc::new(AtomicUsize::new(0));
    let bar = progress(common, args.messages as u64, "seed");
    let seeders = (0..args.seeders.max(1)).map(|lane| {
        let (api, zipf, next, bar, chats, seeder) = (
            api.clone(),
            zipf.clone(),
            next.clone(),
            bar.clone(),
            chats.clone(),
            owner.clone(),
        );
        async move {
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.messages {
                    return failed;
                }
                let mut rng = StdRng::seed_from_u64(i as u64);
                let words: Vec<String> = (0..rng.gen_range(5..=15))
                    .map(|_| word(zipf.draw(&mut rng)))
                    .collect();
                // `chats` holds at least one chat; were it empty, the message could not be sent.
                let Some(&chat_id) = (i + lane)
                    .checked_rem(chats.len())
                    .and_then(|at| chats.get(at))
                else {
                    failed += 1;
                    bar.inc(1);
                    continue;
                };
                if api
                    .send(&seeder, chat_id, &words.join(" "), None)
                    .await
                    .status
                    != 200
                {
                    failed += 1;
                }
                bar.inc(1);
            }
        }
    });
    let seed_failures: usize = futures_util::future::join_all(seeders).await.iter().sum();
    bar.finish_and_clear();
    let seeding = seeded_at.elapsed();

    let mut report = Report::new("search");
    report.param("clients", format!("{:?}", args.clients));
    report.param("messages", args.messages);
    report.param("chats", args.chats);
    report.param("page size", args.limit.clamp(1, 100));
    report.figure("seeding seconds", seeding.as_secs_f64());
    if seed_failures > 0 {
        report.problem(format!("{seed_failures} seeding sends failed"));
    }
    for &clients in &args.clients {
        let phase = Phase {
            api: &api,
            token: &reader.token,
            clients: clients.max(1),
            limit: args.limit.clamp(1, 100),
            count: args.count,
        };
        phase.run(common, &mut report).await;
    }
    if report.statuses.keys().any(|s| *s != 200) {
        report.problem("some searches did not answer 200".into());
    }
    Ok(report)
}

/// One round of searches by a number of concurrent clients, reported under `{clients}
/// clients:`.
struct Phase<'a> {
    api: &'a Api,
    token: &'a str,
    clients: usize,
    limit: usize,
    count: usize,
}

impl Phase<'_> {
    async fn run(&self, common: &Common, report: &mut Report) {
        let issued = Arc::new(AtomicUsize::new(0));
        let bar = progress(common, self.count as u64, "search");
        let deadline = Instant::now() + common.time_limit();
        let started = Instant::now();
        let meter = crate::cpu::Meter::start(common.server_pid);
        let readers = (0..self.clients).map(|reader| {
            let (issued, bar) = (issued.clone(), bar.clone());
            async move {
                let mut rng = StdRng::seed_from_u64(1_000_000 + reader as u64);
                let mut tally = Tally::default();
                let mut by_band: Vec<Latencies> =
                    BANDS.iter().map(|_| Latencies::default()).collect();
                let mut found = [0usize; BANDS.len()];
                while Instant::now() < deadline
                    && issued.fetch_add(1, Ordering::Relaxed) < self.count
                {
                    let band = rng.gen_range(0..BANDS.len());
                    let Some(range) = BANDS.get(band).map(|(_, range)| range.clone()) else {
                        continue;
                    };
                    let words: Vec<String> = (0..rng.gen_range(1..=2))
                        .map(|_| word(rng.gen_range(range.clone())))
                        .collect();
                    let path = format!("/api/v1/search?q={}&limit={}", words.join("+"), self.limit);
                    let t = Instant::now();
                    let (status, page) = self.api.get_as::<ResultsPage>(&path, self.token).await;
                    let elapsed = t.elapsed();
                    tally.record(status, status == 200, elapsed);
                    if status == 200 {
                        if let Some(latencies) = by_band.get_mut(band) {
                            latencies.record(elapsed);
                        }
                        if page.is_some_and(|p| !p.messages.is_empty()) {
                            if let Some(count) = found.get_mut(band) {
                                *count += 1;
                            }
                        }
                    }
                    bar.inc(1);
                }
                (tally, by_band, found)
            }
        });
        let results = futures_util::future::join_all(readers).await;
        let elapsed = started.elapsed();
        let (tool_cpu, server_cpu) = meter.finish();
        bar.finish_and_clear();

        let name = |what: &str| format!("{} clients: {what}", self.clients);
        report.figure(&name("load tool CPU (% of a core)"), tool_cpu);
        if let Some(server_cpu) = server_cpu {
            report.figure(&name("server CPU (% of a core)"), server_cpu);
        }
        let mut tally = Tally::default();
        let mut bands: Vec<Latencies> = BANDS.iter().map(|_| Latencies::default()).collect();
        let mut found = [0usize; BANDS.len()];
        for (lane, lane_bands, lane_found) in results {
            tally.merge(lane);
            for (all, mine) in bands.iter_mut().zip(lane_bands) {
                all.extend(mine);
            }
            for (all, mine) in found.iter_mut().zip(lane_found) {
                *all += mine;
            }
        }
        for (((band, _), latencies), found) in BANDS.iter().zip(bands).zip(found) {
            let summary = latencies.summary();
            if summary.samples > 0 && found == 0 && band.starts_with("common") {
                report.problem("no search for a common word found anything".into());
            }
            report.figure(&name(&format!("{band} searches")), summary.samples as f64);
            report.figure(
                &name(&format!("{band} searches with results")),
                found as f64,
            );
            report.figure(&name(&format!("{band} p50 ms")), summary.p50_ms);
            report.figure(&name(&format!("{band} p99 ms")), summary.p99_ms);
        }
        for (status, n) in &tally.statuses {
            *report.statuses.entry(*status).or_default() += n;
        }
        let summary = tally.latencies.summary();
        report.figure(&name("searches"), summary.samples as f64);
        report.figure(
            &name("searches per second"),
            summary.samples as f64 / elapsed.as_secs_f64(),
        );
        report.figure(&name("p50 ms"), summary.p50_ms);
        report.figure(&name("p99 ms"), summary.p99_ms);
        report.latency = Some(summary);
    }
}
