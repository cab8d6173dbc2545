use awc::http::Method;
use serde_json::json;

use crate::on_both_backends;

on_both_backends! {
    async fn malformed_bodies_get_contract_errors(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let post = |content_type: &'static str, body: Vec<u8>| {
            let api = api.clone();
            let token = alice.token.clone();
            async move {
                api.request(Method::POST, "/api/v1/messages", Some(&token), &[], Some((content_type, body))).await
            }
        };
        for body in ["{", "{\"chat_id\": }", "not json", "", "{\"a\":1}}", "\u{feff}{}"] {
            post("application/json", body.as_bytes().to_vec()).await.expect_error(400, "malformed_json");
        }
        post("application/json", vec![0xff, 0xfe, 0x00]).await.expect_error(400, "malformed_json");
        post("text/plain", b"{}".to_vec()).await.expect_error(415, "unsupported_media_type");
        post("application/x-www-form-urlencoded", b"chat_id=1".to_vec()).await.expect_error(415, "unsupported_media_type");
        let no_type = api.request(Method::POST, "/api/v1/messages", Some(&alice.token), &[], None).await;
        no_type.expect_error(415, "unsupported_media_type");
        post("application/json; charset=utf-8", json!({"chat_id": chat_id, "content": "ok"}).to_string().into_bytes())
            .await.expect(200);
        let huge = json!({"chat_id": chat_id, "content": "x".repeat(70 * 1024)}).to_string().into_bytes();
        post("application/json", huge).await.expect_error(413, "payload_too_large");
        // Just under the limit parses (and then fails validation for its length).
        let near = json!({"chat_id": chat_id, "content": "x".repeat(60 * 1024)}).to_string().into_bytes();
        post("application/json", near).await.expect_error(422, "validation_failed");
        // Deeply nested JSON is refused, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
        let res = post("application/json", deep).await;
        assert!(res.status == 400 || res.status == 413, "{}", res.status);
    }

    async fn huge_and_odd_ids_are_not_found(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        for path in [
            "/api/v1/chats/9223372036854775807",
            "/api/v1/chats/9223372036854775808",
            "/api/v1/chats/99999999999999999999999",
            "/api/v1/chats/-1",
            "/api/v1/chats/0",
            "/api/v1/chats/1e3",
            "/api/v1/chats/%00",
            "/api/v1/messages/9223372036854775807",
            "/api/v1/chats/9223372036854775807/messages",
            "/api/v1/users/18446744073709551616",
        ] {
            api.get(path, &alice.token).await.expect_error(404, "not_found");
        }
        api.delete("/api/v1/chats/1/members/99999999999999999999", &alice.token).await.expect_error(404, "not_found");
        api.delete("/api/v1/messages/9223372036854775807/reactions/%F0%9F%91%8D", &alice.token).await.expect_error(404, "not_found");
        api.patch("/api/v1/messages/abc", &alice.token, &json!({"content": "x"})).await.expect_error(404, "not_found");
        api.post("/api/v1/messages", &alice.token, &json!({"chat_id": 9223372036854775807i64, "content": "x"}))
            .await.expect_error(404, "not_found");
        api.post("/api/v1/messages", &alice.token, &json!({"chat_id": 18446744073709551615u64, "content": "x"}))
            .await.expect_error(422, "validation_failed");
    }

    async fn unknown_routes_and_request_ids(server) {
        let api = server.api();
        let res = api.request(Method::GET, "/api/v1/nothing/here", None, &[], None).await;
        res.expect_error(404, "not_found");
        // `/` is the browser client now; an unknown path elsewhere is the contract's 404.
        let res = api.request(Method::GET, "/nothing/here", None, &[], None).await;
        res.expect_error(404, "not_found");
        let generated = res.header("x-request-id").unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
        let echoed = api.request(Method::GET, "/healthz", None, &[("X-Request-Id", "my-trace-123")], None).await;
        echoed.expect(200);
        assert_eq!(echoed.header("x-request-id"), Some("my-trace-123"));
        let ready = api.request(Method::GET, "/readyz", None, &[], None).await;
        ready.expect(200);
        assert!(ready.header("x-request-id").is_some());
        let wrong_method = api.request(Method::DELETE, "/healthz", None, &[], None).await;
        wrong_method.expect_error(405, "method_not_allowed");
    }

    /// A database failure is the contract's 500 (with the request id, without internals),
    /// and the server keeps serving.
    async fn database_errors_are_contract_500s(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let message = api.send(&alice, chat_id, "before").await;
        server.execute_sql("DROP TABLE reactions");
        let res = api.request(Method::GET, &format!("/api/v1/messages/{}", message["id"]), Some(&alice.token),
            &[("X-Request-Id", "trace-500")], None).await;
        assert_eq!(res.status, 500, "{}", res.text);
        assert_eq!(res.json, json!({"detail": "Internal server error", "code": "internal", "request_id": "trace-500"}));
        assert_eq!(res.header("x-request-id"), Some("trace-500"));
        api.request(Method::GET, "/healthz", None, &[], None).await.expect(200);
        api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token).await.expect(200);
    }
}

/// Migrations go up, down and up again on both backends.
#[actix_rt::test]
async fn migrations_round_trip_sqlite() {
    use diesel::Connection;
    use parley::db::migrations;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    assert!(migrations::apply(&mut conn, migrations::SQLITE).unwrap() > 0);
    assert_eq!(migrations::apply(&mut conn, migrations::SQLITE).unwrap(), 0);
    assert!(migrations::revert_all(&mut conn, migrations::SQLITE).unwrap() > 0);
    assert!(migrations::apply(&mut conn, migrations::SQLITE).unwrap() > 0);
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn migrations_round_trip_postgres() {
    let Some(server) = crate::common::TestServer::start(crate::common::Backend::Postgres).await
    else {
        return;
    };
    // The server applied them at start-up; revert and re-apply on the same database.
    let parley::config::DatabaseUrl::Postgres(url) = server.database_url.clone() else {
        unreachable!()
    };
    let outcome = std::thread::spawn(move || {
        use diesel::Connection;
        use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
        use parley::db::migrations;
        let mut conn =
            AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(&url).unwrap();
        let reverted = migrations::revert_all(&mut conn, migrations::POSTGRES).unwrap();
        let applied = migrations::apply(&mut conn, migrations::POSTGRES).unwrap();
        (reverted, applied)
    })
    .join()
    .unwrap();
    assert!(outcome.0 > 0 && outcome.0 == outcome.1, "{outcome:?}");
}

/// Every 405 lists the methods its path answers (RFC 9110), exactly those of the OpenAPI
/// document for that path.
#[actix_rt::test]
async fn every_405_carries_allow_with_the_paths_methods() {
    let server = crate::common::TestServer::start(crate::common::Backend::Sqlite)
        .await
        .unwrap();
    let api = server.api();
    let doc = server.openapi().await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        documented.sort();
        // Any id will do: a 405 is decided before the handler reads the path.
        let concrete = path.replace("{emoji}", "x").replace(['{', '}'], "");
        let concrete = concrete
            .split('/')
            .map(|part| if part.ends_with("_id") { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let answer = api.request(Method::TRACE, &concrete, None, &[], None).await;
        answer.expect_error(405, "method_not_allowed");
        let mut allowed: Vec<String> = answer
            .header("allow")
            .unwrap_or_else(|| panic!("{path}: no Allow"))
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        allowed.sort();
        assert_eq!(allowed, documented, "{path}");
    }
}
