//! What operators do to a running server: deactivate and reactivate accounts (admin API and
//! `parley users`), and back up an SQLite database while it is written to.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use awc::http::Method;
use serde_json::json;

use crate::common::process::{ServerProcess, BINARY};
use crate::common::ws::WsClient;
use crate::common::{Backend, TestDatabase, TestServer};

const ADMIN: &str = "admin-token-for-operator-tests";

async fn deactivation_round_trip(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, Default::default(), |c| {
        c.admin_token = Some(ADMIN.to_owned());
    })
    .await
    else {
        return;
    };
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[&bob]).await;
    let kept = api.send(&alice, chat_id, "this stays").await;
    let mut alice_ws = WsClient::connect(&server, &alice.token).await;

    let listed = api.get("/admin/users?query=ali", ADMIN).await;
    let users = listed.expect(200)["users"].as_array().unwrap().clone();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(users[0]["deactivated_at"], serde_json::Value::Null);
    // A part no username can hold matches nothing, on both backends alike (SQLite's LIKE would
    // ignore case; PostgreSQL would refuse the NUL).
    for part in ["ALI", "al%00i", "%C3%A4", "a%20l"] {
        let found = api.get(&format!("/admin/users?query={part}"), ADMIN).await;
        assert_eq!(found.expect(200)["users"], json!([]), "{part}");
    }
    // Only operators.
    let path = format!("/admin/users/{}/deactivate", alice.id);
    api.post(&path, &bob.token, &json!({}))
        .await
        .expect_error(401, "unauthorized");
    api.post("/admin/users/999999/deactivate", ADMIN, &json!({}))
        .await
        .expect_error(404, "not_found");

    let done = api.post(&path, ADMIN, &json!({})).await;
    assert!(done.expect(200)["deactivated_at"].is_string());
    // Every token revoked at once, sockets closed, logins refused.
    assert_eq!(alice_ws.closed(Duration::from_secs(5)).await, Some(1008));
    api.get("/api/v1/users/me", &alice.token)
        .await
        .expect_error(401, "unauthorized");
    api.login("alice", "correct horse")
        .await
        .expect_error(401, "account_deactivated");
    api.login("alice", "wrong horse")
        .await
        .expect_error(401, "unauthorized");
    // Her messages stay.
    let page = api
        .get(&format!("/api/v1/chats/{chat_id}/messages"), &bob.token)
        .await;
    assert_eq!(page.expect(200)["messages"][0], kept);

    let back = api
        .post(
            &format!("/admin/users/{}/reactivate", alice.id),
            ADMIN,
            &json!({}),
        )
        .await;
    assert_eq!(back.expect(200)["deactivated_at"], serde_json::Value::Null);
    api.login("alice", "correct horse").await.expect(200);
    // The old token stays revoked.
    api.get("/api/v1/users/me", &alice.token)
        .await
        .expect_error(401, "unauthorized");
    api.get("/admin/users?limit=0", ADMIN)
        .await
        .expect_error(400, "bad_request");
}

#[actix_rt::test]
async fn an_operator_deactivates_and_reactivates_an_account_sqlite() {
    deactivation_round_trip(Backend::Sqlite).await;
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn an_operator_deactivates_and_reactivates_an_account_postgres() {
    deactivation_round_trip(Backend::Postgres).await;
}

fn parley(server: &ServerProcess, args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .args(args)
        .env("PARLEY_BIND", server.bind())
        .env("PARLEY_ADMIN_TOKEN", ADMIN)
        .env("DATABASE_URL", "unused.db")
        .output()
        .unwrap()
}

#[actix_rt::test]
async fn parley_users_deactivates_through_the_running_server() {
    let database = TestDatabase::provision(Backend::Sqlite).unwrap();
    let server =
        ServerProcess::start_with(&database, &[("PARLEY_ADMIN_TOKEN", ADMIN.to_owned())]).await;
    let alice = server.api.register("alice").await;
    let mut ws = WsClient::connect_to(&server.api.base, &alice.token).await;

    let out = parley(&server, &["users", "deactivate", "alice"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("deactivated: alice"), "{stdout}");
    assert_eq!(ws.closed(Duration::from_secs(5)).await, Some(1008));
    server
        .api
        .login("alice", "correct horse")
        .await
        .expect_error(401, "account_deactivated");
    let listed = parley(&server, &["users", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("alice (id 1, deactivated since"));
    let missing = parley(&server, &["users", "deactivate", "nobody"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no account named \"nobody\""));
    assert!(parley(&server, &["users", "reactivate", "alice"])
        .status
        .success());
    server.api.login("alice", "correct horse").await.expect(200);
}

/// A backup taken while sends go on is a consistent database: a server started on it finds
/// every message acknowledged before the backup began, with gap-free seqs.
#[actix_rt::test]
async fn parley_backup_copies_a_running_sqlite_database() {
    let database = TestDatabase::provision(Backend::Sqlite).unwrap();
    let server = ServerProcess::start(&database).await;
    let api = &server.api;
    let alice = api.register("alice").await;
    let chat_id = api.group(&alice, &[]).await;
    for i in 0..20 {
        api.send(&alice, chat_id, &format!("before {i}")).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup.db");
    let stop = AtomicBool::new(false);
    let during = Mutex::new(0);
    let writer = async {
        while !stop.load(Ordering::SeqCst) {
            let answer = api
                .request(
                    Method::POST,
                    "/api/v1/messages",
                    Some(&alice.token),
                    &[],
                    Some((
                        "application/json",
                        json!({"chat_id": chat_id, "content": "during"})
                            .to_string()
                            .into_bytes(),
                    )),
                )
                .await;
            assert_eq!(answer.status, 200);
            *during.lock().unwrap() += 1;
        }
    };
    let backup = async {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        let target = target.clone();
        let url = database.env_value();
        let out = actix_rt::task::spawn_blocking(move || {
            Command::new(BINARY)
                .args(["backup", &target.to_string_lossy()])
                .env("DATABASE_URL", url)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        stop.store(true, Ordering::SeqCst);
        out
    };
    let (_, out) = tokio::join!(writer, backup);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        *during.lock().unwrap() > 0,
        "sends went on during the backup"
    );
    // A second backup to the same file is refused rather than overwriting it.
    let again = Command::new(BINARY)
        .args(["backup", &target.to_string_lossy()])
        .env("DATABASE_URL", database.env_value())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    drop(server);

    let restored = ServerProcess::start_on(&target.to_string_lossy(), &[]).await;
    let page = restored
        .api
        .get(
            &format!("/api/v1/chats/{chat_id}/messages?after_seq=0&limit=200"),
            &alice.token,
        )
        .await;
    let messages = page.expect(200)["messages"].as_array().unwrap().clone();
    let contents: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let before: Vec<String> = (0..20).map(|i| format!("before {i}")).collect();
    assert_eq!(
        contents[..20],
        before.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (2..2 + seqs.len() as i64).collect::<Vec<_>>(),
        "no torn write"
    );
    let chat = restored
        .api
        .get(&format!("/api/v1/chats/{chat_id}"), &alice.token)
        .await;
    assert_eq!(chat.expect(200)["last_seq"], seqs.last().copied().unwrap());
}
