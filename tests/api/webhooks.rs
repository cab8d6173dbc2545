//! Webhooks (issue 30): incoming ones post through the room as their bot; outgoing ones
//! deliver every matching event once per `webhook-id`, in seq order, signed as Standard
//! Webhooks asks (checked by PyPI's `standardwebhooks`), retried while the receiver fails or
//! hangs, across a `kill -9`, from two nodes at once — and never to a private address.

use std::time::Duration;

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::common::process::{NatsServer, ServerProcess};
use crate::common::webhooks::{verify_independently, Behaviour, Received, Receiver};
use crate::common::ws::WsClient;
use crate::common::{Api, Backend, TestDatabase, TestUser};
use crate::on_both_backends;

fn receiving(config: &mut parley::config::Config) {
    config.webhooks.allow_hosts = vec!["127.0.0.1".to_owned()];
    config.webhooks.first_retry = Duration::from_millis(200);
}

fn process_env() -> Vec<(&'static str, String)> {
    vec![
        ("PARLEY_WEBHOOK_ALLOW_HOSTS", "127.0.0.1".to_owned()),
        ("PARLEY_WEBHOOK_FIRST_RETRY_MS", "300".to_owned()),
    ]
}

async fn create_hook(api: &Api, owner: &TestUser, chat: i64, name: &str) -> Value {
    let answer = api
        .post(
            &format!("/api/v1/chats/{chat}/webhooks"),
            &owner.token,
            &json!({"name": name}),
        )
        .await;
    answer.expect(201).clone()
}

async fn post_hook(api: &Api, url: &str, body: &Value, key: Option<&str>) -> crate::common::Resp {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    api.request(
        Method::POST,
        url,
        None,
        &headers,
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await
}

async fn subscribe(api: &Api, owner: &TestUser, chat: i64, url: &str, events: &[&str]) -> Value {
    let answer = api
        .post(
            &format!("/api/v1/chats/{chat}/subscriptions"),
            &owner.token,
            &json!({"url": url, "events": events}),
        )
        .await;
    answer.expect(201).clone()
}

/// The seqs of the requests, and whether each request's id names its event.
/// The subscription's delivery log once it holds `count` attempts: a delivery is recorded a
/// moment after its receiver answered (records go in together, every 64 or 250 ms).
async fn delivery_log(api: &Api, owner: &TestUser, chat: i64, id: i64, count: usize) -> Vec<Value> {
    let path = format!("/api/v1/chats/{chat}/subscriptions/{id}/deliveries");
    crate::common::wait_for("the deliveries recorded", Duration::from_secs(10), || {
        let (api, path, token) = (api.clone(), path.clone(), owner.token.clone());
        async move {
            let log = api.get(&path, &token).await;
            let log = log.expect(200).as_array().unwrap().clone();
            (log.len() >= count).then_some(log)
        }
    })
    .await
}

fn seqs(received: &[Received]) -> Vec<i64> {
    received
        .iter()
        .map(|r| {
            let body = r.json();
            assert_eq!(
                r.id,
                format!("msg_{}_{}", body["chat_id"], body["seq"]),
                "webhook-id names the event"
            );
            r.seq()
        })
        .collect()
}

fn assert_increasing(seqs: &[i64]) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "not in seq order, or twice: {seqs:?}"
    );
}

on_both_backends! {
    async fn an_incoming_webhook_posts_as_its_bot(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        let mut ws = WsClient::connect(&server, &bob.token).await;
        let hook = create_hook(&api, &alice, group, "CI").await;
        let url = hook["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with("/hooks/") && url.len() >= "/hooks/".len() + 22, "{url}");
        let bot_id = hook["bot_user_id"].as_i64().unwrap();
        // Its bot joined through the room, as any member does.
        let joined = ws.next_event().await;
        assert_eq!(joined["type"], "member.joined");
        assert_eq!(joined["data"]["user_id"], bot_id);
        let chat = api.get(&format!("/api/v1/chats/{group}"), &bob.token).await;
        assert!(chat.expect(200)["members"].as_array().unwrap().iter().any(|m| m["user_id"] == bot_id));
        let bot = api.get(&format!("/api/v1/users/{bot_id}"), &bob.token).await;
        assert_eq!(bot.expect(200)["is_bot"], true);
        assert_eq!(bot.json["display_name"], "CI");

        let posted = post_hook(&api, &url, &json!({"text": "build failed", "username": "ignored"}), Some("run-7")).await;
        let message = posted.expect(200).clone();
        assert_eq!(message["author_id"], bot_id);
        assert_eq!(message["content"], "build failed");
        let created = ws.next_event().await;
        assert_eq!(created["type"], "message.created");
        assert_eq!(created["data"]["id"], message["id"]);
        // A retry with its key is the same post.
        let again = post_hook(&api, &url, &json!({"text": "build failed", "username": "ignored"}), Some("run-7")).await;
        assert_eq!(again.expect(200)["id"], message["id"]);
        assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
        ws.expect_silence(Duration::from_millis(300)).await;

        // Shown again to owners and admins, as it was.
        let listed = api.get(&format!("/api/v1/chats/{group}/webhooks"), &alice.token).await;
        assert_eq!(listed.expect(200)[0]["url"], url.as_str());

        // Bad bodies: the contract's errors, nothing posted.
        post_hook(&api, &url, &json!({"text": ""}), None).await.expect_error(422, "validation_failed");
        post_hook(&api, &url, &json!({"text": "x".repeat(4001)}), None).await.expect_error(422, "validation_failed");
        post_hook(&api, &url, &json!({"message": "no text"}), None).await.expect_error(422, "validation_failed");
        let malformed = api.request(Method::POST, &url, None, &[], Some(("application/json", b"{".to_vec()))).await;
        malformed.expect_error(400, "malformed_json");
        ws.expect_silence(Duration::from_millis(300)).await;

        // Unknown and deleted secrets.
        post_hook(&api, "/hooks/not-a-secret", &json!({"text": "hi"}), None).await.expect_error(404, "not_found");
        let id = hook["id"].as_i64().unwrap();
        api.delete(&format!("/api/v1/chats/{group}/webhooks/{id}"), &alice.token).await.expect(204);
        post_hook(&api, &url, &json!({"text": "after delete"}), None).await.expect_error(404, "not_found");
        api.delete(&format!("/api/v1/chats/{group}/webhooks/{id}"), &alice.token).await.expect_error(404, "not_found");
        assert_eq!(api.get(&format!("/api/v1/chats/{group}/webhooks"), &alice.token).await.expect(200), &json!([]));
    }

    async fn incoming_webhooks_are_rate_limited_each(server) configured (|c: &mut parley::config::Config| {
        c.rates.hook_posts_per_minute = 3;
    }) {
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        let one = create_hook(&api, &alice, group, "one").await["url"].as_str().unwrap().to_owned();
        let two = create_hook(&api, &alice, group, "two").await["url"].as_str().unwrap().to_owned();
        for n in 0..3 {
            post_hook(&api, &one, &json!({"text": format!("post {n}")}), None).await.expect(200);
        }
        let refused = post_hook(&api, &one, &json!({"text": "one too many"}), None).await;
        refused.expect_error(429, "rate_limited");
        assert!(refused.header("Retry-After").is_some());
        post_hook(&api, &two, &json!({"text": "the other hook"}), None).await.expect(200);
        let page = api.get(&format!("/api/v1/chats/{group}/messages"), &alice.token).await;
        let texts: Vec<Value> = page.expect(200)["messages"].as_array().unwrap().iter().map(|m| m["content"].clone()).collect();
        assert!(!texts.contains(&json!("one too many")));
    }

    async fn a_subscription_receives_each_matching_event_once_in_order(server) configured (receiving) {
        let receiver = Receiver::start().await;
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        let before = api.send(&alice, group, "before the subscription").await;
        let sub = subscribe(&api, &alice, group, &receiver.url("/events"),
            &["message.created", "reaction.added", "message.deleted"]).await;
        let secret = sub["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{secret}");
        let listed = api.get(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token).await;
        assert!(listed.expect(200)[0].get("secret").is_none(), "the secret is shown once");

        let mut sent = Vec::new();
        for n in 0..5 {
            sent.push(api.send(if n % 2 == 0 { &alice } else { &bob }, group, &format!("event {n}")).await);
        }
        let first = sent[0]["id"].as_i64().unwrap();
        api.post(&format!("/api/v1/messages/{first}/reactions"), &bob.token, &json!({"emoji": "👍"})).await.expect(200);
        api.patch(&format!("/api/v1/messages/{first}"), &alice.token, &json!({"content": "edited"})).await.expect(200);
        api.delete(&format!("/api/v1/messages/{first}"), &alice.token).await.expect(200);

        receiver.wait_accepted(7, Duration::from_secs(20)).await;
        actix_rt::time::sleep(Duration::from_millis(1500)).await;
        let got = receiver.received();
        assert_eq!(got.len(), 7, "each matching event once, nothing else: {got:?}");
        assert_increasing(&seqs(&got));
        let types: Vec<Value> = got.iter().map(|r| r.json()["type"].clone()).collect();
        assert_eq!(types, vec![
            json!("message.created"), json!("message.created"), json!("message.created"),
            json!("message.created"), json!("message.created"), json!("reaction.added"),
            json!("message.deleted"),
        ]);
        let body = got[1].json();
        assert_eq!(body["chat_id"], group);
        assert_eq!(body["data"]["id"], sent[1]["id"]);
        assert_ne!(body["data"]["id"], before["id"]);
        assert!(got.iter().all(|r| !r.signature.is_empty() && r.timestamp.parse::<i64>().is_ok()));
        verify_independently(&secret, &got);

        let id = sub["id"].as_i64().unwrap();
        let log = delivery_log(&api, &alice, group, id, 7).await;
        assert_eq!(log.len(), 7);
        assert!(log.iter().all(|a| a["status"] == 200 && a["attempt"] == 1 && a["error"].is_null()));
        assert_eq!(log[0]["webhook_id"], got[6].id.as_str(), "newest first");
        let listed = api.get(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token).await;
        assert!(listed.expect(200)[0]["delivered_seq"].as_i64().unwrap() >= got[6].seq());

        // Deleted: nothing more is sent.
        api.delete(&format!("/api/v1/chats/{group}/subscriptions/{id}"), &alice.token).await.expect(204);
        api.send(&alice, group, "after the end").await;
        actix_rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.received().len(), 7);
    }

    async fn a_failing_receiver_gets_every_event_in_order_with_the_same_ids(server) configured (receiving) {
        let receiver = Receiver::start().await;
        receiver.script(&[Behaviour::Status(500), Behaviour::Status(500), Behaviour::Status(500)]);
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        let sub = subscribe(&api, &alice, group, &receiver.url("/"), &["message.created"]).await;
        for n in 0..3 {
            api.send(&alice, group, &format!("event {n}")).await;
        }
        let accepted = receiver.wait_accepted(3, Duration::from_secs(30)).await;
        assert_increasing(&seqs(&accepted));
        let all = receiver.received();
        assert_eq!(all.len(), 6, "three failures, then three deliveries: {all:?}");
        assert!(all[..4].iter().all(|r| r.id == all[0].id), "the same webhook-id on every retry");
        assert_eq!(all[3].answered, Some(200));
        verify_independently(sub["secret"].as_str().unwrap(), &all);
        let id = sub["id"].as_i64().unwrap();
        let mut log = delivery_log(&api, &alice, group, id, 6).await;
        log.reverse();
        let attempts: Vec<(i64, i64)> = log.iter().map(|a| (a["attempt"].as_i64().unwrap(), a["status"].as_i64().unwrap())).collect();
        assert_eq!(attempts, vec![(1, 500), (2, 500), (3, 500), (4, 200), (1, 200), (1, 200)]);
        assert_eq!(log[0]["error"], "Internal Server Error");
    }

    async fn a_hanging_receiver_is_timed_out_and_retried(server) configured (receiving) {
        let receiver = Receiver::start().await;
        receiver.script(&[Behaviour::Hang]);
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        let sub = subscribe(&api, &alice, group, &receiver.url("/slow"), &["message.created"]).await;
        api.send(&alice, group, "are you there").await;
        let accepted = receiver.wait_accepted(1, Duration::from_secs(25)).await;
        let all = receiver.received();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].id, accepted[0].id);
        let id = sub["id"].as_i64().unwrap();
        let log = delivery_log(&api, &alice, group, id, 2).await;
        assert_eq!(log.len(), 2);
        assert!(log[1]["status"].is_null());
        assert!(log[1]["error"].as_str().unwrap().contains("timed out"), "{}", log[1]);
        assert_eq!(log[0]["status"], 200);
    }

    /// A claim whose lease was taken over (here by hand, as a node whose lease ended would see
    /// it) records nothing when its late answer comes: the claim that took over delivered the
    /// event, and its record stands.
    async fn a_claim_that_lost_its_lease_records_nothing(server) configured (receiving) {
        let receiver = Receiver::start().await;
        receiver.script(&[Behaviour::Hang]);
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        let sub = subscribe(&api, &alice, group, &receiver.url("/"), &["message.created"]).await;
        let id = sub["id"].as_i64().unwrap();
        api.send(&alice, group, "taken over").await;
        crate::common::wait_for("the first attempt hanging", Duration::from_secs(10), || {
            let n = receiver.received().len();
            async move { (n >= 1).then_some(()) }
        }).await;
        // Another claim takes the subscription while the first waits for its receiver.
        server.execute_sql(&format!("UPDATE webhook_subscriptions SET due_at = 0 WHERE id = {id}"));
        receiver.wait_accepted(1, Duration::from_secs(10)).await;
        // The first attempt times out (10 s) and finds its lease gone.
        actix_rt::time::sleep(Duration::from_secs(11)).await;
        let log = api.get(&format!("/api/v1/chats/{group}/subscriptions/{id}/deliveries"), &alice.token).await;
        let log = log.expect(200).as_array().unwrap().clone();
        assert_eq!(log.len(), 1, "only the delivery that held the claim is recorded: {log:?}");
        assert_eq!(log[0]["status"], 200);
        let listed = api.get(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token).await;
        let listed = listed.expect(200)[0].clone();
        assert!(listed["failing_since"].is_null(), "{listed}");
        assert_eq!(receiver.accepted().len(), 1);
    }

    /// A receiver whose answer never ends is read 64 KiB far and no further: the event counts
    /// as delivered at once (read to the end, it would run into the 10 s limit and fail).
    async fn an_endless_answer_is_not_read_to_its_end(server) configured (receiving) {
        let receiver = Receiver::start().await;
        receiver.script(&[Behaviour::Endless]);
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        let sub = subscribe(&api, &alice, group, &receiver.url("/"), &["message.created"]).await;
        let id = sub["id"].as_i64().unwrap();
        api.send(&alice, group, "one").await;
        api.send(&alice, group, "two").await;
        crate::common::wait_for("both delivered", Duration::from_secs(5), || {
            let api = api.clone();
            let token = alice.token.clone();
            async move {
                let log = api.get(&format!("/api/v1/chats/{group}/subscriptions/{id}/deliveries"), &token).await;
                let log = log.expect(200).as_array().unwrap().clone();
                (log.len() == 2 && log.iter().all(|a| a["status"] == 200)).then_some(())
            }
        }).await;
        assert_eq!(receiver.received().len(), 2, "the first was not sent again");
    }

    async fn a_day_of_failure_disables_a_subscription(server) configured (receiving) {
        let receiver = Receiver::start().await;
        receiver.otherwise(Behaviour::Status(503));
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        let sub = subscribe(&api, &alice, group, &receiver.url("/"), &["message.created"]).await;
        let id = sub["id"].as_i64().unwrap();
        api.send(&alice, group, "nobody listens").await;
        crate::common::wait_for("a failed attempt", Duration::from_secs(10), || {
            let n = receiver.received().len();
            async move { (n >= 1).then_some(()) }
        }).await;
        let day_ago = parley::domain::Timestamp::now().millis() - 25 * 3600 * 1000;
        crate::common::wait_for("the subscription disabled", Duration::from_secs(20), || {
            server.execute_sql(&format!(
                "UPDATE webhook_subscriptions SET failing_since = {day_ago} \
                 WHERE id = {id} AND disabled_at IS NULL"
            ));
            let api = api.clone();
            let token = alice.token.clone();
            async move {
                let listed = api.get(&format!("/api/v1/chats/{group}/subscriptions"), &token).await;
                let disabled = !listed.expect(200)[0]["disabled_at"].is_null();
                disabled.then_some(())
            }
        }).await;
        let tried = receiver.received().len();
        api.send(&alice, group, "still nobody").await;
        actix_rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.received().len(), tried, "nothing is sent to a disabled subscription");
        assert_eq!(server.metric("webhook_disabled_total"), 1.0);
    }

    async fn urls_to_private_addresses_are_refused(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        for url in [
            "http://127.0.0.1:8080/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data",
            "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://localhost:9/", "http://0.0.0.0/",
            "ftp://example.com/", "https://user:pw@example.com/", "not a url",
        ] {
            let answer = api.post(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token,
                &json!({"url": url, "events": ["message.created"]})).await;
            answer.expect_error(422, "validation_failed");
            assert_eq!(answer.json["errors"][0]["field"], "url", "{url}");
        }
        for events in [json!([]), json!(["typing"]), json!(["message.created", "nope"])] {
            api.post(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token,
                &json!({"url": "http://127.0.0.1:9/", "events": events})).await
                .expect_error(422, "validation_failed");
        }
        assert_eq!(api.get(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token).await.expect(200), &json!([]));
    }

    async fn allowed_hosts_are_reached(server) configured (|c: &mut parley::config::Config| {
        c.webhooks.allow_hosts = vec!["127.0.0.1".into(), "localhost".into()];
    }) {
        let receiver = Receiver::start().await;
        let api = server.api();
        let alice = api.register("alice").await;
        let group = api.group(&alice, &[]).await;
        subscribe(&api, &alice, group, &receiver.url("/"), &["message.created"]).await;
        subscribe(&api, &alice, group, &format!("http://localhost:{}/named", receiver.port), &["message.created"]).await;
        api.post(&format!("/api/v1/chats/{group}/subscriptions"), &alice.token,
            &json!({"url": "http://10.0.0.1/", "events": ["message.created"]})).await
            .expect_error(422, "validation_failed");
        api.send(&alice, group, "to both").await;
        receiver.wait_accepted(2, Duration::from_secs(10)).await;
    }

    async fn only_owners_and_admins_manage_webhooks(server) configured (|c: &mut parley::config::Config| {
        c.admin_token = Some("operator-secret".to_owned());
        receiving(c);
    }) {
        let api = server.api();
        let alice = api.register("alice").await;
        let admin = api.register("admin").await;
        let member = api.register("member").await;
        let removed = api.register("removed").await;
        let outsider = api.register("outsider").await;
        let gone = api.register("gone").await;
        let revoked = api.register("revoked").await;
        let group = api.group(&alice, &[&admin, &member, &removed, &gone, &revoked]).await;
        // An admin (the API has no promotion of a member; the owner adds admins directly).
        server.execute_sql(&format!(
            "UPDATE chat_members SET role = 'admin' WHERE chat_id = {group} AND user_id = {}", admin.id
        ));
        api.delete(&format!("/api/v1/chats/{group}/members/{}", removed.id), &alice.token).await.expect(204);
        api.post(&format!("/admin/users/{}/deactivate", gone.id), "operator-secret", &json!({})).await.expect(200);
        api.post("/api/v1/auth/logout", &revoked.token, &json!({})).await.expect(204);

        let hook = create_hook(&api, &admin, group, "by the admin").await;
        let hook_id = hook["id"].as_i64().unwrap();
        let sub = subscribe(&api, &admin, group, "http://127.0.0.1:9/", &["message.created"]).await;
        let sub_id = sub["id"].as_i64().unwrap();
        let paths = [
            (Method::POST, format!("/api/v1/chats/{group}/webhooks"), Some(json!({"name": "x"}))),
            (Method::GET, format!("/api/v1/chats/{group}/webhooks"), None),
            (Method::DELETE, format!("/api/v1/chats/{group}/webhooks/{hook_id}"), None),
            // A private address: who asks is refused before the URL is looked at (or resolved).
            (Method::POST, format!("/api/v1/chats/{group}/subscriptions"), Some(json!({"url": "http://10.0.0.1/", "events": ["message.created"]}))),
            (Method::GET, format!("/api/v1/chats/{group}/subscriptions"), None),
            (Method::DELETE, format!("/api/v1/chats/{group}/subscriptions/{sub_id}"), None),
            (Method::GET, format!("/api/v1/chats/{group}/subscriptions/{sub_id}/deliveries"), None),
        ];
        for (method, path, body) in &paths {
            let call = |token: String| {
                let (api, method, path, body) = (api.clone(), method.clone(), path.clone(), body.clone());
                async move {
                    let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
                    api.request(method, &path, Some(&token), &[], body).await
                }
            };
            call(member.token.clone()).await.expect_error(403, "forbidden");
            call(removed.token.clone()).await.expect_error(403, "not_a_member");
            call(outsider.token.clone()).await.expect_error(403, "not_a_member");
            call(gone.token.clone()).await.expect_error(401, "unauthorized");
            call(revoked.token.clone()).await.expect_error(401, "unauthorized");
        }
        // Still there, and the owner may delete them.
        api.delete(&format!("/api/v1/chats/{group}/subscriptions/{sub_id}"), &alice.token).await.expect(204);
        api.delete(&format!("/api/v1/chats/{group}/webhooks/{hook_id}"), &alice.token).await.expect(204);
        // Not in a direct chat, and not in a chat that is not there.
        let direct = api.client().with_token(&alice.token).direct_chat(parley::domain::UserId(member.id)).await.unwrap().id.get();
        api.post(&format!("/api/v1/chats/{direct}/webhooks"), &alice.token, &json!({"name": "x"})).await
            .expect_error(403, "forbidden");
        api.post("/api/v1/chats/999999/webhooks", &alice.token, &json!({"name": "x"})).await
            .expect_error(404, "not_found");
        api.post(&format!("/api/v1/chats/{group}/webhooks"), &alice.token, &json!({"name": ""})).await
            .expect_error(422, "validation_failed");
        // Another chat's subscription is not this chat's.
        let other = api.group(&alice, &[]).await;
        let theirs = subscribe(&api, &alice, other, "http://127.0.0.1:9/", &["message.created"]).await["id"].as_i64().unwrap();
        api.get(&format!("/api/v1/chats/{group}/subscriptions/{theirs}/deliveries"), &alice.token).await
            .expect_error(404, "not_found");
        api.delete(&format!("/api/v1/chats/{group}/subscriptions/{theirs}"), &alice.token).await
            .expect_error(404, "not_found");
    }
}

/// The events committed while the receiver was down and the node was killed (`kill -9`) are
/// delivered after a restart, in order: the chat's log is the outbox.
async fn events_survive_kill_9(backend: Backend) {
    let Some(database) = TestDatabase::provision(backend) else {
        return;
    };
    let receiver = Receiver::start().await;
    receiver.otherwise(Behaviour::Status(503));
    let mut node = ServerProcess::start_with(&database, &process_env()).await;
    let alice = node.api.register("alice").await;
    let group = node.api.group(&alice, &[]).await;
    subscribe(
        &node.api,
        &alice,
        group,
        &receiver.url("/"),
        &["message.created"],
    )
    .await;
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(node.api.send(&alice, group, &format!("survive {n}")).await);
    }
    crate::common::wait_for("a failed attempt", Duration::from_secs(10), || {
        let n = receiver.received().len();
        async move { (n >= 1).then_some(()) }
    })
    .await;
    node.kill();
    assert!(receiver.accepted().is_empty());
    receiver.otherwise(Behaviour::Status(204));
    let node = ServerProcess::start_with(&database, &process_env()).await;
    // Killed between a claim and its record, the subscription waits for the claim's lease.
    let accepted = receiver.wait_accepted(3, Duration::from_secs(60)).await;
    let ids: Vec<Value> = accepted
        .iter()
        .map(|r| r.json()["data"]["id"].clone())
        .collect();
    let sent_ids: Vec<Value> = sent.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, sent_ids, "every event, in order");
    assert_increasing(&seqs(&accepted));
    drop(node);
}

#[actix_rt::test]
async fn events_survive_kill_9_sqlite() {
    events_survive_kill_9(Backend::Sqlite).await;
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn events_survive_kill_9_postgres() {
    events_survive_kill_9(Backend::Postgres).await;
}

/// Two nodes on one PostgreSQL claim the same subscriptions: each event goes out once, in
/// order, whichever node took the send.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn two_nodes_deliver_each_event_once() {
    let Some(database) = TestDatabase::provision(Backend::Postgres) else {
        return;
    };
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let receiver = Receiver::start().await;
    let mut env = process_env();
    env.push(("PARLEY_NATS_URL", nats.url()));
    env.push(("PARLEY_STORAGE_SHARED", "true".to_owned()));
    let nodes =
        futures_util::future::join_all((0..2).map(|_| ServerProcess::start_with(&database, &env)))
            .await;
    let (one, two) = (&nodes[0].api, &nodes[1].api);
    let alice = one.register("alice").await;
    let group = one.group(&alice, &[]).await;
    let other = one.group(&alice, &[]).await;
    let sub = subscribe(
        one,
        &alice,
        group,
        &receiver.url("/a"),
        &["message.created"],
    )
    .await;
    subscribe(
        two,
        &alice,
        other,
        &receiver.url("/b"),
        &["message.created"],
    )
    .await;
    for round in 0..20 {
        let api = if round % 2 == 0 { one } else { two };
        api.send(
            &alice,
            if round % 3 == 0 { other } else { group },
            &format!("round {round}"),
        )
        .await;
        actix_rt::time::sleep(Duration::from_millis(30)).await;
    }
    receiver.wait_accepted(20, Duration::from_secs(30)).await;
    actix_rt::time::sleep(Duration::from_millis(2500)).await;
    let all = receiver.received();
    assert_eq!(all.len(), 20, "each event once: {all:?}");
    for chat in [group, other] {
        let of_chat: Vec<Received> = all
            .iter()
            .filter(|r| r.json()["chat_id"] == chat)
            .cloned()
            .collect();
        assert_increasing(&seqs(&of_chat));
    }
    verify_independently(
        sub["secret"].as_str().unwrap(),
        &all.iter()
            .filter(|r| r.json()["chat_id"] == group)
            .cloned()
            .collect::<Vec<_>>(),
    );
}
