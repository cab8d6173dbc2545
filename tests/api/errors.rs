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
            let route = format!("{} {}", method.to_uppercase(), normalise(path));
            if !reference.contains(&route) {
                missing.push(route);
            }
        }
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
