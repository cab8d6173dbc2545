//! Browser apps on their own origin (CORS and the WebSocket's Origin check), and the caps on
//! open WebSocket sessions per user and per client address.

use std::time::Duration;

use awc::http::Method;

use crate::common::ws::WsClient;
use crate::common::{Backend, TestServer};
use parley::config::CorsOrigins;

const APP: &str = "http://localhost:3000";
const OTHER: &str = "http://evil.example";

async fn cors_server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.cors = Some(CorsOrigins::Listed(vec![APP.to_owned()]));
    })
    .await
    .unwrap()
}

fn preflight<'a>(origin: &'a str, method: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("Origin", origin),
        ("Access-Control-Request-Method", method),
        (
            "Access-Control-Request-Headers",
            "authorization,content-type,idempotency-key",
        ),
    ]
}

#[actix_rt::test]
async fn an_allowed_origin_gets_cors_headers_and_another_gets_none() {
    let server = cors_server().await;
    let api = server.api();
    let alice = api.register("alice").await;
    for path in [
        "/api/v1/messages",
        "/api/v1/chats/1/messages",
        "/api/v1/messages/1/reactions/x",
    ] {
        let answer = api
            .request(Method::OPTIONS, path, None, &preflight(APP, "POST"), None)
            .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        assert_eq!(answer.header("access-control-allow-origin"), Some(APP));
        let methods = answer
            .header("access-control-allow-methods")
            .unwrap()
            .to_ascii_uppercase();
        for method in ["GET", "POST", "PATCH", "DELETE"] {
            assert!(methods.contains(method), "{methods}");
        }
        let headers = answer
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for header in ["authorization", "content-type", "idempotency-key"] {
            assert!(headers.contains(header), "{headers}");
        }
    }
    // The answer itself carries what a script may read.
    let me = api
        .request(
            Method::GET,
            "/api/v1/users/me",
            Some(&alice.token),
            &[("Origin", APP)],
            None,
        )
        .await;
    me.expect(200);
    assert_eq!(me.header("access-control-allow-origin"), Some(APP));
    let exposed = me
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in ["x-request-id", "idempotent-replayed", "retry-after"] {
        assert!(exposed.contains(header), "{exposed}");
    }

    // Another origin: no CORS headers at all (the browser blocks it), and never a 500.
    let refused = api
        .request(
            Method::OPTIONS,
            "/api/v1/messages",
            None,
            &preflight(OTHER, "POST"),
            None,
        )
        .await;
    assert!(refused.status < 500, "{}", refused.status);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let elsewhere = api
        .request(
            Method::GET,
            "/api/v1/users/me",
            Some(&alice.token),
            &[("Origin", OTHER)],
            None,
        )
        .await;
    elsewhere.expect(200);
    assert_eq!(elsewhere.header("access-control-allow-origin"), None);
}

#[actix_rt::test]
async fn without_configured_origins_nothing_changes() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let answer = server
        .api()
        .request(
            Method::OPTIONS,
            "/api/v1/messages",
            None,
            &preflight(APP, "POST"),
            None,
        )
        .await;
    answer.expect_error(405, "method_not_allowed");
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

async fn upgrade_status(server: &TestServer, token: &str, origin: Option<&str>) -> u16 {
    WsClient::upgrade_status(server, Some(token), origin).await
}

#[actix_rt::test]
async fn the_websocket_checks_the_origin_against_the_same_list() {
    let server = cors_server().await;
    let alice = server.api().register("alice").await;
    assert_eq!(upgrade_status(&server, &alice.token, Some(APP)).await, 101);
    assert_eq!(upgrade_status(&server, &alice.token, None).await, 101);
    assert_eq!(
        upgrade_status(&server, &alice.token, Some(OTHER)).await,
        403
    );
    // Parley's own pages are same-origin.
    let own = server.base.clone();
    assert_eq!(upgrade_status(&server, &alice.token, Some(&own)).await, 101);
    assert_eq!(server.metric("ws_refused_total"), 1.0);
}

#[actix_rt::test]
async fn the_33rd_session_of_a_user_is_refused_until_one_closes() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[&bob]).await;
    let mut sessions = Vec::new();
    for _ in 0..32 {
        sessions.push(WsClient::connect(&server, &bob.token).await);
    }
    let refused = awc::Client::new()
        .ws(server.url("/api/v1/ws"))
        .bearer_auth(&bob.token)
        .connect()
        .await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => assert_eq!(status, 429),
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    // The same refusal over plain HTTP shows the body.
    let body = api
        .request(
            Method::GET,
            "/api/v1/ws",
            Some(&bob.token),
            &[
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            None,
        )
        .await;
    body.expect_error(429, "too_many_sessions");
    // The 32 keep working, and another user is not affected.
    let message = api.send(&alice, chat_id, "to all 32").await;
    for ws in &mut sessions {
        assert_eq!(ws.next_event().await["data"], message);
    }
    WsClient::connect(&server, &alice.token).await;
    // Closing one lets a new one in.
    drop(sessions.pop());
    let mut admitted = None;
    for _ in 0..50 {
        if upgrade_status(&server, &bob.token, None).await == 101 {
            admitted = Some(());
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted.is_some(), "a closed session gives its place back");
    assert!(server.metric("ws_refused_total") >= 2.0);
}

#[actix_rt::test]
async fn sessions_per_client_address_are_capped() {
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.max_sessions_per_ip = 3;
    })
    .await
    .unwrap();
    let api = server.api();
    let mut users = Vec::new();
    for name in ["ann", "ben", "cal", "dan"] {
        users.push(api.register(name).await);
    }
    let mut open = Vec::new();
    for user in &users[..3] {
        open.push(WsClient::connect(&server, &user.token).await);
    }
    assert_eq!(upgrade_status(&server, &users[3].token, None).await, 429);
    drop(open.pop());
    let mut admitted = false;
    for _ in 0..50 {
        if upgrade_status(&server, &users[3].token, None).await == 101 {
            admitted = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted);
}
