//! Web Push, the parts that are rules rather than I/O: the VAPID key pair, and what a
//! subscription the browser hands over must be before it is kept (docs/design/push.md).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use parley_types::{ChatId, MessageId, NotificationLevel, Seq, SubscriptionId, UserId};

/// The longest endpoint kept (push services' URLs are a few hundred bytes).
pub const MAX_ENDPOINT_BYTES: usize = 2048;

/// The server's VAPID key pair (RFC 8292), P-256.
#[derive(Clone)]
pub struct VapidKey {
    secret: p256::SecretKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, not even in a log line.
        f.debug_struct("VapidKey")
            .field("public", &self.public_base64url())
            .finish()
    }
}

impl VapidKey {
    /// A fresh key pair, from the operating system's randomness.
    pub fn generate() -> Self {
        VapidKey {
            secret: p256::SecretKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// A key kept as base64url of its 32-byte scalar (as Web Push tools print private keys).
    pub fn from_base64url(text: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| "a VAPID private key is 32 bytes in base64url".to_owned())?;
        let secret = p256::SecretKey::from_slice(&bytes)
            .map_err(|_| "a VAPID private key is a P-256 scalar of 32 bytes".to_owned())?;
        Ok(VapidKey { secret })
    }

    /// The secret scalar, for signing VAPID tokens.
    pub fn secret(&self) -> &p256::SecretKey {
        &self.secret
    }

    /// How the key is kept: base64url of the scalar, without padding.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret.to_bytes())
    }

    /// The public key as browsers take it (`applicationServerKey`): the uncompressed point,
    /// 65 bytes, in base64url without padding.
    pub fn public_base64url(&self) -> String {
        let point = self.secret.public_key().to_encoded_point(false);
        URL_SAFE_NO_PAD.encode(point.as_bytes())
    }
}

/// A subscription as the browser gives it, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedSubscription {
    pub endpoint: String,
    /// base64url, as given (a point on P-256).
    pub p256dh: String,
    /// base64url, as given (16 bytes).
    pub auth: String,
}

/// Why a subscription is refused: the field and a sentence.
pub type Refusal = (&'static str, &'static str);

/// Checks a subscription: an absolute `https://` endpoint (or `http://` to one of
/// `http_hosts`, for test push services), a `p256dh` that is a point on P-256, and an `auth`
/// secret of 16 bytes, both base64url (padding tolerated).
pub fn check_subscription(
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    http_hosts: &[String],
) -> Result<CheckedSubscription, Vec<Refusal>> {
    let mut refusals = Vec::new();
    if let Err(why) = check_endpoint(endpoint, http_hosts) {
        refusals.push(("endpoint", why));
    }
    let point = decode(p256dh).and_then(|bytes| p256::PublicKey::from_sec1_bytes(&bytes).ok());
    if point.is_none() {
        refusals.push(("keys.p256dh", "must be a P-256 public key in base64url"));
    }
    if decode(auth).is_none_or(|bytes| bytes.len() != 16) {
        refusals.push(("keys.auth", "must be 16 bytes in base64url"));
    }
    if refusals.is_empty() {
        Ok(CheckedSubscription {
            endpoint: endpoint.to_owned(),
            p256dh: p256dh.to_owned(),
            auth: auth.to_owned(),
        })
    } else {
        Err(refusals)
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn check_endpoint(endpoint: &str, http_hosts: &[String]) -> Result<(), &'static str> {
    if endpoint.len() > MAX_ENDPOINT_BYTES {
        return Err("must be at most 2048 bytes");
    }
    // The URL parser would quietly drop some of these; a push service's URL has none.
    if endpoint
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be an absolute URL");
    }
    let url = url::Url::parse(endpoint).map_err(|_| "must be an absolute URL")?;
    // No user information: a push service's URL never has any, and it could hide the host.
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must be an absolute URL without user information");
    }
    let host = url.host_str().ok_or("must be an absolute URL")?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if http_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => Ok(()),
        "http" => Err("must be https (plain http only to the hosts the operator allows)"),
        _ => Err("must be an https URL"),
    }
}

/// Most characters of a message's content a notification shows (the contract: 100).
pub const PREVIEW_CHARS: usize = 100;
/// How long push notifications keep being retried, and how long a push service is asked to
/// keep one for a device that is offline (`TTL`).
pub const GIVE_UP_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// How long after a chat's notification to a device the next one may go: messages that
/// arrive meanwhile make one notification (the newest), not one each.
pub const COALESCE_MS: i64 = 3_000;
/// Up to this much more, drawn for each notification: the devices a busy chat notified
/// together would otherwise come due together every `COALESCE_MS`, and their deliveries
/// would take the machine in bursts (which the chat's sends felt in their p99).
pub const COALESCE_SPREAD_MS: i64 = 1_000;

/// When the next notification of a chat to a device may go, after one at `now`; `draw` is
/// uniform in [0, 1).
pub fn next_due(now: i64, draw: f64) -> i64 {
    let spread = (draw.clamp(0.0, 1.0) * COALESCE_SPREAD_MS as f64) as i64;
    now.saturating_add(COALESCE_MS + spread)
}

/// Which messages of a chat concern a member, for their notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    /// Every message someone else writes (level `all`, or any level in a direct chat).
    Everything,
    /// The messages that mention them (level `mentions` in a group).
    Mentions,
}

impl Concern {
    pub fn of(level: NotificationLevel, direct: bool) -> Self {
        if direct || level == NotificationLevel::All {
            Concern::Everything
        } else {
            Concern::Mentions
        }
    }
}

/// A notification claimed from the outbox, with everything its delivery needs, read when it
/// was claimed.
#[derive(Clone, Debug)]
pub struct DuePush {
    pub subscription_id: SubscriptionId,
    pub chat_id: ChatId,
    pub recipient: UserId,
    /// Every message of the chat up to here was looked at when the row was claimed: the
    /// newest that concerns the recipient is `message`.
    pub covered_seq: Seq,
    pub concern: Concern,
    /// Failed attempts so far, and since when the failures have lasted (ms).
    pub attempts: i32,
    pub failing_since: Option<i64>,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    /// The recipient's level and mute in the chat, `None` if no longer a member.
    pub member: Option<(NotificationLevel, Option<i64>)>,
    /// The newest message owed, `None` if none is any more (deleted, say).
    pub message: Option<OwedMessage>,
    /// A direct chat, or a message owed mentions the recipient.
    pub urgent: bool,
}

/// The message a notification is about, and what it may show of it.
#[derive(Clone, Debug)]
pub struct OwedMessage {
    pub id: MessageId,
    pub seq: Seq,
    /// When it committed (ms): delivery latency is measured from here.
    pub created_at: i64,
    pub direct: bool,
    pub chat_title: Option<String>,
    pub author_name: String,
    pub content: String,
}

/// Why a claimed notification is no longer owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotOwed {
    Nothing,
    Left,
    Silenced,
    CameOnline,
}

impl DuePush {
    /// Whether the notification is still owed `now`: a message concerns the recipient, who is
    /// still a member, has not set the chat to `none` or muted it since, and (`online`) has no
    /// session open anywhere (if one is open, the client shows the message itself).
    pub fn still_owed(&self, now: i64, online: bool) -> Result<&OwedMessage, NotOwed> {
        let Some((level, muted_until)) = self.member else {
            return Err(NotOwed::Left);
        };
        if level == NotificationLevel::None || muted_until.is_some_and(|until| until > now) {
            return Err(NotOwed::Silenced);
        }
        if online {
            return Err(NotOwed::CameOnline);
        }
        self.message.as_ref().ok_or(NotOwed::Nothing)
    }

    /// The push service stopped accepting for a day: the notification is dropped.
    pub fn expired(&self, now: i64) -> bool {
        self.failing_since
            .is_some_and(|since| now - since >= GIVE_UP_AFTER_MS)
    }

    /// The `Topic` header: one per chat, so that a push service holding an undelivered
    /// notification of the chat replaces it with the newer one.
    pub fn topic(&self) -> String {
        format!("chat{}", self.chat_id)
    }

    /// How this claim ends when its notification went out: see `Settled::Sent`.
    pub fn sent(&self, next_due_at: i64) -> Settled {
        Settled::Sent {
            subscription_id: self.subscription_id,
            chat_id: self.chat_id,
            covered_seq: self.covered_seq,
            next_due_at,
        }
    }

    /// How this claim ends when nothing was owed: see `Settled::Done`.
    pub fn done(&self) -> Settled {
        Settled::Done {
            subscription_id: self.subscription_id,
            chat_id: self.chat_id,
            recipient: self.recipient,
            concern: self.concern,
            covered_seq: self.covered_seq,
        }
    }
}

impl OwedMessage {
    /// The payload (the contract's JSON): the chat and message, and with `preview` the chat's
    /// title (for a direct chat, the author's name) and the first characters of the content
    /// (in a group, after the author's name).
    pub fn payload(&self, chat_id: ChatId, preview: bool) -> PushPayload {
        let (title, body) = if preview {
            let text: String = self.content.chars().take(PREVIEW_CHARS).collect();
            if self.direct {
                (self.author_name.clone(), text)
            } else {
                (
                    self.chat_title.clone().unwrap_or_default(),
                    format!("{}: {text}", self.author_name),
                )
            }
        } else {
            (String::new(), String::new())
        };
        PushPayload {
            kind: "message",
            chat_id,
            message_id: self.id,
            seq: self.seq,
            title,
            body,
        }
    }
}

/// What a device receives, encrypted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushPayload {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub seq: Seq,
    pub title: String,
    pub body: String,
}

/// How a claimed notification ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Sent. The row stays for the pause after a notification, owing what comes after
    /// `covered_seq`: the chat's next messages find it and add none, and at `next_due_at` it
    /// sends the newest of them, or goes if none came.
    Sent {
        subscription_id: SubscriptionId,
        chat_id: ChatId,
        covered_seq: Seq,
        next_due_at: i64,
    },
    /// Nothing new to send (no message came after the last notification, or the one owed was
    /// deleted): the row goes. A message that concerns the recipient and came after
    /// `covered_seq` (its send found this row and added none) gets a new row, due at once. (A
    /// recipient no longer owed anything, online, silenced or gone, is `Drop`.)
    Done {
        subscription_id: SubscriptionId,
        chat_id: ChatId,
        recipient: UserId,
        concern: Concern,
        covered_seq: Seq,
    },
    /// Tried again at `retry_at` (ms); the failures began at `failing_since`.
    Retry {
        subscription_id: SubscriptionId,
        chat_id: ChatId,
        retry_at: i64,
        failing_since: i64,
    },
    /// Given up (a day of failures, or refused for good), or its person is owed nothing any
    /// more (online now, silenced the chat, or left): the row goes, whatever it owes, and
    /// later sends decide afresh.
    Drop {
        subscription_id: SubscriptionId,
        chat_id: ChatId,
    },
    /// The push service no longer knows the subscription (404/410): it goes, and with it
    /// everything owed to it.
    Gone { subscription_id: SubscriptionId },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_notification_waits_the_pause_and_at_most_the_spread_more() {
        assert_eq!(next_due(10_000, 0.0), 10_000 + COALESCE_MS);
        assert_eq!(
            next_due(10_000, 0.5),
            10_000 + COALESCE_MS + COALESCE_SPREAD_MS / 2
        );
        assert!(next_due(10_000, 0.999_999) < 10_000 + COALESCE_MS + COALESCE_SPREAD_MS);
        // A draw out of range is held to it.
        assert_eq!(
            next_due(10_000, 7.0),
            10_000 + COALESCE_MS + COALESCE_SPREAD_MS
        );
        assert_eq!(next_due(10_000, -1.0), 10_000 + COALESCE_MS);
    }

    fn keys() -> (String, String) {
        let device = VapidKey::generate();
        (device.public_base64url(), URL_SAFE_NO_PAD.encode([7u8; 16]))
    }

    #[test]
    fn a_key_survives_being_kept() {
        let key = VapidKey::generate();
        let again = VapidKey::from_base64url(&key.to_base64url()).unwrap();
        assert_eq!(key.public_base64url(), again.public_base64url());
        let public = URL_SAFE_NO_PAD.decode(key.public_base64url()).unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(public.first(), Some(&4));
        assert!(VapidKey::from_base64url("short").is_err());
        assert!(!format!("{key:?}").contains(&key.to_base64url()));
    }

    #[test]
    fn subscriptions_are_checked() {
        let (p256dh, auth) = keys();
        let allowed = vec!["localhost".to_owned()];
        assert!(check_subscription("https://push.example.org/x", &p256dh, &auth, &[]).is_ok());
        assert!(
            check_subscription("http://localhost:8090/notify/a", &p256dh, &auth, &allowed).is_ok()
        );
        for endpoint in [
            "http://push.example.org/x",
            "http://localhost:8090/notify/a",
            "ftp://push.example.org/x",
            "/relative",
            "https://",
            "not a url",
        ] {
            let refused = check_subscription(endpoint, &p256dh, &auth, &[]).unwrap_err();
            assert_eq!(refused.first().map(|r| r.0), Some("endpoint"), "{endpoint}");
        }
        let long = format!(
            "https://push.example.org/{}",
            "a".repeat(MAX_ENDPOINT_BYTES)
        );
        assert!(check_subscription(&long, &p256dh, &auth, &[]).is_err());
        // A point not on the curve, a key of the wrong length, an auth of the wrong length.
        let mut off_curve = URL_SAFE_NO_PAD.decode(&p256dh).unwrap();
        if let Some(last) = off_curve.last_mut() {
            *last ^= 1;
        }
        for (bad_key, bad_auth) in [
            (URL_SAFE_NO_PAD.encode(&off_curve), auth.clone()),
            (URL_SAFE_NO_PAD.encode([4u8; 64]), auth.clone()),
            ("!!".to_owned(), auth.clone()),
            (p256dh.clone(), URL_SAFE_NO_PAD.encode([1u8; 15])),
            (p256dh.clone(), "%%".to_owned()),
        ] {
            assert!(
                check_subscription("https://push.example.org/x", &bad_key, &bad_auth, &[]).is_err()
            );
        }
    }

    fn due(content: &str, direct: bool) -> DuePush {
        DuePush {
            subscription_id: SubscriptionId(1),
            chat_id: ChatId(2),
            recipient: UserId(5),
            covered_seq: Seq(4),
            concern: Concern::Everything,
            attempts: 0,
            failing_since: None,
            endpoint: "https://push.example.org/x".into(),
            p256dh: String::new(),
            auth: String::new(),
            member: Some((NotificationLevel::All, None)),
            message: Some(OwedMessage {
                id: MessageId(3),
                seq: Seq(4),
                created_at: 0,
                direct,
                chat_title: Some("Ops".into()),
                author_name: "Alice".into(),
                content: content.into(),
            }),
            urgent: direct,
        }
    }

    fn payload(push: &DuePush, preview: bool) -> PushPayload {
        push.message
            .as_ref()
            .unwrap()
            .payload(push.chat_id, preview)
    }

    #[test]
    fn payloads_show_the_chat_and_a_preview_or_nothing() {
        let long = "é".repeat(150);
        let group = payload(&due(&long, false), true);
        assert_eq!(group.title, "Ops");
        assert_eq!(group.body, format!("Alice: {}", "é".repeat(PREVIEW_CHARS)));
        let direct = payload(&due("hi", true), true);
        assert_eq!(
            (direct.title.as_str(), direct.body.as_str()),
            ("Alice", "hi")
        );
        let hidden = payload(&due("secret", true), false);
        assert_eq!((hidden.title.as_str(), hidden.body.as_str()), ("", ""));
        let json = serde_json::to_value(&hidden).unwrap();
        assert_eq!(json["type"], "message");
        assert_eq!(json["chat_id"], 2);
        assert_eq!(json["message_id"], 3);
        assert_eq!(json["seq"], 4);
    }

    #[test]
    fn a_notification_is_owed_only_while_the_rule_still_holds() {
        let now = 1_000;
        let owed = due("x", false);
        assert!(owed.still_owed(now, false).is_ok());
        assert_eq!(owed.still_owed(now, true).err(), Some(NotOwed::CameOnline));
        let mut muted = owed.clone();
        muted.member = Some((NotificationLevel::All, Some(now + 1)));
        assert_eq!(muted.still_owed(now, false).err(), Some(NotOwed::Silenced));
        muted.member = Some((NotificationLevel::All, Some(now)));
        assert!(muted.still_owed(now, false).is_ok());
        muted.member = Some((NotificationLevel::None, None));
        assert_eq!(muted.still_owed(now, false).err(), Some(NotOwed::Silenced));
        let mut left = owed.clone();
        left.member = None;
        assert_eq!(left.still_owed(now, false).err(), Some(NotOwed::Left));
        let mut nothing = owed;
        nothing.message = None;
        assert_eq!(nothing.still_owed(now, false).err(), Some(NotOwed::Nothing));
        assert_eq!(
            Concern::of(NotificationLevel::Mentions, true),
            Concern::Everything
        );
        assert_eq!(
            Concern::of(NotificationLevel::Mentions, false),
            Concern::Mentions
        );
        assert_eq!(
            Concern::of(NotificationLevel::All, false),
            Concern::Everything
        );
    }

    #[test]
    fn a_failing_notification_expires_after_a_day() {
        let mut failing = due("x", false);
        failing.failing_since = Some(0);
        assert!(!failing.expired(GIVE_UP_AFTER_MS - 1));
        assert!(failing.expired(GIVE_UP_AFTER_MS));
    }
}
