//! Cross-site request protection for requests that change something.
//!
//! A browser sends its cached basic credentials with any request to the service, a form posted
//! from another site's page included. Browsers say where a request comes from: `Sec-Fetch-Site`
//! (all current browsers, on secure origins and localhost) and, failing that, `Origin` (sent with
//! every cross-origin request that changes something). Clients that send neither (curl, scripts)
//! are not browsers and are let through.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::client::Client;

pub const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Whether a request that changes something must be refused as coming from another site.
pub fn is_cross_site(headers: &HeaderMap, client: &Client) -> bool {
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        // `same-origin`: the service's own page; `none`: typed by the user, a bookmark. Not
        // `same-site`: another service on a sibling subdomain is another site's page here.
        return !matches!(site.to_str().map(str::trim), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let Some(host) = headers.get(HOST).and_then(|host| host.to_str().ok()) else {
        return true;
    };
    match origin.to_str() {
        Ok(origin) => !same_origin(origin, client.scheme(), host),
        Err(_) => true,
    }
}

/// Whether `origin` (`scheme://host[:port]`) is `scheme://host`, default ports aside. `null`
/// (sandboxed frames, some redirects) is no origin's.
fn same_origin(origin: &str, scheme: &str, host: &str) -> bool {
    let Some((origin_scheme, origin_host)) = origin.trim().split_once("://") else {
        return false;
    };
    origin_scheme.eq_ignore_ascii_case(scheme)
        && !origin_host.contains('/')
        && without_default_port(origin_host, scheme).eq_ignore_ascii_case(without_default_port(host.trim(), scheme))
}

fn without_default_port<'a>(host: &'a str, scheme: &str) -> &'a str {
    let default = if scheme.eq_ignore_ascii_case("https") { ":443" } else { ":80" };
    host.strip_suffix(default).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};
    use std::net::{IpAddr, Ipv4Addr};

    fn client(https: bool) -> Client {
        Client { ip: IpAddr::V4(Ipv4Addr::LOCALHOST), via_trusted_proxy: https, https }
    }

    fn cross(pairs: &[(&str, &str)], https: bool) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        is_cross_site(&headers, &client(https))
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        assert!(!cross(&[("sec-fetch-site", "same-origin")], false));
        assert!(!cross(&[("sec-fetch-site", "none")], false));
        assert!(cross(&[("sec-fetch-site", "same-site")], false));
        assert!(cross(&[("sec-fetch-site", "cross-site")], false));
        assert!(cross(&[("sec-fetch-site", "something-new")], false));
        // It wins over a matching Origin.
        assert!(cross(
            &[("sec-fetch-site", "cross-site"), ("origin", "http://up.example"), ("host", "up.example")],
            false
        ));
    }

    #[test]
    fn otherwise_the_origin_must_be_the_request_s_own() {
        // Neither header: not a browser.
        assert!(!cross(&[("host", "up.example")], false));
        assert!(!cross(&[("origin", "http://up.example"), ("host", "up.example")], false));
        assert!(!cross(&[("origin", "http://UP.example:80"), ("host", "up.example")], false));
        assert!(!cross(&[("origin", "https://up.example"), ("host", "up.example:443")], true));
        assert!(!cross(&[("origin", "http://127.0.0.1:8000"), ("host", "127.0.0.1:8000")], false));
        assert!(cross(&[("origin", "http://evil.example"), ("host", "up.example")], false));
        assert!(cross(&[("origin", "http://up.example.evil.example"), ("host", "up.example")], false));
        assert!(cross(&[("origin", "http://up.example:8080"), ("host", "up.example")], false));
        // The scheme counts: https only when a trusted proxy says so.
        assert!(cross(&[("origin", "https://up.example"), ("host", "up.example")], false));
        assert!(cross(&[("origin", "http://up.example"), ("host", "up.example")], true));
        assert!(cross(&[("origin", "null"), ("host", "up.example")], false));
        assert!(cross(&[("origin", "http://up.example")], false));
    }
}
