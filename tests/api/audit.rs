//! The audit log: who decided what and when, with the status before and after, filterable,
//! kept through a restart, and per-moderator figures.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn events(v: &Value) -> Vec<(String, String)> {
    v["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries in {v}"))
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_string(),
                e["by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_decision_ban_and_thread_change_is_in_the_audit_with_who_and_before_and_after() {
    let app = spawn_app().await;
    let email = "terdakwa@contoh.id";
    let (status, v) = app
        .comment("berita-audit", "Pembaca", email, HELD, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let other = app.comment_ok("berita-audit", HELD, "pending").await;
    let v0 = app.version(&id).await;
    assert_eq!(app.decide(AYU, &id, "approve", v0).await.0, StatusCode::OK);
    assert_eq!(
        app.decide(BUDI, &id, "spam", v0 + 1).await.0,
        StatusCode::OK
    );
    let vo = app.version(&other).await;
    assert_eq!(
        app.decide(AYU, &other, "reject", vo).await.0,
        StatusCode::OK
    );
    let (status, _) = app
        .mod_post(AYU, "/api/v1/mod/threads/berita-audit/close", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bans",
            &json!({ "kind": "email", "value": email, "reason": "judi" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, all) = app.mod_get(AYU, "/api/v1/mod/audit").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let seen = events(&all);
    let want: Vec<(String, String)> = [
        ("BanPlaced", "ayu"),
        ("ThreadClosed", "ayu"),
        ("CommentRejected", "ayu"),
        ("CommentMarkedSpam", "budi"),
        ("CommentApproved", "ayu"),
    ]
    .iter()
    .map(|(e, b)| (e.to_string(), b.to_string()))
    .collect();
    assert_eq!(seen[..5], want[..], "{all}");
    let spam = &all["entries"][3];
    assert_eq!(
        (spam["before"].as_str(), spam["after"].as_str()),
        (Some("published"), Some("spam")),
        "{spam}"
    );
    assert_eq!(spam["author"], email);
    let approve = &all["entries"][4];
    assert_eq!(
        (approve["before"].as_str(), approve["after"].as_str()),
        (Some("pending"), Some("published"))
    );

    let (_, budi) = app.mod_get(AYU, "/api/v1/mod/audit?moderator=budi").await;
    assert_eq!(
        events(&budi),
        vec![("CommentMarkedSpam".to_string(), "budi".to_string())]
    );
    let (_, one) = app
        .mod_get(AYU, &format!("/api/v1/mod/audit?comment={id}"))
        .await;
    assert_eq!(events(&one).len(), 2, "{one}");
    let (_, by_author) = app
        .mod_get(AYU, &format!("/api/v1/mod/audit?author={email}"))
        .await;
    assert_eq!(events(&by_author).len(), 2, "{by_author}");
    let (_, future) = app
        .mod_get(AYU, "/api/v1/mod/audit?since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(events(&future).len(), 0);
    let (_, page) = app.mod_get(AYU, "/api/v1/mod/audit?limit=2").await;
    let next = page["next"].as_str().expect("a next page").to_string();
    let (_, page2) = app
        .mod_get(AYU, &format!("/api/v1/mod/audit?limit=2&before={next}"))
        .await;
    assert_eq!(events(&page2), want[2..4].to_vec());

    let (_, figures) = app.mod_get(AYU, "/api/v1/mod/audit/moderators").await;
    let ayu = figures["moderators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ayu")
        .expect("ayu");
    assert_eq!(
        (
            ayu["decisions"].as_u64(),
            ayu["reversed_by_colleagues"].as_u64()
        ),
        (Some(2), Some(1)),
        "{figures}"
    );

    // Per rule: a rule that held the third comment matched earlier ones too; approving the
    // third overturns it once (the first was approved, then spammed: the last decision counts).
    let third = app
        .comment_ok("berita-audit-2", &format!("{HELD} Tiga."), "pending")
        .await;
    let v3 = app.version(&third).await;
    assert_eq!(
        app.decide(AYU, &third, "approve", v3).await.0,
        StatusCode::OK
    );
    // The filter may have classed the repeated link as spam (the reader is told "pending"
    // either way); the audit's "before" is what the comment's history says.
    let (_, latest) = app.mod_get(AYU, "/api/v1/mod/audit?limit=1").await;
    let (_, hist) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{third}"))
        .await;
    let filter_said = match hist["history"][2]["event"].as_str() {
        Some("CommentMarkedSpam") => "spam",
        Some("CommentHeld") => "pending",
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        (
            latest["entries"][0]["before"].as_str(),
            latest["entries"][0]["after"].as_str()
        ),
        (Some(filter_said), Some("published")),
        "{latest}"
    );
    let (_, rules) = app.mod_get(AYU, "/api/v1/mod/audit/rules").await;
    let (_, record) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{third}"))
        .await;
    let towards_spam = record["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["score"].as_f64().unwrap_or(0.0) > 0.0)
        .expect("a rule that held it")["id"]
        .clone();
    let figure = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == towards_spam)
        .unwrap_or_else(|| panic!("{towards_spam} in {rules}"));
    assert!(figure["hits"].as_u64() >= Some(2), "{rules}");
    assert_eq!(figure["overturned"].as_u64(), Some(1), "{rules}");

    let (status, bad) = app
        .mod_get(AYU, "/api/v1/mod/audit?since=kemarin&lang=en")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(bad["error"]["fields"]["since"].is_string(), "{bad}");

    let dir = app.stop().await;
    let app = spawn_app_in(dir, |_| {}).await;
    let (_, again) = app.mod_get(AYU, "/api/v1/mod/audit").await;
    assert_eq!(events(&again)[1..6], want[..], "{again}");
}
