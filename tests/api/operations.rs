use std::time::Duration;

use awc::http::Method;
use serde_json::json;

use crate::common::proxy::CuttableProxy;
use crate::common::ws::WsClient;
use crate::common::{Backend, TestServer};
use parley::config::DatabaseUrl;
use parley::config::RateSettings;

const ADMIN: &str = "admin-token-for-tests-0123456789";

async fn scrape(server: &TestServer) -> String {
    let res = server.api().get("/admin/metrics", ADMIN).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    res.text
}

/// The value of one sample line, e.g. `messages_created_total` or
/// `http_requests_total{method="POST",route="/api/v1/messages",status="200"}` (named without
/// the `parley_` prefix every metric carries).
fn sample(text: &str, series: &str) -> f64 {
    let series = format!("parley_{series}");
    let series = series.as_str();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[actix_rt::test]
async fn admin_routes_need_a_configured_token() {
    let without = TestServer::start(Backend::Sqlite).await.unwrap();
    let res = without.api().get("/admin/metrics", ADMIN).await;
    res.expect_error(404, "not_found");

    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.admin_token = Some(ADMIN.into());
    })
    .await
    .unwrap();
    let api = server.api();
    let anonymous = api
        .request(Method::GET, "/admin/metrics", None, &[], None)
        .await;
    anonymous.expect_error(401, "unauthorized");
    api.get("/admin/metrics", "wrong-token")
        .await
        .expect_error(401, "unauthorized");
    let user = api.register("alice").await;
    api.get("/admin/metrics", &user.token)
        .await
        .expect_error(401, "unauthorized");
    let text = scrape(&server).await;
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "ws_sessions",
        "chat_rooms",
        "events_broadcast_total",
        "ws_slow_consumer_closes_total",
        "db_pool_connections",
        "db_query_duration_seconds_bucket",
        "messages_created_total",
        "idempotent_replays_total",
        "rate_limited_total",
        "db_executor_requests_in_flight",
    ] {
        let name = format!("\nparley_{name}");
        assert!(text.contains(&name), "{name} missing from:\n{text}");
    }
}

#[actix_rt::test]
async fn counters_move_with_what_happens() {
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.admin_token = Some(ADMIN.into());
        c.rates = RateSettings {
            send_rate: 1,
            send_burst: 100,
            auth_per_minute: 0,
            logins_per_account_per_minute: 0,
            hook_posts_per_minute: 0,
            reports_per_hour: 0,
        };
    })
    .await
    .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let chat_id = api.group(&alice, &[]).await;
    let before = scrape(&server).await;
    let mut ws = WsClient::connect(&server, &alice.token).await;
    let body = json!({"chat_id": chat_id, "content": "count me"});
    api.post_with_key("/api/v1/messages", &alice.token, "k", &body)
        .await
        .expect(200);
    api.post_with_key("/api/v1/messages", &alice.token, "k", &body)
        .await
        .expect(200);
    ws.next_event().await;
    let after = scrape(&server).await;
    let delta = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(delta("messages_created_total"), 1.0);
    assert_eq!(delta("idempotent_replays_total"), 1.0);
    assert_eq!(
        delta(r#"http_requests_total{method="POST",route="/api/v1/messages",status="200"}"#),
        2.0
    );
    assert!(delta("events_broadcast_total") >= 1.0);
    assert_eq!(sample(&after, "ws_sessions"), 1.0);
    assert!(sample(&after, "chat_rooms") >= 1.0);
    assert!(delta("db_query_duration_seconds_count") > 0.0);
    assert!(sample(&after, r#"db_pool_connections{pool="general",state="max"}"#) >= 1.0);
    // The route label is the pattern, not the raw path.
    api.get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token)
        .await
        .expect(200);
    let later = scrape(&server).await;
    assert!(
        later.contains(r#"route="/api/v1/chats/{chat_id}/messages""#),
        "{later}"
    );
    assert!(!later.contains(&format!("/api/v1/chats/{chat_id}/messages\"")));
    drop(ws);
}

#[actix_rt::test]
async fn writes_and_logins_are_rate_limited() {
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.admin_token = Some(ADMIN.into());
        c.rates = RateSettings {
            send_rate: 1,
            send_burst: 3,
            auth_per_minute: 4,
            logins_per_account_per_minute: 0,
            hook_posts_per_minute: 0,
            reports_per_hour: 0,
        };
    })
    .await
    .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[]).await; // alice's first write
    api.send(&alice, chat_id, "two").await;
    api.send(&alice, chat_id, "three").await;
    let refused = api
        .post(
            "/api/v1/messages",
            &alice.token,
            &json!({"chat_id": chat_id, "content": "four"}),
        )
        .await;
    refused.expect_error(429, "rate_limited");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // Reads are not limited, and other users have their own bucket.
    for _ in 0..10 {
        api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token)
            .await
            .expect(200);
    }
    api.post(
        "/api/v1/chats",
        &bob.token,
        &json!({"kind": "group", "title": "b", "member_ids": []}),
    )
    .await
    .expect(201);
    // The bucket refills.
    actix_rt::time::sleep(Duration::from_millis(1100)).await;
    api.send(&alice, chat_id, "later").await;

    // Two registrations above used the IP's budget of four; two logins finish it.
    let login = json!({"username": "alice", "password": "correct horse"});
    for _ in 0..2 {
        api.send_json(Method::POST, "/api/v1/auth/login", None, &login)
            .await
            .expect(200);
    }
    let blocked = api
        .send_json(Method::POST, "/api/v1/auth/login", None, &login)
        .await;
    blocked.expect_error(429, "rate_limited");
    assert!(blocked.header("retry-after").is_some());
    let text = scrape(&server).await;
    assert_eq!(sample(&text, "rate_limited_total"), 2.0);
}

/// Many addresses guessing one account's password: the account's own budget stops them, with
/// a time to come back, and no other account is affected.
#[actix_rt::test]
async fn logins_are_limited_per_account() {
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.rates = RateSettings {
            logins_per_account_per_minute: 3,
            ..RateSettings::UNLIMITED
        };
    })
    .await
    .unwrap();
    let api = server.api();
    api.register("alice").await;
    api.register("bob").await;
    // Only failures count: the owner signing in often never meets the limit.
    for _ in 0..6 {
        api.login("alice", "correct horse").await.expect(200);
    }
    // The budget's failures, then the failure that finds it spent, are each checked...
    for _ in 0..4 {
        api.login("alice", "guess 1234")
            .await
            .expect_error(401, "unauthorized");
    }
    // ...and then the account takes no login for a while, not even with the right password
    // (so a guess cannot be confirmed), and says when to come back.
    let refused = api.login("alice", "correct horse").await;
    refused.expect_error(429, "rate_limited");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // An account that does not exist has a budget too (so answers reveal nothing), and other
    // accounts are untouched.
    api.login("bob", "correct horse").await.expect(200);
    for _ in 0..4 {
        api.login("nobody", "x1234567")
            .await
            .expect_error(401, "unauthorized");
    }
    api.login("nobody", "x1234567")
        .await
        .expect_error(429, "rate_limited");
}

/// A login for an account that does not exist checks a password hash too, so its answer
/// takes as long as a wrong password's and timing does not tell which usernames exist. The
/// bound is loose (a third) because only a missing hash check, some twenty times faster, must
/// fail it.
#[actix_rt::test]
async fn unknown_accounts_take_as_long_as_wrong_passwords() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let api = server.api();
    api.register("alice").await;
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..7 {
        let started = std::time::Instant::now();
        api.login("alice", &format!("wrong {round:04}"))
            .await
            .expect_error(401, "unauthorized");
        wrong.push(started.elapsed());
        let started = std::time::Instant::now();
        api.login(&format!("nobody{round}"), "wrong 0000")
            .await
            .expect_error(401, "unauthorized");
        unknown.push(started.elapsed());
    }
    let (wrong, unknown) = (median(wrong), median(unknown));
    assert!(
        unknown * 3 >= wrong,
        "unknown account answered in {unknown:?}, wrong password in {wrong:?}"
    );
}

/// On PostgreSQL sends are stored on connections of their own (the send lane), which the
/// metrics report beside the general pool's.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn the_send_lane_is_reported_beside_the_general_pool() {
    let Some(server) = TestServer::start_with(Backend::Postgres, Default::default(), |c| {
        c.admin_token = Some(ADMIN.into());
        c.db_pool_size = 5;
    })
    .await
    else {
        return;
    };
    let api = server.api();
    let alice = api.register("alice").await;
    let chat_id = api.group(&alice, &[]).await;
    let before = scrape(&server).await;
    for i in 0..3 {
        api.send(&alice, chat_id, &format!("lane {i}")).await;
    }
    let after = scrape(&server).await;
    let pool = |text: &str, pool: &str, state: &str| {
        sample(
            text,
            &format!(r#"db_pool_connections{{pool="{pool}",state="{state}"}}"#),
        )
    };
    assert_eq!(pool(&after, "general", "max"), 5.0, "{after}");
    assert_eq!(pool(&before, "sends", "max"), 2.0, "{before}");
    // Connections open lazily: registering and making a chat opened none of the lane's, the
    // sends did.
    let open = |text: &str| pool(text, "sends", "idle") + pool(text, "sends", "in_use");
    assert_eq!(open(&before), 0.0, "{before}");
    assert!(open(&after) >= 1.0, "{after}");
}

/// With the database link cut, requests get 503 (never 500), readiness says 503, WebSockets
/// stay up; when it is back, everything works again without a restart.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn database_outage_is_a_503_and_recovers() {
    let Some(database) = crate::common::TestDatabase::provision(Backend::Postgres) else {
        return;
    };
    let DatabaseUrl::Postgres(real_url) = database.url.clone() else {
        unreachable!()
    };
    let proxy = CuttableProxy::start("127.0.0.1:5432".parse().unwrap());
    let proxied_url = real_url.replacen("127.0.0.1:5432", &proxy.addr.to_string(), 1);
    assert_ne!(
        proxied_url, real_url,
        "the test URL must name 127.0.0.1:5432"
    );
    let server = TestServer::start_on(Backend::Postgres, database, |c| {
        c.database = DatabaseUrl::Postgres(proxied_url.clone());
        c.db_timeout = Duration::from_secs(1);
    })
    .await;
    let api = server.api();
    let alice = api.register("alice").await;
    let chat_id = api.group(&alice, &[]).await;
    let mut ws = WsClient::connect(&server, &alice.token).await;

    proxy.cut();
    for _ in 0..3 {
        let send = api
            .post(
                "/api/v1/messages",
                &alice.token,
                &json!({"chat_id": chat_id, "content": "lost?"}),
            )
            .await;
        send.expect_error(503, "unavailable");
        assert!(send.header("retry-after").is_some());
        let read = api
            .get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token)
            .await;
        read.expect_error(503, "unavailable");
    }
    let ready = api.request(Method::GET, "/readyz", None, &[], None).await;
    ready.expect_error(503, "unavailable");
    api.request(Method::GET, "/healthz", None, &[], None)
        .await
        .expect(200);
    ws.send(&json!({"type": "ping"})).await;
    assert_eq!(ws.next_json().await["type"], "pong");

    proxy.restore();
    let mut recovered = false;
    for _ in 0..50 {
        let res = api.request(Method::GET, "/readyz", None, &[], None).await;
        if res.status == 200 {
            recovered = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "readiness did not come back");
    let message = api.send(&alice, chat_id, "after the outage").await;
    assert_eq!(ws.next_event().await["data"], message);
    // Nothing the outage refused was stored.
    let page = api
        .get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token)
        .await;
    assert_eq!(page.expect(200)["messages"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn openapi_lists_every_route_of_the_contract() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let doc = server.openapi().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut routes: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    routes.sort();
    let expected = vec![
        "POST /api/v1/auth/register",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/logout",
        "GET /api/v1/users/me",
        "GET /api/v1/users/lookup",
        "GET /api/v1/users/{user_id}",
        "POST /api/v1/chats",
        "GET /api/v1/chats",
        "GET /api/v1/chats/{chat_id}",
        "POST /api/v1/chats/{chat_id}/members",
        "DELETE /api/v1/chats/{chat_id}/members/{user_id}",
        "POST /api/v1/chats/{chat_id}/read",
        "GET /api/v1/chats/{chat_id}/messages",
        "POST /api/v1/messages",
        "GET /api/v1/messages/{message_id}",
        "PATCH /api/v1/messages/{message_id}",
        "DELETE /api/v1/messages/{message_id}",
        "POST /api/v1/messages/{message_id}/reactions",
        "DELETE /api/v1/messages/{message_id}/reactions/{emoji}",
        "GET /api/v1/search",
        "GET /api/v1/ws",
        "GET /healthz",
        "GET /readyz",
        "GET /admin/metrics",
        "GET /admin/users",
        "POST /admin/users/{user_id}/deactivate",
        "POST /admin/users/{user_id}/reactivate",
        "GET /api/v1/openapi.json",
        "POST /api/v1/users/me/password",
        "POST /api/v1/attachments",
        "GET /api/v1/attachments/{attachment_id}",
        "GET /api/v1/attachments/{attachment_id}/content",
        "GET /api/v1/attachments/{attachment_id}/thumbnail",
        "GET /api/v1/mentions",
        "GET /api/v1/messages/{message_id}/thread",
        "PUT /api/v1/chats/{chat_id}/notifications",
        "GET /api/v1/push/vapid-public-key",
        "POST /api/v1/push/subscriptions",
        "GET /api/v1/push/subscriptions",
        "DELETE /api/v1/push/subscriptions/{subscription_id}",
        "POST /api/v1/bots",
        "GET /api/v1/bots",
        "POST /api/v1/bots/{bot_id}/token",
        "DELETE /api/v1/bots/{bot_id}",
        "POST /api/v1/chats/{chat_id}/webhooks",
        "GET /api/v1/chats/{chat_id}/webhooks",
        "DELETE /api/v1/chats/{chat_id}/webhooks/{webhook_id}",
        "POST /hooks/{secret}",
        "POST /api/v1/chats/{chat_id}/subscriptions",
        "GET /api/v1/chats/{chat_id}/subscriptions",
        "DELETE /api/v1/chats/{chat_id}/subscriptions/{subscription_id}",
        "GET /api/v1/chats/{chat_id}/subscriptions/{subscription_id}/deliveries",
        "POST /api/v1/users/{user_id}/block",
        "DELETE /api/v1/users/{user_id}/block",
        "GET /api/v1/users/me/blocks",
        "POST /api/v1/messages/{message_id}/report",
        "GET /admin/reports",
        "GET /admin/reports/{report_id}",
        "POST /admin/reports/{report_id}/resolve",
    ];
    // Every GET route answers HEAD as well.
    let heads: Vec<String> = expected
        .iter()
        .filter_map(|route| route.strip_prefix("GET "))
        .map(|path| format!("HEAD {path}"))
        .collect();
    let mut expected: Vec<String> = expected
        .into_iter()
        .map(str::to_owned)
        .chain(heads)
        .collect();
    expected.sort();
    assert_eq!(routes, expected);
    // A HEAD is answered with the GET's head and no body.
    let head = api_head(&server, "/healthz").await;
    assert_eq!(head, (200, 0));
    // Every write documents the contract's errors.
    let send = &doc["paths"]["/api/v1/messages"]["post"]["responses"];
    for status in [
        "200", "400", "401", "403", "404", "413", "415", "422", "429", "500", "503",
    ] {
        assert!(
            send.get(status).is_some(),
            "POST /api/v1/messages does not document {status}"
        );
    }
    assert!(doc["components"]["schemas"]["Message"]["properties"]["reactions"].is_object());
}

/// With group commit off (`PARLEY_SEND_BATCH=1`) every send is its own transaction; the
/// promises hold the same.
#[actix_rt::test]
async fn sends_without_group_commit_keep_every_promise() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) =
            TestServer::start_with(backend, Default::default(), |c| c.send_batch = 1).await
        else {
            continue;
        };
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let body = json!({"chat_id": chat_id, "content": "once"});
        let racing = futures_util::future::join_all(
            (0..10).map(|_| api.post_with_key("/api/v1/messages", &alice.token, "same", &body)),
        )
        .await;
        let ids: std::collections::HashSet<i64> = racing
            .iter()
            .map(|r| r.expect(200)["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), 1);
        let api_ref = &api;
        let sends = [&alice, &bob].into_iter().flat_map(|user| {
            (0..10).map(move |i| async move { api_ref.send(user, chat_id, &format!("m{i}")).await })
        });
        let answers = futures_util::future::join_all(sends).await;
        let mut seqs: Vec<i64> = answers.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (4..24).collect::<Vec<i64>>());
    }
}

/// The status and body length of a `HEAD` request.
async fn api_head(server: &TestServer, path: &str) -> (u16, usize) {
    let answer = server
        .api()
        .request(awc::http::Method::HEAD, path, None, &[], None)
        .await;
    (answer.status, answer.text.len())
}
