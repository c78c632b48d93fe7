//! Hostile connections: slowloris, idle-socket floods, oversized declared bodies and stuck
//! requests are answered or closed promptly, and ordinary readers keep being served.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// A deadline for things that must happen "at once" or after a short timeout: generous, so a
/// loaded machine does not fail the test, yet far below the old 30 s (or never) behaviour.
const DEADLINE: Duration = Duration::from_secs(10);

fn addr_of(app: &TestApp) -> SocketAddr {
    app.base
        .trim_start_matches("http://")
        .parse()
        .expect("address")
}

/// A connection to the server from a chosen loopback address (Linux routes all of 127/8).
async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(from, 0)).expect("bind");
    socket.connect(to).await.expect("connect")
}

/// Reads one HTTP response (status and body), waiting at most [`DEADLINE`].
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within {DEADLINE:?}");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Whether the server has closed this connection (possibly after a refusal it wrote).
fn closed(stream: &mut TcpStream) -> bool {
    let mut chunk = [0u8; 1024];
    loop {
        match stream.try_read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Polls until at least `want` of `streams` are closed, or the deadline passes; the count.
async fn wait_closed(streams: &mut [TcpStream], want: usize) -> usize {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut done = vec![false; streams.len()];
    loop {
        for (s, d) in streams.iter_mut().zip(done.iter_mut()) {
            if !*d && closed(s) {
                *d = true;
            }
        }
        let count = done.iter().filter(|d| **d).count();
        if count >= want || tokio::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn healthz_from(app: &TestApp, from: IpAddr) -> StatusCode {
    let client = reqwest::Client::builder()
        .local_address(from)
        .timeout(DEADLINE)
        .build()
        .expect("client");
    client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz answers")
        .status()
}

#[tokio::test]
async fn hostile_slowloris_headers_are_cut_off_after_the_header_timeout() {
    let app = spawn_app_with(|s| s.connections.header_read_seconds = 1).await;
    let mut slow = TcpStream::connect(addr_of(&app)).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        .await
        .expect("write");
    assert_eq!(
        wait_closed(std::slice::from_mut(&mut slow), 1).await,
        1,
        "a connection that never finishes its headers is closed"
    );
    assert_eq!(
        healthz_from(&app, [127, 0, 0, 1].into()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hostile_idle_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| {
        s.connections.idle_seconds = 1;
        s.connections.header_read_seconds = 60;
    })
    .await;
    let mut idle = TcpStream::connect(addr_of(&app)).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let (status, _) = read_response(&mut idle).await;
    assert_eq!(status, 200);
    assert_eq!(wait_closed(std::slice::from_mut(&mut idle), 1).await, 1);
}

#[tokio::test]
async fn hostile_one_client_flooding_idle_sockets_keeps_only_its_share() {
    let app = spawn_app_with(|s| {
        s.connections.max_per_client = 8;
        s.connections.max_connections = 1000;
    })
    .await;
    let flooder: IpAddr = [127, 0, 0, 1].into();
    let mut sockets = Vec::new();
    for _ in 0..40 {
        sockets.push(connect_from(flooder, addr_of(&app)).await);
    }
    assert!(
        wait_closed(&mut sockets, 32).await >= 32,
        "all but the client's share of 8 are closed"
    );
    // The flooder's own ordinary request still gets through (its oldest idle socket makes way),
    // and so does everyone else's.
    assert_eq!(healthz_from(&app, flooder).await, StatusCode::OK);
    assert_eq!(
        healthz_from(&app, [127, 0, 0, 2].into()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hostile_at_the_global_cap_the_heaviest_client_makes_room_for_others() {
    let app = spawn_app_with(|s| {
        s.connections.max_per_client = 1000;
        s.connections.max_connections = 16;
    })
    .await;
    let mut sockets = Vec::new();
    for _ in 0..40 {
        sockets.push(connect_from([127, 0, 0, 1].into(), addr_of(&app)).await);
    }
    assert!(wait_closed(&mut sockets, 24).await >= 24);
    for other in [2u8, 3, 4] {
        assert_eq!(
            healthz_from(&app, [127, 0, 0, other].into()).await,
            StatusCode::OK
        );
    }
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
}

#[tokio::test]
async fn hostile_a_declared_oversize_body_is_refused_at_once_with_json() {
    let app = spawn_app_with(|s| s.connections.request_seconds = 120).await;
    let mut stream = TcpStream::connect(addr_of(&app)).await.expect("connect");
    stream
        .write_all(
            b"POST /api/v1/threads/berita-besar/comments?lang=en HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{\"body\":",
        )
        .await
        .expect("write");
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 413, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["error"]["code"], "payload_too_large", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large")
    );
}

#[tokio::test]
async fn hostile_a_request_that_times_out_gets_the_documented_json() {
    let app = spawn_app_with(|s| s.connections.request_seconds = 1).await;
    let mut stream = TcpStream::connect(addr_of(&app)).await.expect("connect");
    // Headers complete, body promised but never sent: the handler waits for it.
    stream
        .write_all(
            b"POST /api/v1/threads/berita-lambat/comments HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"bo",
        )
        .await
        .expect("write");
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["error"]["code"], "unavailable", "{v}");
}

/// A client that speaks from a chosen loopback address.
fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

#[tokio::test]
async fn hostile_bearer_guessing_is_throttled_while_moderators_keep_working() {
    let app = spawn_app().await;
    let guesser = client_from([127, 0, 0, 1].into());
    let moderator = client_from([127, 0, 0, 2].into());
    let queue = app.url("/api/v1/mod/queue?status=pending");
    let mut statuses = Vec::new();
    for i in 0..25 {
        let resp = guesser
            .get(&queue)
            .bearer_auth(format!("wrong-token-guess-number-{i:04}"))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key("retry-after"));
            let v: Value = resp.json().await.expect("JSON");
            assert_eq!(v["error"]["code"], "rate_limited", "{v}");
        }
        statuses.push(status);
        // The real moderator, from another address, is never slowed into refusal.
        let ok = moderator
            .get(&queue)
            .bearer_auth(AYU)
            .send()
            .await
            .expect("request");
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(unauthorized, 10, "{statuses:?}");
    assert!(
        statuses[10..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Even the right token waits out the window from the guessing address.
    let resp = guesser
        .get(&queue)
        .bearer_auth(AYU)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn hostile_the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let resp = app
            .client
            .get(app.url("/api/v1/mod/queue?status=pending"))
            .header("authorization", format!("{scheme} {AYU}"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn hostile_bidi_controls_and_blank_names_are_field_errors() {
    let app = spawn_app().await;
    for (name, body, field) in [
        (
            "Budi",
            "Lihat https://contoh.id/\u{202E}gpj.exe sekarang juga ya",
            "body",
        ),
        ("Budi \u{2066}admin\u{2069}", HAM, "author_name"),
        ("\u{3164}", HAM, "author_name"),
        ("\u{2800}\u{2800}", HAM, "author_name"),
    ] {
        let (status, v) = app
            .comment("berita-bidi", name, "b@contoh.id", body, None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {v}");
        assert!(v["error"]["fields"][field].is_string(), "{v}");
    }
}

#[tokio::test]
async fn hostile_the_embed_page_may_be_framed_only_by_the_site() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/threads/berita-csp/embed"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp
        .headers()
        .get("content-security-policy")
        .expect("a CSP")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains(&format!("frame-ancestors 'self' {SITE}")),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
}
