//! Rate limits answer 429 with Retry-After, per address, per email and on captchas.

use reqwest::StatusCode;
use reqwest::header;
use saring::limits::{LimitsConfig, Rate};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_second_comment_from_one_address_soon_after_is_refused_with_retry_after() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.per_address = Rate::per(1, 60);
        s.limits = Some(limits);
    })
    .await;
    let (status, _) = app
        .comment("berita-batas", "A", "a@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (token, answer) = app.challenge("berita-batas").await;
    let resp = app
        .client
        .post(app.url("/api/v1/threads/berita-batas/comments?lang=en"))
        .json(
            &json!({"author_name": "B", "author_email": "b@contoh.id", "body": HAM,
                      "captcha_token": token, "captcha_answer": answer.to_string()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    assert_eq!(v["error"]["retry_after"], retry);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again")
    );
}

#[tokio::test]
async fn one_email_from_two_addresses_is_limited_too() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.per_email = Rate::per(1, 60);
        s.limits = Some(limits);
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    for (ip, expected) in [
        ("203.0.113.5", StatusCode::CREATED),
        ("198.51.100.9", StatusCode::TOO_MANY_REQUESTS),
    ] {
        let (token, answer) = app.challenge("berita-email").await;
        let resp = app
            .client
            .post(app.url("/api/v1/threads/berita-email/comments"))
            .header("x-forwarded-for", ip)
            .json(
                &json!({"author_name": "A", "author_email": "Sama@Contoh.id", "body": HAM,
                          "captcha_token": token, "captcha_answer": answer.to_string()}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), expected, "{ip}");
    }
}

#[tokio::test]
async fn captcha_issuance_is_limited_per_address() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.captcha_per_address = Rate::per(3, 60);
        s.limits = Some(limits);
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            app.client
                .get(app.url("/api/v1/captcha?thread=berita-batas"))
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn captchas_in_error_answers_count_against_the_captcha_limit() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.captcha_per_address = Rate::per(3, 60);
        s.limits = Some(limits);
    })
    .await;
    let (mut token, answer) = app.challenge("berita-ladang").await;
    let mut fresh = 0;
    for _ in 0..6 {
        let (status, v) = app
            .post_json(
                "berita-ladang",
                &serde_json::json!({"author_name": "A", "author_email": "a@contoh.id", "body": HAM,
                        "captcha_token": token, "captcha_answer": (answer + 1000).to_string()}),
            )
            .await;
        // The error itself is always answered; only the fresh challenge is rationed.
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        match v["captcha"]["token"].as_str() {
            Some(t) => {
                fresh += 1;
                token = t.to_string();
            }
            None => assert!(v.get("captcha").is_none(), "{v}"),
        }
    }
    assert_eq!(fresh, 2, "3 per minute, one spent by the first GET");
    let (status, _) = app.get("/api/v1/captcha?thread=berita-ladang").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_captcha_needs_a_thread() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/captcha",
        "/api/v1/captcha?thread=",
        "/api/v1/captcha?thread=a%20b",
    ] {
        let (status, v) = app.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(v["error"]["fields"]["thread"].is_string(), "{v}");
    }
}

/// Posts one comment from `ip` (through the trusted proxy) and returns the answer's status.
async fn post_from(app: &TestApp, ip: &str, n: usize) -> StatusCode {
    let (token, answer) = app.challenge("berita-jaringan").await;
    let resp = app
        .client
        .post(app.url("/api/v1/threads/berita-jaringan/comments?lang=en"))
        .header("x-forwarded-for", ip)
        .json(&json!({"author_name": format!("Pembaca {n}"),
                      "author_email": format!("p{n}@contoh.id"), "body": HAM,
                      "captcha_token": token, "captcha_answer": answer.to_string()}))
        .send()
        .await
        .unwrap();
    resp.status()
}

#[tokio::test]
async fn one_ipv6_network_cannot_pass_for_many_readers_but_others_still_post() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.per_address = Rate::per(1, 60);
        limits.per_subnet = Rate::per(1, 60).with_burst(4);
        limits.per_network = Rate::per(1, 60).with_burst(6);
        s.limits = Some(limits);
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // Fresh /64s of one /56: four get through, the fifth is refused for the subnet.
    for i in 0..4 {
        let status = post_from(&app, &format!("2001:db8:5:{i}::1"), i).await;
        assert_eq!(status, StatusCode::CREATED, "/64 number {i}");
    }
    let status = post_from(&app, "2001:db8:5:4::1", 4).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Other /56s of the same /48: two more, then the network is full.
    let mut created = 0;
    for i in 1..6 {
        let status = post_from(&app, &format!("2001:db8:5:{:x}::1", i << 8), 10 + i).await;
        created += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(
        created, 2,
        "the /48's burst of 6, four spent by the first /56"
    );
    // A reader elsewhere is not affected by that network's flood.
    let status = post_from(&app, "2001:db8:99::1", 99).await;
    assert_eq!(status, StatusCode::CREATED);
    let status = post_from(&app, "198.51.100.7", 100).await;
    assert_eq!(status, StatusCode::CREATED);
}

/// Posts one comment from `ip` (through the trusted proxy) to `thread`: (status, answer).
async fn post_as(app: &TestApp, thread: &str, ip: &str, n: usize) -> (StatusCode, Value) {
    let (token, answer) = app.challenge(thread).await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/threads/{thread}/comments?lang=en")))
        .header("x-forwarded-for", ip)
        .json(&json!({"author_name": format!("Pembaca {n}"),
                      "author_email": format!("plafon{n}@contoh.id"), "body": HAM,
                      "captcha_token": token, "captcha_answer": answer.to_string()}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn over_the_global_ceiling_a_new_reader_is_held_not_refused() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.per_address = Rate::per(1, 60);
        limits.global = "1 per 60s, burst 2".parse().unwrap();
        s.limits = Some(limits);
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let held = two_readers_then_a_third_is_held(&app, "berita-plafon", "GLOBAL_CEILING").await;
    let (status, queue) = app
        .mod_get(AYU, "/api/v1/mod/queue?status=pending&limit=500")
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let ids: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, [held.as_str()], "{queue}");
    let metrics = app.metrics().await;
    let held_count: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("saring_comments_held_by_ceiling_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ceiling metric in {metrics}"));
    assert!(held_count >= 1.0, "{metrics}");
}

#[tokio::test]
async fn with_a_full_limit_table_a_new_reader_is_held_not_refused() {
    let app = spawn_app_with(|s| {
        let mut limits = LimitsConfig::unlimited();
        limits.per_address = Rate::per(1, 60);
        limits.max_keys = 2;
        s.limits = Some(limits);
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // A full table of live keys holds the new reader; the flooders were not forgotten
    // (emptying the table, as before, would have given them a fresh allowance).
    two_readers_then_a_third_is_held(&app, "berita-tabel-penuh", "LIMIT_KEYS_FULL").await;
}

/// Two readers post on `thread` (and are published), then a third from a fresh address is heard
/// but held, off the page, with `rule` in its verdict; a reader whose own address is spent is
/// still refused. Returns the held comment's id.
async fn two_readers_then_a_third_is_held(app: &TestApp, thread: &str, rule: &str) -> String {
    for (n, ip) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let (status, v) = post_as(app, thread, ip, n).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "published", "{v}");
    }
    let (status, v) = post_as(app, thread, "198.51.100.3", 3).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    assert_eq!(v["comment"]["pending"], true, "{v}");
    let held = v["id"].as_str().unwrap().to_string();
    assert_eq!(app.thread_ids(thread).await.len(), 2, "not on the page");
    // The moderator is told why.
    let (status, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{held}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let rules: Vec<&str> = detail["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(rules.contains(&rule), "{detail}");
    assert_eq!(detail["verdict"]["outcome"], "hold", "{detail}");
    let (status, v) = post_as(app, thread, "203.0.113.1", 4).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], "rate_limited", "{v}");
    held
}
