//! Issue 24: each finding tried as an attacker would, on SQLite and PostgreSQL. The races run
//! as many rounds as it took to reproduce them against the code before the fix.

use std::time::Duration;

use awc::http::Method;
use serde_json::json;

use crate::common::ws::WsClient;
use crate::common::TestServer;
use crate::on_both_backends;

const ADMIN: &str = "admin-token-for-hardening-tests";

fn with_admin(config: &mut parley::config::Config) {
    config.admin_token = Some(ADMIN.to_owned());
}

/// An operator's action on an account (`deactivate`, `reactivate`), which must succeed.
async fn operator(server: &TestServer, action: &str, user_id: i64) {
    let path = format!("/admin/users/{user_id}/{action}");
    server
        .api()
        .post(&path, ADMIN, &json!({}))
        .await
        .expect(200);
}

/// A token that must not work: refused on REST and on the WebSocket.
async fn assert_dead(server: &TestServer, token: &str) {
    server
        .api()
        .get("/api/v1/users/me", token)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(WsClient::refused_status(server, Some(token)).await, 401);
}

/// Waits until a session that is open must have been closed with 1008 (or was never ready).
async fn assert_closed_by_revocation(opened: Result<Result<WsClient, Option<u16>>, u16>) {
    match opened {
        Err(status) => assert_eq!(status, 401),
        Ok(Err(code)) => assert_eq!(code, Some(1008)),
        Ok(Ok(mut session)) => {
            assert_eq!(session.closed(Duration::from_secs(5)).await, Some(1008));
        }
    }
}

on_both_backends! {
    /// Finding 1: a login whose password check overlaps an operator's deactivation got a
    /// 30-day token for the deactivated account (6/20 on SQLite, 16/20 on PostgreSQL before).
    async fn a_login_racing_a_deactivation_never_yields_a_working_token(server)
        configured (with_admin)
    {
        let api = server.api();
        for round in 0..30u64 {
            let name = format!("racer{round}");
            let user = api.register(&name).await;
            // The hash check takes tens of milliseconds; the deactivation lands in it, before
            // it or after it, depending on the round.
            let delay = Duration::from_millis((round % 10) * 5);
            let login = api.login(&name, "correct horse");
            let deactivation = async {
                tokio::time::sleep(delay).await;
                operator(&server, "deactivate", user.id).await;
            };
            let (login, ()) = tokio::join!(login, deactivation);
            let token = match login.status {
                200 => login.json["access_token"].as_str().map(str::to_owned),
                _ => {
                    login.expect_error(401, "account_deactivated");
                    None
                }
            };
            for token in [Some(user.token.as_str()), token.as_deref()].into_iter().flatten() {
                assert_dead(&server, token).await;
            }
            // Nor does a token from the race come back with the account.
            operator(&server, "reactivate", user.id).await;
            for token in [Some(user.token.as_str()), token.as_deref()].into_iter().flatten() {
                assert_dead(&server, token).await;
            }
        }
    }

    /// Finding 2: a WebSocket upgrade racing its token's logout kept its session, and went on
    /// receiving the chat (1-2 in 200 before). Here 150 logouts and 20 deactivations.
    async fn a_websocket_racing_a_revocation_is_closed(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&bob, &[&alice]).await;
        for round in 0..150u64 {
            let login = api.login("alice", "correct horse").await;
            let token = login.expect(200)["access_token"].as_str().unwrap().to_owned();
            let delay = Duration::from_millis(round % 8);
            let open = WsClient::try_open(&server.base, &token);
            let logout = async {
                tokio::time::sleep(delay).await;
                let done = api
                    .request(Method::POST, "/api/v1/auth/logout", Some(&token), &[], None)
                    .await;
                assert_eq!(done.status, 204);
            };
            let (opened, ()) = tokio::join!(open, logout);
            assert_closed_by_revocation(opened).await;
        }
        for round in 0..20u64 {
            let name = format!("gone{round}");
            let user = api.register(&name).await;
            let delay = Duration::from_millis(round % 8);
            let open = WsClient::try_open(&server.base, &user.token);
            let deactivation = async {
                tokio::time::sleep(delay).await;
                operator(&server, "deactivate", user.id).await;
            };
            let (opened, ()) = tokio::join!(open, deactivation);
            assert_closed_by_revocation(opened).await;
        }
        // And nothing that raced is still listening: a session of alice's opened now is the
        // only one that hears the chat.
        let mut live = WsClient::connect(&server, &alice_token(&server).await).await;
        api.send(&bob, chat_id, "after the races").await;
        assert_eq!(live.next_event().await["data"]["content"], "after the races");
    }

    /// Finding 3: the operators' lookup is by exact username, however many accounts hold the
    /// name inside theirs.
    async fn operators_find_an_account_by_its_exact_name(server) configured (with_admin) {
        let api = server.api();
        let eve = api.register("eve").await;
        insert_users_named(&server, |i| format!("a{i:03}eve"), 250).await;
        let found = api.get("/admin/users?username=eve", ADMIN).await;
        let users = found.expect(200)["users"].as_array().unwrap().clone();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0]["id"], eve.id);
        let none = api.get("/admin/users?username=ev", ADMIN).await;
        assert_eq!(none.expect(200)["users"], json!([]));
        let odd = api.get("/admin/users?username=EVE%00", ADMIN).await;
        assert_eq!(odd.expect(200)["users"], json!([]));
        let long = format!("/admin/users?username={}", "e".repeat(33));
        api.get(&long, ADMIN).await.expect_error(400, "bad_request");
        // Operators only.
        api.get("/admin/users?username=eve", &eve.token)
            .await
            .expect_error(401, "unauthorized");
    }

    /// Finding 5: opening a direct chat with someone shows the opener nothing of their
    /// presence; writing in it does (and the opener's own presence was theirs to show).
    async fn a_stranger_learns_no_presence_by_opening_a_chat(server) {
        let api = server.api();
        let bob = api.register("bob").await;
        let mallory = api.register("mallory").await;
        let carol = api.register("carol").await;
        let mut watcher = WsClient::connect(&server, &mallory.token).await;
        let direct = api
            .post("/api/v1/chats", &mallory.token, &json!({"kind": "direct", "member_ids": [bob.id]}))
            .await;
        let chat_id = direct.expect(201)["id"].as_i64().unwrap();
        // Added to a group by someone else: the same.
        let group = api.group(&mallory, &[&bob, &carol]).await;
        let bob_ws = WsClient::connect(&server, &bob.token).await;
        assert!(
            watcher.next_presence_of(bob.id, Duration::from_secs(2)).await.is_none(),
            "mallory was told bob's presence"
        );
        let seen = api.get(&format!("/api/v1/users/{}", bob.id), &mallory.token).await;
        assert!(seen.expect(200).get("online").is_none(), "{}", seen.text);
        assert!(seen.json.get("last_seen_at").is_none(), "{}", seen.text);
        for chat in [chat_id, group] {
            let listed = api.get(&format!("/api/v1/chats/{chat}"), &mallory.token).await;
            for member in listed.expect(200)["members"].as_array().unwrap() {
                if member["user_id"] == bob.id {
                    assert_eq!(member["online"], json!(null), "{member}");
                    assert_eq!(member["last_seen_at"], json!(null), "{member}");
                } else if member["user_id"] == mallory.id {
                    // The creator shows it: she chose the chat.
                    assert_eq!(member["online"], json!(true), "{member}");
                }
            }
        }
        let list = api.get("/api/v1/chats", &mallory.token).await;
        for chat in list.expect(200).as_array().unwrap() {
            for member in chat["members"].as_array().unwrap() {
                if member["user_id"] == bob.id {
                    assert_eq!(member["online"], json!(null), "{member}");
                }
            }
        }
        // Bob answers: from now on his presence is shown to the chat's members.
        api.send(&bob, chat_id, "who are you?").await;
        let seen = api.get(&format!("/api/v1/users/{}", bob.id), &mallory.token).await;
        assert_eq!(seen.expect(200)["online"], json!(true), "{}", seen.text);
        bob_ws.close().await;
        let offline = watcher.next_presence_of(bob.id, Duration::from_secs(15)).await;
        assert_eq!(offline.expect("offline frame")["data"]["status"], "offline");
        // Carol, who only shares the group where bob has not written, still sees nothing.
        let seen = api.get(&format!("/api/v1/users/{}", bob.id), &carol.token).await;
        assert!(seen.expect(200).get("online").is_none(), "{}", seen.text);
    }

    /// Finding 6: the member cap holds when members are added one at a time, concurrently.
    async fn the_member_cap_holds_for_concurrent_adds(server) {
        let api = server.api();
        let owner = api.register("owner").await;
        let first = insert_users_named(&server, |i| format!("member{i:04}"), 1001).await;
        let ids: Vec<i64> = (first..first + 998).collect();
        let created = api
            .post("/api/v1/chats", &owner.token, &json!({"kind": "group", "title": "Big", "member_ids": ids}))
            .await;
        let chat_id = created.expect(201)["id"].as_i64().unwrap();
        // 999 members: room for one more, and three try at once.
        let path = format!("/api/v1/chats/{chat_id}/members");
        let add = |user_id: i64| {
            let (api, path, token) = (api.clone(), path.clone(), owner.token.clone());
            async move { api.post(&path, &token, &json!({"user_id": user_id})).await }
        };
        let (a, b, c) = tokio::join!(add(first + 998), add(first + 999), add(first + 1000));
        let mut statuses = vec![a.status, b.status, c.status];
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 409, 409]);
        for answer in [&a, &b, &c] {
            if answer.status == 409 {
                answer.expect_error(409, "group_full");
            }
        }
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &owner.token).await;
        assert_eq!(chat.expect(200)["members"].as_array().unwrap().len(), 1000);
        // Adding someone already in it stays a no-op.
        add(first).await.expect(200);
    }

    /// Finding 7: weak passwords are refused; a password change and "sign out everywhere"
    /// revoke the other tokens and close their sessions.
    async fn passwords_are_checked_and_changes_sign_out_the_rest(server) {
        let api = server.api();
        for (username, weak) in [
            ("pw1", "        "),
            ("pw2", "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}"),
            ("pw3", "password"),
            ("pw4", "12345678"),
            ("samesame", "samesame"),
        ] {
            let answer = api
                .send_json(
                    Method::POST,
                    "/api/v1/auth/register",
                    None,
                    &json!({"username": username, "password": weak}),
                )
                .await;
            answer.expect_error(422, "validation_failed");
            assert_eq!(answer.json["errors"][0]["field"], "password", "{}", answer.text);
        }
        let alice = api.register("alice").await;
        let phone = api.login("alice", "correct horse").await.expect(200)["access_token"]
            .as_str().unwrap().to_owned();
        let mut phone_ws = WsClient::connect(&server, &phone).await;
        let path = "/api/v1/users/me/password";
        api.post(path, &alice.token, &json!({"current_password": "wrong horse", "new_password": "violet-tractor-92"}))
            .await
            .expect_error(403, "wrong_password");
        api.post(path, &alice.token, &json!({"current_password": "correct horse", "new_password": "password1"}))
            .await
            .expect_error(422, "validation_failed");
        let changed = api
            .post(path, &alice.token, &json!({"current_password": "correct horse", "new_password": "violet-tractor-92"}))
            .await;
        assert_eq!(changed.status, 204, "{}", changed.text);
        assert_eq!(phone_ws.closed(Duration::from_secs(5)).await, Some(1008));
        assert_dead(&server, &phone).await;
        api.get("/api/v1/users/me", &alice.token).await.expect(200);
        api.login("alice", "correct horse").await.expect_error(401, "unauthorized");
        let laptop = api.login("alice", "violet-tractor-92").await.expect(200)["access_token"]
            .as_str().unwrap().to_owned();

        // Sign out everywhere: every token, every session.
        let mut laptop_ws = WsClient::connect(&server, &laptop).await;
        let mut own_ws = WsClient::connect(&server, &alice.token).await;
        api.request(Method::POST, "/api/v1/auth/logout?all=maybe", Some(&alice.token), &[], None)
            .await
            .expect_error(400, "bad_request");
        let out = api
            .request(Method::POST, "/api/v1/auth/logout?all=true", Some(&alice.token), &[], None)
            .await;
        assert_eq!(out.status, 204);
        assert_eq!(laptop_ws.closed(Duration::from_secs(5)).await, Some(1008));
        assert_eq!(own_ws.closed(Duration::from_secs(5)).await, Some(1008));
        assert_dead(&server, &laptop).await;
        assert_dead(&server, &alice.token).await;
        // Neither route works without a token.
        api.request(Method::POST, "/api/v1/auth/logout?all=true", None, &[], None)
            .await
            .expect_error(401, "unauthorized");
        api.send_json(Method::POST, path, None, &json!({"current_password": "x", "new_password": "y"}))
            .await
            .expect_error(401, "unauthorized");
        // A revoked token cannot change the password.
        api.post(path, &laptop, &json!({"current_password": "violet-tractor-92", "new_password": "another-long-one-7"}))
            .await
            .expect_error(401, "unauthorized");
    }

    /// Finding 8: text that shows nothing or disguises itself is refused everywhere people
    /// show each other text, and nothing is stored or broadcast.
    async fn text_that_impersonates_is_refused(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let message = api.send(&alice, chat_id, "fine\n\ttext").await;
        let id = message["id"].as_i64().unwrap();
        for bad in ["\u{200B}", "\u{3164}", "hi \u{202E}gnp.exe", "\u{1b}[31mred", "bell\u{7}", "\u{2066}x\u{2069}"] {
            api.post("/api/v1/messages", &alice.token, &json!({"chat_id": chat_id, "type": "text", "content": bad}))
                .await
                .expect_error(422, "validation_failed");
            api.patch(&format!("/api/v1/messages/{id}"), &alice.token, &json!({"content": bad}))
                .await
                .expect_error(422, "validation_failed");
            api.post("/api/v1/chats", &alice.token, &json!({"kind": "group", "title": bad, "member_ids": []}))
                .await
                .expect_error(422, "validation_failed");
        }
        let answer = api
            .send_json(
                Method::POST,
                "/api/v1/auth/register",
                None,
                &json!({"username": "notbob", "password": "violet-tractor-92", "display_name": "bob\nadmin"}),
            )
            .await;
        answer.expect_error(422, "validation_failed");
        for emoji in ["<b>x</b>", "\u{202E}", "\u{200B}", "👍👍"] {
            api.post(&format!("/api/v1/messages/{id}/reactions"), &bob.token, &json!({"emoji": emoji}))
                .await
                .expect_error(422, "validation_failed");
        }
        api.post(&format!("/api/v1/messages/{id}/reactions"), &bob.token, &json!({"emoji": "👍🏽"}))
            .await
            .expect(200);
        // Bob heard the message and his own reaction, nothing refused.
        assert_eq!(bob_ws.next_event().await["type"], "message.created");
        assert_eq!(bob_ws.next_event().await["type"], "reaction.added");
        bob_ws.expect_silence(Duration::from_millis(300)).await;
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token).await;
        assert_eq!(chat.expect(200)["last_seq"], 4);
    }

    /// Finding 10: once a message is deleted, a retry of the request that sent it (or reacted
    /// to it) replays the tombstone, even for a sender removed from the chat since.
    async fn a_deleted_message_does_not_come_back_through_its_key(server) {
        let api = server.api();
        let owner = api.register("owner").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&owner, &[&bob]).await;
        let body = json!({"chat_id": chat_id, "type": "text", "content": "regrettable"});
        let sent = api.post_with_key("/api/v1/messages", &bob.token, "send-1", &body).await;
        let id = sent.expect(200)["id"].as_i64().unwrap();
        let react = json!({"emoji": "🔥"});
        let reacted = api
            .post_with_key(&format!("/api/v1/messages/{id}/reactions"), &owner.token, "react-1", &react)
            .await;
        assert_eq!(reacted.expect(200)["content"], "regrettable");
        api.delete(&format!("/api/v1/messages/{id}"), &owner.token).await.expect(200);
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &owner.token).await;
        for (token, path, key, body) in [
            (&bob.token, "/api/v1/messages".to_owned(), "send-1", &body),
            (&owner.token, format!("/api/v1/messages/{id}/reactions"), "react-1", &react),
        ] {
            let replay = api.post_with_key(&path, token, key, body).await;
            let replayed = replay.expect(200);
            assert_eq!(replay.header("idempotent-replayed"), Some("true"));
            assert_eq!(replayed["id"], id);
            assert_eq!(replayed["deleted"], true, "{}", replay.text);
            assert_eq!(replayed["content"], "", "{}", replay.text);
            assert_eq!(replayed["reactions"], json!([]));
        }
    }
}

/// Alice's fresh token (every earlier one was revoked in the races).
async fn alice_token(server: &TestServer) -> String {
    let login = server.api().login("alice", "correct horse").await;
    login.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Inserts `count` accounts by SQL (registering them would hash as many passwords); returns
/// the first one's id. They cannot log in.
async fn insert_users_named(
    server: &TestServer,
    name: impl Fn(usize) -> String,
    count: usize,
) -> i64 {
    let values: Vec<String> = (0..count)
        .map(|i| format!("('{0}', '{0}', 'x', 1)", name(i)))
        .collect();
    server.execute_sql(&format!(
        "INSERT INTO users (username, display_name, password_hash, created_at) VALUES {}",
        values.join(", ")
    ));
    let api = server.api();
    let finder = api.register("finder").await;
    let found = api
        .get(
            &format!("/api/v1/users/lookup?username={}", name(0)),
            &finder.token,
        )
        .await;
    found.expect(200)["id"].as_i64().unwrap()
}

/// Finding 4: a client that announces bodies and never sends them cannot hold connections
/// (each is answered 408 and closed after the deadline), nor take more than its share of
/// requests in flight meanwhile (past it, 429 at once).
#[actix_rt::test]
async fn slow_bodies_time_out_and_in_flight_requests_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(
        crate::common::Backend::Sqlite,
        Default::default(),
        |config| {
            config.body_timeout = Duration::from_secs(1);
            config.max_requests_per_ip = 4;
        },
    )
    .await
    .unwrap();
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"username\":"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        stalled.push(socket);
    }
    // Give the server a moment to read the heads; the four are now in flight. (Polling for
    // the refusal instead failed once in a loaded full run and is not understood yet: the
    // fixed wait has never failed.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = server
        .api()
        .request(Method::GET, "/healthz", None, &[], None)
        .await;
    refused.expect_error(429, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("1"));
    for mut socket in stalled {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer));
        read.await
            .expect("the server closes the connection")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    server
        .api()
        .request(Method::GET, "/healthz", None, &[], None)
        .await
        .expect(200);
}

/// The status of a WebSocket upgrade sent with this `Origin` (or none).
async fn upgrade_status(server: &TestServer, token: &str, origin: Option<&str>) -> u16 {
    WsClient::upgrade_status(server, Some(token), origin).await
}

/// Finding 9: with no origins configured, a page of another origin cannot open a WebSocket;
/// Parley's own pages and clients that send no `Origin` can.
#[actix_rt::test]
async fn only_parleys_own_pages_open_websockets_by_default() {
    let server = TestServer::start(crate::common::Backend::Sqlite)
        .await
        .unwrap();
    let alice = server.api().register("alice").await;
    let own = server.base.clone();
    assert_eq!(upgrade_status(&server, &alice.token, None).await, 101);
    assert_eq!(upgrade_status(&server, &alice.token, Some(&own)).await, 101);
    for foreign in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        assert_eq!(
            upgrade_status(&server, &alice.token, Some(foreign)).await,
            403,
            "{foreign}"
        );
    }
    assert_eq!(server.metric("ws_refused_total"), 3.0);
}

/// Rough edges: HEAD for GET routes, and a favicon.
#[actix_rt::test]
async fn head_and_favicon_are_answered() {
    let server = TestServer::start(crate::common::Backend::Sqlite)
        .await
        .unwrap();
    let api = server.api();
    let icon = api
        .request(Method::GET, "/favicon.ico", None, &[], None)
        .await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/x-icon"));
    let svg = api
        .request(Method::GET, "/favicon.svg", None, &[], None)
        .await;
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    for path in ["/favicon.ico", "/", "/healthz", "/api/v1/openapi.json"] {
        let head = api.request(Method::HEAD, path, None, &[], None).await;
        assert_eq!((head.status, head.text.len()), (200, 0), "{path}");
    }
    let alice = api.register("alice").await;
    let head = api
        .request(
            Method::HEAD,
            "/api/v1/users/me",
            Some(&alice.token),
            &[],
            None,
        )
        .await;
    assert_eq!(head.status, 200);
    let head = api
        .request(Method::HEAD, "/api/v1/users/me", None, &[], None)
        .await;
    assert_eq!(head.status, 401);
}
