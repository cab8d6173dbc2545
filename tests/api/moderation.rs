//! Blocks and reports (issue 31): a blocked person cannot open, write into, or add the blocker
//! to a chat, and nothing of a refused write is stored or broadcast; a report keeps the message
//! as it was; operators resolve reports, and what they decide reaches every member.

use std::time::Duration;

use serde_json::{json, Value};

use parley_types::{MessageId, ReportAction, ReportReason, ReportStatus};

use crate::common::ws::WsClient;
use crate::common::{Api, Backend, TestServer, TestUser};
use crate::membership::{quick_idle, wait_for_no_rooms};
use crate::on_both_backends;

const ADMIN: &str = "admin-token-for-moderation-tests";

fn with_admin(c: &mut parley::config::Config) {
    c.admin_token = Some(ADMIN.to_owned());
}

async fn direct(api: &Api, from: &TestUser, to: &TestUser) -> i64 {
    let answer = api
        .post(
            "/api/v1/chats",
            &from.token,
            &json!({"kind": "direct", "member_ids": [to.id]}),
        )
        .await;
    assert!(
        answer.status == 200 || answer.status == 201,
        "{}",
        answer.text
    );
    answer.json["id"].as_i64().unwrap()
}

async fn chat_count(api: &Api, user: &TestUser) -> usize {
    api.get("/api/v1/chats", &user.token)
        .await
        .expect(200)
        .as_array()
        .unwrap()
        .len()
}

fn send_body(chat_id: i64, content: &str) -> Value {
    json!({"chat_id": chat_id, "type": "text", "content": content})
}

async fn report(api: &Api, user: &TestUser, message_id: i64, reason: &str) -> crate::common::Resp {
    api.post(
        &format!("/api/v1/messages/{message_id}/report"),
        &user.token,
        &json!({"reason": reason, "comment": "please look"}),
    )
    .await
}

async fn resolve(api: &Api, report_id: i64, action: &str) -> crate::common::Resp {
    api.post(
        &format!("/admin/reports/{report_id}/resolve"),
        ADMIN,
        &json!({ "action": action }),
    )
    .await
}

/// The events a fresh session resuming after `after_seq` is given, up to `resumed`.
async fn resumed_events(
    server: &TestServer,
    user: &TestUser,
    chat_id: i64,
    after_seq: i64,
) -> Vec<Value> {
    let mut ws = WsClient::connect(server, &user.token).await;
    ws.send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": after_seq}))
        .await;
    let mut events = Vec::new();
    loop {
        let frame = ws.next_event().await;
        if frame["type"] == "resumed" {
            return events;
        }
        events.push(frame);
    }
}

on_both_backends! {
    async fn a_blocked_person_cannot_open_write_into_or_add_the_blocker(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let dm = direct(&api, &bob, &alice).await;
        let earlier = api.send(&bob, dm, "hi alice").await;
        let shared = api.group(&carol, &[&alice, &bob]).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;

        api.post(&format!("/api/v1/users/{}/block", bob.id), &alice.token, &json!({}))
            .await
            .expect(204);
        // Blocking again changes nothing.
        api.post(&format!("/api/v1/users/{}/block", bob.id), &alice.token, &json!({}))
            .await
            .expect(204);
        let blocks = api.get("/api/v1/users/me/blocks", &alice.token).await;
        let blocks = blocks.expect(200).as_array().unwrap().clone();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0]["id"], bob.id);
        assert_eq!(blocks[0]["username"], "bob");

        // Invisible to the blocked: their own list, the chat, the user, say nothing of it.
        assert_eq!(api.get("/api/v1/users/me/blocks", &bob.token).await.expect(200), &json!([]));
        let chat_seen_by_bob = api.get(&format!("/api/v1/chats/{dm}"), &bob.token).await;
        assert!(!chat_seen_by_bob.text.contains("block"), "{}", chat_seen_by_bob.text);
        let list_seen_by_bob = api.get("/api/v1/chats", &bob.token).await;
        assert!(!list_seen_by_bob.text.contains("block"), "{}", list_seen_by_bob.text);
        let alice_seen_by_bob = api.get(&format!("/api/v1/users/{}", alice.id), &bob.token).await;
        assert!(!alice_seen_by_bob.text.contains("block"), "{}", alice_seen_by_bob.text);

        // Every way in is refused, and nothing of it is stored or broadcast.
        let seq_before = api.last_seq(&alice, dm).await;
        let chats_before = chat_count(&api, &bob).await;
        api.post("/api/v1/messages", &bob.token, &send_body(dm, "answer me"))
            .await
            .expect_error(403, "blocked");
        api.post_with_key("/api/v1/messages", &bob.token, "k-1", &send_body(dm, "answer me"))
            .await
            .expect_error(403, "blocked");
        api.post("/api/v1/chats", &bob.token, &json!({"kind": "direct", "member_ids": [alice.id]}))
            .await
            .expect_error(403, "blocked");
        api.patch(
            &format!("/api/v1/messages/{}", earlier["id"]),
            &bob.token,
            &json!({"content": "something worse"}),
        )
        .await
        .expect_error(403, "blocked");
        api.post(
            &format!("/api/v1/messages/{}/reactions", earlier["id"]),
            &bob.token,
            &json!({"emoji": "👎"}),
        )
        .await
        .expect_error(403, "blocked");
        api.post(
            "/api/v1/chats",
            &bob.token,
            &json!({"kind": "group", "title": "Trap", "member_ids": [alice.id, carol.id]}),
        )
        .await
        .expect_error(403, "blocked");
        let own_group = api.group(&bob, &[&carol]).await;
        let group_seq = api.last_seq(&bob, own_group).await;
        api.post(
            &format!("/api/v1/chats/{own_group}/members"),
            &bob.token,
            &json!({"user_id": alice.id}),
        )
        .await
        .expect_error(403, "blocked");
        assert_eq!(api.last_seq(&alice, dm).await, seq_before);
        assert_eq!(api.last_seq(&bob, own_group).await, group_seq);
        assert_eq!(chat_count(&api, &bob).await, chats_before + 1, "only the group with carol");
        assert_eq!(chat_count(&api, &alice).await, 2, "alice is in no new chat");
        alice_ws.expect_silence(Duration::from_millis(500)).await;
        let page = api.get(&format!("/api/v1/chats/{dm}/messages"), &alice.token).await;
        let contents: Vec<&str> = page.expect(200)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(contents, ["hi alice"]);
        assert_eq!(resumed_events(&server, &alice, dm, seq_before).await, Vec::<Value>::new());

        // The blocker still writes, bob still reads; shared groups are as before.
        api.send(&alice, dm, "leave me alone").await;
        let in_group = api.send(&bob, shared, "hello everyone").await;
        let event = alice_ws.next_event().await;
        assert_eq!(event["data"]["content"], "leave me alone");
        let event = alice_ws.next_event().await;
        assert_eq!(event["data"]["id"], in_group["id"]);
        api.get(&format!("/api/v1/chats/{dm}/messages"), &bob.token).await.expect(200);

        // Unblocking restores every way in.
        api.delete(&format!("/api/v1/users/{}/block", bob.id), &alice.token).await.expect(204);
        api.delete(&format!("/api/v1/users/{}/block", bob.id), &alice.token).await.expect(204);
        assert_eq!(api.get("/api/v1/users/me/blocks", &alice.token).await.expect(200), &json!([]));
        let sent = api.send(&bob, dm, "sorry").await;
        let event = alice_ws.next_event().await;
        assert_eq!(event["type"], "message.created");
        assert_eq!(event["data"]["id"], sent["id"]);
        assert_eq!(direct(&api, &bob, &alice).await, dm);
        api.post(
            &format!("/api/v1/chats/{own_group}/members"),
            &bob.token,
            &json!({"user_id": alice.id}),
        )
        .await
        .expect(200);
    }

    async fn who_may_not_block(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let path = format!("/api/v1/users/{}/block", bob.id);
        api.post(&path, "", &json!({})).await.expect_error(401, "unauthorized");
        api.post(&format!("/api/v1/users/{}/block", alice.id), &alice.token, &json!({}))
            .await
            .expect_error(422, "validation_failed");
        api.post("/api/v1/users/999999/block", &alice.token, &json!({}))
            .await
            .expect_error(404, "not_found");
        api.delete("/api/v1/users/999999/block", &alice.token)
            .await
            .expect_error(404, "not_found");
        api.post("/api/v1/users/abc/block", &alice.token, &json!({}))
            .await
            .expect_error(404, "not_found");
        // A token revoked a moment ago blocks nobody.
        let revoked = api.login("alice", "correct horse").await.expect(200)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        api.post("/api/v1/auth/logout", &revoked, &json!({})).await.expect(204);
        api.post(&path, &revoked, &json!({})).await.expect_error(401, "unauthorized");
        api.get("/api/v1/users/me/blocks", &revoked).await.expect_error(401, "unauthorized");
        assert_eq!(api.get("/api/v1/users/me/blocks", &alice.token).await.expect(200), &json!([]));
    }

    async fn a_report_keeps_the_message_as_it_was_when_reported(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let dave = api.register("dave").await;
        let group = api.group(&alice, &[&bob, &dave]).await;
        api.send(&alice, group, "before one").await;
        let bad = api.send(&bob, group, "you are awful").await;
        api.send(&alice, group, "after one").await;
        let bad_id = bad["id"].as_i64().unwrap();

        let created = report(&api, &alice, bad_id, "abuse").await;
        let created = created.expect(201).clone();
        assert_eq!(created["status"], "open");
        assert_eq!(created["message_id"], bad_id);
        assert_eq!(created["reason"], "abuse");
        let report_id = created["id"].as_i64().unwrap();
        // One open report per reporter and message.
        report(&api, &alice, bad_id, "spam").await.expect_error(409, "already_reported");

        // The author edits, then deletes: the operators still see what was reported.
        api.patch(&format!("/api/v1/messages/{bad_id}"), &bob.token, &json!({"content": "hello"}))
            .await
            .expect(200);
        api.delete(&format!("/api/v1/messages/{bad_id}"), &bob.token).await.expect(200);
        let listed = api.get("/admin/reports?status=open", ADMIN).await;
        let reports = listed.expect(200)["reports"].as_array().unwrap().clone();
        assert_eq!(reports.len(), 1);
        let listed = &reports[0];
        assert_eq!(listed["id"], report_id);
        assert_eq!(listed["status"], "open");
        assert_eq!(listed["reason"], "abuse");
        assert_eq!(listed["comment"], "please look");
        assert_eq!(listed["reporter"]["id"], alice.id);
        assert_eq!(listed["author"]["id"], bob.id);
        assert_eq!(listed["chat_id"], group);
        assert_eq!(listed["message"]["content"], "you are awful");
        assert_eq!(listed["message"]["deleted"], false);
        assert_eq!(listed["resolution"], Value::Null);
        assert!(listed.get("context").is_none());
        // One report: the messages around it, as they are now.
        let shown = api.get(&format!("/admin/reports/{report_id}"), ADMIN).await;
        let shown = shown.expect(200);
        assert_eq!(shown["message"]["content"], "you are awful");
        let context: Vec<(Value, Value)> = shown["context"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["content"].clone(), m["deleted"].clone()))
            .collect();
        assert_eq!(
            context,
            [
                (json!("before one"), json!(false)),
                (json!(""), json!(true)),
                (json!("after one"), json!(false)),
            ]
        );

        // Who may not report: an outsider, the author, a removed member, a bad body, a
        // deleted message, no message.
        report(&api, &carol, bad_id, "spam").await.expect_error(403, "not_a_member");
        let own = api.send(&dave, group, "mine").await;
        report(&api, &dave, own["id"].as_i64().unwrap(), "spam").await.expect_error(403, "forbidden");
        api.delete(&format!("/api/v1/chats/{group}/members/{}", dave.id), &alice.token)
            .await
            .expect(204);
        let other = api.send(&alice, group, "after dave left").await;
        report(&api, &dave, other["id"].as_i64().unwrap(), "spam").await.expect_error(403, "not_a_member");
        report(&api, &bob, bad_id, "spam").await.expect_error(403, "forbidden");
        report(&api, &alice, 999_999, "spam").await.expect_error(404, "not_found");
        let other_id = other["id"].as_i64().unwrap();
        let path = format!("/api/v1/messages/{other_id}/report");
        api.post(&path, &bob.token, &json!({"reason": "rude"})).await.expect_error(422, "validation_failed");
        api.post(&path, &bob.token, &json!({})).await.expect_error(422, "validation_failed");
        api.post(&path, &bob.token, &json!({"reason": "spam", "comment": "x".repeat(1001)}))
            .await
            .expect_error(422, "validation_failed");
        api.post(&path, &bob.token, &json!({"reason": "spam", "comment": "bad\u{202e}"}))
            .await
            .expect_error(422, "validation_failed");
        api.post(&path, "", &json!({"reason": "spam"})).await.expect_error(401, "unauthorized");
        api.delete(&format!("/api/v1/messages/{other_id}"), &alice.token).await.expect(200);
        report(&api, &bob, other_id, "spam").await.expect_error(409, "message_deleted");
        let still = api.get("/admin/reports", ADMIN).await;
        assert_eq!(still.expect(200)["reports"].as_array().unwrap().len(), 1, "nothing else was recorded");

        // The operators' routes: only with the admin token.
        api.get("/admin/reports", &alice.token).await.expect_error(401, "unauthorized");
        api.get(&format!("/admin/reports/{report_id}"), &alice.token).await.expect_error(401, "unauthorized");
        api.post(&format!("/admin/reports/{report_id}/resolve"), &alice.token, &json!({"action": "dismiss"}))
            .await
            .expect_error(401, "unauthorized");
        api.get("/admin/reports?status=closed", ADMIN).await.expect_error(400, "bad_request");
        api.get("/admin/reports?limit=0", ADMIN).await.expect_error(400, "bad_request");
        api.get("/admin/reports/999999", ADMIN).await.expect_error(404, "not_found");
        resolve(&api, 999_999, "dismiss").await.expect_error(404, "not_found");
        resolve(&api, report_id, "ban").await.expect_error(422, "validation_failed");

        // Dismissed: recorded with the action and the time; a report can be made again.
        let dismissed = resolve(&api, report_id, "dismiss").await;
        let dismissed = dismissed.expect(200);
        assert_eq!(dismissed["status"], "resolved");
        assert_eq!(dismissed["resolution"], "dismiss");
        assert!(dismissed["resolved_at"].as_str().is_some());
        resolve(&api, report_id, "delete_message").await.expect_error(409, "report_resolved");
        assert_eq!(api.get("/admin/reports?status=open", ADMIN).await.expect(200)["reports"], json!([]));
        let resolved = api.get("/admin/reports?status=resolved", ADMIN).await;
        assert_eq!(resolved.expect(200)["reports"][0]["resolution"], "dismiss");
    }

    async fn resolving_with_delete_message_tombstones_it_for_every_member(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let group = api.group(&alice, &[&bob, &carol]).await;
        let bad = api.send(&bob, group, "buy my pills").await;
        let bad_id = bad["id"].as_i64().unwrap();
        let from_alice = report(&api, &alice, bad_id, "spam").await.expect(201)["id"].as_i64().unwrap();
        let from_carol = report(&api, &carol, bad_id, "spam").await.expect(201)["id"].as_i64().unwrap();
        let seen = api.last_seq(&alice, group).await;
        let mut alice_ws = WsClient::connect(&server, &alice.token).await;
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;

        let resolved = resolve(&api, from_alice, "delete_message").await;
        let resolved = resolved.expect(200);
        assert_eq!(resolved["status"], "resolved");
        assert_eq!(resolved["resolution"], "delete_message");
        assert_eq!(resolved["message"]["content"], "buy my pills", "the report keeps what it was");
        // Every member's live session gets the tombstone, in order.
        for ws in [&mut alice_ws, &mut bob_ws] {
            let event = ws.next_event().await;
            assert_eq!(event["type"], "message.deleted");
            assert_eq!(event["seq"], seen + 1);
            assert_eq!(event["data"]["id"], bad_id);
            assert_eq!(event["data"]["deleted"], true);
            assert_eq!(event["data"]["content"], "");
        }
        // A session that resumes gets it; the history shows the tombstone.
        let resumed = resumed_events(&server, &carol, group, seen).await;
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0]["type"], "message.deleted");
        assert_eq!(resumed[0]["data"]["id"], bad_id);
        let message = api.get(&format!("/api/v1/messages/{bad_id}"), &carol.token).await;
        assert_eq!(message.expect(200)["deleted"], true);
        // Carol's report of the same message is resolved with it.
        let carols = api.get(&format!("/admin/reports/{from_carol}"), ADMIN).await;
        assert_eq!(carols.expect(200)["resolution"], "delete_message");
        resolve(&api, from_carol, "dismiss").await.expect_error(409, "report_resolved");
        alice_ws.expect_silence(Duration::from_millis(300)).await;
    }

    async fn resolving_with_deactivate_author_closes_their_sessions(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        let bad = api.send(&bob, group, "threat").await;
        // Through the typed client (`parley-client`), as a bot or a tool would.
        let reported = api
            .client()
            .with_token(&alice.token)
            .report(MessageId(bad["id"].as_i64().unwrap()), ReportReason::Abuse, None)
            .await
            .unwrap();
        assert_eq!(reported.status, ReportStatus::Open);
        assert_eq!(reported.comment, None);
        let mut bob_ws = WsClient::connect(&server, &bob.token).await;
        let operator = api.client().with_token(ADMIN);
        let open = operator.admin_reports(Some(ReportStatus::Open), 10).await.unwrap();
        assert_eq!(open.reports.len(), 1);
        assert_eq!(open.reports[0].id, reported.id);
        let resolved = operator
            .admin_resolve_report(reported.id, ReportAction::DeactivateAuthor)
            .await
            .unwrap();
        assert_eq!(resolved.resolution, Some(ReportAction::DeactivateAuthor));
        assert_eq!(resolved.status, ReportStatus::Resolved);
        assert_eq!(bob_ws.closed(Duration::from_secs(5)).await, Some(1008));
        api.get("/api/v1/users/me", &bob.token).await.expect_error(401, "unauthorized");
        api.login("bob", "correct horse").await.expect_error(401, "account_deactivated");
        let listed = api.get("/admin/users?username=bob", ADMIN).await;
        assert!(listed.expect(200)["users"][0]["deactivated_at"].as_str().is_some());
        // The message stays; the operator may still delete it through another report.
        let page = api.get(&format!("/api/v1/chats/{group}/messages"), &alice.token).await;
        assert_eq!(page.expect(200)["messages"][0]["content"], "threat");
    }

    async fn reports_are_rate_limited_per_reporter(server) configured (|c: &mut parley::config::Config| {
        c.rates.reports_per_hour = 2;
    }) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(api.send(&bob, group, &format!("spam {n}")).await["id"].as_i64().unwrap());
        }
        report(&api, &alice, ids[0], "spam").await.expect(201);
        report(&api, &alice, ids[1], "spam").await.expect(201);
        let refused = report(&api, &alice, ids[2], "spam").await;
        refused.expect_error(429, "rate_limited");
        let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((3000..=3600).contains(&wait), "{wait}");
        // Another reporter is not held back by alice's reports.
        let carol = api.register("carol").await;
        api.post(&format!("/api/v1/chats/{group}/members"), &alice.token, &json!({"user_id": carol.id}))
            .await
            .expect(200);
        report(&api, &carol, ids[2], "spam").await.expect(201);
    }

    async fn concurrent_reports_of_one_message_make_one(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        for round in 0..10 {
            let message = api.send(&bob, group, &format!("round {round}")).await;
            let id = message["id"].as_i64().unwrap();
            let answers = futures_util::future::join_all(
                (0..5).map(|_| report(&api, &alice, id, "spam")),
            )
            .await;
            let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
            assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1, "{statuses:?}");
            assert_eq!(statuses.iter().filter(|&&s| s == 409).count(), 4, "{statuses:?}");
        }
    }

    async fn sends_racing_a_block_never_land_after_it(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let dm = direct(&api, &bob, &alice).await;
        for round in 0..5 {
            let seq_start = api.last_seq(&alice, dm).await;
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let senders: Vec<_> = (0..4)
                .map(|n| {
                    let (api, bob, stop) = (api.clone(), bob.clone(), stop.clone());
                    actix_rt::spawn(async move {
                        let mut outcomes = Vec::new();
                        let (mut i, mut late) = (0, 0);
                        // Sends until three have started after the block was answered.
                        while late < 3 {
                            let started_after_block = stop.load(std::sync::atomic::Ordering::SeqCst);
                            let answer = api
                                .post("/api/v1/messages", &bob.token, &send_body(dm, &format!("r{round} s{n} m{i}")))
                                .await;
                            outcomes.push((started_after_block, answer.status, answer.json["id"].as_i64()));
                            i += 1;
                            late += usize::from(started_after_block);
                        }
                        outcomes
                    })
                })
                .collect();
            actix_rt::time::sleep(Duration::from_millis(100)).await;
            api.post(&format!("/api/v1/users/{}/block", bob.id), &alice.token, &json!({}))
                .await
                .expect(204);
            let after_block = api.last_seq(&alice, dm).await;
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let mut accepted = 0;
            for sender in senders {
                for (after, status, id) in sender.await.unwrap() {
                    assert!(status == 200 || status == 403, "{status}");
                    if after {
                        assert_eq!(status, 403, "a send after the block was answered");
                    }
                    if status == 200 {
                        assert!(id.is_some());
                        accepted += 1;
                    }
                }
            }
            // Whatever was accepted committed before the block did (nothing lands after it),
            // and nothing refused took a seq.
            let last = api.last_seq(&alice, dm).await;
            assert_eq!(last, after_block, "round {round}");
            assert_eq!(last - seq_start, accepted, "round {round}");
            api.delete(&format!("/api/v1/users/{}/block", bob.id), &alice.token).await.expect(204);
        }
    }
}

on_both_backends! {
    async fn a_block_covers_the_blocked_persons_bots_and_holds_in_a_fresh_room(server) with (quick_idle()) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let created = api
            .post("/api/v1/bots", &bob.token, &json!({"username": "bobs-bot"}))
            .await;
        let created = created.expect(201);
        let bot = TestUser {
            id: created["user"]["id"].as_i64().unwrap(),
            username: "bobs-bot".into(),
            token: created["access_token"].as_str().unwrap().to_owned(),
        };
        let bot_dm = direct(&api, &bot, &alice).await;
        let dm = direct(&api, &bob, &alice).await;
        api.send(&bot, bot_dm, "beep").await;
        let group = api.group(&alice, &[&bob]).await;
        let in_group = api.send(&bob, group, "in the group").await;
        let in_dm = api.send(&bob, dm, "in the direct chat").await;
        api.post(
            &format!("/api/v1/messages/{}/reactions", in_dm["id"]),
            &bob.token,
            &json!({"emoji": "👍"}),
        )
        .await
        .expect(200);

        api.post(&format!("/api/v1/users/{}/block", bob.id), &alice.token, &json!({}))
            .await
            .expect(204);
        // The rooms retire: the next send starts a room that reads the chat afresh.
        wait_for_no_rooms(&server).await;
        api.post("/api/v1/messages", &bob.token, &send_body(dm, "after"))
            .await
            .expect_error(403, "blocked");
        // Bob's bot is turned away as bob is.
        api.post("/api/v1/messages", &bot.token, &send_body(bot_dm, "beep"))
            .await
            .expect_error(403, "blocked");
        api.post("/api/v1/chats", &bot.token, &json!({"kind": "direct", "member_ids": [alice.id]}))
            .await
            .expect_error(403, "blocked");
        api.post(
            "/api/v1/chats",
            &bot.token,
            &json!({"kind": "group", "title": "Bots", "member_ids": [alice.id]}),
        )
        .await
        .expect_error(403, "blocked");
        // What stays allowed: writing in a shared group, taking back one's own words.
        api.patch(
            &format!("/api/v1/messages/{}", in_group["id"]),
            &bob.token,
            &json!({"content": "edited in the group"}),
        )
        .await
        .expect(200);
        api.post(
            &format!("/api/v1/messages/{}/reactions", in_group["id"]),
            &bob.token,
            &json!({"emoji": "👍"}),
        )
        .await
        .expect(200);
        api.delete(
            &format!("/api/v1/messages/{}/reactions/%F0%9F%91%8D", in_dm["id"]),
            &bob.token,
        )
        .await
        .expect(200);
        api.delete(&format!("/api/v1/messages/{}", in_dm["id"]), &bob.token)
            .await
            .expect(200);

        api.delete(&format!("/api/v1/users/{}/block", bob.id), &alice.token).await.expect(204);
        wait_for_no_rooms(&server).await;
        api.send(&bob, dm, "after unblocking").await;
        api.send(&bot, bot_dm, "beep again").await;
    }

    async fn concurrent_resolutions_of_one_message_settle_once(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let group = api.group(&alice, &[&bob, &carol]).await;
        for round in 0..10 {
            let bad = api.send(&bob, group, &format!("spam {round}")).await;
            let id = bad["id"].as_i64().unwrap();
            let first = report(&api, &alice, id, "spam").await.expect(201)["id"].as_i64().unwrap();
            let second = report(&api, &carol, id, "spam").await.expect(201)["id"].as_i64().unwrap();
            let actions = if round % 2 == 0 { ["dismiss", "delete_message"] } else { ["delete_message", "dismiss"] };
            let (a, b) = futures_util::join!(resolve(&api, first, actions[0]), resolve(&api, second, actions[1]));
            let mut statuses = [a.status, b.status];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.text, b.text);
            let winner = if a.status == 200 { &a } else { &b };
            let action = winner.json["resolution"].clone();
            for report_id in [first, second] {
                let shown = api.get(&format!("/admin/reports/{report_id}"), ADMIN).await;
                assert_eq!(shown.expect(200)["resolution"], action, "both resolved the same way");
            }
            let message = api.get(&format!("/api/v1/messages/{id}"), &alice.token).await;
            assert_eq!(message.expect(200)["deleted"], action == "delete_message");
        }
    }

    async fn the_block_list_is_bounded(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        server.execute_sql(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000) \
             INSERT INTO users (username, display_name, password_hash, created_at) \
             SELECT 'filler' || n, 'filler', '!', 0 FROM g",
        );
        server.execute_sql(&format!(
            "INSERT INTO user_blocks (blocker_id, blocked_id, created_at) \
             SELECT {}, id, 0 FROM users WHERE username LIKE 'filler%'",
            alice.id
        ));
        api.post(&format!("/api/v1/users/{}/block", bob.id), &alice.token, &json!({}))
            .await
            .expect_error(409, "too_many_blocks");
        let listed = api.get("/api/v1/users/me/blocks", &alice.token).await;
        assert_eq!(listed.expect(200).as_array().unwrap().len(), 1000);
        // Unblocking one frees a place.
        let first = listed.json[0]["id"].as_i64().unwrap();
        api.delete(&format!("/api/v1/users/{first}/block"), &alice.token).await.expect(204);
        api.post(&format!("/api/v1/users/{}/block", bob.id), &alice.token, &json!({}))
            .await
            .expect(204);
    }

    async fn reports_refuse_revoked_tokens_and_hide_without_an_admin_token(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        let message = api.send(&bob, group, "hm").await;
        let revoked = api.login("alice", "correct horse").await.expect(200)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        api.post("/api/v1/auth/logout", &revoked, &json!({})).await.expect(204);
        let path = format!("/api/v1/messages/{}/report", message["id"]);
        api.post(&path, &revoked, &json!({"reason": "spam"})).await.expect_error(401, "unauthorized");
        // A server without an admin token has no operators' routes at all.
        api.get("/admin/reports", &alice.token).await.expect_error(404, "not_found");
        api.post("/admin/reports/1/resolve", &alice.token, &json!({"action": "dismiss"}))
            .await
            .expect_error(404, "not_found");
        // Nothing was recorded by the refused report.
        assert_eq!(server.sql_numbers("SELECT count(*) AS n FROM message_reports"), [0]);
    }

    async fn the_operators_list_pages_newest_first(server) configured (with_admin) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let group = api.group(&alice, &[&bob]).await;
        let mut made = Vec::new();
        for n in 0..5 {
            let message = api.send(&bob, group, &format!("m{n}")).await;
            made.push(report(&api, &alice, message["id"].as_i64().unwrap(), "other").await.expect(201)["id"].as_i64().unwrap());
        }
        made.reverse();
        let first = api.get("/admin/reports?limit=2", ADMIN).await;
        let ids = |r: &Value| -> Vec<i64> { r["reports"].as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect() };
        assert_eq!(ids(first.expect(200)), made[..2]);
        let next = first.header("link").unwrap().to_owned();
        assert_eq!(next, format!("</admin/reports?limit=2&before={}>; rel=\"next\"", made[1]));
        let second = api.get(&format!("/admin/reports?limit=2&before={}", made[1]), ADMIN).await;
        assert_eq!(ids(second.expect(200)), made[2..4]);
        let last = api.get(&format!("/admin/reports?limit=2&before={}", made[3]), ADMIN).await;
        assert_eq!(ids(last.expect(200)), made[4..]);
        assert!(last.header("link").is_none());
        api.get("/admin/reports?before=abc", ADMIN).await.expect_error(400, "bad_request");
    }
}

/// A block waits for the direct chat's lock: a send that holds it (checked, not yet committed)
/// commits before the block is answered, so nothing of the blocked lands after it. Held here
/// by another connection; PostgreSQL only (SQLite has one writer at a time anyway).
#[actix_rt::test]
async fn a_block_waits_for_a_send_that_has_checked_the_chat() {
    let Some(server) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let dm = direct(&api, &bob, &alice).await;
    let held = server.hold_transaction(&format!(
        "SELECT id FROM chats WHERE id = {dm} FOR NO KEY UPDATE;"
    ));
    let blocking = {
        let (api, path, token) = (
            api.clone(),
            format!("/api/v1/users/{}/block", bob.id),
            alice.token.clone(),
        );
        actix_rt::spawn(async move { api.post(&path, &token, &json!({})).await.status })
    };
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !blocking.is_finished(),
        "the block must wait for the chat's lock"
    );
    held.commit();
    assert_eq!(blocking.await.unwrap(), 204);
    api.post("/api/v1/messages", &bob.token, &send_body(dm, "late"))
        .await
        .expect_error(403, "blocked");
}
