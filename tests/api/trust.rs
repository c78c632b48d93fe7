//! Trust that cannot be borrowed (issue 9, item 4): a regular reader's record counts only with
//! the known-reader token Saring gave for that email, and the captcha path of every submission is
//! recorded so a backtest replays `captcha_path` rules.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const LINK: &str = "Rincian jadwalnya ada di https://warung-kopi.example/jadwal untuk yang perlu.";

/// A server asking 8 bits of proof of work with the sum (cheap in a debug build).
async fn app() -> TestApp {
    spawn_app_with(|s| s.captcha.pow_difficulty = 8).await
}

/// A challenge for `thread`.
async fn fetch(app: &TestApp, thread: &str) -> Value {
    let (status, c) = app.get(&format!("/api/v1/captcha?thread={thread}")).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

fn stamp(c: &Value, field: &str) -> String {
    let salt = c["pow"]["salt"].as_str().unwrap();
    saring::pow::solve(salt, c["pow"][field].as_u64().unwrap() as u8).to_string()
}

/// Posts `body` as `email` through the sum (with the stamp), sending `token` when given.
async fn post(
    app: &TestApp,
    thread: &str,
    email: &str,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let b = sum_body(app, thread, email, body, token).await;
    app.post_json(thread, &b).await
}

/// The JSON of a comment through the sum, with a fresh challenge.
async fn sum_body(
    app: &TestApp,
    thread: &str,
    email: &str,
    body: &str,
    token: Option<&str>,
) -> Value {
    let c = fetch(app, thread).await;
    let mut b = json!({
        "author_name": "Pembaca",
        "author_email": email,
        "body": body,
        "captcha_token": c["token"],
        "captcha_answer": solve(c["question"].as_str().unwrap()).to_string(),
        "captcha_pow": stamp(&c, "difficulty"),
    });
    if let Some(t) = token {
        b["reader_token"] = json!(t);
    }
    b
}

/// Posts as `email` without answering the sum or doing the work: the "trusted" path.
async fn post_unanswered(
    app: &TestApp,
    thread: &str,
    email: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let c = fetch(app, thread).await;
    let mut b = json!({
        "author_name": "Pembaca",
        "author_email": email,
        "body": format!("{HAM} Tanpa soal."),
        "captcha_token": c["token"],
        "captcha_answer": "",
    });
    if let Some(t) = token {
        b["reader_token"] = json!(t);
    }
    app.post_json(thread, &b).await
}

async fn rules_of(app: &TestApp, id: &str) -> Vec<String> {
    let (status, v) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["verdict"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Three published comments under `email`, each sending the token the one before earned; returns
/// the last token.
async fn regular_reader(app: &TestApp, email: &str) -> String {
    let mut token: Option<String> = None;
    for i in 0..3 {
        let (status, v) = post(
            app,
            "trust",
            email,
            &format!("{HAM} Bagian {i}."),
            token.as_deref(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "published", "{v}");
        let fresh = v["reader_token"]
            .as_str()
            .expect("a published comment earns a token");
        token = Some(fresh.to_string());
    }
    token.unwrap()
}

#[tokio::test]
async fn a_borrowed_email_without_the_token_is_evidence_not_trust() {
    let app = app().await;
    let email = "langganan@contoh.id";
    regular_reader(&app, email).await;

    // Someone who knows the address, without the token: the sum is asked as of anyone.
    let (status, v) = post_unanswered(&app, "trust", email, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "captcha_unanswered", "{v}");

    // A link is held, as a stranger's would be, and the moderator sees why.
    let (status, v) = post(&app, "trust", email, LINK, None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    assert!(v.get("reader_token").is_none(), "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert!(
        rules.iter().any(|r| r == "TRUSTED_EMAIL_UNVERIFIED"),
        "{rules:?}"
    );
    assert!(!rules.iter().any(|r| r == "TRUSTED_AUTHOR"), "{rules:?}");

    // A harmless comment still gets through, but earns no token for the borrowed email.
    let (status, v) = post(&app, "trust", email, &format!("{HAM} Lagi."), None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "published", "{v}");
    assert!(v.get("reader_token").is_none(), "{v}");
}

#[tokio::test]
async fn with_its_token_a_regular_reader_is_trusted() {
    let app = app().await;
    let email = "langganan@contoh.id";
    let token = regular_reader(&app, email).await;

    let (status, v) = post(&app, "trust", email, LINK, Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "published", "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert!(rules.iter().any(|r| r == "TRUSTED_AUTHOR"), "{rules:?}");

    // Neither sum nor work, and the email in other case still matches its token.
    let (status, v) = post_unanswered(&app, "trust", "Langganan@Contoh.id", Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "published", "{v}");
}

#[tokio::test]
async fn a_token_for_another_email_is_refused_as_trust() {
    let app = app().await;
    regular_reader(&app, "ani@contoh.id").await;
    let budi = regular_reader(&app, "budi@contoh.id").await;

    let (status, v) = post_unanswered(&app, "trust", "ani@contoh.id", Some(&budi)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "captcha_unanswered", "{v}");

    let (status, v) = post(&app, "trust", "ani@contoh.id", LINK, Some(&budi)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert!(
        rules.iter().any(|r| r == "TRUSTED_EMAIL_UNVERIFIED"),
        "{rules:?}"
    );
}

#[tokio::test]
async fn a_held_comment_earns_the_token_once_a_moderator_approves_it() {
    let app = app().await;
    let email = "baru@contoh.id";
    let (status, v) = post(&app, "trust", email, LINK, None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    assert!(v.get("reader_token").is_none(), "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let claim = v["reader_claim"].as_str().expect("a claim").to_string();

    let redeem = |claim: String, id: String| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.url("/api/v1/reader-token"))
                .json(&json!({ "comment_id": id, "claim": claim }))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Not before a moderator has looked at it, and never with a claim made up or for another.
    let (status, v) = redeem(claim.clone(), id.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "not_found", "{v}");
    let version = app.version(&id).await;
    assert_eq!(
        app.decide(AYU, &id, "approve", version).await.0,
        StatusCode::OK
    );
    let (status, _) = redeem("AAAAAAAAAAAAAAAAAAAAAA".into(), id.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = redeem(claim.clone(), uuid_like()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, v) = redeem(claim, id).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let token = v["reader_token"].as_str().unwrap().to_string();
    // The email has a record now, so only its token earns the next one.
    let (status, v) = post(&app, "trust", email, &format!("{HAM} Dua."), Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "published", "{v}");
    assert!(v["reader_token"].is_string(), "{v}");
}

#[tokio::test]
async fn a_backtest_replays_the_recorded_captcha_path() {
    let app = app().await;
    // One comment through the sum with the stamp, one through "skip the sum".
    let (status, v) = post(&app, "jalur", "sum@contoh.id", HAM, None).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let sum_id = v["id"].as_str().unwrap().to_string();
    let c = fetch(&app, "jalur").await;
    let (status, v) = app
        .post_json(
            "jalur",
            &json!({
                "author_name": "Pembaca",
                "author_email": "skip@contoh.id",
                "body": format!("{HAM} Tanpa hitungan."),
                "captcha_token": c["token"],
                "captcha_answer": "",
                "captcha_pow": stamp(&c, "skip_difficulty"),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "published", "{v}");
    let skip_id = v["id"].as_str().unwrap().to_string();
    let dir = app.stop().await;

    // A candidate that holds every skipped sum: only that comment changes, by that rule.
    let candidate = tempfile::tempdir().unwrap();
    std::fs::write(
        candidate.path().join("default.toml"),
        "[policy]\nname = \"hold-skips\"\n\n[thresholds]\nhold = 5.0\nspam = 10.0\n\n\
         [[rule]]\nid = \"HOLD_SKIPS\"\nkind = \"captcha_path\"\ncheck = \"skip\"\nscore = 6.0\n\
         description = { id = \"Soal dilewati\", en = \"Sum skipped\" }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["policy", "backtest", "--policy"])
        .arg(candidate.path())
        .arg("--data-dir")
        .arg(dir.path())
        .env("SARING_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changes: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["comment_id"], skip_id.as_str());
    assert_eq!(changes[0]["candidate"], "hold");
    assert_eq!(changes[0]["rules"], json!(["HOLD_SKIPS"]));
    assert!(changes.iter().all(|c| c["comment_id"] != sum_id.as_str()));
}

#[tokio::test]
async fn spam_under_a_borrowed_email_does_not_spoil_the_readers_record() {
    let app = spawn_app_with(|s| {
        s.captcha.pow_difficulty = 8;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    })
    .await;
    let email = "langganan@contoh.id";
    let token = regular_reader(&app, email).await;

    // Someone else, from another address, posts a link under the reader's email without the
    // token, and a moderator marks it spam.
    let b = sum_body(&app, "trust", email, LINK, None).await;
    let resp = app
        .client
        .post(app.url("/api/v1/threads/trust/comments"))
        .header("x-forwarded-for", "198.51.100.77")
        .json(&b)
        .send()
        .await
        .expect("request");
    let (status, v) = (resp.status(), resp.json::<Value>().await.expect("json"));
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let version = app.version(&id).await;
    let (status, v) = app.decide(AYU, &id, "spam", version).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // The reader, with the token, is still trusted: the borrowed comment's spam counts against
    // the address it came from, not against the email.
    let own =
        "Foto acaranya saya unggah di https://album-warga.example/pentas-seni, silakan dilihat.";
    let (status, v) = post(&app, "trust", email, own, Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert_eq!(v["status"], "published", "{v} {rules:?}");
    assert!(rules.iter().any(|r| r == "TRUSTED_AUTHOR"), "{rules:?}");

    // Spam sent with the email's own token does count against it.
    let (status, v) = post(
        &app,
        "trust",
        email,
        &format!("{HAM} Sekali lagi."),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let version = app.version(&id).await;
    let (status, v) = app.decide(AYU, &id, "spam", version).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let later = "Daftar pemenangnya ada di https://lomba-desa.example/hasil untuk dicek.";
    let (status, v) = post(&app, "trust", email, later, Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert!(!rules.iter().any(|r| r == "TRUSTED_AUTHOR"), "{rules:?}");
}
