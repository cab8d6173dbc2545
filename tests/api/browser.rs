//! The browser client in a real browser: `tests/browser/run.mjs` drives headless Chromium
//! (Debian's `chromium`, through npm's `playwright-core`) against a server this test starts:
//! two people, live chat creation, messages both ways, a reaction, an edit, typing, a send
//! while offline stored once, a lost connection resumed without gap or duplicate, a reload,
//! mentions, a thread, notifications, integrations, a report, a block and an unblock, and the
//! operators' page (live figures, and the report resolved). Screenshots go to
//! `target/browser-screenshots/`.

use std::path::Path;
use std::process::Command;

use crate::common::process::free_port;
use crate::common::{Backend, TestServer};
use parley::config::CorsOrigins;

const ADMIN: &str = "admin-token-for-browser-tests";

/// Why the browser test cannot run here, if it cannot.
fn missing_tools() -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is not installed"));
    }
    if !Path::new("tests/browser/node_modules/playwright-core").exists() {
        return Some("playwright-core is not installed (npm ci --prefix tests/browser)".into());
    }
    None
}

#[actix_rt::test]
async fn the_browser_client_keeps_every_promise() {
    if let Some(why) = missing_tools() {
        assert!(
            std::env::var_os("PARLEY_TEST_REQUIRE_BROWSER").is_none(),
            "the browser test is required (PARLEY_TEST_REQUIRE_BROWSER) but {why}"
        );
        eprintln!("SKIPPED: {why}");
        return;
    }
    // A second web app on another origin, and one that is not allowed.
    let allowed = free_port();
    let other = std::iter::repeat_with(free_port)
        .find(|p| *p != allowed)
        .unwrap();
    let server = TestServer::start_with(Backend::Sqlite, Default::default(), |c| {
        c.admin_token = Some(ADMIN.to_owned());
        // The integrations step's receiver listens on this machine.
        c.webhooks.allow_hosts = vec!["127.0.0.1".to_owned()];
        c.cors = Some(CorsOrigins::Listed(vec![format!(
            "http://127.0.0.1:{allowed}"
        )]));
    })
    .await
    .unwrap();
    let base = server.base.clone();
    let run = actix_rt::task::spawn_blocking(move || {
        Command::new("node")
            .args([
                "tests/browser/run.mjs",
                &base,
                "target/browser-screenshots",
                ADMIN,
                &allowed.to_string(),
                &other.to_string(),
            ])
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("browser tests passed"),
        "{stdout}\n{stderr}"
    );
}

/// What the server sends a browser: the page and its modules, with a strict policy.
#[actix_rt::test]
async fn the_client_is_served_with_a_strict_content_security_policy() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let api = server.api();
    for (path, kind) in [
        ("/", "text/html"),
        ("/admin", "text/html"),
        ("/app/app.js", "text/javascript"),
        ("/app/style.css", "text/css"),
    ] {
        let answer = api
            .request(awc::http::Method::GET, path, None, &[], None)
            .await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(
            answer.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        let csp = answer.header("content-security-policy").unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
    }
    let missing = api
        .request(awc::http::Method::GET, "/app/nope.js", None, &[], None)
        .await;
    missing.expect_error(404, "not_found");
}
