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

async fn policy_info(app: &TestApp) -> serde_json::Value {
    let (status, v) = app.mod_get(AYU, "/api/v1/mod/policy").await;
    assert_eq!(status, StatusCode::OK);
    v
}

#[tokio::test]
async fn policy_edits_reload_a_broken_edit_keeps_the_old_policy_and_each_version_is_recorded() {
    let policies = policy_copy();
    let path = policies.path().to_path_buf();
    let app = spawn_app_with(|s| s.policies = path).await;
    let first = policy_info(&app).await;
    let v1 = first["version"].as_str().unwrap().to_string();
    assert_eq!(first["history"].as_array().unwrap().len(), 1, "{first}");

    // A valid edit, put in force through the moderator endpoint.
    let file = policies.path().join("default.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("hold = 5.0", "hold = 4.0", 1)).unwrap();
    let (status, v) = app
        .mod_post(AYU, "/api/v1/mod/policy/reload", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let v2 = v["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);

    // A broken edit is refused with its location; the edited policy stays in force.
    std::fs::write(&file, text.replacen("hold = 5.0", "hold = \"empat\"", 1)).unwrap();
    let (status, v) = app
        .mod_post(AYU, "/api/v1/mod/policy/reload", &json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["code"], "policy_invalid");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default.toml:"),
        "{v}"
    );
    let now = policy_info(&app).await;
    assert_eq!(now["version"], v2.as_str());
    assert!(now["last_error"].is_string());

    // Every version put in force is an event; the history shows both, oldest first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let history = policy_info(&app).await["history"].clone();
        let versions: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["version"].as_str().unwrap())
            .collect();
        if versions == [v1.as_str(), v2.as_str()] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{versions:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn editing_a_policy_file_reloads_it_without_a_request() {
    let policies = policy_copy();
    let path = policies.path().to_path_buf();
    let app = spawn_app_with(|s| s.policies = path).await;
    let v1 = policy_info(&app).await["version"]
        .as_str()
        .unwrap()
        .to_string();
    let file = policies.path().join("default.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("spam = 10.0", "spam = 11.0", 1)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while policy_info(&app).await["version"] == v1.as_str() {
        assert!(
            std::time::Instant::now() < deadline,
            "the file watcher did not reload the policy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_forced_reject_is_refused_but_recorded_for_the_moderators() {
    let policies = policy_copy();
    std::fs::write(
        policies.path().join("lists/blocked-networks.txt"),
        "127.0.0.0/8\n",
    )
    .unwrap();
    let path = policies.path().to_path_buf();
    let app = spawn_app_with(|s| s.policies = path).await;
    let (status, v) = app
        .comment("berita-tolak", "A", "a@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "comment_rejected");
    assert!(app.thread_ids("berita-tolak").await.is_empty());
    let (_, q) = app.mod_get(AYU, "/api/v1/mod/queue?status=rejected").await;
    let item = &q["items"][0];
    assert_eq!(item["thread"], "berita-tolak");
    assert_eq!(item["status"], "rejected");
    let (_, detail) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/comments/{}", item["id"].as_str().unwrap()),
        )
        .await;
    let rules: Vec<&str> = detail["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"BLOCKED_NETWORK"), "{rules:?}");
    assert_eq!(detail["history"][2]["event"], "CommentRejected");
    assert_eq!(detail["history"][2]["actor"], "system");
}

#[tokio::test]
async fn closing_a_closed_thread_is_a_conflict() {
    let app = spawn_app().await;
    let close = "/api/v1/mod/threads/berita-dua-kali/close";
    assert_eq!(app.mod_post(AYU, close, &json!({})).await.0, StatusCode::OK);
    let (status, v) = app.mod_post(BUDI, close, &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "thread_state");
    let (status, v) = app
        .mod_post(AYU, "/api/v1/mod/threads/belum-ditutup/reopen", &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "thread_state");
}

/// Opens the stopped server's store, polling until its lock is free.
async fn open_store(dir: &std::path::Path) -> std::sync::Arc<dyn saring::store::EventStore> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match saring::store::open_store(None, dir).await {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("the store stays locked: {e}"),
        }
    }
}

#[tokio::test]
async fn a_comment_with_an_event_of_an_unknown_type_still_accepts_decisions() {
    let app = spawn_app().await;
    let id = app.comment_ok("berita-versi", HELD, "pending").await;
    let before = app.version(&id).await;
    let dir = app.stop().await;

    // A newer replica (in a rolling upgrade) wrote an event type this version does not know.
    let store = open_store(dir.path()).await;
    let newer = saring::store::NewEvent::new(
        "CommentPinned",
        json!({"type": "CommentPinned", "by": {"kind": "moderator", "name": "cici"}}),
    );
    store
        .append(
            &format!("comment-{id}"),
            saring::store::ExpectedRevision::Exact(before),
            vec![newer],
        )
        .await
        .expect("the append");
    drop(store);

    let app = spawn_app_in(dir, |_| {}).await;
    let (status, record) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["version"], before + 1, "the unknown event counts");
    assert_eq!(record["status"], "pending", "and changes nothing");
    let (_, queue) = app.mod_get(AYU, "/api/v1/mod/queue?status=pending").await;
    assert_eq!(queue["items"][0]["version"], before + 1, "{queue}");

    let (status, decided) = app.decide(AYU, &id, "approve", before + 1).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["version"], before + 2);
    assert_eq!(app.thread_ids("berita-versi").await, vec![id]);
}

/// A verdict's rule descriptions are stored once per policy version, not in every verdict:
/// the stored `CommentScreened` (schema 3) carries none, and the moderator's view still shows
/// every one, also once another policy version is in force (looked up in the old version's
/// `PolicyActivated`).
#[tokio::test]
async fn verdicts_are_stored_without_rule_descriptions_and_moderators_still_see_them() {
    let policies = policy_copy();
    let path = policies.path().to_path_buf();
    let app = spawn_app_with(|s| s.policies = path).await;
    let id = app.comment_ok("berita-judi", SPAM, "pending").await;

    let db = rusqlite::Connection::open_with_flags(
        app.dir.path().join("saring.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let (schema, data): (i64, String) = db
        .query_row(
            "SELECT schema_version, CAST(data AS TEXT) FROM events
             WHERE stream = ?1 AND event_type = 'CommentScreened'",
            [format!("comment-{id}")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(schema, 3);
    assert!(data.contains("GAMBLING"), "{data}");
    assert!(!data.contains("description"), "{data}");

    let described = |detail: &serde_json::Value| {
        let rules = detail["verdict"]["rules"]
            .as_array()
            .expect("rules")
            .clone();
        assert!(rules.len() >= 2, "{detail}");
        for r in &rules {
            assert!(
                !r["description"]["en"].as_str().unwrap_or("").is_empty()
                    && !r["description"]["id"].as_str().unwrap_or("").is_empty(),
                "a rule without its description: {r}"
            );
        }
        rules
    };
    let (_, before) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    let before = described(&before);

    let file = policies.path().join("default.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("hold = 5.0", "hold = 4.5", 1)).unwrap();
    let (status, v) = app
        .mod_post(AYU, "/api/v1/mod/policy/reload", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, after) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    assert_eq!(described(&after), before, "the old version's descriptions");
}
