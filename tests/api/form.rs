//! The no-JavaScript path: the server-rendered page and the WordPress-style form post.

use reqwest::StatusCode;
use reqwest::header;
use reqwest::redirect::Policy;

use crate::helpers::*;

/// Posts the plain form as a browser without JavaScript would, without following the redirect.
async fn post_form(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    client
        .post(app.url("/comments"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Reads the captcha token and question from the rendered page, as a browser user would.
fn captcha_from_page(page: &str) -> (String, i64) {
    let token = page
        .split("name=\"captcha_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a captcha token in the page")
        .to_string();
    // The page shows the sum around the answer box: "<part>[box]<part>".
    let parts: Vec<String> = page
        .split("class=\"saring-qpart\" aria-hidden=\"true\">")
        .skip(1)
        .take(2)
        .map(|rest| rest.split('<').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(parts.len(), 2, "a question in the page");
    let question = format!("{}[ ]{}", parts[0], parts[1]);
    let question = html_escape::decode_html_entities(&question).to_string();
    (token, solve(&question))
}

async fn embed_page(app: &TestApp, thread: &str) -> String {
    let resp = app
        .client
        .get(app.url(&format!("/threads/{thread}/embed?lang=id")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

#[tokio::test]
async fn a_plain_form_post_comes_back_to_the_article_at_the_new_comment() {
    let app = spawn_app().await;
    let page = embed_page(&app, "berita-form").await;
    assert!(
        page.contains("Tinggalkan Balasan")
            && page.contains("Alamat email Anda tidak akan dipublikasikan")
    );
    let (token, answer) = captcha_from_page(&page);
    let article = format!("{SITE}/2026/11/berita-form");
    let resp = post_form(
        &app,
        &[
            ("author", "Sari"),
            ("email", "sari@contoh.id"),
            ("url", ""),
            ("comment", HAM),
            ("comment_post_ID", "berita-form"),
            ("comment_parent", "0"),
            ("captcha_token", &token),
            ("captcha_answer", &answer.to_string()),
            ("redirect_to", &article),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let ids = app.thread_ids("berita-form").await;
    assert_eq!(location, format!("{article}#comment-{}", ids[0]));
}

#[tokio::test]
async fn a_foreign_redirect_target_falls_back_to_the_embed_page() {
    let app = spawn_app().await;
    let (token, answer) = captcha_from_page(&embed_page(&app, "berita-form2").await);
    let resp = post_form(
        &app,
        &[
            ("author", "Sari"),
            ("email", "sari@contoh.id"),
            ("comment", HELD),
            ("comment_post_ID", "berita-form2"),
            ("captcha_token", &token),
            ("captcha_answer", &answer.to_string()),
            ("redirect_to", "https://jahat.example/phish"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        location.starts_with("/threads/berita-form2/embed?lang=id&posted=pending#comment-"),
        "{location}"
    );
    let page = app.text(location.split('#').next().unwrap()).await;
    assert!(
        page.contains("menunggu moderasi"),
        "the held comment's author is told"
    );
}

#[tokio::test]
async fn form_errors_render_the_page_with_the_text_kept_and_a_new_question() {
    let app = spawn_app().await;
    let (token, answer) = captcha_from_page(&embed_page(&app, "berita-form3").await);
    let hostile = "Teks saya <script>alert(1)</script>";
    let resp = post_form(
        &app,
        &[
            ("author", "Sari"),
            ("email", "bukan-email"),
            ("comment", hostile),
            ("comment_post_ID", "berita-form3"),
            ("captcha_token", &token),
            ("captcha_answer", &answer.to_string()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Alamat email tidak valid"),
        "the field's message is shown"
    );
    assert!(
        page.contains("Teks saya &lt;script&gt;alert(1)&lt;/script&gt;"),
        "the text is kept, escaped"
    );
    assert!(!page.contains("<script>alert(1)"));

    // A wrong answer shows the captcha message and a fresh question that works.
    let resp = post_form(
        &app,
        &[
            ("author", "Sari"),
            ("email", "sari@contoh.id"),
            ("comment", HAM),
            ("comment_post_ID", "berita-form3"),
            ("captcha_token", &token),
            ("captcha_answer", "999999"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Jawaban hitungan salah"));
    let (fresh, answer) = captcha_from_page(&page);
    assert_ne!(fresh, token);
    let resp = post_form(
        &app,
        &[
            ("author", "Sari"),
            ("email", "sari@contoh.id"),
            ("comment", HAM),
            ("comment_post_ID", "berita-form3"),
            ("captcha_token", &fresh),
            ("captcha_answer", &answer.to_string()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_widget_and_the_demo_are_served() {
    let app = spawn_app().await;
    let js = app.client.get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    let demo = app.text("/demo").await;
    assert!(demo.contains("data-thread=\"demo-artikel\"") && demo.contains("/widget.js"));
}

#[tokio::test]
async fn the_reply_link_of_the_plain_page_fills_the_parent_field() {
    let app = spawn_app().await;
    let id = app.comment_ok("berita-balas-form", HAM, "published").await;
    let page = app
        .text(&format!(
            "/threads/berita-balas-form/embed?lang=id&replytocom={id}"
        ))
        .await;
    assert!(
        page.contains(&format!("name=\"comment_parent\" value=\"{id}\"")),
        "the reply goes under its parent"
    );
    assert!(page.contains("Balas ke "), "the form says whom it answers");
}
