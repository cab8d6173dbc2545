//! Attachments end to end: upload, send, read back (bytes, headers, ranges, thumbnails), who
//! may read them, and how their bytes leave the store — on both databases and both stores.

use std::time::Duration;

use actix_web::http::Method;
use bytes::Bytes;
use image::ImageEncoder;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::process::S3Server;
use crate::common::ws::WsClient;
use crate::common::{wait_for, Api, Backend, TestServer, TestUser};
use crate::on_both_backends;

/// A PNG of `width` × `height` with a gradient (so that it does not compress to nothing).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&image, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Uploads `bytes` as `filename` with the declared `content_type`, answered as it is.
pub async fn upload(
    api: &Api,
    user: &TestUser,
    filename: &str,
    content_type: &str,
    bytes: Vec<u8>,
    key: Option<&str>,
) -> crate::common::Resp {
    let query = serde_urlencoded::to_string([("filename", filename)]).unwrap();
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    api.request(
        Method::POST,
        &format!("/api/v1/attachments?{query}"),
        Some(&user.token),
        &headers,
        Some((content_type, bytes)),
    )
    .await
}

/// A file's bytes and headers exactly as served.
async fn download(
    api: &Api,
    path: &str,
    user: &TestUser,
    headers: &[(&str, &str)],
) -> parley_client::Raw {
    api.client()
        .with_token(&user.token)
        .raw(Method::GET, path, headers, None)
        .await
        .unwrap()
}

fn header<'a>(raw: &'a parley_client::Raw, name: &str) -> Option<&'a str> {
    raw.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every object in the directory store, as its key.
fn objects(server: &TestServer) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut found = Vec::new();
    walk(&server.storage_dir, &server.storage_dir, &mut found);
    found.sort();
    found
}

/// Upload, send, and read back: the whole round trip as two members see it.
async fn round_trip(server: &TestServer) {
    let api = server.api();
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let chat_id = api.group(&alice, &[&bob]).await;
    let mut bob_ws = WsClient::connect(server, &bob.token).await;

    let image = png(640, 480);
    let photo = upload(&api, &alice, "photo.png", "image/png", image.clone(), None).await;
    let photo = photo.expect(201).clone();
    assert_eq!(photo["filename"], "photo.png");
    assert_eq!(photo["content_type"], "image/png");
    assert_eq!(photo["size"], image.len());
    assert_eq!(photo["sha256"], sha256(&image));
    assert_eq!(
        (photo["width"].clone(), photo["height"].clone()),
        (json!(640), json!(480))
    );
    assert_eq!(photo["uploader_id"], alice.id);
    let mut keys: Vec<&str> = photo
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "content_type",
            "created_at",
            "filename",
            "height",
            "id",
            "sha256",
            "size",
            "uploader_id",
            "width"
        ]
    );

    let report = upload(
        &api,
        &alice,
        "report.pdf",
        "application/pdf",
        PDF.to_vec(),
        None,
    )
    .await;
    let report = report.expect(201).clone();
    assert_eq!(report["content_type"], "application/pdf");
    assert_eq!(report["width"], Value::Null);

    // Until it is sent, only its uploader sees it.
    let path = format!("/api/v1/attachments/{}", photo["id"]);
    api.get(&path, &bob.token)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(api.get(&path, &alice.token).await.expect(200), &photo);

    // Sent in the order given, with an empty text.
    let sent = api
        .post("/api/v1/messages", &alice.token,
            &json!({"chat_id": chat_id, "content": "", "attachment_ids": [report["id"], photo["id"]]}))
        .await;
    let message = sent.expect(200).clone();
    assert_eq!(message["attachments"], json!([report, photo]));
    assert_eq!(message["content"], "");
    let event = bob_ws.next_event().await;
    assert_eq!(event["type"], "message.created");
    assert_eq!(event["data"], message);

    // Every way to read the message carries the aggregate.
    let fetched = api
        .get(&format!("/api/v1/messages/{}", message["id"]), &bob.token)
        .await;
    assert_eq!(fetched.expect(200), &message);
    let history = api
        .get(&format!("/api/v1/chats/{chat_id}/messages"), &bob.token)
        .await;
    assert_eq!(
        history.expect(200)["messages"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        &message
    );
    let chats = api.get("/api/v1/chats", &bob.token).await;
    assert_eq!(chats.expect(200)[0]["last_message"], message);
    // A session that resumes is replayed the same message.
    let mut late = WsClient::connect(server, &bob.token).await;
    late.send(&json!({"type": "resume", "chat_id": chat_id, "after_seq": 0}))
        .await;
    let replayed = loop {
        let frame = late.next_event().await;
        if frame["type"] == "message.created" {
            break frame;
        }
    };
    assert_eq!(replayed["data"], message);

    // The bytes, exactly, with the contract's headers.
    let content = format!("/api/v1/attachments/{}/content", photo["id"]);
    let got = download(&api, &content, &bob, &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body == image, "the bytes served are the bytes uploaded");
    let etag = format!("\"{}\"", sha256(&image));
    assert_eq!(header(&got, "content-type"), Some("image/png"));
    assert_eq!(
        header(&got, "content-length"),
        Some(image.len().to_string().as_str())
    );
    assert_eq!(header(&got, "etag"), Some(etag.as_str()));
    assert_eq!(header(&got, "x-content-type-options"), Some("nosniff"));
    assert_eq!(
        header(&got, "content-security-policy"),
        Some("sandbox; default-src 'none'")
    );
    assert_eq!(header(&got, "content-disposition"), Some("inline"));
    let pdf = download(
        &api,
        &format!("/api/v1/attachments/{}/content", report["id"]),
        &bob,
        &[],
    )
    .await;
    assert!(pdf.body == PDF);
    assert_eq!(header(&pdf, "content-type"), Some("application/pdf"));
    assert_eq!(
        header(&pdf, "content-disposition"),
        Some("attachment; filename*=UTF-8''report.pdf")
    );

    // Ranges and revalidation.
    let part = download(&api, &content, &bob, &[("Range", "bytes=100-199")]).await;
    assert_eq!(part.status, 206);
    assert!(part.body == image[100..200]);
    assert_eq!(
        header(&part, "content-range"),
        Some(format!("bytes 100-199/{}", image.len()).as_str())
    );
    assert_eq!(header(&part, "content-length"), Some("100"));
    let tail = download(&api, &content, &bob, &[("Range", "bytes=-10")]).await;
    assert_eq!(tail.status, 206);
    assert!(tail.body == image[image.len() - 10..]);
    let beyond = format!("bytes={}-", image.len() + 5);
    let outside = download(&api, &content, &bob, &[("Range", beyond.as_str())]).await;
    assert_eq!(outside.status, 416);
    assert_eq!(
        header(&outside, "content-range"),
        Some(format!("bytes */{}", image.len()).as_str())
    );
    let cached = download(&api, &content, &bob, &[("If-None-Match", etag.as_str())]).await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(
        download(&api, &content, &bob, &[("If-None-Match", "\"other\"")])
            .await
            .status,
        200
    );

    // A thumbnail for the image, none for the PDF.
    let thumb = download(
        &api,
        &format!("/api/v1/attachments/{}/thumbnail", photo["id"]),
        &bob,
        &[],
    )
    .await;
    assert_eq!(thumb.status, 200);
    assert_eq!(header(&thumb, "content-type"), Some("image/jpeg"));
    let size = imagesize::blob_size(&thumb.body).unwrap();
    assert_eq!((size.width, size.height), (320, 240));
    let again = download(
        &api,
        &format!("/api/v1/attachments/{}/thumbnail", photo["id"]),
        &alice,
        &[],
    )
    .await;
    assert!(again.body == thumb.body, "made once, then served as made");
    let none = download(
        &api,
        &format!("/api/v1/attachments/{}/thumbnail", report["id"]),
        &bob,
        &[],
    )
    .await;
    assert_eq!(none.status, 404);
}

on_both_backends! {
    async fn upload_send_and_download_on_a_directory_store(server) {
        round_trip(&server).await;
        assert_eq!(objects(&server).iter().filter(|k| k.starts_with("attachments/")).count(), 2);
        assert_eq!(objects(&server).iter().filter(|k| k.starts_with("thumbnails/")).count(), 1);
    }
}

/// The same round trip with the files in a real S3-compatible server.
async fn round_trip_on_s3(backend: Backend) {
    let Some(s3) = S3Server::start() else {
        eprintln!("s3s-fs is not installed; skipped");
        return;
    };
    // This test's process alone reads these (nextest runs each test in a process of its own).
    for (name, value) in s3.env() {
        std::env::set_var(name, value);
    }
    let bucket = s3.bucket.clone();
    let Some(server) = TestServer::start_with(backend, Default::default(), |config| {
        config.storage = parley::storage::StorageUrl::S3 {
            bucket,
            prefix: "node".into(),
        };
    })
    .await
    else {
        return;
    };
    round_trip(&server).await;
    assert!(objects(&server).is_empty(), "nothing went to the directory");
}

#[actix_rt::test]
async fn upload_send_and_download_on_s3_sqlite() {
    round_trip_on_s3(Backend::Sqlite).await;
}

#[actix_rt::test]
#[cfg_attr(not(parley_pg_tests), ignore = "PARLEY_TEST_POSTGRES_URL is not set")]
async fn upload_send_and_download_on_s3_postgres() {
    round_trip_on_s3(Backend::Postgres).await;
}

on_both_backends! {
    /// What the bytes are decides how they are served, not what the uploader said.
    async fn a_type_lie_is_served_as_a_download(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let html = b"<!doctype html><html><script>alert(document.cookie)</script></html>".to_vec();
        let lie = upload(&api, &alice, "cat.png", "image/png", html.clone(), None).await;
        let lie = lie.expect(201).clone();
        assert_eq!(lie["content_type"], "application/octet-stream");
        assert_eq!(lie["width"], Value::Null);
        let got = download(&api, &format!("/api/v1/attachments/{}/content", lie["id"]), &alice, &[]).await;
        assert_eq!(header(&got, "content-type"), Some("application/octet-stream"));
        assert_eq!(header(&got, "content-disposition"), Some("attachment; filename*=UTF-8''cat.png"));
        assert_eq!(header(&got, "content-security-policy"), Some("sandbox; default-src 'none'"));
        // HTML and SVG are downloads whatever they are declared as.
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
        for (name, declared, bytes) in [("page.html", "text/html", html), ("logo.svg", "image/svg+xml", svg)] {
            let up = upload(&api, &alice, name, declared, bytes, None).await;
            let id = up.expect(201)["id"].clone();
            let got = download(&api, &format!("/api/v1/attachments/{id}/content"), &alice, &[]).await;
            assert!(header(&got, "content-disposition").unwrap().starts_with("attachment;"), "{name}");
            assert_eq!(header(&got, "content-security-policy"), Some("sandbox; default-src 'none'"));
            assert_eq!(header(&got, "x-content-type-options"), Some("nosniff"));
        }
        // A name with quotes and non-ASCII cannot break the header.
        let name = "Q3 \"final\"; ünïcode 📄.txt";
        let up = upload(&api, &alice, name, "text/plain; charset=utf-8", b"plain text".to_vec(), None).await;
        let up = up.expect(201).clone();
        assert_eq!(up["filename"], name);
        assert_eq!(up["content_type"], "text/plain");
        let got = download(&api, &format!("/api/v1/attachments/{}/content", up["id"]), &alice, &[]).await;
        let disposition = header(&got, "content-disposition").unwrap();
        assert!(disposition.starts_with("attachment; filename*=UTF-8''Q3%20%22final%22%3B%20"), "{disposition}");
        assert!(disposition.is_ascii() && !disposition[22..].contains(['"', ';', ' ']));
        // No type declared: the bytes decide.
        let up = upload(&api, &alice, "x.bin", "", png(4, 4), None).await;
        assert_eq!(up.expect(201)["content_type"], "image/png");
    }

    async fn bad_uploads_get_the_contracts_errors(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        for name in ["", "a/b", "a\\b", "line\nbreak", "nul\u{0}", &"x".repeat(256)] {
            let up = upload(&api, &alice, name, "text/plain", b"x".to_vec(), None).await;
            up.expect_error(422, "validation_failed");
        }
        let no_name = api
            .request(Method::POST, "/api/v1/attachments", Some(&alice.token), &[], Some(("text/plain", b"x".to_vec())))
            .await;
        no_name.expect_error(422, "validation_failed");
        let empty = upload(&api, &alice, "empty.txt", "text/plain", Vec::new(), None).await;
        empty.expect_error(422, "validation_failed");
        let anonymous = api
            .request(Method::POST, "/api/v1/attachments?filename=a.txt", None, &[], Some(("text/plain", b"x".to_vec())))
            .await;
        anonymous.expect_error(401, "unauthorized");
        for id in ["0", "-1", "abc", "99999"] {
            api.get(&format!("/api/v1/attachments/{id}"), &alice.token).await.expect_error(404, "not_found");
            api.get(&format!("/api/v1/attachments/{id}/content"), &alice.token).await.expect_error(404, "not_found");
        }
        assert!(objects(&server).is_empty(), "{:?}", objects(&server));
        assert_eq!(server.sql_numbers("SELECT COUNT(*) AS n FROM attachments"), [0]);
    }

    /// Past the limit the upload is refused while it streams, and nothing is kept.
    async fn an_upload_past_the_limit_is_refused_and_leaves_nothing(server)
        configured (|c: &mut parley::config::Config| c.attachments.max_upload_bytes = 1024 * 1024)
    {
        let api = server.api();
        let alice = api.register("alice").await;
        // Announced too large: refused before a byte is read.
        let big = vec![7u8; 1024 * 1024 + 1];
        upload(&api, &alice, "big.bin", "application/octet-stream", big.clone(), None)
            .await
            .expect_error(413, "payload_too_large");
        // Not announced (chunked): refused once the limit is passed mid-stream.
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            big.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let sent = api
            .client
            .post(format!("{}/api/v1/attachments?filename=big.bin", api.base))
            .bearer_auth(&alice.token)
            .send_stream(futures_util::stream::iter(chunks))
            .await;
        // The server answers 413 and closes; the client may see the answer or the close.
        if let Ok(mut answer) = sent {
            assert_eq!(answer.status().as_u16(), 413);
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["code"], "payload_too_large");
        }
        // Exactly at the limit is fine.
        let fits = upload(&api, &alice, "fits.bin", "application/octet-stream", vec![1u8; 1024 * 1024], None).await;
        fits.expect(201);
        assert_eq!(server.sql_numbers("SELECT COUNT(*) AS n FROM attachments"), [1]);
        wait_for("no object but the one that fits", Duration::from_secs(5), || async {
            (objects(&server).len() == 1).then_some(())
        })
        .await;
    }

    async fn uploads_are_idempotent(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let first = upload(&api, &alice, "a.txt", "text/plain", b"one".to_vec(), Some("k-1")).await;
        let first = first.expect(201).clone();
        let again = upload(&api, &alice, "a.txt", "text/plain", b"one".to_vec(), Some("k-1")).await;
        assert_eq!(again.expect(201), &first);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        let other = upload(&api, &alice, "a.txt", "text/plain", b"two".to_vec(), Some("k-1")).await;
        other.expect_error(422, "idempotency_key_mismatch");
        assert_eq!(server.sql_numbers("SELECT COUNT(*) AS n FROM attachments"), [1]);
        assert_eq!(objects(&server).len(), 1, "the retries' copies are gone: {:?}", objects(&server));
    }

    /// Who may read, and who may send, an attachment.
    async fn only_the_uploader_and_the_chats_members_read_and_only_the_uploader_sends(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let carol = api.register("carol").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let mine = upload(&api, &alice, "a.txt", "text/plain", b"alice's".to_vec(), None).await;
        let mine = mine.expect(201)["id"].clone();
        let send = |user: &TestUser, ids: Value| {
            let body = json!({"chat_id": chat_id, "content": "see", "attachment_ids": ids});
            let (api, token) = (api.clone(), user.token.clone());
            async move { api.post("/api/v1/messages", &token, &body).await }
        };
        // Nobody sends someone else's upload, an unknown one, or too many.
        send(&bob, json!([mine])).await.expect_error(422, "validation_failed");
        send(&alice, json!([987654])).await.expect_error(422, "validation_failed");
        send(&alice, json!([mine, mine])).await.expect_error(422, "validation_failed");
        send(&alice, json!((1..=11).collect::<Vec<i64>>())).await.expect_error(422, "validation_failed");
        api.post("/api/v1/messages", &alice.token, &json!({"chat_id": chat_id, "content": ""}))
            .await
            .expect_error(422, "validation_failed");
        assert_eq!(server.sql_numbers("SELECT COUNT(*) AS n FROM messages"), [0], "nothing stored");
        let message = send(&alice, json!([mine])).await.expect(200).clone();
        // Sent at most once.
        send(&alice, json!([mine])).await.expect_error(422, "validation_failed");

        // Every way to read it: the record, the bytes, the thumbnail (404 here: not an image).
        let paths = [
            format!("/api/v1/attachments/{mine}"),
            format!("/api/v1/attachments/{mine}/content"),
            format!("/api/v1/attachments/{mine}/thumbnail"),
        ];
        let content = &paths[1];
        assert_eq!(download(&api, content, &bob, &[]).await.status, 200);
        for path in &paths {
            api.get(path, &carol.token).await.expect_error(403, "forbidden");
        }
        // A removed member no longer reads it; the uploader does.
        api.delete(&format!("/api/v1/chats/{chat_id}/members/{}", bob.id), &alice.token).await.expect(204);
        for path in &paths {
            api.get(path, &bob.token).await.expect_error(403, "forbidden");
        }
        assert_eq!(download(&api, content, &alice, &[]).await.status, 200);
        // A revoked token reads nothing, and uploads nothing.
        api.request(Method::POST, "/api/v1/auth/logout", Some(&alice.token), &[], None).await.expect(204);
        for path in &paths {
            api.get(path, &alice.token).await.expect_error(401, "unauthorized");
        }
        upload(&api, &alice, "late.txt", "text/plain", b"x".to_vec(), None)
            .await
            .expect_error(401, "unauthorized");
        let _ = message;
    }

    /// Deleting the message makes its attachments unreadable at once; a sweep removes their
    /// bytes (and thumbnails) and rows.
    async fn a_deleted_messages_attachments_are_gone(server)
        configured (|c: &mut parley::config::Config| c.attachments.sweep_every = Duration::from_millis(100))
    {
        let api = server.api();
        let alice = api.register("alice").await;
        let bob = api.register("bob").await;
        let chat_id = api.group(&alice, &[&bob]).await;
        let id = upload(&api, &alice, "p.png", "image/png", png(400, 400), None).await.expect(201)["id"].clone();
        let message = api
            .post("/api/v1/messages", &alice.token, &json!({"chat_id": chat_id, "content": "x", "attachment_ids": [id]}))
            .await
            .expect(200)
            .clone();
        let thumb = download(&api, &format!("/api/v1/attachments/{id}/thumbnail"), &bob, &[]).await;
        assert_eq!(thumb.status, 200);
        assert_eq!(objects(&server).len(), 2);
        let tombstone = api.delete(&format!("/api/v1/messages/{}", message["id"]), &alice.token).await;
        assert_eq!(tombstone.expect(200)["attachments"], json!([]));
        for user in [&alice, &bob] {
            for suffix in ["", "/content", "/thumbnail"] {
                api.get(&format!("/api/v1/attachments/{id}{suffix}"), &user.token).await.expect_error(404, "not_found");
            }
        }
        let history = api.get(&format!("/api/v1/chats/{chat_id}/messages"), &bob.token).await;
        assert_eq!(history.expect(200)["messages"].as_array().unwrap().last().unwrap()["attachments"], json!([]));
        wait_for("the sweep to remove the bytes", Duration::from_secs(10), || async {
            objects(&server).is_empty().then_some(())
        })
        .await;
        wait_for("the sweep to forget the row", Duration::from_secs(10), || async {
            (server.sql_numbers("SELECT COUNT(*) AS n FROM attachments") == [0]).then_some(())
        })
        .await;
        // Counted once the sweep has heard its rows are gone (just after the commit).
        wait_for("the sweep to be counted", Duration::from_secs(10), || async {
            (server.metric("attachments_swept_total") >= 1.0).then_some(())
        })
        .await;
    }

    /// Uploads no message took in time, and objects no row knows, are swept.
    async fn unsent_uploads_and_orphans_are_swept(server)
        configured (|c: &mut parley::config::Config| {
            c.attachments.sweep_every = Duration::from_millis(100);
            c.attachments.unsent_ttl = Duration::from_millis(300);
            c.attachments.orphan_grace = Duration::ZERO;
        })
    {
        let api = server.api();
        let alice = api.register("alice").await;
        // An object whose write succeeded but whose row never came (a crash between them).
        std::fs::create_dir_all(server.storage_dir.join("attachments")).unwrap();
        std::fs::write(server.storage_dir.join("attachments/left-behind"), b"orphan").unwrap();
        let id = upload(&api, &alice, "late.txt", "text/plain", b"never sent".to_vec(), None).await.expect(201)["id"].clone();
        wait_for("the orphan and the unsent upload to go", Duration::from_secs(15), || async {
            objects(&server).is_empty().then_some(())
        })
        .await;
        api.get(&format!("/api/v1/attachments/{id}"), &alice.token).await.expect_error(404, "not_found");
        let chat_id = api.group(&alice, &[]).await;
        api.post("/api/v1/messages", &alice.token, &json!({"chat_id": chat_id, "content": "x", "attachment_ids": [id]}))
            .await
            .expect_error(422, "validation_failed");
    }

    /// An image whose header promises ten billion pixels is refused a thumbnail with a clear
    /// error, and the server goes on serving.
    async fn a_decompression_bomb_is_refused(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let bomb = parley::thumbnails::bomb_png(100_000, 100_000);
        let up = upload(&api, &alice, "bomb.png", "image/png", bomb, None).await;
        let up = up.expect(201).clone();
        assert_eq!((up["width"].clone(), up["height"].clone()), (json!(100_000), json!(100_000)));
        let thumb = api.get(&format!("/api/v1/attachments/{}/thumbnail", up["id"]), &alice.token).await;
        thumb.expect_error(422, "image_too_large");
        // Recorded: asked again, it is refused without being looked at again.
        let again = api.get(&format!("/api/v1/attachments/{}/thumbnail", up["id"]), &alice.token).await;
        again.expect_error(422, "image_too_large");
        assert_eq!(server.metric("thumbnails_total"), 1.0);
        // A file that claims to be an image and is not.
        let mut broken = png(64, 64);
        broken.truncate(200);
        let up = upload(&api, &alice, "broken.png", "image/png", broken, None).await;
        let thumb = api.get(&format!("/api/v1/attachments/{}/thumbnail", up.expect(201)["id"]), &alice.token).await;
        thumb.expect_error(422, "image_undecodable");
        let ok = upload(&api, &alice, "fine.png", "image/png", png(50, 50), None).await;
        let fine = download(&api, &format!("/api/v1/attachments/{}/thumbnail", ok.expect(201)["id"]), &alice, &[]).await;
        assert_eq!(fine.status, 200);
    }

    /// Two sends racing for one upload: exactly one holds it, however the race goes.
    async fn an_attachment_is_sent_at_most_once(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let first_chat = api.group(&alice, &[]).await;
        let second_chat = api.group(&alice, &[]).await;
        for round in 0..20 {
            let id = upload(&api, &alice, "r.txt", "text/plain", format!("round {round}").into_bytes(), None)
                .await
                .expect(201)["id"]
                .clone();
            let send = |chat_id: i64| {
                let body = json!({"chat_id": chat_id, "content": "race", "attachment_ids": [id]});
                let (api, token) = (api.clone(), alice.token.clone());
                async move { api.post("/api/v1/messages", &token, &body).await.status }
            };
            let (a, b) = futures_util::join!(send(first_chat), send(second_chat));
            let mut statuses = [a, b];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 422], "round {round}");
        }
        let held = server.sql_numbers("SELECT COUNT(*) AS n FROM attachments WHERE message_id IS NOT NULL");
        assert_eq!(held, [20]);
    }

    /// Search results carry the aggregate too.
    async fn search_results_carry_attachments(server) {
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let up = upload(&api, &alice, "notes.txt", "text/plain", b"notes".to_vec(), None).await;
        let attachment = up.expect(201).clone();
        let sent = api
            .post("/api/v1/messages", &alice.token,
                &json!({"chat_id": chat_id, "content": "quarterly numbers", "attachment_ids": [attachment["id"]]}))
            .await;
        let message = sent.expect(200).clone();
        let found = wait_for("the message to be searchable", Duration::from_secs(5), || async {
            let res = api.get("/api/v1/search?q=quarterly", &alice.token).await;
            res.json["messages"].as_array().filter(|m| !m.is_empty()).cloned()
        })
        .await;
        assert_eq!(found[0], message);
        assert_eq!(found[0]["attachments"], json!([attachment]));
    }
}

on_both_backends! {
    /// Uploads are writes: they take from the same per-user bucket as sends, and a refused one
    /// stores nothing.
    async fn uploads_count_against_the_write_rate(server)
        configured (|c: &mut parley::config::Config| c.rates = parley::config::RateSettings {
            send_rate: 1,
            send_burst: 3,
            ..parley::config::RateSettings::UNLIMITED
        })
    {
        let api = server.api();
        let alice = api.register("alice").await;
        // Five at once: past the burst of three, whatever the machine's speed.
        let uploads = (0..5).map(|i| {
            let (api, alice) = (api.clone(), alice.clone());
            async move {
                upload(&api, &alice, "r.txt", "text/plain", format!("file {i}").into_bytes(), None).await
            }
        });
        let answers = futures_util::future::join_all(uploads).await;
        for up in answers.iter().filter(|up| up.status == 429) {
            assert!(up.header("retry-after").is_some());
        }
        let statuses: Vec<u16> = answers.iter().map(|up| up.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
        assert_eq!(server.sql_numbers("SELECT COUNT(*) AS n FROM attachments"), [3]);
        assert_eq!(objects(&server).len(), 3);
    }
}
