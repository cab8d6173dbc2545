use serde_json::json;

use crate::on_both_backends;

on_both_backends! {
    async fn group_chat_shape_and_events(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let res = api.post("/api/v1/chats", &alice.token,
            &json!({"kind": "group", "title": "Team", "member_ids": [bob.id, bob.id, alice.id]})).await;
        let chat = res.expect(201).clone();
        assert_eq!(chat["kind"], "group");
        assert_eq!(chat["title"], "Team");
        // Each member's joining is an event: seq 1 and 2.
        assert_eq!(chat["last_seq"], 2);
        let members = chat["members"].as_array().unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0]["user_id"], alice.id);
        assert_eq!(members[0]["role"], "owner");
        assert_eq!(members[1]["user_id"], bob.id);
        assert_eq!(members[1]["role"], "member");
        assert_eq!(members[1]["last_read_seq"], 0);
        let chat_id = chat["id"].as_i64().unwrap();
        let fetched = api.get(&format!("/api/v1/chats/{chat_id}"), &bob.token).await;
        assert_eq!(fetched.expect(200), &chat);
    }

    async fn direct_chats_are_unique_per_pair(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let first = api.post("/api/v1/chats", &alice.token,
            &json!({"kind": "direct", "member_ids": [bob.id]})).await;
        let chat = first.expect(201).clone();
        assert_eq!(chat["kind"], "direct");
        assert_eq!(chat["title"], serde_json::Value::Null);
        let again = api.post("/api/v1/chats", &alice.token,
            &json!({"kind": "direct", "member_ids": [bob.id]})).await;
        assert_eq!(again.expect(200)["id"], chat["id"]);
        let from_bob = api.post("/api/v1/chats", &bob.token,
            &json!({"kind": "direct", "member_ids": [alice.id, bob.id]})).await;
        assert_eq!(from_bob.expect(200)["id"], chat["id"]);

        for body in [
            json!({"kind": "direct", "member_ids": [alice.id]}),
            json!({"kind": "direct", "member_ids": []}),
            json!({"kind": "direct", "member_ids": [bob.id, 999]}),
            json!({"kind": "direct", "member_ids": [999]}),
            json!({"kind": "channel", "member_ids": [bob.id]}),
            json!({"kind": "group", "member_ids": [999]}),
            json!({"kind": "group", "member_ids": [-4]}),
            json!({"kind": "group", "title": "", "member_ids": []}),
            json!({"kind": "group", "title": "t".repeat(129), "member_ids": []}),
            json!({"kind": "group", "member_ids": "bob"}),
        ] {
            api.post("/api/v1/chats", &alice.token, &body).await.expect_error(422, "validation_failed");
        }
        // Direct chats have exactly two members for good.
        let chat_id = chat["id"].as_i64().unwrap();
        let carol = api.register("carol").await;
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": carol.id}))
            .await.expect_error(403, "forbidden");
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &alice.token)
            .await.expect_error(403, "forbidden");
    }

    async fn concurrent_direct_creation_makes_one_chat(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let body = json!({"kind": "direct", "member_ids": [bob.id]});
        let answers = futures_util::future::join_all((0..8).map(|_| api.post("/api/v1/chats", &alice.token, &body))).await;
        let created = answers.iter().filter(|r| r.status == 201).count();
        assert_eq!(created, 1, "{answers:?}");
        assert!(answers.iter().all(|r| r.status == 200 || r.status == 201));
        let ids: std::collections::HashSet<i64> = answers.iter().map(|r| r.json["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 1);
    }

    async fn access_rules(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mallory = api.register("mallory").await;
        let chat_id = api.group(&alice, &[]).await;
        api.get(&format!("/api/v1/chats/{chat_id}"), &mallory.token).await.expect_error(403, "not_a_member");
        api.get("/api/v1/chats/424242", &mallory.token).await.expect_error(404, "not_found");
        api.get("/api/v1/chats/nope", &mallory.token).await.expect_error(404, "not_found");
        api.get(&format!("/api/v1/chats/{chat_id}/messages"), &mallory.token).await.expect_error(403, "not_a_member");
        api.post(&format!("/api/v1/chats/{chat_id}/read"), &mallory.token, &json!({"seq": 1}))
            .await.expect_error(403, "not_a_member");
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &mallory.token, &json!({"user_id": mallory.id}))
            .await.expect_error(403, "not_a_member");
    }

    async fn membership_management(server) {
        let api = server.api();
        let owner = api.register("owner").await;
        let admin = api.register("admin").await;
        let member = api.register("member").await;
        let newcomer = api.register("newcomer").await;
        let chat_id = api.group(&owner, &[&member]).await;
        let members_path = format!("/api/v1/chats/{chat_id}/members");

        // Only the owner appoints admins.
        api.post(&members_path, &member.token, &json!({"user_id": admin.id})).await.expect_error(403, "forbidden");
        let chat = api.post(&members_path, &owner.token, &json!({"user_id": admin.id, "role": "admin"})).await;
        let chat = chat.expect(200).clone();
        assert_eq!(chat["last_seq"], 3);
        assert_eq!(chat["members"][2]["role"], "admin");
        api.post(&members_path, &admin.token, &json!({"user_id": newcomer.id, "role": "admin"}))
            .await.expect_error(403, "forbidden");
        api.post(&members_path, &admin.token, &json!({"user_id": newcomer.id, "role": "owner"}))
            .await.expect_error(403, "forbidden");
        // An admin adds a member; adding them again changes nothing.
        let added = api.post(&members_path, &admin.token, &json!({"user_id": newcomer.id})).await;
        assert_eq!(added.expect(200)["last_seq"], 4);
        let again = api.post(&members_path, &admin.token, &json!({"user_id": newcomer.id})).await;
        assert_eq!(again.expect(200)["last_seq"], 4);
        assert_eq!(again.json["members"].as_array().unwrap().len(), 4);
        api.post(&members_path, &owner.token, &json!({"user_id": 99999})).await.expect_error(422, "validation_failed");
        api.post(&members_path, &owner.token, &json!({"user_id": "x"})).await.expect_error(422, "validation_failed");
        api.post("/api/v1/chats/99999/members", &owner.token, &json!({"user_id": member.id})).await.expect_error(404, "not_found");

        // Members cannot remove others; admins cannot remove the owner; anyone can leave.
        let remove = |user: i64| format!("/api/v1/chats/{chat_id}/members/{user}");
        api.delete(&remove(newcomer.id), &member.token).await.expect_error(403, "forbidden");
        api.delete(&remove(owner.id), &admin.token).await.expect_error(403, "forbidden");
        api.delete(&remove(newcomer.id), &admin.token).await.expect(204);
        api.delete(&remove(newcomer.id), &admin.token).await.expect_error(404, "not_found");
        api.delete(&remove(member.id), &member.token).await.expect(204);
        api.get(&format!("/api/v1/chats/{chat_id}"), &member.token).await.expect_error(403, "not_a_member");

        // When the owner leaves, the admin takes over.
        api.delete(&remove(owner.id), &owner.token).await.expect(204);
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &admin.token).await;
        let chat = chat.expect(200);
        assert_eq!(chat["members"].as_array().unwrap().len(), 1);
        assert_eq!(chat["members"][0]["role"], "owner");
        assert_eq!(chat["last_seq"], 7);
    }

    async fn chat_list_orders_by_activity_with_unread_counts(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let first = api.group(&alice, &[&bob]).await;
        let second = api.group(&alice, &[&bob]).await;
        let quiet = api.group(&alice, &[]).await;
        api.send(&alice, second, "one").await;
        let m2 = api.send(&alice, first, "two").await;
        let m3 = api.send(&alice, first, "three").await;
        api.send(&bob, first, "from bob").await;
        let deleted = api.send(&alice, second, "gone").await;
        api.delete(&format!("/api/v1/messages/{}", deleted["id"]), &alice.token).await.expect(200);

        let list = api.get("/api/v1/chats", &bob.token).await;
        let list = list.expect(200).as_array().unwrap().clone();
        let ids: Vec<i64> = list.iter().map(|c| c["id"].as_i64().unwrap()).collect();
        // `second` had the latest event (the delete), then `first`; bob is not in `quiet`.
        assert_eq!(ids, [second, first]);
        assert_eq!(list[1]["unread_count"], 2, "alice's two messages; bob's own does not count");
        assert_eq!(list[1]["last_message"]["content"], "from bob");
        assert_eq!(list[1]["last_message"]["reactions"], json!([]));
        assert_eq!(list[0]["unread_count"], 1, "deleted messages do not count");
        assert_eq!(list[0]["last_message"]["content"], "one");
        assert!(list[0]["members"].is_array());

        // Reading up to m2 leaves one unread; the marker never moves back.
        let read = format!("/api/v1/chats/{first}/read");
        api.post(&read, &bob.token, &json!({"seq": m2["seq"]})).await.expect(204);
        let list = api.get("/api/v1/chats", &bob.token).await;
        assert_eq!(list.json[1]["unread_count"], 1);
        api.post(&read, &bob.token, &json!({"seq": 1})).await.expect(204);
        let chat = api.get(&format!("/api/v1/chats/{first}"), &bob.token).await;
        let bob_member = chat.json["members"].as_array().unwrap().iter().find(|m| m["user_id"] == bob.id).unwrap().clone();
        assert_eq!(bob_member["last_read_seq"], m2["seq"]);
        // Past the end is capped at the chat's last seq.
        api.post(&read, &bob.token, &json!({"seq": 1_000_000})).await.expect(204);
        let chat = api.get(&format!("/api/v1/chats/{first}"), &bob.token).await;
        let last_seq = chat.json["last_seq"].clone();
        assert!(last_seq.as_i64().unwrap() > m3["seq"].as_i64().unwrap());
        let bob_member = chat.json["members"].as_array().unwrap().iter().find(|m| m["user_id"] == bob.id).unwrap().clone();
        assert_eq!(bob_member["last_read_seq"], last_seq);
        let list = api.get("/api/v1/chats", &bob.token).await;
        assert_eq!(list.json[1]["unread_count"], 0);
        api.post(&read, &bob.token, &json!({"seq": -1})).await.expect_error(422, "validation_failed");
        api.post(&read, &bob.token, &json!({"seq": "x"})).await.expect_error(422, "validation_failed");

        // New activity moves a chat to the top.
        actix_rt::time::sleep(std::time::Duration::from_millis(5)).await;
        api.send(&alice, first, "bump").await;
        let list = api.get("/api/v1/chats", &bob.token).await;
        assert_eq!(list.json[0]["id"], first);

        let empty = api.get("/api/v1/chats", &api.register("loner").await.token).await;
        assert_eq!(empty.expect(200), &json!([]));
        let _ = quiet;
    }
}
