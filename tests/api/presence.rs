//! Presence: who is online, told to those who share a chat in which the user has shown
//! themselves (created it, or written in it) and to nobody else.

use std::time::{Duration, Instant};

use serde_json::json;

use parley::config::Config;

use crate::common::ws::{presence_frame, WsClient};
use crate::common::TestServer;
use crate::on_both_backends;

/// Short, so that the tests can wait it out; long enough that a reconnect fits inside it.
const GRACE: Duration = Duration::from_millis(700);
/// How often these servers write `last_seen_at` (a minute by default).
const FLUSH: Duration = Duration::from_millis(300);

/// Servers with a short grace and frequent writes of `last_seen_at`.
fn quick_presence(config: &mut Config) {
    config.presence.grace = GRACE;
    config.presence.flush_every = FLUSH;
}

/// Waits until the server has ended every session but `open` (it has seen the closes).
async fn sessions_fall_to(server: &TestServer, open: usize) {
    for _ in 0..200 {
        if server.metric("ws_sessions") as usize == open {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "the server still holds {} sessions",
        server.metric("ws_sessions")
    );
}

on_both_backends! {
    /// Coming online and going offline reach those who share a chat with the user, once, and
    /// nobody else; the user's own answers show it to them and hide it from strangers.
    async fn presence_reaches_those_who_share_a_chat(server) configured (quick_presence) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let dave = api.register("dave").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        // Bob shows himself in alice's chat by writing in it.
        api.send(&bob, chat_id, "hi").await;
        api.group(&carol, &[&dave]).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let mut carol_ws = WsClient::connect(&server, &carol.token).await;

        let bob_ws = WsClient::connect(&server, &bob.token).await;
        assert_eq!(alice_ws.next_presence_of(bob.id, Duration::from_secs(5)).await, Some(presence_frame(bob.id, "online")));
        // A second session of an online user changes nothing.
        let bob_second = WsClient::connect(&server, &bob.token).await;

        let seen_by_alice = api.get(&format!("/api/v1/users/{}", bob.id), &alice.token).await;
        assert_eq!(seen_by_alice.expect(200)["online"], true);
        assert!(seen_by_alice.json["last_seen_at"].is_string());
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token).await;
        let members = chat.expect(200)["members"].as_array().unwrap().clone();
        assert!(members.iter().all(|m| m["online"] == true), "{members:?}");
        let listed = api.get("/api/v1/chats", &bob.token).await;
        assert!(listed.expect(200)[0]["members"].as_array().unwrap().iter().all(|m| m["online"] == true));
        // Nobody needs telling their own presence.
        let me = api.get("/api/v1/users/me", &bob.token).await;
        assert!(me.expect(200).get("online").is_none());
        // A stranger sees the account, not its presence.
        let seen_by_carol = api.get(&format!("/api/v1/users/{}", bob.id), &carol.token).await;
        let seen_by_carol = seen_by_carol.expect(200);
        assert_eq!(seen_by_carol["username"], "bob");
        assert!(seen_by_carol.get("online").is_none() && seen_by_carol.get("last_seen_at").is_none(),
            "{seen_by_carol}");
        let looked_up = api.get("/api/v1/users/lookup?username=bob", &carol.token).await;
        assert!(looked_up.expect(200).get("online").is_none());

        bob_second.close().await;
        bob_ws.close().await;
        let closed = Instant::now();
        assert_eq!(alice_ws.next_presence_of(bob.id, Duration::from_secs(10)).await, Some(presence_frame(bob.id, "offline")));
        assert!(closed.elapsed() >= GRACE.mul_f32(0.9), "offline came after {:?}", closed.elapsed());
        let seen_by_alice = api.get(&format!("/api/v1/users/{}", bob.id), &alice.token).await;
        assert_eq!(seen_by_alice.expect(200)["online"], false);
        assert!(seen_by_alice.json["last_seen_at"].is_string(), "{}", seen_by_alice.json);

        // Nothing more for alice, nothing at all for the stranger.
        assert_eq!(alice_ws.next_presence(GRACE * 2).await, None);
        assert_eq!(carol_ws.next_presence(Duration::from_millis(100)).await, None);
    }

    /// A reconnect within the grace period (a reload, a network blip) is no offline/online
    /// flap, and closing one of two sessions is no change at all.
    async fn a_reconnect_within_the_grace_is_no_flap(server) configured (quick_presence) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        api.send(&bob, chat_id, "hi").await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let bob_ws = WsClient::connect(&server, &bob.token).await;
        assert_eq!(alice_ws.next_presence_of(bob.id, Duration::from_secs(5)).await, Some(presence_frame(bob.id, "online")));

        let closed = Instant::now();
        bob_ws.close().await;
        sessions_fall_to(&server, 1).await;
        let bob_ws = WsClient::connect(&server, &bob.token).await;
        assert!(closed.elapsed() < GRACE, "the reconnect took {:?}", closed.elapsed());
        let other = WsClient::connect(&server, &bob.token).await;
        other.close().await;
        sessions_fall_to(&server, 2).await;
        assert_eq!(alice_ws.next_presence(GRACE * 3).await, None, "no flap");
        let seen = api.get(&format!("/api/v1/users/{}", bob.id), &alice.token).await;
        assert_eq!(seen.expect(200)["online"], true);

        bob_ws.close().await;
        assert_eq!(alice_ws.next_presence_of(bob.id, Duration::from_secs(10)).await, Some(presence_frame(bob.id, "offline")));
    }

    /// Whom a change concerns is decided when it happens: a user who came to share a chat
    /// with someone already online hears when that one goes offline, and a user who left
    /// the only chat they shared hears nothing more.
    async fn presence_follows_who_shares_a_chat_now(server) configured (quick_presence) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&carol]).await;
        api.send(&carol, chat_id, "hi").await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let mut carol_ws = WsClient::connect(&server, &carol.token).await;
        assert_eq!(alice_ws.next_presence_of(carol.id, Duration::from_secs(5)).await, Some(presence_frame(carol.id, "online")));
        let bob_ws = WsClient::connect(&server, &bob.token).await;
        assert_eq!(alice_ws.next_presence(Duration::from_millis(300)).await, None, "strangers");

        // Alice and bob come to share a chat while bob is online; carol leaves alice's chat.
        api.post(&format!("/api/v1/chats/{chat_id}/members"), &alice.token, &json!({"user_id": bob.id}))
            .await
            .expect(200);
        api.send(&bob, chat_id, "hello all").await;
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", carol.id), &carol.token)
            .await
            .expect(204);
        let chat = api.get(&format!("/api/v1/chats/{chat_id}"), &alice.token).await;
        let bob_member = chat.expect(200)["members"].as_array().unwrap().iter()
            .find(|m| m["user_id"] == bob.id).cloned().unwrap();
        assert_eq!(bob_member["online"], true);

        bob_ws.close().await;
        assert_eq!(alice_ws.next_presence_of(bob.id, Duration::from_secs(10)).await, Some(presence_frame(bob.id, "offline")));
        // Carol may have heard alice come online, if she connected while that went out.
        while carol_ws.next_presence(Duration::from_millis(50)).await.is_some() {}
        alice_ws.close().await;
        assert_eq!(carol_ws.next_presence(GRACE * 3).await, None, "carol no longer shares a chat");
    }

    /// `last_seen_at` is kept in the database (written each flush period, never on connect),
    /// where it outlives the process.
    async fn last_seen_is_kept_in_the_database(server) configured (quick_presence) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        api.send(&bob, chat_id, "hi").await;
        let recorded = || async {
            let mut conn = server.database.conn().await.expect("connection");
            parley::with_backend!(&mut conn, q, c => q::users::find_seen_by(c, parley::domain::UserId(bob.id), parley::domain::UserId(alice.id)).await)
                .expect("query")
                .expect("bob")
                .last_seen_at
        };
        assert_eq!(recorded().await, None, "never seen");

        let bob_ws = WsClient::connect(&server, &bob.token).await;
        let while_online =
            crate::common::wait_for("last_seen_at written while online", FLUSH * 20, || {
                recorded()
            })
            .await;
        bob_ws.close().await;
        let mut offline_at = None;
        for _ in 0..100 {
            let seen = api.get(&format!("/api/v1/users/{}", bob.id), &alice.token).await;
            if seen.expect(200)["online"] == false {
                offline_at = seen.json["last_seen_at"].as_str().map(str::to_owned);
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        let offline_at = offline_at.expect("bob went offline with a last_seen_at");
        // The time it went offline is written, and kept.
        let offline = json!(offline_at);
        let kept = crate::common::wait_for("last_seen_at written at going offline", FLUSH * 20, || {
            let (recorded, offline) = (recorded(), &offline);
            async move {
                recorded
                    .await
                    .filter(|kept| serde_json::to_value(kept).ok().as_ref() == Some(offline))
            }
        })
        .await;
        assert!(kept > while_online);
        assert_eq!(serde_json::to_value(kept).unwrap(), json!(offline_at));
    }
}
