use serde_json::{json, Value};

use crate::common::counting_statements;
use crate::on_both_backends;

on_both_backends! {
    /// The case Parley exists for: the answer to a send is the complete aggregate, and reading
    /// the message back gives the same one.
    async fn send_answers_the_complete_aggregate(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let res = api.post_with_key("/api/v1/messages", &alice.token, "8e5b1c9e-0001",
            &json!({"chat_id": chat_id, "type": "text", "content": "Test message", "reply_to_id": null, "client_id": "c-123"})).await;
        let message = res.expect(200).clone();
        assert_eq!(res.header("content-type"), Some("application/json"));
        let keys: Vec<&String> = message.as_object().unwrap().keys().collect();
        let mut expected = vec!["attachments", "author_id", "chat_id", "client_id", "content", "created_at", "deleted",
            "edited_at", "id", "mentions", "reactions", "reply_to_id", "seq", "thread", "thread_root_id", "type"];
        expected.sort_unstable();
        let mut keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(message["chat_id"], chat_id);
        assert_eq!(message["author_id"], alice.id);
        assert_eq!(message["type"], "text");
        assert_eq!(message["content"], "Test message");
        assert_eq!(message["client_id"], "c-123");
        assert_eq!(message["reply_to_id"], Value::Null);
        assert_eq!(message["edited_at"], Value::Null);
        assert_eq!(message["deleted"], false);
        assert_eq!(message["reactions"], json!([]));
        assert_eq!(message["attachments"], json!([]));
        assert_eq!(message["seq"], 3, "after the two member.joined events");
        let fetched = api.get(&format!("/api/v1/messages/{}", message["id"]), &bob.token).await;
        assert_eq!(fetched.expect(200), &message);
    }

    async fn send_validation(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let other_chat = api.group(&alice, &[]).await;
        let elsewhere = api.send(&alice, other_chat, "elsewhere").await;
        for body in [
            json!({"chat_id": chat_id, "type": "image", "content": "x"}),
            json!({"chat_id": chat_id, "type": "text", "content": ""}),
            json!({"chat_id": chat_id, "type": "text", "content": " \n\t "}),
            json!({"chat_id": chat_id, "type": "text", "content": "x".repeat(4001)}),
            json!({"chat_id": chat_id, "type": "text", "content": "nul\u{0}byte"}),
            json!({"chat_id": chat_id, "type": "text", "content": "x", "client_id": "c".repeat(65)}),
            json!({"chat_id": chat_id, "type": "text", "content": "x", "reply_to_id": elsewhere["id"]}),
            json!({"chat_id": chat_id, "type": "text", "content": "x", "reply_to_id": 987654}),
            json!({"chat_id": chat_id, "type": "text", "content": "x", "reply_to_id": 0}),
            json!({"chat_id": chat_id, "type": "text"}),
            json!({"chat_id": "2", "type": "text", "content": "x"}),
            json!({"chat_id": 0, "type": "text", "content": "x"}),
            json!({"chat_id": 1e30, "type": "text", "content": "x"}),
            json!({"chat_id": chat_id as f64 + 0.5, "type": "text", "content": "x"}),
            json!({"chat_id": chat_id, "type": "text", "content": 5}),
            json!([1, 2]),
            json!(null),
        ] {
            let res = api.post("/api/v1/messages", &alice.token, &body).await;
            res.expect_error(422, "validation_failed");
        }
        // A whole number written with a fraction is the integer it is (JSON Schema counts it as
        // one), so the document's integers are not refused for their spelling.
        let spelled = api.post("/api/v1/messages", &alice.token,
            &json!({"chat_id": chat_id as f64, "content": "whole"})).await;
        assert_eq!(spelled.expect(200)["chat_id"], chat_id);
        // Read exactly, past the 2^51 where a best-effort float parser rounds `.0` into `.2`.
        let far = api.post(&format!("/api/v1/chats/{chat_id}/read"), &alice.token,
            &serde_json::from_str::<Value>(r#"{"seq": 2048568527161895.0}"#).unwrap()).await;
        assert_ne!(far.status, 422, "{:?}", far.json);
        // Limits are in characters, not bytes.
        let long = "é".repeat(4000);
        let res = api.post("/api/v1/messages", &alice.token,
            &json!({"chat_id": chat_id, "type": "text", "content": long, "client_id": "ü".repeat(64)})).await;
        assert_eq!(res.expect(200)["content"].as_str().unwrap().chars().count(), 4000);
        // `type` may be left out; a reply in the same chat is fine.
        let first = api.send(&alice, chat_id, "first").await;
        let reply = api.post("/api/v1/messages", &alice.token,
            &json!({"chat_id": chat_id, "content": "reply", "reply_to_id": first["id"]})).await;
        assert_eq!(reply.expect(200)["reply_to_id"], first["id"]);
        // Unknown fields are ignored.
        api.post("/api/v1/messages", &alice.token,
            &json!({"chat_id": chat_id, "content": "x", "mood": "happy"})).await.expect(200);
    }

    async fn send_access(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mallory = api.register("mallory").await;
        let chat_id = api.group(&alice, &[]).await;
        api.post("/api/v1/messages", &mallory.token, &json!({"chat_id": chat_id, "content": "hi"}))
            .await.expect_error(403, "not_a_member");
        api.post("/api/v1/messages", &mallory.token, &json!({"chat_id": 777777, "content": "hi"}))
            .await.expect_error(404, "not_found");
        api.post("/api/v1/messages", &mallory.token, &json!({"chat_id": i64::MAX, "content": "hi"}))
            .await.expect_error(404, "not_found");
        let message = api.send(&alice, chat_id, "private").await;
        api.get(&format!("/api/v1/messages/{}", message["id"]), &mallory.token).await.expect_error(403, "not_a_member");
        api.get("/api/v1/messages/999999", &mallory.token).await.expect_error(404, "not_found");
        // A rejected send takes no seq: the next message follows without a gap.
        let next = api.send(&alice, chat_id, "next").await;
        assert_eq!(next["seq"].as_i64().unwrap(), message["seq"].as_i64().unwrap() + 1);
    }

    async fn unicode_round_trips(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        for content in ["Grüße, 世界! 👋🏽", "مرحبا بالعالم", "e\u{301}\u{301}", "👨‍👩‍👧‍👦", "line\nbreak\ttab \"quotes\" \\ </script>"] {
            let sent = api.send(&alice, chat_id, content).await;
            assert_eq!(sent["content"], content);
            let got = api.get(&format!("/api/v1/messages/{}", sent["id"]), &alice.token).await;
            assert_eq!(got.expect(200)["content"], content);
        }
    }

    async fn edit_and_delete(server) {
        let api = server.api();
        let owner = api.register("owner").await;
        let author = api.register("author").await;
        let other = api.register("other").await;
        let chat_id = api.group(&owner, &[&author, &other]).await;
        let message = api.send(&author, chat_id, "original").await;
        let path = format!("/api/v1/messages/{}", message["id"]);

        let edited = api.patch(&path, &author.token, &json!({"content": "edited"})).await;
        let edited = edited.expect(200).clone();
        assert_eq!(edited["content"], "edited");
        assert!(edited["edited_at"].is_string());
        assert_eq!(edited["seq"], message["seq"], "a message keeps the seq of its creation");
        api.patch(&path, &other.token, &json!({"content": "hijack"})).await.expect_error(403, "forbidden");
        api.patch(&path, &owner.token, &json!({"content": "owner edit"})).await.expect_error(403, "forbidden");
        api.patch(&path, &author.token, &json!({"content": ""})).await.expect_error(422, "validation_failed");
        api.patch("/api/v1/messages/888888", &author.token, &json!({"content": "x"})).await.expect_error(404, "not_found");

        // Another member cannot delete; the author can; the owner can delete anyone's.
        api.delete(&path, &other.token).await.expect_error(403, "forbidden");
        api.post(&format!("{path}/reactions"), &other.token, &json!({"emoji": "👍"})).await.expect(200);
        let tombstone = api.delete(&path, &author.token).await;
        let tombstone = tombstone.expect(200).clone();
        assert_eq!(tombstone["deleted"], true);
        assert_eq!(tombstone["content"], "");
        assert_eq!(tombstone["reactions"], json!([]));
        assert_eq!(tombstone["id"], message["id"]);
        // Deleting again changes nothing; editing or reacting to a tombstone is refused.
        assert_eq!(api.delete(&path, &author.token).await.expect(200), &tombstone);
        api.patch(&path, &author.token, &json!({"content": "back"})).await.expect_error(409, "message_deleted");
        api.post(&format!("{path}/reactions"), &other.token, &json!({"emoji": "👍"})).await.expect_error(409, "message_deleted");
        assert_eq!(api.get(&path, &other.token).await.expect(200), &tombstone);

        let by_other = api.send(&other, chat_id, "moderate me").await;
        let res = api.delete(&format!("/api/v1/messages/{}", by_other["id"]), &owner.token).await;
        assert_eq!(res.expect(200)["deleted"], true);
    }

    async fn reactions(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let mallory = api.register("mallory").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let message = api.send(&alice, chat_id, "react to me").await;
        let path = format!("/api/v1/messages/{}/reactions", message["id"]);

        let after_bob = api.post(&path, &bob.token, &json!({"emoji": "👍"})).await.expect(200).clone();
        assert_eq!(after_bob["reactions"].as_array().unwrap().len(), 1);
        assert_eq!(after_bob["reactions"][0]["emoji"], "👍");
        assert_eq!(after_bob["reactions"][0]["user_id"], bob.id);
        assert!(after_bob["reactions"][0]["created_at"].is_string());
        // The same emoji twice is a no-op.
        let again = api.post(&path, &bob.token, &json!({"emoji": "👍"})).await;
        assert_eq!(again.expect(200), &after_bob);
        let both = api.post(&path, &alice.token, &json!({"emoji": "👍"})).await.expect(200).clone();
        let with_family = api.post(&path, &alice.token, &json!({"emoji": "👨‍👩‍👧"})).await.expect(200).clone();
        assert_eq!(with_family["reactions"].as_array().unwrap().len(), 3);
        // Ordered by created_at, then user_id.
        let order: Vec<(String, i64)> = with_family["reactions"].as_array().unwrap().iter()
            .map(|r| (r["created_at"].as_str().unwrap().to_owned(), r["user_id"].as_i64().unwrap())).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(both["reactions"].as_array().unwrap().len(), 2);

        for emoji in ["", "a b", "\u{7}", &"x".repeat(33)] {
            api.post(&path, &bob.token, &json!({"emoji": emoji})).await.expect_error(422, "validation_failed");
        }
        api.post(&path, &mallory.token, &json!({"emoji": "👍"})).await.expect_error(403, "not_a_member");
        api.post("/api/v1/messages/5555555/reactions", &bob.token, &json!({"emoji": "👍"})).await.expect_error(404, "not_found");

        // Removal takes the emoji percent-encoded.
        let removed = api.delete(&format!("{path}/%F0%9F%91%8D"), &bob.token).await;
        let removed = removed.expect(200).clone();
        assert_eq!(removed["reactions"].as_array().unwrap().len(), 2);
        assert!(removed["reactions"].as_array().unwrap().iter().all(|r| r["user_id"] == alice.id));
        // Removing what is not there changes nothing.
        assert_eq!(api.delete(&format!("{path}/%F0%9F%91%8D"), &bob.token).await.expect(200), &removed);
        let family = "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7";
        let last = api.delete(&format!("{path}/{family}"), &alice.token).await;
        assert_eq!(last.expect(200)["reactions"].as_array().unwrap().len(), 1);
        api.delete(&format!("{path}/a%20b"), &alice.token).await.expect_error(422, "validation_failed");
        let got = api.get(&format!("/api/v1/messages/{}", message["id"]), &alice.token).await;
        assert_eq!(got.expect(200)["reactions"].as_array().unwrap().len(), 1);
    }

    async fn history_pages(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let path = format!("/api/v1/chats/{chat_id}/messages");
        let empty = api.get(&path, &alice.token).await;
        assert_eq!(empty.expect(200), &json!({"messages": [], "has_more": false}));
        let mut sent = Vec::new();
        for i in 0..7 {
            sent.push(api.send(&alice, chat_id, &format!("m{i}")).await);
        }
        let seqs = |v: &Value| -> Vec<i64> {
            v["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect()
        };
        let all: Vec<i64> = sent.iter().map(|m| m["seq"].as_i64().unwrap()).collect();

        let newest = api.get(&format!("{path}?limit=3"), &alice.token).await;
        assert_eq!(seqs(newest.expect(200)), all[4..]);
        assert_eq!(newest.json["has_more"], true);
        let older = api.get(&format!("{path}?limit=3&before_seq={}", all[4]), &alice.token).await;
        assert_eq!(seqs(older.expect(200)), all[1..4]);
        assert_eq!(older.json["has_more"], true);
        let oldest = api.get(&format!("{path}?limit=3&before_seq={}", all[1]), &alice.token).await;
        assert_eq!(seqs(oldest.expect(200)), all[..1]);
        assert_eq!(oldest.json["has_more"], false);
        let exact = api.get(&format!("{path}?limit=7"), &alice.token).await;
        assert_eq!(seqs(exact.expect(200)), all);
        assert_eq!(exact.json["has_more"], false);

        let forward = api.get(&format!("{path}?limit=2&after_seq={}", all[2]), &alice.token).await;
        assert_eq!(seqs(forward.expect(200)), all[3..5]);
        assert_eq!(forward.json["has_more"], true);
        let tail = api.get(&format!("{path}?limit=2&after_seq={}", all[4]), &alice.token).await;
        assert_eq!(seqs(tail.expect(200)), all[5..]);
        assert_eq!(tail.json["has_more"], false);
        let past_end = api.get(&format!("{path}?after_seq={}", all[6]), &alice.token).await;
        assert_eq!(seqs(past_end.expect(200)), Vec::<i64>::new());
        let before_start = api.get(&format!("{path}?before_seq=1"), &alice.token).await;
        assert_eq!(seqs(before_start.expect(200)), Vec::<i64>::new());
        let default_limit = api.get(&format!("{path}?after_seq=0"), &alice.token).await;
        assert_eq!(seqs(default_limit.expect(200)), all);

        // Both cursors: the seqs strictly between them, read forward, in pages.
        let window = api.get(&format!("{path}?limit=2&after_seq={}&before_seq={}", all[1], all[6]), &alice.token).await;
        assert_eq!(seqs(window.expect(200)), all[2..4]);
        assert_eq!(window.json["has_more"], true);
        let rest = api.get(&format!("{path}?limit=2&after_seq={}&before_seq={}", all[3], all[6]), &alice.token).await;
        assert_eq!(seqs(rest.expect(200)), all[4..6]);
        assert_eq!(rest.json["has_more"], false);
        let shut = api.get(&format!("{path}?after_seq={}&before_seq={}", all[4], all[2]), &alice.token).await;
        assert_eq!(shut.expect(200), &json!({"messages": [], "has_more": false}));
        let far = api.get(&format!("{path}?after_seq={}", i64::MAX), &alice.token).await;
        assert_eq!(seqs(far.expect(200)), Vec::<i64>::new());

        for bad in ["limit=0", "limit=201", "limit=abc", "limit=-5", "before_seq=x", "after_seq=-1",
                    "limit=99999999999999999999"] {
            api.get(&format!("{path}?{bad}"), &alice.token).await.expect_error(400, "bad_request");
        }
        api.get(&format!("{path}?limit=200"), &alice.token).await.expect(200);
        api.get("/api/v1/chats/999999/messages", &alice.token).await.expect_error(404, "not_found");
    }

    /// A page costs the same number of queries whatever its size, reactions included.
    async fn history_costs_a_fixed_number_of_queries(server) configured (counting_statements) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        for i in 0..60 {
            let message = api.send(&alice, chat_id, &format!("m{i}")).await;
            let reactions = format!("/api/v1/messages/{}/reactions", message["id"]);
            api.post(&reactions, &bob.token, &json!({"emoji": "👍"})).await.expect(200);
            api.post(&reactions, &alice.token, &json!({"emoji": "🎉"})).await.expect(200);
        }
        let path = format!("/api/v1/chats/{chat_id}/messages");
        let mut costs = Vec::new();
        for limit in [1, 5, 50, 200] {
            let before = server.queries();
            let page = api.get(&format!("{path}?limit={limit}"), &bob.token).await;
            let cost = server.queries() - before;
            let messages = page.expect(200)["messages"].as_array().unwrap().clone();
            assert_eq!(messages.len(), limit.min(60));
            assert!(messages.iter().all(|m| m["reactions"].as_array().unwrap().len() == 2));
            costs.push(cost);
        }
        assert!(costs.windows(2).all(|w| w[0] == w[1]), "queries per page by size: {costs:?}");
        // Authentication, the page (messages, reactions and membership in one statement), and
        // the pool's `SELECT 1` liveness check for each of the two connections checked out.
        assert!(costs[0] <= 4, "queries per page: {costs:?}");
    }

    /// A history page holds the same aggregates as reading each message alone: reactions
    /// aggregated in the page's statement keep their order, timestamps and unicode.
    async fn history_aggregates_match_single_reads(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let message = api.send(&alice, chat_id, &format!("m{i} «ü» \"quoted\"")).await;
            ids.push(message["id"].as_i64().unwrap());
        }
        let react = |id: i64| format!("/api/v1/messages/{id}/reactions");
        api.post(&react(ids[0]), &bob.token, &json!({"emoji": "🎉"})).await.expect(200);
        api.post(&react(ids[0]), &alice.token, &json!({"emoji": "👍🏽"})).await.expect(200);
        api.post(&react(ids[0]), &bob.token, &json!({"emoji": "👍🏽"})).await.expect(200);
        api.post(&react(ids[2]), &alice.token, &json!({"emoji": "❤️"})).await.expect(200);
        api.delete(&format!("/api/v1/messages/{}", ids[3]), &alice.token).await.expect(200);
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &bob.token).await;
        let page = page.expect(200)["messages"].as_array().unwrap().clone();
        assert_eq!(page.len(), 4);
        for (listed, id) in page.iter().zip(&ids) {
            let alone = api.get(&format!("/api/v1/messages/{id}"), &bob.token).await;
            assert_eq!(listed, alone.expect(200));
        }
        assert_eq!(page[0]["reactions"].as_array().unwrap().len(), 3);
        assert_eq!(page[1]["reactions"], json!([]));
        assert_eq!(page[3]["deleted"], true);
    }

    /// Refused sends racing with accepted ones (so they share batches) take no seq.
    async fn refused_sends_in_a_batch_leave_no_gap(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mallory = api.register("mallory").await;
        let chat_id = api.group(&alice, &[]).await;
        let api_ref = &api;
        let (alice_ref, mallory_ref) = (&alice, &mallory);
        let sends = (0..20).map(|i| async move {
            let user = if i % 2 == 0 { alice_ref } else { mallory_ref };
            api_ref
                .post("/api/v1/messages", &user.token, &json!({"chat_id": chat_id, "content": format!("m{i}")}))
                .await
        });
        let answers = futures_util::future::join_all(sends).await;
        let mut seqs = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            if i % 2 == 0 {
                seqs.push(answer.expect(200)["seq"].as_i64().unwrap());
            } else {
                answer.expect_error(403, "not_a_member");
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (2..12).collect::<Vec<i64>>());
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token).await;
        assert_eq!(chat.expect(200)["last_seq"], 11);
    }

    /// Concurrent senders in one chat never share a seq and never leave a gap.
    async fn concurrent_senders_get_gap_free_seqs(server) {
        let api = server.api();
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(api.register(&format!("sender{i}")).await);
        }
        let members: Vec<&crate::common::TestUser> = users[1..].iter().collect();
        let chat_id = api.group(&users[0], &members).await;
        let api_ref = &api;
        let sends = users.iter().flat_map(|user| {
            (0..15).map(move |i| async move {
                api_ref.send(user, chat_id, &format!("{} {i}", user.username)).await
            })
        });
        let answers = futures_util::future::join_all(sends).await;
        let mut seqs: Vec<i64> = answers.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        seqs.sort_unstable();
        // Seqs 1-4 are the members joining; the 60 messages take 5..=64.
        assert_eq!(seqs, (5..=64).collect::<Vec<i64>>());
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages?limit=200"), &users[0].token).await;
        let listed: Vec<i64> = page.expect(200)["messages"].as_array().unwrap().iter()
            .map(|m| m["seq"].as_i64().unwrap()).collect();
        assert_eq!(listed, seqs);
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &users[0].token).await;
        assert_eq!(chat.expect(200)["last_seq"], 64);
    }
}

on_both_backends! {
    /// A send the database refuses fails alone: the other sends stored with it in one round
    /// are stored, and the chat's seqs stay gap-free.
    async fn a_failing_send_does_not_fail_its_neighbours(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        // A fault only this one message meets, raised inside the database.
        server.execute_sql(match server.backend {
            crate::common::Backend::Sqlite => {
                "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.content = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poison'); END;"
            }
            crate::common::Backend::Postgres => {
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
                   IF NEW.content = 'poison' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; \
                 END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER poison BEFORE INSERT ON messages \
                   FOR EACH ROW EXECUTE FUNCTION poison();"
            }
        });
        let api_ref = &api;
        let send = |user: &crate::common::TestUser, content: String| {
            let token = user.token.clone();
            async move {
                api_ref
                    .post("/api/v1/messages", &token,
                        &json!({"chat_id": chat_id, "type": "text", "content": content}))
                    .await
            }
        };
        let mut requests = Vec::new();
        for i in 0..24 {
            if i == 12 {
                requests.push(send(&alice, "poison".to_owned()));
            }
            requests.push(send(&bob, format!("fine {i}")));
        }
        let answers = futures_util::future::join_all(requests).await;
        let mut fine = 0;
        for answer in &answers {
            if answer.status == 500 {
                assert_eq!(answer.json["code"], "internal");
            } else {
                answer.expect(200);
                fine += 1;
            }
        }
        assert_eq!(fine, 24, "every other send was stored");
        assert_eq!(answers.iter().filter(|a| a.status == 500).count(), 1);
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token).await;
        assert_eq!(chat.expect(200)["last_seq"], 2 + 24);
    }
}
