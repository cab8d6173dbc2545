//! Push notifications delivered (issue 29): to a real Web Push receiver (`web-push-testing`,
//! which checks the VAPID signature and decrypts the payload), to whom the contract says, once,
//! retried while the push service fails, across a `kill -9`, and from two nodes at once.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::common::process::{NatsServer, ServerProcess};
use crate::common::proxy::CuttableProxy;
use crate::common::push::{PushDevice, PushGate, PushReceiver};
use crate::common::ws::WsClient;
use crate::common::{Api, Backend, TestDatabase, TestUser};
use crate::on_both_backends;
use parley::domain::{ChatId, NotificationLevel, Timestamp, UserId};

/// Longer than one claim round (every second) with its delivery: what a test waits before it
/// concludes that nothing was sent.
const QUIET: Duration = Duration::from_millis(1500);

fn configured(config: &mut parley::config::Config) {
    config.push.allow_http_hosts = vec!["localhost".to_owned()];
    config.presence.grace = Duration::from_millis(100);
}

/// Environment for a `parley` process that delivers to the receiver.
fn process_env() -> Vec<(&'static str, String)> {
    vec![
        ("PARLEY_PUSH_ALLOW_HTTP_HOSTS", "localhost".to_owned()),
        ("PARLEY_PRESENCE_GRACE_MS", "100".to_owned()),
    ]
}

async fn vapid_key(api: &Api, user: &TestUser) -> String {
    let answer = api.get("/api/v1/push/vapid-public-key", &user.token).await;
    answer.expect(200)["key"].as_str().unwrap().to_owned()
}

/// Subscribes a new device of the receiver for `user`; the device is reached at `endpoint`
/// (the receiver's own, or a gate's in front of it).
async fn subscribe(api: &Api, user: &TestUser, device: &PushDevice) {
    api.post(
        "/api/v1/push/subscriptions",
        &user.token,
        &device.subscription(),
    )
    .await
    .expect(201);
}

async fn device_of(api: &Api, receiver: &PushReceiver, user: &TestUser) -> PushDevice {
    let device = receiver.subscribe(&vapid_key(api, user).await).await;
    subscribe(api, user, &device).await;
    device
}

/// A new device of the receiver for `user`, reached through `gate` (which sees, and can fail,
/// every request to it); returns the device as the receiver knows it.
async fn device_behind(
    api: &Api,
    receiver: &PushReceiver,
    gate: &PushGate,
    user: &TestUser,
) -> PushDevice {
    let device = receiver.subscribe(&vapid_key(api, user).await).await;
    subscribe(api, user, &device.through(gate, receiver)).await;
    device
}

async fn direct(api: &Api, from: &TestUser, to: &TestUser) -> i64 {
    let chat = api
        .client()
        .with_token(&from.token)
        .direct_chat(UserId(to.id))
        .await
        .unwrap();
    chat.id.get()
}

async fn set_level(
    api: &Api,
    user: &TestUser,
    chat_id: i64,
    level: NotificationLevel,
    muted: Option<i64>,
) {
    api.client()
        .with_token(&user.token)
        .set_notifications(ChatId(chat_id), level, muted.map(Timestamp))
        .await
        .unwrap();
}

/// The claims of the JWT in a `vapid t=…, k=…` header, and its `k`.
fn vapid_claims(authorization: &str) -> (Value, String) {
    let rest = authorization
        .strip_prefix("vapid ")
        .expect("a vapid header");
    let mut token = "";
    let mut key = "";
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            token = t;
        } else if let Some(k) = part.strip_prefix("k=") {
            key = k;
        }
    }
    let mut pieces = token.split('.');
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pieces.next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pieces.next().unwrap()).unwrap()).unwrap();
    (claims, key.to_owned())
}

on_both_backends! {
    /// A message that concerns an offline member reaches their device: decrypted by the
    /// receiver as the contract's payload, signed with the server's VAPID key for the push
    /// service's origin, `Urgency` high for a direct chat and normal in a group, a `Topic` per
    /// chat, a day's `TTL`; the author's own device gets nothing.
    async fn an_offline_member_is_notified(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let gate = PushGate::start(&receiver);
        let api = server.api();
        let (alice, bob, carol) = (api.register("alice").await, api.register("bob").await, api.register("carol").await);
        let key = vapid_key(&api, &bob).await;
        let bobs = receiver.subscribe(&key).await;
        subscribe(&api, &bob, &bobs.through(&gate, &receiver)).await;
        let alices = device_of(&api, &receiver, &alice).await;

        let chat = direct(&api, &alice, &bob).await;
        let sent = api.send(&alice, chat, "hello bob").await;
        let got = receiver.wait_for(&bobs, 1).await;
        assert_eq!(got, vec![json!({
            "type": "message", "chat_id": chat, "message_id": sent["id"], "seq": sent["seq"],
            "title": "alice", "body": "hello bob",
        })]);
        let seen = gate.seen(1).await;
        assert_eq!(seen.len(), 1, "{seen:?}");
        let request = &seen[0];
        assert_eq!(request.status, 201, "the receiver took it");
        assert_eq!((request.urgency.as_str(), request.ttl.as_str()), ("high", "86400"));
        assert_eq!(request.topic, format!("chat{chat}"));
        let (claims, k) = vapid_claims(&request.authorization);
        assert_eq!(k, key, "signed with the key the device subscribed with");
        assert_eq!(claims["aud"], format!("http://localhost:{}", gate.port));
        assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
        let now = Timestamp::now().millis() / 1000;
        let exp = claims["exp"].as_i64().unwrap();
        assert!(exp > now && exp <= now + 24 * 3600, "{claims}");

        let group = api.group(&alice, &[&bob, &carol]).await;
        let long = "x".repeat(150);
        let in_group = api.send(&alice, group, &long).await;
        let got = receiver.wait_for(&bobs, 2).await;
        assert_eq!(got[1], json!({
            "type": "message", "chat_id": group, "message_id": in_group["id"],
            "seq": in_group["seq"], "title": "Team", "body": format!("alice: {}", "x".repeat(100)),
        }));
        let seen = gate.seen(2).await;
        assert_eq!((seen[1].urgency.as_str(), seen[1].topic.clone()), ("normal", format!("chat{group}")));

        // Bob answers: alice (offline, subscribed) is notified; bob, the author, is not.
        api.send(&bob, chat, "hi alice").await;
        assert_eq!(receiver.wait_for(&alices, 1).await[0]["body"], "hi alice");
        actix_rt::time::sleep(QUIET).await;
        assert_eq!(receiver.received(&bobs).await.len(), 2, "never for one's own message");
        assert_eq!(receiver.received(&alices).await.len(), 1);
        assert_eq!(server.metrics.push_sent.get(), 3);
    }

    /// A busy chat does not make a notification per message: a device gets the first at
    /// once, then the chat's newest a few seconds later — never a message twice, never an
    /// older one after a newer, and always the last.
    async fn a_busy_chat_notifies_its_newest(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_of(&api, &receiver, &bob).await;
        let group = api.group(&alice, &[&bob]).await;
        let mut sent = Vec::new();
        for i in 0..30 {
            sent.push(api.send(&alice, group, &format!("busy {i}")).await["id"].as_i64().unwrap());
            actix_rt::time::sleep(Duration::from_millis(30)).await;
        }
        let last = *sent.last().unwrap();
        crate::common::wait_for("the newest message", Duration::from_secs(15), || {
            let (receiver, bobs) = (&receiver, bobs.clone());
            async move {
                let got = receiver.received(&bobs).await;
                got.iter().any(|p| p["message_id"] == last).then_some(())
            }
        })
        .await;
        actix_rt::time::sleep(QUIET).await;
        let ids: Vec<i64> = receiver.received(&bobs).await.iter().map(|p| p["message_id"].as_i64().unwrap()).collect();
        assert!(ids.len() <= 3, "one now, the newest after a few seconds: {ids:?}");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, each once: {ids:?}");
        assert_eq!(ids.last(), Some(&last));
    }

    /// A mention in a group is urgent (`Urgency: high`), as a direct message is.
    async fn a_mention_is_urgent(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let gate = PushGate::start(&receiver);
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_behind(&api, &receiver, &gate, &bob).await;
        let group = api.group(&alice, &[&bob]).await;
        let called = api.send(&alice, group, "@bob look").await;
        assert_eq!(receiver.wait_for(&bobs, 1).await[0]["message_id"], called["id"]);
        let seen = gate.seen(1).await;
        assert_eq!(seen[0].urgency, "high");
    }

    /// With previews off, a notification says which message and nothing of it.
    async fn id_only_payloads(server) configured(|config: &mut parley::config::Config| {
        configured(config);
        config.push.preview = false;
    }) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_of(&api, &receiver, &bob).await;
        let chat = direct(&api, &alice, &bob).await;
        let sent = api.send(&alice, chat, "a secret").await;
        assert_eq!(receiver.wait_for(&bobs, 1).await, vec![json!({
            "type": "message", "chat_id": chat, "message_id": sent["id"], "seq": sent["seq"],
            "title": "", "body": "",
        })]);
    }

    /// No push while the user has a session open; once it closes (and the grace period has
    /// passed), the next message is pushed.
    async fn no_push_while_a_session_is_open(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_of(&api, &receiver, &bob).await;
        let chat = direct(&api, &alice, &bob).await;
        let ws = WsClient::connect(&server, &bob.token).await;
        api.send(&alice, chat, "while bob looks").await;
        actix_rt::time::sleep(QUIET).await;
        assert!(receiver.received(&bobs).await.is_empty());
        assert_eq!(server.metrics.push_queued.get(), 0, "nothing was even queued");
        ws.close().await;
        actix_rt::time::sleep(Duration::from_millis(600)).await;
        let later = api.send(&alice, chat, "after bob left").await;
        let got = receiver.wait_for(&bobs, 1).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["message_id"], later["id"]);
    }

    /// A notification held up (the push service said to wait) while its person opens a session
    /// is not sent, and its row goes for good: while the chat stays busy it does not come
    /// back due again and again (each time claimed and refused).
    async fn a_person_who_came_online_is_owed_nothing_more(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let gate = PushGate::start(&receiver);
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_behind(&api, &receiver, &gate, &bob).await;
        gate.fail_next(&[(429, Some("1"))]);
        let chat = direct(&api, &alice, &bob).await;
        api.send(&alice, chat, "while bob is away").await;
        assert_eq!(gate.seen(1).await[0].status, 429);
        let _ws = WsClient::connect(&server, &bob.token).await;
        // The chat stays busy, a message right after another, until the retry (about 5 s on)
        // and for two claim rounds after it (a row kept would be found owing one of them).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut retried_at: Option<std::time::Instant> = None;
        for i in 0.. {
            api.send(&alice, chat, &format!("busy {i}")).await;
            if retried_at.is_none() && server.metrics.push_queued.get() >= 2 {
                retried_at = Some(std::time::Instant::now());
            }
            if retried_at.is_some_and(|at| at.elapsed() > Duration::from_secs(2)) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the retry never came");
        }
        assert!(receiver.received(&bobs).await.is_empty());
        assert_eq!(server.sql_numbers("SELECT count(*) AS n FROM push_outbox"), vec![0]);
        // Two claims: the first, which the push service put off, and the retry, which found bob
        // online. None after it.
        assert_eq!(server.metrics.push_queued.get(), 2);
    }

    /// Levels and mutes decide: `none` never; `mentions` only when mentioned — or in a direct
    /// chat; muted until later, never; muted until a time past, as before.
    async fn levels_and_mutes_decide(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let api = server.api();
        let (alice, bob, carol) = (api.register("alice").await, api.register("bob").await, api.register("carol").await);
        let bobs = device_of(&api, &receiver, &bob).await;
        let carols = device_of(&api, &receiver, &carol).await;
        let group = api.group(&alice, &[&bob, &carol]).await;
        set_level(&api, &bob, group, NotificationLevel::None, None).await;
        set_level(&api, &carol, group, NotificationLevel::Mentions, None).await;

        api.send(&alice, group, "nobody is called").await;
        actix_rt::time::sleep(QUIET).await;
        assert_eq!(server.metrics.push_queued.get(), 0, "none at `none`, none at `mentions`");

        let called = api.send(&alice, group, "@bob @carol look").await;
        let got = receiver.wait_for(&carols, 1).await;
        assert_eq!(got[0]["message_id"], called["id"]);
        actix_rt::time::sleep(QUIET).await;
        assert!(receiver.received(&bobs).await.is_empty(), "`none` even when mentioned");

        let hour = Timestamp::now().millis() + 3_600_000;
        set_level(&api, &carol, group, NotificationLevel::All, Some(hour)).await;
        api.send(&alice, group, "@carol muted").await;
        actix_rt::time::sleep(QUIET).await;
        assert_eq!(receiver.received(&carols).await.len(), 1, "muted");
        set_level(&api, &carol, group, NotificationLevel::All, Some(Timestamp::now().millis() - 1)).await;
        let unmuted = api.send(&alice, group, "the mute is over").await;
        assert_eq!(receiver.wait_for(&carols, 2).await[1]["message_id"], unmuted["id"]);

        // At `mentions` in a direct chat, every message still concerns bob.
        let chat = direct(&api, &alice, &bob).await;
        set_level(&api, &bob, chat, NotificationLevel::Mentions, None).await;
        let dm = api.send(&alice, chat, "just us").await;
        assert_eq!(receiver.wait_for(&bobs, 1).await[0]["message_id"], dm["id"]);
    }

    /// A subscription the push service says is gone (`410`) is deleted.
    async fn an_expired_subscription_is_deleted(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_of(&api, &receiver, &bob).await;
        let kept = api.get("/api/v1/push/subscriptions", &bob.token).await;
        assert_eq!(kept.expect(200).as_array().unwrap().len(), 1);
        receiver.expire(&bobs).await;
        let chat = direct(&api, &alice, &bob).await;
        api.send(&alice, chat, "into the void").await;
        crate::common::wait_for("the subscription to go", Duration::from_secs(10), || {
            let api = api.clone();
            let token = bob.token.clone();
            async move {
                let list = api.get("/api/v1/push/subscriptions", &token).await;
                list.expect(200).as_array().unwrap().is_empty().then_some(())
            }
        })
        .await;
        assert_eq!(server.metrics.push_dropped.with_label_values(&["gone"]).get(), 1);
        assert_eq!(server.sql_numbers("SELECT count(*) AS n FROM push_outbox"), vec![0]);
    }

    /// A push service that fails (`500`, then `429` asking to wait a second) is tried again,
    /// with backoff, until it takes the notification: delivered once.
    async fn a_failing_push_service_is_retried(server) configured(configured) {
        let Some(receiver) = PushReceiver::start().await else { return };
        let gate = PushGate::start(&receiver);
        let api = server.api();
        let (alice, bob) = (api.register("alice").await, api.register("bob").await);
        let bobs = device_behind(&api, &receiver, &gate, &bob).await;
        gate.fail_next(&[(500, None), (429, Some("1"))]);
        let chat = direct(&api, &alice, &bob).await;
        let sent = api.send(&alice, chat, "eventually").await;
        let got = receiver.wait_for_within(&bobs, 1, Duration::from_secs(30)).await;
        assert_eq!(got[0]["message_id"], sent["id"]);
        let statuses: Vec<u16> = gate.seen(3).await.iter().map(|s| s.status).collect();
        assert_eq!(statuses, vec![500, 429, 201]);
        actix_rt::time::sleep(QUIET).await;
        assert_eq!(receiver.received(&bobs).await.len(), 1);
        assert_eq!(server.metrics.push_failed.with_label_values(&["unavailable"]).get(), 1);
        assert_eq!(server.metrics.push_failed.with_label_values(&["throttled"]).get(), 1);
    }
}

/// `kill -9` after the send was answered and before its notification went out (the push
/// service unreachable meanwhile): after a restart the notification arrives, once.
async fn a_notification_survives_kill_9(backend: Backend) {
    let Some(database) = TestDatabase::provision(backend) else {
        return;
    };
    let Some(receiver) = PushReceiver::start().await else {
        return;
    };
    let proxy = CuttableProxy::start(([127, 0, 0, 1], receiver.port).into());
    proxy.cut();
    let mut node = ServerProcess::start_with(&database, &process_env()).await;
    let (alice, bob) = (
        node.api.register("alice").await,
        node.api.register("bob").await,
    );
    let device = receiver.subscribe(&vapid_key(&node.api, &bob).await).await;
    let through_proxy = PushDevice {
        endpoint: device.endpoint.replace(
            &format!(":{}/", receiver.port),
            &format!(":{}/", proxy.addr.port()),
        ),
        ..device.clone()
    };
    subscribe(&node.api, &bob, &through_proxy).await;
    let chat = direct(&node.api, &alice, &bob).await;
    let sent = node.api.send(&alice, chat, "survive this").await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    node.kill();
    proxy.restore();
    assert!(receiver.received(&device).await.is_empty());
    let node = ServerProcess::start_with(&database, &process_env()).await;
    let got = receiver
        .wait_for_within(&device, 1, Duration::from_secs(30))
        .await;
    assert_eq!(got[0]["message_id"], sent["id"]);
    actix_rt::time::sleep(QUIET).await;
    assert_eq!(receiver.received(&device).await.len(), 1, "once");
    drop(node);
}

#[actix_rt::test]
async fn a_notification_survives_kill_9_sqlite() {
    a_notification_survives_kill_9(Backend::Sqlite).await;
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn a_notification_survives_kill_9_postgres() {
    a_notification_survives_kill_9(Backend::Postgres).await;
}

/// Two nodes on one PostgreSQL claim from one outbox: every notification goes out once (no
/// device receives a message twice, and each receives the newest), and a session open on
/// one node stops pushes from the other.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn two_nodes_deliver_each_notification_once() {
    let Some(database) = TestDatabase::provision(Backend::Postgres) else {
        return;
    };
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let Some(receiver) = PushReceiver::start().await else {
        return;
    };
    let mut env = process_env();
    env.push(("PARLEY_NATS_URL", nats.url()));
    env.push(("PARLEY_STORAGE_SHARED", "true".to_owned()));
    let nodes =
        futures_util::future::join_all((0..2).map(|_| ServerProcess::start_with(&database, &env)))
            .await;
    let (one, two) = (&nodes[0].api, &nodes[1].api);
    let alice = one.register("alice").await;
    let mut members = Vec::new();
    let mut devices = Vec::new();
    for i in 0..6 {
        let member = one.register(&format!("member{i}")).await;
        devices.push(device_of(if i % 2 == 0 { one } else { two }, &receiver, &member).await);
        members.push(member);
    }
    let group = one.group(&alice, &members.iter().collect::<Vec<_>>()).await;
    let mut last = Value::Null;
    for round in 0..20 {
        let api = if round % 2 == 0 { one } else { two };
        last = api.send(&alice, group, &format!("round {round}")).await;
        actix_rt::time::sleep(Duration::from_millis(40)).await;
    }
    for device in &devices {
        crate::common::wait_for(
            "the newest message on every device",
            Duration::from_secs(15),
            || {
                let (receiver, device, last) = (&receiver, device.clone(), last["id"].clone());
                async move {
                    let got = receiver.received(&device).await;
                    got.iter().any(|p| p["message_id"] == last).then_some(())
                }
            },
        )
        .await;
    }
    actix_rt::time::sleep(QUIET).await;
    for device in &devices {
        let ids: Vec<i64> = receiver
            .received(device)
            .await
            .iter()
            .map(|p| p["message_id"].as_i64().unwrap())
            .collect();
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            ids.len(),
            "a message pushed twice to one device: {ids:?}"
        );
    }

    // A session on node two: node one pushes nothing to that user.
    let bob = &members[0];
    let chat = direct(one, &alice, bob).await;
    let before = receiver.received(&devices[0]).await.len();
    let ws = WsClient::connect_to(&two.base, &bob.token).await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    one.send(&alice, chat, "bob is on node two").await;
    actix_rt::time::sleep(QUIET).await;
    assert_eq!(
        receiver.received(&devices[0]).await.len(),
        before,
        "bob has a session open"
    );
    ws.close().await;
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    let after = one.send(&alice, chat, "bob left").await;
    let got = receiver.wait_for(&devices[0], before + 1).await;
    assert_eq!(got.last().unwrap()["message_id"], after["id"]);
}

/// A send that finds a device's outbox row adds none: the row will carry the chat's newest
/// message. When the row comes due after the pause that follows a notification and finds
/// nothing to send, it goes; a send that found it and has not committed yet must then be
/// waited for and its message owed, or it is never notified. The send in flight is played by
/// another connection that holds the chat's lock and inserts a message (as a send does
/// between its checks and its commit) while the row comes due. PostgreSQL only: SQLite runs
/// one transaction at a time.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn a_send_in_flight_when_a_notification_settles_is_notified() {
    let Some(server) =
        crate::common::TestServer::start_with(Backend::Postgres, Default::default(), configured)
            .await
    else {
        return;
    };
    let Some(receiver) = PushReceiver::start().await else {
        return;
    };
    let api = server.api();
    let (alice, bob) = (api.register("alice").await, api.register("bob").await);
    let bobs = device_of(&api, &receiver, &bob).await;
    let chat = direct(&api, &alice, &bob).await;
    let first = api.send(&alice, chat, "first").await;
    let got = receiver
        .wait_for_within(&bobs, 1, Duration::from_secs(10))
        .await;
    assert_eq!(got[0]["message_id"], first["id"]);
    let first_id = first["id"].as_i64().unwrap();
    let held = server.hold_transaction(&format!(
        "SELECT id FROM chats WHERE id = {chat} FOR NO KEY UPDATE; \
         UPDATE chats SET last_seq = last_seq + 1 WHERE id = {chat}; \
         INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at) \
           SELECT chat_id, seq + 1, author_id, kind, 'in flight', created_at + 1 \
           FROM messages WHERE id = {first_id};"
    ));
    // The row comes due 3 to 4 s after the first notification, finds nothing committed to
    // send, and goes.
    crate::common::wait_for("the row to go", Duration::from_secs(10), || {
        let server = &server;
        async move {
            (server.sql_numbers("SELECT count(*) AS n FROM push_outbox") == vec![0]).then_some(())
        }
    })
    .await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    held.commit();
    let in_flight = server.sql_numbers(&format!(
        "SELECT id AS n FROM messages WHERE chat_id = {chat} AND content = 'in flight'"
    ));
    let got = receiver
        .wait_for_within(&bobs, 2, Duration::from_secs(10))
        .await;
    assert_eq!(got[1]["message_id"], in_flight[0], "{got:?}");
    actix_rt::time::sleep(QUIET).await;
    assert_eq!(receiver.received(&bobs).await.len(), 2);
}
