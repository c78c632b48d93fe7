//! The moderation console at `/admin`: login and its limits, sessions (none without, none after
//! logout or expiry), CSRF on every state change, escaping of reader text on every console page,
//! keyset paging while comments leave the queue, conflicts, undo and bulk.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use saring::config::Settings;
use saring::console::AccountEntry;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) const ANI_PASSWORD: &str = "kata-sandi-ani-rahasia";
const BUDI_PASSWORD: &str = "kata-sandi-budi-rahasia";

/// A cheap argon2id hash (tests only: the shipped `saring moderator add` uses the defaults).
pub(crate) fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(1024, 1, 1, None).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"saring-test-salt").expect("salt");
    argon
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

pub(crate) fn with_accounts(s: &mut Settings) {
    s.console.accounts = vec![
        AccountEntry {
            name: "ani".into(),
            password_hash: cheap_hash(ANI_PASSWORD),
        },
        AccountEntry {
            name: "budi".into(),
            password_hash: cheap_hash(BUDI_PASSWORD),
        },
    ];
}

async fn console_app(change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        with_accounts(s);
        change(s);
    })
    .await
}

/// A browser-like client of one moderator: no redirects followed, the session cookie by hand.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The page's CSRF token (the `csrf` field of its forms).
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_string()
    }

    /// The comment ids of the cards, in page order.
    fn card_ids(&self) -> Vec<String> {
        self.body
            .split("<article class=\"card\"")
            .skip(1)
            .filter_map(|s| {
                let at = s.find("data-id=\"")? + "data-id=\"".len();
                Some(s[at..at + 36].to_string())
            })
            .collect()
    }

    fn next_link(&self) -> Option<String> {
        let at = self.body.find("rel=\"next\" href=\"")? + "rel=\"next\" href=\"".len();
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].replace("&amp;", "&"))
    }
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.base.clone(),
            cookie: None,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", format!("saring_console={c}")),
            None => req,
        };
        let resp = req.send().await.expect("request");
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(self.http.post(format!("{}{path}", self.base)).form(form))
            .await
    }

    async fn post_json_accept(
        &self,
        path: &str,
        form: &[(&str, &str)],
        csrf_header: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("accept", "application/json")
            .form(form);
        if let Some(t) = csrf_header {
            req = req.header("x-csrf-token", t);
        }
        let page = self.send(req).await;
        (
            page.status,
            serde_json::from_str(&page.body).unwrap_or(Value::Null),
        )
    }

    async fn login(&mut self, name: &str, password: &str) -> Page {
        let page = self
            .post(
                "/admin/login?lang=en",
                &[("name", name), ("password", password)],
            )
            .await;
        if let Some(set) = page.headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let value = set
                .strip_prefix("saring_console=")
                .and_then(|r| r.split(';').next())
                .unwrap_or("");
            self.cookie = Some(value.to_string());
        }
        page
    }

    pub(crate) async fn logged_in(app: &TestApp, name: &str, password: &str) -> Browser {
        let mut b = Browser::new(app);
        let page = b.login(name, password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        b
    }

    /// A decision through the card's form, as a browser without JavaScript sends it.
    async fn decide_form(&self, id: &str, action: &str, version: u64, csrf: &str) -> Page {
        let version = version.to_string();
        self.post(
            &format!("/admin/comments/{id}/decision?lang=en"),
            &[
                ("csrf", csrf),
                ("action", action),
                ("expected_version", &version),
                ("return_to", "/admin?lang=en"),
            ],
        )
        .await
    }
}

async fn status_of(app: &TestApp, id: &str) -> (String, Value) {
    let (status, v) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    (v["status"].as_str().unwrap_or_default().to_string(), v)
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_the_right_one_opens_a_strict_session() {
    let app = console_app(|_| {}).await;
    let mut b = Browser::new(&app);
    let wrong = b.login("ani", "bukan-kata-sandinya").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get(SET_COOKIE).is_none());
    assert!(
        wrong.body.contains("Wrong name or password"),
        "{}",
        wrong.body
    );
    let unknown = b.login("citra", ANI_PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    let ok = b.login("ani", ANI_PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.headers[SET_COOKIE].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http without a trusted proxy: {cookie}"
    );
    let page = b.get("/admin?lang=en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<strong>ani</strong>"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    // One script element, loaded from this server; no inline code.
    assert_eq!(page.body.matches("<script").count(), 1);
    assert!(page.body.contains("<script src=\"/admin/console.js\""));
    assert_eq!(b.get("/admin/console.js").await.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_https_proxy_the_cookie_is_secure() {
    let app = console_app(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let b = Browser::new(&app);
    let page = b
        .send(
            b.http
                .post(format!("{}/admin/login", b.base))
                .header("x-forwarded-proto", "https")
                .form(&[("name", "ani"), ("password", ANI_PASSWORD)]),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[tokio::test]
async fn failed_logins_past_the_limit_are_refused_per_address_and_per_name() {
    let app = console_app(|s| s.console.login_attempts = 3).await;
    let mut b = Browser::new(&app);
    for _ in 0..3 {
        assert_eq!(
            b.login("ani", "tebakan-salah").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password from this address waits, and so does another name.
    let refused = b.login("ani", ANI_PASSWORD).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(refused.headers.get("retry-after").is_some());
    assert!(refused.body.contains("Too many login attempts"));
    assert!(refused.headers.get(SET_COOKIE).is_none());
    assert_eq!(
        b.login("budi", BUDI_PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn guessing_one_name_from_many_addresses_is_limited_per_name() {
    let app = console_app(|s| {
        s.console.login_attempts = 3;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let b = Browser::new(&app);
    let login_from = |ip: &str, name: &str, password: &str| {
        b.http
            .post(format!("{}/admin/login?lang=en", b.base))
            .header("x-forwarded-for", ip)
            .form(&[("name", name), ("password", password)])
    };
    for i in 1..=3 {
        let page = b
            .send(login_from(
                &format!("198.51.100.{i}"),
                "ani",
                "tebakan-salah",
            ))
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let fresh_address = b.send(login_from("203.0.113.9", "ani", ANI_PASSWORD)).await;
    assert_eq!(fresh_address.status, StatusCode::TOO_MANY_REQUESTS);
    let other_name = b
        .send(login_from("203.0.113.9", "budi", BUDI_PASSWORD))
        .await;
    assert_eq!(other_name.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn without_a_session_nothing_is_shown_or_changed() {
    let app = console_app(|_| {}).await;
    let id = app.comment_ok("berita-konsol", HELD, "pending").await;
    let version = app.version(&id).await;
    let b = Browser::new(&app);
    for path in [
        "/admin",
        "/admin?queue=spam",
        &format!("/admin/comments/{id}"),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(page.location().starts_with("/admin/login"), "{path}");
        assert!(!page.body.contains(HELD));
    }
    let page = b.decide_form(&id, "approve", version, "anything").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (status, _) = b
        .post_json_accept(
            &format!("/admin/comments/{id}/decision"),
            &[("action", "approve")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&app, &id).await.0, "pending");
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = console_app(|_| {}).await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let page = b.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    // Logout needs the token too, so another site cannot log a moderator out.
    assert_eq!(
        b.post("/admin/logout", &[("csrf", "x")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
    let out = b.post("/admin/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The same cookie, replayed, is dead: the server forgot it.
    let after = b.get("/admin").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().starts_with("/admin/login"));
}

#[tokio::test]
async fn a_session_expires_after_its_absolute_lifetime() {
    let app = console_app(|s| s.console.session_absolute_seconds = 2).await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = b.get("/admin").await;
        if page.status == StatusCode::SEE_OTHER {
            assert!(page.location().starts_with("/admin/login"));
            break;
        }
        assert!(Instant::now() < deadline, "the session never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn no_state_changes_without_the_csrf_token() {
    let app = console_app(|_| {}).await;
    let id = app.comment_ok("berita-csrf", HELD, "pending").await;
    let version = app.version(&id).await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let csrf = b.get("/admin").await.csrf();

    for token in ["", "salah", &csrf[1..]] {
        let page = b.decide_form(&id, "approve", version, token).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    let v = version.to_string();
    let (status, body) = b
        .post_json_accept(
            &format!("/admin/comments/{id}/decision"),
            &[("action", "spam"), ("expected_version", &v)],
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf_invalid"))
    );
    let bulk = b
        .post(
            "/admin/bulk",
            &[("action", "spam"), ("item", &format!("{id}:{version}"))],
        )
        .await;
    assert_eq!(bulk.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.post("/admin/undo", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // A form posted from another site is refused even with a token.
    let foreign = b
        .send(
            b.http
                .post(format!("{}/admin/comments/{id}/decision", b.base))
                .header("origin", "https://penyerang.example")
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("action", "approve"),
                    ("expected_version", &v),
                ]),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&app, &id).await.0, "pending");

    // The header works as well as the field.
    let (status, body) = b
        .post_json_accept(
            &format!("/admin/comments/{id}/decision"),
            &[("action", "approve"), ("expected_version", &v)],
            Some(&csrf),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(&app, &id).await.0, "published");
}

#[tokio::test]
async fn reader_text_is_escaped_on_every_console_page() {
    let app = console_app(|_| {}).await;
    let (token, answer) = app.challenge("berita-xss").await;
    let nasty_body = "Lihat https://blog-warga.example.net/x <script>alert(1)</script> \"><img src=x onerror=alert(2)> \" onmouseover=\"alert(3)";
    let (status, v) = app
        .post_json(
            "berita-xss",
            &json!({
                "author_name": "Budi\"><script>alert(4)</script>",
                "author_email": "budi@contoh.id",
                "author_url": "https://blog-warga.example.net/?a=1&b=2",
                "body": nasty_body,
                "captcha_token": token,
                "captcha_answer": answer.to_string(),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (_, record) = status_of(&app, &id).await;
    let reply = if record["status"] == "published" {
        None
    } else {
        Some(())
    };
    let ani = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let budi = Browser::logged_in(&app, "budi", BUDI_PASSWORD).await;
    let queue = record["status"].as_str().unwrap().to_string();
    let search = format!(
        "/admin?queue={queue}&q=%22%20onmouseover%3D%22alert(6)&thread=%22%3E%3Cscript%3Ealert(5)%3C/script%3E"
    );
    let mut pages = vec![
        ani.get(&format!("/admin?queue={queue}")).await,
        ani.get(&format!("/admin/comments/{id}")).await,
        ani.get(&search).await,
    ];
    // A colleague's page after ani decided first (the conflict card) and a bulk result page.
    let csrf = ani.get("/admin").await.csrf();
    let version = record["version"].as_u64().unwrap();
    let action = if reply.is_some() { "approve" } else { "spam" };
    assert_eq!(
        ani.decide_form(&id, action, version, &csrf).await.status,
        StatusCode::SEE_OTHER
    );
    let budi_csrf = budi.get("/admin").await.csrf();
    let conflict = budi.decide_form(&id, "reject", version, &budi_csrf).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    pages.push(conflict);
    // The login form echoes a refused name.
    let mut stranger = Browser::new(&app);
    let refused = stranger
        .login("\"><script>alert(7)</script>", "salah-salah-salah")
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    pages.push(refused);
    let after = if action == "approve" {
        "published"
    } else {
        "spam"
    };
    pages.push(ani.get(&format!("/admin?queue={after}")).await);
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.status.is_success()
                || [StatusCode::CONFLICT, StatusCode::UNAUTHORIZED].contains(&page.status),
            "page {i}: {}",
            page.status
        );
        assert!(
            page.body.contains("&lt;script&gt;alert("),
            "page {i} shows the text escaped"
        );
        for raw in [
            "<script>alert",
            "<img src=x",
            "\"><img",
            "\" onmouseover=\"",
        ] {
            assert!(
                !page.body.contains(raw),
                "page {i} contains raw {raw:?}:\n{}",
                page.body
            );
        }
    }
    assert!(
        pages[1].body.contains("<mark"),
        "the held link is highlighted"
    );
}

#[tokio::test]
async fn paging_skips_nothing_when_comments_leave_the_queue() {
    let app = console_app(|_| {}).await;
    let mut all = Vec::new();
    for _ in 0..26 {
        all.push(app.comment_ok("berita-halaman", HELD, "pending").await);
    }
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let first = b.get("/admin?queue=pending&lang=en").await;
    let first_ids = first.card_ids();
    assert_eq!(first_ids.len(), 20);
    assert!(first.body.contains("<span class=\"count\">26</span>"));
    // A colleague clears ten of the comments shown while this moderator reads page one.
    for id in &first_ids[..10] {
        let v = app.version(id).await;
        assert_eq!(app.decide(BUDI, id, "approve", v).await.0, StatusCode::OK);
    }
    let next = first.next_link().expect("a next page");
    let second = b.get(&next).await;
    let second_ids = second.card_ids();
    let mut seen: Vec<String> = first_ids.iter().chain(&second_ids).cloned().collect();
    assert_eq!(second_ids.len(), 6, "the six not yet shown, none skipped");
    seen.sort();
    seen.dedup();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(second.next_link().is_none());

    // Newest first gives the same comments in the other order.
    let newest = b.get("/admin?queue=pending&order=newest").await.card_ids();
    assert_eq!(newest.first(), all.last());
}

#[tokio::test]
async fn a_colleagues_earlier_decision_is_shown_not_overwritten() {
    let app = console_app(|_| {}).await;
    let id = app.comment_ok("berita-bentrok", HELD, "pending").await;
    let version = app.version(&id).await;
    let ani = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let budi = Browser::logged_in(&app, "budi", BUDI_PASSWORD).await;
    let (ani_csrf, budi_csrf) = (
        ani.get("/admin").await.csrf(),
        budi.get("/admin").await.csrf(),
    );
    assert_eq!(
        ani.decide_form(&id, "approve", version, &ani_csrf)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let v = version.to_string();
    let (status, body) = budi
        .post_json_accept(
            &format!("/admin/comments/{id}/decision?lang=en"),
            &[("action", "spam"), ("expected_version", &v)],
            Some(&budi_csrf),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["by"], "ani");
    assert_eq!(body["status"], "published");
    assert!(body["card"].as_str().unwrap().contains("decided first"));
    let (now, record) = status_of(&app, &id).await;
    assert_eq!(now, "published");
    // The decision carries the console moderator's name.
    let actors: Vec<&str> = record["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["actor"].as_str())
        .collect();
    assert!(actors.contains(&"moderator:ani"), "{actors:?}");
}

#[tokio::test]
async fn undo_takes_back_ones_own_last_decision() {
    let app = console_app(|_| {}).await;
    let id = app.comment_ok("berita-urung", HAM, "published").await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let csrf = b.get("/admin?queue=published").await.csrf();
    let version = app.version(&id).await;
    assert_eq!(
        b.decide_form(&id, "spam", version, &csrf).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(status_of(&app, &id).await.0, "spam");
    let page = b.get("/admin").await;
    assert!(
        page.body.contains("id=\"undo\""),
        "the undo button is offered"
    );
    let (status, body) = b
        .post_json_accept("/admin/undo?lang=en", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["undone"], true);
    assert_eq!(status_of(&app, &id).await.0, "published");
    // Only once: there is nothing left to undo.
    let (status, body) = b
        .post_json_accept("/admin/undo", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("nothing_to_undo"))
    );

    // Deleting is undone by restoring.
    let v = app.version(&id).await;
    assert_eq!(
        b.decide_form(&id, "delete", v, &csrf).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post("/admin/undo", &[("csrf", &csrf)]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(status_of(&app, &id).await.0, "published");
}

#[tokio::test]
async fn bulk_decides_each_comment_with_its_own_result() {
    let app = console_app(|_| {}).await;
    let a = app.comment_ok("berita-massal", HELD, "pending").await;
    let b_id = app.comment_ok("berita-massal", HELD, "pending").await;
    let stale = app.comment_ok("berita-massal", HELD, "pending").await;
    let stale_v = app.version(&stale).await;
    assert_eq!(
        app.decide(BUDI, &stale, "approve", stale_v).await.0,
        StatusCode::OK
    );
    let browser = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let csrf = browser.get("/admin").await.csrf();
    let items = [
        (a.as_str(), app.version(&a).await),
        (b_id.as_str(), app.version(&b_id).await),
        (stale.as_str(), stale_v),
        ("00000000-0000-0000-0000-000000000000", 1),
    ];
    let (status, body) = {
        let page = browser
            .send(
                browser
                    .http
                    .post(format!("{}/admin/bulk", browser.base))
                    .header("accept", "application/json")
                    .json(&json!({
                        "action": "spam",
                        "csrf": csrf,
                        "items": items.iter().map(|(id, v)| json!({"id": id, "expected_version": v})).collect::<Vec<_>>(),
                    })),
            )
            .await;
        (
            page.status,
            serde_json::from_str::<Value>(&page.body).unwrap(),
        )
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    let results: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["done", "done", "stale", "not_found"]);
    assert_eq!(body["results"][2]["by"], "budi");
    assert_eq!(status_of(&app, &a).await.0, "spam");
    assert_eq!(status_of(&app, &stale).await.0, "published");

    // Without JavaScript the bulk form posts `item=ID:VERSION` fields and gets a result page.
    let d_id = app.comment_ok("berita-massal", HELD, "pending").await;
    let item = format!("{d_id}:{}", app.version(&d_id).await);
    let page = browser
        .post(
            "/admin/bulk?lang=en",
            &[
                ("csrf", csrf.as_str()),
                ("action", "approve"),
                ("item", item.as_str()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("<code>{d_id}</code> — done")),
        "{}",
        page.body
    );
    assert_eq!(status_of(&app, &d_id).await.0, "published");

    // A script with a bearer token needs no session and no CSRF token.
    let c_id = app.comment_ok("berita-massal", HELD, "pending").await;
    let v = app.version(&c_id).await;
    let (status, body) = app
        .mod_post(
            AYU,
            "/admin/bulk",
            &json!({"action": "reject", "items": [{"id": c_id, "expected_version": v}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["result"], "done");
    assert_eq!(status_of(&app, &c_id).await.0, "rejected");
    let (status, _) = app
        .mod_post(
            "a-wrong-token-of-enough-length",
            "/admin/bulk",
            &json!({"action": "reject", "items": [{"id": c_id, "expected_version": v}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Over 500 ids is refused as a whole.
    let many: Vec<Value> = (0..501)
        .map(|_| json!({"id": a, "expected_version": 1}))
        .collect();
    let page = browser
        .send(
            browser
                .http
                .post(format!("{}/admin/bulk", browser.base))
                .header("accept", "application/json")
                .json(&json!({"action": "spam", "csrf": csrf, "items": many})),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
}

#[tokio::test]
async fn filters_find_by_author_address_domain_and_text_and_pages_speak_both_languages() {
    let app =
        console_app(|s| s.console.article_url = Some("https://berita.contoh.id/{thread}".into()))
            .await;
    let held = app.comment_ok("berita-saring", HELD, "pending").await;
    let (status, other) = app
        .comment(
            "berita-lain",
            "Citra",
            "citra@contoh.id",
            "Baca juga https://situs-lain.example.org/a ya",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let ids = |p: Page| p.card_ids();
    assert_eq!(
        ids(b.get("/admin?email=CITRA@contoh.id").await),
        [other["id"].as_str().unwrap()]
    );
    assert_eq!(ids(b.get("/admin?q=blog-warga").await), [held.as_str()]);
    assert_eq!(
        ids(b.get("/admin?thread=berita-saring").await),
        [held.as_str()]
    );
    assert_eq!(ids(b.get("/admin?address=127.0.0.1").await).len(), 2);
    assert_eq!(ids(b.get("/admin?address=192.0.2.1").await).len(), 0);
    let id_page = b.get("/admin?lang=id").await;
    assert!(id_page.body.contains("Menunggu") && id_page.body.contains("lang=\"id\""));
    let en_page = b
        .send(
            b.http
                .get(format!("{}/admin", b.base))
                .header("accept-language", "en-GB,en;q=0.9"),
        )
        .await;
    assert!(en_page.body.contains("Pending") && en_page.body.contains("lang=\"en\""));
    assert!(
        en_page
            .body
            .contains("href=\"https://berita.contoh.id/berita-saring\"")
    );
    let bad = b.get("/admin?queue=semua&lang=en").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("Use pending, reported"));
}

#[test]
fn moderator_add_prints_an_account_that_logs_in() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["moderator", "add", "ani"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the saring binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{ANI_PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    #[derive(serde::Deserialize)]
    struct File {
        console: saring::console::ConsoleConfig,
    }
    let file: File = toml::from_str(&text).expect("lines that load as saring.toml");
    let account = &file.console.accounts[0];
    assert_eq!(account.name, "ani");
    use argon2::PasswordVerifier;
    let hash = argon2::PasswordHash::new(&account.password_hash).unwrap();
    assert!(
        argon2::Argon2::default()
            .verify_password(ANI_PASSWORD.as_bytes(), &hash)
            .is_ok()
    );

    let short = std::process::Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["moderator", "add", "ani"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!short.status.success());
}

#[tokio::test]
async fn a_card_shows_the_parent_of_a_reply_and_the_readers_reports() {
    let app = console_app(|s| s.threads.flag_threshold = 1).await;
    let parent = app.comment_ok("berita-balas", HAM, "published").await;
    let (status, reply) = app
        .comment(
            "berita-balas",
            "Dewi",
            "dewi@contoh.id",
            HELD,
            Some(&parent),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let reply = reply["id"].as_str().unwrap().to_string();
    let flagged = app
        .client
        .post(app.url(&format!("/api/v1/comments/{parent}/flag")))
        .json(&json!({ "reason": "kasar <b>sekali</b>" }))
        .send()
        .await
        .unwrap();
    assert_eq!(flagged.status(), StatusCode::ACCEPTED);

    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let card = b.get(&format!("/admin/comments/{reply}?lang=en")).await;
    assert_eq!(card.status, StatusCode::OK);
    assert!(
        card.body.contains("Replying to <strong>Pembaca</strong>"),
        "{}",
        card.body
    );
    assert!(card.body.contains("Terima kasih atas beritanya."));
    let reported = b.get("/admin?queue=reported&lang=en").await;
    assert_eq!(reported.card_ids(), [parent.as_str()]);
    assert!(
        reported.body.contains("1 reader reports"),
        "{}",
        reported.body
    );
    assert!(reported.body.contains("kasar &lt;b&gt;sekali&lt;/b&gt;"));
    // A reported visible comment can be kept (approved), which clears it from the queue.
    assert!(reported.body.contains("data-action=\"approve\""));
}

/// Measures the console's queue query over 100,000 comments (half pending, half published).
/// `cargo test --test api measure_console_queries -- --ignored --nocapture`; figures in
/// docs/console.md. Not a pass/fail check: speed depends on the machine.
#[test]
#[ignore]
fn measure_console_queries() {
    use saring::domain::CommentStatus;
    use saring::projections::Projections;
    use saring::projections::search::{ConsoleQueue, QueueFilter, SortOrder};
    let mut p = Projections::default();
    for n in 0..100_000u64 {
        let pending = n % 2 == 0;
        let status = if pending {
            CommentStatus::Pending
        } else {
            CommentStatus::Published
        };
        let r = generated_record(
            n,
            1000,
            format!("<p>Komentar nomor {n} tentang jalan desa dan jembatan.</p>"),
            status,
        );
        if pending {
            p.queues.pending.insert(r.seq, r.id);
        } else {
            let t = p.threads.entry(r.thread.clone()).or_default();
            t.visible.insert(r.seq, r.id);
        }
        p.comments.insert(r.id, r);
    }
    let time = |label: &str, f: &dyn Fn() -> usize| {
        let runs = 20;
        let t = Instant::now();
        let mut n = 0;
        for _ in 0..runs {
            n = f();
        }
        println!(
            "{label}: {:.2} ms per query ({n} items)",
            t.elapsed().as_secs_f64() * 1000.0 / runs as f64
        );
    };
    let all = QueueFilter::default();
    time("pending page, 50,000 pending, oldest first", &|| {
        p.queue_search(ConsoleQueue::Pending, &all, SortOrder::Oldest, None, 20)
            .items
            .len()
    });
    let text = QueueFilter {
        text: Some("nomor 4242".into()),
        ..QueueFilter::default()
    };
    time("published search by text, 50,000 published", &|| {
        p.queue_search(ConsoleQueue::Published, &text, SortOrder::Newest, None, 20)
            .matching
    });
    time("counts and oldest of all five queues", &|| {
        ConsoleQueue::ALL
            .iter()
            .map(|q| p.queue_stats(*q).count)
            .sum()
    });
    time("one author's record (a card)", &|| {
        p.author_record("pembaca42@contoh.id").pending as usize
    });
}

#[tokio::test]
async fn a_ban_is_placed_listed_searched_and_lifted_in_the_console() {
    let app = console_app(|_| {}).await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let page = b
        .get("/admin/bans?kind=email&value=%3Cb%3Ex%40contoh.id&lang=en")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        !page.body.contains("<b>x@"),
        "the prefilled value is escaped"
    );
    let csrf = page.csrf();
    let form = [
        ("kind", "email_domain"),
        ("value", "judi.example"),
        ("reason", "promosi <judi>"),
        ("expires_in_hours", "168"),
    ];
    // No state change without the token.
    assert_eq!(
        b.post("/admin/bans", &form).await.status,
        StatusCode::FORBIDDEN
    );
    let mut with_token = form.to_vec();
    with_token.push(("csrf", &csrf));
    let placed = b.post("/admin/bans?lang=en", &with_token).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let (status, v) = app
        .comment("berita-konsol-ban", "Ani", "a@judi.example", HAM, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let list = b.get("/admin/bans?q=judi&lang=en").await;
    assert!(list.body.contains("judi.example"), "{}", list.body);
    assert!(
        list.body.contains("promosi &lt;judi&gt;"),
        "the reason is escaped"
    );
    let none = b.get("/admin/bans?q=tidak-ada&lang=en").await;
    assert!(none.body.contains("0 bans"), "{}", none.body);
    let (_, api) = app.mod_get(AYU, "/api/v1/mod/bans").await;
    let id = api["bans"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(api["bans"][0]["by"], "ani");
    let lifted = b
        .post(
            &format!("/admin/bans/{id}/lift?lang=en"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(lifted.status, StatusCode::SEE_OTHER, "{}", lifted.body);
    let (status, v) = app
        .comment("berita-konsol-ban", "Ani", "a@judi.example", HAM, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn undo_of_a_decision_on_a_pending_comment_puts_it_back_in_the_queue() {
    let app = console_app(|_| {}).await;
    let id = app.comment_ok("berita-kembali", HELD, "pending").await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let csrf = b.get("/admin").await.csrf();
    let version = app.version(&id).await;
    assert_eq!(
        b.decide_form(&id, "approve", version, &csrf).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(status_of(&app, &id).await.0, "published");
    let (status, body) = b
        .post_json_accept("/admin/undo?lang=en", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["undone"], true, "{body}");
    let (status, v) = status_of(&app, &id).await;
    assert_eq!(status, "pending");
    assert_eq!(
        v["history"].as_array().unwrap().last().unwrap()["event"],
        "CommentRequeued"
    );
    assert!(
        app.thread_ids("berita-kembali").await.is_empty(),
        "hidden again"
    );
    let page = b.get("/admin").await;
    assert!(page.card_ids().contains(&id), "back in the pending queue");
}

#[tokio::test]
async fn a_card_clears_everything_pending_from_its_author_and_holds_its_thread() {
    let app = console_app(|_| {}).await;
    let mut mine = Vec::new();
    for i in 0..3 {
        let body = format!("{HELD} ({i})");
        let (status, v) = app
            .comment(
                "berita-kartu",
                "Penyebar",
                "penyebar@contoh.id",
                &body,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        mine.push(v["id"].as_str().unwrap().to_string());
    }
    let other = app.comment_ok("berita-kartu", HELD, "pending").await;
    let b = Browser::logged_in(&app, "ani", ANI_PASSWORD).await;
    let page = b.get("/admin?lang=en").await;
    assert!(
        page.body.contains("All pending from this author"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let done = b
        .post(
            "/admin/bulk?lang=en",
            &[
                ("csrf", csrf.as_str()),
                ("action", "spam"),
                ("select_email", "penyebar@contoh.id"),
                ("return_to", "/admin?lang=en"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    for id in &mine {
        assert_eq!(status_of(&app, id).await.0, "spam");
    }
    assert_eq!(status_of(&app, &other).await.0, "pending");

    // Hold every new comment of the thread from the card, then stop.
    let held = b
        .post(
            "/admin/premoderation?lang=en",
            &[
                ("csrf", csrf.as_str()),
                ("thread", "berita-kartu"),
                ("on", "1"),
            ],
        )
        .await;
    assert_eq!(held.status, StatusCode::SEE_OTHER, "{}", held.body);
    app.comment_ok("berita-kartu", HAM, "pending").await;
    assert!(
        b.get("/admin?lang=en")
            .await
            .body
            .contains("Stop holding this thread")
    );
    let page = b.get("/admin/audit?lang=en&moderator=ani").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("ThreadPremoderationSet"),
        "{}",
        page.body
    );
    assert!(page.body.contains("pending → spam"), "{}", page.body);
    let bad = b.get("/admin/audit?since=kemarin&lang=en").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
