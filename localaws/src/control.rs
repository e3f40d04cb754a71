//! The launcher's control API over plain HTTP/1.1 on loopback: one request per connection
//! (`Connection: close`), so a blocking `TcpStream` is all it takes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
// A control call may wait for a moto call in flight (reset takes the same lock).
const READ_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn request(addr: SocketAddr, method: &str, route: &str, body: &str) -> Result<String, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| format!("connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(|e| e.to_string())?;
    let head = format!(
        "{method} /_localaws/{route} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| format!("send {method} {route}: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("read answer to {method} {route}: {e}"))?;
    let (status, payload) = parse_response(&response)?;
    if status != 200 {
        return Err(format!("{method} {route}: HTTP {status}: {payload}"));
    }
    Ok(payload)
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("malformed HTTP answer: {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("malformed status line: {head:?}"))?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn parses_status_and_body() {
        let raw = b"HTTP/1.1 400 BAD REQUEST\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(raw), Ok((400, "{}".to_owned())));
        assert!(parse_response(b"garbage").is_err());
    }
}
