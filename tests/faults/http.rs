//! A minimal HTTP/1.1 client over a socket, with a bound on every answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct Answer {
    pub status: u16,
    pub body: String,
    pub took: Duration,
}

/// One request; `None` when the service did not answer within `limit`.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    limit: Duration,
) -> Option<Answer> {
    let auth: Vec<(&str, String)> = token
        .map(|t| ("Authorization", format!("Bearer {t}")))
        .into_iter()
        .collect();
    request_with(port, method, path, &auth, body, limit)
}

/// One request with these headers; `None` when the service did not answer within `limit`.
pub fn request_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
    limit: Duration,
) -> Option<Answer> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream.set_write_timeout(Some(limit)).ok()?;
    let headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some(Answer {
        status,
        body,
        took: started.elapsed(),
    })
}

pub fn get(port: u16, path: &str, token: Option<&str>, limit: Duration) -> Option<Answer> {
    request(port, "GET", path, token, None, limit)
}
