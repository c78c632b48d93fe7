//! Webhooks against a receiver started in the test: signed messages when comments enter the
//! pending and the reported queue, a retry after a refusal, and one digest during a flood.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::*;

const SECRET: &str = "rahasia-bersama-redaksi";

/// One request the receiver got: headers and body.
type Got = (HeaderMap, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    /// Requests to refuse with 500 before accepting.
    refuse: Arc<Mutex<u32>>,
}

impl Receiver {
    async fn start(refuse: u32) -> (Receiver, String) {
        let r = Receiver::default();
        *r.refuse.lock().unwrap() = refuse;
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push((headers, body.to_vec()));
                    let mut refuse = state.refuse.lock().unwrap();
                    if *refuse > 0 {
                        *refuse -= 1;
                        return AxumStatus::INTERNAL_SERVER_ERROR;
                    }
                    AxumStatus::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        (r, url)
    }

    /// The accepted-or-not bodies so far, once at least `n` arrived (or the deadline passed).
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn body_of(got: &Got) -> Value {
    serde_json::from_slice(&got.1).expect("JSON body")
}

fn assert_signed(got: &Got) {
    let ts: i64 = got.0["x-saring-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = got.0["x-saring-signature"].to_str().unwrap();
    assert_eq!(
        sig,
        saring::service::webhooks::signature(SECRET.as_bytes(), ts, &got.1),
        "the signature is HMAC-SHA256 of timestamp.body"
    );
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 120);
}

async fn app_with_hook(url: &str, digest_after: u32, digest_seconds: u64) -> TestApp {
    let url = url.to_string();
    spawn_app_with(move |s| {
        s.webhooks.url = Some(url);
        s.webhooks.secret = Some(SecretString::from(SECRET.to_string()));
        s.webhooks.digest_after = Some(digest_after);
        s.webhooks.digest_seconds = Some(digest_seconds);
        s.threads.flag_threshold = 1;
    })
    .await
}

#[tokio::test]
async fn a_pending_and_a_reported_comment_each_send_one_signed_message_retried_after_a_refusal() {
    let (receiver, url) = Receiver::start(1).await;
    let app = app_with_hook(&url, 10, 60).await;
    let held = app.comment_ok("berita-hook", HELD, "pending").await;
    // Refused once, then accepted: two requests with the same body.
    let got = receiver.wait_for(2).await;
    assert_eq!(got.len(), 2, "one retry after the 500");
    assert_eq!(got[0].1, got[1].1);
    let msg = body_of(&got[1]);
    assert_eq!(msg["type"], "comment.pending", "{msg}");
    assert_eq!(msg["comment_id"], held);
    assert_eq!(msg["thread"], "berita-hook");
    assert!(
        !msg.to_string().contains("@contoh.id"),
        "no email in a webhook: {msg}"
    );
    assert_signed(&got[1]);

    let published = app.comment_ok("berita-hook", HAM, "published").await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/comments/{published}/flag")))
        .json(&json!({ "reason": "kasar" }))
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success(), "{}", resp.status());
    let got = receiver.wait_for(3).await;
    let msg = body_of(&got[2]);
    assert_eq!(
        (msg["type"].as_str(), msg["comment_id"].as_str()),
        (Some("comment.reported"), Some(published.as_str())),
        "{msg}"
    );
    assert_signed(&got[2]);
}

#[tokio::test]
async fn a_flood_becomes_one_digest_after_the_first_messages() {
    let (receiver, url) = Receiver::start(0).await;
    let app = app_with_hook(&url, 2, 5).await;
    for _ in 0..6 {
        app.comment_ok("berita-banjir", HELD, "pending").await;
    }
    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3, "two messages and one digest");
    let kinds: Vec<String> = got
        .iter()
        .map(|g| body_of(g)["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["comment.pending", "comment.pending", "digest"]);
    let digest = body_of(&got[2]);
    assert_eq!(digest["pending"], 4, "{digest}");
    assert_eq!(digest["comment_ids"].as_array().unwrap().len(), 4);
    assert_signed(&got[2]);
}
