//! Who the client is: its address and whether it reached the load balancer over HTTPS.
//!
//! The TCP peer is the client unless it is a trusted proxy (`UPLOAD_TRUSTED_PROXIES`); only then
//! are `X-Forwarded-For` and `X-Forwarded-Proto` believed, since anyone can send them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// What the service knows of the client of one request; in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the TCP peer, or what a trusted proxy reports.
    pub ip: IpAddr,
    /// The TCP peer is a trusted proxy.
    pub via_trusted_proxy: bool,
    /// `http` or `https`: the scheme the client used (`X-Forwarded-Proto` from a trusted proxy).
    pub https: bool,
}

impl Client {
    /// `peer` is `None` when the request did not come over a connection the service accepted
    /// (a router driven directly, as in unit tests).
    pub fn identify(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Client {
        let Some(peer) = peer.map(|peer| peer.ip().to_canonical()) else {
            return Client { ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED), via_trusted_proxy: false, https: false };
        };
        if !is_trusted(peer, trusted) {
            return Client { ip: peer, via_trusted_proxy: false, https: false };
        }
        Client {
            ip: forwarded_for(headers, trusted).unwrap_or(peer),
            via_trusted_proxy: true,
            https: forwarded_proto(headers).is_some_and(|proto| proto.eq_ignore_ascii_case("https")),
        }
    }

    /// The scheme of the request's own origin.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The key failed logins are counted under: the address, or for IPv6 its /64 (one host
    /// usually holds a whole /64 and could otherwise change address at each attempt).
    pub fn rate_key(&self) -> IpAddr {
        match self.ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        }
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The right-most address of `X-Forwarded-For` that is not a trusted proxy: each proxy appends
/// the address it received the request from, so what lies left of that address is the client's
/// own to write. `None` when the header is absent, or holds only trusted proxies or an entry
/// that does not parse before reaching an untrusted address.
fn forwarded_for(headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let values: Vec<&str> = headers.get_all(X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()).collect();
    let mut last_trusted = None;
    for entry in values.iter().rev().flat_map(|value| value.rsplit(',')) {
        let ip = parse_entry(entry.trim())?;
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
        last_trusted = Some(ip);
    }
    last_trusted
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]`, `203.0.113.7:5000` or `[2001:db8::1]:5000`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The last (the nearest proxy's) value of `X-Forwarded-Proto`.
fn forwarded_proto(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get_all(X_FORWARDED_PROTO).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn nets(text: &str) -> Vec<IpNet> {
        crate::config::parse_trusted_proxies(text).unwrap()
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40_000))
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let xff = headers(&[(&X_FORWARDED_FOR, "198.51.100.1, 203.0.113.7"), (&X_FORWARDED_PROTO, "https")]);
        let direct = Client::identify(peer("203.0.113.9"), &xff, &nets("10.0.0.0/16"));
        assert_eq!(direct, Client { ip: "203.0.113.9".parse().unwrap(), via_trusted_proxy: false, https: false });

        let proxied = Client::identify(peer("10.0.3.4"), &xff, &nets("10.0.0.0/16"));
        assert_eq!(proxied, Client { ip: "203.0.113.7".parse().unwrap(), via_trusted_proxy: true, https: true });
        assert_eq!(proxied.scheme(), "https");

        // No header: the proxy itself.
        let bare = Client::identify(peer("10.0.3.4"), &HeaderMap::new(), &nets("10.0.0.0/16"));
        assert_eq!(bare.ip, "10.0.3.4".parse::<IpAddr>().unwrap());
        assert!(!bare.https);
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let trusted = nets("10.0.0.0/8, 192.0.2.0/24");
        let client = |value: &str| forwarded_for(&headers(&[(&X_FORWARDED_FOR, value)]), &trusted);
        // What the client wrote itself (left) is ignored; trusted hops (right) are skipped.
        assert_eq!(client("1.1.1.1, 203.0.113.7, 192.0.2.5, 10.1.1.1"), "203.0.113.7".parse().ok());
        assert_eq!(client("garbage, 203.0.113.7"), "203.0.113.7".parse().ok());
        assert_eq!(client("203.0.113.7:4711"), "203.0.113.7".parse().ok());
        assert_eq!(client("[2001:db8::1]:4711"), "2001:db8::1".parse().ok());
        assert_eq!(client("[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert_eq!(client("::ffff:203.0.113.7"), "203.0.113.7".parse().ok());
        // Only proxies: the left-most of them.
        assert_eq!(client("10.2.2.2, 10.1.1.1"), "10.2.2.2".parse().ok());
        // An entry that does not parse where the client should be: nothing is believed.
        assert_eq!(client("203.0.113.7, junk"), None);
        assert_eq!(client(""), None);
        // Several headers are one list, in order.
        let two = headers(&[(&X_FORWARDED_FOR, "203.0.113.7"), (&X_FORWARDED_FOR, "198.51.100.1, 10.0.0.1")]);
        assert_eq!(forwarded_for(&two, &trusted), "198.51.100.1".parse().ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let client = |ip: &str| Client { ip: ip.parse().unwrap(), via_trusted_proxy: false, https: false };
        assert_eq!(client("2001:db8:1:2:aaaa::1").rate_key(), client("2001:db8:1:2:bbbb::9").rate_key());
        assert_ne!(client("2001:db8:1:2::1").rate_key(), client("2001:db8:1:3::1").rate_key());
        assert_eq!(client("203.0.113.7").rate_key(), "203.0.113.7".parse::<IpAddr>().unwrap());
        // A v4-mapped peer is its IPv4 address.
        let mapped = Client::identify(peer("::ffff:203.0.113.7"), &HeaderMap::new(), &[]);
        assert_eq!(mapped.ip, "203.0.113.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_nearest_proxy_s_scheme_counts() {
        assert_eq!(forwarded_proto(&headers(&[(&X_FORWARDED_PROTO, "http, https")])), Some("https"));
        assert_eq!(forwarded_proto(&HeaderMap::new()), None);
        let upper = Client::identify(peer("10.0.0.1"), &headers(&[(&X_FORWARDED_PROTO, "HTTPS")]), &nets("10.0.0.0/8"));
        assert!(upper.https);
    }
}
