//! Moderator decisions: optimistic concurrency, legal transitions, audit of who did what.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn two_moderators_deciding_the_same_comment_one_wins_one_gets_409() {
    let app = spawn_app().await;
    let id = app.comment_ok("berita-mod", HELD, "pending").await;
    let version = app.version(&id).await;
    let (a, b) = tokio::join!(
        app.decide(AYU, &id, "approve", version),
        app.decide(BUDI, &id, "spam", version)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let loser = if a.0 == StatusCode::CONFLICT {
        &a.1
    } else {
        &b.1
    };
    assert_eq!(loser["error"]["code"], "stale_version");
    // The loser sees the state the winner left, with its new version.
    assert_eq!(
        loser["current"]["version"].as_u64(),
        Some(version + 1),
        "{loser}"
    );
    let winner_status = if a.0 == StatusCode::OK {
        "published"
    } else {
        "spam"
    };
    assert_eq!(loser["current"]["status"], winner_status);
}

#[tokio::test]
async fn a_stale_version_is_refused_even_without_a_race() {
    let app = spawn_app().await;
    let id = app.comment_ok("berita-mod2", HELD, "pending").await;
    let v = app.version(&id).await;
    assert_eq!(app.decide(AYU, &id, "reject", v).await.0, StatusCode::OK);
    let (status, body) = app.decide(BUDI, &id, "approve", v).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["current"]["status"], "rejected");
}

#[tokio::test]
async fn deleted_comments_cannot_be_approved_until_restored() {
    let app = spawn_app().await;
    let id = app.comment_ok("berita-hapus", HAM, "published").await;
    let v = app.version(&id).await;
    assert_eq!(app.decide(AYU, &id, "delete", v).await.0, StatusCode::OK);
    assert!(app.thread_ids("berita-hapus").await.is_empty());
    let (status, body) = app.decide(AYU, &id, "approve", v + 1).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "comment_deleted");
    assert_eq!(
        app.decide(AYU, &id, "restore", v + 1).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.thread_ids("berita-hapus").await,
        std::slice::from_ref(&id),
        "restored to published"
    );
    let (status, body) = app.decide(AYU, &id, "restore", v + 2).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "illegal_transition");
}

#[tokio::test]
async fn replies_under_hidden_comments_are_refused() {
    let app = spawn_app().await;
    let held = app.comment_ok("berita-balas", HELD, "pending").await;
    let (status, v) = app
        .comment("berita-balas", "A", "a@contoh.id", HAM, Some(&held))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["fields"]["parent_id"].is_string());
}

#[tokio::test]
async fn queues_page_oldest_first_with_a_cursor() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = format!("Tautan nomor {i}: https://blog-warga{i}.example.net/tulisan");
        ids.push(app.comment_ok("berita-antre", &body, "pending").await);
    }
    let (_, first) = app
        .mod_get(AYU, "/api/v1/mod/queue?status=pending&limit=3")
        .await;
    let cursor = first["next"].as_str().expect("a cursor").to_string();
    let (_, second) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/queue?status=pending&limit=3&cursor={cursor}"),
        )
        .await;
    let seen: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, ids);
    assert!(second["next"].is_null());
    assert_eq!(first["total"], 5);
}

#[tokio::test]
async fn the_policy_can_be_reloaded_by_a_moderator() {
    let app = spawn_app().await;
    let (status, v) = app
        .mod_post(AYU, "/api/v1/mod/policy/reload", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()));
    let (status, _) = app.get("/api/v1/mod/policy").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
