use awc::http::Method;
use serde_json::json;

use crate::on_both_backends;

on_both_backends! {
    async fn register_login_logout(server) {
        let api = server.api();
        let res = api
            .send_json(Method::POST, "/api/v1/auth/register", None,
                &json!({"username": "alice", "password": "correct horse", "display_name": "Alice"}))
            .await;
        let body = res.expect(201);
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["user"]["username"], "alice");
        assert_eq!(body["user"]["display_name"], "Alice");
        let created_at = body["user"]["created_at"].as_str().unwrap();
        assert!(created_at.ends_with('Z') && created_at.len() == 24, "{created_at}");
        let token = body["access_token"].as_str().unwrap().to_owned();

        let me = api.get("/api/v1/users/me", &token).await;
        assert_eq!(me.expect(200), &body["user"]);
        let me_by_id = api.get(&format!("/api/v1/users/{}", body["user"]["id"]), &token).await;
        assert_eq!(me_by_id.expect(200), &body["user"]);

        let login = api
            .send_json(Method::POST, "/api/v1/auth/login", None,
                &json!({"username": "alice", "password": "correct horse"}))
            .await;
        let login_body = login.expect(200);
        assert_eq!(login_body["user"], body["user"]);
        let second = login_body["access_token"].as_str().unwrap().to_owned();
        assert_ne!(second, token);

        api.request(Method::POST, "/api/v1/auth/logout", Some(&token), &[], None).await.expect(204);
        let after = api.get("/api/v1/users/me", &token).await;
        after.expect_error(401, "unauthorized");
        assert_eq!(after.header("www-authenticate"), Some("Bearer"));
        // Other tokens of the same user keep working.
        api.get("/api/v1/users/me", &second).await.expect(200);
    }

    async fn display_name_defaults_to_username(server) {
        let api = server.api();
        let res = api.send_json(Method::POST, "/api/v1/auth/register", None,
            &json!({"username": "bob.b-0_x", "password": "violet-tractor-92"})).await;
        assert_eq!(res.expect(201)["user"]["display_name"], "bob.b-0_x");
    }

    async fn registration_rules(server) {
        let api = server.api();
        api.register("taken").await;
        let dup = api.send_json(Method::POST, "/api/v1/auth/register", None,
            &json!({"username": "taken", "password": "correct horse"})).await;
        dup.expect_error(409, "username_taken");
        let long_name = "a".repeat(33);
        let long_password = "p".repeat(129);
        for body in [
            json!({"username": "Alice", "password": "correct horse"}),
            json!({"username": "al", "password": "correct horse"}),
            json!({"username": long_name, "password": "correct horse"}),
            json!({"username": "al ice", "password": "correct horse"}),
            json!({"username": "alicé", "password": "correct horse"}),
            json!({"username": "alice", "password": "short"}),
            json!({"username": "alice", "password": long_password}),
            json!({"username": "alice", "password": "correct horse", "display_name": ""}),
            json!({"username": "alice", "password": "correct horse", "display_name": "a".repeat(65)}),
            json!({"username": "alice", "password": "correct horse", "display_name": "nul\u{0}"}),
            json!({"username": "alice"}),
            json!({"username": 5, "password": "correct horse"}),
        ] {
            let res = api.send_json(Method::POST, "/api/v1/auth/register", None, &body).await;
            res.expect_error(422, "validation_failed");
        }
        // The errors name the fields.
        let res = api.send_json(Method::POST, "/api/v1/auth/register", None,
            &json!({"username": "X", "password": "x"})).await;
        let fields: Vec<&str> = res.json["errors"].as_array().unwrap().iter()
            .map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["username", "password"]);
    }

    async fn wrong_credentials(server) {
        let api = server.api();
        api.register("carol").await;
        for body in [
            json!({"username": "carol", "password": "wrong horse"}),
            json!({"username": "nobody", "password": "correct horse"}),
            json!({"username": "nul\u{0}", "password": "correct horse"}),
            json!({"username": "carol", "password": "x".repeat(500)}),
        ] {
            let res = api.send_json(Method::POST, "/api/v1/auth/login", None, &body).await;
            res.expect_error(401, "unauthorized");
            assert_eq!(res.header("www-authenticate"), Some("Bearer"));
        }
    }

    async fn expired_tokens_are_refused(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        server.execute_sql("UPDATE auth_tokens SET expires_at = 0");
        let res = api.get("/api/v1/users/me", &alice.token).await;
        res.expect_error(401, "unauthorized");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    }

    async fn bad_tokens(server) {
        let api = server.api();
        let missing = api.request(Method::GET, "/api/v1/users/me", None, &[], None).await;
        missing.expect_error(401, "unauthorized");
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
        api.get("/api/v1/users/me", "not-a-token").await.expect_error(401, "unauthorized");
        api.get("/api/v1/users/me", &"x".repeat(5000)).await.expect_error(401, "unauthorized");
        let basic = api.request(Method::GET, "/api/v1/users/me", None,
            &[("Authorization", "Basic YWxpY2U6cHc=")], None).await;
        basic.expect_error(401, "unauthorized");
    }

    async fn user_lookup(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let res = api.get(&format!("/api/v1/users/{}", bob.id), &alice.token).await;
        let body = res.expect(200);
        assert_eq!(body["username"], "bob");
        assert_eq!(body.as_object().unwrap().len(), 5, "User has exactly five fields: {body}");
        assert_eq!(body["is_bot"], false);
        api.get("/api/v1/users/999999", &alice.token).await.expect_error(404, "not_found");
        for bad in ["0", "-1", "abc", "99999999999999999999", "1.5"] {
            api.get(&format!("/api/v1/users/{bad}"), &alice.token).await.expect_error(404, "not_found");
        }
    }
}

#[actix_rt::test]
async fn a_server_restart_keeps_accounts() {
    // A fresh SQLite file for a server that is stopped and started again on the same file.
    let dir = tempfile::tempdir().unwrap();
    let url = parley::config::DatabaseUrl::Sqlite(dir.path().join("p.db"));
    let config = parley::config::Config::for_database(url);
    let first = parley::server::build(&config).await.unwrap();
    let base = format!("http://{}", first.addr);
    let handle = first.handle();
    actix_rt::spawn(first.run());
    let api = crate::common::Api {
        base,
        client: awc::Client::default(),
    };
    let user = api.register("dora").await;
    handle.stop(true).await;

    let second = parley::server::build(&config).await.unwrap();
    let api = crate::common::Api {
        base: format!("http://{}", second.addr),
        client: awc::Client::default(),
    };
    actix_rt::spawn(second.run());
    api.get("/api/v1/users/me", &user.token).await.expect(200);
}

on_both_backends! {
    /// Logout is final the moment it answers 204, even while requests with the token race it
    /// (each may read the token from the database just before the revocation and try to cache
    /// it). The token cache's own test makes that interleaving deterministic.
    async fn logout_is_final_while_requests_race_it(server) {
        let api = server.api();
        api.register("alice").await;
        for _ in 0..10 {
            let login = api.login("alice", "correct horse").await;
            let token = login.expect(200)["access_token"].as_str().unwrap().to_owned();
            let racing = futures_util::future::join_all(
                (0..12).map(|_| api.get("/api/v1/users/me", &token)),
            );
            let logout = api.request(Method::POST, "/api/v1/auth/logout", Some(&token), &[], None);
            let (answers, logout) = futures_util::future::join(racing, logout).await;
            logout.expect(204);
            for answer in answers {
                assert!(answer.status == 200 || answer.status == 401, "{}", answer.status);
            }
            for _ in 0..3 {
                api.get("/api/v1/users/me", &token).await.expect_error(401, "unauthorized");
            }
        }
    }
}
