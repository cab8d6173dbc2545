//! Mentions (issue 28, the first part): who a message addresses, resolved on send and on edit,
//! counted per chat past the reader's marker, and paged across chats.

use serde_json::{json, Value};

use crate::common::ws::WsClient;
use crate::common::{Api, TestUser};
use crate::on_both_backends;

async fn send(api: &Api, user: &TestUser, chat_id: i64, content: &str) -> Value {
    api.send(user, chat_id, content).await
}

async fn summary(api: &Api, user: &TestUser, chat_id: i64) -> Value {
    let chats = api.get("/api/v1/chats", &user.token).await;
    chats
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat_id)
        .cloned()
        .unwrap()
}

on_both_backends! {
    async fn members_are_mentioned_and_nothing_else_is(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        // An account, but not a member of the chat.
        api.register("dave").await;
        let chat_id = api.group(&alice, &[&bob, &carol]).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        // bob and carol are members; dave is not; zed does not exist; alice is the author.
        let m = send(&api, &alice, chat_id, "hi @Bob, @carol. and @dave @zed @alice mail bob@x.org").await;
        assert_eq!(m["mentions"], json!([bob.id, carol.id]));
        let event = bob_ws.next_event().await;
        assert_eq!(event["data"]["mentions"], json!([bob.id, carol.id]));
        let plain = send(&api, &alice, chat_id, "no one").await;
        assert_eq!(plain["mentions"], json!([]));
        let history = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &bob.token).await;
        let messages = history.expect(200)["messages"].as_array().unwrap().clone();
        assert_eq!(messages[messages.len() - 2], m);
    }

    /// A name resolves to its account (whose id the server keeps once read: names and ids never
    /// change), and mentions only while that account is a member: a name that matched no
    /// one mentions its account once it exists and joins, and a member who left is text again.
    async fn names_follow_accounts_and_memberships(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let early = send(&api, &alice, chat_id, "@erin @bob").await;
        assert_eq!(early["mentions"], json!([bob.id]));
        let erin = api.register("erin").await;
        let not_yet = send(&api, &alice, chat_id, "@erin @bob").await;
        assert_eq!(not_yet["mentions"], json!([bob.id]), "erin exists but is no member");
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": erin.id}))
            .await
            .expect(200);
        let joined = send(&api, &alice, chat_id, "@erin @bob").await;
        assert_eq!(joined["mentions"], json!([bob.id, erin.id]));
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &bob.token).await.expect(204);
        let left = send(&api, &alice, chat_id, "@erin @bob").await;
        assert_eq!(left["mentions"], json!([erin.id]));
    }

    async fn all_is_for_owners_and_admins(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&bob, &carol]).await;
        let by_owner = send(&api, &alice, chat_id, "@all standup").await;
        assert_eq!(by_owner["mentions"], json!([bob.id, carol.id]));
        let by_member = send(&api, &bob, chat_id, "@all standup?").await;
        assert_eq!(by_member["mentions"], json!([]), "plain text from a member");
        let direct = api.client().with_token(&bob.token)
            .direct_chat(parley::domain::UserId(carol.id)).await.unwrap();
        let in_direct = send(&api, &bob, direct.id.get(), "@all").await;
        assert_eq!(in_direct["mentions"], json!([carol.id]));
    }

    async fn an_edit_resolves_again_and_a_delete_forgets(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&bob, &carol]).await;
        let m = send(&api, &alice, chat_id, "ask @bob").await;
        assert_eq!(summary(&api, &bob, chat_id).await["unread_mention_count"], 1);
        let path = format!("/api/v1/messages/{}", m["id"]);
        let edited = api.patch(&path, &alice.token, &json!({"content": "ask @carol"})).await;
        assert_eq!(edited.expect(200)["mentions"], json!([carol.id]));
        assert_eq!(summary(&api, &bob, chat_id).await["unread_mention_count"], 0);
        assert_eq!(summary(&api, &carol, chat_id).await["unread_mention_count"], 1);
        let deleted = api.delete(&path, &alice.token).await;
        assert_eq!(deleted.expect(200)["mentions"], json!([]));
        assert_eq!(summary(&api, &carol, chat_id).await["unread_mention_count"], 0);
        let page = api.get("/api/v1/mentions", &carol.token).await;
        assert_eq!(page.expect(200)["messages"], json!([]));
    }

    async fn the_count_moves_with_the_read_marker(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let first = send(&api, &alice, chat_id, "@bob one").await;
        send(&api, &alice, chat_id, "nothing for bob").await;
        let third = send(&api, &alice, chat_id, "@bob three").await;
        let s = summary(&api, &bob, chat_id).await;
        assert_eq!((s["unread_count"].clone(), s["unread_mention_count"].clone()), (json!(3), json!(2)));
        api.post(&format!("/api/v1/chats/{chat_id}/read"), &bob.token, &json!({"seq": first["seq"]})).await.expect(204);
        assert_eq!(summary(&api, &bob, chat_id).await["unread_mention_count"], 1);
        api.post(&format!("/api/v1/chats/{chat_id}/read"), &bob.token, &json!({"seq": third["seq"]})).await.expect(204);
        assert_eq!(summary(&api, &bob, chat_id).await["unread_mention_count"], 0);
        // Alice's own list: she mentioned no one of hers.
        assert_eq!(summary(&api, &alice, chat_id).await["unread_mention_count"], 0);
    }

    async fn the_mentions_page_pages_and_never_shows_a_chat_left(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let first_chat = api.group(&alice, &[&bob]).await;
        let second_chat = api.group(&alice, &[&bob]).await;
        let mut sent = Vec::new();
        for i in 0..5 {
            let chat = if i % 2 == 0 { first_chat } else { second_chat };
            sent.push(send(&api, &alice, chat, &format!("@bob number {i}")).await);
        }
        send(&api, &alice, first_chat, "not for bob").await;
        let page = api.get("/api/v1/mentions?limit=3", &bob.token).await;
        let page = page.expect(200).clone();
        let ids: Vec<i64> = page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        let newest: Vec<i64> = sent.iter().rev().take(3).map(|m| m["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, newest);
        assert_eq!(page["has_more"], true);
        assert_eq!(page["messages"][0], sent[4], "complete aggregates");
        let rest = api.get(&format!("/api/v1/mentions?before={}", ids[2]), &bob.token).await;
        let rest = rest.expect(200).clone();
        assert_eq!(rest["messages"].as_array().unwrap().len(), 2);
        assert_eq!(rest["has_more"], false);
        // Bob leaves the second chat: its mentions are gone from his page.
        api.delete(&format!("/api/v1/chats/{second_chat}/members/{}", bob.id), &bob.token).await.expect(204);
        let after = api.get("/api/v1/mentions", &bob.token).await;
        let chats: Vec<Value> = after.expect(200)["messages"].as_array().unwrap().iter().map(|m| m["chat_id"].clone()).collect();
        assert_eq!(chats, vec![json!(first_chat); 3]);
        for bad in ["limit=0", "limit=201", "before=0", "before=x"] {
            api.get(&format!("/api/v1/mentions?{bad}"), &bob.token).await.expect_error(400, "bad_request");
        }
        api.request(actix_web::http::Method::GET, "/api/v1/mentions", None, &[], None).await.expect_error(401, "unauthorized");
        // A token revoked a moment ago reads nothing.
        api.request(actix_web::http::Method::POST, "/api/v1/auth/logout", Some(&bob.token), &[], None).await.expect(204);
        api.get("/api/v1/mentions", &bob.token).await.expect_error(401, "unauthorized");
    }

    async fn the_mentions_page_merges_chats_sent_to_at_once_in_id_order(server) {
        // Sends racing into three chats share batches, several to a chat in one statement; the
        // page, read four at a time, must give every mention once, newest id first.
        let api = server.api();
        let alice = api.register("alice").await;
        let carol = api.register("carol").await;
        let bob = api.register("bob").await;
        let mut chats = Vec::new();
        for _ in 0..3 {
            chats.push(api.group(&alice, &[&bob, &carol]).await);
        }
        let sends = (0..36).map(|i| {
            let author = if i % 2 == 0 { &alice } else { &carol };
            let chat = chats[i % 3];
            let content = if i % 4 == 3 { format!("plain {i}") } else { format!("@bob {i}") };
            let api = &api;
            async move { api.send(author, chat, &content).await }
        });
        let sent = futures_util::future::join_all(sends).await;
        let mut expected: Vec<i64> = sent
            .iter()
            .filter(|m| m["mentions"] == json!([bob.id]))
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(expected.len(), 27);
        // Within each chat, ids rise with seqs (what the page's merge relies on).
        for chat in &chats {
            let history = api.get(&format!("/api/v1/chats/{chat}/messages?limit=200"), &bob.token).await;
            let mut by_seq: Vec<(i64, i64)> = history.expect(200)["messages"].as_array().unwrap().iter()
                .map(|m| (m["seq"].as_i64().unwrap(), m["id"].as_i64().unwrap()))
                .collect();
            by_seq.sort_unstable();
            assert!(by_seq.windows(2).all(|w| w[0].1 < w[1].1), "ids out of seq order: {by_seq:?}");
        }
        let mut paged: Vec<i64> = Vec::new();
        let mut path = "/api/v1/mentions?limit=4".to_string();
        loop {
            let page = api.get(&path, &bob.token).await.expect(200).clone();
            let ids: Vec<i64> = page["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
            paged.extend(&ids);
            if page["has_more"] == false {
                break;
            }
            path = format!("/api/v1/mentions?limit=4&before={}", ids.last().unwrap());
        }
        assert_eq!(paged, expected);
    }
}
