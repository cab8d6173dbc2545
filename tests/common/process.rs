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
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("parley starts");
        let api = Api {
            base: format!("http://127.0.0.1:{port}"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish(),
        };
        for _ in 0..300 {
            if let Ok(res) = api.client.get(format!("{}/healthz", api.base)).send().await {
                if res.status() == 200 {
                    return ServerProcess { child, api };
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
