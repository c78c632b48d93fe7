//! Thread settings beyond close and reopen: pre-moderating one thread, and the site-wide
//! "close threads N days after their first comment".

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn premoderate(app: &TestApp, thread: &str, on: bool) -> (StatusCode, serde_json::Value) {
    app.mod_post(
        AYU,
        &format!("/api/v1/mod/threads/{thread}/premoderation?lang=en"),
        &json!({ "on": on }),
    )
    .await
}

#[tokio::test]
async fn a_premoderated_thread_holds_every_new_comment_until_ended_and_after_a_restart() {
    let app = spawn_app().await;
    app.comment_ok("berita-sidang", HAM, "published").await;
    let (status, v) = premoderate(&app, "berita-sidang", true).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, again) = premoderate(&app, "berita-sidang", true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "thread_state");
    let held = app.comment_ok("berita-sidang", HAM, "pending").await;
    let (_, record) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{held}"))
        .await;
    let rules: Vec<&str> = record["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"THREAD_PREMODERATED"), "{rules:?}");
    // Other threads are screened as usual.
    app.comment_ok("berita-lain", HAM, "published").await;
    let (_, list) = app.mod_get(AYU, "/api/v1/mod/threads/premoderated").await;
    assert_eq!(list["threads"], json!(["berita-sidang"]), "{list}");

    let dir = app.stop().await;
    let app = spawn_app_in(dir, |_| {}).await;
    app.comment_ok("berita-sidang", HAM, "pending").await;
    let (status, v) = premoderate(&app, "berita-sidang", false).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    app.comment_ok("berita-sidang", HAM, "published").await;
}

/// A published comment written straight into the store, dated `days_ago`.
async fn old_comment(dir: &tempfile::TempDir, thread: &str, days_ago: i64) {
    use saring::domain::{ClientFacts, DomainEvent, Submission, comment_stream};
    let store = saring::store::open_store(None, dir.path())
        .await
        .expect("store");
    let id = uuid::Uuid::new_v4();
    let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
    let events = [
        DomainEvent::CommentSubmitted(Submission {
            comment_id: id,
            thread: thread.into(),
            parent_id: None,
            author_name: "Pembaca Lama".into(),
            author_email: "lama@contoh.id".into(),
            author_url: None,
            body: HAM.into(),
            client: ClientFacts {
                ip: "192.0.2.1/32".into(),
                user_agent: None,
            },
            captcha_solve_ms: 4_000,
            lang: saring::i18n::Lang::Id,
            submitted_at: at,
            erased: false,
            pow: None,
            known_reader: None,
        }),
        DomainEvent::CommentPublished { at },
    ]
    .iter()
    .map(|e| saring::service::codec::encode(e).expect("encode"))
    .collect();
    store
        .append(
            &comment_stream(id),
            saring::store::ExpectedRevision::NoStream,
            events,
        )
        .await
        .expect("append");
}

#[tokio::test]
async fn threads_close_n_days_after_their_first_comment() {
    let dir = tempfile::tempdir().expect("temporary folder");
    old_comment(&dir, "berita-lama", 10).await;
    old_comment(&dir, "berita-baru", 2).await;
    let app = spawn_app_in(dir, |s| s.threads.close_after_days = 7).await;
    let (status, v) = app
        .comment("berita-lama", "Budi", "budi@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "thread_closed");
    app.comment_ok("berita-baru", HAM, "published").await;
    // A thread with no comment yet is open.
    app.comment_ok("berita-kosong", HAM, "published").await;
}
