//! Bulk decisions in the moderator API: a list of ids with their versions, each answered on its
//! own, and "everything pending from this author / address / domain / with this text".

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn bulk(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.mod_post(AYU, "/api/v1/mod/bulk?lang=en", &body).await
}

fn result_of<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id} in {answer}"))
}

#[tokio::test]
async fn each_comment_of_a_bulk_request_gets_its_own_result() {
    let app = spawn_app().await;
    let fresh = app.comment_ok("berita-bulk", HELD, "pending").await;
    let raced = app.comment_ok("berita-bulk", HELD, "pending").await;
    let v_fresh = app.version(&fresh).await;
    let v_raced = app.version(&raced).await;
    // A colleague decides one of them first.
    assert_eq!(
        app.decide(BUDI, &raced, "reject", v_raced).await.0,
        StatusCode::OK
    );
    let missing = uuid::Uuid::new_v4().to_string();
    let (status, answer) = bulk(
        &app,
        json!({ "action": "approve", "items": [
            { "id": fresh, "expected_version": v_fresh },
            { "id": raced, "expected_version": v_raced },
            { "id": missing, "expected_version": 0 },
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["done"], 1, "{answer}");
    assert_eq!(result_of(&answer, &fresh)["result"], "done");
    let stale = result_of(&answer, &raced);
    assert_eq!(
        (stale["result"].as_str(), stale["code"].as_u64()),
        (Some("stale"), Some(409)),
        "{stale}"
    );
    assert_eq!(stale["by"], "budi");
    assert_eq!(stale["status"], "rejected");
    let gone = result_of(&answer, &missing);
    assert_eq!(
        (gone["result"].as_str(), gone["code"].as_u64()),
        (Some("not_found"), Some(404))
    );
    assert_eq!(app.thread_ids("berita-bulk").await, vec![fresh]);
}

#[tokio::test]
async fn everything_pending_from_one_author_or_with_one_text_is_decided_at_once() {
    let app = spawn_app().await;
    let mut from_author = Vec::new();
    for i in 0..3 {
        let body = format!("{HELD} ({i})");
        let (status, v) = app
            .comment(
                "berita-semua",
                "Penyebar",
                "penyebar@contoh.id",
                &body,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "pending", "{v}");
        from_author.push(v["id"].as_str().unwrap().to_string());
    }
    let same_text: Vec<String> = [0, 1].iter().map(|_| String::new()).collect();
    let mut copies = Vec::new();
    for _ in &same_text {
        copies.push(app.comment_ok("berita-semua", HELD, "pending").await);
    }
    let other = app
        .comment_ok(
            "berita-semua",
            "Tautan lain di https://lain.example.org/x sebagai rujukan.",
            "pending",
        )
        .await;

    let (status, answer) = bulk(
        &app,
        json!({ "action": "spam", "selector": { "email": "PENYEBAR@contoh.id" } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["matched"].as_u64(), answer["done"].as_u64()),
        (Some(3), Some(3)),
        "{answer}"
    );
    for id in &from_author {
        assert_eq!(result_of(&answer, id)["status"], "spam");
    }

    let (status, answer) = bulk(
        &app,
        json!({ "action": "reject", "selector": { "same_text_as": copies[0] } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["done"], 2, "{answer}");
    let (_, queue) = app.mod_get(AYU, "/api/v1/mod/queue?status=pending").await;
    let left: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![other.as_str()], "{queue}");
}

#[tokio::test]
async fn a_bulk_request_outside_the_bounds_is_refused_clearly() {
    let app = spawn_app().await;
    let too_many: Vec<Value> = (0..501)
        .map(|_| json!({ "id": uuid::Uuid::new_v4().to_string(), "expected_version": 0 }))
        .collect();
    let cases = [
        (json!({ "action": "spam", "items": too_many }), "items"),
        (json!({ "action": "spam", "items": [] }), "items"),
        (json!({ "action": "spam" }), "items"),
        (json!({ "action": "spam", "selector": {} }), "selector"),
        (
            json!({ "action": "spam", "selector": { "same_text_as": "bukan-id" } }),
            "same_text_as",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = bulk(&app, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {v}");
        assert!(v["error"]["fields"][field].is_string(), "{field}: {v}");
    }
    let (status, v) = bulk(&app, json!({ "action": "explode", "items": [] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}
