//! The real binary: command line, and what survives being killed or stopped mid-burst.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::common::process::{free_port, ServerProcess, BINARY};
use crate::common::{Api, Backend, TestDatabase, TestUser};

/// Sends from 8 lanes until `stop`, recording every (id, seq) answered 200.
async fn burst(
    api: &Api,
    user: &TestUser,
    chat_id: i64,
    stop: &AtomicBool,
    acked: &Mutex<Vec<(i64, i64)>>,
) {
    let lanes = (0..8).map(|lane| async move {
        let mut i = 0;
        while !stop.load(Ordering::SeqCst) && i < 5000 {
            i += 1;
            let sent = api
                .client
                .post(format!("{}/api/v1/messages", api.base))
                .insert_header(("Authorization", format!("Bearer {}", user.token)))
                .send_json(&json!({"chat_id": chat_id, "content": format!("lane {lane} #{i}")}))
                .await;
            let Ok(mut res) = sent else {
                actix_rt::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            if res.status() == 200 {
                if let Ok(body) = res.json::<serde_json::Value>().await {
                    acked
                        .lock()
                        .unwrap()
                        .push((body["id"].as_i64().unwrap(), body["seq"].as_i64().unwrap()));
                }
            }
        }
    });
    futures_util::future::join_all(lanes).await;
}

/// Every message answered 200 is there with its seq, seqs have no gap, and the next message
/// continues the sequence.
async fn verify_after_restart(
    database: &TestDatabase,
    user: &TestUser,
    chat_id: i64,
    acked: Vec<(i64, i64)>,
) {
    let server = ServerProcess::start(database).await;
    let api = &server.api;
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let page = api
            .get(
                &format!("/api/v1/chats/{chat_id}/messages?limit=200&after_seq={after}"),
                &user.token,
            )
            .await;
        let page = page.expect(200).clone();
        for m in page["messages"].as_array().unwrap() {
            stored.push((m["id"].as_i64().unwrap(), m["seq"].as_i64().unwrap()));
        }
        after = stored.last().map_or(after, |m| m.1);
        if page["has_more"] == false {
            break;
        }
    }
    for acknowledged in &acked {
        assert!(
            stored.contains(acknowledged),
            "acknowledged message {acknowledged:?} was lost"
        );
    }
    // One member joined at seq 1; every later seq is a message.
    let seqs: Vec<i64> = stored.iter().map(|m| m.1).collect();
    assert_eq!(
        seqs,
        (2..2 + seqs.len() as i64).collect::<Vec<i64>>(),
        "seqs have a gap"
    );
    let next = api.send(user, chat_id, "after the restart").await;
    assert_eq!(
        next["seq"].as_i64().unwrap(),
        seqs.last().copied().unwrap_or(1) + 1
    );
}

async fn stop_during_burst(backend: Backend, graceful: bool) {
    let Some(database) = TestDatabase::provision(backend) else {
        return;
    };
    let mut server = ServerProcess::start(&database).await;
    let user = server.api.register("alice").await;
    let chat_id = server.api.group(&user, &[]).await;
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    let pid = server.child.id();
    let mut ws = crate::common::ws::WsClient::connect_to(&server.api.base, &user.token).await;
    let stopper = async {
        while acked.lock().unwrap().len() < 150 {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        if graceful {
            let status = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        } else {
            server.child.kill().unwrap();
        }
        // Keep sending into the stopping server for a moment, then stop the lanes.
        actix_rt::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
    };
    tokio::join!(burst(&server.api, &user, chat_id, &stop, &acked), stopper);
    let exit = server.child.wait().unwrap();
    if graceful {
        assert!(
            exit.success(),
            "SIGTERM should end in a clean exit, got {exit}"
        );
        assert_eq!(
            ws.closed(Duration::from_secs(5)).await,
            Some(1001),
            "WebSockets close with 1001"
        );
    }
    let acked = acked.into_inner().unwrap();
    assert!(acked.len() >= 150);
    verify_after_restart(&database, &user, chat_id, acked).await;
}

#[actix_rt::test]
async fn sigkill_mid_burst_loses_no_acknowledged_message_sqlite() {
    stop_during_burst(Backend::Sqlite, false).await;
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn sigkill_mid_burst_loses_no_acknowledged_message_postgres() {
    stop_during_burst(Backend::Postgres, false).await;
}

#[actix_rt::test]
async fn sigterm_mid_burst_loses_no_acknowledged_message_sqlite() {
    stop_during_burst(Backend::Sqlite, true).await;
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn sigterm_mid_burst_loses_no_acknowledged_message_postgres() {
    stop_during_burst(Backend::Postgres, true).await;
}

#[test]
fn help_documents_every_setting() {
    let out = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "DATABASE_URL",
        "PARLEY_BIND",
        "PARLEY_ADMIN_TOKEN",
        "PARLEY_DB_POOL_SIZE",
        "PARLEY_DB_TIMEOUT_SECS",
        "PARLEY_WORKERS",
        "PARLEY_SEND_RATE",
        "PARLEY_SEND_BURST",
        "PARLEY_AUTH_RATE",
        "PARLEY_SHUTDOWN_TIMEOUT_SECS",
        "PARLEY_LOG_FORMAT",
        "PARLEY_SEND_BATCH",
        "serve",
        "migrate",
        "check-config",
    ] {
        assert!(help.contains(name), "{name} missing from --help:\n{help}");
    }
}

#[test]
fn bad_configuration_is_one_line_and_exit_code_2() {
    for (var, value) in [
        ("DATABASE_URL", "mysql://localhost/x"),
        ("PARLEY_BIND", "not an address"),
        ("PARLEY_ADMIN_TOKEN", "short"),
        ("PARLEY_LOG_FORMAT", "xml"),
        ("PARLEY_SEND_RATE", "lots"),
        ("PARLEY_CORS_ORIGINS", "not an origin"),
        ("PARLEY_CORS_ORIGINS", "https://app.example.org/path"),
        ("PARLEY_MAX_SESSIONS_PER_USER", "-1"),
    ] {
        let out = Command::new(BINARY)
            .arg("check-config")
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.trim().lines().count() <= 4, "{var}: {stderr}");
    }
    let ok = Command::new(BINARY)
        .arg("check-config")
        .env("DATABASE_URL", "sqlite://x.db")
        .output()
        .unwrap();
    assert!(ok.status.success());
    // Several nodes share one PostgreSQL database; an SQLite file cannot be shared.
    let nats_on_sqlite = Command::new(BINARY)
        .arg("check-config")
        .env("DATABASE_URL", "sqlite://x.db")
        .env("PARLEY_NATS_URL", "nats://127.0.0.1:4222")
        .output()
        .unwrap();
    assert_eq!(nats_on_sqlite.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&nats_on_sqlite.stderr);
    assert!(
        stderr.contains("PARLEY_NATS_URL needs PostgreSQL"),
        "{stderr}"
    );
    for proxies in ["10.0.0.0/8,not-an-address", "10.0.0.300"] {
        let bad = Command::new(BINARY)
            .arg("check-config")
            .env("DATABASE_URL", "sqlite://x.db")
            .env("PARLEY_TRUSTED_PROXIES", proxies)
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2), "{proxies}");
    }
}

#[test]
fn migrate_applies_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/dir/p.db");
    let out = Command::new(BINARY)
        .arg("migrate")
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
    let again = Command::new(BINARY)
        .arg("migrate")
        .env("DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 migration(s) applied"));
}

/// `PARLEY_LOG_FORMAT=json`: one JSON object per line, the request's line carrying its span
/// (request id, route, status).
#[actix_rt::test]
async fn json_logs_carry_the_request_span() {
    let database = TestDatabase::provision(Backend::Sqlite).unwrap();
    let port = free_port();
    let mut child = Command::new(BINARY)
        .env("DATABASE_URL", database.env_value())
        .env("PARLEY_BIND", format!("127.0.0.1:{port}"))
        .env("PARLEY_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parley starts");
    let client = awc::Client::default();
    let mut answered = false;
    for _ in 0..300 {
        let sent = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .insert_header(("X-Request-Id", "json-log-probe"))
            .send()
            .await;
        if sent.is_ok_and(|r| r.status() == 200) {
            answered = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = actix_rt::task::spawn_blocking(move || {
        let _ = child.wait();
        let mut text = String::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let mut stream = stream;
            let _ = std::io::Read::read_to_string(&mut stream, &mut text);
        }
        text
    })
    .await
    .unwrap();
    assert!(answered, "the server did not answer");
    let lines: Vec<serde_json::Value> = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["span"]["request.id"] == "json-log-probe")
        .unwrap_or_else(|| panic!("no line for the request in:\n{output}"));
    assert_eq!(request["span"]["http.route"], "/healthz");
    assert_eq!(request["span"]["http.status"], 200);
}
