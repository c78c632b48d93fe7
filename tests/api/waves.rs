//! Spam waves end to end: a made-up campaign across four threads becomes one wave in the API
//! and the console, is decided at once (its comments move, ordinary ones in the same threads do
//! not), a second decision is told who decided first, the audit log names the moderator, and a
//! webhook receiver gets `wave.started`; hold mode holds the next comment of an open wave's
//! shape until a moderator decides the wave from the console.
//! Also the card's "everything pending from this address / website domain / same text".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{ANI_PASSWORD, Browser, with_accounts};
use crate::helpers::*;

/// A job-scam campaign with a link: the default policy holds a first comment with a link.
fn linked(i: usize) -> String {
    format!(
        "Ada lowongan kerja dari rumah, gaji {} juta. Daftar di \
         https://kerja{i}.lowongan-cepat.example/info",
        3 + i
    )
}

/// A campaign without a link, which the default policy publishes one by one.
fn plain(i: usize) -> String {
    format!(
        "Saya sudah coba kerja sampingan ini dan dapat {} juta dalam seminggu, caranya gampang \
         sekali, tanya saya lewat pesan ya",
        2 + i
    )
}

async fn post(app: &TestApp, thread: &str, body: &str) -> (String, String) {
    let email = format!("{}@contoh.id", uuid_like());
    let (status, v) = app
        .comment(thread, "Pencari Kerja", &email, body, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    (
        v["id"].as_str().expect("id").to_string(),
        v["status"].as_str().expect("status").to_string(),
    )
}

async fn status_of(app: &TestApp, id: &str) -> (String, Value) {
    let (status, v) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (v["status"].as_str().unwrap_or_default().to_string(), v)
}

/// A webhook receiver: the bodies it got.
async fn receiver() -> (Arc<Mutex<Vec<Value>>>, String) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let state = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                if let Ok(v) = serde_json::from_slice(&body) {
                    state.lock().unwrap().push(v);
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (got, url)
}

async fn waves(app: &TestApp) -> Vec<Value> {
    let (status, v) = app.mod_get(AYU, "/api/v1/mod/waves").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["waves"].as_array().expect("waves").clone()
}

#[tokio::test]
async fn a_campaign_across_four_threads_is_one_wave_decided_at_once() {
    let (hooks, url) = receiver().await;
    let app = spawn_app_with(|s| {
        with_accounts(s);
        s.webhooks.url = Some(url);
        s.webhooks.digest_after = Some(100);
    })
    .await;
    let ordinary = [
        app.comment_ok("berita-1", HAM, "published").await,
        app.comment_ok("berita-2", HELD, "pending").await,
    ];
    assert!(
        waves(&app).await.is_empty(),
        "no wave from ordinary comments"
    );
    let mut campaign = Vec::new();
    for i in 0..6 {
        let (id, status) = post(&app, &format!("berita-{}", 1 + i % 4), &linked(i)).await;
        assert_ne!(
            status, "spam",
            "the campaign is not caught by the filter alone"
        );
        campaign.push(id);
        if i < 4 {
            assert!(waves(&app).await.is_empty(), "not a wave after {}", i + 1);
        }
    }

    let list = waves(&app).await;
    assert_eq!(
        list.len(),
        1,
        "one wave for text and link together: {list:?}"
    );
    let wave = &list[0];
    let id = wave["id"].as_str().unwrap().to_string();
    assert_eq!(wave["comments"], 6, "{wave}");
    assert_eq!(wave["thread_count"], 4, "{wave}");
    assert_eq!(wave["open"], true);
    let shapes = wave["shapes"].to_string();
    assert!(shapes.contains("lowongan-cepat.example"), "{shapes}");
    assert!(shapes.contains("\"text\""), "{shapes}");
    assert_eq!(wave["samples"].as_array().unwrap().len(), 3);

    // The console shows the card with its decision form.
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let page = b.get("/admin/waves?lang=en").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!("id=\"wave-{id}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("lowongan-cepat.example"));
    assert!(
        page.body
            .contains(&format!("name=\"select_wave\" value=\"{id}\""))
    );
    assert!(page.body.contains("6 comments"), "{}", page.body);

    // Decided at once through the bulk endpoint: every one the filter did not class as spam
    // already (the filter alone catches some of them, not all).
    let mut open = 0;
    for c in &campaign {
        if status_of(&app, c).await.0 != "spam" {
            open += 1;
        }
    }
    assert!(
        open >= 3,
        "most of the campaign waits or is visible: {open}"
    );
    let (status, done) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bulk",
            &json!({ "action": "spam", "selector": { "wave": id } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["done"], open, "{done}");
    for c in &campaign {
        assert_eq!(status_of(&app, c).await.0, "spam", "{c}");
    }
    assert_eq!(status_of(&app, &ordinary[0]).await.0, "published");
    assert_eq!(status_of(&app, &ordinary[1]).await.0, "pending");

    // A colleague deciding the same wave is told who came first.
    let (status, again) = app
        .mod_post(
            BUDI,
            "/api/v1/mod/bulk",
            &json!({ "action": "approve", "selector": { "wave": id } }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["current"]["by"], "ayu", "{again}");
    let (_, one) = app.mod_get(AYU, &format!("/api/v1/mod/waves/{id}")).await;
    assert_eq!(one["open"], false);
    assert_eq!(one["decided"]["by"], "ayu");
    assert_eq!(one["statuses"]["spam"], 6, "{one}");

    // The audit log records the wave's decision with the moderator.
    let (_, audit) = app.mod_get(AYU, "/api/v1/mod/audit?moderator=ayu").await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["event"] == "WaveDecided" && e["detail"].as_str().unwrap().contains(&id)),
        "{audit}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["event"] == "CommentMarkedSpam")
            .count(),
        open
    );

    // The audit page shows the wave's decision and the per-rule figures.
    let page = b.get("/admin/audit?lang=en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("WaveDecided"), "{}", page.body);
    assert!(
        page.body.contains("Per rule") && page.body.contains("<code>LINK_UNKNOWN_SITE</code>"),
        "{}",
        page.body
    );

    // Bad input is named, in the request's language.
    let (status, bad) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bulk?lang=en",
            &json!({ "action": "spam", "selector": { "wave": "bukan-id" } }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad["error"]["fields"]["wave"].is_string(), "{bad}");
    let (status, bad) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bulk",
            &json!({ "action": "spam", "selector": { "wave": id, "email": "a@contoh.id" } }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad["error"]["fields"]["selector"].is_string(), "{bad}");
    let (status, _) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bulk",
            &json!({ "action": "spam", "selector": { "wave": uuid::Uuid::nil() } }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, bad) = app.mod_get(AYU, "/api/v1/mod/waves?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // The webhook receiver heard of the wave's start.
    let deadline = Instant::now() + Duration::from_secs(20);
    let started = loop {
        let found = hooks
            .lock()
            .unwrap()
            .iter()
            .find(|m| m["type"] == "wave.started")
            .cloned();
        if let Some(m) = found {
            break m;
        }
        assert!(Instant::now() < deadline, "no wave.started message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(started["wave"]["id"], id.as_str(), "{started}");
    assert_eq!(started["wave"]["comments"], 5, "{started}");
    assert!(!started.to_string().contains("@contoh.id"), "no email");
}

#[tokio::test]
async fn hold_mode_holds_the_next_comment_of_an_open_wave_until_it_is_decided() {
    let app = spawn_app_with(|s| {
        with_accounts(s);
        s.waves.hold = true;
    })
    .await;
    let mut campaign = Vec::new();
    for i in 0..5 {
        let (id, status) = post(&app, &format!("kabar-{}", i % 3), &plain(i)).await;
        assert_eq!(status, "published", "the policy publishes each one alone");
        campaign.push(id);
    }
    let id = waves(&app).await[0]["id"].as_str().unwrap().to_string();
    assert_eq!(waves(&app).await[0]["holding"], true);

    // The next one of the shape is held, with the pseudo-rule on its card.
    let (next, status) = post(&app, "kabar-9", &plain(7)).await;
    assert_eq!(status, "pending");
    let (_, v) = status_of(&app, &next).await;
    let rules: Vec<&str> = v["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"WAVE_HELD"), "{rules:?}");
    // An ordinary comment in the same thread is not.
    let ordinary = app.comment_ok("kabar-1", HAM, "published").await;

    // No decision without the session's CSRF token.
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let page = b.get("/admin/waves?lang=en").await;
    assert!(page.body.contains("are held (WAVE_HELD)"), "{}", page.body);
    let refused = b
        .post(
            "/admin/bulk?lang=en",
            &[("action", "spam"), ("select_wave", id.as_str())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(waves(&app).await[0]["open"], true);

    // Decided from the console: the published and the held comments go to spam.
    let csrf = page.csrf();
    let done = b
        .post(
            "/admin/bulk?lang=en",
            &[
                ("csrf", csrf.as_str()),
                ("action", "spam"),
                ("select_wave", id.as_str()),
                ("return_to", "/admin/waves?lang=en"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body.matches("done").count(), 6, "{}", done.body);
    for c in campaign.iter().chain([&next]) {
        assert_eq!(status_of(&app, c).await.0, "spam", "{c}");
    }
    assert!(
        app.thread_ids("kabar-0").await.is_empty(),
        "gone from the thread"
    );
    assert_eq!(status_of(&app, &ordinary).await.0, "published");
    let page = b.get("/admin/waves?lang=en").await;
    assert!(
        page.body.contains("By <strong>ani</strong>"),
        "{}",
        page.body
    );

    // Decided, the shape is no longer held by the wave (the filter, having learned from the
    // decision, has its own say).
    let (last, _) = post(&app, "kabar-2", &plain(8)).await;
    let verdict = status_of(&app, &last).await.1["verdict"].to_string();
    assert!(!verdict.contains("WAVE_HELD"), "{verdict}");
}

#[tokio::test]
async fn a_card_clears_everything_pending_from_its_address_its_website_domain_or_its_text() {
    let app = spawn_app_with(with_accounts).await;
    let with_url = |url: &'static str, body: String| {
        let app = &app;
        async move {
            let (token, answer) = app.challenge("berita-toko").await;
            let (status, v) = app
                .post_json(
                    "berita-toko",
                    &json!({
                        "author_name": "Toko",
                        "author_email": format!("{}@contoh.id", uuid_like()),
                        "author_url": url,
                        "body": body,
                        "captcha_token": token,
                        "captcha_answer": answer.to_string(),
                    }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
            assert_eq!(v["status"], "pending", "{v}");
            v["id"].as_str().unwrap().to_string()
        }
    };
    let shop = [
        with_url("https://toko-obat.example/a", format!("{HELD} (1)")).await,
        with_url("https://cabang.toko-obat.example/b", format!("{HELD} (2)")).await,
    ];
    let other_site = with_url("https://warung.example/", format!("{HELD} (3)")).await;
    let same_text = [
        app.comment_ok("berita-sama", HELD, "pending").await,
        app.comment_ok("berita-lain", HELD, "pending").await,
    ];
    let different = app
        .comment_ok("berita-lain", &format!("{HELD} (4)"), "pending")
        .await;

    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let page = b.get("/admin?lang=en").await;
    for label in [
        "from this address → spam",
        "from this website domain → spam",
        "with this same text → spam",
    ] {
        assert!(page.body.contains(label), "{label}: {}", page.body);
    }
    assert!(
        page.body
            .contains("name=\"select_domain\" value=\"toko-obat.example\"")
    );
    let csrf = page.csrf();
    let spam = |field: &'static str, value: String| {
        let (b, csrf) = (&b, csrf.clone());
        async move {
            let page = b
                .post(
                    "/admin/bulk?lang=en",
                    &[
                        ("csrf", csrf.as_str()),
                        ("action", "spam"),
                        (field, value.as_str()),
                        ("return_to", "/admin?lang=en"),
                    ],
                )
                .await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        }
    };

    spam("select_domain", "toko-obat.example".into()).await;
    for id in &shop {
        assert_eq!(status_of(&app, id).await.0, "spam");
    }
    assert_eq!(status_of(&app, &other_site).await.0, "pending");

    spam("select_text", same_text[0].clone()).await;
    for id in &same_text {
        assert_eq!(status_of(&app, id).await.0, "spam");
    }
    assert_eq!(status_of(&app, &different).await.0, "pending");

    // Every test client comes from 127.0.0.1: the address clears what is left.
    spam("select_address", "127.0.0.1".into()).await;
    for id in [&other_site, &different] {
        assert_eq!(status_of(&app, id).await.0, "spam");
    }
}

#[tokio::test]
async fn a_wave_and_its_decision_come_back_after_a_restart() {
    let app = spawn_app().await;
    for i in 0..5 {
        post(&app, &format!("ulang-{}", i % 3), &linked(i)).await;
    }
    let id = waves(&app).await[0]["id"].as_str().unwrap().to_string();
    let (status, done) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bulk",
            &json!({ "action": "reject", "selector": { "wave": id } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let app = spawn_app_in(app.stop().await, |_| {}).await;
    let list = waves(&app).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], id.as_str(), "the same id from the log");
    assert_eq!(list[0]["comments"], 5);
    assert_eq!(list[0]["open"], false);
    assert_eq!(list[0]["decided"]["by"], "ayu");
    assert_eq!(list[0]["decided"]["action"], "reject");
}
