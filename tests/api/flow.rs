//! The whole reader and moderator flow, as a site would see it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn captcha_post_queue_approve_thread_reply_and_counts() {
    let app = spawn_app().await;

    // A clean comment is published at once and the answer carries it rendered.
    let (status, v) = app
        .comment("berita-1", "Sari", "sari@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "published");
    assert_eq!(v["comment"]["author_name"], "Sari");
    assert!(
        v["comment"]["body_html"]
            .as_str()
            .unwrap()
            .starts_with("<p>Terima kasih")
    );
    assert!(v["comment"].get("pending").is_none());
    let first = v["id"].as_str().unwrap().to_string();

    // A first comment with a link waits for a moderator, and its author is told so.
    let (status, v) = app
        .comment("berita-1", "Budi", "budi@contoh.id", HELD, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["comment"]["pending"], true);
    let held = v["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.thread_ids("berita-1").await,
        std::slice::from_ref(&first),
        "held comments are not public"
    );

    // The moderator sees it in the queue with its private fields, and approves it.
    let (status, q) = app.mod_get(AYU, "/api/v1/mod/queue?status=pending").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(q["items"][0]["id"], held.as_str());
    assert_eq!(q["items"][0]["author_email"], "budi@contoh.id");
    let version = q["items"][0]["version"].as_u64().unwrap();
    let (status, d) = app.decide(AYU, &held, "approve", version).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "published");
    assert_eq!(
        app.thread_ids("berita-1").await,
        [first.clone(), held.clone()]
    );

    // A reply nests under its parent.
    let (status, v) = app
        .comment(
            "berita-1",
            "Sari",
            "sari@contoh.id",
            "Setuju, Pak Budi.",
            Some(&first),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let reply = v["id"].as_str().unwrap().to_string();
    let (_, thread) = app.get("/api/v1/threads/berita-1/comments").await;
    assert_eq!(thread["total"], 3);
    assert_eq!(thread["comments"][0]["replies"][0]["id"], reply.as_str());
    assert_eq!(
        thread["comments"][0]["replies"][0]["parent_id"],
        first.as_str()
    );

    // Newest first reverses the top level only.
    let (_, newest) = app
        .get("/api/v1/threads/berita-1/comments?order=newest")
        .await;
    assert_eq!(newest["comments"][0]["id"], held.as_str());

    // Counts for many threads at once.
    let (status, counts) = app.get("/api/v1/counts?threads=berita-1,berita-2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counts,
        json!({ "counts": { "berita-1": 3, "berita-2": 0 } })
    );

    // The moderator detail explains the verdict and lists the history with the moderator.
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{held}"))
        .await;
    assert!(
        detail["verdict"]["rules"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{detail}"
    );
    assert!(
        detail["verdict"]["policy_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    let history: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "CommentSubmitted",
            "CommentScreened",
            "CommentHeld",
            "CommentApproved"
        ]
    );
    assert_eq!(detail["history"][3]["actor"], "moderator:ayu");
}

#[tokio::test]
async fn gambling_promotion_goes_to_the_spam_queue_not_the_thread() {
    let app = spawn_app().await;
    // The poster is told "pending", as for any held comment: no oracle for tuning spam.
    let id = app.comment_ok("berita-spam", SPAM, "pending").await;
    assert!(app.thread_ids("berita-spam").await.is_empty());
    let (_, q) = app.mod_get(AYU, "/api/v1/mod/queue?status=spam").await;
    assert_eq!(q["items"][0]["id"], id.as_str());
    // Not spam puts it in the thread.
    let version = app.version(&id).await;
    let (status, _) = app.decide(AYU, &id, "not_spam", version).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.thread_ids("berita-spam").await, [id]);
}

#[tokio::test]
async fn thread_reads_are_cacheable_with_a_strong_etag_and_cors_for_the_site() {
    let app = spawn_app().await;
    app.comment_ok("berita-etag", HAM, "published").await;
    let url = app.url("/api/v1/threads/berita-etag/comments");
    let resp = app
        .client
        .get(&url)
        .header(header::ORIGIN, SITE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong etag: {etag}"
    );
    assert!(
        resp.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);

    let again = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Another origin gets no CORS grant.
    let other = app
        .client
        .get(&url)
        .header(header::ORIGIN, "https://jahat.example")
        .send()
        .await
        .unwrap();
    assert!(
        other
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    // A new comment changes the ETag.
    app.comment_ok(
        "berita-etag",
        "Komentar kedua yang juga biasa saja.",
        "published",
    )
    .await;
    let changed = app
        .client
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[header::ETAG].to_str().unwrap(), etag);
}

#[tokio::test]
async fn threads_page_by_top_level_comments() {
    let app = spawn_app_with(|s| s.threads.per_page = 2).await;
    for i in 0..5 {
        app.comment_ok(
            "berita-hal",
            &format!("Komentar biasa nomor {i} tentang jalan desa."),
            "published",
        )
        .await;
    }
    let (_, p1) = app.get("/api/v1/threads/berita-hal/comments").await;
    assert_eq!(p1["comments"].as_array().unwrap().len(), 2);
    assert_eq!(p1["next"], 2);
    let (_, p3) = app.get("/api/v1/threads/berita-hal/comments?page=3").await;
    assert_eq!(p3["comments"].as_array().unwrap().len(), 1);
    assert!(p3["next"].is_null());
    assert_eq!(p3["total"], 5);
}

#[tokio::test]
async fn reader_reports_send_a_comment_to_the_reported_queue_once_per_reader() {
    let app = spawn_app_with(|s| {
        s.threads.flag_threshold = 2;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let id = app.comment_ok("berita-lapor", HAM, "published").await;
    let flag = |ip: &'static str| {
        let req = app
            .client
            .post(app.url(&format!("/api/v1/comments/{id}/flag")))
            .header("x-forwarded-for", ip)
            .json(&json!({ "reason": "kasar" }));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(flag("203.0.113.1").await, StatusCode::ACCEPTED);
    assert_eq!(
        flag("203.0.113.1").await,
        StatusCode::CONFLICT,
        "one report per reader"
    );
    let (_, q) = app.mod_get(AYU, "/api/v1/mod/queue?status=reported").await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0);
    assert_eq!(flag("198.51.100.2").await, StatusCode::ACCEPTED);
    let (_, q) = app.mod_get(AYU, "/api/v1/mod/queue?status=reported").await;
    assert_eq!(q["items"][0]["id"], id.as_str());
    assert_eq!(q["items"][0]["reports"], 2);
}

#[tokio::test]
async fn closing_a_thread_refuses_new_comments_until_reopened() {
    let app = spawn_app().await;
    let (status, _) = app
        .mod_post(AYU, "/api/v1/mod/threads/berita-tutup/close", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = app
        .comment("berita-tutup", "Sari", "sari@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "thread_closed");
    let (_, thread) = app.get("/api/v1/threads/berita-tutup/comments").await;
    assert_eq!(thread["closed"], true);
    let (status, _) = app
        .mod_post(AYU, "/api/v1/mod/threads/berita-tutup/reopen", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .comment("berita-tutup", "Sari", "sari@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = spawn_app().await;
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["store"], "sqlite");
    assert!(
        ready.get("position").is_none(),
        "the position is not public: {ready}"
    );
    assert!(ready.get("head").is_none(), "nor the log's head: {ready}");
    let (_, ready) = app.mod_get(AYU, "/readyz").await;
    assert!(ready["position"].is_u64(), "{ready}");
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    app.comment_ok("berita-metrik", HAM, "published").await;
    // Once the follower has folded the comment's events, the position a moderator sees is
    // the log's head.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ready) = app.mod_get(AYU, "/readyz").await;
        let head = ready["head"]
            .as_u64()
            .expect("a head once the log holds events");
        if ready["position"].as_u64() == Some(head) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the position never reached the head: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, refused) = app.get("/metrics").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("saring_comments_stored_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_same_text_across_several_articles_is_stopped_as_a_wave() {
    let app = spawn_app().await;
    let wave = "Mantap sekali infonya, semoga sukses selalu untuk redaksi dan semua pembaca setia.";
    app.comment_ok("berita-gelombang-1", wave, "published")
        .await;
    app.comment_ok("berita-gelombang-2", wave, "published")
        .await;
    // The third article within the window: two other threads already carry the same text.
    let (status, v) = app
        .comment(
            "berita-gelombang-3",
            "Pembaca",
            "lain@contoh.id",
            wave,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(v["status"], "published", "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    let rules: Vec<&str> = detail["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"DUPLICATE_WAVE"), "{rules:?}");
}
