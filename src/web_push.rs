//! Sending one Web Push request: the payload encrypted as RFC 8291 (`aes128gcm`) by
//! `web-push-native`, signed with VAPID (RFC 8292) by `jsonwebtoken` (ES256 over ring, which
//! the tree already has), and POSTed over `reqwest` (also already in the tree, for the S3
//! store) — see docs/design/push.md for why these crates. No redirect is followed, and a push
//! service has 10 s to answer.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::pkcs8::EncodePrivateKey;

use crate::domain::push::{DuePush, PushPayload, VapidKey, GIVE_UP_AFTER_MS};

/// How long a push service has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
const TOKEN_VALID_SECS: u64 = 12 * 60 * 60;

/// What the push service made of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: it has the notification.
    Accepted,
    /// 404 or 410: the subscription is gone for good.
    Gone,
    /// 429 or 5xx: try again, not before `retry_after_ms` if it said so.
    Later {
        throttled: bool,
        retry_after_ms: Option<i64>,
    },
    /// No answer (timeout, connection refused, TLS): try again.
    Unreachable(String),
    /// Another status, or a subscription whose keys no longer decode: trying again would fail
    /// the same way.
    Refused(String),
}

pub struct WebPushSender {
    client: reqwest::Client,
    signing_key: jsonwebtoken::EncodingKey,
    public_key: String,
    /// The VAPID `sub` claim: how a push service's operator can reach this server's.
    contact: String,
}

impl WebPushSender {
    pub fn new(vapid: &VapidKey, contact: String) -> Result<Self, String> {
        // TLS goes through rustls with ring (as for the S3 store); installed once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(ANSWER_WITHIN)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("push client: {e}"))?;
        let der = vapid
            .secret()
            .to_pkcs8_der()
            .map_err(|e| format!("the VAPID key as PKCS#8: {e}"))?;
        Ok(WebPushSender {
            client,
            signing_key: jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
            public_key: vapid.public_base64url(),
            contact,
        })
    }

    /// Sends `payload` to the device of `push`.
    pub async fn send(&self, push: &DuePush, payload: &PushPayload) -> Answer {
        let request = match self.request(push, payload) {
            Ok(request) => request,
            Err(why) => return Answer::Refused(why),
        };
        match request.send().await {
            Ok(response) => classify(&response),
            Err(e) => Answer::Unreachable(crate::error::cause_chain(&e)),
        }
    }

    fn request(
        &self,
        push: &DuePush,
        payload: &PushPayload,
    ) -> Result<reqwest::RequestBuilder, String> {
        let endpoint: ::http::Uri = push
            .endpoint
            .parse()
            .map_err(|_| "the endpoint is not a URI".to_owned())?;
        let device_key = URL_SAFE_NO_PAD
            .decode(push.p256dh.trim_end_matches('='))
            .ok()
            .and_then(|bytes| p256::PublicKey::from_sec1_bytes(&bytes).ok())
            .ok_or("the subscription's p256dh is not a P-256 key")?;
        let auth = URL_SAFE_NO_PAD
            .decode(push.auth.trim_end_matches('='))
            .ok()
            .and_then(web_push_native::Auth::from_exact_iter)
            .ok_or("the subscription's auth secret is not 16 bytes")?;
        let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        let built = web_push_native::WebPushBuilder::new(endpoint, device_key, auth)
            .with_valid_duration(Duration::from_millis(GIVE_UP_AFTER_MS.unsigned_abs()))
            .build(body)
            .map_err(|e| format!("encrypting the payload: {e}"))?;
        let audience = crate::actors::service_lanes::origin(&push.endpoint)
            .ok_or("the endpoint has no origin")?;
        let token = self.token(&audience)?;
        let (parts, body) = built.into_parts();
        Ok(self
            .client
            .post(&push.endpoint)
            .headers(parts.headers)
            .header(
                ::http::header::AUTHORIZATION,
                format!("vapid t={token}, k={}", self.public_key),
            )
            .header("Urgency", if push.urgent { "high" } else { "normal" })
            .header("Topic", push.topic())
            .body(body))
    }

    /// A VAPID token for one push service (`aud` is its origin).
    fn token(&self, audience: &str) -> Result<String, String> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            exp: u64,
            sub: &'a str,
        }
        let now = u64::try_from(crate::domain::Timestamp::now().millis() / 1000).unwrap_or(0);
        let claims = Claims {
            aud: audience,
            exp: now + TOKEN_VALID_SECS,
            sub: &self.contact,
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &self.signing_key,
        )
        .map_err(|e| format!("signing the VAPID token: {e}"))
    }
}

fn classify(response: &reqwest::Response) -> Answer {
    let status = response.status();
    if status.is_success() {
        return Answer::Accepted;
    }
    match status.as_u16() {
        404 | 410 => Answer::Gone,
        429 | 500..=599 => Answer::Later {
            throttled: status.as_u16() == 429,
            retry_after_ms: response
                .headers()
                .get(::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::domain::delivery::retry_after_ms),
        },
        other => Answer::Refused(format!("the push service answered {other}")),
    }
}
