//! A webhook receiver for the tests: a loopback HTTP server that records every request and
//! answers as a script says (a status, or nothing at all), and the independent check of the
//! signatures it received, by PyPI's `standardwebhooks`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    Status(u16),
    /// Reads the request and never answers (until the client gives up).
    Hang,
    /// Answers 200 and then a body that never ends (until the client stops reading).
    Endless,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// What it was answered (none for a hang).
    pub answered: Option<u16>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn seq(&self) -> i64 {
        self.json()["seq"].as_i64().unwrap()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Behaviour>,
    otherwise: Option<Behaviour>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        actix_rt::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                actix_rt::spawn(serve(stream, shared.clone()));
            }
        });
        Receiver { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next requests are answered so, in order; the rest as `otherwise` says.
    pub fn script(&self, behaviours: &[Behaviour]) {
        self.state.lock().unwrap().script.extend(behaviours);
    }

    /// How requests past the script are answered (200 unless set).
    pub fn otherwise(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().otherwise = Some(behaviour);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
            .collect()
    }

    /// Waits until `count` requests were accepted.
    pub async fn wait_accepted(&self, count: usize, within: Duration) -> Vec<Received> {
        super::wait_for("webhook deliveries", within, || {
            let accepted = self.accepted();
            async move { (accepted.len() >= count).then_some(accepted) }
        })
        .await
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head, body_start) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break (
                String::from_utf8_lossy(&buffer[..end]).into_owned(),
                end + 4,
            );
        }
    };
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = buffer[body_start..].to_vec();
    while body.len() < length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let behaviour = {
        let mut state = state.lock().unwrap();
        let behaviour = state
            .script
            .pop_front()
            .or(state.otherwise)
            .unwrap_or(Behaviour::Status(200));
        state.received.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
            answered: match behaviour {
                Behaviour::Status(status) => Some(status),
                Behaviour::Endless => Some(200),
                Behaviour::Hang => None,
            },
        });
        behaviour
    };
    match behaviour {
        Behaviour::Status(status) => {
            let answer = format!(
                "HTTP/1.1 {status} Whatever\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Hang => {
            actix_rt::time::sleep(Duration::from_secs(60)).await;
        }
        Behaviour::Endless => {
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
            // Until the client hangs up; a minute at most.
            let until = std::time::Instant::now() + Duration::from_secs(60);
            while std::time::Instant::now() < until
                && stream.write_all(chunk.as_bytes()).await.is_ok()
            {}
        }
    }
}

/// Checks every request's signature with PyPI's `standardwebhooks` (an implementation that is
/// not this server's), and that each is within its tolerance of now. `false` when the package
/// is missing and not required (`PARLEY_TEST_REQUIRE_WEBHOOK_VERIFIER`, as `.ci/run` sets).
pub fn verify_independently(secret: &str, received: &[Received]) -> bool {
    let python = std::env::var("PARLEY_TEST_WEBHOOK_PYTHON").unwrap_or_else(|_| "python3".into());
    let required = std::env::var_os("PARLEY_TEST_REQUIRE_WEBHOOK_VERIFIER").is_some();
    let present = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            !required,
            "standardwebhooks is required (PARLEY_TEST_REQUIRE_WEBHOOK_VERIFIER) but {python} cannot import it"
        );
        eprintln!("standardwebhooks is missing: signatures not checked independently");
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("received.jsonl");
    let lines: Vec<String> = received
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "timestamp": r.timestamp, "signature": r.signature, "body": r.body,
            })
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
hook = Webhook(sys.argv[1])
count = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    headers = {"webhook-id": r["id"], "webhook-timestamp": r["timestamp"],
               "webhook-signature": r["signature"]}
    hook.verify(r["body"], headers)
    count += 1
print(count)
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, secret])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "standardwebhooks refused a signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        received.len().to_string()
    );
    true
}
