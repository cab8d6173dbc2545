use serde_json::{json, Value};

use crate::common::counting_statements;
use crate::common::{Api, TestUser};
use crate::on_both_backends;

/// The ids of a search page's messages, in the order given.
fn ids(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

fn id(message: &Value) -> i64 {
    message["id"].as_i64().expect("id")
}

/// A snippet written out with its highlights in brackets.
fn marked(snippet: &Value) -> String {
    snippet["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| {
            let text = p["text"].as_str().expect("text");
            if p["highlight"].as_bool().expect("highlight") {
                format!("[{text}]")
            } else {
                text.to_owned()
            }
        })
        .collect()
}

async fn search(api: &Api, user: &TestUser, query: &str) -> Value {
    api.get(&format!("/api/v1/search?{query}"), &user.token)
        .await
        .expect(200)
        .clone()
}

fn q(words: &str) -> String {
    format!(
        "q={}",
        words
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    )
}

on_both_backends! {
    /// The same corpus gives the same answers on both backends: words folded to lower case in
    /// every script, every word of the query required, newest first, complete aggregates.
    async fn search_matches_words_in_any_script(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let corpus = [
            "The quick brown fox",                   // 0
            "QUICK thinking, brown-bag lunch",       // 1
            "Grüße aus München! ÜBER alles",         // 2
            "über den Wolken",                       // 3
            "日本語のテキスト",                        // 4
            "Ωμέγα and alpha",                       // 5
            "café crème",                            // 6
            "NOT a keyword OR operator",             // 7
            "version v2.0 shipped",                  // 8
            "quickly, not quick",                    // 9
        ];
        let mut sent = Vec::new();
        for content in corpus {
            sent.push(id(&api.send(&alice, chat_id, content).await));
        }
        let reactions = format!("/api/v1/messages/{}/reactions", sent[0]);
        api.post(&reactions, &bob.token, &json!({"emoji": "🦊"})).await.expect(200);

        let expect = |query: &str, want: &[usize]| {
            (query.to_owned(), want.iter().rev().map(|&i| sent[i]).collect::<Vec<i64>>())
        };
        for (query, want) in [
            expect("quick", &[0, 1, 9]),
            expect("Quick BROWN", &[0, 1]),
            expect("brown quick fox", &[0]),
            expect("über", &[2, 3]),
            expect("ÜBER", &[2, 3]),
            expect("münchen grüße", &[2]),
            expect("語", &[4]),
            expect("日本", &[4]),
            expect("ωμέγα", &[5]),
            expect("CAFÉ", &[6]),
            expect("cafe", &[]),
            expect("not", &[7, 9]),
            expect("not or", &[7]),
            expect("v2", &[8]),
            expect("quic", &[]),
            expect("zebra", &[]),
        ] {
            let page = search(&api, &bob, &q(&query)).await;
            assert_eq!(ids(&page), want, "{query}");
            assert_eq!(page["has_more"], false, "{query}");
            assert_eq!(page["next_before"], Value::Null, "{query}");
        }

        let page = search(&api, &bob, &q("fox")).await;
        let found = &page["messages"][0];
        let single = api.get(&format!("/api/v1/messages/{}", sent[0]), &bob.token).await;
        assert_eq!(found, single.expect(200), "a result is the complete aggregate");
        assert_eq!(found["reactions"][0]["emoji"], "🦊");
        let snippets = page["snippets"].as_array().expect("snippets");
        assert_eq!(snippets.len(), 1);
        assert_eq!(snippets[0]["message_id"], sent[0]);
        assert_eq!(marked(&snippets[0]), "The quick brown [fox]");
        let page = search(&api, &bob, &q("brown QUICK")).await;
        assert_eq!(marked(&page["snippets"][0]), "[QUICK] thinking, [brown]-bag lunch");
        let page = search(&api, &bob, &q("über")).await;
        assert_eq!(marked(&page["snippets"][1]), "Grüße aus München! [ÜBER] alles");
    }

    /// Only chats the caller is a member of now; a chat named by a stranger is refused as
    /// history is.
    async fn search_sees_only_the_callers_chats(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let shared = api.group(&alice, &[&bob]).await;
        let private = api.group(&alice, &[]).await;
        let in_shared = id(&api.send(&alice, shared, "secret plans").await);
        let in_private = id(&api.send(&alice, private, "secret diary").await);

        assert_eq!(ids(&search(&api, &alice, "q=secret").await), [in_private, in_shared]);
        assert_eq!(ids(&search(&api, &bob, "q=secret").await), [in_shared]);
        assert_eq!(ids(&search(&api, &carol, "q=secret").await), Vec::<i64>::new());
        assert_eq!(
            ids(&search(&api, &alice, &format!("q=secret&chat_id={shared}")).await),
            [in_shared]
        );
        api.get(&format!("/api/v1/search?q=secret&chat_id={private}"), &bob.token)
            .await
            .expect_error(403, "not_a_member");
        api.get("/api/v1/search?q=secret&chat_id=987654", &bob.token)
            .await
            .expect_error(404, "not_found");

        // Removed from the chat: its messages no longer match, even those from before.
        api.delete(&format!("/api/v1/chats/{shared}/members/{}", bob.id), &alice.token)
            .await
            .expect(204);
        assert_eq!(ids(&search(&api, &bob, "q=secret").await), Vec::<i64>::new());
        api.get(&format!("/api/v1/search?q=secret&chat_id={shared}"), &bob.token)
            .await
            .expect_error(403, "not_a_member");
        api.get("/api/v1/search?q=secret", "not-a-token").await.expect_error(401, "unauthorized");
    }

    /// An edit changes what matches at once; a deleted message never matches.
    async fn search_follows_edits_and_deletes(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let message = id(&api.send(&alice, chat_id, "meeting at noon").await);
        let path = format!("/api/v1/messages/{message}");
        api.patch(&path, &alice.token, &json!({"content": "lunch at one"})).await.expect(200);
        assert_eq!(ids(&search(&api, &alice, "q=noon").await), Vec::<i64>::new());
        let page = search(&api, &alice, "q=lunch").await;
        assert_eq!(ids(&page), [message]);
        assert_eq!(page["messages"][0]["content"], "lunch at one");
        assert!(page["messages"][0]["edited_at"].is_string());
        api.delete(&path, &alice.token).await.expect(200);
        assert_eq!(ids(&search(&api, &alice, "q=lunch").await), Vec::<i64>::new());
        assert_eq!(ids(&search(&api, &alice, "q=one").await), Vec::<i64>::new());
    }

    /// Pages walk back through every match once, newest first.
    async fn search_pages_through_all_matches(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let first = api.group(&alice, &[]).await;
        let second = api.group(&alice, &[]).await;
        let mut matching = Vec::new();
        for i in 0..25 {
            let chat = if i % 2 == 0 { first } else { second };
            matching.push(id(&api.send(&alice, chat, &format!("needle number {i}")).await));
            api.send(&alice, chat, &format!("hay {i}")).await;
        }
        matching.reverse();
        let mut seen = Vec::new();
        let mut query = "q=needle&limit=7".to_owned();
        loop {
            let page = search(&api, &alice, &query).await;
            let got = ids(&page);
            assert!(got.len() <= 7);
            assert_eq!(page["snippets"].as_array().map(Vec::len), Some(got.len()));
            seen.extend(got.iter().copied());
            if page["has_more"] == false {
                assert_eq!(page["next_before"], Value::Null);
                break;
            }
            assert_eq!(page["next_before"].as_i64(), got.last().copied());
            query = format!("q=needle&limit=7&before={}", page["next_before"]);
        }
        assert_eq!(seen, matching);
        let in_first = ids(&search(&api, &alice, &format!("q=needle&chat_id={first}&limit=100")).await);
        assert_eq!(in_first.len(), 13);
        assert_eq!(ids(&search(&api, &alice, "q=needle").await).len(), 20, "20 by default");
    }

    async fn search_refuses_bad_input(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        api.group(&alice, &[]).await;
        for query in ["", "q=", "q=%20%20%20", "q=%3F%21...%E2%80%A6", "q=%F0%9F%99%82",
            &format!("q={}", "a".repeat(257)),
            &format!("q={}", (0..17).map(|i| format!("w{i}")).collect::<Vec<_>>().join("+"))]
        {
            let answer = api.get(&format!("/api/v1/search?{query}"), &alice.token).await;
            answer.expect_error(422, "validation_failed");
            assert_eq!(answer.json["errors"][0]["field"], "q", "{query}");
        }
        for query in ["q=x&limit=0", "q=x&limit=101", "q=x&limit=ten", "q=x&chat_id=0",
            "q=x&chat_id=-3", "q=x&before=0", "q=x&before=1.5", "q=x&q=y"]
        {
            api.get(&format!("/api/v1/search?{query}"), &alice.token)
                .await
                .expect_error(400, "bad_request");
        }
        // The longest query there may be, and a NUL, are answered, never a 500.
        let longest = q(&"é".repeat(256));
        assert_eq!(ids(&search(&api, &alice, &longest).await), Vec::<i64>::new());
        assert_eq!(ids(&search(&api, &alice, "q=a%00b").await), Vec::<i64>::new());
    }

    /// A page costs the same statements whatever its size.
    async fn search_costs_a_fixed_number_of_queries(server) configured (counting_statements) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        for i in 0..30 {
            let message = api.send(&alice, chat_id, &format!("word {i}")).await;
            api.post(&format!("/api/v1/messages/{}/reactions", id(&message)), &bob.token,
                &json!({"emoji": "👍"})).await.expect(200);
        }
        let mut costs = Vec::new();
        for limit in [1, 10, 30, 100] {
            let before = server.queries();
            let page = search(&api, &bob, &format!("q=word&limit={limit}")).await;
            costs.push(server.queries() - before);
            assert_eq!(ids(&page).len(), limit.min(30));
            assert!(page["messages"].as_array().unwrap().iter()
                .all(|m| m["reactions"].as_array().map(Vec::len) == Some(1)));
        }
        assert!(costs.windows(2).all(|w| w[0] == w[1]), "queries per page by size: {costs:?}");
        assert!(costs[0] <= 4, "queries per page: {costs:?}");
    }

    /// Messages stored before search existed are found once the start-up backfill has run.
    async fn search_backfills_earlier_messages(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let kept = id(&api.send(&alice, chat_id, "Archived Report").await);
        let deleted = id(&api.send(&alice, chat_id, "archived draft").await);
        api.delete(&format!("/api/v1/messages/{deleted}"), &alice.token).await.expect(200);
        // As a database migrated from a version without search holds them.
        server.execute_sql("UPDATE messages SET search_terms = NULL");
        assert_eq!(ids(&search(&api, &alice, "q=archived").await), Vec::<i64>::new());
        parley::db::run_migrations(&server.database_url).await.expect("migrations");
        assert_eq!(ids(&search(&api, &alice, "q=archived").await), [kept]);
        assert_eq!(ids(&search(&api, &alice, "q=report").await), [kept]);
    }
}
