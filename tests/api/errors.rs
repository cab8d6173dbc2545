//! Error answers: every code is documented, and an internal error keeps its cause for the one
//! log line that reports it while the client sees only the contract's 500 body.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::json;

use crate::common::{Backend, TestServer};
use crate::on_both_backends;
use parley::error::ErrorCode;

#[actix_rt::test]
async fn every_error_code_is_in_the_openapi_document() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let doc = server.openapi().await;
    let documented: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum schema")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, all);
    for body in ["ErrorBody", "InternalErrorBody"] {
        assert_eq!(
            doc["components"]["schemas"][body]["properties"]["code"]["$ref"],
            "#/components/schemas/ErrorCode",
            "{body}.code"
        );
    }
}

/// Everything the server logs at INFO and above (the level of its request spans), from every
/// thread, for the whole process.
fn captured_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        struct Capture;
        impl Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if let Some(log) = LOG.get() {
                    log.lock().unwrap().extend_from_slice(buf);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
        Mutex::new(Vec::new())
    })
}

on_both_backends! {
    /// A fault inside the database (a trigger refusing one edit) answers the contract's 500,
    /// and is logged exactly once, with the database's own message and the request id.
    async fn an_internal_error_is_logged_once_with_its_cause(server) {
        let log = captured_log();
        let api = server.api();
        let alice = api.register("alice").await;
        let chat_id = api.group(&alice, &[]).await;
        let message = api.send(&alice, chat_id, "fine").await;
        server.execute_sql(match server.backend {
            Backend::Sqlite => {
                "CREATE TRIGGER cursed BEFORE UPDATE ON messages WHEN NEW.content = 'cursed' \
                 BEGIN SELECT RAISE(ABORT, 'cursed edit refused'); END;"
            }
            Backend::Postgres => {
                "CREATE FUNCTION cursed() RETURNS trigger AS $$ BEGIN \
                   IF NEW.content = 'cursed' THEN RAISE EXCEPTION 'cursed edit refused'; END IF; \
                   RETURN NEW; \
                 END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER cursed BEFORE UPDATE ON messages \
                   FOR EACH ROW EXECUTE FUNCTION cursed();"
            }
        });
        let path = format!("/api/v1/messages/{}", message["id"]);
        let answer = api.patch(&path, &alice.token, &json!({"content": "cursed"})).await;
        assert_eq!(answer.status, 500, "{}", answer.text);
        let request_id = answer.json["request_id"].as_str().unwrap().to_owned();
        assert_eq!(
            answer.json,
            json!({"detail": "Internal server error", "code": "internal", "request_id": request_id})
        );
        assert!(!answer.text.contains("cursed"), "the cause never reaches the client");
        // Log lines are written as the error is answered; give other threads a moment.
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        let reports: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("cursed edit refused"))
            .collect();
        assert_eq!(reports.len(), 1, "logged once: {reports:#?}");
        assert!(reports[0].contains("ERROR"), "{}", reports[0]);
        assert!(reports[0].contains(&request_id), "{}", reports[0]);
        // The edit changed nothing.
        let stored = api.get(&path, &alice.token).await;
        assert_eq!(stored.expect(200)["content"], "fine");
    }
}

/// `docs/api.md` is the reference client authors read: every route of the OpenAPI document
/// and every error code appears in it (path parameters may be named differently, and the
/// `/api/v1` prefix is left out there).
#[actix_rt::test]
async fn the_api_reference_covers_every_route_and_error_code() {
    let reference = include_str!("../../docs/api.md");
    let normalise = |text: &str| {
        let mut out = String::with_capacity(text.len());
        let mut in_param = false;
        for ch in text.chars() {
            match ch {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                _ if in_param => {}
                _ => out.push(ch),
            }
        }
        out.replace("/api/v1/", "/")
    };
    let reference = normalise(reference);
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let doc = server.openapi().await;
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            // `HEAD` is documented once, for every `GET` route (checked below).
            if method == "head" {
                assert!(item.get("get").is_some(), "HEAD without GET at {path}");
                continue;
            }
            let route = format!("{} {}", method.to_uppercase(), normalise(path));
            if !reference.contains(&route) {
                missing.push(route);
            }
        }
    }
    if !reference.contains("Every `GET` route answers `HEAD`") {
        missing.push("HEAD for every GET route".to_owned());
    }
    for code in ErrorCode::ALL {
        if !reference.contains(&format!("`{}`", code.as_str())) {
            missing.push(format!("error code {}", code.as_str()));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md does not mention: {missing:#?}"
    );
}

/// The status line a raw WebSocket handshake with these header lines gets.
async fn handshake_status(server: &TestServer, token: &str, headers: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/ws HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && stream.read(&mut byte).await.unwrap() == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).trim_end().to_owned()
}

/// The WebSocket route takes exactly the handshakes its OpenAPI parameters describe: the
/// `Upgrade`, `Connection`, `Sec-WebSocket-Version` and `Sec-WebSocket-Key` patterns, and a
/// 400 for anything else (the fuzzer cannot check this route: an accepted upgrade stops being
/// HTTP).
#[actix_rt::test]
async fn the_websocket_handshake_is_what_the_document_says() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let alice = server.api().register("alice").await;
    let doc = server.openapi().await;
    let params = doc["paths"]["/api/v1/ws"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let pattern = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"]["pattern"].clone())
    };
    assert_eq!(pattern("Sec-WebSocket-Version"), Some(json!("^13$")));
    assert_eq!(
        pattern("Sec-WebSocket-Key"),
        Some(json!("^[A-Za-z0-9+/]{21}[AQgw]==$"))
    );
    assert!(pattern("Upgrade").is_some() && pattern("Connection").is_some());
    let responses = &doc["paths"]["/api/v1/ws"]["get"]["responses"];
    for status in ["101", "400", "401", "403", "429"] {
        assert!(responses.get(status).is_some(), "{status} documented");
    }

    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let version = "Sec-WebSocket-Version: 13\r\n";
    let accepted = [
        format!("Upgrade: websocket\r\nConnection: Upgrade\r\n{key}{version}"),
        // Firefox sends a token list.
        format!("Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n{key}{version}"),
    ];
    for headers in &accepted {
        let status = handshake_status(&server, &alice.token, headers).await;
        assert!(status.starts_with("HTTP/1.1 101"), "{headers:?}: {status}");
    }
    let refused = [
        format!("Connection: Upgrade\r\n{key}{version}"),
        format!("Upgrade: h2c\r\nConnection: Upgrade\r\n{key}{version}"),
        format!("Upgrade: websocket\r\n{key}{version}"),
        format!("Upgrade: websocket\r\nConnection: close, Upgrade\r\n{key}{version}"),
        format!("Upgrade: websocket\r\nConnection: Upgrade\r\n{key}Sec-WebSocket-Version: 8\r\n"),
        format!("Upgrade: websocket\r\nConnection: Upgrade\r\n{version}"),
        // 16 bytes in base64, but with bits set past the last byte: not canonical.
        format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\n{version}"),
        format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n{version}"),
    ];
    for headers in &refused {
        let status = handshake_status(&server, &alice.token, headers).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{headers:?}: {status}");
    }
}
