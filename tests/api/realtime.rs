use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::counting_statements;
use crate::common::ws::WsClient;
use crate::common::{Backend, TestServer, TestUser};
use crate::on_both_backends;

fn seq(frame: &Value) -> i64 {
    frame["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

on_both_backends! {
    /// The seed flow: the HTTP answer and every session's `message.created` carry the same
    /// complete aggregate.
    async fn send_reaches_every_session_of_every_member(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let mut alice_phone = WsClient::connect(&server, &alice.token).await;
        let mut alice_laptop = WsClient::connect_with_query(&server, &alice.token).await;
        let sent = api.post_with_key("/api/v1/messages", &alice.token, "seed",
            &json!({"chat_id": chat_id, "type": "text", "content": "Test message", "client_id": "c-123"})).await;
        let message = sent.expect(200).clone();
        assert_eq!(message["reactions"], json!([]));
        for ws in [&mut bob_ws, &mut alice_phone, &mut alice_laptop] {
            let frame = ws.next_event().await;
            assert_eq!(frame, json!({"type": "message.created", "chat_id": chat_id, "seq": message["seq"], "data": message}));
        }
        // A replayed request sends nothing again.
        api.post_with_key("/api/v1/messages", &alice.token, "seed",
            &json!({"chat_id": chat_id, "type": "text", "content": "Test message", "client_id": "c-123"})).await.expect(200);
        bob_ws.expect_silence(Duration::from_millis(300)).await;
    }

    async fn every_event_type_arrives_where_it_should(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let outsider = api.register("outsider").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mut a = WsClient::connect(&server, &alice.token).await;
        let mut b = WsClient::connect(&server, &bob.token).await;
        let mut o = WsClient::connect(&server, &outsider.token).await;

        let message = api.send(&alice, chat_id, "hello").await;
        let id = message["id"].clone();
        for ws in [&mut a, &mut b] {
            assert_eq!(ws.next_event().await["type"], "message.created");
        }
        let edited = api.patch(&format!("/api/v1/messages/{id}"), &alice.token, &json!({"content": "hello!"})).await;
        let edited = edited.expect(200).clone();
        for ws in [&mut a, &mut b] {
            let frame = ws.next_event().await;
            assert_eq!(frame["type"], "message.updated");
            assert_eq!(frame["data"], edited);
            assert_eq!(seq(&frame), message["seq"].as_i64().unwrap() + 1);
        }
        let reacted = api.post(&format!("/api/v1/messages/{id}/reactions"), &bob.token, &json!({"emoji": "👍"})).await;
        let reacted = reacted.expect(200).clone();
        for ws in [&mut a, &mut b] {
            let frame = ws.next_event().await;
            assert_eq!(frame["type"], "reaction.added");
            assert_eq!(frame["data"]["message"], reacted);
            assert_eq!(frame["data"]["reaction"]["emoji"], "👍");
            assert_eq!(frame["data"]["reaction"]["user_id"], bob.id);
        }
        let unreacted = api.delete(&format!("/api/v1/messages/{id}/reactions/%F0%9F%91%8D"), &bob.token).await;
        let unreacted = unreacted.expect(200).clone();
        for ws in [&mut a, &mut b] {
            let frame = ws.next_event().await;
            assert_eq!(frame["type"], "reaction.removed");
            assert_eq!(frame["data"]["message"], unreacted);
            assert_eq!(frame["data"]["reaction"], reacted["reactions"][0]);
        }
        // Typing goes to the others, not back to the typist.
        a.send(&json!({"type": "typing", "chat_id": chat_id})).await;
        let typing = b.next_json().await;
        assert_eq!(typing, json!({"type": "typing", "chat_id": chat_id, "data": {"chat_id": chat_id, "user_id": alice.id}}));
        // Read markers are ephemeral events for everyone.
        api.post(&format!("/api/v1/chats/{chat_id}/read"), &bob.token, &json!({"seq": message["seq"]})).await.expect(204);
        for ws in [&mut b, &mut a] {
            let read = ws.next_json().await;
            assert_eq!(read, json!({"type": "read", "chat_id": chat_id, "data": {"chat_id": chat_id, "user_id": bob.id, "seq": message["seq"]}}));
        }
        let deleted = api.delete(&format!("/api/v1/messages/{id}"), &alice.token).await.expect(200).clone();
        for ws in [&mut a, &mut b] {
            let frame = ws.next_event().await;
            assert_eq!(frame["type"], "message.deleted");
            assert_eq!(frame["data"], deleted);
        }
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": carol.id})).await.expect(200);
        for ws in [&mut a, &mut b] {
            let frame = ws.next_event().await;
            assert_eq!(frame["type"], "member.joined");
            assert_eq!(frame["data"], json!({"chat_id": chat_id, "user_id": carol.id, "role": "member"}));
        }
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &bob.token).await.expect(204);
        for ws in [&mut a, &mut b] {
            let frame = ws.next_event().await;
            assert_eq!(frame["type"], "member.left");
            assert_eq!(frame["data"], json!({"chat_id": chat_id, "user_id": bob.id, "role": "member"}));
        }
        // The outsider saw none of it; alice's typing was not echoed to her.
        o.expect_silence(Duration::from_millis(200)).await;
        a.expect_silence(Duration::from_millis(100)).await;
    }

    async fn concurrent_senders_are_seen_in_order_by_every_session(server) {
        let api = server.api();
        let mut senders = Vec::new();
        for i in 0..4 {
            senders.push(api.register(&format!("sender{i}")).await);
        }
        let others: Vec<&crate::common::TestUser> = senders[1..].iter().collect();
        let chat_id = api.group(&senders[0], &others).await;
        let mut watchers = Vec::new();
        for sender in &senders[..3] {
            watchers.push(WsClient::connect(&server, &sender.token).await);
        }
        let api_ref = &api;
        let sends = senders.iter().map(|sender| async move {
            for i in 0..50 {
                api_ref.send(sender, chat_id, &format!("{} #{i}", sender.username)).await;
            }
        });
        futures_util::future::join_all(sends).await;
        // Seqs 1-4 were the members joining, before the sessions connected.
        let expected: Vec<i64> = (5..=204).collect();
        for ws in &mut watchers {
            let mut seen = Vec::new();
            while seen.len() < expected.len() {
                let frame = ws.next_event().await;
                assert_eq!(frame["type"], "message.created");
                seen.push(seq(&frame));
            }
            assert_eq!(seen, expected);
            ws.expect_silence(Duration::from_millis(100)).await;
        }
    }

    /// Sends committed together reach each session as one run of frames; a membership change
    /// among them still splits who sees what exactly at its seq.
    async fn membership_changes_amid_a_burst_split_the_stream_at_their_seq(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&carol]).await;
        let mut a = WsClient::connect(&server, &alice.token).await;
        let mut b = WsClient::connect(&server, &bob.token).await;
        let mut c = WsClient::connect(&server, &carol.token).await;
        let api_ref = &api;
        let alice_ref = &alice;
        let sends = (0..8).map(|lane| async move {
            for i in 0..25 {
                api_ref.send(alice_ref, chat_id, &format!("{lane}/{i}")).await;
            }
        });
        let changes = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            api_ref.post(&format!("/api/v1/chats/{chat_id}/members"), &alice_ref.token, &json!({"user_id": bob.id})).await.expect(200);
            api_ref.delete(&format!("/api/v1/chats/{chat_id}/members/{}", carol.id), &alice_ref.token).await.expect(204);
        };
        tokio::join!(futures_util::future::join_all(sends), changes);
        // Seqs 1-2: the chat's two members joining, before the sessions connected.
        let last = 2 + 200 + 2;
        let mut all = Vec::new();
        while all.len() < (last - 2) as usize {
            all.push(a.next_event().await);
        }
        assert_eq!(all.iter().map(seq).collect::<Vec<i64>>(), (3..=last).collect::<Vec<i64>>());
        let at = |kind: &str| all.iter().find(|f| f["type"] == kind).map(seq).expect(kind);
        let (joined, left) = (at("member.joined"), at("member.left"));
        // Bob: his join and everything after it; carol: everything up to her leaving.
        let mut bobs = Vec::new();
        while bobs.len() < (last - joined + 1) as usize {
            bobs.push(seq(&b.next_event().await));
        }
        assert_eq!(bobs, (joined..=last).collect::<Vec<i64>>());
        let mut carols = Vec::new();
        while carols.len() < (left - 2) as usize {
            carols.push(seq(&c.next_event().await));
        }
        assert_eq!(carols, (3..=left).collect::<Vec<i64>>());
        for ws in [&mut a, &mut b, &mut c] {
            ws.expect_silence(Duration::from_millis(100)).await;
        }
    }

    async fn resume_replays_what_was_missed_then_goes_live(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let first = api.send(&alice, chat_id, "seen live").await;
        let seen = seq(&json!({"seq": first["seq"]}));
        // Bob is away while 20 events happen: messages, an edit, a reaction and a delete.
        let mut ids = Vec::new();
        for i in 0..17 {
            ids.push(api.send(&alice, chat_id, &format!("missed {i}")).await["id"].clone());
        }
        api.patch(&format!("/api/v1/messages/{}", ids[0]), &alice.token, &json!({"content": "edited"})).await.expect(200);
        api.post(&format!("/api/v1/messages/{}/reactions", ids[1]), &alice.token, &json!({"emoji": "🔥"})).await.expect(200);
        api.delete(&format!("/api/v1/messages/{}", ids[2]), &alice.token).await.expect(200);

        let mut ws = WsClient::connect(&server, &bob.token).await;
        ws.send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": seen})).await;
        // Messages keep coming while the replay runs.
        let api_ref = &api;
        let alice_ref = &alice;
        let live_sends = async move {
            let mut sent = Vec::new();
            for i in 0..10 {
                sent.push(seq(&json!({"seq": api_ref.send(alice_ref, chat_id, &format!("live {i}")).await["seq"]})));
            }
            sent
        };
        let read_all = async {
            let mut frames = Vec::new();
            loop {
                let frame = ws.next_event().await;
                let done = frame["type"] == "message.created" && frame["data"]["content"] == "live 9";
                frames.push(frame);
                if done {
                    return frames;
                }
            }
        };
        let (live, frames) = tokio::join!(live_sends, read_all);
        let resumed_at = frames.iter().position(|f| f["type"] == "resumed").expect("a resumed frame");
        let resumed = &frames[resumed_at];
        assert_eq!(resumed["data"]["from_seq"], seen + 1);
        let replayed: Vec<i64> = frames[..resumed_at].iter().map(seq).collect();
        assert_eq!(resumed["data"]["to_seq"], *replayed.last().unwrap());
        // The 20 missed events, maybe some of the live ones, then the rest live: each seq
        // once, in order, no gap.
        let mut all: Vec<i64> = replayed.clone();
        all.extend(frames[resumed_at + 1..].iter().map(seq));
        let last = *live.last().unwrap();
        assert_eq!(all, ((seen + 1)..=last).collect::<Vec<i64>>());
        assert!(replayed.len() >= 20);
        let kinds: Vec<&str> = frames[..20].iter().map(|f| f["type"].as_str().unwrap()).collect();
        assert_eq!(&kinds[17..], ["message.updated", "reaction.added", "message.deleted"]);
        // Replay carries the current state of each message.
        assert_eq!(frames[0]["data"]["content"], "edited");
        assert_eq!(frames[2]["data"]["deleted"], true);

        // Nothing missed: `resumed` with to_seq = after_seq.
        ws.send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": last})).await;
        let nothing = ws.next_event().await;
        assert_eq!(nothing, json!({"type": "resumed", "chat_id": chat_id, "data": {"chat_id": chat_id, "from_seq": last + 1, "to_seq": last}}));
    }

    /// An event committed without reaching the room (as when its publisher dies) is read from
    /// the log when a later one arrives, and both go out in order.
    async fn a_missing_event_is_read_from_the_log(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let mut ws = WsClient::connect(&server, &alice.token).await;
        let first = api.send(&alice, chat_id, "first").await;
        assert_eq!(ws.next_event().await["data"], first);
        let sneaked = seq(&json!({"seq": first["seq"]})) + 1;
        server.execute_sql(&format!(
            "UPDATE chats SET last_seq = last_seq + 1 WHERE id = {chat_id}; \
             INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted) \
               VALUES ({chat_id}, {sneaked}, {}, 'text', 'committed behind the room', 0, false); \
             INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at) \
               SELECT {chat_id}, {sneaked}, 'message.created', id, 0 FROM messages \
               WHERE chat_id = {chat_id} AND seq = {sneaked};",
            alice.id
        ));
        let third = api.send(&alice, chat_id, "third").await;
        let gap = ws.next_event().await;
        assert_eq!(seq(&gap), sneaked);
        assert_eq!(gap["data"]["content"], "committed behind the room");
        let after = ws.next_event().await;
        assert_eq!(after["data"], third);
    }

    async fn large_gaps_replay_in_batches(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        for i in 0..300 {
            api.send(&alice, chat_id, &format!("m{i}")).await;
        }
        let mut ws = WsClient::connect(&server, &alice.token).await;
        ws.send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": 0})).await;
        let mut seqs = Vec::new();
        loop {
            let frame = ws.next_event().await;
            if frame["type"] == "resumed" {
                assert_eq!(frame["data"]["to_seq"], 301);
                break;
            }
            seqs.push(seq(&frame));
        }
        assert_eq!(seqs, (1..=301).collect::<Vec<i64>>());
    }

    async fn sessions_follow_membership(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[]).await;
        let mut b = WsClient::connect(&server, &bob.token).await;
        api.send(&alice, chat_id, "before bob").await;
        b.expect_silence(Duration::from_millis(200)).await;
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": bob.id})).await.expect(200);
        let joined = b.next_event().await;
        assert_eq!(joined["type"], "member.joined");
        assert_eq!(joined["data"]["user_id"], bob.id);
        let hello = api.send(&alice, chat_id, "welcome").await;
        let frame = b.next_event().await;
        assert_eq!(frame["data"], hello);
        // Bob can type now; after leaving he gets nothing and cannot.
        b.send(&json!({"type": "typing", "chat_id": chat_id})).await;
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &alice.token).await.expect(204);
        let left = b.next_event().await;
        assert_eq!(left["type"], "member.left");
        api.send(&alice, chat_id, "after bob").await;
        b.expect_silence(Duration::from_millis(300)).await;
        b.send(&json!({"type": "typing", "chat_id": chat_id})).await;
        let refused = b.next_json().await;
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["data"]["code"], "not_a_member");
    }

    async fn client_frames_are_checked_and_the_session_stays(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let other = api.group(&api.register("bob").await, &[]).await;
        let mut ws = WsClient::connect(&server, &alice.token).await;
        for (text, code) in [
            ("not json", "malformed_json"),
            ("{\"chat_id\": 1}", "malformed_json"),
            ("{\"type\": \"typing\"}", "malformed_json"),
            ("{\"type\": \"dance\"}", "unknown_type"),
            ("{\"type\": \"resume\", \"chat_id\": 1, \"after_seq\": \"x\"}", "malformed_json"),
        ] {
            ws.send_text(text).await;
            let frame = ws.next_json().await;
            assert_eq!(frame["type"], "error", "{text}");
            assert_eq!(frame["data"]["code"], code, "{text}");
            assert!(frame["data"]["detail"].is_string());
        }
        for frame in [
            json!({"type": "typing", "chat_id": other}),
            json!({"type": "resume", "chat_id": other, "after_seq": 0}),
            json!({"type": "typing", "chat_id": 987654}),
            json!({"type": "resume", "chat_id": -3, "after_seq": 0}),
        ] {
            ws.send(&frame).await;
            let answer = ws.next_json().await;
            assert_eq!(answer["data"]["code"], "not_a_member", "{frame}");
        }
        ws.send_binary(vec![1, 2, 3]).await;
        assert_eq!(ws.next_json().await["data"]["code"], "malformed_json");
        ws.send(&json!({"type": "ping"})).await;
        assert_eq!(ws.next_json().await, json!({"type": "pong", "data": {}}));
        let message = api.send(&alice, chat_id, "still here").await;
        assert_eq!(ws.next_event().await["data"], message);
        // A frame over 64 KiB closes the session with 1009.
        ws.send_text(&"x".repeat(70 * 1024)).await;
        assert_eq!(ws.closed(Duration::from_secs(10)).await, Some(1009));
    }

    async fn bad_tokens_are_refused_before_the_upgrade(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        assert_eq!(WsClient::refused_status(&server, None).await, 401);
        assert_eq!(WsClient::refused_status(&server, Some("forged")).await, 401);
        assert_eq!(WsClient::refused_status(&server, Some(&alice.token)).await, 101);
    }

    async fn logout_closes_that_tokens_sockets(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let login = api.send_json(awc::http::Method::POST, "/api/v1/auth/login", None,
            &json!({"username": "alice", "password": "correct horse"})).await;
        let other_token = login.expect(200)["access_token"].as_str().unwrap().to_owned();
        let mut doomed = WsClient::connect(&server, &alice.token).await;
        let mut kept = WsClient::connect(&server, &other_token).await;
        api.request(awc::http::Method::POST, "/api/v1/auth/logout", Some(&alice.token), &[], None).await.expect(204);
        assert_eq!(doomed.closed(Duration::from_secs(10)).await, Some(1008));
        kept.send(&json!({"type": "ping"})).await;
        assert_eq!(kept.next_json().await["type"], "pong");
        assert_eq!(WsClient::refused_status(&server, Some(&alice.token)).await, 401);
    }
}

#[actix_rt::test]
async fn silent_sessions_are_closed() {
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |config| {
        config.ws.ping_every = Duration::from_millis(100);
        config.ws.silence_limit = Duration::from_millis(600);
    })
    .await
    .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let mut ws = WsClient::connect(&server, &alice.token).await;
    // Pings are not answered (the client skips them), so the session falls silent.
    assert_eq!(ws.closed(Duration::from_secs(10)).await, Some(1000));
    assert!(
        ws.pings >= 2,
        "the server pings every 100 ms here; saw {}",
        ws.pings
    );
}

#[actix_rt::test]
async fn a_client_that_never_reads_is_closed_and_others_get_everything() {
    // The stalled client's window stays shut for the whole run, which on a busy machine can
    // outlast the default dead-peer limit; that limit has its own test (dead_peers.rs).
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |config| {
        config.dead_peer_timeout = Duration::from_secs(600);
    })
    .await
    .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[&bob]).await;
    let mut stalled = WsClient::connect(&server, &bob.token).await;
    let mut reader = WsClient::connect(&server, &alice.token).await;
    let big = "x".repeat(4000);
    let total = 10_000usize;
    let api_ref = &api;
    let big_ref = &big;
    let alice_ref = &alice;
    let send_all = async move {
        // 16 senders in parallel, each request awaited: the load is bounded by count.
        let lanes = (0..16).map(|lane| async move {
            for i in (lane..total).step_by(16) {
                let _ = i;
                api_ref.send(alice_ref, chat_id, big_ref).await;
            }
        });
        futures_util::future::join_all(lanes).await;
    };
    let read_all = async {
        let mut seqs = Vec::with_capacity(total);
        while seqs.len() < total {
            let frame = reader.next_event().await;
            seqs.push(seq(&frame));
        }
        seqs
    };
    let ((), seqs) = tokio::join!(send_all, read_all);
    assert_eq!(seqs, (3..3 + total as i64).collect::<Vec<i64>>());
    // The stalled client now reads what was buffered for it, then the 1013 close.
    let mut buffered = 0usize;
    let code = loop {
        match stalled.next_within(Duration::from_secs(20)).await {
            crate::common::ws::Next::Json(_) => buffered += 1,
            crate::common::ws::Next::Closed(code) => break code,
            crate::common::ws::Next::Silent => panic!("no close after {buffered} frames"),
        }
    };
    assert_eq!(code, Some(1013));
    assert!(
        buffered < total,
        "the server stopped queueing for it: {buffered} frames"
    );
    assert_eq!(server.metric("ws_slow_consumer_closes_total"), 1.0);
}

#[actix_rt::test]
async fn idle_rooms_stop_and_restart_at_the_right_seq() {
    let rooms = parley::config::RoomSettings {
        idle_after: Duration::from_millis(200),
        ..Default::default()
    };
    let server = TestServer::start_with(Backend::Sqlite, rooms, |_| {})
        .await
        .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let chat_id = api.group(&alice, &[]).await;
    let first = api.send(&alice, chat_id, "one").await;
    assert!(server.metric("chat_rooms") >= 1.0);
    // Wait until the room has been idle long enough to stop.
    let mut waited = 0;
    while server.metric("chat_rooms") > 0.0 {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 100, "the idle room did not stop");
    }
    let mut ws = WsClient::connect(&server, &alice.token).await;
    let second = api.send(&alice, chat_id, "two").await;
    assert_eq!(
        second["seq"].as_i64().unwrap(),
        first["seq"].as_i64().unwrap() + 1
    );
    let frame = ws.next_event().await;
    assert_eq!(frame["seq"], second["seq"]);
}

#[actix_rt::test]
async fn frames_past_the_rate_get_an_error_then_a_close() {
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |config| {
        config.ws.frame_rate = 1;
        config.ws.frame_burst = 5;
        config.ws.frame_flood = 3;
    })
    .await
    .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    // `connect` itself sends one ping: four more fit the burst of five.
    let mut ws = WsClient::connect(&server, &alice.token).await;
    for _ in 0..4 {
        ws.send(&json!({"type": "ping"})).await;
        assert_eq!(ws.next_json().await["type"], "pong");
    }
    ws.send(&json!({"type": "ping"})).await;
    let refused = ws.next_json().await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["data"]["code"], "rate_limited");
    // Refused frames after the first get no answer; a client that keeps on is closed.
    for _ in 0..4 {
        ws.send(&json!({"type": "ping"})).await;
    }
    assert_eq!(ws.closed(Duration::from_secs(10)).await, Some(1008));
}

on_both_backends! {
    /// A session knows its chats: a frame about any other chat is refused without a query and
    /// without starting a room, whatever the id.
    async fn frames_for_other_chats_cost_no_query(server) configured (counting_statements) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let mine = api.group(&alice, &[]).await;
        let bobs = api.group(&bob, &[]).await;
        let mut ws = WsClient::connect(&server, &alice.token).await;
        ws.send(&json!({"type": "typing", "chat_id": mine})).await;
        ws.expect_silence(Duration::from_millis(100)).await;
        let (queries, rooms) = (server.queries(), server.metric("chat_rooms"));
        for chat_id in [bobs, 424_242, 9_000_000_000_i64, bobs + 1000] {
            for frame in [
                json!({"type": "typing", "chat_id": chat_id}),
                json!({"type": "resume", "chat_id": chat_id, "after_seq": 0}),
            ] {
                ws.send(&frame).await;
                let answer = ws.next_json().await;
                assert_eq!(answer["data"]["code"], "not_a_member", "{frame}");
            }
        }
        assert_eq!(server.queries(), queries, "a refused frame cost a query");
        assert_eq!(server.metric("chat_rooms"), rooms, "a refused frame started a room");
    }
}

/// A chat of alice and bob on a server whose rooms broadcast at most once per `interval`, with
/// bob's session open, once the interval since the chat's creation was broadcast has passed
/// (the room is quiet).
async fn quiet_paced_chat(interval: Duration) -> (TestServer, TestUser, i64, WsClient) {
    let rooms = parley::config::RoomSettings {
        fanout_interval: interval,
        ..Default::default()
    };
    let server = TestServer::start_with(Backend::Sqlite, rooms, |_| {})
        .await
        .unwrap();
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[&bob]).await;
    let ws = WsClient::connect(&server, &bob.token).await;
    actix_rt::time::sleep(interval + Duration::from_millis(200)).await;
    (server, alice, chat_id, ws)
}

/// A room broadcasts at most once per fan-out interval: an event after a quiet spell goes out
/// at once, and the events committed within the interval after it wait, then go out together,
/// in order.
#[actix_rt::test]
async fn a_busy_room_paces_its_broadcasts() {
    let interval = Duration::from_secs(2);
    let (server, alice, chat_id, mut ws) = quiet_paced_chat(interval).await;
    let api = server.api();

    let sent = Instant::now();
    let lone = api.send(&alice, chat_id, "lone").await;
    let frame = ws.next_event().await;
    let first_out = Instant::now();
    assert_eq!(frame["seq"], lone["seq"]);
    assert!(
        first_out - sent < interval / 2,
        "a lone event waits for nothing ({:?})",
        first_out - sent
    );

    let mut seqs = Vec::new();
    for n in 0..5 {
        seqs.push(api.send(&alice, chat_id, &format!("busy {n}")).await["seq"].clone());
    }
    let mut received = Vec::new();
    for _ in 0..5 {
        received.push(ws.next_event().await["seq"].clone());
        if received.len() == 1 {
            let waited = first_out.elapsed();
            assert!(
                waited >= interval / 2,
                "events right after a broadcast wait for the interval ({waited:?})"
            );
        }
    }
    assert_eq!(received, seqs, "every event, once, in order");
}

/// A session is owed the events committed after its `ready`, not those committed before and
/// still waiting for their broadcast: a client that read the history and then connected gets
/// no event twice.
#[actix_rt::test]
async fn a_session_is_not_sent_what_was_committed_before_it_was_ready() {
    let (server, alice, chat_id, mut early) = quiet_paced_chat(Duration::from_secs(2)).await;
    let api = server.api();

    let a = api.send(&alice, chat_id, "a").await;
    // Committed right after a broadcast: it waits for the interval.
    let b = api.send(&alice, chat_id, "b").await;
    let mut late = WsClient::connect(&server, &alice.token).await;
    let c = api.send(&alice, chat_id, "c").await;

    for expected in [&a, &b, &c] {
        assert_eq!(early.next_event().await["data"], *expected);
    }
    let first = late.next_event().await;
    assert_eq!(
        first["data"], c,
        "b was committed before the late session was ready"
    );
}

/// `parley-client` reads every kind of frame the server sends as its typed `ServerFrame`, and
/// its typed calls answer with the server's own values: a bot written on it sees what a
/// browser sees.
#[actix_rt::test]
async fn the_typed_client_reads_every_frame_the_server_sends() {
    use parley::domain::{ChatId, Seq};
    use parley_types::frames::{ClientFrame, ServerFrame};
    use parley_types::EventPayload;

    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let client = server.api().client();
    let alice = client
        .register("alice", "correct horse", None)
        .await
        .unwrap();
    let bob = client
        .register("bob", "correct horse", Some("Bob"))
        .await
        .unwrap();
    assert_eq!(bob.user.display_name, "Bob");
    let alice_api = client.with_token(&alice.access_token);
    let bob_api = client.with_token(&bob.access_token);
    let chat = alice_api
        .create_group("Team", &[bob.user.id])
        .await
        .unwrap();
    let mut socket = bob_api.connect().await.unwrap();
    let ServerFrame::Ready { data } = next(&mut socket).await else {
        panic!("ready comes first")
    };
    assert_eq!(data.user_id, bob.user.id);

    let sent = alice_api
        .send_message(chat.id, "hello", Some("k1"))
        .await
        .unwrap();
    let ServerFrame::Event(event) = next(&mut socket).await else {
        panic!("message.created")
    };
    assert_eq!(event.payload, EventPayload::MessageCreated(sent.clone()));
    // The same key answers with the same message, and nothing new is sent.
    assert_eq!(
        alice_api
            .send_message(chat.id, "hello", Some("k1"))
            .await
            .unwrap(),
        sent
    );

    let reacted = alice_api.react(sent.id, "👍").await.unwrap();
    let ServerFrame::Event(event) = next(&mut socket).await else {
        panic!("reaction.added")
    };
    assert!(
        matches!(event.payload, EventPayload::ReactionAdded(ref change) if change.message == reacted)
    );
    // The chat's last event so far (read markers and typing are not events).
    let last_seq = event.seq;

    alice_api.mark_read(chat.id, sent.seq).await.unwrap();
    let ServerFrame::Read { chat_id, data } = next(&mut socket).await else {
        panic!("read")
    };
    assert_eq!(
        (chat_id, data.user_id, data.seq),
        (chat.id, alice.user.id, sent.seq)
    );

    let mut alice_socket = alice_api.connect().await.unwrap();
    alice_socket
        .send(&ClientFrame::Typing { chat_id: chat.id })
        .await
        .unwrap();
    loop {
        // Alice's presence may come first.
        match next(&mut socket).await {
            ServerFrame::Typing { data, .. } => {
                assert_eq!(data.user_id, alice.user.id);
                break;
            }
            ServerFrame::Presence { .. } => continue,
            other => panic!("expected typing, got {other:?}"),
        }
    }

    socket
        .send(&ClientFrame::Resume {
            chat_id: chat.id,
            after_seq: Seq::ZERO,
        })
        .await
        .unwrap();
    let mut replayed = Vec::new();
    let resumed = loop {
        match next(&mut socket).await {
            ServerFrame::Event(event) => replayed.push(event.seq),
            ServerFrame::Resumed { data, .. } => break data,
            ServerFrame::Presence { .. } | ServerFrame::Typing { .. } => continue,
            other => panic!("expected the replay, got {other:?}"),
        }
    };
    let all: Vec<Seq> = (1..=last_seq.get()).map(Seq).collect();
    assert_eq!(replayed, all);
    assert_eq!((resumed.from_seq, resumed.to_seq), (Seq(1), last_seq));

    socket.send(&ClientFrame::Ping).await.unwrap();
    assert!(matches!(next(&mut socket).await, ServerFrame::Pong { .. }));
    socket.send_text("{\"type\":\"dance\"}").await.unwrap();
    let ServerFrame::Error { data } = next(&mut socket).await else {
        panic!("error")
    };
    assert_eq!(data.code, parley_types::ErrorCode::UnknownType);

    // A typed error: not a member.
    let error = bob_api
        .chat(ChatId(chat.id.get() + 1000))
        .await
        .unwrap_err();
    assert!(matches!(error.status(), Some(403 | 404)), "{error}");
}

/// The next frame of a typed session, within 10 s.
async fn next(socket: &mut parley_client::Socket) -> parley_types::ServerFrame {
    tokio::time::timeout(Duration::from_secs(10), socket.next_frame())
        .await
        .expect("a frame within 10 s")
        .expect("a frame the client reads")
        .expect("the session is open")
}
