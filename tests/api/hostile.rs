//! Hostile input is answered safely: stored as text, rendered escaped, never a 500.

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn script_tags_and_attribute_injection_come_back_as_text() {
    let app = spawn_app().await;
    let body = "<script>alert(1)</script> <img src=x onerror=alert(1)> \"><svg onload=alert(1)>";
    let (status, v) = app
        .comment(
            "berita-xss",
            "<b onmouseover=alert(1)>Jahat</b>",
            "x@contoh.id",
            body,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    // Whatever the filter decided, approve it so it reaches the public thread.
    if v["status"] != "published" {
        let version = app.version(&id).await;
        // The poster is told only "pending"; the moderator sees whether it was classed spam.
        let (_, detail) = app
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        let action = if detail["status"] == "spam" {
            "not_spam"
        } else {
            "approve"
        };
        let (status, _) = app.decide(AYU, &id, action, version).await;
        assert_eq!(status, StatusCode::OK);
    }
    let raw = app.text("/api/v1/threads/berita-xss/comments").await;
    assert!(!raw.contains("<script"), "{raw}");
    assert!(!raw.contains("<img"), "{raw}");
    assert!(!raw.contains("<svg"), "{raw}");
    let thread: Value = serde_json::from_str(&raw).unwrap();
    let html = thread["comments"][0]["body_html"].as_str().unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    // Names are plain text in JSON; the widget inserts them as text.
    assert_eq!(
        thread["comments"][0]["author_name"],
        "<b onmouseover=alert(1)>Jahat</b>"
    );
}

#[tokio::test]
async fn javascript_urls_and_quotes_in_urls_are_refused() {
    let app = spawn_app().await;
    for url in [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>",
        "https://x.id/\"onmouseover=alert(1)",
    ] {
        let (token, answer) = app.challenge("berita-url").await;
        let (status, v) = app
            .post_json(
                "berita-url",
                &json!({"author_name": "A", "author_email": "a@contoh.id", "author_url": url, "body": HAM,
                        "captcha_token": token, "captcha_answer": answer.to_string()}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert!(v["error"]["fields"]["author_url"].is_string());
    }
}

#[tokio::test]
async fn five_thousand_zero_width_characters_are_an_empty_comment() {
    let app = spawn_app().await;
    let (status, v) = app
        .comment(
            "berita-zw",
            "A",
            "a@contoh.id",
            &"\u{200B}".repeat(5000),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["fields"]["body"].is_string());
    // Zero-width characters hiding a real comment still count toward the limit but pass.
    let padded = format!("{}{}", "\u{200B}".repeat(100), HAM);
    let (status, _) = app
        .comment("berita-zw", "A", "a2@contoh.id", &padded, None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn invalid_utf8_is_a_clear_400() {
    let app = spawn_app().await;
    let mut bytes = br#"{"author_name": "A", "body": ""#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xc0]);
    bytes.extend_from_slice(br#""}"#);
    let resp = app
        .client
        .post(app.url("/api/v1/threads/berita-utf/comments"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_body");
}

#[tokio::test]
async fn private_fields_never_reach_public_answers() {
    let app = spawn_app().await;
    let (status, post) = app
        .comment(
            "berita-privasi",
            "Sari",
            "rahasia.sari@contoh.id",
            HAM,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let thread = app.text("/api/v1/threads/berita-privasi/comments").await;
    for text in [post.to_string(), thread] {
        assert!(!text.contains("rahasia.sari"), "{text}");
        assert!(!text.contains("127.0.0.1"), "{text}");
    }
}

/// Many wrong bearer tokens at once, each from its own address (so the per-address throttle
/// does not stop them) and each new (so no cache answers it): every one must be checked with
/// argon2 against the hashed moderator. Readers and the moderator with a known token are
/// answered meanwhile, and every wrong token is a plain `401`.
#[tokio::test]
async fn a_flood_of_wrong_bearer_tokens_does_not_hold_up_others() {
    let hashed = saring::auth::hash_token("token-cici-hashed-abcdefghijkl").unwrap();
    let app = std::sync::Arc::new(
        spawn_app_with(|s| {
            s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
            s.moderator_hashes = vec![saring::config::ModeratorEntry {
                name: crate::helpers::moderator("cici"),
                token_hash: hashed,
            }];
        })
        .await,
    );
    app.comment_ok("berita-banjir", HAM, "published").await;
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..12u8 {
        let app = app.clone();
        flood.spawn(async move {
            app.client
                .get(app.url("/api/v1/mod/queue"))
                .bearer_auth(format!("tebakan-salah-nomor-{n:03}-abcdefgh"))
                .header("x-forwarded-for", format!("198.51.100.{n}"))
                .send()
                .await
                .expect("an answer")
                .status()
        });
    }
    let (status, thread) = app.get("/api/v1/threads/berita-banjir/comments").await;
    assert_eq!(status, StatusCode::OK, "{thread}");
    assert_eq!(thread["total"], 1);
    let (status, queue) = app.mod_get(AYU, "/api/v1/mod/queue").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let mut answered = 0;
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
        answered += 1;
    }
    assert_eq!(answered, 12);
}
