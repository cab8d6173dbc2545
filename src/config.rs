//! Configuration: built once from flags and environment, then passed by value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub const DEFAULT_SQLITE_PATH: &str = "./data/parley.db";

/// Every default, once: the command line's, the settings structs' and the tests' configuration
/// read them from here.
pub mod defaults {
    pub const BIND: &str = "127.0.0.1:8000";
    pub const DB_POOL_SIZE: usize = 16;
    pub const DB_TIMEOUT_SECS: u64 = 5;
    pub const SEND_RATE: u32 = 20;
    pub const SEND_BURST: u32 = 50;
    pub const AUTH_RATE: u32 = 30;
    pub const LOGIN_RATE: u32 = 10;
    pub const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
    pub const SEND_BATCH: usize = 64;
    pub const DEAD_PEER_SECS: u64 = 30;
    pub const PRESENCE_GRACE_MS: u64 = 5000;
    pub const PRESENCE_FLUSH_SECS: u64 = 60;
    pub const FANOUT_INTERVAL_MS: u64 = 20;
    pub const NATS_SWEEP_MS: u64 = 2000;
    pub const MAX_SESSIONS_PER_USER: usize = 32;
    pub const MAX_SESSIONS_PER_IP: usize = 1024;
    pub const BODY_TIMEOUT_SECS: u64 = 10;
    pub const MAX_REQUESTS_PER_IP: usize = 256;
    pub const LOG_FORMAT: &str = "text";
    /// The VAPID contact when the operator names none.
    pub const PUSH_CONTACT: &str = "mailto:postmaster@localhost";
    /// Slack's rate for an incoming webhook: one a second, in bursts of up to a minute's.
    pub const HOOK_POSTS_PER_MINUTE: u32 = 60;
    /// Reports one person may make in an hour: plenty for anyone reporting what they see,
    /// and a bound on what a grudge can put in front of the operators.
    pub const REPORTS_PER_HOUR: u32 = 20;
    pub const WS_FRAME_RATE: u32 = 20;
    pub const WS_FRAME_BURST: u32 = 40;
    pub const WS_FRAME_FLOOD: u32 = 40;
    pub const WS_PING_EVERY_SECS: u64 = 15;
    pub const WS_SILENCE_LIMIT_SECS: u64 = 60;
    pub const ROOM_IDLE_SECS: u64 = 60;
    pub const GAP_TIMEOUT_MS: u64 = 250;
    /// Under the data directory (the SQLite file's, else `./data`).
    pub const STORAGE_DIRECTORY: &str = "attachments";
    /// 25 MiB: the contract's default.
    pub const MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;
    pub const ATTACHMENT_SWEEP_SECS: u64 = 60;
}

#[derive(Parser, Debug)]
#[command(
    name = "parley",
    version,
    about = "A self-hosted chat server (REST + WebSocket)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration and exit.
    CheckConfig,
    /// Manage accounts through the running server's admin API (needs PARLEY_ADMIN_TOKEN).
    Users {
        #[command(subcommand)]
        action: UsersCommand,
        /// The running server (default: http://PARLEY_BIND).
        #[arg(long)]
        server: Option<String>,
    },
    /// Write a consistent copy of the SQLite database to PATH while the server runs (for
    /// PostgreSQL use pg_dump).
    Backup { path: PathBuf },
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum UsersCommand {
    /// Revoke every token of the account (its WebSockets close with 1008) and refuse its
    /// logins; its messages stay.
    Deactivate { username: String },
    /// Let a deactivated account log in again.
    Reactivate { username: String },
    /// List accounts whose username contains QUERY (all without one).
    List { query: Option<String> },
}

/// Every setting, as a flag and as an environment variable.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// Database: `postgres://…`/`postgresql://…`, or SQLite as `sqlite://relative.db`,
    /// `sqlite:///absolute.db` or a plain file path.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_SQLITE_PATH, global = true)]
    pub database_url: String,
    /// Address to listen on.
    #[arg(
        long,
        env = "PARLEY_BIND",
        default_value = defaults::BIND,
        global = true
    )]
    pub bind: String,
    /// Bearer token for the /admin routes; without one they answer 404.
    #[arg(
        long,
        env = "PARLEY_ADMIN_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Maximum PostgreSQL connections in the pool.
    #[arg(long, env = "PARLEY_DB_POOL_SIZE", default_value_t = defaults::DB_POOL_SIZE,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..), global = true)]
    pub db_pool_size: usize,
    /// Seconds a request waits for a database connection before answering 503.
    #[arg(
        long,
        env = "PARLEY_DB_TIMEOUT_SECS",
        default_value_t = defaults::DB_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub db_timeout_secs: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(
        long,
        env = "PARLEY_WORKERS",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..),
        global = true
    )]
    pub workers: Option<usize>,
    /// Writes (sends and every other change) per user per second; 0 turns the limit off.
    #[arg(long, env = "PARLEY_SEND_RATE", default_value_t = defaults::SEND_RATE, global = true)]
    pub send_rate: u32,
    /// Writes a user may make in a burst before `PARLEY_SEND_RATE` applies.
    #[arg(long, env = "PARLEY_SEND_BURST", default_value_t = defaults::SEND_BURST, global = true)]
    pub send_burst: u32,
    /// Registrations plus logins per client IP per minute; 0 turns the limit off.
    #[arg(long, env = "PARLEY_AUTH_RATE", default_value_t = defaults::AUTH_RATE, global = true)]
    pub auth_rate: u32,
    /// Login attempts per account per minute, from any address; 0 = no limit.
    #[arg(long, env = "PARLEY_LOGIN_RATE", default_value_t = defaults::LOGIN_RATE, global = true)]
    pub login_rate: u32,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(
        long,
        env = "PARLEY_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = defaults::SHUTDOWN_TIMEOUT_SECS,
        global = true
    )]
    pub shutdown_timeout_secs: u64,
    /// Most sends stored in one transaction (group commit); 1 stores each send on its own.
    #[arg(long, env = "PARLEY_SEND_BATCH", default_value_t = defaults::SEND_BATCH,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000), global = true)]
    pub send_batch: usize,
    /// Seconds after which a peer that stopped acknowledging (gone, or not reading) loses its
    /// connection: TCP keep-alive probes and `TCP_USER_TIMEOUT` on every accepted socket.
    #[arg(
        long,
        env = "PARLEY_DEAD_PEER_SECS",
        default_value_t = defaults::DEAD_PEER_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub dead_peer_secs: u64,
    /// Milliseconds a user stays online after their last session closes, so that a reconnect
    /// in that time is no offline/online flap.
    #[arg(
        long,
        env = "PARLEY_PRESENCE_GRACE_MS",
        default_value_t = defaults::PRESENCE_GRACE_MS,
        value_parser = clap::value_parser!(u64).range(0..=600_000),
        global = true
    )]
    pub presence_grace_ms: u64,
    /// NATS server that carries events between the nodes that share this PostgreSQL database
    /// (`nats://host:4222`); without it the node runs alone.
    #[arg(long, env = "PARLEY_NATS_URL", global = true)]
    pub nats_url: Option<String>,
    /// The shortest time between two broadcasts of a chat, in milliseconds: events committed
    /// sooner go out together with the next one (0: each at once).
    #[arg(
        long,
        env = "PARLEY_FANOUT_INTERVAL_MS",
        default_value_t = defaults::FANOUT_INTERVAL_MS,
        value_parser = clap::value_parser!(u64).range(0..=1000),
        global = true
    )]
    pub fanout_interval_ms: u64,
    /// With NATS: milliseconds between sweeps that catch up whatever the broker lost.
    #[arg(
        long,
        env = "PARLEY_NATS_SWEEP_MS",
        default_value_t = defaults::NATS_SWEEP_MS,
        value_parser = clap::value_parser!(u64).range(100..=60_000),
        global = true
    )]
    pub nats_sweep_ms: u64,
    /// Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` names the
    /// client for the per-address limits; from anyone else the header is ignored.
    #[arg(
        long,
        env = "PARLEY_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,
    /// Origins (`https://app.example.org`, comma-separated) whose pages may call the API and
    /// open WebSockets from a browser; `*` for any (development only). Default: none, so only
    /// pages served by Parley itself.
    #[arg(
        long,
        env = "PARLEY_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// Open WebSocket sessions one user may have; 0 = no cap.
    #[arg(
        long,
        env = "PARLEY_MAX_SESSIONS_PER_USER",
        default_value_t = defaults::MAX_SESSIONS_PER_USER,
        global = true
    )]
    pub max_sessions_per_user: usize,
    /// Open WebSocket sessions from one client address; 0 = no cap.
    #[arg(
        long,
        env = "PARLEY_MAX_SESSIONS_PER_IP",
        default_value_t = defaults::MAX_SESSIONS_PER_IP,
        global = true
    )]
    pub max_sessions_per_ip: usize,
    /// Seconds a request body may take to arrive in full; past it the request is answered
    /// 408 and its connection closed (1-3600).
    #[arg(
        long,
        env = "PARLEY_BODY_TIMEOUT_SECS",
        default_value_t = defaults::BODY_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub body_timeout_secs: u64,
    /// Requests one client address may have in flight at once (WebSocket sessions aside);
    /// past it `429`. 0 = no cap.
    #[arg(
        long,
        env = "PARLEY_MAX_REQUESTS_PER_IP",
        default_value_t = defaults::MAX_REQUESTS_PER_IP,
        global = true
    )]
    pub max_requests_per_ip: usize,
    /// Log format: `text` (for people) or `json` (for log pipelines).
    #[arg(long, env = "PARLEY_LOG_FORMAT", default_value = defaults::LOG_FORMAT, global = true)]
    pub log_format: String,
    /// WebSocket frames a session may send per second; 0 turns the limit off.
    #[arg(
        long,
        env = "PARLEY_WS_FRAME_RATE",
        default_value_t = defaults::WS_FRAME_RATE,
        global = true
    )]
    pub ws_frame_rate: u32,
    /// Where uploaded files live: a directory, or `s3://bucket/prefix` (reached with the
    /// standard `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    /// Default: `attachments` under the data directory.
    #[arg(long, env = "PARLEY_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,
    /// With several nodes (`PARLEY_NATS_URL`), a storage directory is refused unless every
    /// node sees the same one (a shared mount): say so with this.
    #[arg(long, env = "PARLEY_STORAGE_SHARED", global = true)]
    pub storage_shared: bool,
    /// Largest file an upload may hold, in bytes (1 byte to 5 GiB).
    #[arg(
        long,
        env = "PARLEY_MAX_UPLOAD_BYTES",
        default_value_t = defaults::MAX_UPLOAD_BYTES,
        value_parser = clap::value_parser!(u64).range(1..=5 * 1024 * 1024 * 1024),
        global = true
    )]
    pub max_upload_bytes: u64,
    /// Hosts (comma-separated) to which a push subscription's endpoint may be plain `http://`
    /// (a test push service on this machine); every other endpoint must be `https://`.
    #[arg(
        long,
        env = "PARLEY_PUSH_ALLOW_HTTP_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub push_allow_http_hosts: Vec<String>,
    /// The VAPID private key for Web Push (base64url of the 32-byte P-256 scalar, as Web Push
    /// tools print it). Default: one the first node makes and keeps in the database.
    #[arg(
        long,
        env = "PARLEY_VAPID_PRIVATE_KEY",
        global = true,
        hide_env_values = true
    )]
    pub vapid_private_key: Option<String>,
    /// Whether push notifications show the chat's title, the author's name and the start of
    /// the message (`true`), or only ids, for the client to fetch the rest (`false`).
    #[arg(
        long,
        env = "PARLEY_PUSH_PREVIEW",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub push_preview: bool,
    /// Whether this node sends push notifications (at least one node must; any number may,
    /// each notification goes out from one).
    #[arg(
        long,
        env = "PARLEY_PUSH_DELIVERY",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub push_delivery: bool,
    /// How push services' operators can reach this server's (the VAPID `sub` claim): a
    /// `mailto:` or `https:` URL.
    #[arg(
        long,
        env = "PARLEY_PUSH_CONTACT",
        default_value = defaults::PUSH_CONTACT,
        global = true
    )]
    pub push_contact: String,
    /// Hosts (comma-separated names or addresses) outgoing webhooks may reach whatever they
    /// resolve to; every other URL must resolve to public addresses only.
    #[arg(
        long,
        env = "PARLEY_WEBHOOK_ALLOW_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub webhook_allow_hosts: Vec<String>,
    /// Whether this node delivers outgoing webhooks (at least one node must; any number may,
    /// each subscription is delivered by one at a time).
    #[arg(
        long,
        env = "PARLEY_WEBHOOK_DELIVERY",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub webhook_delivery: bool,
    /// Posts per minute one incoming webhook may make (0: unlimited).
    #[arg(
        long,
        env = "PARLEY_HOOK_POSTS_PER_MINUTE",
        default_value_t = defaults::HOOK_POSTS_PER_MINUTE,
        global = true
    )]
    pub hook_posts_per_minute: u32,
    /// Messages one person may report in an hour (0: any number).
    #[arg(
        long,
        env = "PARLEY_REPORTS_PER_HOUR",
        default_value_t = defaults::REPORTS_PER_HOUR,
        global = true
    )]
    pub reports_per_hour: u32,
    /// Milliseconds an outgoing webhook waits after its first failure (doubling after each
    /// further one, up to an hour).
    #[arg(
        long,
        env = "PARLEY_WEBHOOK_FIRST_RETRY_MS",
        default_value_t = crate::domain::delivery::FIRST_RETRY_MS as u64,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        global = true
    )]
    pub webhook_first_retry_ms: u64,
    /// Seconds between two sweeps of the file store (removed and unsent attachments, orphans).
    #[arg(
        long,
        env = "PARLEY_ATTACHMENT_SWEEP_SECS",
        default_value_t = defaults::ATTACHMENT_SWEEP_SECS,
        value_parser = clap::value_parser!(u64).range(1..=86400),
        global = true
    )]
    pub attachment_sweep_secs: u64,
    /// WebSocket frames a session may send at once before `PARLEY_WS_FRAME_RATE` applies.
    #[arg(
        long,
        env = "PARLEY_WS_FRAME_BURST",
        default_value_t = defaults::WS_FRAME_BURST,
        global = true
    )]
    pub ws_frame_burst: u32,
}

/// WebSocket heartbeat settings.
#[derive(Clone, Copy, Debug)]
pub struct WsSettings {
    /// How often the server pings.
    pub ping_every: Duration,
    /// A session that sends nothing (not even a pong) for this long is closed.
    pub silence_limit: Duration,
    /// Frames a client may send per second (0: no limit), and at once.
    pub frame_rate: u32,
    pub frame_burst: u32,
    /// Frames refused in a row, past the first (answered with an `error`), before the session
    /// is closed with 1008.
    pub frame_flood: u32,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            ping_every: Duration::from_secs(defaults::WS_PING_EVERY_SECS),
            silence_limit: Duration::from_secs(defaults::WS_SILENCE_LIMIT_SECS),
            frame_rate: defaults::WS_FRAME_RATE,
            frame_burst: defaults::WS_FRAME_BURST,
            frame_flood: defaults::WS_FRAME_FLOOD,
        }
    }
}

/// Tunables of presence.
#[derive(Clone, Copy, Debug)]
pub struct PresenceSettings {
    /// How long a user stays online after their last session closes, so that a reconnect in
    /// that time is no offline/online flap.
    pub grace: Duration,
    /// How often `last_seen_at` is written: the most often it is written for one user.
    pub flush_every: Duration,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        PresenceSettings {
            grace: Duration::from_millis(defaults::PRESENCE_GRACE_MS),
            flush_every: Duration::from_secs(defaults::PRESENCE_FLUSH_SECS),
        }
    }
}

/// Tunables of the room actors.
#[derive(Clone, Copy, Debug)]
pub struct RoomSettings {
    /// A room with no sessions and no traffic for this long stops; it restarts on demand.
    pub idle_after: Duration,
    /// How long a room holds a later event while waiting for an earlier one before it reads
    /// the missing seqs from the event log.
    pub gap_timeout: Duration,
    /// The shortest time between two broadcasts of a room: events committed sooner after one
    /// wait and go out together with the next (zero: each as soon as it is committed).
    pub fanout_interval: Duration,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            idle_after: Duration::from_secs(defaults::ROOM_IDLE_SECS),
            gap_timeout: Duration::from_millis(defaults::GAP_TIMEOUT_MS),
            fanout_interval: Duration::from_millis(defaults::FANOUT_INTERVAL_MS),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSettings {
    /// Writes per user per second (0: unlimited).
    pub send_rate: u32,
    /// Writes a user may make at once before the rate applies.
    pub send_burst: u32,
    /// Registrations and logins per client IP per minute (0: unlimited).
    pub auth_per_minute: u32,
    /// Posts per incoming webhook per minute (0: unlimited).
    pub hook_posts_per_minute: u32,
    /// Reports per person per hour (0: unlimited), counted in the database, so on every node
    /// together.
    pub reports_per_hour: u32,
    /// Login attempts per account per minute, whatever the client address (0: unlimited).
    pub logins_per_account_per_minute: u32,
}

impl RateSettings {
    pub const UNLIMITED: RateSettings = RateSettings {
        send_rate: 0,
        send_burst: 0,
        auth_per_minute: 0,
        logins_per_account_per_minute: 0,
        hook_posts_per_minute: 0,
        reports_per_hour: 0,
    };
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("DATABASE_URL is empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(raw.to_owned()));
        }
        if let Some(rest) = raw.strip_prefix("sqlite://") {
            // `sqlite:///abs/path` leaves "/abs/path"; `sqlite://rel/path` leaves "rel/path".
            if rest.is_empty() {
                return Err("DATABASE_URL sqlite:// needs a file path".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            if rest.is_empty() {
                return Err("DATABASE_URL sqlite: needs a file path".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        if raw.contains("://") {
            return Err(format!(
                "DATABASE_URL has an unsupported scheme (use postgres:// or sqlite://): {}",
                raw.split("://").next().unwrap_or_default()
            ));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(raw)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

/// Which other origins' pages may use the API from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    /// Exact origins, `scheme://host[:port]`.
    Listed(Vec<String>),
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/');
    let uri: actix_web::http::Uri = origin
        .parse()
        .map_err(|_| format!("PARLEY_CORS_ORIGINS: {raw:?} is not an origin"))?;
    let plain = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some()
        && uri
            .path_and_query()
            .is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/");
    if !plain {
        return Err(format!(
            "PARLEY_CORS_ORIGINS: {raw:?} must be scheme://host[:port], like https://app.example.org"
        ));
    }
    Ok(origin.to_owned())
}

/// How a node reaches the other nodes on the same database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    pub nats_url: String,
    pub sweep_every: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DatabaseUrl,
    pub bind: SocketAddr,
    pub admin_token: Option<String>,
    pub db_pool_size: usize,
    pub db_timeout: Duration,
    pub workers: Option<usize>,
    pub ws: WsSettings,
    pub rooms: RoomSettings,
    pub rates: RateSettings,
    pub shutdown_timeout: Duration,
    pub log_json: bool,
    pub send_batch: usize,
    /// How long an accepted connection may go without its peer acknowledging data or
    /// keep-alive probes before the kernel drops it.
    pub dead_peer_timeout: Duration,
    pub presence: PresenceSettings,
    /// Other nodes, when there are any.
    pub cluster: Option<ClusterSettings>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors: Option<CorsOrigins>,
    pub max_sessions_per_user: usize,
    pub max_sessions_per_ip: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Requests in flight per client address; 0 = no cap.
    pub max_requests_per_ip: usize,
    /// Where uploaded files live.
    pub storage: crate::storage::StorageUrl,
    pub attachments: AttachmentSettings,
    pub push: PushSettings,
    pub webhooks: WebhookSettings,
}

/// Web Push: where endpoints may be plain http, and the VAPID key if the operator gives one.
#[derive(Clone, Debug, Default)]
pub struct PushSettings {
    pub allow_http_hosts: Vec<String>,
    pub vapid_key: Option<crate::domain::push::VapidKey>,
    /// Payloads with the chat's title and a preview of the message.
    pub preview: bool,
    /// This node delivers push notifications.
    pub deliver: bool,
    /// The VAPID `sub` claim.
    pub contact: String,
}

/// Outgoing webhooks.
#[derive(Clone, Debug, Default)]
pub struct WebhookSettings {
    /// Hosts reached whatever they resolve to (`PARLEY_WEBHOOK_ALLOW_HOSTS`).
    pub allow_hosts: Vec<String>,
    /// This node delivers outgoing webhooks.
    pub deliver: bool,
    /// The wait after a first failure.
    pub first_retry: Duration,
}

/// Limits on uploads and the rhythm of the file sweeper.
#[derive(Clone, Copy, Debug)]
pub struct AttachmentSettings {
    pub max_upload_bytes: u64,
    /// Between two sweeps.
    pub sweep_every: Duration,
    /// How long an upload no message took stays (the contract: 24 hours).
    pub unsent_ttl: Duration,
    /// How old an object no row knows must be before it is removed: an upload in flight has
    /// written its object and not yet its row.
    pub orphan_grace: Duration,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            max_upload_bytes: defaults::MAX_UPLOAD_BYTES,
            sweep_every: Duration::from_secs(defaults::ATTACHMENT_SWEEP_SECS),
            unsent_ttl: Duration::from_secs(24 * 60 * 60),
            orphan_grace: Duration::from_secs(60 * 60),
        }
    }
}

impl Config {
    pub fn from_settings(s: &Settings) -> Result<Self, String> {
        let database = DatabaseUrl::parse(&s.database_url)?;
        let bind = s.bind.parse().map_err(|_| {
            format!(
                "PARLEY_BIND is not a socket address (host:port): {:?}",
                s.bind
            )
        })?;
        // Numbers are held to their ranges by the command line's parser (`Settings`).
        let cluster = match s.nats_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(_) if matches!(database, DatabaseUrl::Sqlite(_)) => {
                return Err(
                    "PARLEY_NATS_URL needs PostgreSQL: nodes share one database, and an \
                     SQLite file belongs to one process (set DATABASE_URL=postgres://…)"
                        .into(),
                )
            }
            Some(url) => Some(ClusterSettings {
                nats_url: url.to_owned(),
                sweep_every: Duration::from_millis(s.nats_sweep_ms),
            }),
        };
        let trusted_proxies = s
            .trusted_proxies
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("PARLEY_TRUSTED_PROXIES: {p:?} is not an address or CIDR range")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let origins: Vec<&str> = s
            .cors_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .collect();
        let cors = match origins.as_slice() {
            [] => None,
            ["*"] => Some(CorsOrigins::Any),
            listed => Some(CorsOrigins::Listed(
                listed
                    .iter()
                    .map(|o| parse_origin(o))
                    .collect::<Result<_, _>>()?,
            )),
        };
        if s.send_rate > 0 && s.send_burst == 0 {
            return Err("PARLEY_SEND_BURST must be at least 1 when PARLEY_SEND_RATE is set".into());
        }
        let log_json = match s.log_format.as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(format!(
                    "PARLEY_LOG_FORMAT must be text or json, not {other:?}"
                ))
            }
        };
        let storage = match s.storage_url.as_deref().map(str::trim) {
            None | Some("") => default_storage(&database),
            Some(raw) => crate::storage::StorageUrl::parse(raw)?,
        };
        if cluster.is_some()
            && matches!(storage, crate::storage::StorageUrl::Directory(_))
            && !s.storage_shared
        {
            return Err(
                "with several nodes (PARLEY_NATS_URL) every node must read the same files: set \
                 PARLEY_STORAGE_URL=s3://bucket/prefix, or PARLEY_STORAGE_SHARED=true for a \
                 directory all nodes share"
                    .into(),
            );
        }
        let admin_token = match s.admin_token.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) if t.len() < 16 => {
                return Err("PARLEY_ADMIN_TOKEN must be at least 16 characters".into())
            }
            Some(t) => Some(t.to_owned()),
        };
        Ok(Config {
            database,
            bind,
            admin_token,
            db_pool_size: s.db_pool_size,
            db_timeout: Duration::from_secs(s.db_timeout_secs),
            workers: s.workers,
            ws: WsSettings {
                frame_rate: s.ws_frame_rate,
                frame_burst: s.ws_frame_burst.max(1),
                ..WsSettings::default()
            },
            rooms: RoomSettings {
                fanout_interval: Duration::from_millis(s.fanout_interval_ms),
                ..RoomSettings::default()
            },
            rates: RateSettings {
                send_rate: s.send_rate,
                send_burst: s.send_burst,
                auth_per_minute: s.auth_rate,
                logins_per_account_per_minute: s.login_rate,
                hook_posts_per_minute: s.hook_posts_per_minute,
                reports_per_hour: s.reports_per_hour,
            },
            shutdown_timeout: Duration::from_secs(s.shutdown_timeout_secs),
            log_json,
            send_batch: s.send_batch,
            dead_peer_timeout: Duration::from_secs(s.dead_peer_secs),
            presence: PresenceSettings {
                grace: Duration::from_millis(s.presence_grace_ms),
                ..PresenceSettings::default()
            },
            cluster,
            trusted_proxies,
            cors,
            max_sessions_per_user: s.max_sessions_per_user,
            max_sessions_per_ip: s.max_sessions_per_ip,
            body_timeout: Duration::from_secs(s.body_timeout_secs),
            max_requests_per_ip: s.max_requests_per_ip,
            storage,
            attachments: AttachmentSettings {
                max_upload_bytes: s.max_upload_bytes,
                sweep_every: Duration::from_secs(s.attachment_sweep_secs),
                ..AttachmentSettings::default()
            },
            push: PushSettings {
                allow_http_hosts: s
                    .push_allow_http_hosts
                    .iter()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .collect(),
                vapid_key: s
                    .vapid_private_key
                    .as_deref()
                    .map(crate::domain::push::VapidKey::from_base64url)
                    .transpose()
                    .map_err(|e| format!("PARLEY_VAPID_PRIVATE_KEY: {e}"))?,
                preview: s.push_preview,
                deliver: s.push_delivery,
                contact: check_push_contact(&s.push_contact)?,
            },
            webhooks: WebhookSettings {
                allow_hosts: s.webhook_allow_hosts.clone(),
                deliver: s.webhook_delivery,
                first_retry: Duration::from_millis(s.webhook_first_retry_ms),
            },
        })
    }

    /// A configuration for tests and embedding: the given database, an ephemeral port, no rate
    /// limits.
    pub fn for_database(database: DatabaseUrl) -> Self {
        let storage = default_storage(&database);
        Config {
            database,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: None,
            // Fewer connections and workers than a deployment: many test servers share a machine.
            db_pool_size: 8,
            db_timeout: Duration::from_secs(defaults::DB_TIMEOUT_SECS),
            workers: Some(2),
            ws: WsSettings::default(),
            rooms: RoomSettings::default(),
            rates: RateSettings::UNLIMITED,
            shutdown_timeout: Duration::from_secs(5),
            log_json: false,
            send_batch: defaults::SEND_BATCH,
            dead_peer_timeout: Duration::from_secs(defaults::DEAD_PEER_SECS),
            presence: PresenceSettings::default(),
            cluster: None,
            trusted_proxies: Vec::new(),
            cors: None,
            max_sessions_per_user: defaults::MAX_SESSIONS_PER_USER,
            max_sessions_per_ip: 0,
            body_timeout: Duration::from_secs(defaults::BODY_TIMEOUT_SECS),
            max_requests_per_ip: 0,
            storage,
            attachments: AttachmentSettings::default(),
            push: PushSettings {
                preview: true,
                deliver: true,
                contact: defaults::PUSH_CONTACT.to_owned(),
                ..PushSettings::default()
            },
            webhooks: WebhookSettings {
                allow_hosts: Vec::new(),
                deliver: true,
                first_retry: Duration::from_millis(crate::domain::delivery::FIRST_RETRY_MS as u64),
            },
        }
    }
}

/// The VAPID contact must be a `mailto:` or `https:` URL (RFC 8292, section 2.1).
fn check_push_contact(contact: &str) -> Result<String, String> {
    let contact = contact.trim();
    if contact.starts_with("mailto:") || contact.starts_with("https://") {
        Ok(contact.to_owned())
    } else {
        Err(format!(
            "PARLEY_PUSH_CONTACT: {contact:?} must be a mailto: or https:// URL"
        ))
    }
}

/// `attachments` beside the SQLite file, or under `./data` for PostgreSQL.
fn default_storage(database: &DatabaseUrl) -> crate::storage::StorageUrl {
    let data = match database {
        DatabaseUrl::Sqlite(path) => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from),
        DatabaseUrl::Postgres(_) => PathBuf::from("./data"),
    };
    crate::storage::StorageUrl::Directory(data.join(defaults::STORAGE_DIRECTORY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn parse(args: &[&str]) -> Result<Config, String> {
        use clap::Parser;
        let cli = Cli::try_parse_from(std::iter::once("parley").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Config::from_settings(&cli.settings)
    }

    #[test]
    fn defaults_come_from_one_place_and_ranges_are_held() {
        let config = parse(&[]).expect("the defaults are valid");
        assert_eq!(config.send_batch, defaults::SEND_BATCH);
        assert_eq!(config.ws.frame_rate, WsSettings::default().frame_rate);
        assert_eq!(config.presence.grace, PresenceSettings::default().grace);
        assert_eq!(
            config.rooms.fanout_interval,
            RoomSettings::default().fanout_interval
        );
        for (flag, bad, good) in [
            ("--send-batch", "0", "1000"),
            ("--send-batch", "1001", "1"),
            ("--db-pool-size", "0", "1"),
            ("--db-timeout-secs", "0", "1"),
            ("--workers", "0", "1"),
            ("--dead-peer-secs", "3601", "3600"),
            ("--body-timeout-secs", "0", "3600"),
            ("--fanout-interval-ms", "1001", "0"),
            ("--presence-grace-ms", "600001", "600000"),
            ("--nats-sweep-ms", "99", "100"),
        ] {
            assert!(parse(&[flag, bad]).is_err(), "{flag} {bad}");
            assert!(parse(&[flag, good]).is_ok(), "{flag} {good}");
        }
    }

    #[test]
    fn storage_defaults_beside_the_data_and_is_shared_between_nodes() {
        let config = parse(&["--database-url", "/srv/parley/parley.db"]).unwrap();
        assert_eq!(
            config.storage,
            crate::storage::StorageUrl::Directory("/srv/parley/attachments".into())
        );
        let pg = [
            "--database-url",
            "postgres://h/db",
            "--nats-url",
            "nats://h:4222",
        ];
        let refused = parse(&pg).unwrap_err();
        assert!(refused.contains("PARLEY_STORAGE_URL"), "{refused}");
        assert!(parse(&[&pg[..], &["--storage-shared"]].concat()).is_ok());
        assert!(parse(&[&pg[..], &["--storage-url", "s3://files/parley"]].concat()).is_ok());
        assert!(parse(&["--storage-url", "ftp://x"]).is_err());
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres("postgres://u@h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db"),
            Ok(DatabaseUrl::Postgres("postgresql://h/db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db"),
            Ok(DatabaseUrl::Sqlite("data/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("./x.db"),
            Ok(DatabaseUrl::Sqlite("./x.db".into()))
        );
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("").is_err());
    }
}
