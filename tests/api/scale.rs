//! Flat at scale: unread counts kept as counters stay exact, the chat list costs the same
//! whatever its chats hold and can be read in pages, and no hot statement reads a whole table
//! once the tables have grown.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{Api, Backend, TestServer, TestUser};
use crate::on_both_backends;

/// A small deterministic generator (no seed to carry around, same run every time).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// What the contract says a member's unread count is, from the chat's full history.
struct Model {
    /// seq -> (author, deleted)
    messages: BTreeMap<i64, (i64, bool)>,
    /// user -> last_read_seq, for current members
    markers: BTreeMap<i64, i64>,
}

impl Model {
    fn unread(&self, user: i64) -> i64 {
        let marker = self.markers[&user];
        self.messages
            .range(marker + 1..)
            .filter(|(_, (author, deleted))| *author != user && !deleted)
            .count() as i64
    }
}

async fn unread_of(api: &Api, user: &TestUser, chat_id: i64) -> Option<i64> {
    let list = api.get("/api/v1/chats", &user.token).await;
    list.expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat_id)
        .map(|c| c["unread_count"].as_i64().unwrap())
}

/// The chat list, page by page of `limit`, following each `Link`; the ids in order.
async fn paged_ids(api: &Api, user: &TestUser, limit: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut next = Some(format!("/api/v1/chats?limit={limit}"));
    let mut pages = 0;
    while let Some(path) = next.take() {
        let page = api.get(&path, &user.token).await;
        let chats = page.expect(200).as_array().unwrap().clone();
        assert!(chats.len() <= limit);
        ids.extend(chats.iter().map(|c| c["id"].as_i64().unwrap()));
        if let Some(link) = page.header("link") {
            let target = link
                .strip_prefix('<')
                .and_then(|l| l.split_once(">; rel=\"next\""))
                .map(|(target, _)| target.to_owned())
                .unwrap_or_else(|| panic!("a Link as RFC 8288 writes it: {link}"));
            assert!(target.starts_with(&format!("/api/v1/chats?limit={limit}&before=")));
            assert_eq!(chats.len(), limit, "only a full page has a next one");
            next = Some(target);
        }
        pages += 1;
        assert!(pages < 100, "pages end");
    }
    ids
}

on_both_backends! {
    async fn unread_counts_stay_exact_through_sends_deletes_markers_and_rejoins(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let users = [&alice, &bob, &carol];
        let chat = api.group(&alice, &[&bob, &carol]).await;
        let mut model = Model {
            messages: BTreeMap::new(),
            markers: users.iter().map(|u| (u.id, 0)).collect(),
        };
        let mut ids: BTreeMap<i64, i64> = BTreeMap::new(); // seq -> message id
        let mut rng = Lcg(7);
        for step in 0..90 {
            let members: Vec<&TestUser> =
                users.iter().copied().filter(|u| model.markers.contains_key(&u.id)).collect();
            match rng.below(8) {
                0..=3 => {
                    let author = members[rng.below(members.len())];
                    let m = api.send(author, chat, &format!("step {step}")).await;
                    let seq = m["seq"].as_i64().unwrap();
                    model.messages.insert(seq, (author.id, false));
                    ids.insert(seq, m["id"].as_i64().unwrap());
                }
                4 => {
                    let live: Vec<i64> =
                        model.messages.iter().filter(|(_, (_, d))| !d).map(|(s, _)| *s).collect();
                    if live.is_empty() {
                        continue;
                    }
                    let seq = live[rng.below(live.len())];
                    // The owner may delete anyone's message.
                    api.delete(&format!("/api/v1/messages/{}", ids[&seq]), &alice.token).await.expect(200);
                    model.messages.insert(seq, (model.messages[&seq].0, true));
                }
                5 | 6 => {
                    let reader = members[rng.below(members.len())];
                    let last = api.last_seq(reader, chat).await;
                    let to = rng.below(last as usize + 3) as i64;
                    api.post(&format!("/api/v1/chats/{chat}/read"), &reader.token, &json!({"seq": to}))
                        .await
                        .expect(204);
                    let marker = model.markers.get_mut(&reader.id).unwrap();
                    *marker = (*marker).max(to.min(last));
                }
                _ => {
                    if model.markers.remove(&carol.id).is_some() {
                        api.delete(&format!("/api/v1/chats/{chat}/members/{}", carol.id), &carol.token)
                            .await
                            .expect(204);
                    } else {
                        api.post(&format!("/api/v1/chats/{chat}/members"), &alice.token, &json!({"user_id": carol.id}))
                            .await
                            .expect(200);
                        model.markers.insert(carol.id, 0);
                    }
                }
            }
            for user in users {
                let expected = model.markers.contains_key(&user.id).then(|| model.unread(user.id));
                assert_eq!(unread_of(&api, user, chat).await, expected, "step {step}, user {}", user.username);
            }
        }
    }

    async fn a_marker_move_racing_a_delete_keeps_the_count_exact(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat = api.group(&alice, &[&bob]).await;
        for round in 0..30u64 {
            let sent: Vec<Value> = {
                let mut sent = Vec::new();
                for i in 0..4 {
                    sent.push(api.send(&alice, chat, &format!("round {round} #{i}")).await);
                }
                sent
            };
            // Bob reads up to the third while alice deletes the second: one message stays
            // unread, whichever commits first.
            let read = async {
                tokio::time::sleep(Duration::from_micros(round % 6 * 700)).await;
                api.post(&format!("/api/v1/chats/{chat}/read"), &bob.token, &json!({"seq": sent[2]["seq"]}))
                    .await
                    .expect(204);
            };
            let delete = async {
                tokio::time::sleep(Duration::from_micros((5 - round % 6) * 700)).await;
                api.delete(&format!("/api/v1/messages/{}", sent[1]["id"]), &alice.token).await.expect(200);
            };
            futures_util::future::join(read, delete).await;
            assert_eq!(unread_of(&api, &bob, chat).await, Some(1), "round {round}");
            let last = api.last_seq(&bob, chat).await;
            api.post(&format!("/api/v1/chats/{chat}/read"), &bob.token, &json!({"seq": last})).await.expect(204);
            assert_eq!(unread_of(&api, &bob, chat).await, Some(0), "round {round}");
        }
    }

    async fn the_chat_list_comes_in_pages_linked_by_cursors(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let mut chats = Vec::new();
        for i in 0..7 {
            let chat = api.group(&alice, &[&bob]).await;
            api.send(&alice, chat, &format!("hello {i}")).await;
            chats.push(chat);
        }
        // Activity reorders them: the first chat becomes the most recent.
        api.send(&bob, chats[0], "back to the first").await;
        let whole: Vec<i64> = api.get("/api/v1/chats", &bob.token).await.expect(200)
            .as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
        assert_eq!(whole.len(), 7);
        assert_eq!(whole[0], chats[0]);
        let unpaged = api.get("/api/v1/chats", &bob.token).await;
        assert_eq!(unpaged.header("link"), None, "no limit, no pages");
        for limit in [1, 3, 7, 200] {
            assert_eq!(paged_ids(&api, &bob, limit).await, whole, "limit {limit}");
        }
        // A page is whole summaries, as in the full list.
        let first = api.get("/api/v1/chats?limit=2", &bob.token).await;
        let page = first.expect(200).as_array().unwrap().clone();
        assert_eq!(page[0]["last_message"]["content"], "back to the first");
        assert_eq!(page[1]["unread_count"], 1);
        assert!(page[1]["members"].as_array().is_some_and(|m| m.len() == 2));

        for bad in ["limit=0", "limit=201", "limit=x", "limit=2&before=nonsense", "limit=2&before=1.0",
                    "before=x", "limit=2&before=", "limit=-1"] {
            api.get(&format!("/api/v1/chats?{bad}"), &bob.token).await.expect_error(400, "bad_request");
        }
        // Only the caller's own chats, and only with a live token.
        let carol = api.register("carol").await;
        let cursor = first.header("link").unwrap().split("before=").nth(1).unwrap().split('>').next().unwrap().to_owned();
        let theirs = api.get(&format!("/api/v1/chats?limit=5&before={cursor}"), &carol.token).await;
        assert_eq!(theirs.expect(200), &json!([]));
        // A cursor alone reads a page of the default size: here, the rest of the list.
        let rest = api.get(&format!("/api/v1/chats?before={cursor}"), &bob.token).await;
        let rest: Vec<i64> = rest.expect(200).as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
        assert_eq!(rest, whole[2..]);
        // The cursor's documented pattern holds what Parley writes.
        let pattern = regex::Regex::new(r"^[0-9]{1,18}\.[1-9][0-9]{0,17}$").unwrap();
        assert!(pattern.is_match(&cursor), "{cursor}");
        api.request(awc::http::Method::POST, "/api/v1/auth/logout", Some(&bob.token), &[], None).await.expect(204);
        api.get("/api/v1/chats?limit=2", &bob.token).await.expect_error(401, "unauthorized");
    }

    async fn the_chat_list_costs_the_same_over_a_chat_of_200000_messages(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let big = api.group(&alice, &[&bob]).await;
        for _ in 0..20 {
            let small = api.group(&alice, &[&bob]).await;
            api.send(&alice, small, "small talk").await;
        }
        // 200,000 messages by alice, inserted as the server would have stored them (counters
        // included), one in a thousand deleted.
        let rows = match server.backend {
            Backend::Postgres => "SELECT i FROM generate_series(1, 200000) AS g(i)",
            Backend::Sqlite => "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 200000) SELECT i FROM g",
        };
        let base = api.last_seq(&alice, big).await;
        server.execute_sql(&format!(
            "INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted, search_terms) \
             SELECT {big}, {base} + i, {alice}, 'text', CASE WHEN i % 1000 = 0 THEN '' ELSE 'bulk ' || i END, \
                    1700000000000 + i, i % 1000 = 0, '' FROM ({rows}) AS s; \
             UPDATE chats SET last_seq = {base} + 200000, message_count = message_count + 199800, \
                    last_activity_at = 1900000000000 WHERE id = {big}; \
             INSERT INTO chat_authors (chat_id, user_id, message_count) VALUES ({big}, {alice}, 199800);",
            alice = alice.id,
        ));
        if server.backend == Backend::Postgres {
            server.execute_sql("ANALYZE");
        }
        let timed = |path: &'static str| {
            let (api, token) = (api.clone(), bob.token.clone());
            async move {
                let started = Instant::now();
                let list = api.get(path, &token).await.expect(200).clone();
                (started.elapsed(), list)
            }
        };
        // A bound far above what the counters take (milliseconds) and far below what counting
        // the chat's rows took (seconds): debug build, shared CI machine.
        let bound = Duration::from_millis(1500);
        let (took, list) = timed("/api/v1/chats").await;
        assert!(took < bound, "the whole list took {took:?}");
        assert_eq!(list[0]["id"], big);
        assert_eq!(list[0]["unread_count"], 199_800);
        assert_eq!(list[0]["last_message"]["content"], "bulk 199999");
        assert_eq!(list.as_array().unwrap().len(), 21);

        // Read all but the last ten seqs (the marker counts what is left), then all of it.
        let last = base + 200_000;
        api.post(&format!("/api/v1/chats/{big}/read"), &bob.token, &json!({"seq": last - 10})).await.expect(204);
        let (took, list) = timed("/api/v1/chats?limit=5").await;
        assert!(took < bound, "the first page took {took:?}");
        assert_eq!(list[0]["unread_count"], 9, "the last ten, less the deleted one");
        api.post(&format!("/api/v1/chats/{big}/read"), &bob.token, &json!({"seq": last})).await.expect(204);
        let (took, list) = timed("/api/v1/chats").await;
        assert!(took < bound, "the whole list took {took:?} with the big chat read");
        assert_eq!(list[0]["unread_count"], 0);
        // Deleting the newest message walks back to the one before.
        let newest = list[0]["last_message"]["id"].as_i64().unwrap();
        api.delete(&format!("/api/v1/messages/{newest}"), &alice.token).await.expect(200);
        let (_, list) = timed("/api/v1/chats").await;
        assert_eq!(list[0]["last_message"]["content"], "bulk 199998");
    }
}

/// Rows read by sequential scans of each table so far, once the server's connections have
/// reported them (PostgreSQL publishes a backend's counts at most once a second).
async fn settled_seq_reads(server: &TestServer, tables: &[&str]) -> Vec<i64> {
    let names = tables
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT coalesce(seq_tup_read, 0) AS n FROM pg_stat_user_tables \
         WHERE relname IN ({names}) ORDER BY relname"
    );
    let mut last = server.sql_numbers(&sql);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let now = server.sql_numbers(&sql);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Keyed sends from every user at once, `per_lane` each, into `chats` round robin: plain
/// sends, mentions of another sender and thread replies to the chat's root in `roots` (same
/// order), so that each form of a send round's statements runs.
async fn keyed_sends(
    api: &Api,
    users: &[TestUser],
    chats: &[i64],
    roots: &[i64],
    per_lane: usize,
    tag: &str,
) {
    let lanes = users.iter().enumerate().map(|(lane, user)| async move {
        for i in 0..per_lane {
            let at = (lane + i) % chats.len();
            let chat = chats[at];
            let key = format!("{tag}-{lane}-{i}");
            let content = format!("{tag} {lane} {i} @sender{}", (lane + 1) % users.len());
            let body = match i % 3 {
                0 => json!({"chat_id": chat, "content": format!("{tag} {lane} {i}")}),
                1 => json!({"chat_id": chat, "content": content}),
                _ => json!({"chat_id": chat, "content": content, "thread_root_id": roots[at]}),
            };
            api.post_with_key("/api/v1/messages", &user.token, &key, &body)
                .await
                .expect(200);
        }
    });
    futures_util::future::join_all(lanes).await;
}

/// The hot statements' plans as the tables grow: a minute of small tables lets PostgreSQL
/// settle on plans for them; then the tables grow by SQL, with autovacuum held off as it is
/// between two of its runs. The sends, the chat list, history and a read marker that follow
/// must not read any grown table from end to end.
#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn no_hot_statement_scans_a_grown_table() {
    let Some(server) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    let api = server.api();
    let mut users = Vec::new();
    for i in 0..16 {
        users.push(api.register(&format!("sender{i}")).await);
    }
    let others: Vec<&TestUser> = users.iter().skip(1).collect();
    let mut chats = Vec::new();
    for _ in 0..4 {
        chats.push(api.group(&users[0], &others).await);
    }
    let tables = [
        "chat_authors",
        "chat_events",
        "chat_members",
        "chats",
        "idempotency_keys",
        "messages",
    ];
    for table in tables {
        server.execute_sql(&format!(
            "ALTER TABLE {table} SET (autovacuum_enabled = false)"
        ));
    }
    let mut roots = Vec::new();
    for &chat in &chats {
        let root = api
            .post(
                "/api/v1/messages",
                &users[0].token,
                &json!({"chat_id": chat, "content": "a thread's root"}),
            )
            .await;
        roots.push(root.expect(200)["id"].as_i64().unwrap());
    }
    keyed_sends(&api, &users, &chats, &roots, 25, "small").await;
    for _ in 0..10 {
        api.get("/api/v1/chats", &users[1].token).await.expect(200);
        api.get(
            &format!("/api/v1/chats/{}/messages?limit=50", chats[0]),
            &users[1].token,
        )
        .await
        .expect(200);
    }

    // Each table grows by `grown` rows; one sequential scan of it would read them all.
    let mut fillers = Vec::new();
    for i in 0..10 {
        fillers.push(api.register(&format!("filler{i}")).await.id);
    }
    let (f, fillers) = (
        fillers[0],
        fillers
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    server.execute_sql(&format!(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at) \
           SELECT {f}, 'fill-' || i, 'x', 200, '{{}}', (extract(epoch FROM now()) * 1000)::bigint \
           FROM generate_series(1, 100000) AS g(i); \
         INSERT INTO chats (kind, title, created_at, last_seq, last_activity_at) \
           SELECT 'group', 'filler', 0, 100, 0 FROM generate_series(1, 20000); \
         INSERT INTO chat_members (chat_id, user_id, role, joined_at) \
           SELECT id, u, 'member', 0 FROM chats, unnest(ARRAY[{fillers}]::bigint[]) AS u \
           WHERE title = 'filler'; \
         INSERT INTO chat_authors (chat_id, user_id, message_count) \
           SELECT id, {f}, 100 FROM chats WHERE title = 'filler'; \
         INSERT INTO messages (chat_id, seq, author_id, kind, content, created_at, deleted, search_terms) \
           SELECT c.id, s, {f}, 'text', 'filler', 0, false, '' \
           FROM (SELECT id FROM chats WHERE title = 'filler' ORDER BY id LIMIT 1000) AS c, \
                generate_series(1, 100) AS s; \
         INSERT INTO chat_events (chat_id, seq, kind, message_id, created_at) \
           SELECT chat_id, seq, 'message.created', id, 0 FROM messages WHERE author_id = {f};"
    ));
    let grown = [20_000, 100_000, 200_000, 20_000, 100_000, 100_000]; // in `tables`' order
                                                                      // A connection reports its counts when it next ends a transaction a second or more after
                                                                      // its last report (else ten seconds later): after a pause, a request on every pooled
                                                                      // connection makes the small-table phase's scans count before the snapshot, not after.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    futures_util::future::join_all((0..32).map(|i| {
        let (api, user, chat) = (&api, &users[i % users.len()], chats[i % chats.len()]);
        async move {
            api.get(&format!("/api/v1/chats/{chat}"), &user.token)
                .await
                .expect(200);
        }
    }))
    .await;
    let before = settled_seq_reads(&server, &tables).await;

    keyed_sends(&api, &users, &chats, &roots, 25, "grown").await;
    let sent = settled_seq_reads(&server, &tables).await;
    assert_less_than_a_scan(&tables, &before, &sent, &grown, &[]);
    for user in &users[..4] {
        api.get("/api/v1/chats", &user.token).await.expect(200);
        api.get("/api/v1/chats?limit=2", &user.token)
            .await
            .expect(200);
        let page = api
            .get(
                &format!("/api/v1/chats/{}/messages?limit=50", chats[1]),
                &user.token,
            )
            .await;
        let last = page.expect(200)["messages"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["seq"]
            .clone();
        api.post(
            &format!("/api/v1/chats/{}/read", chats[1]),
            &user.token,
            &json!({"seq": last}),
        )
        .await
        .expect(204);
        api.get(&format!("/api/v1/chats/{}", chats[1]), &user.token)
            .await
            .expect(200);
    }
    let after = settled_seq_reads(&server, &tables).await;
    // Without statistics (autovacuum is held off) PostgreSQL may find a user's chats by
    // hashing the whole `chats` table, its default guess for a user in many chats; with the
    // statistics autovacuum keeps, a user in a few chats is joined by the primary key. The
    // send path above is held to no scan of it at all.
    assert_less_than_a_scan(&tables, &sent, &after, &grown, &["chats"]);
}

/// Less than one whole-table scan of each grown table but `except` between two snapshots:
/// scans of the small tables still reported late read a few hundred rows each.
fn assert_less_than_a_scan(
    tables: &[&str],
    before: &[i64],
    after: &[i64],
    grown: &[i64],
    except: &[&str],
) {
    for (((table, before), after), grown) in tables.iter().zip(before).zip(after).zip(grown) {
        let read = after - before;
        assert!(
            except.contains(table) || read < *grown,
            "{table}: {read} rows read by sequential scans (it grew by {grown})"
        );
    }
}
