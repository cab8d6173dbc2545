//! Web Push, the parts that are rules rather than I/O: the VAPID key pair, and what a
//! subscription the browser hands over must be before it is kept (docs/design/push.md).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::elliptic_curve::sec1::ToEncodedPoint;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
