//! `parley-load`: drives a running Parley over real HTTP and WebSocket connections and reports
//! throughput and latency. It creates its own users and chats through the API. Every loop is
//! bounded by a count and a duration, and stops by itself.
//!
//! Point it at a server started with the rate limits off (`PARLEY_SEND_RATE=0
//! PARLEY_AUTH_RATE=0`), or the limits are what it measures.

mod chat_list;
mod client;
mod cpu;
mod files;
mod frames;
pub mod report;
mod scenarios;
mod search;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "parley-load",
    about = "Load generator for a running Parley server."
)]
pub struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Base URL of the server. Repeat it for several nodes of one cluster: the first one sets
    /// up and sends, and `fanout` spreads its sessions over all of them.
    #[arg(long = "url", default_value = "http://127.0.0.1:8000", global = true)]
    pub urls: Vec<String>,
    /// Print the result as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Stop after this many seconds at most.
    #[arg(long, default_value_t = 10, global = true)]
    pub duration: u64,
    /// Hide the progress bar.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Open WebSocket sessions from this many loopback source addresses (127.0.0.1,
    /// 127.0.0.2, ...), round robin: one address to one server port has only the ephemeral
    /// port range (about 28,000) of connections.
    #[arg(long, default_value_t = 1, global = true)]
    pub source_addresses: u8,
    /// The server's process id: its CPU is reported beside the tool's own, and `idle` reads
    /// its memory.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
}

impl Common {
    /// The node that sets up and sends.
    pub fn url(&self) -> &str {
        self.urls
            .first()
            .map_or("http://127.0.0.1:8000", String::as_str)
    }

    /// The source address of the `n`th session.
    pub fn source_address(&self, n: usize) -> std::net::IpAddr {
        let count = usize::from(self.source_addresses.max(1));
        // At most 255 addresses, so the last octet is 1..=255.
        let octet = u8::try_from(n % count + 1).unwrap_or(1);
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, octet))
    }

    pub fn time_limit(&self) -> Duration {
        Duration::from_secs(self.duration)
    }
}

#[derive(Subcommand, Debug, Clone)]
pub enum Scenario {
    /// C concurrent senders, each request with its own Idempotency-Key.
    Send(scenarios::SendArgs),
    /// S WebSocket sessions in one chat; a sender posts at a fixed rate; end-to-end latency.
    Fanout(scenarios::FanoutArgs),
    /// Hold S WebSocket sessions open and report the server's memory per session.
    Idle(scenarios::IdleArgs),
    /// C concurrent readers fetching pages of 50 messages that carry reactions.
    History(scenarios::HistoryArgs),
    /// Seed a corpus of M messages (Zipf-distributed words), then C concurrent searchers.
    Search(search::SearchArgs),
    /// C concurrent clients uploading an image, each followed by its thumbnail.
    Upload(files::UploadArgs),
    /// One large file up and down; with --server-pid, the server's memory meanwhile.
    Transfer(files::TransferArgs),
    /// C concurrent readers of one person's whole chat list (200 chats, mentions, threads).
    ChatList(chat_list::ChatListArgs),
}

/// Runs the scenario the command line names, to the end, on the current actix system.
pub async fn run(cli: Cli) -> Result<report::Report, String> {
    let common = cli.common;
    match cli.scenario {
        Scenario::Send(args) => scenarios::send(&common, args).await,
        Scenario::Fanout(args) => scenarios::fanout(&common, args).await,
        Scenario::Idle(args) => scenarios::idle(&common, args).await,
        Scenario::History(args) => scenarios::history(&common, args).await,
        Scenario::Search(args) => search::search(&common, args).await,
        Scenario::Upload(args) => files::uploads(&common, args).await,
        Scenario::Transfer(args) => files::transfer(&common, args).await,
        Scenario::ChatList(args) => chat_list::chat_list(&common, args).await,
    }
}

/// Thousands of sessions need thousands of sockets: lift the soft limit to the hard one.
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
