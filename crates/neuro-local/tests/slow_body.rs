//! A client whose body arrives after its headers (aiohttp writes them
//! separately) gets the server's answer and keeps its connection, even when
//! the handler refuses the request without reading the body. The real
//! services (aiohttp) linger on unread bodies; without that the client's body
//! write fails with a broken pipe (seen with the Python SDK's `jobs.save`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Reads one answer (head and `Content-Length` body); returns its status.
async fn read_answer(stream: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("answer");
        assert!(n > 0, "connection closed before an answer: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("length"));
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("body");
        assert!(n > 0, "connection closed inside a body");
        body.extend_from_slice(&chunk[..n]);
    }
    common::raw_status(&head)
}

/// Sends `head`, then (a moment later, like a slow client) `body`; returns
/// the status of the answer and of a second request on the same connection.
async fn late_body_then_reuse(
    addr: SocketAddr,
    head: &str,
    body: &[u8],
    token: &str,
) -> (u16, u16) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    // Not a synchronisation: the gap is the slow client under test.
    tokio::time::sleep(Duration::from_millis(150)).await;
    stream
        .write_all(body)
        .await
        .expect("body written after the head");
    let first = read_answer(&mut stream).await;
    let again = format!(
        "GET /api/v1/config HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream
        .write_all(again.as_bytes())
        .await
        .expect("second request");
    (first, read_answer(&mut stream).await)
}

#[tokio::test]
async fn refused_before_the_body_still_answers_and_keeps_the_connection() {
    let p = common::start().await;
    let addr = p.local_addr();
    let token = p.admin_token().to_owned();
    let body = br#"{"container": {"image": "image://default/admin/saved:latest"}}"#;
    let cases = [
        // Unknown job: refused by the handler before it looks at the body.
        (
            "/api/v1/jobs/job-00000000-0000-0000-0000-000000000000/save",
            token.as_str(),
            404,
        ),
        // Bad token: refused by authentication.
        ("/api/v1/jobs", "garbage", 401),
    ];
    for (path, auth, status) in cases {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let (first, second) = late_body_then_reuse(addr, &head, body, &token).await;
        assert_eq!((first, second), (status, 200), "{path}");
    }
}
