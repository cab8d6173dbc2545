//! Requests to addresses users chose (outgoing webhooks): never a door into the operator's
//! network. A URL's host is resolved, and loopback, private, link-local, shared (CGNAT),
//! multicast, broadcast and unspecified addresses are refused — IPv4 and IPv6, including
//! IPv4-mapped and NAT64 forms of them — unless the operator listed the host
//! (`PARLEY_WEBHOOK_ALLOW_HOSTS`). The check runs in the client's resolver, on the addresses
//! it then connects to, so a name that resolves to a public address when the URL is checked
//! and to a private one when it is used (DNS rebinding) is refused then too. No proxy, no
//! redirect, 10 s for the whole exchange, and at most 64 KiB of an answer read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long a receiver has to answer, body included.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// The most of an answer's body read (the rest is dropped unread).
pub const MOST_BODY_BYTES: usize = 64 * 1024;
/// How long a URL's host has to resolve when a subscription is made.
const RESOLVE_WITHIN: Duration = Duration::from_secs(3);
/// The longest URL accepted.
pub const MOST_URL_CHARS: usize = 2048;

/// Hosts the operator allows whatever they resolve to (lower case).
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    pub fn new(hosts: &[String]) -> Self {
        AllowedHosts(Arc::new(
            hosts
                .iter()
                .map(|h| {
                    h.trim()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_ascii_lowercase()
                })
                .filter(|h| !h.is_empty())
                .collect(),
        ))
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.0.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// Whether an address is one outgoing requests must not reach.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        // "This network" (0.0.0.0/8), shared address space (100.64.0.0/10), and the reserved
        // 240.0.0.0/4: none is a public host.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240
        // IETF protocol assignments (192.0.0.0/24) and benchmarking (198.18.0.0/15), often
        // used inside networks.
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let segments = ip.segments();
    let [first, second, ..] = segments;
    let [.., hi, lo] = segments;
    let embedded = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // NAT64 (64:ff9b::/96) and SIIT (::ffff:0:a.b.c.d) reach the IPv4 address in their last
    // 32 bits.
    let nat64 =
        first == 0x64 && second == 0xff9b && segments.iter().skip(2).take(4).all(|&s| s == 0);
    let siit = segments.iter().take(4).all(|&s| s == 0) && segments.get(4) == Some(&0xffff);
    if nat64 || siit {
        return forbidden_v4(embedded);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // IPv4-compatible (::a.b.c.d, deprecated) and site-local (fec0::/10, deprecated).
        || segments.iter().take(6).all(|&s| s == 0)
        || (first & 0xffc0) == 0xfec0
        // Local-use NAT64 (64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32): each
        // carries an IPv4 address a relay or translator would reach for us.
        || (first == 0x64 && second == 0xff9b)
        || first == 0x2002
        || (first == 0x2001 && second == 0)
}

/// A URL's problems, for a `422`; `Ok` with the URL parsed.
pub fn parse_url(text: &str) -> Result<url::Url, String> {
    if text.chars().count() > MOST_URL_CHARS {
        return Err(format!("must be at most {MOST_URL_CHARS} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be http:// or https://".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    Ok(url)
}

/// Whether the URL's host may be reached: an allowed host, or an address (given, or every one
/// the name resolves to now) that is not forbidden. What a subscription is checked with when
/// it is made; the resolver checks again at every connection.
pub async fn check_destination(url: &url::Url, allowed: &AllowedHosts) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    if allowed.allows(host) {
        return Ok(());
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => refuse_if_forbidden(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => refuse_if_forbidden(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let lookup = tokio::net::lookup_host((name, port));
            let addrs: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_WITHIN, lookup)
                .await
                .map_err(|_| "its host does not resolve in time".to_owned())?
                .map_err(|e| format!("its host does not resolve: {e}"))?
                .collect();
            if addrs.is_empty() {
                return Err("its host does not resolve".into());
            }
            addrs
                .iter()
                .try_for_each(|addr| refuse_if_forbidden(addr.ip()))
        }
        None => Err("must name a host".into()),
    }
}

fn refuse_if_forbidden(ip: IpAddr) -> Result<(), String> {
    if is_forbidden(ip) {
        // The address itself is not told: whoever asks learns nothing of the network's names.
        Err("reaches a loopback, private, link-local or otherwise non-public address".into())
    } else {
        Ok(())
    }
}

/// Resolves as the system does, then keeps only the addresses outgoing requests may reach
/// (all of them for an allowed host); none left is an error, and the request fails unsent.
struct GuardedResolver {
    allowed: AllowedHosts,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: the connector puts the URL's port in.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let open_to_all = allowed.allows(&host);
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| open_to_all || !is_forbidden(addr.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no address this server may reach").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The client for requests to user-chosen URLs.
#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    allowed: AllowedHosts,
}

/// What a receiver made of a request.
#[derive(Debug)]
pub enum Answered {
    /// It answered with this status (the body read, up to the limit, and dropped).
    Status(u16, Option<i64>),
    /// It did not answer (refused address, no connection, timeout, TLS).
    Nothing(String),
}

impl OutboundClient {
    pub fn new(allowed: AllowedHosts) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(ANSWER_WITHIN)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver {
                allowed: allowed.clone(),
            })
            .user_agent(concat!("Parley-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the webhook client: {e}"))?;
        Ok(OutboundClient { client, allowed })
    }

    /// POSTs a JSON body with the given headers; a URL whose host is an address (which no
    /// resolver sees) is checked here.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Answered {
        let parsed = match parse_url(url) {
            Ok(parsed) => parsed,
            Err(why) => return Answered::Nothing(format!("the URL {why}")),
        };
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            if !self.allowed.allows(parsed.host_str().unwrap_or_default()) {
                if let Err(why) = refuse_if_forbidden(ip) {
                    return Answered::Nothing(format!("the URL {why}"));
                }
            }
        }
        let mut request = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = match request.body(body).send().await {
            Ok(response) => response,
            // Without the URL: it may carry credentials in its query, and this goes to logs.
            Err(e) => return Answered::Nothing(crate::error::cause_chain(&e.without_url())),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::domain::delivery::retry_after_ms);
        // Read (within the same deadline) and drop at most the limit: a receiver that streams
        // forever costs 64 KiB and its connection.
        let mut read = 0usize;
        while read < MOST_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Answered::Status(status, retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "100.64.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::127.0.0.1",
            "fec0::1",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_forbidden(ip(good)), "{good}");
        }
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        assert!(parse_url("https://example.com/hook").is_ok());
        assert!(parse_url("http://example.com:8080/").is_ok());
        assert!(parse_url("ftp://example.com/").is_err());
        assert!(parse_url("https://user:pw@example.com/").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url(&format!("https://example.com/{}", "a".repeat(2100))).is_err());
    }

    #[actix_rt::test]
    async fn destinations_are_checked_unless_allowed() {
        let none = AllowedHosts::default();
        for refused in [
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost/",
        ] {
            let url = parse_url(refused).unwrap();
            assert!(check_destination(&url, &none).await.is_err(), "{refused}");
        }
        let allowed = AllowedHosts::new(&["localhost".into(), "127.0.0.1".into(), "[::1]".into()]);
        for fine in [
            "http://localhost:9/",
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
        ] {
            let url = parse_url(fine).unwrap();
            assert!(check_destination(&url, &allowed).await.is_ok(), "{fine}");
        }
    }

    /// At connection time, not only when a subscription is made: a name that resolves to a
    /// forbidden address (as a rebinding name would, later) finds nothing to connect to.
    #[actix_rt::test]
    async fn the_resolver_keeps_only_reachable_addresses() {
        let guarded = GuardedResolver {
            allowed: AllowedHosts::default(),
        };
        assert!(guarded.resolve("localhost".parse().unwrap()).await.is_err());
        let allowing = GuardedResolver {
            allowed: AllowedHosts::new(&["localhost".into()]),
        };
        let addrs: Vec<SocketAddr> = allowing
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());

        let client = OutboundClient::new(AllowedHosts::default()).unwrap();
        for url in [
            "http://localhost:9/",
            "http://127.0.0.1:9/",
            "http://[::ffff:127.0.0.1]:9/",
        ] {
            match client.post_json(url, &[], b"{}".to_vec()).await {
                Answered::Nothing(why) => assert!(
                    why.contains("may reach") || why.contains("non-public"),
                    "{url}: {why}"
                ),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
