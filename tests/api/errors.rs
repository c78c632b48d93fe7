//! Every row of the README's input-error table, answered as documented: status, code, fields,
//! and the message in the request's language.

use reqwest::StatusCode;
use reqwest::header;
use saring::captcha::{Captcha, CaptchaConfig};
use saring::i18n::Lang;
use serde_json::{Value, json};

use crate::helpers::*;

async fn valid_payload(app: &TestApp, thread: &str) -> Value {
    let (token, answer) = app.challenge(thread).await;
    json!({
        "author_name": "Sari",
        "author_email": "sari@contoh.id",
        "body": HAM,
        "captcha_token": token,
        "captcha_answer": answer.to_string(),
    })
}

async fn field_error(app: &TestApp, change: impl FnOnce(&mut Value)) -> (Value, Value) {
    let mut payload = valid_payload(app, "berita-galat").await;
    change(&mut payload);
    let (status, v) = app.post_json("berita-galat", &payload).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "invalid_input");
    (v["error"]["fields"].clone(), v)
}

#[tokio::test]
async fn each_input_rule_names_its_field() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value)> = vec![
        ("author_name", json!("")),
        ("author_name", json!("n".repeat(101))),
        ("author_name", json!("Sari\u{7}")),
        ("author_email", json!("")),
        ("author_email", json!("bukan-email")),
        ("author_url", json!("javascript:alert(1)")),
        (
            "author_url",
            json!(format!("https://contoh.id/{}", "a".repeat(500))),
        ),
        ("body", json!("")),
        ("body", json!("kata ".repeat(1001))),
        ("body", json!("halo\u{0}dunia")),
        ("parent_id", json!("bukan-uuid")),
        ("parent_id", json!("00000000-0000-0000-0000-000000000001")),
    ];
    for (field, value) in cases {
        let (fields, v) = field_error(&app, |p| p[field] = value.clone()).await;
        assert!(fields.get(field).is_some(), "{field} = {value}: {v}");
    }
    // Several problems are reported at once.
    let (fields, _) = field_error(&app, |p| {
        p["author_name"] = json!("");
        p["body"] = json!("   ");
    })
    .await;
    assert!(fields.get("author_name").is_some() && fields.get("body").is_some());
}

#[tokio::test]
async fn errors_speak_the_readers_language() {
    let app = spawn_app().await;
    let mut payload = valid_payload(&app, "berita-bahasa").await;
    payload["author_email"] = json!("salah");
    let en = app
        .client
        .post(app.url("/api/v1/threads/berita-bahasa/comments?lang=en"))
        .json(&payload)
        .send()
        .await
        .unwrap();
    let en: Value = en.json().await.unwrap();
    assert_eq!(en["error"]["message"], "Please check the marked fields.");
    assert!(
        en["error"]["fields"]["author_email"]
            .as_str()
            .unwrap()
            .contains("valid email")
    );
    let id = app
        .client
        .post(app.url("/api/v1/threads/berita-bahasa/comments"))
        .header(header::ACCEPT_LANGUAGE, "id-ID,id;q=0.9,en;q=0.5")
        .json(&payload)
        .send()
        .await
        .unwrap();
    let id: Value = id.json().await.unwrap();
    assert_eq!(
        id["error"]["message"],
        "Periksa kembali isian yang ditandai."
    );
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/threads/berita-galat/comments");
    let bad_json = app
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"body\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_json.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_body"
    );

    let wrong_type = app
        .client
        .post(&url)
        .header(header::CONTENT_TYPE, "text/plain")
        .body("halo")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        wrong_type.json::<Value>().await.unwrap()["error"]["code"],
        "unsupported_media_type"
    );

    let huge = json!({ "body": "a".repeat(70 * 1024) });
    let too_large = app.client.post(&url).json(&huge).send().await.unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        too_large.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );

    let bad_thread = app
        .client
        .get(app.url("/api/v1/threads/a%20b/comments"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_thread.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_thread.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_thread"
    );

    let (status, v) = app
        .get("/api/v1/threads/berita-1/comments?order=acak")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_query");
    assert!(v["error"]["fields"]["order"].is_string());
}

#[tokio::test]
async fn a_wrong_answer_burns_the_token_and_brings_a_fresh_challenge() {
    let app = spawn_app().await;
    let mut payload = valid_payload(&app, "berita-captcha").await;
    let right = payload["captcha_answer"].as_str().unwrap().to_string();
    payload["captcha_answer"] = json!((right.parse::<i64>().unwrap() + 1).to_string());
    let (status, v) = app.post_json("berita-captcha", &payload).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "captcha_wrong");
    let fresh = v["captcha"]["question"]
        .as_str()
        .expect("a fresh challenge")
        .to_string();
    assert!(v["captcha"]["token"].is_string());

    // The burnt token no longer works, even with the right answer.
    payload["captcha_answer"] = json!(right);
    let (status, v) = app.post_json("berita-captcha", &payload).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");

    // The fresh challenge does, with spaces around the digits.
    payload["captcha_token"] = v["captcha"]["token"].clone();
    payload["captcha_answer"] = json!(format!(
        "  {}  ",
        solve(v["captcha"]["question"].as_str().unwrap())
    ));
    let (status, v) = app.post_json("berita-captcha", &payload).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{v} (first fresh question was {fresh})"
    );
}

#[tokio::test]
async fn a_replayed_token_is_a_conflict_and_stores_nothing_new() {
    let app = spawn_app().await;
    let payload = valid_payload(&app, "berita-ulang").await;
    let (status, first) = app.post_json("berita-ulang", &payload).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, v) = app.post_json("berita-ulang", &payload).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["error"]["code"], "captcha_used");
    assert!(v["captcha"]["token"].is_string());
    assert_eq!(
        app.thread_ids("berita-ulang").await,
        [first["id"].as_str().unwrap().to_string()]
    );
}

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    // The server keeps its key in the data folder; a token issued two hours ago with it has expired.
    let secret = Captcha::load_or_create_secret(app.dir.path()).unwrap();
    let captcha = Captcha::new(
        secret,
        CaptchaConfig::default(),
        saring::http::messages::sum_words,
    );
    let old = captcha.issue(
        chrono::Utc::now() - chrono::Duration::hours(2),
        Some("berita-x"),
        Lang::Id,
        &mut rand::rng(),
    );
    let mut payload = valid_payload(&app, "berita-x").await;
    payload["captcha_token"] = json!(old.token);
    payload["captcha_answer"] = json!(solve(&old.question).to_string());
    let (status, v) = app.post_json("berita-x", &payload).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "captcha_expired");

    // A token for another thread.
    let (token, answer) = app.challenge("berita-lain").await;
    payload["captcha_token"] = json!(token);
    payload["captcha_answer"] = json!(answer.to_string());
    let (status, v) = app.post_json("berita-x", &payload).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "captcha_invalid");

    // Garbage.
    payload["captcha_token"] = json!("bukan-token");
    let (status, v) = app.post_json("berita-x", &payload).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "captcha_invalid");
}

#[tokio::test]
async fn moderator_routes_need_a_valid_token() {
    let app = spawn_app().await;
    let (status, v) = app.get("/api/v1/mod/queue").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "unauthorized");
    let (status, _) = app.mod_get("token-salah-999", "/api/v1/mod/queue").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = app.mod_get(AYU, "/api/v1/mod/queue?status=lain").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_query");
    let (status, v) = app
        .mod_get(
            AYU,
            "/api/v1/mod/comments/00000000-0000-0000-0000-000000000000",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
    let (status, v) = app
        .mod_post(
            AYU,
            "/api/v1/mod/comments/00000000-0000-0000-0000-000000000000/decision",
            &json!({"action": "terbang"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "serde's data error is 422: {v}"
    );
    assert_eq!(v["error"]["code"], "invalid_body");
}

#[tokio::test]
async fn unknown_comments_and_bad_counts_requests() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/api/v1/comments/bukan-id/flag"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let many = (0..201)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let (status, v) = app.get(&format!("/api/v1/counts?threads={many}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_query");
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_query_strings_answer_in_json() {
    let app = spawn_app().await;
    let (status, v) = app.get("/api/v1/tidak-ada?lang=en").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
    assert_eq!(v["error"]["message"], "Not found.");

    let resp = app
        .client
        .delete(app.url("/api/v1/captcha"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");

    // A query string the handler's parameters cannot take (a repeated parameter).
    let (status, v) = app.get("/api/v1/captcha?thread=a&thread=b").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_request");
    assert_eq!(v["error"]["message"], "Permintaan tidak valid.");
}

#[tokio::test]
async fn the_openapi_document_is_served_and_names_every_endpoint() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    for path in [
        "/api/v1/threads/{thread}/comments",
        "/api/v1/mod/comments/{id}/decision",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    let error = &doc["components"]["schemas"]["ErrorBody"]["properties"]["error"];
    assert!(error.is_object(), "{error}");
}

#[tokio::test]
async fn a_bad_thread_key_gets_one_refusal_wherever_the_json_api_takes_one() {
    let app = spawn_app().await;
    let (_, good) = app.get("/api/v1/captcha?thread=berita-1").await;
    let payload = json!({ "author_name": "Sari", "author_email": "sari@contoh.id", "body": HAM,
        "captcha_token": good["token"] });
    let long = "k".repeat(129);
    let mut answers = Vec::new();
    for lang in ["id", "en"] {
        answers.push(
            app.get(&format!("/api/v1/threads/a%20b/comments?lang={lang}"))
                .await,
        );
        answers.push(
            app.get(&format!("/api/v1/threads/{long}/comments?lang={lang}"))
                .await,
        );
        answers.push(
            app.get(&format!("/api/v1/captcha?thread=a%3Cb&lang={lang}"))
                .await,
        );
        answers.push(app.get(&format!("/api/v1/captcha?lang={lang}")).await);
        answers.push(
            app.get(&format!(
                "/api/v1/counts?threads=berita-1,a%20b&lang={lang}"
            ))
            .await,
        );
        let posted = app
            .client
            .post(app.url(&format!("/api/v1/threads/a%20b/comments?lang={lang}")))
            .json(&payload)
            .send()
            .await
            .unwrap();
        answers.push((posted.status(), posted.json().await.unwrap()));
        answers.push(
            app.mod_post(
                AYU,
                &format!("/api/v1/mod/threads/a%20b/close?lang={lang}"),
                &json!({}),
            )
            .await,
        );
        answers.push(
            app.mod_post(
                AYU,
                &format!("/api/v1/mod/threads/a%20b/premoderation?lang={lang}"),
                &json!({ "on": true }),
            )
            .await,
        );
    }
    let (id, en) = answers.split_at(answers.len() / 2);
    for ((status, v), lang) in id
        .iter()
        .map(|a| (a, "id"))
        .chain(en.iter().map(|a| (a, "en")))
    {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{lang}: {v}");
        assert_eq!(v["error"]["code"], "invalid_thread", "{v}");
        assert_eq!(
            v["error"]["fields"].as_object().map(|f| f.len()),
            Some(1),
            "{v}"
        );
        let field = v["error"]["fields"]["thread"].as_str().unwrap_or_default();
        let expected = if lang == "id" {
            "Kunci utas"
        } else {
            "A thread key"
        };
        assert!(field.starts_with(expected), "{lang}: {v}");
    }
    // The same sentence everywhere: one refusal, not five.
    assert!(
        id.windows(2).all(|w| w[0].1["error"] == w[1].1["error"]),
        "{id:?}"
    );
    assert!(
        en.windows(2).all(|w| w[0].1["error"] == w[1].1["error"]),
        "{en:?}"
    );
}
