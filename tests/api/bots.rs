//! Bots (issue 30): users a person owns, signing in only by token, using the API and the
//! WebSocket as anyone does; rotation revokes, deletion deactivates.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::ws::WsClient;
use crate::common::{Api, TestUser};
use crate::on_both_backends;

async fn create_bot(api: &Api, owner: &TestUser, username: &str) -> (Value, TestUser) {
    let answer = api
        .post(
            "/api/v1/bots",
            &owner.token,
            &json!({"username": username, "display_name": "CI"}),
        )
        .await;
    let body = answer.expect(201).clone();
    let bot = TestUser {
        id: body["user"]["id"].as_i64().unwrap(),
        username: username.to_owned(),
        token: body["access_token"].as_str().unwrap().to_owned(),
    };
    (body, bot)
}

on_both_backends! {
    async fn a_bot_uses_the_api_and_the_websocket_with_its_token(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let (created, bot) = create_bot(&api, &alice, "ci-bot").await;
        assert_eq!(created["user"]["is_bot"], true);
        assert_eq!(created["user"]["display_name"], "CI");
        let me = api.get("/api/v1/users/me", &bot.token).await;
        assert_eq!(me.expect(200)["is_bot"], true);
        assert_eq!(api.get("/api/v1/users/me", &alice.token).await.expect(200)["is_bot"], false);
        // No password opens it, not even an empty one.
        api.login("ci-bot", "").await.expect_error(401, "unauthorized");
        api.login("ci-bot", "correct horse").await.expect_error(401, "unauthorized");

        // Added to a group like anyone, it reads and writes there, REST and WebSocket.
        let group = api.group(&alice, &[&bot]).await;
        let chat = api.get(&format!("/api/v1/chats/{group}"), &alice.token).await;
        assert!(chat.expect(200)["members"].as_array().unwrap().iter().any(|m| m["user_id"] == bot.id));
        let seen = api.get(&format!("/api/v1/users/{}", bot.id), &alice.token).await;
        assert_eq!(seen.expect(200)["is_bot"], true);
        let mut ws = WsClient::connect(&server, &bot.token).await;
        api.send(&alice, group, "deploy please").await;
        let event = ws.next_event().await;
        assert_eq!(event["type"], "message.created");
        assert_eq!(event["data"]["content"], "deploy please");
        let posted = api.send(&bot, group, "deployed").await;
        assert_eq!(posted["author_id"], bot.id);

        let listed = api.get("/api/v1/bots", &alice.token).await;
        let bots = listed.expect(200).as_array().unwrap().clone();
        assert_eq!(bots.len(), 1);
        assert_eq!(bots[0]["id"], bot.id);
        assert_eq!(api.get("/api/v1/bots", &bot.token).await.expect(200), &json!([]));

        // Rotation: a new token works, the old one and its session are gone at once.
        let rotated = api.post(&format!("/api/v1/bots/{}/token", bot.id), &alice.token, &json!({})).await;
        let fresh = rotated.expect(200)["access_token"].as_str().unwrap().to_owned();
        assert_eq!(ws.closed(Duration::from_secs(5)).await, Some(1008));
        api.get("/api/v1/users/me", &bot.token).await.expect_error(401, "unauthorized");
        assert_eq!(api.get("/api/v1/users/me", &fresh).await.expect(200)["id"], bot.id);

        // Deletion deactivates: the token and its session end, its messages stay.
        let mut ws = WsClient::connect(&server, &fresh).await;
        api.delete(&format!("/api/v1/bots/{}", bot.id), &alice.token).await.expect(204);
        assert_eq!(ws.closed(Duration::from_secs(5)).await, Some(1008));
        api.get("/api/v1/users/me", &fresh).await.expect_error(401, "unauthorized");
        assert_eq!(api.get("/api/v1/bots", &alice.token).await.expect(200), &json!([]));
        let page = api.get(&format!("/api/v1/chats/{group}/messages"), &alice.token).await;
        assert!(page.expect(200)["messages"].as_array().unwrap().iter().any(|m| m["content"] == "deployed"));
        api.delete(&format!("/api/v1/bots/{}", bot.id), &alice.token).await.expect_error(404, "not_found");
    }

    async fn only_its_owner_manages_a_bot(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mallory = api.register("mallory").await;
        let (_, bot) = create_bot(&api, &alice, "alices-bot").await;
        // Another person, and the bot itself, see no such bot.
        for who in [&mallory, &bot] {
            api.post(&format!("/api/v1/bots/{}/token", bot.id), &who.token, &json!({})).await
                .expect_error(404, "not_found");
            api.delete(&format!("/api/v1/bots/{}", bot.id), &who.token).await
                .expect_error(404, "not_found");
        }
        // A person is no bot to rotate.
        api.post(&format!("/api/v1/bots/{}/token", mallory.id), &mallory.token, &json!({})).await
            .expect_error(404, "not_found");
        api.get("/api/v1/users/me", &bot.token).await.expect(200);
        // A bot owns no bots.
        api.post("/api/v1/bots", &bot.token, &json!({"username": "sub-bot"})).await
            .expect_error(403, "forbidden");
        // Names are shared with people.
        api.post("/api/v1/bots", &alice.token, &json!({"username": "mallory"})).await
            .expect_error(409, "username_taken");
        api.post("/api/v1/bots", &alice.token, &json!({"username": "NO SPACES"})).await
            .expect_error(422, "validation_failed");
        // A revoked token creates nothing.
        api.post("/api/v1/auth/logout", &mallory.token, &json!({})).await.expect(204);
        api.post("/api/v1/bots", &mallory.token, &json!({"username": "late-bot"})).await
            .expect_error(401, "unauthorized");
        api.register("late-bot").await;
    }

    async fn a_person_has_at_most_twenty_bots(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let mut first = None;
        for n in 0..20 {
            let (_, bot) = create_bot(&api, &alice, &format!("bot-{n}")).await;
            first.get_or_insert(bot);
        }
        api.post("/api/v1/bots", &alice.token, &json!({"username": "bot-20"})).await
            .expect_error(409, "too_many_bots");
        // A deleted bot frees its place.
        let first = first.unwrap();
        api.delete(&format!("/api/v1/bots/{}", first.id), &alice.token).await.expect(204);
        create_bot(&api, &alice, "bot-20").await;
    }

    async fn a_deactivated_owner_cannot_make_bots(server) configured (|c: &mut parley::config::Config| {
        c.admin_token = Some("operator-secret".to_owned());
    }) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let (_, bobs_bot) = create_bot(&api, &bob, "bobs-first-bot").await;
        let mut ws = WsClient::connect(&server, &bobs_bot.token).await;
        api.post(&format!("/admin/users/{}/deactivate", bob.id), "operator-secret", &json!({}))
            .await
            .expect(200);
        // Their bots go with them: nobody could rotate or delete those any more.
        assert_eq!(ws.closed(Duration::from_secs(5)).await, Some(1008));
        api.get("/api/v1/users/me", &bobs_bot.token).await.expect_error(401, "unauthorized");
        api.post("/api/v1/bots", &bob.token, &json!({"username": "bobs-bot"})).await
            .expect_error(401, "unauthorized");
        create_bot(&api, &alice, "alices-bot").await;
    }
}

#[path = "../../examples/ping_bot.rs"]
mod ping_bot;

on_both_backends! {
    /// The example bot (`examples/ping_bot.rs`), run against the server: it answers `!ping`
    /// in the group it was added to, and stops when its owner rotates its token.
    async fn the_example_bot_answers_pings(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let (_, bot) = create_bot(&api, &alice, "pingbot").await;
        let group = api.group(&alice, &[&bot]).await;
        let client = api.client().with_token(&bot.token);
        let running = actix_rt::spawn(async move { ping_bot::answer_pings(&client).await });
        // Whether its session is open yet, nothing shows (a bot that has not written shows no
        // presence): ping until it answers.
        let mut pings = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let pong = loop {
            let page = api.get(&format!("/api/v1/chats/{group}/messages"), &alice.token).await;
            let found = page.json["messages"].as_array().unwrap().iter()
                .find(|m| m["content"] == "pong").cloned();
            if let Some(pong) = found {
                break pong;
            }
            assert!(std::time::Instant::now() < deadline, "no pong");
            pings.push(api.send(&alice, group, "!ping").await["id"].clone());
            actix_rt::time::sleep(Duration::from_millis(300)).await;
        };
        assert!(pings.contains(&pong["reply_to_id"]), "{pong}");
        assert_eq!(pong["author_id"], bot.id);
        api.post(&format!("/api/v1/bots/{}/token", bot.id), &alice.token, &json!({})).await.expect(200);
        let closed = running.await.unwrap().unwrap();
        assert_eq!(closed, Some(1008));
    }
}
