//! The proof of work on the captcha token: every refusal, "skip the sum", trusted authors, the
//! no-JavaScript form and the difficulty that follows risk.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::*;

const HAM: &str = "Terima kasih atas liputannya, semoga jalan desa cepat diperbaiki.";

/// A server asking 8 bits with the sum and 11 without it (cheap for a debug build), where two
/// comments from one address make it busy.
async fn pow_app() -> TestApp {
    spawn_app_with(|s| {
        s.captcha.pow_difficulty = 8;
        s.captcha.pow_skip_extra = 3;
        s.captcha.pow_step = 2;
        s.captcha.pow_busy_address = 2;
    })
    .await
}

/// A challenge as the widget gets it.
async fn fetch(app: &TestApp, thread: &str) -> Value {
    let (status, c) = app.get(&format!("/api/v1/captcha?thread={thread}")).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

fn answer_of(c: &Value) -> String {
    solve(c["question"].as_str().unwrap()).to_string()
}

fn stamp(c: &Value, bits_field: &str) -> String {
    let salt = c["pow"]["salt"].as_str().unwrap();
    let bits = c["pow"][bits_field].as_u64().unwrap() as u8;
    saring::pow::solve(salt, bits).to_string()
}

fn body(c: &Value, email: &str, answer: &str, pow: &str) -> Value {
    json!({
        "author_name": "Sari",
        "author_email": email,
        "body": HAM,
        "captcha_token": c["token"],
        "captcha_answer": answer,
        "captcha_pow": pow,
    })
}

/// The rule ids of a comment's verdict, from the moderator view.
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

fn assert_refused(status: StatusCode, v: &Value, code: &str) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    // A fresh challenge, with its own proof of work, so the reader keeps their text.
    assert!(v["captcha"]["token"].is_string(), "{v}");
    assert!(v["captcha"]["pow"]["salt"].is_string(), "{v}");
}

#[tokio::test]
async fn the_challenge_carries_the_work_and_the_api_refuses_without_it() {
    let app = pow_app().await;
    let c = fetch(&app, "pow-a").await;
    assert_eq!(c["pow"]["algorithm"], "SHA-256");
    assert_eq!(c["pow"]["difficulty"], 8);
    assert_eq!(c["pow"]["skip_difficulty"], 11);
    assert_eq!(c["pow"]["salt"].as_str().unwrap().len(), 32);
    let answer = answer_of(&c);

    let (status, v) = app
        .post_json("pow-a", &body(&c, "a@contoh.id", &answer, ""))
        .await;
    assert_refused(status, &v, "captcha_pow_missing");

    // A stamp that falls short of the difficulty.
    let salt = c["pow"]["salt"].as_str().unwrap();
    let short = (0u64..)
        .find(|n| saring::pow::stamp_bits(salt, &n.to_string()).unwrap() < 8)
        .unwrap();
    let (status, v) = app
        .post_json(
            "pow-a",
            &body(&c, "a@contoh.id", &answer, &short.to_string()),
        )
        .await;
    assert_refused(status, &v, "captcha_pow_wrong");
    for junk in [
        json!("-1"),
        json!("1e9"),
        json!({"n": 1}),
        json!("9".repeat(40)),
    ] {
        let mut b = body(&c, "a@contoh.id", &answer, "");
        b["captcha_pow"] = junk;
        let (status, v) = app.post_json("pow-a", &b).await;
        assert_refused(status, &v, "captcha_pow_wrong");
    }

    // A stamp solved for another token is worth nothing here.
    let other = fetch(&app, "pow-a").await;
    let borrowed = saring::pow::solve(other["pow"]["salt"].as_str().unwrap(), 11);
    if saring::pow::stamp_bits(salt, &borrowed.to_string()).unwrap() < 8 {
        let (status, v) = app
            .post_json(
                "pow-a",
                &body(&c, "a@contoh.id", &answer, &borrowed.to_string()),
            )
            .await;
        assert_refused(status, &v, "captcha_pow_wrong");
    }

    // Refused stamps burnt nothing: the same token with its own stamp and the answer goes in.
    let good = stamp(&c, "difficulty");
    let (status, v) = app
        .post_json("pow-a", &body(&c, "a@contoh.id", &answer, &good))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert!(
        !rules
            .iter()
            .any(|r| r == "NO_JAVASCRIPT" || r == "SKIPPED_SUM"),
        "{rules:?}"
    );

    // The same token and stamp again is a replay.
    let (status, v) = app
        .post_json("pow-a", &body(&c, "a@contoh.id", &answer, &good))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "captcha_used");
}

#[tokio::test]
async fn skipping_the_sum_costs_more_work_and_is_scored() {
    let app = pow_app().await;
    let c = fetch(&app, "pow-skip").await;
    // The base stamp alone does not skip the sum for a reader the site does not know.
    let salt = c["pow"]["salt"].as_str().unwrap().to_string();
    let base_only = (0u64..)
        .find(|n| {
            let b = saring::pow::stamp_bits(&salt, &n.to_string()).unwrap();
            (8..11).contains(&b)
        })
        .unwrap();
    let (status, v) = app
        .post_json(
            "pow-skip",
            &body(&c, "b@contoh.id", "", &base_only.to_string()),
        )
        .await;
    assert_refused(status, &v, "captcha_unanswered");
    let (status, v) = app
        .post_json("pow-skip", &body(&c, "b@contoh.id", "", ""))
        .await;
    assert_refused(status, &v, "captcha_unanswered");

    // The skip-level stamp, and no answer at all, is a comment.
    let skip = stamp(&c, "skip_difficulty");
    let (status, v) = app
        .post_json("pow-skip", &body(&c, "b@contoh.id", "", &skip))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let rules = rules_of(&app, v["id"].as_str().unwrap()).await;
    assert!(rules.iter().any(|r| r == "SKIPPED_SUM"), "{rules:?}");
}

#[tokio::test]
async fn a_trusted_author_is_asked_neither_the_sum_nor_the_work() {
    let app = pow_app().await;
    let email = "langganan@contoh.id";
    // Each published comment hands the widget a known-reader token, sent with the next.
    let mut token = Value::Null;
    for i in 0..3 {
        let c = fetch(&app, "pow-trust").await;
        let mut b = body(&c, email, &answer_of(&c), &stamp(&c, "difficulty"));
        b["body"] = json!(format!("{HAM} Bagian {i}."));
        b["reader_token"] = token.clone();
        let (status, v) = app.post_json("pow-trust", &b).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let id = v["id"].as_str().unwrap().to_string();
        if v["status"] == "published" {
            token = v["reader_token"].clone();
        } else {
            // Held, then approved: the answer's claim is traded for the token.
            let version = app.version(&id).await;
            let (status, d) = app.decide(AYU, &id, "approve", version).await;
            assert_eq!(status, StatusCode::OK, "{d}");
            let resp = app
                .client
                .post(app.url("/api/v1/reader-token"))
                .json(&json!({ "comment_id": id, "claim": v["reader_claim"] }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            token = resp.json::<Value>().await.unwrap()["reader_token"].clone();
        }
        assert!(token.is_string(), "{v}");
    }
    let c = fetch(&app, "pow-trust").await;
    let mut b = body(&c, email, "", "");
    b["body"] = json!(format!("{HAM} Sekali lagi."));
    b["reader_token"] = token;
    let (status, v) = app.post_json("pow-trust", &b).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // Someone else with the same empty answer is refused.
    let c = fetch(&app, "pow-trust").await;
    let (status, v) = app
        .post_json("pow-trust", &body(&c, "baru@contoh.id", "", ""))
        .await;
    assert_refused(status, &v, "captcha_unanswered");
}

#[tokio::test]
async fn the_plain_form_needs_only_the_sum_and_scores_a_little_higher() {
    let app = pow_app().await;
    // The page's own token, read as a browser without JavaScript shows it.
    let page = app.text("/threads/pow-form/embed").await;
    let token = page
        .split("name=\"captcha_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let parts: Vec<String> = page
        .split("class=\"saring-qpart\" aria-hidden=\"true\">")
        .skip(1)
        .take(2)
        .map(|rest| rest.split('<').next().unwrap_or_default().to_string())
        .collect();
    let question =
        html_escape::decode_html_entities(&format!("{}[ ]{}", parts[0], parts[1])).to_string();
    let answer = solve(&question).to_string();
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let resp = client
        .post(app.url("/comments"))
        .form(&[
            ("author", "Sari"),
            ("email", "form@contoh.id"),
            ("comment", HAM),
            ("comment_post_ID", "pow-form"),
            ("captcha_token", &token),
            ("captcha_answer", &answer),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()[reqwest::header::LOCATION].to_str().unwrap();
    let id = location.rsplit("comment-").next().unwrap().to_string();
    let rules = rules_of(&app, &id).await;
    assert!(rules.iter().any(|r| r == "NO_JAVASCRIPT"), "{rules:?}");
}

#[tokio::test]
async fn a_busy_address_group_gets_harder_work() {
    let app = pow_app().await;
    assert_eq!(fetch(&app, "pow-busy").await["pow"]["difficulty"], 8);
    for i in 0..2 {
        let c = fetch(&app, "pow-busy").await;
        let mut b = body(
            &c,
            &format!("r{i}@contoh.id"),
            &answer_of(&c),
            &stamp(&c, "difficulty"),
        );
        b["body"] = json!(format!("{HAM} {i}"));
        let (status, v) = app.post_json("pow-busy", &b).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    // Two comments from 127.0.0.0/24 in the window: two bits more, for any thread.
    let c = fetch(&app, "pow-other").await;
    assert_eq!(c["pow"]["difficulty"], 10, "{c}");
    assert_eq!(c["pow"]["skip_difficulty"], 13, "{c}");
    let metrics = app.metrics().await;
    assert!(metrics.contains("saring_captcha_path_total"), "{metrics}");
    assert!(
        metrics.contains("saring_captcha_pow_difficulty"),
        "{metrics}"
    );
}
