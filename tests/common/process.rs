//! Real `parley` processes, and the NATS server that several of them share.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Api, TestDatabase};

pub const BINARY: &str = env!("CARGO_BIN_EXE_parley");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `parley` process on a free port, killed when dropped (a failed test leaves none behind).
pub struct ServerProcess {
    pub child: Child,
    pub api: Api,
    /// The process's file store, unless the test named one.
    _storage: tempfile::TempDir,
}

impl ServerProcess {
    pub async fn start(database: &TestDatabase) -> ServerProcess {
        Self::start_with(database, &[]).await
    }

    /// With extra environment variables on top of the tests' defaults (no rate limits).
    pub async fn start_with(database: &TestDatabase, env: &[(&str, String)]) -> ServerProcess {
        Self::start_on(&database.env_value(), env).await
    }

    /// On the database `DATABASE_URL` names (a file the test made, say).
    pub async fn start_on(database_url: &str, env: &[(&str, String)]) -> ServerProcess {
        let port = free_port();
        let mut command = Command::new(BINARY);
        command
            .env("DATABASE_URL", database_url)
            .env("PARLEY_BIND", format!("127.0.0.1:{port}"))
            .env("PARLEY_SEND_RATE", "0")
            .env("PARLEY_AUTH_RATE", "0")
            .env("PARLEY_LOGIN_RATE", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A file store of its own, not the working directory's `data/` (a test may name one).
        let storage = tempfile::tempdir().expect("temp dir");
        command.env("PARLEY_STORAGE_URL", storage.path());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("parley starts");
        let api = Api {
            base: format!("http://127.0.0.1:{port}"),
            client: super::test_client(Duration::from_secs(10)),
        };
        for _ in 0..300 {
            if let Ok(res) = api.client.get(format!("{}/healthz", api.base)).send().await {
                if res.status() == 200 {
                    return ServerProcess {
                        child,
                        api,
                        _storage: storage,
                    };
                }
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("parley did not come up on port {port}");
    }

    /// The address it listens on, as `PARLEY_BIND` takes it.
    pub fn bind(&self) -> &str {
        self.api.base.trim_start_matches("http://")
    }

    /// `kill -9`: no shutdown of any kind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `nats-server` of the test's own on a free port, which the test may stop and start again
/// on the same port.
pub struct NatsServer {
    pub port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// `None` when `nats-server` is not installed, unless `PARLEY_TEST_REQUIRE_NATS` is set
    /// (as `.ci/run`, which installs it, does): then that is a failure.
    pub fn start() -> Option<NatsServer> {
        let mut server = NatsServer {
            port: free_port(),
            child: None,
        };
        if server.resume() {
            return Some(server);
        }
        assert!(
            std::env::var_os("PARLEY_TEST_REQUIRE_NATS").is_none(),
            "nats-server is required (PARLEY_TEST_REQUIRE_NATS) but cannot be run"
        );
        None
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again (after `stop`) on the same port; false if it cannot run.
    pub fn resume(&mut self) -> bool {
        let Ok(child) = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        self.child = Some(child);
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not come up on port {}", self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An S3-compatible server of the test's own (`s3s-fs`, from crates.io) on a free port, over a
/// temporary directory, with one bucket.
pub struct S3Server {
    pub port: u16,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    child: Child,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// `None` when `s3s-fs` is not installed, unless `PARLEY_TEST_REQUIRE_S3` is set (as
    /// `.ci/run`, which installs it, does): then that is a failure.
    pub fn start() -> Option<S3Server> {
        let root = tempfile::tempdir().expect("temp dir");
        let bucket = "parley".to_owned();
        // s3s-fs keeps each bucket as a directory under its root.
        std::fs::create_dir(root.path().join(&bucket)).expect("bucket directory");
        let port = free_port();
        let (access_key, secret_key) = (
            "parley-test-key".to_owned(),
            "parley-test-secret".to_owned(),
        );
        let child = match Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) => {
                assert!(
                    std::env::var_os("PARLEY_TEST_REQUIRE_S3").is_none(),
                    "s3s-fs is required (PARLEY_TEST_REQUIRE_S3) but cannot be run"
                );
                return None;
            }
        };
        let server = S3Server {
            port,
            bucket,
            access_key,
            secret_key,
            child,
            _root: root,
        };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("s3s-fs did not come up on port {port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables a Parley server reads to reach this store.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
