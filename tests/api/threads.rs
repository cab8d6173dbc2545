//! Threads and notification levels (issue 28): a reply in a thread is an ordinary message of
//! the chat that also moves its root's summary, seen the same way live, on resume, in the
//! history, in the thread's own pages and in `GET /messages/{id}`; a member's notification
//! level is theirs alone.

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::common::counting_statements;
use crate::common::ws::WsClient;
use crate::common::{Api, TestUser};
use crate::on_both_backends;

const ADMIN: &str = "threads-admin-token";

fn with_admin(config: &mut parley::config::Config) {
    config.admin_token = Some(ADMIN.to_owned());
}

async fn reply(api: &Api, user: &TestUser, chat_id: i64, root: &Value, content: &str) -> Value {
    let body = json!({"chat_id": chat_id, "content": content, "thread_root_id": root["id"]});
    api.post("/api/v1/messages", &user.token, &body)
        .await
        .expect(200)
        .clone()
}

fn ids(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

async fn message(api: &Api, user: &TestUser, id: &Value) -> Value {
    api.get(&format!("/api/v1/messages/{id}"), &user.token)
        .await
        .expect(200)
        .clone()
}

/// Reads events until one with `seq`; returns them all.
async fn events_up_to(ws: &mut WsClient, seq: i64) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = ws.next_event().await;
        let at = event["seq"].as_i64().unwrap_or(0);
        events.push(event);
        if at >= seq {
            return events;
        }
    }
}

async fn chat_of(api: &Api, user: &TestUser, chat_id: i64) -> Value {
    api.get(&format!("/api/v1/chats/{chat_id}"), &user.token)
        .await
        .expect(200)
        .clone()
}

on_both_backends! {
    async fn a_reply_moves_its_roots_summary_and_every_session_sees_it_in_order(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&bob, &carol]).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let root = api.send(&alice, chat_id, "design review?").await;
        assert_eq!(root["thread_root_id"], Value::Null);
        assert_eq!(root["thread"], Value::Null);
        let seen = root["seq"].as_i64().unwrap();

        let first = reply(&api, &bob, chat_id, &root, "yes").await;
        assert_eq!(first["thread_root_id"], root["id"]);
        assert_eq!(first["seq"], seen + 1);
        let second = reply(&api, &carol, chat_id, &root, "me too").await;
        assert_eq!(second["seq"], seen + 3, "the root's update took the seq between");
        let third = reply(&api, &bob, chat_id, &root, "at 3?").await;

        let expected = json!({
            "reply_count": 3,
            "last_reply_at": third["created_at"],
            "participant_ids": [bob.id, carol.id],
        });
        let now = message(&api, &alice, &root["id"]).await;
        assert_eq!(now["thread"], expected);

        // Live, on every session: each reply's message.created, then the root's
        // message.updated at the next seq, with the summary as that reply left it.
        let last = third["seq"].as_i64().unwrap() + 1;
        for ws in [&mut bob_ws, &mut alice_ws] {
            let events = events_up_to(ws, last).await;
            let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
            assert_eq!(seqs, (seen..=last).collect::<Vec<i64>>());
            let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
            assert_eq!(kinds, ["message.created", "message.created", "message.updated",
                "message.created", "message.updated", "message.created", "message.updated"]);
            assert_eq!(events[1]["data"], first);
            assert_eq!(events[2]["data"]["id"], root["id"]);
            assert_eq!(events[2]["data"]["thread"]["reply_count"], 1);
            assert_eq!(events[2]["data"]["thread"]["participant_ids"], json!([bob.id]));
            assert_eq!(events[4]["data"]["thread"]["reply_count"], 2);
            assert_eq!(events[6]["data"], now, "the last update is the root as it is");
        }

        // A session that resumes sees the same events (each message as it is now).
        let mut carol_ws = WsClient::connect(&server, &carol.token).await;
        carol_ws.send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": seen})).await;
        let replayed = events_up_to(&mut carol_ws, last).await;
        let kinds: Vec<&str> = replayed.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["message.created", "message.updated", "message.created",
            "message.updated", "message.created", "message.updated"]);
        assert_eq!(replayed[0]["data"], first);
        assert_eq!(replayed[5]["data"], now);

        // The history carries the same aggregates; the thread's own page too.
        let history = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &carol.token).await;
        let history = history.expect(200)["messages"].clone();
        assert_eq!(history[0], now);
        assert_eq!(history[1], first);
        assert_eq!(ids(&history), vec![root["id"].as_i64().unwrap(), first["id"].as_i64().unwrap(),
            second["id"].as_i64().unwrap(), third["id"].as_i64().unwrap()]);
        let thread = api.get(&format!("/api/v1/messages/{}/thread", root["id"]), &carol.token).await;
        let thread = thread.expect(200).clone();
        assert_eq!(thread["root"], now);
        assert_eq!(thread["messages"], json!([first, second, third]));
        assert_eq!(thread["has_more"], false);
        // Asked by one of its replies, the same thread.
        let by_reply = api.get(&format!("/api/v1/messages/{}/thread", second["id"]), &carol.token).await;
        assert_eq!(by_reply.expect(200), &thread);
        // Replies count as messages: unread for whoever did not write them.
        let chats = api.get("/api/v1/chats", &alice.token).await;
        assert_eq!(chats.expect(200)[0]["unread_count"], 3);
        assert_eq!(chats.expect(200)[0]["last_message"], third);
    }

    /// The root in its `message.updated` is complete: its reactions and attachments with it.
    async fn the_roots_update_carries_the_whole_root(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let file = crate::attachments::upload(&api, &alice, "p.png", "image/png", crate::attachments::png(40, 30), None)
            .await
            .expect(201)["id"]
            .clone();
        let body = json!({"chat_id": chat_id, "content": "see @bob", "attachment_ids": [file]});
        let root = api.post("/api/v1/messages", &alice.token, &body).await.expect(200).clone();
        api.post(&format!("/api/v1/messages/{}/reactions", root["id"]), &bob.token, &json!({"emoji": "👍"})).await.expect(200);
        let mut ws = WsClient::connect(&server, &alice.token).await;
        let first = reply(&api, &bob, chat_id, &root, "nice").await;
        let events = events_up_to(&mut ws, first["seq"].as_i64().unwrap() + 1).await;
        let update = events.last().unwrap();
        assert_eq!(update["type"], "message.updated");
        let now = message(&api, &alice, &root["id"]).await;
        assert_eq!(update["data"], now);
        assert_eq!(now["attachments"].as_array().unwrap().len(), 1);
        assert_eq!(now["reactions"].as_array().unwrap().len(), 1);
        assert_eq!(now["mentions"], json!([bob.id]));
        assert_eq!(now["thread"]["reply_count"], 1);
    }

    async fn replies_to_a_reply_or_across_chats_are_refused_and_change_nothing(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let other_chat = api.group(&alice, &[&bob]).await;
        let root = api.send(&alice, chat_id, "root").await;
        let elsewhere = api.send(&alice, other_chat, "elsewhere").await;
        let a_reply = reply(&api, &bob, chat_id, &root, "in thread").await;
        let before = chat_of(&api, &alice, chat_id).await["last_seq"].clone();
        let mut ws = WsClient::connect(&server, &alice.token).await;
        for (root_id, why) in [
            (a_reply["id"].clone(), "a reply is not a root"),
            (elsewhere["id"].clone(), "another chat's message"),
            (json!(987654321), "no such message"),
        ] {
            let body = json!({"chat_id": chat_id, "content": "x", "thread_root_id": root_id});
            let res = api.post("/api/v1/messages", &bob.token, &body).await;
            res.expect_error(422, "validation_failed");
            assert_eq!(res.expect(422)["errors"][0]["field"], "thread_root_id", "{why}");
        }
        for bad in [json!(0), json!(-3), json!("7")] {
            let body = json!({"chat_id": chat_id, "content": "x", "thread_root_id": bad});
            api.post("/api/v1/messages", &bob.token, &body).await.expect_error(422, "validation_failed");
        }
        assert_eq!(chat_of(&api, &alice, chat_id).await["last_seq"], before, "no seq taken");
        assert_eq!(message(&api, &alice, &root["id"]).await["thread"]["reply_count"], 1);
        ws.expect_silence(std::time::Duration::from_millis(300)).await;
        // An outsider cannot reply in the thread either.
        let carol = api.register("carol").await;
        let body = json!({"chat_id": chat_id, "content": "x", "thread_root_id": root["id"]});
        api.post("/api/v1/messages", &carol.token, &body).await.expect_error(403, "not_a_member");
    }

    async fn the_main_timeline_pages_across_thread_replies(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        // Main messages with thread replies between them, some pages full of replies.
        let mut main = Vec::new();
        for i in 0..7 {
            let m = api.send(&alice, chat_id, &format!("main {i}")).await;
            main.push(m["id"].as_i64().unwrap());
            for j in 0..(i % 3) * 2 {
                reply(&api, &bob, chat_id, &m, &format!("reply {i}.{j}")).await;
            }
        }
        // Backwards from the newest, two at a time.
        let mut seen = Vec::new();
        let mut path = format!("/api/v1/chats/{chat_id}/messages?thread=main&limit=2");
        loop {
            let page = api.get(&path, &bob.token).await.expect(200).clone();
            let messages = page["messages"].as_array().unwrap().clone();
            assert!(messages.iter().all(|m| m["thread_root_id"].is_null()));
            let mut page_ids = ids(&page["messages"]);
            page_ids.extend(seen);
            seen = page_ids;
            if page["has_more"] == false {
                break;
            }
            let oldest = messages[0]["seq"].as_i64().unwrap();
            path = format!("/api/v1/chats/{chat_id}/messages?thread=main&limit=2&before_seq={oldest}");
        }
        assert_eq!(seen, main);
        // Forwards, from the start.
        let forward = api.get(&format!("/api/v1/chats/{chat_id}/messages?thread=main&after_seq=0&limit=200"), &bob.token).await;
        assert_eq!(ids(&forward.expect(200)["messages"]), main);
        // Roots keep their summaries on the main timeline.
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages?thread=main&limit=200"), &bob.token).await;
        let counts: Vec<Value> = page.expect(200)["messages"].as_array().unwrap().iter()
            .map(|m| m["thread"]["reply_count"].clone()).collect();
        assert_eq!(counts, [Value::Null, json!(2), json!(4), Value::Null, json!(2), json!(4), Value::Null]);
        // Without the filter, every message.
        let all = api.get(&format!("/api/v1/chats/{chat_id}/messages?limit=200"), &bob.token).await;
        assert_eq!(all.expect(200)["messages"].as_array().unwrap().len(), 7 + 12);
        api.get(&format!("/api/v1/chats/{chat_id}/messages?thread=all"), &bob.token).await.expect_error(400, "bad_request");
    }

    async fn a_threads_pages_and_who_may_read_them(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let dave = api.register("dave").await;
        let chat_id = api.group(&alice, &[&bob, &dave]).await;
        let root = api.send(&alice, chat_id, "root").await;
        let mut replies = Vec::new();
        for i in 0..5 {
            replies.push(reply(&api, &bob, chat_id, &root, &format!("r{i}")).await["id"].as_i64().unwrap());
            api.send(&alice, chat_id, "between").await;
        }
        let path = format!("/api/v1/messages/{}/thread", root["id"]);
        let first = api.get(&format!("{path}?limit=2"), &alice.token).await.expect(200).clone();
        assert_eq!(ids(&first["messages"]), replies[..2]);
        assert_eq!(first["has_more"], true);
        let after = first["messages"][1]["seq"].clone();
        let rest = api.get(&format!("{path}?after_seq={after}&limit=10"), &alice.token).await.expect(200).clone();
        assert_eq!(ids(&rest["messages"]), replies[2..]);
        assert_eq!(rest["has_more"], false);
        // A message without replies is a thread of none.
        let lone = api.send(&alice, chat_id, "lone").await;
        let empty = api.get(&format!("/api/v1/messages/{}/thread", lone["id"]), &alice.token).await;
        assert_eq!(empty.expect(200)["messages"], json!([]));
        for bad in ["limit=0", "limit=201", "after_seq=-1", "after_seq=x"] {
            api.get(&format!("{path}?{bad}"), &alice.token).await.expect_error(400, "bad_request");
        }
        api.get("/api/v1/messages/987654321/thread", &alice.token).await.expect_error(404, "not_found");
        api.get("/api/v1/messages/0/thread", &alice.token).await.expect_error(404, "not_found");
        // An outsider; a removed member; a deactivated user; a token revoked a moment ago.
        api.get(&path, &carol.token).await.expect_error(403, "not_a_member");
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &alice.token).await.expect(204);
        api.get(&path, &bob.token).await.expect_error(403, "not_a_member");
        api.post(&format!("/admin/users/{}/deactivate", dave.id), ADMIN, &json!({})).await.expect(200);
        api.get(&path, &dave.token).await.expect_error(401, "unauthorized");
        api.request(Method::POST, "/api/v1/auth/logout", Some(&alice.token), &[], None).await.expect(204);
        api.get(&path, &alice.token).await.expect_error(401, "unauthorized");
    }

    async fn deleting_a_reply_takes_it_out_of_its_roots_summary(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&bob, &carol]).await;
        let root = api.send(&alice, chat_id, "root").await;
        let by_bob = reply(&api, &bob, chat_id, &root, "bob's").await;
        let by_carol = reply(&api, &carol, chat_id, &root, "carol's").await;
        let mut ws = WsClient::connect(&server, &alice.token).await;
        let deleted = api.delete(&format!("/api/v1/messages/{}", by_carol["id"]), &carol.token).await;
        let deleted = deleted.expect(200).clone();
        let event = ws.next_event().await;
        assert_eq!(event["type"], "message.deleted");
        assert_eq!(event["data"], deleted);
        let update = ws.next_event().await;
        assert_eq!(update["type"], "message.updated");
        assert_eq!(update["seq"], event["seq"].as_i64().unwrap() + 1);
        let expected = json!({"reply_count": 1, "last_reply_at": by_bob["created_at"], "participant_ids": [bob.id]});
        assert_eq!(update["data"]["thread"], expected);
        assert_eq!(message(&api, &bob, &root["id"]).await["thread"], expected);
        // The last reply gone, the root has no thread to show.
        api.delete(&format!("/api/v1/messages/{}", by_bob["id"]), &alice.token).await.expect(200);
        assert_eq!(message(&api, &bob, &root["id"]).await["thread"], Value::Null);
        // The tombstones stay in the thread's page, as in the history.
        let page = api.get(&format!("/api/v1/messages/{}/thread", root["id"]), &bob.token).await;
        let page = page.expect(200).clone();
        assert_eq!(page["messages"].as_array().unwrap().len(), 2);
        assert!(page["messages"].as_array().unwrap().iter().all(|m| m["deleted"] == true));
        // A root that is deleted keeps its thread; replies may still follow it.
        let other = api.send(&alice, chat_id, "other root").await;
        reply(&api, &bob, chat_id, &other, "one").await;
        let gone = api.delete(&format!("/api/v1/messages/{}", other["id"]), &alice.token).await;
        assert_eq!(gone.expect(200)["thread"]["reply_count"], 1);
    }

    /// Replies from many sessions at once, batched together by the room: the summary counts
    /// every one, each reply is followed by its root's update, and the seqs have no gap.
    async fn concurrent_replies_are_all_counted(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mut members = Vec::new();
        for i in 0..4 {
            members.push(api.register(&format!("member{i}")).await);
        }
        let refs: Vec<&TestUser> = members.iter().collect();
        let chat_id = api.group(&alice, &refs).await;
        let mut ws = WsClient::connect(&server, &alice.token).await;
        for round in 0..10 {
            let root = api.send(&alice, chat_id, &format!("round {round}")).await;
            let start = root["seq"].as_i64().unwrap();
            let sends = members.iter().flat_map(|m| (0..3).map(move |i| (m, i))).map(|(m, i)| {
                let api = api.clone();
                let root = root.clone();
                async move { reply(&api, m, chat_id, &root, &format!("{i}")).await }
            });
            let sent = futures_util::future::join_all(sends).await;
            let last = start + 2 * sent.len() as i64;
            let events = events_up_to(&mut ws, last).await;
            let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
            assert_eq!(seqs, (start..=last).collect::<Vec<i64>>(), "round {round}");
            for pair in events[1..].chunks(2) {
                assert_eq!(pair[0]["type"], "message.created");
                assert_eq!(pair[1]["type"], "message.updated");
                assert_eq!(pair[1]["data"]["id"], root["id"]);
            }
            let counts: Vec<i64> = events[1..].chunks(2).map(|p| p[1]["data"]["thread"]["reply_count"].as_i64().unwrap()).collect();
            assert_eq!(counts, (1..=12).collect::<Vec<i64>>(), "round {round}");
            let now = message(&api, &alice, &root["id"]).await;
            assert_eq!(now["thread"]["reply_count"], 12);
            let mut participants: Vec<i64> = members.iter().map(|m| m.id).collect();
            participants.sort_unstable();
            assert_eq!(now["thread"]["participant_ids"], json!(participants));
        }
    }

    /// The chat list costs the same number of statements for 1 chat as for 200 whose last
    /// messages mention the reader, are thread roots with replies, or replies themselves.
    async fn the_chat_list_costs_the_same_with_mentions_and_threads(server) configured (counting_statements) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let cost = |expected: usize| {
            let (api, server, token) = (api.clone(), &server, bob.token.clone());
            async move {
                let before = server.queries();
                let list = api.get("/api/v1/chats", &token).await.expect(200).clone();
                let cost = server.queries() - before;
                assert_eq!(list.as_array().unwrap().len(), expected);
                (cost, list)
            }
        };
        let first = api.group(&alice, &[&bob]).await;
        api.send(&alice, first, "hello @bob").await;
        // Once first, so that both counts find bob's token known (its check cached).
        cost(1).await;
        let (one, _) = cost(1).await;
        for i in 1..200 {
            let chat = api.group(&alice, &[&bob]).await;
            let root = api.send(&alice, chat, &format!("@bob look {i}")).await;
            if i % 2 == 0 {
                reply(&api, &alice, chat, &root, "in the thread").await;
            }
        }
        let (many, list) = cost(200).await;
        assert_eq!(one, many, "statements for the chat list of 1 chat and of 200");
        assert!(list.as_array().unwrap().iter().all(|c| c["unread_mention_count"] == 1));
        assert!(list.as_array().unwrap().iter().all(|c| c["notification"]["level"] == "all"));
    }

    async fn notification_levels_are_their_owners_alone(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let dave = api.register("dave").await;
        let chat_id = api.group(&alice, &[&bob, &dave]).await;
        let default = json!({"level": "all", "muted_until": null});
        assert_eq!(chat_of(&api, &alice, chat_id).await["notification"], default);
        // `all` in direct chats too.
        let direct = api.client().with_token(&alice.token)
            .direct_chat(parley::domain::UserId(carol.id)).await.unwrap();
        assert_eq!(chat_of(&api, &carol, direct.id.get()).await["notification"], default);
        api.send(&bob, chat_id, "one").await;
        let unread_before = api.get("/api/v1/chats", &alice.token).await.expect(200)[0]["unread_count"].clone();

        let path = format!("/api/v1/chats/{chat_id}/notifications");
        let muted = json!({"level": "mentions", "muted_until": "2030-01-02T03:04:05.678Z"});
        let res = api.send_json(Method::PUT, &path, Some(&alice.token), &muted).await;
        assert_eq!(res.expect(200), &muted);
        assert_eq!(chat_of(&api, &alice, chat_id).await["notification"], muted);
        let listed = api.get("/api/v1/chats", &alice.token).await.expect(200).clone();
        assert_eq!(listed[0]["notification"], muted);
        assert_eq!(listed[0]["unread_count"], unread_before, "a level changes no count");
        // Nobody else sees it: bob sees his own.
        assert_eq!(chat_of(&api, &bob, chat_id).await["notification"], default);
        let bobs = api.get("/api/v1/chats", &bob.token).await.expect(200).clone();
        assert_eq!(bobs[0]["notification"], default);
        assert!(!bobs.to_string().contains(r#""level":"mentions""#), "alice's level shows nowhere");
        // Turned back on; `muted_until` may be left out.
        let none = json!({"level": "none"});
        let res = api.send_json(Method::PUT, &path, Some(&alice.token), &none).await;
        assert_eq!(res.expect(200), &json!({"level": "none", "muted_until": null}));

        for bad in [json!({"level": "loud"}), json!({}), json!({"level": "all", "muted_until": "soon"})] {
            api.send_json(Method::PUT, &path, Some(&alice.token), &bad).await.expect_error(422, "validation_failed");
        }
        // An outsider, an unknown chat, a removed member, a deactivated user, a revoked token.
        api.send_json(Method::PUT, &path, Some(&carol.token), &none).await.expect_error(403, "not_a_member");
        api.send_json(Method::PUT, "/api/v1/chats/987654/notifications", Some(&alice.token), &none).await.expect_error(404, "not_found");
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &alice.token).await.expect(204);
        api.send_json(Method::PUT, &path, Some(&bob.token), &none).await.expect_error(403, "not_a_member");
        api.post(&format!("/admin/users/{}/deactivate", dave.id), ADMIN, &json!({})).await.expect(200);
        api.send_json(Method::PUT, &path, Some(&dave.token), &none).await.expect_error(401, "unauthorized");
        api.request(Method::POST, "/api/v1/auth/logout", Some(&alice.token), &[], None).await.expect(204);
        api.send_json(Method::PUT, &path, Some(&alice.token), &none).await.expect_error(401, "unauthorized");
    }
}
