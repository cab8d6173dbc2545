//! The address a request comes from, for the per-address limits. It is the socket's peer,
//! unless the peer is one of the operator's trusted proxies: then it is the nearest address in
//! `X-Forwarded-For` that is not itself a trusted proxy (addresses further left were written
//! by whoever the proxy heard from, and anyone can write those).

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(peer: &str, forwarded: &[&str]) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        for value in forwarded {
            req = req.append_header(("X-Forwarded-For", *value));
        }
        req.to_http_request()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // Straight from a client: the header is whatever the client wrote.
        assert_eq!(
            client_ip(&request("203.0.113.9", &["1.2.3.4"]), &proxies),
            ip("203.0.113.9")
        );
        // Through the proxy: the address it saw, not what the client claimed before it.
        assert_eq!(
            client_ip(&request("10.0.0.2", &["1.2.3.4, 198.51.100.7"]), &proxies),
            ip("198.51.100.7")
        );
        // Through two proxies, over two header lines.
        assert_eq!(
            client_ip(
                &request("10.0.0.2", &["198.51.100.7", "10.0.0.3"]),
                &proxies
            ),
            ip("198.51.100.7")
        );
        // A proxy that forwarded nothing usable is the client.
        assert_eq!(
            client_ip(&request("10.0.0.2", &["garbage"]), &proxies),
            ip("10.0.0.2")
        );
        // No trusted proxies: never the header.
        assert_eq!(
            client_ip(&request("10.0.0.2", &["1.2.3.4"]), &[]),
            ip("10.0.0.2")
        );
    }
}
