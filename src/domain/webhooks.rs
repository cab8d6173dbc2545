//! Webhooks as values: the secrets of incoming webhooks' URLs, the Standard Webhooks signature
//! of outgoing ones, the event types one may subscribe to, and when a failing one is retried
//! or given up.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::events::EventKind;
use parley_types::{ChatId, EventSubscriptionId, Seq};

type HmacSha256 = Hmac<Sha256>;

/// The prefix of an incoming webhook's URL, before its secret.
pub const HOOK_PATH: &str = "/hooks/";
/// A failing outgoing webhook is disabled this long after its first failure.
pub const DISABLE_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// The server's key for incoming webhooks' secrets (kept in the database, shared by every
/// node). A secret is derived from it and a stored random salt, so the database holds neither
/// the secret nor anything that finds the webhook without the key, yet owners can be shown
/// the URL again.
#[derive(Clone)]
pub struct HookKey([u8; 32]);

impl std::fmt::Debug for HookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookKey(..)")
    }
}

impl HookKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        HookKey(key)
    }

    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64url(text: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("the webhook key: {e}"))?;
        Ok(HookKey(bytes.try_into().map_err(|_| {
            "the webhook key is not 32 bytes".to_owned()
        })?))
    }

    /// A fresh salt (128 random bits, base64url).
    pub fn new_salt() -> String {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        URL_SAFE_NO_PAD.encode(salt)
    }

    /// The secret of the webhook with this salt: 256 bits, base64url (43 characters).
    pub fn secret(&self, salt: &str) -> Option<String> {
        let mac = hmac(&self.0, &[b"incoming-webhook.", salt.as_bytes()])?;
        Some(URL_SAFE_NO_PAD.encode(mac))
    }

    /// The URL the webhook answers on, relative to the server.
    pub fn url(&self, salt: &str) -> Option<String> {
        Some(format!("{HOOK_PATH}{}", self.secret(salt)?))
    }
}

/// HMAC-SHA256 of the parts, one after the other. (HMAC takes keys of any length; the crate's
/// interface has a `Result` for the MACs that do not.)
fn hmac(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().into())
}

/// An outgoing webhook's signing secret as Standard Webhooks writes it: `whsec_` and the
/// base64 of 24 random bytes.
pub fn new_signing_secret() -> String {
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// `webhook-signature` of a body: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`
/// under the secret's key; `None` if the secret is not one this server made.
pub fn signature(secret: &str, webhook_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let timestamp = timestamp.to_string();
    let mac = hmac(
        &key,
        &[
            webhook_id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            body,
        ],
    )?;
    Some(format!("v1,{}", STANDARD.encode(mac)))
}

/// The `webhook-id` of a chat's event: the same on every attempt, on every node, and for
/// every subscription (it names the event, which receivers deduplicate on).
pub fn webhook_id(chat_id: ChatId, seq: Seq) -> String {
    format!("msg_{}_{}", chat_id.get(), seq.get())
}

/// The event types a subscription may ask for: every event that has a seq (typing and
/// presence are not events of the chat's log).
pub fn subscribable(kind: &str) -> bool {
    EventKind::parse(kind).is_some()
}

/// What went wrong with an attempt, kept short for the delivery log.
pub fn short_error(error: &str) -> String {
    const MOST: usize = 200;
    match error.char_indices().nth(MOST) {
        Some((cut, _)) => format!("{}…", error.get(..cut).unwrap_or_default()),
        None => error.to_owned(),
    }
}

/// How one attempt (or a run of skipped events) ended, for `settle`.
pub struct Attempted {
    pub subscription_id: EventSubscriptionId,
    /// The claim's lease (the `due_at` it set): the record is kept only while it holds.
    pub lease: i64,
    /// The attempts to log (none for skipped events or a release).
    pub logged: Vec<crate::db::rows::DeliveryRow>,
    pub next: NextStep,
}

pub enum NextStep {
    /// Every event up to `seq` is done. With `release_at`, the claim ends and the
    /// subscription is due again then; without, the claim (its lease) holds: the node goes on
    /// with the next event, and no other may start on it meanwhile.
    Advance { seq: Seq, release_at: Option<i64> },
    /// The event after `delivered_seq` failed: try it again at `retry_at`.
    Retry {
        retry_at: i64,
        attempts: i32,
        failing_since: i64,
    },
    /// A day of failure: nothing more is sent.
    Disable { at: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (and its libraries' tests).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            signed.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(signature("nope", "id", 1, body), None);
    }

    #[test]
    fn a_hook_secret_is_derived_from_key_and_salt() {
        let key = HookKey::generate();
        let salt = HookKey::new_salt();
        assert_eq!(key.secret(&salt), key.secret(&salt));
        assert_eq!(key.secret(&salt).unwrap().len(), 43);
        assert_ne!(key.secret(&salt), key.secret(&HookKey::new_salt()));
        assert_ne!(key.secret(&salt), HookKey::generate().secret(&salt));
        let kept = HookKey::from_base64url(&key.to_base64url()).unwrap();
        assert_eq!(kept.url(&salt), key.url(&salt));
        assert!(key.url(&salt).unwrap().starts_with("/hooks/"));
        assert!(!format!("{key:?}").contains(&key.to_base64url()));
    }

    #[test]
    fn only_logged_events_are_subscribable() {
        assert!(subscribable("message.created"));
        assert!(subscribable("member.left"));
        assert!(!subscribable("typing"));
        assert!(!subscribable("presence"));
    }

    #[test]
    fn errors_are_cut_on_a_character() {
        let long = "é".repeat(300);
        let cut = short_error(&long);
        assert_eq!(cut.chars().count(), 201);
        assert_eq!(short_error("short"), "short");
    }
}
