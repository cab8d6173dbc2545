//! A real Web Push receiver for the tests: npm's `web-push-testing` (installed with the browser
//! tests' packages), which checks each request's VAPID signature against the key a device
//! subscribed with, decrypts the `aes128gcm` payload, and can expire a subscription (`410`).
//! And a gate in front of it that records each request's headers and can fail the next ones.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use super::process::free_port;

/// `web-push-testing` on a free port, killed when dropped.
pub struct PushReceiver {
    pub port: u16,
    child: Child,
    client: awc::Client,
}

/// A subscription the receiver made, as a browser would hand it to Parley.
#[derive(Clone, Debug)]
pub struct PushDevice {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub client_hash: String,
}

impl PushDevice {
    /// The `PushSubscription` JSON a browser posts.
    pub fn subscription(&self) -> Value {
        json!({"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}})
    }

    /// The same device reached through `gate` (its port in place of the receiver's).
    pub fn through(&self, gate: &PushGate, receiver: &PushReceiver) -> PushDevice {
        PushDevice {
            endpoint: self.endpoint.replace(
                &format!("localhost:{}", receiver.port),
                &format!("localhost:{}", gate.port),
            ),
            ..self.clone()
        }
    }
}

impl PushReceiver {
    /// `None` when Node.js or the package is missing, unless `PARLEY_TEST_REQUIRE_PUSH` is set
    /// (as `.ci/run`, which installs it, does): then that is a failure.
    pub async fn start() -> Option<PushReceiver> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/node_modules/web-push-testing/src/bin/server.js"
        );
        let required = std::env::var_os("PARLEY_TEST_REQUIRE_PUSH").is_some();
        if !std::path::Path::new(script).exists() {
            assert!(
                !required,
                "web-push-testing is required (PARLEY_TEST_REQUIRE_PUSH) but {script} is missing"
            );
            return None;
        }
        let port = free_port();
        let child = match Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                assert!(!required, "web-push-testing cannot run: {e}");
                return None;
            }
        };
        let receiver = PushReceiver {
            port,
            child,
            client: super::test_client(Duration::from_secs(10)),
        };
        for _ in 0..200 {
            if let Ok(res) = receiver.client.post(receiver.url("/status")).send().await {
                if res.status() == 200 {
                    return Some(receiver);
                }
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("web-push-testing did not come up on port {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// A new device subscribed with the server's VAPID public key.
    pub async fn subscribe(&self, vapid_public_key: &str) -> PushDevice {
        let mut res = self
            .client
            .post(self.url("/subscribe"))
            .send_json(&json!({"applicationServerKey": vapid_public_key}))
            .await
            .expect("the receiver answers");
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(res.status(), 200, "{body}");
        let data = &body["data"];
        PushDevice {
            endpoint: data["endpoint"].as_str().expect("endpoint").to_owned(),
            p256dh: data["keys"]["p256dh"].as_str().expect("p256dh").to_owned(),
            auth: data["keys"]["auth"].as_str().expect("auth").to_owned(),
            client_hash: data["clientHash"].as_str().expect("clientHash").to_owned(),
        }
    }

    /// The payloads the device received, decrypted, in arrival order.
    pub async fn received(&self, device: &PushDevice) -> Vec<Value> {
        let mut res = self
            .client
            .post(self.url("/get-notifications"))
            .send_json(&json!({"clientHash": device.client_hash}))
            .await
            .expect("the receiver answers");
        let body: Value = res.json().await.expect("JSON");
        body["data"]["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| serde_json::from_str(m.as_str().expect("a string")).expect("a JSON payload"))
            .collect()
    }

    /// Waits (up to 15 s) until the device has received `count` payloads, and returns them.
    pub async fn wait_for(&self, device: &PushDevice, count: usize) -> Vec<Value> {
        self.wait_for_within(device, count, Duration::from_secs(15))
            .await
    }

    pub async fn wait_for_within(
        &self,
        device: &PushDevice,
        count: usize,
        within: Duration,
    ) -> Vec<Value> {
        let what = format!("{count} notifications on the device");
        super::wait_for(&what, within, || async {
            let got = self.received(device).await;
            (got.len() >= count).then_some(got)
        })
        .await
    }

    /// From now on the receiver answers `410 Gone` for this device.
    pub async fn expire(&self, device: &PushDevice) {
        let res = self
            .client
            .post(self.url(&format!("/expire-subscription/{}", device.client_hash)))
            .send()
            .await
            .expect("the receiver answers");
        assert_eq!(res.status(), 200);
    }
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the gate saw of one request.
#[derive(Clone, Debug)]
pub struct SeenPush {
    pub path: String,
    pub authorization: String,
    pub urgency: String,
    pub topic: String,
    pub ttl: String,
    pub status: u16,
}

#[derive(Default)]
struct GateState {
    /// Answers to give instead of forwarding, in order: status and `Retry-After`.
    failures: VecDeque<(u16, Option<&'static str>)>,
    seen: Vec<SeenPush>,
}

/// An HTTP server in front of the receiver: it records every request and forwards it, or
/// answers the failures it was told to give first.
pub struct PushGate {
    pub port: u16,
    state: Arc<Mutex<GateState>>,
}

impl PushGate {
    pub fn start(receiver: &PushReceiver) -> PushGate {
        let state = Arc::new(Mutex::new(GateState::default()));
        let target = format!("http://127.0.0.1:{}", receiver.port);
        let shared = state.clone();
        let server = HttpServer::new(move || {
            let (state, target) = (shared.clone(), target.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (state, target) = (state.clone(), target.clone());
                async move { pass(req, body, &state, &target).await }
            }))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("the gate binds");
        let port = server.addrs().first().expect("an address").port();
        actix_rt::spawn(server.run());
        PushGate { port, state }
    }

    /// The next requests are answered with these statuses (and `Retry-After`s) instead of
    /// reaching the receiver.
    pub fn fail_next(&self, answers: &[(u16, Option<&'static str>)]) {
        self.state
            .lock()
            .unwrap()
            .failures
            .extend(answers.iter().copied());
    }

    /// The requests seen so far, once at least `count` have been answered (the receiver
    /// stores a notification before the gate has its answer).
    pub async fn seen(&self, count: usize) -> Vec<SeenPush> {
        let what = format!("{count} answered requests at the gate");
        super::wait_for(&what, Duration::from_secs(10), || async {
            let seen = self.state.lock().unwrap().seen.clone();
            let answered = seen.iter().filter(|s| s.status != 0).count();
            (answered >= count).then_some(seen)
        })
        .await
    }
}

async fn pass(
    req: HttpRequest,
    body: web::Bytes,
    state: &Mutex<GateState>,
    target: &str,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut seen = SeenPush {
        path: req.path().to_owned(),
        authorization: header("authorization"),
        urgency: header("urgency"),
        topic: header("topic"),
        ttl: header("ttl"),
        status: 0,
    };
    // Recorded before it is answered; its status is filled in once it is.
    let at = {
        let mut state = state.lock().unwrap();
        state.seen.push(seen.clone());
        state.seen.len() - 1
    };
    let failure = state.lock().unwrap().failures.pop_front();
    let response = if let Some((status, retry_after)) = failure {
        let mut answer =
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a status"));
        if let Some(after) = retry_after {
            answer.insert_header(("Retry-After", after));
        }
        seen.status = status;
        answer.finish()
    } else {
        let mut forward = awc::Client::default().post(format!("{target}{}", req.path()));
        for name in [
            "authorization",
            "content-encoding",
            "content-type",
            "ttl",
            "urgency",
            "topic",
        ] {
            if let Some(value) = req.headers().get(name) {
                forward = forward.insert_header((name, value.clone()));
            }
        }
        match forward.send_body(body).await {
            Ok(mut res) => {
                let body = res.body().await.unwrap_or_default();
                seen.status = res.status().as_u16();
                HttpResponse::build(res.status()).body(body)
            }
            Err(_) => {
                seen.status = 502;
                HttpResponse::BadGateway().finish()
            }
        }
    };
    if let Some(entry) = state.lock().unwrap().seen.get_mut(at) {
        entry.status = seen.status;
    }
    response
}
