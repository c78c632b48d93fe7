//! The whole service on PostgreSQL: the reader flow, a moderator decision, and a restart of the
//! server process (killed, so nothing is flushed at shutdown) that brings back the same threads
//! and queues, also for a replica started on an empty data folder.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::replica::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_flow_and_moderation_on_postgres_survive_a_restart() {
    let _gate = PG_GATE.read().await;
    let Some(db) = fresh_database("the service on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let server = Replica::start(&db, &dir.path().join("data"), None);
    let app = &server.app;
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["store"], "postgres", "{ready}");

    let thread = "berita-pg-1";
    let published = app.comment_ok(thread, HAM, "published").await;
    let held = app.comment_ok(thread, HELD, "pending").await;
    let (status, reply) = app
        .comment(thread, "Sari", "sari@contoh.id", HAM, Some(&published))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let reply = reply["id"].as_str().expect("id").to_string();
    assert_eq!(
        app.thread_ids(thread).await,
        vec![published.clone(), reply.clone()]
    );
    assert_eq!(all_queue_ids(app, "pending").await, vec![held.clone()]);

    // A replayed token is refused by the store's "no stream" expectation.
    let (token, answer) = app.challenge(thread).await;
    let body = serde_json::json!({
        "author_name": "Budi", "author_email": "budi@contoh.id", "body": HAM,
        "captcha_token": token, "captcha_answer": answer.to_string(),
    });
    assert_eq!(app.post_json(thread, &body).await.0, StatusCode::CREATED);
    let (status, v) = app.post_json(thread, &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "captcha_used", "{v}");

    let version = app.version(&held).await;
    let (status, v) = app.decide(AYU, &held, "approve", version).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "published", "{v}");
    let (status, v) = app.decide(BUDI, &held, "reject", version).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a decision on a stale version: {v}"
    );
    assert_eq!(v["error"]["code"], "stale_version", "{v}");
    let before = app.thread_ids(thread).await;
    assert_eq!(before.len(), 4, "{before:?}");
    assert!(before.contains(&held));
    let (_, detail_before) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{held}"))
        .await;

    // SIGKILL, then the same folder and database: everything is there, and the service works on.
    server.kill();
    let server = Replica::start(&db, &dir.path().join("data"), None);
    let app = &server.app;
    assert_eq!(app.thread_ids(thread).await, before);
    assert!(all_queue_ids(app, "pending").await.is_empty());
    let (_, detail_after) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{held}"))
        .await;
    assert_eq!(detail_after["history"], detail_before["history"]);
    assert_eq!(detail_after["status"], "published", "{detail_after}");
    let after_restart = app.comment_ok(thread, HAM, "published").await;
    let version = app.version(&after_restart).await;
    let (status, v) = app.decide(BUDI, &after_restart, "reject", version).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(!app.thread_ids(thread).await.contains(&after_restart));

    // The events live in the database: a replica on an empty data folder shows the same.
    let fresh = Replica::start(&db, &dir.path().join("other-data"), None);
    assert_eq!(fresh.app.thread_ids(thread).await, before);
    assert_eq!(
        all_queue_ids(&fresh.app, "rejected").await,
        vec![after_restart]
    );
    drop(server);
    drop(fresh);
}
