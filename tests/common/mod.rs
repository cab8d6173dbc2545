//! Test harness: a real Parley server on an ephemeral port, backed by a fresh SQLite file or a
//! fresh PostgreSQL database (when `PARLEY_TEST_POSTGRES_URL` is set), and a real HTTP client.

#![allow(dead_code)]

pub mod process;
pub mod proxy;
pub mod push;
pub mod webhooks;
pub mod ws;

use std::time::Duration;

use actix_web::dev::ServerHandle;
use awc::http::header::HeaderMap;
use awc::http::Method;
use parley::config::RoomSettings;
use parley::config::{Config, DatabaseUrl};
use parley::db::Database;
use serde_json::Value;

pub const POSTGRES_ENV: &str = "PARLEY_TEST_POSTGRES_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A throw-away PostgreSQL database, dropped (with its connections) when the test ends.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime; a thread of its own can block on its own one.
        let _ = std::thread::spawn(move || run_admin_sql(&admin_url, &sql)).join();
    }
}

fn run_admin_sql(admin_url: &str, sql: &str) -> Result<(), String> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let mut conn = AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(admin_url)
        .map_err(|e| format!("cannot connect to {admin_url}: {e}"))?;
    conn.batch_execute(sql).map_err(|e| format!("{sql}: {e}"))
}

/// The name of a database with every migration applied, from which each test's database is
/// copied (`CREATE DATABASE … TEMPLATE`): migrating once per run instead of once per test. It is
/// named by a hash of the migrations, so a changed migration makes a new one. nextest runs each
/// test in a process of its own, so processes take turns with an advisory lock; the first of a
/// run builds it under a temporary name and renames it when complete (and drops the templates
/// of other migrations).
fn migrated_template(admin_url: &str) -> Result<String, String> {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }

    let name = format!("parley_template_{}", env!("PARLEY_MIGRATIONS_FINGERPRINT"));
    let mut conn = AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(admin_url)
        .map_err(|e| format!("cannot connect to {admin_url}: {e}"))?;
    // Released when the connection closes, whatever happens below.
    conn.batch_execute("SELECT pg_advisory_lock(7240517361)")
        .map_err(|e| format!("template lock: {e}"))?;
    let templates: Vec<Name> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'parley\\_template\\_%'",
    )
    .load(&mut conn)
    .map_err(|e| format!("listing templates: {e}"))?;
    if templates.iter().any(|t| t.datname == name) {
        return Ok(name);
    }
    for stale in &templates {
        conn.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            stale.datname
        ))
        .map_err(|e| format!("dropping {}: {e}", stale.datname))?;
    }
    let building = format!("{name}_building");
    conn.batch_execute(&format!("CREATE DATABASE \"{building}\""))
        .map_err(|e| format!("creating {building}: {e}"))?;
    let url = parley::config::DatabaseUrl::Postgres(with_database(admin_url, &building));
    actix_rt::System::new()
        .block_on(parley::db::run_migrations(&url))
        .map_err(|e| format!("migrating the template: {e}"))?;
    conn.batch_execute(&format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
    ))
    .map_err(|e| format!("naming the template: {e}"))?;
    Ok(name)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub struct TestServer {
    pub backend: Backend,
    pub base: String,
    pub database: Database,
    pub database_url: DatabaseUrl,
    pub metrics: std::sync::Arc<parley::metrics::Metrics>,
    /// Makes rooms fail on purpose (the `fault-injection` feature, on in tests only).
    pub faults: parley::actors::Faults,
    handle: ServerHandle,
    _database: TestDatabase,
    /// The server's file store (when it is a directory).
    pub storage_dir: std::path::PathBuf,
    _storage: tempfile::TempDir,
}

/// A fresh, empty database for one test, removed when the test ends.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    _sqlite_dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDatabase {
    /// `None` for PostgreSQL when no test server is configured.
    pub fn provision(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("parley.db");
                Some(TestDatabase {
                    url: DatabaseUrl::Sqlite(path),
                    _sqlite_dir: Some(dir),
                    _pg: None,
                })
            }
            Backend::Postgres => {
                let admin_url = match std::env::var(POSTGRES_ENV) {
                    Ok(url) => url,
                    // Built to run the PostgreSQL tests (see `build.rs`): they must not pass
                    // without running.
                    Err(_) if cfg!(parley_pg_tests) => {
                        panic!("{POSTGRES_ENV} was set when the tests were built but is not now")
                    }
                    Err(_) => return None,
                };
                let name = format!("parley_test_{}", uuid::Uuid::new_v4().simple());
                let (url, copy) = (admin_url.clone(), name.clone());
                std::thread::spawn(move || {
                    let template = migrated_template(&url)?;
                    run_admin_sql(
                        &url,
                        &format!("CREATE DATABASE \"{copy}\" TEMPLATE \"{template}\""),
                    )
                })
                .join()
                .expect("admin thread")
                .expect("create test database");
                Some(TestDatabase {
                    url: DatabaseUrl::Postgres(with_database(&admin_url, &name)),
                    _sqlite_dir: None,
                    _pg: Some(PgDatabase { admin_url, name }),
                })
            }
        }
    }

    /// The URL as `DATABASE_URL` takes it.
    pub fn env_value(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

impl TestServer {
    /// A fresh server, or `None` for PostgreSQL when no test database is configured.
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, RoomSettings::default(), |_| {}).await
    }

    pub async fn start_with(
        backend: Backend,
        rooms: RoomSettings,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let database = TestDatabase::provision(backend)?;
        Some(Self::start_on_with(backend, database, rooms, adjust).await)
    }

    /// A server on an already provisioned database.
    pub async fn start_on(
        backend: Backend,
        database: TestDatabase,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        Self::start_on_with(backend, database, RoomSettings::default(), adjust).await
    }

    async fn start_on_with(
        backend: Backend,
        database: TestDatabase,
        rooms: RoomSettings,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::for_database(database.url.clone());
        let storage = tempfile::tempdir().expect("temp dir");
        config.storage = parley::storage::StorageUrl::Directory(storage.path().to_owned());
        config.rooms = rooms;
        adjust(&mut config);
        let parley = parley::server::build(&config).await.expect("server starts");
        let base = format!("http://{}", parley.addr);
        let handle = parley.handle();
        let metrics = parley.metrics.clone();
        let db = parley.database.clone();
        let faults = parley.faults();
        actix_rt::spawn(async move {
            let _ = parley.run().await;
        });
        TestServer {
            backend,
            base,
            database: db,
            database_url: database.url.clone(),
            metrics,
            faults,
            handle,
            _database: database,
            storage_dir: storage.path().to_owned(),
            _storage: storage,
        }
    }

    /// The server's OpenAPI document.
    pub async fn openapi(&self) -> Value {
        let answer = self
            .api()
            .request(Method::GET, "/api/v1/openapi.json", None, &[], None)
            .await;
        answer.expect(200).clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The current value of an (unlabelled) metric, named without its `parley_` prefix.
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics
            .registry
            .gather()
            .iter()
            .filter(|family| family.name().strip_prefix("parley_") == Some(name))
            .flat_map(|family| family.get_metric().iter())
            // A gauge's counter part is zero and the other way round.
            .map(|m| m.get_gauge().get_value() + m.get_counter().get_value())
            .sum()
    }

    pub fn queries(&self) -> u64 {
        self.database.queries_run()
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// Runs SQL on the test database over a connection of its own (to break things on purpose).
    pub fn execute_sql(&self, sql: &str) {
        match &self.database_url {
            DatabaseUrl::Sqlite(path) => {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .expect("open sqlite");
                // The server writes too: wait for its lock rather than fail.
                conn.batch_execute("PRAGMA busy_timeout = 5000")
                    .expect("busy timeout");
                conn.batch_execute(sql).expect("sql runs");
            }
            DatabaseUrl::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_owned());
                std::thread::spawn(move || run_admin_sql(&url, &sql))
                    .join()
                    .expect("sql thread")
                    .expect("sql runs");
            }
        }
    }

    /// Runs a query whose one column, `n`, is a `BIGINT`, and returns its rows.
    pub fn sql_numbers(&self, sql: &str) -> Vec<i64> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel::{Connection, RunQueryDsl};
        match &self.database_url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .expect("open sqlite");
                let rows: Vec<Row> = diesel::sql_query(sql).load(&mut conn).expect("query runs");
                rows.into_iter().map(|r| r.n).collect()
            }
            DatabaseUrl::Postgres(url) => {
                use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
                let (url, sql) = (url.clone(), sql.to_owned());
                std::thread::spawn(move || {
                    let mut conn =
                        AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(&url)
                            .expect("connect");
                    let rows: Vec<Row> =
                        diesel::sql_query(sql).load(&mut conn).expect("query runs");
                    rows.into_iter().map(|r| r.n).collect()
                })
                .join()
                .expect("sql thread")
            }
        }
    }

    /// A transaction held open on another connection to the server's PostgreSQL database, as
    /// a writer holds one between its checks and its commit: `sql` runs after `BEGIN` before
    /// this returns, and the transaction commits at `HeldTransaction::commit`.
    pub fn hold_transaction(&self, sql: &str) -> HeldTransaction {
        let DatabaseUrl::Postgres(url) = self.database_url.clone() else {
            panic!("a transaction is held on PostgreSQL only");
        };
        let sql = format!("BEGIN; {sql}");
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            use diesel::connection::SimpleConnection;
            use diesel::Connection;
            use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
            let mut conn =
                AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(&url)
                    .expect("connect");
            conn.batch_execute(&sql).expect("the held statements run");
            held_tx.send(()).expect("the test waits");
            commit_rx.recv().expect("the test commits");
            conn.batch_execute("COMMIT;").expect("commit");
        });
        held_rx.recv().expect("the holder started");
        HeldTransaction {
            commit: commit_tx,
            thread,
        }
    }

    pub fn api(&self) -> Api {
        Api {
            base: self.base.clone(),
            client: test_client(Duration::from_secs(60)),
        }
    }
}

/// Generates `sqlite` and `postgres` variants of each test body; `with (rooms)` after the
/// signature gives the servers other room settings, and `configured (f)` lets `f` adjust
/// the rest of their configuration (`fn(&mut Config)`).
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($server:ident) $(with ($rooms:expr))? $(configured ($adjust:expr))? $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($server: $crate::common::TestServer) $body

                fn rooms() -> parley::config::RoomSettings {
                    #[allow(unused_variables)]
                    let rooms = parley::config::RoomSettings::default();
                    $(let rooms = $rooms;)?
                    rooms
                }

                #[allow(unused_variables)]
                fn adjust(config: &mut parley::config::Config) {
                    $(($adjust)(config);)?
                }

                #[actix_rt::test]
                async fn sqlite() {
                    let server = $crate::common::TestServer::start_with(
                        $crate::common::Backend::Sqlite, rooms(), adjust,
                    )
                    .await
                    .expect("sqlite server");
                    run(server).await;
                }

                #[actix_rt::test]
                #[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
                async fn postgres() {
                    if let Some(server) = $crate::common::TestServer::start_with(
                        $crate::common::Backend::Postgres, rooms(), adjust,
                    )
                    .await
                    {
                        run(server).await;
                    }
                }
            }
        )*
    };
}

/// Polls `check` every 10 ms until it gives a value, and returns it; panics (naming `what`)
/// if none comes `within`. Tests wait for what they need to see, not for a fixed time.
/// The tests' HTTP client. It keeps an idle connection for less time than the server does (5 s):
/// one the server closed while a test waited (a bulk insert, say) would otherwise be reused and
/// fail the next request.
pub fn test_client(timeout: Duration) -> awc::Client {
    awc::Client::builder()
        .timeout(timeout)
        .connector(awc::Connector::new().conn_keep_alive(Duration::from_secs(3)))
        .finish()
}

/// For the tests that count the statements a request costs: no push delivery on this server,
/// whose claims (every second, and after sends) would be counted with the request's.
pub fn counting_statements(config: &mut parley::config::Config) {
    config.push.deliver = false;
    config.webhooks.deliver = false;
}

pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {within:?} for {what}"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An HTTP response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and, for errors, the contract's error shape and code.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.json
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.json["code"], code,
            "unexpected code; body: {}",
            self.text
        );
        assert!(
            self.json["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.text
        );
        assert!(self.header("x-request-id").is_some());
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: awc::Client,
}

/// A registered user and its bearer token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub token: String,
}

impl Api {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        self.try_request(method, path, token, headers, body)
            .await
            .expect("request reaches the server")
    }

    /// `None` when the server cannot be reached or drops the connection (a killed node).
    pub async fn try_request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Option<Resp> {
        let mut client = parley_client::Client::with_http(&self.base, self.client.clone());
        if let Some(token) = token {
            client = client.with_token(token);
        }
        let mut headers = headers.to_vec();
        let body = body.map(|(content_type, bytes)| {
            headers.push(("Content-Type", content_type));
            bytes.into()
        });
        let raw = client.raw(method, path, &headers, body).await.ok()?;
        let text = String::from_utf8_lossy(&raw.body).into_owned();
        let json = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
        Some(Resp {
            status: raw.status,
            headers: raw.headers,
            text,
            json,
        })
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), &[], None)
            .await
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Resp {
        self.request(
            method,
            path,
            token,
            &[],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send_json(Method::POST, path, Some(token), body).await
    }

    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: &Value) -> Resp {
        self.request(
            Method::POST,
            path,
            Some(token),
            &[("Idempotency-Key", key)],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send_json(Method::PATCH, path, Some(token), body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.request(Method::DELETE, path, Some(token), &[], None)
            .await
    }

    pub async fn register(&self, username: &str) -> TestUser {
        let session = self
            .client()
            .register(username, "correct horse", None)
            .await
            .expect("registered");
        TestUser {
            id: session.user.id.get(),
            username: username.to_owned(),
            token: session.access_token,
        }
    }

    /// The typed client of the same server (`parley-client`).
    pub fn client(&self) -> parley_client::Client {
        parley_client::Client::with_http(&self.base, self.client.clone())
    }

    /// A login attempt, answered as it is.
    pub async fn login(&self, username: &str, password: &str) -> Resp {
        self.send_json(
            Method::POST,
            "/api/v1/auth/login",
            None,
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// A group chat owned by `owner` with `members`; returns its id.
    pub async fn group(&self, owner: &TestUser, members: &[&TestUser]) -> i64 {
        let ids: Vec<parley::domain::UserId> = members
            .iter()
            .map(|m| parley::domain::UserId(m.id))
            .collect();
        let chat = self
            .client()
            .with_token(&owner.token)
            .create_group("Team", &ids)
            .await
            .expect("group created");
        chat.id.get()
    }

    /// The chat's `last_seq` as `user` sees it.
    pub async fn last_seq(&self, user: &TestUser, chat_id: i64) -> i64 {
        self.get(&format!("/api/v1/chats/{chat_id}"), &user.token)
            .await
            .expect(200)["last_seq"]
            .as_i64()
            .unwrap()
    }

    /// Sends a text message and returns the answer's body.
    pub async fn send(&self, user: &TestUser, chat_id: i64, content: &str) -> Value {
        let res = self
            .post(
                "/api/v1/messages",
                &user.token,
                &serde_json::json!({"chat_id": chat_id, "type": "text", "content": content}),
            )
            .await;
        res.expect(200).clone()
    }
}

/// See `TestServer::hold_transaction`.
pub struct HeldTransaction {
    commit: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl HeldTransaction {
    pub fn commit(self) {
        self.commit.send(()).expect("the holder waits");
        self.thread.join().expect("the holder commits");
    }
}
