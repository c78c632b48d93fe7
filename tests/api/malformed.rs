//! Malformed HTTP over raw TCP: every request-level failure axum sees (bad JSON, a bad query, an
//! oversized body, a wrong content type) answers the API's JSON error shape; garbage that hyper
//! rejects before any request exists gets hyper's own empty `400` and a closed connection (why
//! it cannot be JSON is in docs/edge.md), and the service keeps serving.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const DEADLINE: Duration = Duration::from_secs(10);

/// Sends `raw` on a fresh connection and reads until the server closes it or the deadline.
/// Every request here says `Connection: close`, so the whole answer is what was read.
async fn exchange(app: &TestApp, raw: &[u8]) -> (u16, String, String) {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "no answer within {DEADLINE:?}");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn post(path: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Asserts the API's error shape with `code`, in English (the requests ask `?lang=en`).
fn assert_json_error(status: u16, head: &str, body: &str, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{head}\n{body}");
    assert!(
        head.contains("content-type: application/json"),
        "not JSON: {head}"
    );
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["error"]["code"], code, "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{v}");
}

#[tokio::test]
async fn request_level_failures_answer_json_over_raw_tcp() {
    let app = spawn_app().await;
    let comments = "/api/v1/threads/berita-mentah/comments?lang=en";

    let (s, h, b) = exchange(&app, &post(comments, "application/json", "{\"body\": ")).await;
    assert_json_error(s, &h, &b, 400, "invalid_body");

    let (s, h, b) = exchange(&app, &post(comments, "application/json", "[1, 2]")).await;
    assert_json_error(s, &h, &b, 422, "invalid_body");

    let (s, h, b) = exchange(&app, &post(comments, "text/plain", "halo")).await;
    assert_json_error(s, &h, &b, 415, "unsupported_media_type");

    let (s, h, b) = exchange(&app, &post(comments, "application/json", "")).await;
    assert_json_error(s, &h, &b, 400, "invalid_body");

    // Over the limit by its real length, not only by its declared one.
    let big = format!("{{\"body\": \"{}\"}}", "a".repeat(70 * 1024));
    let (s, h, b) = exchange(&app, &post(comments, "application/json", &big)).await;
    assert_json_error(s, &h, &b, 413, "payload_too_large");

    // Chunked, so no length is declared: the limit still counts what arrives.
    let mut chunked = format!(
        "POST {comments} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..80 {
        chunked.push_str(&format!("400\r\n{}\r\n", "a".repeat(0x400)));
    }
    chunked.push_str("0\r\n\r\n");
    let (s, h, b) = exchange(&app, chunked.as_bytes()).await;
    assert_json_error(s, &h, &b, 413, "payload_too_large");

    let get = |q: &str| {
        format!(
            "GET /api/v1/threads/berita-mentah/comments?lang=en&{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    };
    let (s, h, b) = exchange(&app, get("page=satu").as_bytes()).await;
    assert_json_error(s, &h, &b, 400, "invalid_query");
    let (s, h, b) = exchange(&app, get("order=acak").as_bytes()).await;
    assert_json_error(s, &h, &b, 400, "invalid_query");
    // Percent-encoding that is not UTF-8 in the query.
    let (s, h, b) = exchange(&app, get("order=%FF%FE").as_bytes()).await;
    assert_json_error(s, &h, &b, 400, "invalid_query");

    let (s, h, b) = exchange(
        &app,
        b"GET /api/v1/counts?lang=en&threads=a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(s, 400, "{h}\n{b}");
    assert!(h.contains("content-type: application/json"), "{h}");

    // A form post whose content is not UTF-8.
    let (s, h, b) = exchange(
        &app,
        b"POST /comments?lang=en HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nbody=\xff\xfe\xfd\xfc",
    )
    .await;
    assert_eq!(s, 400, "{h}\n{b}");
}

#[tokio::test]
async fn garbage_that_is_no_request_gets_a_400_and_a_closed_connection() {
    let app = spawn_app().await;
    let garbage: [&[u8]; 4] = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"G\x00T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    ];
    for raw in garbage {
        let (status, head, _) = exchange(&app, raw).await;
        assert_eq!(status, 400, "{:?}: {head}", String::from_utf8_lossy(raw));
    }
    let (status, health) = app.get("/healthz").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{health}");
}
