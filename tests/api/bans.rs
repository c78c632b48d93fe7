//! Bans: every kind refuses what it names (neutrally) and nothing else, expiry and lifting end
//! them, "move to spam" takes the author's comments down, and bans come back after a restart.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Name, email and website of a reader.
type Author<'a> = (&'a str, &'a str, &'a str);

/// A reader's post with every field a ban can look at, from `forwarded_for` when given (the
/// test server trusts 127.0.0.1 as a proxy).
async fn post_as(
    app: &TestApp,
    thread: &str,
    (name, email, url): Author<'_>,
    forwarded_for: Option<&str>,
) -> (StatusCode, Value) {
    let (token, answer) = app.challenge(thread).await;
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/threads/{thread}/comments?lang=en")))
        .json(&json!({
            "author_name": name,
            "author_email": email,
            "author_url": url,
            "body": HAM,
            "captcha_token": token,
            "captcha_answer": answer.to_string(),
        }));
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    let resp = request.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn ban(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.mod_post(AYU, "/api/v1/mod/bans?lang=en", &body).await
}

fn assert_neutral_refusal(status: StatusCode, v: &Value) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "comment_rejected", "{v}");
    let text = v.to_string().to_lowercase();
    assert!(
        !text.contains("ban"),
        "the refusal tells about the ban: {v}"
    );
}

async fn spawn_behind_proxy() -> TestApp {
    spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")]).await
}

#[tokio::test]
async fn every_kind_of_ban_refuses_what_it_names_and_lets_others_through() {
    let app = spawn_behind_proxy().await;
    let innocent = ("Budi", "budi@contoh.id", "https://blog.budi.id");
    let cases: [(&str, &str, Author, &str); 7] = [
        (
            "email",
            "Promo@Judi.example",
            ("Ani", "promo@judi.example", ""),
            "198.51.100.1",
        ),
        (
            "email_domain",
            "judi.example",
            ("Ani", "x@mail.judi.example", ""),
            "198.51.100.2",
        ),
        (
            "address",
            "203.0.113.7",
            ("Ani", "a1@contoh.id", ""),
            "203.0.113.7",
        ),
        (
            "address",
            "2001:db8:1:2::9",
            ("Ani", "a2@contoh.id", ""),
            "2001:db8:1:2:abcd::1",
        ),
        (
            "cidr",
            "192.0.2.0/24",
            ("Ani", "a3@contoh.id", ""),
            "192.0.2.200",
        ),
        (
            "url_domain",
            "slot.example",
            ("Ani", "a4@contoh.id", "https://www.promo.slot.example/x"),
            "198.51.100.3",
        ),
        (
            "name",
            "Admin  SLOT",
            ("admin slot", "a5@contoh.id", ""),
            "198.51.100.4",
        ),
    ];
    for (i, (kind, value, author, ip)) in cases.into_iter().enumerate() {
        let thread = format!("berita-ban-{i}");
        let (status, placed) = ban(
            &app,
            json!({ "kind": kind, "value": value, "reason": "promosi judi" }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{kind}: {placed}");
        let (status, v) = post_as(&app, &thread, author, Some(ip)).await;
        assert_neutral_refusal(status, &v);
        let (status, v) = post_as(&app, &thread, innocent, Some("198.51.100.99")).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{kind} refused an innocent: {v}"
        );
        // Lifted, the same author gets through.
        let id = placed["ban"]["id"].as_str().expect("id");
        let (status, v) = app
            .mod_post(
                AYU,
                &format!("/api/v1/mod/bans/{id}/lift"),
                &json!({ "reason": "salah" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (status, v) = post_as(&app, &thread, author, Some(ip)).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{kind} still refuses after the lift: {v}"
        );
    }
    // The next IPv6 /64 is not covered by an address ban.
    ban(
        &app,
        json!({ "kind": "address", "value": "2001:db8:5:5::1" }),
    )
    .await;
    let (status, v) = post_as(
        &app,
        "berita-ban-v6",
        ("Ani", "a6@contoh.id", ""),
        Some("2001:db8:5:6::1"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = post_as(
        &app,
        "berita-ban-v6",
        ("Ani", "a7@contoh.id", ""),
        Some("2001:db8:5:5:ffff::2"),
    )
    .await;
    assert_neutral_refusal(status, &v);
}

#[tokio::test]
async fn a_ban_with_an_expiry_ends_by_itself() {
    let app = spawn_app().await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, v) = ban(
        &app,
        json!({ "kind": "email", "value": "sebentar@contoh.id", "expires_at": until }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let author = ("Sebentar", "sebentar@contoh.id", "");
    let (status, v) = post_as(&app, "berita-expiry", author, None).await;
    assert_neutral_refusal(status, &v);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, v) = post_as(&app, "berita-expiry", author, None).await;
        if status == StatusCode::CREATED {
            assert!(chrono::Utc::now() >= until, "accepted before the expiry");
            break;
        }
        assert_neutral_refusal(status, &v);
        assert!(Instant::now() < deadline, "the ban did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, list) = app.mod_get(AYU, "/api/v1/mod/bans").await;
    assert_eq!(list["bans"][0]["active"], false, "{list}");
}

#[tokio::test]
async fn banning_with_spam_existing_moves_the_authors_visible_and_pending_comments_to_spam() {
    let app = spawn_app().await;
    let mut mine = Vec::new();
    for body in [HAM, HAM, HELD] {
        let (status, v) = app
            .comment(
                "berita-retro",
                "Penyebar",
                "penyebar@judi.example",
                body,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        mine.push(v["id"].as_str().expect("id").to_string());
    }
    let other = app.comment_ok("berita-retro", HAM, "published").await;
    let (status, placed) = ban(
        &app,
        json!({ "kind": "email_domain", "value": "judi.example", "spam_existing": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["spammed"], 3, "{placed}");
    assert_eq!(placed["spam_left"], 0, "{placed}");
    for id in &mine {
        let (_, v) = app
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        assert_eq!(v["status"], "spam", "{v}");
    }
    assert_eq!(app.thread_ids("berita-retro").await, vec![other]);
}

#[tokio::test]
async fn bans_come_back_after_a_restart_and_are_listed_and_searchable() {
    let app = spawn_app().await;
    ban(
        &app,
        json!({ "kind": "email", "value": "lama@contoh.id", "reason": "iklan obat" }),
    )
    .await;
    ban(
        &app,
        json!({ "kind": "name", "value": "Promo Slot", "reason": "judi" }),
    )
    .await;
    let dir = app.stop().await;
    let app = spawn_app_in(dir, |_| {}).await;
    let (status, v) = post_as(&app, "berita-restart", ("Lama", "LAMA@contoh.id", ""), None).await;
    assert_neutral_refusal(status, &v);
    let (status, list) = app.mod_get(AYU, "/api/v1/mod/bans").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2, "{list}");
    let (_, found) = app.mod_get(AYU, "/api/v1/mod/bans?q=obat").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["bans"][0]["value"], "lama@contoh.id");
    assert_eq!(found["bans"][0]["by"], "ayu");
}

#[tokio::test]
async fn bad_bans_get_clear_errors() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "kind": "colour", "value": "x" }), "kind"),
        (json!({ "kind": "cidr", "value": "10.0.0.0/4" }), "value"),
        (json!({ "kind": "address", "value": "bukan-ip" }), "value"),
        (json!({ "kind": "email", "value": "tanpa-at" }), "value"),
        (
            json!({ "kind": "name", "value": "x", "expires_in_hours": 0 }),
            "expires_in_hours",
        ),
        (
            json!({ "kind": "name", "value": "x", "expires_at": "2020-01-01T00:00:00Z" }),
            "expires_at",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = ban(&app, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(v["error"]["fields"][field].is_string(), "{body}: {v}");
    }
    let (status, _) = ban(&app, json!({ "kind": "email", "value": "a@b.id" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, v) = ban(&app, json!({ "kind": "email", "value": "A@B.ID" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "ban_exists");
    let (status, v) = app
        .mod_post(
            AYU,
            &format!("/api/v1/mod/bans/{}/lift", uuid::Uuid::new_v4()),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let resp = app
        .client
        .post(app.url("/api/v1/mod/bans"))
        .json(&json!({ "kind": "email", "value": "c@d.id" }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
