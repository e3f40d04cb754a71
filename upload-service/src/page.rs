//! The HTML served to browsers: the upload page and the HTML form of the file list.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::storage::StoredFile;

const TEMPLATE: &str = include_str!("../assets/index.html");
const STYLE: &str = include_str!("../assets/app.css");
const SCRIPT: &str = include_str!("../assets/app.js");

/// The page with its style and script inlined (one request, no build step), and the
/// Content-Security-Policy that allows exactly those two inline blocks.
#[derive(Debug)]
pub struct Page {
    html: String,
    csp: HeaderValue,
}

impl Page {
    pub fn new() -> Page {
        let html = TEMPLATE.replace("{{STYLE}}", STYLE).replace("{{SCRIPT}}", SCRIPT);
        let csp = format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; \
             img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            csp_hash(SCRIPT),
            csp_hash(STYLE)
        );
        Page { html, csp: HeaderValue::from_str(&csp).expect("the policy is ASCII") }
    }

    pub fn render(&self, caller: &Caller, max_bytes: u64) -> Response {
        // The user name is substituted last: it is the only value a person chose.
        let html = self
            .html
            .replace("{{CAN_WRITE}}", if caller.role.can_write() { "true" } else { "false" })
            .replace("{{MAX_BYTES}}", &max_bytes.to_string())
            .replace("{{MAX_HUMAN}}", &human_size(max_bytes))
            .replace("{{ROLE}}", caller.role.as_str())
            .replace("{{USER}}", &escape(&caller.user));
        self.respond(html)
    }

    /// `GET /files` for a client that asked for HTML: a plain table, no script.
    pub fn file_list(&self, files: &[StoredFile]) -> Response {
        let mut rows = String::new();
        for file in files {
            let entry = file.entry();
            rows.push_str(&format!(
                "<tr><td class=\"name\">{name}</td><td class=\"num\">{size}</td><td>{at}</td>\
                 <td class=\"sha\">{sha}</td><td class=\"actions\"><a class=\"button\" \
                 href=\"/download/{href}\" download>Download</a></td></tr>\n",
                name = escape(&entry.name),
                size = human_size(entry.size),
                at = escape(&entry.uploaded_at),
                sha = escape(entry.sha256.as_deref().unwrap_or("")),
                href = escape(&percent_encode(&entry.name)),
            ));
        }
        if files.is_empty() {
            rows.push_str("<tr><td class=\"empty\" colspan=\"5\">No files yet.</td></tr>\n");
        }
        let html = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Files</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{STYLE}</style>\n</head>\n\
             <body>\n<main>\n<section class=\"card\">\n<h2>Files</h2>\n<table id=\"files\">\n\
             <thead><tr><th>Name</th><th class=\"num\">Size</th><th>Uploaded</th><th>SHA-256</th>\
             <th></th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n</section>\n</main>\n</body>\n</html>\n"
        );
        self.respond(html)
    }

    fn respond(&self, html: String) -> Response {
        let mut response = Html(html).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new()
    }
}

fn csp_hash(source: &str) -> String {
    format!("sha256-{}", STANDARD.encode(Sha256::digest(source.as_bytes())))
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or an
/// RFC 5987 `filename*`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(percent_encode("a b/ü.tgz"), "a%20b%2F%C3%BC.tgz");
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(10 << 30), "10 GiB");
        assert_eq!(human_size(1536), "1.5 KiB");
    }

    #[test]
    fn page_has_no_placeholders_left() {
        let page = Page::new();
        let caller = Caller { user: "<admin>".into(), role: crate::config::Role::Uploader };
        let response = page.render(&caller, 1 << 30);
        assert!(response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("sha256-"));
        assert!(!page.html.contains("{{STYLE}}") && !page.html.contains("{{SCRIPT}}"));
    }
}
