//! Several Parley processes on one PostgreSQL database, with a NATS server of the test's own
//! between them: every promise of one node holds across nodes (each event once, in seq order,
//! resumable), whatever happens to the broker or to a node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::process::{NatsServer, ServerProcess};
use crate::common::ws::{presence_frame, Next, WsClient};
use crate::common::{Api, Backend, TestDatabase, TestUser};

const ADMIN: &str = "admin-token-for-cluster-tests-0123";
/// Longer than any test here runs: events arrive through NATS or not at all.
const NO_SWEEP: u64 = 60_000;

struct Cluster {
    nats: NatsServer,
    nodes: Vec<ServerProcess>,
    _database: TestDatabase,
}

impl Cluster {
    /// `None` (the test is skipped) without PostgreSQL or `nats-server`. `sweep_ms` apart,
    /// the nodes catch up from the event log; a test of the live path sets it longer than it
    /// runs, so that only NATS can deliver in time.
    async fn start(nodes: usize, sweep_ms: u64) -> Option<Cluster> {
        Self::start_with(nodes, sweep_ms, &[]).await
    }

    /// With more settings for every node.
    async fn start_with(nodes: usize, sweep_ms: u64, more: &[(&str, String)]) -> Option<Cluster> {
        let database = TestDatabase::provision(Backend::Postgres)?;
        let Some(nats) = NatsServer::start() else {
            eprintln!("SKIPPED: nats-server is not installed");
            return None;
        };
        let mut started = Vec::new();
        for _ in 0..nodes {
            let mut env = vec![
                ("PARLEY_NATS_URL", nats.url()),
                // The nodes share one machine, so one directory is shared by them all.
                ("PARLEY_STORAGE_SHARED", "true".to_owned()),
                ("PARLEY_NATS_SWEEP_MS", sweep_ms.to_string()),
                ("PARLEY_ADMIN_TOKEN", ADMIN.to_owned()),
            ];
            env.extend(more.iter().cloned());
            started.push(ServerProcess::start_with(&database, &env).await);
        }
        Some(Cluster {
            nats,
            nodes: started,
            _database: database,
        })
    }

    fn api(&self, node: usize) -> &Api {
        &self.nodes[node].api
    }

    async fn ws(&self, node: usize, user: &TestUser) -> WsClient {
        WsClient::connect_to(&self.api(node).base, &user.token).await
    }
}

fn seq(frame: &Value) -> i64 {
    frame["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

/// The next `count` chat events of one chat, skipping nothing else but ephemeral frames.
async fn events(ws: &mut WsClient, count: usize) -> Vec<Value> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        seen.push(ws.next_event().await);
    }
    seen
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn a_send_through_one_node_reaches_every_session_on_every_node_in_order() {
    let Some(cluster) = Cluster::start(3, NO_SWEEP).await else {
        return;
    };
    let alice = cluster.api(0).register("alice").await;
    let bob = cluster.api(0).register("bob").await;
    let chat_id = cluster.api(0).group(&alice, &[&bob]).await;
    let mut watchers = Vec::new();
    for node in 0..3 {
        watchers.push(cluster.ws(node, &bob).await);
        watchers.push(cluster.ws(node, &alice).await);
    }
    // One send: the session on the sender's node and those on the others get the same frame.
    let message = cluster.api(0).send(&alice, chat_id, "hello, cluster").await;
    let mut frames = Vec::new();
    for ws in &mut watchers {
        frames.push(ws.next_event().await);
    }
    for frame in &frames {
        assert_eq!(frame, &frames[0]);
    }
    assert_eq!(frames[0]["data"], message);
    let base = seq(&frames[0]);

    // Four senders spread over the nodes, into the one chat.
    let per_sender = 25;
    let senders = [(0, &alice), (1, &bob), (2, &alice), (1, &alice)];
    let sending = senders.iter().enumerate().map(|(lane, (node, user))| {
        let api = cluster.api(*node);
        async move {
            for i in 0..per_sender {
                api.send(user, chat_id, &format!("lane {lane} #{i}")).await;
            }
        }
    });
    futures_util::future::join_all(sending).await;
    let total = senders.len() * per_sender;
    let expected: Vec<i64> = (base + 1..=base + total as i64).collect();
    for ws in &mut watchers {
        let seen: Vec<i64> = events(ws, total).await.iter().map(seq).collect();
        assert_eq!(seen, expected, "every event once, in seq order");
        ws.expect_silence(Duration::from_millis(300)).await;
    }
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn chats_created_and_members_added_on_one_node_reach_sessions_on_another() {
    let Some(cluster) = Cluster::start(2, NO_SWEEP).await else {
        return;
    };
    let alice = cluster.api(0).register("alice").await;
    let bob = cluster.api(0).register("bob").await;
    let carol = cluster.api(0).register("carol").await;
    // Connected to node 1 before the chat exists.
    let mut bob_ws = cluster.ws(1, &bob).await;
    let mut carol_ws = cluster.ws(1, &carol).await;
    let chat_id = cluster.api(0).group(&alice, &[&bob]).await;
    let joined = events(&mut bob_ws, 2).await;
    assert!(joined
        .iter()
        .all(|f| f["type"] == "member.joined" && f["chat_id"] == chat_id));
    assert_eq!(joined.iter().map(seq).collect::<Vec<_>>(), [1, 2]);
    let hello = cluster.api(0).send(&alice, chat_id, "hi bob").await;
    assert_eq!(bob_ws.next_event().await["data"], hello);

    // Added while connected (to another node than the one that adds her).
    cluster
        .api(0)
        .post(
            &format!("/api/v1/chats/{chat_id}/members"),
            &alice.token,
            &json!({"user_id": carol.id}),
        )
        .await
        .expect(200);
    let added = carol_ws.next_event().await;
    assert_eq!(added["type"], "member.joined");
    assert_eq!(added["data"]["user_id"], carol.id);
    assert_eq!(bob_ws.next_event().await, added);
    let welcome = cluster.api(0).send(&alice, chat_id, "welcome carol").await;
    assert_eq!(carol_ws.next_event().await["data"], welcome);
    assert_eq!(bob_ws.next_event().await["data"], welcome);
    // Removed on node 0: her session on node 1 sees it, and nothing after.
    cluster
        .api(0)
        .delete(
            &format!("/api/v1/chats/{chat_id}/members/{}", carol.id),
            &alice.token,
        )
        .await
        .expect(204);
    let left = carol_ws.next_event().await;
    assert_eq!(left["type"], "member.left", "{left}");
    assert_eq!(bob_ws.next_event().await, left);
    let without = cluster.api(0).send(&alice, chat_id, "carol has gone").await;
    assert_eq!(bob_ws.next_event().await["data"], without);
    carol_ws.expect_silence(Duration::from_millis(300)).await;
    // Typing goes across too (best effort, and not back to the typist).
    let mut alice_ws = cluster.ws(0, &alice).await;
    let mut bob_typing = cluster.ws(1, &bob).await;
    alice_ws
        .send(&json!({"type": "typing", "chat_id": chat_id}))
        .await;
    let typing = bob_typing.next_json().await;
    assert_eq!(typing["type"], "typing", "{typing}");
    assert_eq!(typing["data"]["user_id"], alice.id);
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn logout_on_one_node_is_final_on_every_node() {
    let Some(cluster) = Cluster::start(2, NO_SWEEP).await else {
        return;
    };
    let alice = cluster.api(0).register("alice").await;
    let mut elsewhere = cluster.ws(1, &alice).await;
    cluster
        .api(1)
        .get("/api/v1/users/me", &alice.token)
        .await
        .expect(200);
    cluster
        .api(0)
        .request(
            awc::http::Method::POST,
            "/api/v1/auth/logout",
            Some(&alice.token),
            &[],
            None,
        )
        .await
        .expect(204);
    cluster
        .api(1)
        .get("/api/v1/users/me", &alice.token)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(elsewhere.closed(Duration::from_secs(5)).await, Some(1008));
}

async fn metric(api: &Api, name: &str) -> f64 {
    let text = api.get("/admin/metrics", ADMIN).await.text;
    text.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == format!("parley_{name}")).then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// With the broker down, every event still reaches every node (through the sweep, within a
/// few sweep periods), nothing fails; with the broker back, the live path resumes with no
/// duplicate.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn a_nats_outage_costs_latency_never_an_event() {
    let Some(mut cluster) = Cluster::start(2, 500).await else {
        return;
    };
    let alice = cluster.api(0).register("alice").await;
    let bob = cluster.api(0).register("bob").await;
    let chat_id = cluster.api(0).group(&alice, &[&bob]).await;
    let mut bob_ws = cluster.ws(1, &bob).await;
    let first = cluster.api(0).send(&alice, chat_id, "before").await;
    assert_eq!(bob_ws.next_event().await["data"], first);

    cluster.nats.stop();
    for _ in 0..50 {
        if metric(cluster.api(1), "nats_connected").await == 0.0 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = cluster.api(1).get("/readyz", "").await;
    assert_eq!(ready.expect(200)["nats"], "disconnected");
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(
            cluster
                .api(0)
                .send(&alice, chat_id, &format!("during {i}"))
                .await,
        );
    }
    // Sweeps every 500 ms: well within ten seconds (the helper waits up to 20 s a frame).
    let started = std::time::Instant::now();
    let seen = events(&mut bob_ws, sent.len()).await;
    let data: Vec<&Value> = seen.iter().map(|f| &f["data"]).collect();
    assert_eq!(data, sent.iter().collect::<Vec<_>>());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    assert!(cluster.nats.resume());
    for _ in 0..100 {
        if metric(cluster.api(0), "nats_connected").await == 1.0
            && metric(cluster.api(1), "nats_connected").await == 1.0
        {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metric(cluster.api(1), "nats_reconnects_total").await >= 1.0);
    let after = cluster.api(0).send(&alice, chat_id, "after").await;
    assert_eq!(bob_ws.next_event().await["data"], after);
    bob_ws.expect_silence(Duration::from_millis(1500)).await;
}

/// A node killed mid-traffic (`kill -9`, sends in flight): its clients move to another node,
/// resume, and miss nothing; the sends it never answered, retried there with their keys, are
/// stored once.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn a_killed_node_costs_its_clients_nothing() {
    let Some(cluster) = Cluster::start(2, 500).await else {
        return;
    };
    let alice = cluster.api(0).register("alice").await;
    let bob = cluster.api(0).register("bob").await;
    let chat_id = cluster.api(0).group(&alice, &[&bob]).await;
    let mut bob_ws = cluster.ws(0, &bob).await;
    let node_0 = cluster.nodes[0].child.id();
    let (lanes, per_lane) = (4, 15);
    let answered: Mutex<HashMap<String, Value>> = Mutex::default();
    let bob_done = AtomicBool::new(false);
    let mut last_seen = 0;
    let send = |key: String| {
        let body = json!({"chat_id": chat_id, "type": "text", "content": key.clone()});
        let (answered, alice) = (&answered, &alice);
        let cluster = &cluster;
        async move {
            // Through node 0 while it answers, then the same request, same key, on node 1.
            for node in [0, 1] {
                let answer = cluster
                    .api(node)
                    .try_request(
                        awc::http::Method::POST,
                        "/api/v1/messages",
                        Some(&alice.token),
                        &[("Idempotency-Key", &key)],
                        Some(("application/json", body.to_string().into_bytes())),
                    )
                    .await;
                if let Some(answer) = answer.filter(|a| a.status == 200) {
                    answered.lock().unwrap().insert(key, answer.json);
                    return;
                }
            }
            panic!("send {key} failed on both nodes");
        }
    };
    let traffic = futures_util::future::join_all((0..lanes).map(|lane| {
        let send = &send;
        async move {
            for i in 0..per_lane {
                send(format!("lane{lane}-{i}")).await;
            }
        }
    }));
    let watcher = async {
        // Bob sees part of it live through node 0...
        for frame in events(&mut bob_ws, 10).await {
            last_seen = seq(&frame);
        }
        bob_done.store(true, Ordering::SeqCst);
    };
    let killer = async {
        // ...then node 0 dies with sends in flight.
        while !bob_done.load(Ordering::SeqCst) || answered.lock().unwrap().len() < 20 {
            actix_rt::time::sleep(Duration::from_millis(2)).await;
        }
        let killed = std::process::Command::new("kill")
            .args(["-9", &node_0.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
    };
    tokio::join!(traffic, watcher, killer);
    drop(bob_ws);
    let answered = answered.into_inner().unwrap();
    assert_eq!(answered.len(), lanes * per_lane);

    let mut bob_ws = cluster.ws(1, &bob).await;
    bob_ws
        .send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": last_seen}))
        .await;
    let mut replayed = Vec::new();
    loop {
        match bob_ws.next_within(Duration::from_secs(10)).await {
            Next::Json(frame) if frame["type"] == "resumed" => break,
            Next::Json(frame) if frame["type"] == "message.created" => replayed.push(frame),
            other => panic!("unexpected {other:?}"),
        }
    }
    let last = answered.values().map(seq).max().unwrap();
    let seqs: Vec<i64> = replayed.iter().map(seq).collect();
    assert_eq!(
        seqs,
        (last_seen + 1..=last).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    // Each key's message once, and nothing else: the chat's messages are exactly the answers.
    let chat = cluster
        .api(1)
        .get(&format!("/api/v1/chats/{chat_id}"), &bob.token)
        .await;
    assert_eq!(chat.expect(200)["last_seq"], last);
    let page = cluster
        .api(1)
        .get(
            &format!("/api/v1/chats/{chat_id}/messages?limit=200"),
            &bob.token,
        )
        .await;
    let mut contents: Vec<String> = page.expect(200)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    contents.sort();
    let mut keys: Vec<String> = answered.keys().cloned().collect();
    keys.sort();
    assert_eq!(contents, keys);
}

/// Nodes started at the same moment on a fresh database take turns with the migrations (an
/// advisory lock) instead of failing on each other's half-made schema.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn nodes_started_together_on_a_fresh_database_all_come_up() {
    let Some(database) = TestDatabase::provision(Backend::Postgres) else {
        return;
    };
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let env = [
        ("PARLEY_NATS_URL", nats.url()),
        ("PARLEY_STORAGE_SHARED", "true".to_owned()),
    ];
    let nodes =
        futures_util::future::join_all((0..3).map(|_| ServerProcess::start_with(&database, &env)))
            .await;
    let alice = nodes[0].api.register("alice").await;
    for node in &nodes {
        let ready = node.api.get("/readyz", "").await;
        assert_eq!(ready.expect(200)["status"], "ready");
        node.api
            .get("/api/v1/users/me", &alice.token)
            .await
            .expect(200);
    }
}

/// A user is online while a session is open on any node: each node tells its own sessions,
/// once; a user moving from one node to another is no flap; the last session closing anywhere
/// is an offline on every node, after the grace period.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn presence_spans_the_nodes() {
    let grace = Duration::from_millis(700);
    let settings = [("PARLEY_PRESENCE_GRACE_MS", grace.as_millis().to_string())];
    let Some(cluster) = Cluster::start_with(2, NO_SWEEP, &settings).await else {
        return;
    };
    let api = cluster.api(0);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let carol = api.register("carol").await;
    let chat_id = api.group(&alice, &[&bob, &carol]).await;
    // Members show their presence in a chat once they have written in it.
    api.send(&bob, chat_id, "hi").await;
    api.send(&carol, chat_id, "hi").await;
    let mut alice_ws = cluster.ws(0, &alice).await;
    let mut carol_ws = cluster.ws(1, &carol).await;
    hears(&mut alice_ws, &carol, "online").await;

    let bob_on_1 = cluster.ws(1, &bob).await;
    hears(&mut alice_ws, &bob, "online").await;
    hears(&mut carol_ws, &bob, "online").await;
    for node in 0..2 {
        let seen = cluster
            .api(node)
            .get(&format!("/api/v1/users/{}", bob.id), &alice.token)
            .await;
        assert_eq!(seen.expect(200)["online"], true, "node {node}");
    }

    // Bob moves to node 0: no node says he went offline.
    let bob_on_0 = cluster.ws(0, &bob).await;
    bob_on_1.close().await;
    assert_eq!(alice_ws.next_presence_of(bob.id, grace * 3).await, None);
    assert_eq!(
        carol_ws
            .next_presence_of(bob.id, Duration::from_millis(10))
            .await,
        None
    );
    let seen = cluster
        .api(1)
        .get(&format!("/api/v1/users/{}", bob.id), &carol.token)
        .await;
    assert_eq!(seen.expect(200)["online"], true);

    bob_on_0.close().await;
    hears(&mut alice_ws, &bob, "offline").await;
    hears(&mut carol_ws, &bob, "offline").await;
    assert_eq!(
        alice_ws.next_presence_of(bob.id, grace * 2).await,
        None,
        "once"
    );
}

/// The next presence frame about `user` says `status`.
async fn hears(ws: &mut WsClient, user: &TestUser, status: &str) {
    let frame = ws.next_presence_of(user.id, Duration::from_secs(10)).await;
    assert_eq!(frame, Some(presence_frame(user.id, status)));
}

/// With several nodes the files live in S3-compatible storage that every node reads: an
/// upload through one node is sent, read, thumbnailed and deleted through the others.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn attachments_uploaded_on_one_node_are_read_on_another() {
    use crate::attachments::{png, upload};
    let Some(s3) = crate::common::process::S3Server::start() else {
        eprintln!("SKIPPED: s3s-fs is not installed");
        return;
    };
    let mut env: Vec<(&str, String)> = s3.env();
    env.push(("PARLEY_STORAGE_URL", format!("s3://{}/cluster", s3.bucket)));
    // A store every node reads: no shared directory is declared.
    env.push(("PARLEY_STORAGE_SHARED", "false".to_owned()));
    let Some(cluster) = Cluster::start_with(2, NO_SWEEP, &env).await else {
        return;
    };
    let alice = cluster.api(0).register("alice").await;
    let bob = cluster.api(0).register("bob").await;
    let chat_id = cluster.api(0).group(&alice, &[&bob]).await;
    let mut bob_ws = cluster.ws(1, &bob).await;
    let image = png(500, 250);
    let up = upload(
        cluster.api(0),
        &alice,
        "wide.png",
        "image/png",
        image.clone(),
        None,
    )
    .await;
    let attachment = up.expect(201).clone();
    let sent = cluster
        .api(0)
        .post(
            "/api/v1/messages",
            &alice.token,
            &json!({"chat_id": chat_id, "content": "from node 0", "attachment_ids": [attachment["id"]]}),
        )
        .await;
    let message = sent.expect(200).clone();
    // (The chat's member.joined events may reach this node's session first, over the bus.)
    let event = loop {
        let event = bob_ws.next_event().await;
        if event["type"] == "message.created" {
            break event;
        }
    };
    assert_eq!(event["data"]["attachments"], json!([attachment]));
    let content = format!("/api/v1/attachments/{}/content", attachment["id"]);
    let read = cluster
        .api(1)
        .client()
        .with_token(&bob.token)
        .raw(actix_web::http::Method::GET, &content, &[], None)
        .await
        .unwrap();
    assert_eq!(read.status, 200);
    assert!(read.body == image, "node 1 serves the bytes node 0 stored");
    let thumbnail = format!("/api/v1/attachments/{}/thumbnail", attachment["id"]);
    let made = cluster
        .api(1)
        .client()
        .with_token(&bob.token)
        .raw(actix_web::http::Method::GET, &thumbnail, &[], None)
        .await
        .unwrap();
    assert_eq!(made.status, 200);
    let served = cluster
        .api(0)
        .client()
        .with_token(&alice.token)
        .raw(actix_web::http::Method::GET, &thumbnail, &[], None)
        .await
        .unwrap();
    assert!(
        served.body == made.body,
        "node 0 serves the thumbnail node 1 made"
    );
    cluster
        .api(1)
        .delete(&format!("/api/v1/messages/{}", message["id"]), &alice.token)
        .await
        .expect(200);
    cluster
        .api(0)
        .get(&content, &bob.token)
        .await
        .expect_error(404, "not_found");
}
