//! Every way a session can come to belong to a chat, and what it then receives: each event
//! from its join on, once, in seq order.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::ws::WsClient;
use crate::common::{TestServer, TestUser};
use crate::on_both_backends;

/// The next `count` chat events, as (type, seq).
async fn events(ws: &mut WsClient, count: usize) -> Vec<(String, i64)> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let frame = ws.next_event().await;
        let kind = frame["type"].as_str().unwrap_or_default().to_owned();
        let seq = frame["seq"]
            .as_i64()
            .unwrap_or_else(|| panic!("no seq in {frame}"));
        seen.push((kind, seq));
    }
    seen
}

fn seq_of(message: &Value) -> i64 {
    message["seq"].as_i64().expect("seq")
}

async fn create(api: &crate::common::Api, owner: &TestUser, body: Value, status: u16) -> Value {
    api.post("/api/v1/chats", &owner.token, &body)
        .await
        .expect(status)
        .clone()
}

on_both_backends! {
    /// The seed's failure in its new form: Bob has the app open, Alice starts a group with
    /// him and writes "hi". Bob and Alice's own open sessions see the chat appear and the
    /// message, and everything after.
    async fn a_group_created_while_its_members_are_connected_reaches_them(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let chat = create(&api, &alice, json!({"kind": "group", "title": "Team", "member_ids": [bob.id]}), 201).await;
        let chat_id = chat["id"].as_i64().unwrap();
        let hi = api.send(&alice, chat_id, "hi").await;
        assert_eq!(seq_of(&hi), 3);
        let later = api.send(&bob, chat_id, "hello").await;
        for ws in [&mut bob_ws, &mut alice_ws] {
            let joined = ws.next_event().await;
            assert_eq!(joined, json!({"type": "member.joined", "chat_id": chat_id, "seq": 1,
                "data": {"chat_id": chat_id, "user_id": alice.id, "role": "owner"}}));
            let joined = ws.next_event().await;
            assert_eq!(joined["data"], json!({"chat_id": chat_id, "user_id": bob.id, "role": "member"}));
            assert_eq!(joined["seq"], 2);
            assert_eq!(ws.next_event().await["data"], hi);
            assert_eq!(ws.next_event().await["data"], later);
            ws.expect_silence(Duration::from_millis(200)).await;
        }
        // Bob's session knows the new chat: its frames about it are taken.
        bob_ws.send(&json!({"type": "typing", "chat_id": chat_id})).await;
        let typing = alice_ws.next_json().await;
        assert_eq!(typing["type"], "typing", "{typing}");
        assert_eq!(typing["data"]["user_id"], bob.id);
    }

    async fn a_direct_chat_created_while_both_are_connected_reaches_them(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let chat = create(&api, &alice, json!({"kind": "direct", "member_ids": [bob.id]}), 201).await;
        let chat_id = chat["id"].as_i64().unwrap();
        let hi = api.send(&alice, chat_id, "hi").await;
        // Asking again for the same pair's chat changes nothing and sends nothing.
        let again = create(&api, &bob, json!({"kind": "direct", "member_ids": [alice.id]}), 200).await;
        assert_eq!(again["id"], chat_id);
        let reply = api.send(&bob, chat_id, "hi Alice").await;
        for ws in [&mut bob_ws, &mut alice_ws] {
            assert_eq!(
                events(ws, 4).await,
                [("member.joined", 1), ("member.joined", 2), ("message.created", 3), ("message.created", 4)]
                    .map(|(k, s)| (k.to_owned(), s))
            );
            ws.expect_silence(Duration::from_millis(200)).await;
        }
        assert_eq!(seq_of(&hi), 3);
        assert_eq!(seq_of(&reply), 4);
    }

    async fn a_member_added_to_a_running_room_gets_everything_after(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[]).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let before = api.send(&alice, chat_id, "before bob").await;
        assert_eq!(alice_ws.next_event().await["data"], before);
        let added = api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": bob.id})).await;
        assert_eq!(added.expect(200)["last_seq"], seq_of(&before) + 1);
        let after: Vec<i64> = {
            let mut seqs = Vec::new();
            for i in 0..5 {
                seqs.push(seq_of(&api.send(&alice, chat_id, &format!("after {i}")).await));
            }
            seqs
        };
        let join_seq = seq_of(&before) + 1;
        let mut expected = vec![("member.joined".to_owned(), join_seq)];
        expected.extend(after.iter().map(|&s| ("message.created".to_owned(), s)));
        assert_eq!(events(&mut bob_ws, 6).await, expected);
        bob_ws.expect_silence(Duration::from_millis(200)).await;
        assert_eq!(events(&mut alice_ws, 6).await, expected);
    }

    async fn a_member_re_added_after_leaving_gets_everything_after_the_rejoin(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &bob.token).await.expect(204);
        assert_eq!(events(&mut bob_ws, 1).await, [("member.left".to_owned(), 3)]);
        api.send(&alice, chat_id, "while bob is away").await;
        bob_ws.expect_silence(Duration::from_millis(200)).await;
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": bob.id})).await.expect(200);
        let back = api.send(&alice, chat_id, "welcome back").await;
        let bob_back = api.send(&bob, chat_id, "thanks").await;
        assert_eq!(
            events(&mut bob_ws, 3).await,
            [("member.joined", 5), ("message.created", seq_of(&back)), ("message.created", seq_of(&bob_back))]
                .map(|(k, s)| (k.to_owned(), s))
        );
        assert_eq!(seq_of(&back), 6);
        bob_ws.expect_silence(Duration::from_millis(200)).await;
    }

    async fn a_second_session_opened_afterwards_gets_everything_after_ready(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mut phone = WsClient::connect(&server, &bob.token).await;
        let first = api.send(&alice, chat_id, "one").await;
        assert_eq!(phone.next_event().await["data"], first);
        let mut laptop = WsClient::connect(&server, &bob.token).await;
        let mut later = Vec::new();
        for i in 0..5 {
            later.push(("message.created".to_owned(), seq_of(&api.send(&alice, chat_id, &format!("m{i}")).await)));
        }
        assert_eq!(events(&mut laptop, 5).await, later);
        assert_eq!(events(&mut phone, 5).await, later);
        laptop.expect_silence(Duration::from_millis(200)).await;
    }

    /// A refused send leaves no trace another user can see: no seq, no new activity time, no
    /// move in anyone's chat list.
    async fn refused_sends_change_nothing_others_can_see(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let outsider = api.register("outsider").await;
        let older = api.group(&alice, &[]).await;
        let newer = api.group(&alice, &[]).await;
        let other_chat = api.group(&outsider, &[]).await;
        let foreign = api.send(&outsider, other_chat, "elsewhere").await;
        let order = |list: &Value| -> Vec<i64> {
            list.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
        };
        let list_before = api.get("/api/v1/chats", &alice.token).await.expect(200).clone();
        assert_eq!(order(&list_before), [newer, older]);
        let chat_before = api.get(&format!("/api/v1/chats/{older}"), &alice.token).await.expect(200).clone();

        // Activity times have millisecond resolution: a bumped one would now differ.
        actix_rt::time::sleep(Duration::from_millis(5)).await;
        api.post("/api/v1/messages", &outsider.token,
            &json!({"chat_id": older, "type": "text", "content": "let me in"})).await
            .expect_error(403, "not_a_member");
        api.post("/api/v1/messages", &alice.token,
            &json!({"chat_id": older, "type": "text", "content": "bad reply", "reply_to_id": foreign["id"]})).await
            .expect_error(422, "validation_failed");

        let chat_after = api.get(&format!("/api/v1/chats/{older}"), &alice.token).await.expect(200).clone();
        assert_eq!(chat_after["last_seq"], chat_before["last_seq"]);
        let list_after = api.get("/api/v1/chats", &alice.token).await.expect(200).clone();
        assert_eq!(list_after, list_before);
        // The next accepted send takes the very next seq.
        let next = api.send(&alice, older, "first real message").await;
        assert_eq!(seq_of(&next), chat_before["last_seq"].as_i64().unwrap() + 1);
    }
}

pub(crate) fn quick_idle() -> parley::config::RoomSettings {
    parley::config::RoomSettings {
        idle_after: Duration::from_millis(200),
        ..Default::default()
    }
}

pub(crate) async fn wait_for_no_rooms(server: &TestServer) {
    let mut waited = 0;
    while server.metric("chat_rooms") > 0.0 {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 200, "the idle rooms did not stop");
    }
}

fn slow_gap_fill() -> parley::config::RoomSettings {
    parley::config::RoomSettings {
        gap_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

on_both_backends! {
    /// Bob is online; the chat's room stopped while idle; Alice adds him. The room that starts
    /// for the write binds him before his `member.joined` goes out.
    async fn a_member_added_to_a_stopped_room_gets_everything_after(server) with (quick_idle()) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[]).await;
        let before = api.send(&alice, chat_id, "before bob").await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        wait_for_no_rooms(&server).await;
        api.post(
            &format!("/api/v1/chats/{chat_id}/members"),
            &alice.token,
            &json!({"user_id": bob.id}),
        )
        .await
        .expect(200);
        let hello = api.send(&alice, chat_id, "hello bob").await;
        assert_eq!(
            events(&mut bob_ws, 2).await,
            [
                ("member.joined".to_owned(), seq_of(&before) + 1),
                ("message.created".to_owned(), seq_of(&hello))
            ]
        );
        // Now that Bob's session is bound, it keeps the room running.
        actix_rt::time::sleep(Duration::from_millis(500)).await;
        assert!(server.metric("chat_rooms") >= 1.0);
        let later = api.send(&alice, chat_id, "still there?").await;
        assert_eq!(bob_ws.next_event().await["data"], later);
    }

    /// A room waiting on a gap in its chat holds back only its own chat: sends to it are still
    /// answered, and another chat's events go out at once.
    async fn a_room_in_a_gap_fill_delays_no_other_chat(server) with (slow_gap_fill()) {
        let api = server.api();
        let alice = api.register("alice").await;
        let stuck = api.group(&alice, &[]).await;
        let free = api.group(&alice, &[]).await;
        let mut ws = WsClient::connect(&server, &alice.token).await;
        // A seq taken behind the room's back and never written: the room holds the next event
        // until it has read the log (after the gap timeout, 2 s here).
        server.execute_sql(&format!(
            "UPDATE chats SET last_seq = last_seq + 1 WHERE id = {stuck}"
        ));
        let held = api.send(&alice, stuck, "held").await;
        let quick = api.send(&alice, free, "not held").await;
        let first = ws.next_event().await;
        assert_eq!(first["data"], quick, "the other chat's event came first");
        let second = ws.next_event().await;
        assert_eq!(second["data"], held);
        // The room went on after the hole: the next event is live.
        let next = api.send(&alice, stuck, "next").await;
        assert_eq!(ws.next_event().await["data"], next);
    }
}
