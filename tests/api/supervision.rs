//! A room that fails is replaced: its sessions are fed what they missed, its chat goes on, and
//! no other chat notices.

use std::time::Duration;

use serde_json::json;

use crate::common::ws::WsClient;
use crate::on_both_backends;

on_both_backends! {
    /// The room panics after a batch commits and before it broadcasts or answers it: the
    /// sender gets a 503 it can retry with its key, the sessions get the committed message
    /// (once, in order, then `resumed`), and chats on the same room threads carry on.
    async fn a_failed_room_is_restarted_and_its_sessions_miss_nothing(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        // Rooms are spread over one thread per core by chat id: enough chats that some share
        // the failing room's thread.
        let mut others = Vec::new();
        for _ in 0..8 {
            others.push(api.group(&alice, &[&bob]).await);
        }
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let first = api.send(&alice, chat_id, "before").await;
        assert_eq!(bob_ws.next_event().await["data"], first);

        server.faults.panic_after_next_commit(parley::domain::ChatId(chat_id)).await.unwrap();
        let body = json!({"chat_id": chat_id, "type": "text", "content": "during"});
        let lost_answer = api.post_with_key("/api/v1/messages", &alice.token, "k-during", &body).await;
        lost_answer.expect_error(503, "unavailable");
        assert!(lost_answer.header("retry-after").is_some());

        // Bob's session is fed the committed message from the log, then told it has caught up.
        let during = bob_ws.next_event().await;
        assert_eq!(during["type"], "message.created");
        assert_eq!(during["seq"], first["seq"].as_i64().unwrap() + 1);
        assert_eq!(during["data"]["content"], "during");
        let resumed = bob_ws.next_event().await;
        assert_eq!(resumed["type"], "resumed", "{resumed}");
        assert_eq!(resumed["data"]["to_seq"], during["seq"]);

        // The retry with the same key finds the stored message and sends nothing again.
        let retried = api.post_with_key("/api/v1/messages", &alice.token, "k-during", &body).await;
        assert_eq!(retried.expect(200)["id"], during["data"]["id"]);
        assert_eq!(retried.header("idempotent-replayed"), Some("true"));
        bob_ws.expect_silence(Duration::from_millis(300)).await;

        // The chat goes on from the next seq, and every other chat was never disturbed.
        let after = api.send(&alice, chat_id, "after").await;
        assert_eq!(after["seq"], during["seq"].as_i64().unwrap() + 1);
        assert_eq!(bob_ws.next_event().await["data"], after);
        for &other in &others {
            let sent = api.send(&alice, other, "elsewhere").await;
            assert_eq!(bob_ws.next_event().await["data"], sent);
        }
        bob_ws.expect_silence(Duration::from_millis(300)).await;
        let page = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &alice.token).await;
        let contents: Vec<&str> = page.expect(200)["messages"].as_array().unwrap().iter()
            .map(|m| m["content"].as_str().unwrap()).collect();
        assert_eq!(contents, ["before", "during", "after"]);
        assert_eq!(server.metric("room_restarts_total"), 1.0);
        assert_eq!(server.metric("chat_rooms"), 9.0);
    }
}
