//! Readers' data rights: `privacy export` and `privacy erase` through the moderator API and the
//! command line. After an erasure no API answer, console page, export or new backup holds the
//! reader's name, email or address, the other reader is untouched, and a restart (projections
//! rebuilt from the log) changes nothing.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use saring::console::AccountEntry;
use serde_json::{Value, json};

use crate::console::cheap_hash;
use crate::helpers::*;
use crate::migrate::{ok, ok_with, p, sample_wxr, saring};

const THREAD: &str = "berita-privasi";
const SARI_NAME: &str = "Sariwati Kusumawardani";
const SARI_EMAIL: &str = "sariwati.k@contoh.id";
const SARI_IP: &str = "198.51.100.23";
const SARI_URL: &str = "https://sariwati-blog.example";
const SARI_WORD: &str = "Cibinongraya";
const SARI_AGENT: &str = "Mozilla/5.0 (X11; Linux) Firefox/Sariwati-120";
const BUDI_NAME: &str = "Budiman Santoso";
const BUDI_EMAIL: &str = "budiman.s@contoh.id";
const BUDI_IP: &str = "203.0.113.77";
const PASSWORD: &str = "kata-sandi-ayu-yang-panjang";

/// What must never appear again once Sari is erased.
const SARI: [&str; 5] = [SARI_NAME, SARI_EMAIL, SARI_IP, SARI_URL, SARI_WORD];

async fn privacy_app(dir: Option<tempfile::TempDir>) -> TestApp {
    let change = |s: &mut saring::config::Settings| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
        s.console.accounts = vec![AccountEntry {
            name: "ayu".into(),
            password_hash: cheap_hash(PASSWORD),
        }];
    };
    match dir {
        Some(dir) => spawn_app_in(dir, change).await,
        None => spawn_app_with(change).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn post_from(
    app: &TestApp,
    ip: &str,
    name: &str,
    email: &str,
    url: &str,
    body: &str,
    parent: Option<&str>,
) -> Value {
    let (token, answer) = app.challenge(THREAD).await;
    let mut payload = json!({
        "author_name": name, "author_email": email, "author_url": url, "body": body,
        "captcha_token": token, "captcha_answer": answer.to_string(),
    });
    if let Some(parent) = parent {
        payload["parent_id"] = json!(parent);
    }
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/threads/{THREAD}/comments?lang=en")))
        .header("x-forwarded-for", ip)
        .header("user-agent", SARI_AGENT)
        .json(&payload)
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

/// Logs in to the console as ayu and returns the session cookie.
async fn console_cookie(app: &TestApp) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = http
        .post(app.url("/admin/login?lang=en"))
        .form(&[("name", "ayu"), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    let set = resp
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    set.strip_prefix("saring_console=")
        .and_then(|r| r.split(';').next())
        .expect("cookie value")
        .to_string()
}

async fn console_page(app: &TestApp, cookie: &str, path: &str) -> String {
    let resp = app
        .client
        .get(app.url(path))
        .header("cookie", format!("saring_console={cookie}"))
        .send()
        .await
        .expect("console page");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.text().await.expect("body")
}

fn assert_no_sari(what: &str, text: &str) {
    for secret in SARI {
        assert!(
            !text.contains(secret),
            "{what} still holds {secret:?}: {text}"
        );
    }
}

fn contains_bytes(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every file under `dir` (a data folder or a backup), for `saring backup`'s promise.
fn assert_no_sari_in_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            assert_no_sari_in_files(&path);
            continue;
        }
        let bytes = std::fs::read(&path).expect("file");
        for secret in SARI {
            assert!(
                !contains_bytes(&bytes, secret),
                "{} holds {secret:?}",
                path.display()
            );
        }
    }
}

/// Asks, as moderator Ayu, for Sari's erasure through the API; the status and answer.
async fn erase_sari(app: &TestApp) -> (StatusCode, Value) {
    app.mod_post(
        AYU,
        "/api/v1/mod/privacy/erase",
        &json!({"email": SARI_EMAIL}),
    )
    .await
}

/// Everything an API client and a moderator can see about the thread and the two readers.
async fn everything_visible(app: &TestApp, ids: &[&str], cookie: &str) -> String {
    let mut all = String::new();
    let (_, thread) = app.get(&format!("/api/v1/threads/{THREAD}/comments")).await;
    all.push_str(&thread.to_string());
    for queue in ["pending", "spam", "reported", "rejected"] {
        let (code, v) = app
            .mod_get(AYU, &format!("/api/v1/mod/queue?status={queue}"))
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        all.push_str(&v.to_string());
    }
    for id in ids {
        let (code, v) = app
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        all.push_str(&v.to_string());
        all.push_str(&console_page(app, cookie, &format!("/admin/comments/{id}?lang=en")).await);
    }
    let (_, audit) = app.mod_get(AYU, "/api/v1/mod/audit").await;
    all.push_str(&audit.to_string());
    for page in [
        "/admin?lang=en",
        "/admin/audit?lang=en",
        "/admin?queue=published&lang=en",
    ] {
        all.push_str(&console_page(app, cookie, page).await);
    }
    let embed = app.text(&format!("/threads/{THREAD}/embed?lang=en")).await;
    all.push_str(&embed);
    all
}

/// Budi, the other reader, replies to `parent`; the reply's id.
async fn budi_replies(app: &TestApp, parent: &str) -> String {
    let reply = post_from(
        app,
        BUDI_IP,
        BUDI_NAME,
        BUDI_EMAIL,
        "",
        "Setuju, Bu. Semoga cepat diperbaiki sebelum musim hujan.",
        Some(parent),
    )
    .await;
    reply["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_erased_reader_is_gone_from_every_answer_export_and_new_backup_and_stays_gone() {
    let app = privacy_app(None).await;
    let body = format!(
        "Terima kasih atas beritanya, salam dari {SARI_WORD}. Semoga jalan desa cepat diperbaiki."
    );
    let first = post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, &body, None).await;
    let first_id = first["id"].as_str().expect("id").to_string();
    assert_eq!(first["status"], "published", "{first}");
    let held = post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, HELD, None).await;
    let held_id = held["id"].as_str().expect("id").to_string();
    let reply_id = budi_replies(&app, &first_id).await;

    // The export holds everything about Sari, and nothing about Budi.
    let (code, export) = app
        .mod_get(
            AYU,
            &format!(
                "/api/v1/mod/privacy/export?email={}",
                SARI_EMAIL.to_uppercase()
            ),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{export}");
    let comments = export["comments"].as_array().expect("comments");
    assert_eq!(comments.len(), 2, "{export}");
    let text = export.to_string();
    for fact in [
        SARI_NAME,
        SARI_EMAIL,
        SARI_IP,
        SARI_WORD,
        "published",
        "pending",
    ] {
        assert!(text.contains(fact), "the export lacks {fact}: {export}");
    }
    assert!(!text.contains(BUDI_NAME), "{export}");
    let (code, v) = app
        .mod_get(AYU, "/api/v1/mod/privacy/export?email=bukan-email")
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["fields"]["email"].is_string(), "{v}");

    let cookie = console_cookie(&app).await;
    let before = everything_visible(&app, &[&first_id, &held_id, &reply_id], &cookie).await;
    assert!(before.contains(SARI_NAME) && before.contains(SARI_EMAIL));

    // While the service runs, the command line refuses and says what to do instead.
    let out = saring(&[
        "privacy",
        "erase",
        SARI_EMAIL,
        "--data-dir",
        p(app.dir.path()),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stop it first") && err.contains("/api/v1/mod/privacy/erase"),
        "{err}"
    );

    let (code, erased) = erase_sari(&app).await;
    assert_eq!(code, StatusCode::OK, "{erased}");
    assert_eq!(erased, json!({"comments": 2, "key_deleted": true}));

    let after = everything_visible(&app, &[&first_id, &held_id, &reply_id], &cookie).await;
    assert_no_sari("the answers after erasure", &after);
    for fact in [BUDI_NAME, BUDI_EMAIL, BUDI_IP] {
        assert!(after.contains(fact), "Budi's {fact} is gone too");
    }
    assert!(
        after.contains("Deleted at the author&#39;s request")
            || after.contains("Deleted at the author's request")
    );
    let (_, thread) = app.get(&format!("/api/v1/threads/{THREAD}/comments")).await;
    let shown = &thread["comments"][0];
    assert_eq!(shown["id"], first_id.as_str(), "{thread}");
    assert_eq!(shown["erased"], true, "{thread}");
    assert_eq!(
        shown["replies"][0]["author_name"], BUDI_NAME,
        "the reply keeps its place"
    );
    let (_, audit) = app.mod_get(AYU, "/api/v1/mod/audit").await;
    let events: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or(""),
                e["by"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(events.contains(&("ReaderErased", "ayu")), "{audit}");
    assert!(events.contains(&("ReaderDataExported", "ayu")), "{audit}");
    let (_, export) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={SARI_EMAIL}"),
        )
        .await;
    assert_eq!(export["comments"], json!([]), "{export}");

    // Stopped: the exports, a new backup and the data folder itself hold nothing of Sari.
    let data = app.stop().await;
    let work = tempfile::tempdir().unwrap();
    let events = ok(&["export", "events", "--data-dir", p(data.path())]);
    assert_no_sari("export events", &events);
    assert!(
        events.contains(BUDI_NAME),
        "the other reader is exported whole"
    );
    let wxr = ok(&["export", "wxr", "--data-dir", p(data.path())]);
    assert_no_sari("export wxr", &wxr);
    assert!(wxr.contains(BUDI_NAME));
    let cli_export = ok(&[
        "privacy",
        "export",
        SARI_EMAIL,
        "--data-dir",
        p(data.path()),
    ]);
    assert_no_sari("privacy export", &cli_export.replace(SARI_EMAIL, ""));
    let budi_export = ok(&[
        "privacy",
        "export",
        BUDI_EMAIL,
        "--data-dir",
        p(data.path()),
    ]);
    assert!(
        budi_export.contains(BUDI_NAME) && budi_export.contains(BUDI_IP),
        "{budi_export}"
    );
    let backup = work.path().join("backup");
    ok(&["backup", p(&backup), "--data-dir", p(data.path())]);
    assert_no_sari_in_files(&backup);
    assert_no_sari_in_files(data.path());
    let restored = tempfile::tempdir().unwrap();
    ok(&["restore", p(&backup), "--data-dir", p(restored.path())]);

    // Restarted, and again with projections rebuilt from the log: still gone, Budi intact.
    let app = privacy_app(Some(data)).await;
    let cookie = console_cookie(&app).await;
    let again = everything_visible(&app, &[&first_id, &held_id, &reply_id], &cookie).await;
    assert_no_sari("the answers after a restart", &again);
    assert!(again.contains(BUDI_NAME) && again.contains(BUDI_EMAIL));
    let data = app.stop().await;
    std::fs::remove_file(data.path().join("projections.sqlite3")).expect("projections file");
    let app = privacy_app(Some(data)).await;
    let cookie = console_cookie(&app).await;
    let rebuilt = everything_visible(&app, &[&first_id, &held_id, &reply_id], &cookie).await;
    assert_no_sari("the answers after a rebuild", &rebuilt);
    assert!(rebuilt.contains(BUDI_NAME) && rebuilt.contains(BUDI_EMAIL));
    let (_, thread) = app.get(&format!("/api/v1/threads/{THREAD}/comments")).await;
    assert_eq!(thread["comments"][0]["erased"], true, "{thread}");

    // A restored backup opens Budi's comment and not Sari's.
    let app = privacy_app(Some(restored)).await;
    let (_, thread) = app.get(&format!("/api/v1/threads/{THREAD}/comments")).await;
    assert_no_sari("the restored backup", &thread.to_string());
    assert_eq!(
        thread["comments"][0]["replies"][0]["author_name"], BUDI_NAME,
        "{thread}"
    );
}

#[tokio::test]
async fn erasure_on_the_command_line_works_on_a_stopped_service_and_is_idempotent() {
    let app = privacy_app(None).await;
    let v = post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, HAM, None).await;
    let id = v["id"].as_str().unwrap().to_string();
    let data = app.stop().await;
    let out = ok(&[
        "privacy",
        "erase",
        SARI_EMAIL,
        "--by",
        "ops",
        "--data-dir",
        p(data.path()),
    ]);
    assert!(out.contains("erased: 1 comment"), "{out}");
    let out = ok(&["privacy", "erase", SARI_EMAIL, "--data-dir", p(data.path())]);
    assert!(out.contains("erased: 0 comment"), "{out}");
    let app = privacy_app(Some(data)).await;
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
        .await;
    assert_no_sari("the comment after a CLI erasure", &detail.to_string());
    let (_, audit) = app.mod_get(AYU, "/api/v1/mod/audit").await;
    assert!(audit.to_string().contains("\"by\":\"ops\""), "{audit}");
}

/// A crash between a new author's key being taken (made ahead, synced, unowned) and its owner
/// row being written leaves a key that the log names and no owner row does: simulated on the
/// stopped service's key file by unwriting every owner row (Sari's and Budi's keys alike).
/// Both comments still open, Sari's next comment gets a new key, and erasing Sari makes every
/// one of her fields unreadable (both keys go: the lost one through the ids her sealed
/// submissions name), while Budi, whose key lost its owner row too, is untouched.
#[tokio::test]
async fn a_key_whose_owner_row_a_crash_lost_still_opens_and_goes_with_its_reader() {
    let app = privacy_app(None).await;
    let body = format!("{HAM} Salam dari {SARI_WORD}.");
    let first = post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, &body, None).await;
    let first_id = first["id"].as_str().expect("id").to_string();
    let reply_id = budi_replies(&app, &first_id).await;
    let data = app.stop().await;
    let keys_file = data.path().join("keys.sqlite3");
    let conn = rusqlite::Connection::open(&keys_file).expect("key file");
    let lost = conn
        .execute(
            "UPDATE premade_author_keys SET author = NULL WHERE author IS NOT NULL",
            [],
        )
        .expect("owner rows");
    assert_eq!(lost, 2, "both readers' keys were made ahead and owned");
    drop(conn);

    let app = privacy_app(Some(data)).await;
    let second = post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, HAM, None).await;
    let second_id = second["id"].as_str().expect("id").to_string();
    let ids = [first_id.as_str(), second_id.as_str(), reply_id.as_str()];
    let cookie = console_cookie(&app).await;
    let before = everything_visible(&app, &ids, &cookie).await;
    for fact in [SARI_NAME, SARI_EMAIL, SARI_WORD, BUDI_NAME, BUDI_EMAIL] {
        assert!(before.contains(fact), "{fact} does not open: {before}");
    }
    let (code, export) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={SARI_EMAIL}"),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{export}");
    assert_eq!(
        export["comments"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    assert!(export.to_string().contains(SARI_WORD), "{export}");

    let (code, erased) = erase_sari(&app).await;
    assert_eq!(code, StatusCode::OK, "{erased}");
    assert_eq!(erased, json!({"comments": 2, "key_deleted": true}));
    let after = everything_visible(&app, &ids, &cookie).await;
    assert_no_sari("the answers after erasure", &after);
    for fact in [BUDI_NAME, BUDI_EMAIL, BUDI_IP] {
        assert!(after.contains(fact), "Budi's {fact} is gone too");
    }
    let (_, export) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={SARI_EMAIL}"),
        )
        .await;
    assert_eq!(export["comments"], json!([]), "{export}");

    // Stopped, and restarted with projections rebuilt from the log: nothing of Sari opens.
    let data = app.stop().await;
    let events = ok(&["export", "events", "--data-dir", p(data.path())]);
    assert_no_sari("export events", &events);
    assert!(events.contains(BUDI_NAME), "{events}");
    let budi = ok(&[
        "privacy",
        "export",
        BUDI_EMAIL,
        "--data-dir",
        p(data.path()),
    ]);
    assert!(budi.contains(BUDI_NAME) && budi.contains(BUDI_IP), "{budi}");
    assert_no_sari_in_files(data.path());
    std::fs::remove_file(data.path().join("projections.sqlite3")).expect("projections file");
    let app = privacy_app(Some(data)).await;
    let cookie = console_cookie(&app).await;
    let rebuilt = everything_visible(&app, &ids, &cookie).await;
    assert_no_sari("the answers after a rebuild", &rebuilt);
    assert!(rebuilt.contains(BUDI_NAME) && rebuilt.contains(BUDI_EMAIL));
}

/// Runs `saring privacy retention` on the stopped service's data folder as if it were `now`,
/// with one retention setting, and returns what it printed.
fn run_retention(dir: &Path, now: chrono::DateTime<chrono::Utc>, setting: (&str, &str)) -> String {
    let now = now.to_rfc3339();
    ok_with(
        &["privacy", "retention", "--now", &now, "--data-dir", p(dir)],
        &[setting],
    )
}

/// `[privacy] purge_spam_days`: once a comment has been spam or rejected that long, the
/// retention pass purges its body from every moderator view and the privacy export; a comment
/// dismissed more recently, and a published one, keep theirs.
#[tokio::test]
async fn retention_purges_old_spam_and_rejected_bodies_and_keeps_the_rest() {
    let app = privacy_app(None).await;
    let spam_body = format!("{HAM} Kata rahasia {SARI_WORD}.");
    let rejected_body = format!("{HAM} Kata lain Purwakartaraya.");
    let kept_body = format!("{HAM} Kata terbit Sukabumiraya.");
    let spam = post_from(
        &app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, &spam_body, None,
    )
    .await;
    let spam = spam["id"].as_str().unwrap().to_string();
    let rejected = post_from(
        &app,
        BUDI_IP,
        BUDI_NAME,
        BUDI_EMAIL,
        "",
        &rejected_body,
        None,
    )
    .await;
    let rejected = rejected["id"].as_str().unwrap().to_string();
    let kept = post_from(&app, BUDI_IP, BUDI_NAME, BUDI_EMAIL, "", &kept_body, None).await;
    let kept = kept["id"].as_str().unwrap().to_string();
    let decided_at = chrono::Utc::now();
    for (id, action) in [(&spam, "spam"), (&rejected, "reject")] {
        let v = app.version(id).await;
        let (code, body) = app.decide(AYU, id, action, v).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    let data = app.stop().await;
    let retention = |now| run_retention(data.path(), now, ("SARING_PRIVACY_PURGE_SPAM_DAYS", "30"));
    let out = retention(decided_at + chrono::Duration::days(29));
    assert!(out.contains("purged the bodies of 0 comment"), "{out}");
    let out = retention(decided_at + chrono::Duration::days(31));
    assert!(out.contains("purged the bodies of 2 comment"), "{out}");
    assert!(out.contains("2 body key(s) deleted"), "{out}");
    let out = retention(decided_at + chrono::Duration::days(32));
    assert!(
        out.contains("purged the bodies of 0 comment"),
        "again: {out}"
    );
    // Gone from the log too: no `export events` line and no backup made afterwards holds
    // the purged bodies, while the comments' submissions and decisions stay.
    let events = ok(&["export", "events", "--data-dir", p(data.path())]);
    for gone in [SARI_WORD, "Purwakartaraya"] {
        assert!(!events.contains(gone), "{gone} in export events");
    }
    assert!(events.contains("Sukabumiraya"), "the published body stays");
    assert!(events.contains(SARI_NAME) && events.contains("CommentMarkedSpam"));
    assert!(events.contains("CommentRejected") && events.contains("BodyPurged"));
    // The projections fold the purge when the service runs (a pass on the command line
    // leaves them to the next start): a backup made after that holds the bodies nowhere.
    let app = privacy_app(Some(data)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{spam}"))
        .await
        .1
        .to_string()
        .contains("Body purged")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the purge is not folded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let data = app.stop().await;
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup");
    ok(&["backup", p(&backup), "--data-dir", p(data.path())]);
    for entry in std::fs::read_dir(&backup).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for gone in [SARI_WORD, "Purwakartaraya"] {
            assert!(
                !contains_bytes(&bytes, gone),
                "{} holds {gone}",
                path.display()
            );
        }
    }
    let restored = tempfile::tempdir().unwrap();
    ok(&["restore", p(&backup), "--data-dir", p(restored.path())]);
    let events = ok(&["export", "events", "--data-dir", p(restored.path())]);
    assert!(!events.contains(SARI_WORD) && events.contains("Sukabumiraya"));

    let app = privacy_app(Some(data)).await;
    let mut seen = String::new();
    for queue in ["spam", "rejected"] {
        let (_, v) = app
            .mod_get(AYU, &format!("/api/v1/mod/queue?status={queue}"))
            .await;
        seen.push_str(&v.to_string());
    }
    for id in [&spam, &rejected] {
        let (code, v) = app
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        assert!(v.to_string().contains("Body purged"), "{v}");
        seen.push_str(&v.to_string());
    }
    let (_, export) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={SARI_EMAIL}"),
        )
        .await;
    assert!(export.to_string().contains("BodyPurged"), "{export}");
    seen.push_str(&export.to_string());
    for gone in [SARI_WORD, "Purwakartaraya"] {
        assert!(!seen.contains(gone), "{gone} still shown: {seen}");
    }
    let (_, v) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{kept}"))
        .await;
    assert!(
        v.to_string().contains("Sukabumiraya"),
        "the published one keeps its body: {v}"
    );
    // Publishing a purged comment would show readers an empty comment: refused, and the
    // comment stays where it was.
    for (id, action) in [
        (&spam, "approve"),
        (&spam, "not_spam"),
        (&rejected, "approve"),
    ] {
        let v = app.version(id).await;
        let (code, body) = app.decide(AYU, id, action, v).await;
        assert_eq!(code, StatusCode::CONFLICT, "{action} {body}");
        assert_eq!(body["error"]["code"], "body_purged", "{body}");
    }
    let (_, v) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{spam}"))
        .await;
    assert_eq!(v["status"], "spam", "{v}");
}

/// `[privacy] network_days`: a pass at a given "now" drops the address groups and user agents
/// of comments whose day is that old (imported WordPress comments from 2024 here) from the
/// moderator detail, the console page, bulk actions by address, the privacy export and
/// `export events`, and keeps those of newer comments until their own day is old enough.
#[tokio::test]
async fn retention_drops_old_address_groups_and_user_agents_and_keeps_newer_ones() {
    let app = privacy_app(None).await;
    let new = post_from(
        &app,
        SARI_IP,
        SARI_NAME,
        SARI_EMAIL,
        SARI_URL,
        &format!("{HAM} Dari {SARI_WORD}."),
        None,
    )
    .await;
    let new = new["id"].as_str().unwrap().to_string();
    let data = app.stop().await;
    let wxr = data.path().join("export.xml");
    std::fs::write(&wxr, sample_wxr()).unwrap();
    let out = ok(&["import", "wxr", p(&wxr), "--data-dir", p(data.path())]);
    assert!(out.contains("imported 8 comments"), "{out}");
    // The pending WordPress comment 4, from 203.0.113.4 on 2024-05-05.
    const OLD_EMAIL: &str = "pembaca4@contoh.id";
    const OLD_IP: &str = "203.0.113.4";

    let app = privacy_app(Some(data)).await;
    let (_, export) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={OLD_EMAIL}"),
        )
        .await;
    let old = export["comments"][0]["submission"]["comment_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{export}"))
        .to_string();
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{old}"))
        .await;
    assert_eq!(
        detail["client_ip"],
        format!("{OLD_IP}/32"),
        "before the pass: {detail}"
    );
    let data = app.stop().await;

    let retention =
        |dir: &Path, now| run_retention(dir, now, ("SARING_PRIVACY_NETWORK_DAYS", "30"));
    let now = chrono::Utc::now();
    let out = retention(data.path(), now);
    assert!(
        out.contains("user agents of 8 comment(s)") && !out.contains(" 0 day key(s)"),
        "{out}"
    );
    let out = retention(data.path(), now);
    assert!(
        out.contains("of 0 comment(s)") && out.contains(" 0 day key(s)"),
        "again: {out}"
    );
    let exports = tempfile::tempdir().unwrap();
    let log_text = |dir: &Path, file: &Path| {
        ok(&["export", "events", "--data-dir", p(dir), "--out", p(file)]);
        std::fs::read_to_string(file).unwrap()
    };
    let log = log_text(data.path(), &exports.path().join("1.jsonl"));
    assert!(
        !log.contains("203.0.113."),
        "old addresses still in the log: {log}"
    );
    assert!(
        log.contains(SARI_IP) && log.contains(SARI_AGENT),
        "the new comment keeps its facts"
    );

    let app = privacy_app(Some(data)).await;
    let cookie = console_cookie(&app).await;
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{old}"))
        .await;
    assert_eq!(detail["client_ip"], "", "{detail}");
    assert_eq!(detail["user_agent"], Value::Null, "{detail}");
    assert!(
        detail.to_string().contains("NetworkFactsDropped"),
        "in the history: {detail}"
    );
    assert_eq!(
        detail["author_email"], OLD_EMAIL,
        "the rest stays: {detail}"
    );
    let page = console_page(&app, &cookie, &format!("/admin/comments/{old}?lang=en")).await;
    assert!(!page.contains(OLD_IP), "{page}");
    let (_, export) = app
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={OLD_EMAIL}"),
        )
        .await;
    assert_eq!(
        export["comments"][0]["submission"]["client"]["ip"], "",
        "{export}"
    );
    let (status, bulk) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bulk?lang=en",
            &json!({ "action": "spam", "selector": { "address": OLD_IP } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bulk}");
    assert_eq!(
        bulk["matched"], 0,
        "no comment is found by its dropped address: {bulk}"
    );

    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{new}"))
        .await;
    assert_eq!(detail["client_ip"], format!("{SARI_IP}/32"), "{detail}");
    assert_eq!(detail["user_agent"], SARI_AGENT, "{detail}");
    let page = console_page(&app, &cookie, &format!("/admin/comments/{new}?lang=en")).await;
    assert!(page.contains(SARI_IP), "{page}");
    let data = app.stop().await;
    for entry in std::fs::read_dir(data.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains_bytes(&bytes, "203.0.113.4/"),
                "{} holds it",
                path.display()
            );
        }
    }

    // A month later the new comment's day is old enough too.
    let out = retention(data.path(), now + chrono::Duration::days(32));
    assert!(out.contains("user agents of 1 comment(s)"), "{out}");
    let log = log_text(data.path(), &exports.path().join("2.jsonl"));
    assert!(!log.contains(SARI_IP) && !log.contains(SARI_AGENT), "{log}");
    assert!(log.contains(SARI_WORD), "the body is another matter: {log}");
    let app = privacy_app(Some(data)).await;
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{new}"))
        .await;
    assert_eq!(detail["client_ip"], "", "{detail}");
    assert_eq!(detail["author_name"], SARI_NAME, "{detail}");
    app.stop().await;
}

/// Erasure on PostgreSQL (with `SARING_TEST_PG`): submissions are sealed in the database's log
/// with keys in the same database, so an erasure through one replica holds on another replica
/// of the same database, in `export events` and after a restart; the other reader is untouched.
#[tokio::test]
async fn erasure_on_postgres_holds_on_every_replica_and_in_the_log() {
    let Some(url) = postgres_test_database().await else {
        return;
    };
    let on_pg = |url: String| {
        move |s: &mut saring::config::Settings| {
            s.store = Some(url);
            s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
        }
    };
    let app = spawn_app_with(on_pg(url.clone())).await;
    let body = format!("{HAM} Salam dari {SARI_WORD}.");
    let sari = post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, &body, None).await;
    let sari = sari["id"].as_str().unwrap().to_string();
    let budi = post_from(
        &app,
        BUDI_IP,
        BUDI_NAME,
        BUDI_EMAIL,
        "",
        &format!("{HAM} Setuju."),
        Some(&sari),
    )
    .await;
    let budi = budi["id"].as_str().unwrap().to_string();

    // What the database holds is sealed.
    let raw = saring::store::postgres::PostgresStore::connect(&url)
        .await
        .expect("the database");
    let stored: String = saring::store::EventStore::read_all(&raw, 0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.data.to_string())
        .collect();
    assert!(stored.contains("\"sealed\""), "{stored}");
    for secret in SARI.iter().chain(&[BUDI_NAME, BUDI_EMAIL, BUDI_IP]) {
        assert!(!stored.contains(secret), "{secret} in the database's log");
    }

    // A second replica on the same database erases; the first sees it too.
    let replica = spawn_app_with(on_pg(url.clone())).await;
    let (_, export) = replica
        .mod_get(
            AYU,
            &format!("/api/v1/mod/privacy/export?email={SARI_EMAIL}"),
        )
        .await;
    assert!(export.to_string().contains(SARI_WORD), "{export}");
    let (code, erased) = erase_sari(&replica).await;
    assert_eq!(code, StatusCode::OK, "{erased}");
    assert_eq!(erased, json!({"comments": 1, "key_deleted": true}));
    for (name, a) in [("the replica", &replica), ("the first", &app)] {
        let (_, detail) = a
            .mod_get(AYU, &format!("/api/v1/mod/comments/{sari}"))
            .await;
        assert_no_sari(name, &detail.to_string());
        let (_, detail) = a
            .mod_get(AYU, &format!("/api/v1/mod/comments/{budi}"))
            .await;
        assert_eq!(detail["author_name"], BUDI_NAME, "{name}: {detail}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, thread) = app.get(&format!("/api/v1/threads/{THREAD}/comments")).await;
        if thread["comments"][0]["erased"] == true {
            assert_no_sari("the first replica's thread", &thread.to_string());
            assert_eq!(
                thread["comments"][0]["replies"][0]["author_name"],
                BUDI_NAME
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not erased: {thread}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (code, again) = erase_sari(&app).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(again["key_deleted"], false, "{again}");
    replica.stop().await;
    let data = app.stop().await;

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("events.jsonl");
    ok(&[
        "export",
        "events",
        "--store",
        &url,
        "--data-dir",
        p(data.path()),
        "--out",
        p(&file),
    ]);
    let log = std::fs::read_to_string(&file).unwrap();
    assert_no_sari("export events", &log);
    assert!(
        log.contains(BUDI_NAME) && log.contains(BUDI_EMAIL),
        "Budi is untouched"
    );
    let app = spawn_app_in(data, on_pg(url.clone())).await;
    let (_, detail) = app
        .mod_get(AYU, &format!("/api/v1/mod/comments/{sari}"))
        .await;
    assert_no_sari("after a restart", &detail.to_string());
    app.stop().await;
}

/// A spam wave opened by a reader who is then erased: its label (the first comment's masked
/// words) loses the reader's words as soon as the erasure answers, and the wave stays.
#[tokio::test]
async fn an_erased_readers_words_leave_the_wave_label_at_once() {
    let app = privacy_app(None).await;
    let campaign = |i: usize| {
        format!(
            "Saya sudah coba kerja sampingan ini dan dapat {} juta dalam seminggu, caranya \
             gampang sekali, tanya saya lewat pesan ya",
            2 + i
        )
    };
    let first = format!("Dari {SARI_WORD}: {}", campaign(0));
    let (code, v) = app
        .comment("berita-1", SARI_NAME, SARI_EMAIL, &first, None)
        .await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    for i in 1..5 {
        let email = format!("pencari{i}@contoh.id");
        let thread = format!("berita-{}", 1 + i % 4);
        let (code, v) = app
            .comment(&thread, "Pencari Kerja", &email, &campaign(i), None)
            .await;
        assert_eq!(code, StatusCode::CREATED, "{v}");
    }
    let word = SARI_WORD.to_lowercase();
    let (_, waves) = app.mod_get(AYU, "/api/v1/mod/waves").await;
    assert_eq!(waves["waves"].as_array().map(Vec::len), Some(1), "{waves}");
    assert!(waves.to_string().to_lowercase().contains(&word), "{waves}");

    let (code, erased) = erase_sari(&app).await;
    assert_eq!(code, StatusCode::OK, "{erased}");
    let (_, waves) = app.mod_get(AYU, "/api/v1/mod/waves").await;
    assert_eq!(waves["waves"].as_array().map(Vec::len), Some(1), "{waves}");
    assert!(!waves.to_string().to_lowercase().contains(&word), "{waves}");
    assert_no_sari("the waves", &waves.to_string());
    assert!(
        waves.to_string().contains("erased at the author's request"),
        "{waves}"
    );
}

/// The message a comment's `author_email` gets for `email`, in `lang`.
async fn comment_email_message(app: &TestApp, email: &str, lang: &str) -> String {
    let (token, answer) = app.challenge(THREAD).await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/threads/{THREAD}/comments?lang={lang}")))
        .json(&json!({
            "author_name": SARI_NAME, "author_email": email, "body": HAM,
            "captcha_token": token, "captcha_answer": answer.to_string(),
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = resp.json().await.expect("json");
    v["error"]["fields"]["author_email"]
        .as_str()
        .unwrap_or_else(|| panic!("no author_email message: {v}"))
        .to_string()
}

#[tokio::test]
async fn a_bad_email_in_a_data_request_is_refused_as_a_comments_would_be() {
    let app = privacy_app(None).await;
    let long = format!("{}@contoh.id", "a".repeat(250));
    for (bad, encoded) in [
        ("", ""),
        ("sari@", "sari%40"),
        (long.as_str(), long.as_str()),
    ] {
        for lang in ["id", "en"] {
            let expected = comment_email_message(&app, bad, lang).await;
            let (code, v) = app
                .mod_get(
                    AYU,
                    &format!("/api/v1/mod/privacy/export?email={encoded}&lang={lang}"),
                )
                .await;
            assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
            assert_eq!(v["error"]["code"], "invalid_query", "{v}");
            assert_eq!(v["error"]["fields"]["email"], expected.as_str(), "{v}");
            let (code, v) = app
                .mod_post(
                    AYU,
                    &format!("/api/v1/mod/privacy/erase?lang={lang}"),
                    &json!({ "email": bad }),
                )
                .await;
            assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
            assert_eq!(v["error"]["fields"]["email"], expected.as_str(), "{v}");
        }
    }
    // A valid email in another case is the same reader.
    post_from(&app, SARI_IP, SARI_NAME, SARI_EMAIL, SARI_URL, HAM, None).await;
    let (code, v) = app
        .mod_get(
            AYU,
            &format!(
                "/api/v1/mod/privacy/export?email={}",
                SARI_EMAIL.to_uppercase()
            ),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["email"], SARI_EMAIL, "{v}");
    assert_eq!(v["comments"].as_array().map(Vec::len), Some(1), "{v}");

    // The command line refuses it before it opens the store, and says why.
    for command in ["export", "erase"] {
        let out = saring(&["privacy", command, "sari@", "--data-dir", p(app.dir.path())]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("sari@") && err.contains("local@domain.tld"),
            "{err}"
        );
        assert!(!err.contains("stop it first"), "{err}");
    }
}
