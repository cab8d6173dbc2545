//! Push notifications (issue 29, the first part): the VAPID key every node shares, and the
//! subscriptions a device hands over — checked, kept per endpoint, the caller's alone.

use actix_web::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::common::process::ServerProcess;
use crate::common::{Backend, TestDatabase};
use crate::on_both_backends;

const ADMIN: &str = "push-admin-token";

fn configured(config: &mut parley::config::Config) {
    config.admin_token = Some(ADMIN.to_owned());
    config.push.allow_http_hosts = vec!["localhost".to_owned()];
}

/// A device's subscription as a browser gives it: a real P-256 public key and a 16-byte secret.
fn device(endpoint: &str) -> Value {
    let key = parley::domain::push::VapidKey::generate();
    json!({
        "endpoint": endpoint,
        "keys": {"p256dh": key.public_base64url(), "auth": URL_SAFE_NO_PAD.encode(auth_secret())},
        "expirationTime": null,
    })
}

/// A device's 16-byte authentication secret (any 16 bytes will do for the server).
fn auth_secret() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    bytes
}

/// The key every server on one database answers: started together (two nodes racing to make
/// it), and again after a restart; an operator's key is kept, and one that differs from the
/// kept key stops the server rather than orphan every device.
async fn the_vapid_key_is_shared_kept_and_the_operators(backend: Backend) {
    let Some(database) = TestDatabase::provision(backend) else {
        return;
    };
    let key_of = |api: &crate::common::Api, token: String| {
        let api = api.clone();
        async move {
            let answer = api
                .get("/api/v1/push/vapid-public-key", &token)
                .await
                .expect(200)
                .clone();
            answer["key"].as_str().unwrap().to_owned()
        }
    };
    // Two at once on PostgreSQL (several nodes); SQLite has one process per database.
    let (mut one, second) = if backend == Backend::Postgres {
        let (one, two) = futures_util::join!(
            ServerProcess::start(&database),
            ServerProcess::start(&database)
        );
        (one, Some(two))
    } else {
        (ServerProcess::start(&database).await, None)
    };
    let alice = one.api.register("alice").await;
    let key = key_of(&one.api, alice.token.clone()).await;
    if let Some(mut two) = second {
        assert_eq!(key_of(&two.api, alice.token.clone()).await, key);
        two.kill();
    }
    let point = URL_SAFE_NO_PAD.decode(&key).unwrap();
    assert_eq!(point.len(), 65);
    assert_eq!(point.first(), Some(&4), "an uncompressed P-256 point");
    one.api
        .request(
            Method::GET,
            "/api/v1/push/vapid-public-key",
            None,
            &[],
            None,
        )
        .await
        .expect_error(401, "unauthorized");
    one.kill();
    // After a restart, the same.
    let mut again = ServerProcess::start(&database).await;
    assert_eq!(key_of(&again.api, alice.token.clone()).await, key);
    again.kill();
    // An operator's key that is not the kept one: the server refuses to start.
    let other = parley::domain::push::VapidKey::generate().to_base64url();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .env("DATABASE_URL", database.env_value())
        .env("PARLEY_BIND", "127.0.0.1:0")
        .env("PARLEY_VAPID_PRIVATE_KEY", &other)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("VAPID"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[actix_rt::test]
async fn the_vapid_key_is_shared_kept_and_the_operators_sqlite() {
    the_vapid_key_is_shared_kept_and_the_operators(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn the_vapid_key_is_shared_kept_and_the_operators_postgres() {
    the_vapid_key_is_shared_kept_and_the_operators(Backend::Postgres).await;
}

/// An operator's key on a fresh database is the one served.
#[actix_rt::test]
async fn an_operators_vapid_key_is_served() {
    let database = TestDatabase::provision(Backend::Sqlite).unwrap();
    let key = parley::domain::push::VapidKey::generate();
    let server = ServerProcess::start_with(
        &database,
        &[("PARLEY_VAPID_PRIVATE_KEY", key.to_base64url())],
    )
    .await;
    let alice = server.api.register("alice").await;
    let served = server
        .api
        .get("/api/v1/push/vapid-public-key", &alice.token)
        .await
        .expect(200)
        .clone();
    assert_eq!(served["key"], key.public_base64url());
}

on_both_backends! {
    async fn subscriptions_are_checked_kept_per_endpoint_and_the_callers_alone(server) configured (configured) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let path = "/api/v1/push/subscriptions";
        let phone = device("https://push.example.org/send/abc");
        let created = api.post(path, &alice.token, &phone).await;
        let created = created.expect(201).clone();
        assert_eq!(created["endpoint"], phone["endpoint"]);
        assert!(created.get("keys").is_none(), "keys are never shown again");
        // The same endpoint again: the one subscription (its keys updated).
        let again = api.post(path, &alice.token, &device("https://push.example.org/send/abc")).await;
        assert_eq!(again.expect(200)["id"], created["id"]);
        // An Idempotency-Key replays the first answer.
        let laptop = device("http://localhost:8090/notify/laptop");
        let first = api.post_with_key(path, &alice.token, "push-1", &laptop).await.expect(201).clone();
        let replay = api.post_with_key(path, &alice.token, "push-1", &laptop).await;
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.expect(201), &first);
        let list = api.get(path, &alice.token).await.expect(200).clone();
        assert_eq!(list, json!([created, first]));
        assert_eq!(api.get(path, &bob.token).await.expect(200), &json!([]));

        // Refused with the contract's error, and nothing kept.
        let good = device("https://push.example.org/x");
        let mut bad_bodies = vec![
            (json!({"endpoint": "http://push.example.org/x", "keys": good["keys"]}), "endpoint"),
            (json!({"endpoint": "https://user@push.example.org/x", "keys": good["keys"]}), "endpoint"),
            (json!({"endpoint": "push.example.org/x", "keys": good["keys"]}), "endpoint"),
            (json!({"endpoint": format!("https://push.example.org/{}", "a".repeat(2100)), "keys": good["keys"]}), "endpoint"),
            (json!({"endpoint": "https://push.example.org/x", "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}}), "keys.p256dh"),
            (json!({"endpoint": "https://push.example.org/x", "keys": {"p256dh": good["keys"]["p256dh"], "auth": "AAAA"}}), "keys.auth"),
        ];
        // A point off the curve.
        let mut point = URL_SAFE_NO_PAD.decode(good["keys"]["p256dh"].as_str().unwrap()).unwrap();
        if let Some(last) = point.last_mut() {
            *last ^= 1;
        }
        bad_bodies.push((json!({"endpoint": "https://push.example.org/x", "keys": {"p256dh": URL_SAFE_NO_PAD.encode(&point), "auth": good["keys"]["auth"]}}), "keys.p256dh"));
        for (body, field) in bad_bodies {
            let res = api.post(path, &bob.token, &body).await;
            res.expect_error(422, "validation_failed");
            assert_eq!(res.expect(422)["errors"][0]["field"], field, "{body}");
        }
        api.post(path, &bob.token, &json!({"endpoint": "https://push.example.org/x"})).await.expect_error(422, "validation_failed");
        assert_eq!(api.get(path, &bob.token).await.expect(200), &json!([]));

        // Someone else's subscription cannot be removed; one's own can, once.
        let id = created["id"].as_i64().unwrap();
        api.delete(&format!("{path}/{id}"), &bob.token).await.expect_error(404, "not_found");
        api.delete(&format!("{path}/{id}"), &alice.token).await.expect(204);
        api.delete(&format!("{path}/{id}"), &alice.token).await.expect_error(404, "not_found");
        api.delete(&format!("{path}/0"), &alice.token).await.expect_error(404, "not_found");
        // A browser signed in to another account: the endpoint moves to it.
        let moved = api.post(path, &bob.token, &laptop).await.expect(201).clone();
        assert_ne!(moved["id"], first["id"]);
        assert_eq!(api.get(path, &alice.token).await.expect(200), &json!([]));
        assert_eq!(api.get(path, &bob.token).await.expect(200), &json!([moved]));

        // The same new endpoint twice at once (a double click, no key): one subscription, and
        // neither request fails.
        for round in 0..20 {
            let endpoint = format!("https://push.example.org/race/{round}");
            let (first_device, second_device) = (device(&endpoint), device(&endpoint));
            let (a, b) = futures_util::join!(
                api.post(path, &alice.token, &first_device),
                api.post(path, &alice.token, &second_device)
            );
            let mut statuses = [a.status, b.status];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 201], "round {round}");
            assert_eq!(a.expect(a.status)["id"], b.expect(b.status)["id"], "round {round}");
        }
        let races = server.sql_numbers("SELECT COUNT(*) AS n FROM push_subscriptions WHERE endpoint LIKE '%/race/%'");
        assert_eq!(races, [20]);

        // A deactivated account's devices are forgotten; a revoked token does nothing.
        api.post(&format!("/admin/users/{}/deactivate", bob.id), ADMIN, &json!({})).await.expect(200);
        assert_eq!(server.sql_numbers(&format!("SELECT COUNT(*) AS n FROM push_subscriptions WHERE user_id = {}", bob.id)), [0]);
        api.get(path, &bob.token).await.expect_error(401, "unauthorized");
        api.request(Method::POST, "/api/v1/auth/logout", Some(&alice.token), &[], None).await.expect(204);
        api.post(path, &alice.token, &device("https://push.example.org/late")).await.expect_error(401, "unauthorized");
    }
}

on_both_backends! {
    async fn memberships_know_who_has_a_device(server) configured (configured) {
        let api = server.api();
        let path = "/api/v1/push/subscriptions";
        let (alice, bob, carol) = (api.register("alice").await, api.register("bob").await, api.register("carol").await);
        let flagged = |user_id: i64| {
            server.sql_numbers(&format!(
                "SELECT COUNT(*) AS n FROM chat_members WHERE user_id = {user_id} AND has_devices"
            ))
        };
        // A device first, then the membership; the membership first, then the device.
        api.post(path, &bob.token, &device("https://push.example.org/bob")).await.expect(201);
        let chat = api.group(&alice, &[&bob, &carol]).await;
        assert_eq!((flagged(alice.id), flagged(bob.id), flagged(carol.id)), (vec![0], vec![1], vec![0]));
        api.post(path, &carol.token, &device("https://push.example.org/carol")).await.expect(201);
        assert_eq!(flagged(carol.id), [1]);

        // A device subscribed while the person is being added: whichever commits first, the
        // membership ends up flagged.
        for round in 0..20 {
            let newcomer = api.register(&format!("newcomer{round}")).await;
            let phone = device(&format!("https://push.example.org/newcomer/{round}"));
            let members = format!("/api/v1/chats/{chat}/members");
            let added = json!({"user_id": newcomer.id});
            let (joined, subscribed) = futures_util::join!(
                api.post(&members, &alice.token, &added),
                api.post(path, &newcomer.token, &phone)
            );
            joined.expect(200);
            subscribed.expect(201);
            assert_eq!(flagged(newcomer.id), [1], "round {round}");
        }
    }
}
