use awc::http::Method;
use serde_json::json;

use crate::on_both_backends;

on_both_backends! {
    async fn replay_returns_the_original_answer(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        // `emoji` is ignored by a send; it makes the body acceptable to the reaction route below.
        let body = json!({"chat_id": chat_id, "type": "text", "content": "once", "emoji": "👍"});
        let first = api.post_with_key("/api/v1/messages", &alice.token, "key-1", &body).await;
        first.expect(200);
        assert_eq!(first.header("idempotent-replayed"), None);
        // Same JSON value, different key order and spacing: the same request.
        let reordered = api.request(Method::POST, "/api/v1/messages", Some(&alice.token),
            &[("Idempotency-Key", "key-1")],
            Some(("application/json", format!("{{ \"emoji\": \"👍\", \"content\": \"once\", \"type\": \"text\", \"chat_id\": {chat_id} }}").into_bytes()))).await;
        assert_eq!(reordered.status, 200);
        assert_eq!(reordered.header("idempotent-replayed"), Some("true"));
        assert_eq!(reordered.text, first.text);
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token).await;
        assert_eq!(page.expect(200)["messages"].as_array().unwrap().len(), 1);

        // Same key, different body.
        let other = api.post_with_key("/api/v1/messages", &alice.token, "key-1",
            &json!({"chat_id": chat_id, "type": "text", "content": "twice"})).await;
        other.expect_error(422, "idempotency_key_mismatch");
        // Same key and body on another path is a different request too.
        let reaction = api.post_with_key(&format!("/api/v1/messages/{}/reactions", first.json["id"]),
            &alice.token, "key-1", &body).await;
        reaction.expect_error(422, "idempotency_key_mismatch");

        // Keys are per user.
        let bob = api.register("bob").await;
        api.post_with_key(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, "add-bob", &json!({"user_id": bob.id})).await.expect(200);
        let bobs = api.post_with_key("/api/v1/messages", &bob.token, "key-1", &body).await;
        assert_eq!(bobs.expect(200)["author_id"], bob.id);
        assert_eq!(bobs.header("idempotent-replayed"), None);
        assert_ne!(bobs.json["id"], first.json["id"]);
    }

    async fn every_post_is_idempotent(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let create = json!({"kind": "group", "title": "Once", "member_ids": []});
        let chat = api.post_with_key("/api/v1/chats", &alice.token, "create", &create).await;
        assert_eq!(chat.status, 201);
        let replay = api.post_with_key("/api/v1/chats", &alice.token, "create", &create).await;
        assert_eq!(replay.status, 201);
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.text, chat.text);
        let list = api.get("/api/v1/chats", &alice.token).await;
        assert_eq!(list.expect(200).as_array().unwrap().len(), 1);

        let chat_id = chat.json["id"].as_i64().unwrap();
        let message = api.send(&alice, chat_id, "hello").await;
        let react = format!("/api/v1/messages/{}/reactions", message["id"]);
        let r1 = api.post_with_key(&react, &alice.token, "react", &json!({"emoji": "🎉"})).await;
        r1.expect(200);
        let r2 = api.post_with_key(&react, &alice.token, "react", &json!({"emoji": "🎉"})).await;
        assert_eq!(r2.header("idempotent-replayed"), Some("true"));
        assert_eq!(r2.text, r1.text);

        let read = format!("/api/v1/chats/{chat_id}/read");
        api.post_with_key(&read, &alice.token, "read", &json!({"seq": 1})).await.expect(204);
        let again = api.post_with_key(&read, &alice.token, "read", &json!({"seq": 1})).await;
        again.expect(204);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));

        let add = format!("/api/v1/chats/{chat_id}/members");
        let a1 = api.post_with_key(&add, &alice.token, "add", &json!({"user_id": bob.id})).await;
        let a2 = api.post_with_key(&add, &alice.token, "add", &json!({"user_id": bob.id})).await;
        assert_eq!(a2.header("idempotent-replayed"), Some("true"));
        assert_eq!(a1.text, a2.text);
    }

    async fn failed_requests_do_not_consume_the_key(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mallory = api.register("mallory").await;
        let chat_id = api.group(&alice, &[]).await;
        // Validation failure, then the corrected request with the same key.
        let bad = api.post_with_key("/api/v1/messages", &alice.token, "retry-me",
            &json!({"chat_id": chat_id, "content": ""})).await;
        bad.expect_error(422, "validation_failed");
        let good = api.post_with_key("/api/v1/messages", &alice.token, "retry-me",
            &json!({"chat_id": chat_id, "content": "fixed"})).await;
        good.expect(200);
        assert_eq!(good.header("idempotent-replayed"), None);
        // Authorization failure (decided inside the transaction) does not consume it either.
        let body = json!({"chat_id": chat_id, "content": "let me in"});
        api.post_with_key("/api/v1/messages", &mallory.token, "knock", &body).await.expect_error(403, "not_a_member");
        api.post_with_key(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, "invite", &json!({"user_id": mallory.id})).await.expect(200);
        let inside = api.post_with_key("/api/v1/messages", &mallory.token, "knock", &body).await;
        inside.expect(200);
        assert_eq!(inside.header("idempotent-replayed"), None);
        // A reply_to in another chat (checked in the transaction) does not consume it.
        let other_chat = api.group(&alice, &[]).await;
        let elsewhere = api.send(&alice, other_chat, "elsewhere").await;
        api.post_with_key("/api/v1/messages", &alice.token, "reply",
            &json!({"chat_id": chat_id, "content": "re", "reply_to_id": elsewhere["id"]})).await
            .expect_error(422, "validation_failed");
        api.post_with_key("/api/v1/messages", &alice.token, "reply",
            &json!({"chat_id": chat_id, "content": "re"})).await.expect(200);
    }

    async fn invalid_keys_are_rejected(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let body = json!({"chat_id": chat_id, "content": "x"});
        let long = "k".repeat(256);
        for key in ["", long.as_str(), "tab\there"] {
            let res = api.request(Method::POST, "/api/v1/messages", Some(&alice.token),
                &[("Idempotency-Key", key)], Some(("application/json", body.to_string().into_bytes()))).await;
            res.expect_error(400, "invalid_idempotency_key");
        }
        let res = api.request(Method::POST, "/api/v1/messages", Some(&alice.token),
            &[("Idempotency-Key", "k".repeat(255).as_str())], Some(("application/json", body.to_string().into_bytes()))).await;
        res.expect(200);
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token).await;
        assert_eq!(page.json["messages"].as_array().unwrap().len(), 1);
    }

    /// Twenty retries racing with one key store one message and all get its answer.
    async fn concurrent_requests_with_one_key_store_one_message(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let body = json!({"chat_id": chat_id, "type": "text", "content": "exactly once"});
        let answers = futures_util::future::join_all((0..20).map(|_| {
            api.post_with_key("/api/v1/messages", &alice.token, "racing-key", &body)
        })).await;
        let mut ids = std::collections::HashSet::new();
        for answer in &answers {
            match answer.status {
                200 => { ids.insert(answer.json["id"].as_i64().unwrap()); }
                409 => answer.expect_error(409, "idempotency_key_in_flight"),
                other => panic!("unexpected {other}: {}", answer.text),
            }
        }
        assert_eq!(ids.len(), 1, "one message id across all answers");
        let fresh = answers.iter().filter(|a| a.status == 200 && a.header("idempotent-replayed").is_none()).count();
        assert_eq!(fresh, 1);
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token).await;
        assert_eq!(page.expect(200)["messages"].as_array().unwrap().len(), 1);
    }

    async fn expired_keys_are_purged(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let body = json!({"chat_id": chat_id, "content": "old"});
        api.post_with_key("/api/v1/messages", &alice.token, "old-key", &body).await.expect(200);
        // Age the record past the retention period, then purge.
        server.execute_sql("UPDATE idempotency_keys SET created_at = created_at - 90000000");
        let purged = parley::actors::db_executor::purge_expired_keys(&server.database).await.unwrap();
        assert_eq!(purged, 1);
        // The key is free again: the same request now stores a second message.
        let again = api.post_with_key("/api/v1/messages", &alice.token, "old-key", &body).await;
        again.expect(200);
        assert_eq!(again.header("idempotent-replayed"), None);
    }
}

/// Several nodes share the database; while one purges expired idempotency keys (it holds the
/// maintenance lock), another's purge does nothing, and then does it all.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn only_one_node_purges_expired_keys_at_a_time() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;

    let Some(server) = crate::common::TestServer::start(crate::common::Backend::Postgres).await
    else {
        return;
    };
    let alice = server.api().register("alice").await;
    server.execute_sql(&format!(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at) \
         VALUES ({}, 'old', 'f', 200, '{{}}', 0)",
        alice.id
    ));
    let parley::config::DatabaseUrl::Postgres(url) = server.database_url.clone() else {
        unreachable!()
    };
    // The other node: a transaction that holds the lock until told to finish.
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let other_node = std::thread::spawn(move || {
        let mut conn =
            AsyncConnectionWrapper::<diesel_async::AsyncPgConnection>::establish(&url).unwrap();
        conn.batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({});",
            parley::db::queries::PURGE_LOCK
        ))
        .unwrap();
        locked_tx.send(()).unwrap();
        released.recv().unwrap();
        conn.batch_execute("COMMIT").unwrap();
    });
    locked.recv().unwrap();
    let purge = || parley::actors::db_executor::purge_expired_keys(&server.database);
    assert_eq!(purge().await.unwrap(), 0, "another node is purging");
    release.send(()).unwrap();
    other_node.join().unwrap();
    assert_eq!(purge().await.unwrap(), 1);
}
