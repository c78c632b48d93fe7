//! `saring projections check|rebuild` on a real data folder, and a server killed while its
//! follower applies a burst of posts: the projections it left must match a fresh fold of the log.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;
use crate::restart::Server;

/// Runs `saring projections <sub>` on a data folder; (success, stdout, stderr).
fn projections(sub: &str, data: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["projections", sub, "--data-dir"])
        .arg(data)
        .env("SARING_CONFIG", "/dev/null")
        .output()
        .expect("the saring binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn check_reports_a_damaged_projection_file_and_rebuild_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    app.comment_ok("berita-cek", HAM, "published").await;
    app.comment_ok("berita-cek", HELD, "pending").await;
    let (_, before) = app.get("/api/v1/threads/berita-cek/comments").await;
    server.kill();

    let (ok, out, err) = projections("check", &data);
    assert!(ok, "{out}{err}");
    assert!(out.contains("match the log"), "{out}");

    // Damage the file behind the server's back: the thread now claims to be closed.
    let conn = rusqlite::Connection::open(data.join("projections.sqlite3")).unwrap();
    conn.execute("UPDATE threads SET closed = 1", []).unwrap();
    drop(conn);
    let (ok, out, err) = projections("check", &data);
    assert!(!ok, "a damaged file fails the check");
    assert!(out.contains("1 threads differ"), "{out}");
    assert!(err.contains("difference"), "{err}");

    let (ok, out, err) = projections("rebuild", &data);
    assert!(ok, "{out}{err}");
    assert!(out.contains("2 comments"), "{out}");
    let (ok, out, _) = projections("check", &data);
    assert!(ok, "{out}");

    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    let (_, after) = app.get("/api/v1/threads/berita-cek/comments").await;
    assert_eq!(before, after);
    assert_eq!(after["closed"], false);
    server.kill();
}

/// An erasure leaves the stored projections as a fresh fold of the log makes them, although
/// the fresh fold opens the erased reader's submissions already erased (their key is gone):
/// the thread's generation and the duplicate sightings agree, so `check` passes and a rebuild
/// serves the same thread.
#[tokio::test]
async fn check_passes_after_an_erasure() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    app.wait_until_ready().await;
    for (email, body) in [
        ("sari@contoh.id", HAM),
        ("budi@contoh.id", HAM),
        ("budi@contoh.id", HELD),
    ] {
        let (status, answer) = app
            .comment("berita-hapus", "Pembaca", email, body, None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let (status, erased) = app
        .mod_post(
            AYU,
            "/api/v1/mod/privacy/erase",
            &serde_json::json!({"email": "budi@contoh.id"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let (_, before) = app.get("/api/v1/threads/berita-hapus/comments").await;
    server.kill();

    let (ok, out, err) = projections("check", &data);
    assert!(ok, "{out}{err}");
    assert!(out.contains("match the log"), "{out}");
    let (ok, out, err) = projections("rebuild", &data);
    assert!(ok, "{out}{err}");
    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    app.wait_until_ready().await;
    let (_, after) = app.get("/api/v1/threads/berita-hapus/comments").await;
    assert_eq!(before, after);
    server.kill();
}

#[tokio::test]
async fn check_without_a_projection_file_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = projections("check", dir.path());
    assert!(!ok);
    assert!(err.contains("projections rebuild"), "{err}");
}

/// Posts one comment through the reader flow, tolerating a server that went away; the id when
/// it was acknowledged (201).
async fn post_once(app: &TestApp, n: usize) -> Option<String> {
    let c = app
        .client
        .get(app.url("/api/v1/captcha?thread=berita-burst"))
        .send()
        .await
        .ok()?
        .json::<serde_json::Value>()
        .await
        .ok()?;
    let body = serde_json::json!({
        "author_name": "Pembaca",
        "author_email": format!("burst{n}@contoh.id"),
        "body": format!("{HAM} Nomor {n}."),
        "captcha_token": c["token"],
        "captcha_answer": solve(c["question"].as_str().unwrap_or_default()).to_string(),
    });
    let resp = app
        .client
        .post(app.url("/api/v1/threads/berita-burst/comments"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if resp.status() != StatusCode::CREATED {
        return None;
    }
    let v = resp.json::<serde_json::Value>().await.ok()?;
    v["id"].as_str().map(str::to_string)
}

#[tokio::test]
async fn a_server_killed_during_a_burst_of_posts_leaves_projections_matching_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let app = Arc::new(TestApp::external(&server.base));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut posts = tokio::task::JoinSet::new();
    for writer in 0..16 {
        let (app, acknowledged) = (app.clone(), acknowledged.clone());
        posts.spawn(async move {
            for i in 0.. {
                match post_once(&app, writer * 10_000 + i).await {
                    Some(id) => acknowledged.lock().unwrap().push(id),
                    None => return,
                }
            }
        });
    }
    // Kill while the posts (and so the follower's batches) are under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 40 {
        assert!(Instant::now() < deadline, "too few posts were acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    while posts.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();

    let (ok, out, err) = projections("check", &data);
    assert!(ok, "{out}{err}");

    // Every acknowledged comment is there after the restart.
    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    for id in &acknowledged {
        let (status, _) = app
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{id} was acknowledged");
    }
    let (_, page) = app.get("/api/v1/threads/berita-burst/comments").await;
    assert!(page["total"].as_u64().unwrap() >= acknowledged.len() as u64);
    server.kill();
}

/// A projection database that cannot be read (here its tables were dropped under the running
/// server) is answered `503 store_unavailable` in the request's language, with a `Retry-After`:
/// on thread pages, counts, the moderation queue and posts, never as an empty thread that
/// looks true, and a post is refused before anything is stored.
#[tokio::test]
async fn an_unreadable_projection_database_is_answered_503_not_an_empty_answer() {
    let app = spawn_app().await;
    app.comment_ok("berita-rusak", HAM, "published").await;
    let db = rusqlite::Connection::open(app.dir.path().join("projections.sqlite3")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch("DROP TABLE comments; DROP TABLE threads;")
        .unwrap();
    drop(db);

    let resp = app
        .client
        .get(app.url("/api/v1/threads/berita-rusak/comments?lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    assert_eq!(
        body["error"]["message"],
        "The database is unavailable for the moment. Please try again shortly."
    );

    let (status, body) = app.get("/api/v1/threads/berita-lain/comments").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["error"]["message"],
        "Basis data sedang tidak tersedia. Silakan coba lagi sebentar lagi.",
        "Indonesian by default"
    );
    let (status, body) = app
        .get("/api/v1/counts?threads=berita-rusak,berita-lain")
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = app.mod_get(AYU, "/api/v1/mod/queue?status=pending").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");

    let (status, body) = app
        .comment("berita-rusak", "Sari", "sari@contoh.id", HAM, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("saring_projection_read_errors_total") && !l.ends_with(" 0")),
        "failed reads are counted"
    );
}

/// The small lookups a post makes before its screening meet an unreadable projection database
/// too: the "close after N days" check answers `503 store_unavailable` before the captcha is
/// even looked at (a thread is never taken for open because its first comment could not be
/// read), while a captcha is still issued (its work raised, as for an address with spam).
#[tokio::test]
async fn a_posts_early_checks_answer_503_when_the_projections_cannot_be_read() {
    let app = spawn_app_with(|s| s.threads.close_after_days = 7).await;
    app.comment_ok("berita-rusak", HAM, "published").await;
    let db = rusqlite::Connection::open(app.dir.path().join("projections.sqlite3")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch("DROP TABLE comments; DROP TABLE author_counts;")
        .unwrap();
    drop(db);

    let (token, answer) = app.challenge("berita-rusak").await;
    let (status, body) = app
        .post_json(
            "berita-rusak",
            &serde_json::json!({
                "author_name": "Sari",
                "author_email": "sari@contoh.id",
                "body": HAM,
                "captcha_token": token,
                "captcha_answer": (answer + 1).to_string(),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
}

/// Moderators' reads and a ban's sweep meet the same unreadable projection database: the
/// console's card (its author record and parent), the audit lines and the moderators' figures
/// answer `503 store_unavailable` in the request's language, and a ban asked to move the
/// author's comments to spam is refused with nothing stored (not placed with a sweep that found
/// nothing), so the moderator's retry, once the file is back, does the whole job.
#[tokio::test]
async fn moderator_reads_and_a_bans_sweep_answer_503_when_the_projections_cannot_be_read() {
    let app = spawn_app_with(crate::console::with_accounts).await;
    let held = app.comment_ok("berita-rusak", HELD, "pending").await;
    let decided = app.comment_ok("berita-rusak", HELD, "pending").await;
    let version = app.version(&decided).await;
    let (status, body) = app.decide(AYU, &decided, "approve", version).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let browser =
        crate::console::Browser::logged_in(&app, "ani", crate::console::ANI_PASSWORD).await;
    let card = browser
        .get(&format!("/admin/comments/{held}?lang=en"))
        .await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.body);

    let db = rusqlite::Connection::open(app.dir.path().join("projections.sqlite3")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch("DROP TABLE comments;").unwrap();
    drop(db);

    let card = browser
        .get(&format!("/admin/comments/{held}?lang=en"))
        .await;
    assert_eq!(
        card.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        card.body
    );
    assert!(
        card.body
            .contains("The database is unavailable for the moment."),
        "{}",
        card.body
    );
    let (status, body) = app.mod_get(AYU, "/api/v1/mod/audit/moderators").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["error"]["message"],
        "Basis data sedang tidak tersedia. Silakan coba lagi sebentar lagi.",
        "Indonesian by default"
    );
    let (status, body) = app
        .mod_get(AYU, "/api/v1/mod/audit?author=pembaca@contoh.id&lang=en")
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");

    let (status, body) = app
        .mod_post(
            AYU,
            "/api/v1/mod/bans?lang=en",
            &serde_json::json!({ "kind": "email_domain", "value": "contoh.id", "spam_existing": true }),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    let (status, list) = app.mod_get(AYU, "/api/v1/mod/bans").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 0, "the refused ban was not stored: {list}");
}

/// Measures the console's text filter on the published queue of a projection file holding
/// 200,000 comments (half published): through the full-text index (a needle of three
/// characters or more) against the scan that decodes every published row (what a shorter
/// needle, and before format 3 every needle, costs), and the file's bytes with the index.
/// `cargo test --release --test api measure_published_text_search -- --ignored --nocapture`;
/// figures in docs/projections.md. Not a pass/fail check: speed depends on the machine.
#[test]
#[ignore]
fn measure_published_text_search() {
    use saring::domain::CommentStatus;
    use saring::projections::search::{ConsoleQueue, QueueFilter, SortOrder};
    use saring::store::projection_db::{BatchWrite, ProjectionDb, text_path};
    let comments = 200_000u64;
    // Half published (indexed) or, for the write cost without the index, none.
    let fill = |db: &ProjectionDb, published: bool| {
        for batch in 0..comments / 1000 {
            let records = (batch * 1000..(batch + 1) * 1000)
                .map(|n| {
                    let status = if n % 2 == 0 || !published {
                        CommentStatus::Pending
                    } else {
                        CommentStatus::Published
                    };
                    let body = format!(
                        "<p>Komentar nomor {n} tentang jalan desa yang rusak sejak musim hujan, \
                         jembatan yang belum diperbaiki, harga beras di pasar, dan janji kepala \
                         desa {} yang belum ditepati sampai hari ini.</p>",
                        n % 777
                    );
                    generated_record(n, 10_000, body, status)
                })
                .collect();
            let write = BatchWrite {
                position: (batch + 1) * 1000,
                events_applied: (batch + 1) * 1000,
                comments: records,
                ..BatchWrite::default()
            };
            db.write_tx(|tx| tx.write(&write)).unwrap();
        }
    };
    let plain = tempfile::tempdir().unwrap();
    let (db, _, _) =
        ProjectionDb::open(&plain.path().join("projections.sqlite3"), "sqlite").unwrap();
    let built = Instant::now();
    fill(&db, false);
    println!(
        "{comments} comments, none published (nothing indexed), written in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    drop(db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("projections.sqlite3");
    let (db, _, _) = ProjectionDb::open(&path, "sqlite").unwrap();
    let built = Instant::now();
    fill(&db, true);
    println!(
        "{comments} comments, half published, written in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let index_bytes: i64 = rusqlite::Connection::open(text_path(&path))
        .unwrap()
        .query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'published_text%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    println!(
        "text index: {} bytes per published comment",
        index_bytes as u64 / (comments / 2)
    );
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!("projection file: {} bytes per comment", bytes / comments);
    let time = |label: &str, text: &str| {
        let filter = QueueFilter {
            text: Some(text.into()),
            ..QueueFilter::default()
        };
        let runs = 5;
        let t = Instant::now();
        let mut n = 0;
        for _ in 0..runs {
            n = db
                .queue_search(
                    ConsoleQueue::Published,
                    &filter,
                    SortOrder::Newest,
                    None,
                    20,
                )
                .unwrap()
                .matching;
        }
        println!(
            "{label} {text:?}: {:.2} ms per query ({n} matching)",
            t.elapsed().as_secs_f64() * 1000.0 / runs as f64
        );
    };
    time("indexed, one comment", "nomor 14241 ");
    time("indexed, 1 in 777", "kepala desa 42 ");
    time("indexed, every comment", "jembatan");
    time("scan (needle under 3 characters)", "42");
}

/// The 99th percentile of `times` (sorted in place).
fn p99(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[(times.len() * 99 / 100).min(times.len() - 1)]
}

/// Reads one thread page over and over until `until` says stop; when each read started and its
/// latency (a measurement with phases sorts reads into them by their start).
async fn read_until(app: Arc<TestApp>, until: impl Fn() -> bool) -> Vec<(Instant, Duration)> {
    let mut times = Vec::new();
    while !until() {
        let t = Instant::now();
        let resp = app
            .client
            .get(app.url("/api/v1/threads/berita-baca/comments"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("a body");
        times.push((t, t.elapsed()));
    }
    times
}

/// Measures thread-read p99 on the running server while nothing is written, then while 32
/// writers post 10,000 comments over 100 threads and the follower (its own connection to the
/// projection database, WAL) folds and writes them batch by batch behind them (issue 8's
/// "a slow snapshot does not delay thread reads": the snapshot is gone, its cost is now the
/// follower's batches); prints both p99s and their ratio. The page cache is off, so each read
/// is a query of the projection database. A post's `201` waits until the follower has folded
/// it, so a batch holds at most about one event per writer in flight: the ratio is the cost
/// of the whole write path (screening, the append, the fold) on the same cores, an upper
/// bound on what the follower's writes alone add.
/// `cargo test --test api measure_thread_reads_while_the_follower_writes -- --ignored --nocapture`
/// (add `--release` for production figures); figures in the README's issue 8 entry. Not a
/// pass/fail check: speed depends on the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_thread_reads_while_the_follower_writes() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const READERS: usize = 4;
    const WRITERS: u64 = 32;
    const COMMENTS: u64 = 10_000;
    // No page cache: every read renders the page from the projection database on the read
    // pool (with the cache, a read of an unchanged thread touches no database at all).
    let app = Arc::new(spawn_app_with(|s| s.projections.page_cache_bytes = 0).await);
    for n in 0..50 {
        app.comment_ok("berita-baca", &format!("{HAM} Komentar {n}."), "published")
            .await;
    }
    let read_phase = |stop: Arc<AtomicBool>| {
        let mut readers = tokio::task::JoinSet::new();
        for _ in 0..READERS {
            let (app, stop) = (app.clone(), stop.clone());
            readers.spawn(read_until(app, move || stop.load(Ordering::Relaxed)));
        }
        readers
    };
    let collect = |mut readers: tokio::task::JoinSet<Vec<(Instant, Duration)>>| async move {
        let mut all = Vec::new();
        while let Some(times) = readers.join_next().await {
            all.extend(times.expect("a reader").into_iter().map(|(_, d)| d));
        }
        all
    };

    let stop = Arc::new(AtomicBool::new(false));
    let readers = read_phase(stop.clone());
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    let mut quiet = collect(readers).await;

    let stop = Arc::new(AtomicBool::new(false));
    let readers = read_phase(stop.clone());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (app, next) = (app.clone(), next.clone());
        writers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= COMMENTS {
                    return;
                }
                let thread = format!("berita-banjir-{}", n % 100);
                let email = format!("penulis{writer}-{n}@contoh.id");
                let body = format!("{HAM} Pendapat nomor {n} dari penulis {writer}.");
                let (status, v) = app.comment(&thread, "Pembaca", &email, &body, None).await;
                assert_eq!(status, StatusCode::CREATED, "{v}");
            }
        });
    }
    while let Some(joined) = writers.join_next().await {
        joined.expect("a writer");
    }
    let writing = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut busy = collect(readers).await;
    let (quiet_p99, busy_p99) = (p99(&mut quiet), p99(&mut busy));
    println!(
        "quiet: {} reads, p50 {:.2} ms, p99 {:.2} ms",
        quiet.len(),
        quiet[quiet.len() / 2].as_secs_f64() * 1e3,
        quiet_p99.as_secs_f64() * 1e3
    );
    println!(
        "while {COMMENTS} comments were posted by {WRITERS} writers in {:.1} s ({:.0}/s) and \
         folded by the follower: {} reads, p50 {:.2} ms, p99 {:.2} ms",
        writing.as_secs_f64(),
        COMMENTS as f64 / writing.as_secs_f64(),
        busy.len(),
        busy[busy.len() / 2].as_secs_f64() * 1e3,
        busy_p99.as_secs_f64() * 1e3
    );
    println!(
        "p99 ratio (while writing / quiet): {:.2}",
        busy_p99.as_secs_f64() / quiet_p99.as_secs_f64()
    );
    let (_, page) = app.get("/api/v1/threads/berita-baca/comments").await;
    assert_eq!(page["total"], 50, "{page}");
}

/// Published comments matching `text` in the file's published queue (the console's search,
/// answered by the text index for needles of three characters or more).
fn published_matching(data: &std::path::Path, text: &str) -> usize {
    use saring::projections::search::{ConsoleQueue, QueueFilter, SortOrder};
    let db = saring::store::projection_db::ProjectionDb::open_existing(
        &data.join("projections.sqlite3"),
        "sqlite",
    )
    .unwrap();
    let filter = QueueFilter {
        text: Some(text.into()),
        ..QueueFilter::default()
    };
    db.queue_search(
        ConsoleQueue::Published,
        &filter,
        SortOrder::Newest,
        None,
        20,
    )
    .unwrap()
    .matching
}

#[tokio::test]
async fn text_search_finds_comments_after_a_first_start_bulk_build_and_after_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    app.comment_ok("berita-cari", HAM, "published").await;
    server.kill();

    // A start without the file builds it from the log in bulk mode.
    std::fs::remove_file(data.join("projections.sqlite3")).unwrap();
    let server = Server::start(&data);
    server.kill();
    assert_eq!(published_matching(&data, "jalan desa"), 1);
    assert_eq!(published_matching(&data, "tidak ada di sini"), 0);

    let (ok, out, err) = projections("rebuild", &data);
    assert!(ok, "{out}{err}");
    assert_eq!(published_matching(&data, "jalan desa"), 1);
    assert_eq!(published_matching(&data, "tidak ada di sini"), 0);
}

/// Both WAL checkpointers run below the request workers' priority (`SARING_BACKGROUND_NICE`,
/// 10 by default), as the kernel holds it for each thread; the threads on a request's path
/// (the key thread, the projection readers, the log writer) keep the process's own.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn background_threads_run_below_the_request_workers_priority() {
    let app = spawn_app().await;
    app.comment_ok("berita-nice", HAM, "published").await;
    let nices = saring::background::thread_nices();
    let of = |name: &str| {
        nices
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, nice)| *nice)
            .unwrap_or_else(|| panic!("no thread {name} in {nices:?}"))
    };
    // The test's own thread runs at the process's priority (`nice cargo test` raises it).
    let mine = saring::background::this_thread_nice().expect("/proc/thread-self/stat");
    let lowered = (mine + saring::background::DEFAULT_NICE).min(19);
    // Thread names as the kernel keeps them: 15 bytes.
    for name in ["saring-projecti", "saring-store-ch"] {
        assert_eq!(of(name), lowered, "{name}: {nices:?}");
    }
    for name in ["saring-keys", "saring-read-0", "saring-store-wr"] {
        assert_eq!(of(name), mine, "{name}: {nices:?}");
    }
}

/// One accepted comment's events as the service would append them (the decider's events,
/// encoded by the service's codec, the actor and one correlation id in the metadata), without
/// screening: the backlog for [`measure_reads_and_posts_while_the_follower_writes_a_backlog`].
fn backlog_comment(i: u64) -> (String, Vec<saring::store::NewEvent>) {
    use saring::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
    use saring::domain::{ClientFacts, Submission, comment_stream};
    use saring::policy::{Outcome, Verdict};
    let id = uuid::Uuid::new_v4();
    let submission = Submission {
        comment_id: id,
        thread: format!("berita-antrean-{}", i % 100),
        parent_id: None,
        author_name: format!("Pembaca {}", i % 5000),
        author_email: format!("pembaca{}@contoh.id", i % 20_000),
        author_url: None,
        body: format!("{HAM} Komentar antrean nomor {i}."),
        client: ClientFacts {
            ip: format!("10.{}.{}.{}", (i >> 16) % 256, (i >> 8) % 256, i % 256),
            user_agent: Some("Mozilla/5.0 (backlog)".into()),
        },
        captcha_solve_ms: 4000,
        pow: None,
        known_reader: None,
        lang: saring::i18n::Lang::Id,
        submitted_at: chrono::Utc::now(),
        erased: false,
    };
    let verdict = Verdict {
        outcome: Outcome::Accept,
        score: 0.0,
        rules: vec![],
        policy_version: "backlog".into(),
    };
    let events = comment::decide(
        &CommentState::default(),
        CommentCommand::Submit {
            submission: Box::new(submission),
            verdict: Box::new(verdict),
            fingerprint: i,
            context: SubmitContext {
                thread_closed: false,
                parent: None,
            },
        },
    )
    .expect("a first submission is accepted");
    let encoded = saring::service::codec::encode_command(&events).expect("the events encode");
    (comment_stream(id), encoded)
}

/// Latencies of reads and trickle posts during one phase.
struct Phase {
    reads: Vec<Duration>,
    posts: Vec<Duration>,
}

impl Phase {
    fn print(&mut self, label: &str) -> (Duration, Duration) {
        let (reads, posts) = (p99(&mut self.reads), p99(&mut self.posts));
        println!(
            "{label}: {} reads p50 {:.2} ms p99 {:.2} ms; {} posts (challenge + post) p50 {:.2} ms \
             p99 {:.2} ms",
            self.reads.len(),
            self.reads[self.reads.len() / 2].as_secs_f64() * 1e3,
            reads.as_secs_f64() * 1e3,
            self.posts.len(),
            self.posts[self.posts.len() / 2].as_secs_f64() * 1e3,
            posts.as_secs_f64() * 1e3,
        );
        (reads, posts)
    }
}

/// CPU seconds this process has used so far (user and system, from `/proc/self/stat`), so the
/// backlog measurement can tell how much of the two cores the follower's work took.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are
    // plain numbers, utime and stime being the 12th and 13th of them.
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // Linux reports these in USER_HZ, 100 per second on every architecture it runs on.
    ticks / 100.0
}

/// Keeps `cores` cores' worth of CPU busy with plain arithmetic on `threads` threads (at
/// least as many as whole cores it rounds up to, each busy the matching share of every 10 ms,
/// at the process's own priority) until `stop`: the control phase of the backlog
/// measurement, which takes as much CPU on as many threads as the backlog's background did
/// but touches neither the log nor the projection database.
fn burn_cpu(
    cores: f64,
    threads: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    let threads = threads.max(cores.ceil() as usize).max(1);
    let duty = (cores / threads as f64).clamp(0.0, 1.0);
    (0..threads)
        .map(|_| {
            let stop = stop.clone();
            let burner = std::thread::Builder::new().name("control-burn".into());
            burner
                .spawn(move || {
                    let period = Duration::from_millis(10);
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        while start.elapsed() < period.mul_f64(duty) {
                            x = std::hint::black_box(
                                x.wrapping_mul(6364136223846793005).wrapping_add(1),
                            );
                        }
                        std::thread::sleep(period.mul_f64(1.0 - duty));
                    }
                })
                .expect("a burner thread")
        })
        .collect()
}

/// One thread's counters: CPU time and time spent runnable but waiting on a run queue (both
/// nanoseconds, `/proc/self/task/TID/schedstat`), and its nice value (`stat`, field 19).
#[derive(Clone, Copy, Default)]
struct TaskTimes {
    cpu_ns: u64,
    wait_ns: u64,
    nice: i64,
}

/// Every thread of this process (the in-process server's, the test's appender and clients)
/// by thread id: its name with trailing digits dropped (so `saring-read-3` counts with the
/// other readers) and its counters.
fn thread_times() -> std::collections::HashMap<String, (String, TaskTimes)> {
    let mut out = std::collections::HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("a task").path();
        let (Ok(stat), Ok(sched)) = (
            std::fs::read_to_string(dir.join("stat")),
            std::fs::read_to_string(dir.join("schedstat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
        let name = stat[open + 1..close].trim_end_matches(|c: char| c.is_ascii_digit());
        let nice = stat[close + 2..]
            .split_whitespace()
            .nth(19 - 3)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut s = sched.split_whitespace().map(|n| n.parse().unwrap_or(0));
        let times = TaskTimes {
            cpu_ns: s.next().unwrap_or(0),
            wait_ns: s.next().unwrap_or(0),
            nice,
        };
        let tid = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(tid, (name.to_string(), times));
    }
    out
}

/// What each group of threads took during a phase of `secs`: per name, (threads, cores of
/// CPU, run-queue wait per second of the phase in ms, nice), busiest first; a thread that
/// ended during the phase is missing (tokio's idle blocking threads, a few ms).
fn thread_use(
    before: &std::collections::HashMap<String, (String, TaskTimes)>,
    secs: f64,
) -> Vec<(String, usize, f64, f64, i64)> {
    let mut groups: std::collections::BTreeMap<String, (usize, u64, u64, i64)> = Default::default();
    for (tid, (name, now)) in thread_times() {
        let was = before.get(&tid).map(|(_, t)| *t).unwrap_or_default();
        let g = groups.entry(name).or_default();
        g.0 += 1;
        g.1 += now.cpu_ns - was.cpu_ns;
        g.2 += now.wait_ns - was.wait_ns;
        g.3 = now.nice;
    }
    let mut rows: Vec<_> = groups
        .into_iter()
        .map(|(name, (n, cpu, wait, nice))| {
            let (cpu, wait) = (cpu as f64 / 1e9 / secs, wait as f64 / 1e6 / secs);
            (name, n, cpu, wait, nice)
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    rows
}

/// Prints [`thread_use`]'s rows of a phase: the groups above 1 % of a core.
fn print_thread_use(label: &str, rows: &[(String, usize, f64, f64, i64)]) {
    let total: f64 = rows.iter().map(|r| r.2).sum();
    println!(
        "{label}: threads by CPU (cores; run-queue wait ms per s; nice), total {total:.2} cores"
    );
    for (name, n, cpu, wait, nice) in rows.iter().filter(|r| r.2 >= 0.01) {
        println!("  {name:<22} x{n:<3} {cpu:5.2} cores  wait {wait:6.1} ms/s  nice {nice}");
    }
}

/// Groups of threads that serve requests in the backlog measurement (the runtime's workers,
/// which run the server and the test's clients, and the projection read pool); the rest is
/// background work, which the control phase matches.
fn serves_requests(name: &str) -> bool {
    matches!(name, "rt-worker" | "saring-read-")
}

/// The projection position the server reports to a moderator on `/readyz`.
async fn served_position(app: &TestApp) -> u64 {
    let (_, v) = app.mod_get(AYU, "/readyz").await;
    v["position"].as_u64().expect("a position for a moderator")
}

/// Issue 8's "a slow snapshot does not delay thread reads or posts", with the follower's
/// share alone: 100,000 comments are appended to the log through the running server's own
/// store (no HTTP, no screening: built before the measurement), 1,024 comments at a time (one
/// group commit), each chunk once the follower has folded the one before, so the follower
/// writes them to the projection database in batches as large as it takes from its
/// subscription while 4 readers read a thread page (page cache off, so every read queries the
/// database, unless `SARING_MEASURE_PAGE_CACHE=1`) and one poster posts every 200 ms (captcha challenge, then the post, whose `201`
/// waits for its own fold). Prints reads' and posts' p99 quiet (the same readers and poster, no
/// backlog), while the follower writes, and in a control phase where plain arithmetic takes
/// the CPU the backlog's non-request threads took, on as many threads (so what the backlog
/// adds beyond taking CPU shows), and their ratios; and per phase, each group of threads'
/// CPU, run-queue wait and nice value (`/proc/self/task`), which say who held the cores.
/// `SARING_BACKGROUND_NICE=N` sets the background threads' nice increment. A second process
/// cannot append
/// instead: SQLite's writer numbers positions in memory.
/// `cargo test --test api measure_reads_and_posts_while_the_follower_writes_a_backlog --
/// --ignored --nocapture` (add `--release` for production figures); figures in the README's
/// issue 8 entry. Not a pass/fail check: speed depends on the machine.
#[test]
#[ignore]
fn measure_reads_and_posts_while_the_follower_writes_a_backlog() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Two workers as on the 2-core machine, named apart from the blocking pool's threads so
    // the per-thread figures tell them apart: the runtime starts its workers first.
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name_fn(|| {
            let n = STARTED.fetch_add(1, Ordering::Relaxed);
            if n < 2 { "rt-worker" } else { "rt-blocking" }.to_string()
        })
        .build()
        .expect("a runtime")
        .block_on(reads_and_posts_while_the_follower_writes_a_backlog());
}

async fn reads_and_posts_while_the_follower_writes_a_backlog() {
    use saring::store::ExpectedRevision;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const READERS: usize = 4;
    const BACKLOG: u64 = 100_000;
    const CHUNK: usize = 1024;
    // The worst case by default: no page cache, so every read queries the database while the
    // follower writes to it. `SARING_MEASURE_PAGE_CACHE=1` keeps the served configuration's
    // page cache instead (the read thread is not one the backlog writes to).
    let cached = std::env::var("SARING_MEASURE_PAGE_CACHE").is_ok_and(|v| v == "1");
    println!(
        "page cache {}",
        if cached {
            "on (the default budget)"
        } else {
            "off"
        }
    );
    // `SARING_BACKGROUND_NICE=0` measures the background at the requests' priority.
    let nice = std::env::var("SARING_BACKGROUND_NICE")
        .map_or(saring::background::DEFAULT_NICE, |v| {
            v.parse().expect("a nice increment")
        });
    println!("background nice increment {nice}");
    let (app, store) = spawn_app_and_store(tempfile::tempdir().expect("a folder"), |s| {
        s.projections.background_nice = nice;
        if !cached {
            s.projections.page_cache_bytes = 0;
        }
    })
    .await;
    let app = Arc::new(app);
    for n in 0..50 {
        app.comment_ok("berita-baca", &format!("{HAM} Komentar {n}."), "published")
            .await;
    }
    let built = Instant::now();
    let backlog: Vec<_> = (0..BACKLOG).map(backlog_comment).collect();
    println!(
        "built {BACKLOG} comments ({} events) in {:.1} s",
        backlog.iter().map(|(_, e)| e.len()).sum::<usize>(),
        built.elapsed().as_secs_f64()
    );
    let posted = Arc::new(AtomicU64::new(0));
    let phase = |stop: Arc<AtomicBool>| {
        let mut readers = tokio::task::JoinSet::new();
        for _ in 0..READERS {
            let (app, stop) = (app.clone(), stop.clone());
            readers.spawn(read_until(app, move || stop.load(Ordering::Relaxed)));
        }
        let (app, posted) = (app.clone(), posted.clone());
        let poster = tokio::spawn(async move {
            let mut times = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let n = posted.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let (status, v) = app
                    .comment(
                        "berita-tetes",
                        "Pembaca",
                        &format!("tetes{n}@contoh.id"),
                        &format!("{HAM} Tetesan nomor {n}."),
                        None,
                    )
                    .await;
                times.push(t.elapsed());
                assert_eq!(status, StatusCode::CREATED, "{v}");
            }
            times
        });
        async move {
            let mut reads = Vec::new();
            while let Some(times) = readers.join_next().await {
                reads.extend(times.expect("a reader").into_iter().map(|(_, d)| d));
            }
            Phase {
                reads,
                posts: poster.await.expect("the poster"),
            }
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    let quiet_cpu = process_cpu_seconds();
    let quiet_threads = thread_times();
    let quiet = phase(stop.clone());
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    let mut quiet = quiet.await;
    let quiet_cores = (process_cpu_seconds() - quiet_cpu) / 10.0;
    let quiet_use = thread_use(&quiet_threads, 10.0);

    let stop = Arc::new(AtomicBool::new(false));
    let busy = phase(stop.clone());
    let busy_cpu = process_cpu_seconds();
    let busy_threads = thread_times();
    let started = Instant::now();
    let mut chunks = 0;
    for chunk in backlog.chunks(CHUNK) {
        let appends = chunk.iter().map(|(stream, events)| {
            store.append(stream, ExpectedRevision::NoStream, events.clone())
        });
        let last = futures::future::try_join_all(appends)
            .await
            .expect("the backlog appends")
            .iter()
            .map(|r| r.position)
            .max()
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(300);
        while served_position(&app).await < last {
            assert!(Instant::now() < deadline, "the follower stalled");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        chunks += 1;
    }
    let writing = started.elapsed();
    let busy_cores = (process_cpu_seconds() - busy_cpu) / writing.as_secs_f64();
    let busy_use = thread_use(&busy_threads, writing.as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    let mut busy = busy.await;

    // The control: the same readers and poster while plain arithmetic takes as much CPU, on
    // as many busy threads, as the backlog's background threads (the test's appender, the
    // log writer, the fold thread, checkpointers, ...) took beyond what they take quiet, at
    // the requests' priority: what the backlog adds beyond taking CPU shows as the
    // difference between the two phases.
    let background = |rows: &[(String, usize, f64, f64, i64)]| -> f64 {
        rows.iter()
            .filter(|r| !serves_requests(&r.0))
            .map(|r| r.2)
            .sum()
    };
    let extra_cores = (background(&busy_use) - background(&quiet_use)).max(0.1);
    let busy_background_threads = busy_use
        .iter()
        .filter(|r| !serves_requests(&r.0) && r.2 >= 0.1)
        .count();
    let stop = Arc::new(AtomicBool::new(false));
    let control = phase(stop.clone());
    let control_threads = thread_times();
    let control_started = Instant::now();
    let burners = burn_cpu(extra_cores, busy_background_threads, stop.clone());
    tokio::time::sleep(writing.min(Duration::from_secs(60))).await;
    let control_use = thread_use(&control_threads, control_started.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    let mut control = control.await;
    for burner in burners {
        burner.join().expect("a burner");
    }
    println!(
        "the follower folded {BACKLOG} comments in {chunks} chunks of {CHUNK} in {:.1} s ({:.0}/s)",
        writing.as_secs_f64(),
        BACKLOG as f64 / writing.as_secs_f64()
    );
    println!(
        "the process used {quiet_cores:.2} cores quiet, {busy_cores:.2} while the follower wrote; \
         the control burns {extra_cores:.2} cores on {} threads",
        busy_background_threads
            .max(extra_cores.ceil() as usize)
            .max(1)
    );
    print_thread_use("quiet", &quiet_use);
    print_thread_use("backlog", &busy_use);
    print_thread_use("control", &control_use);
    let (quiet_reads, quiet_posts) = quiet.print("quiet");
    let (busy_reads, busy_posts) = busy.print("while the follower writes the backlog");
    let (control_reads, control_posts) =
        control.print("control (the same CPU taken by arithmetic, no backlog)");
    println!(
        "p99 ratios (backlog / quiet): reads {:.2}, posts {:.2}",
        busy_reads.as_secs_f64() / quiet_reads.as_secs_f64(),
        busy_posts.as_secs_f64() / quiet_posts.as_secs_f64()
    );
    println!(
        "p99 ratios (backlog / control): reads {:.2}, posts {:.2}",
        busy_reads.as_secs_f64() / control_reads.as_secs_f64(),
        busy_posts.as_secs_f64() / control_posts.as_secs_f64()
    );
    let (_, page) = app.get("/api/v1/threads/berita-antrean-7/comments").await;
    assert_eq!(page["total"], BACKLOG / 100, "{}", page["total"]);
}

/// Comments appended to a stopped server's log in the catch-up test: enough that the debug
/// build folds them for a few seconds after its start, so "not ready yet" is observable
/// without sleeps.
const CATCH_UP_BACKLOG: u64 = 4_000;

/// Appends `backlog_comment(0..n)` to the log in `dir` with the server stopped (the store
/// opened as the server opens it, sealed); the log position of the last.
async fn append_backlog_offline(dir: &std::path::Path, n: u64) -> u64 {
    let store = saring::store::open_store(None, dir)
        .await
        .expect("the stopped server's store opens");
    append_all(store, (0..n).map(backlog_comment).collect()).await
}

/// A server restarted on a log that grew while it was stopped answers at once: `/healthz`
/// 200, `/readyz` 503 with the position reached for a moderator, reads of what it folded so
/// far; a comment posted meanwhile is accepted. Once caught up, `/readyz` says 200 and the
/// backlog and the comment are served, also after another restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_serves_while_it_catches_up_with_a_backlog() {
    let app = spawn_app().await;
    app.comment_ok("berita-baca", HAM, "published").await;
    let dir = app.stop().await;
    let started = Instant::now();
    let end = append_backlog_offline(dir.path(), CATCH_UP_BACKLOG).await;
    println!(
        "appended {CATCH_UP_BACKLOG} comments (log end {end}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let (app, _) = spawn_app_serving(dir, |_| {}).await;
    let (status, health) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let (status, ready) = app.mod_get(AYU, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["ready"], false, "{ready}");
    let position = ready["position"]
        .as_u64()
        .expect("a position for a moderator");
    assert!(position < end, "{ready}");
    // How far it has to go: the log's head, the backlog's last event.
    assert_eq!(ready["head"].as_u64(), Some(end), "{ready}");
    // The public sees whether it is ready, not how far the log reaches.
    let (status, public) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{public}");
    assert!(public.get("position").is_none(), "{public}");
    assert!(public.get("head").is_none(), "{public}");
    // What is folded is served meanwhile.
    let (status, _) = app.get("/api/v1/threads/berita-baca/comments").await;
    assert_eq!(status, StatusCode::OK);
    let during = app.comment_ok("berita-tetes", HAM, "published").await;

    app.wait_until_ready().await;
    println!(
        "caught up {:.1} s after the start",
        started.elapsed().as_secs_f64()
    );
    let (_, ready) = app.mod_get(AYU, "/readyz").await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert!(ready["position"].as_u64().unwrap() > end, "{ready}");
    let (_, page) = app.get("/api/v1/threads/berita-antrean-7/comments").await;
    assert_eq!(page["total"], CATCH_UP_BACKLOG / 100, "{}", page["total"]);
    assert_eq!(app.thread_ids("berita-tetes").await, vec![during.clone()]);
    assert_eq!(app.thread_ids("berita-baca").await.len(), 1);

    let app = spawn_app_in(app.stop().await, |_| {}).await;
    assert_eq!(app.thread_ids("berita-tetes").await, vec![during]);
}

/// A clean stop that comes during the catch-up ends it after the batch in hand: the server
/// stops, and the next start folds the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_the_catch_up_stops_cleanly_and_the_next_start_goes_on() {
    let dir = spawn_app().await.stop().await;
    append_backlog_offline(dir.path(), CATCH_UP_BACKLOG).await;
    let (app, _) = spawn_app_serving(dir, |_| {}).await;
    let (status, ready) = app.mod_get(AYU, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    let app = spawn_app_in(app.stop().await, |_| {}).await;
    let (_, page) = app.get("/api/v1/threads/berita-antrean-7/comments").await;
    assert_eq!(page["total"], CATCH_UP_BACKLOG / 100, "{}", page["total"]);
}

/// Appends `comments` through `store`, 1,024 at a time (one group commit each), as fast as
/// the store takes them; the log position of the last one.
async fn append_all(
    store: Arc<dyn saring::store::EventStore>,
    comments: Vec<(String, Vec<saring::store::NewEvent>)>,
) -> u64 {
    use saring::store::ExpectedRevision;
    let mut last = 0;
    for chunk in comments.chunks(1024) {
        let appends = chunk.iter().map(|(stream, events)| {
            store.append(stream, ExpectedRevision::NoStream, events.clone())
        });
        let written = futures::future::try_join_all(appends)
            .await
            .expect("the backlog appends");
        last = written
            .iter()
            .map(|r| r.position)
            .max()
            .unwrap_or(last)
            .max(last);
    }
    last
}

/// p50, p99 and max of `times` in ms (zeros when empty).
fn spread(times: &mut [Duration]) -> (f64, f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
    (ms(at(50)), ms(at(99)), ms(times[times.len() - 1]))
}

/// What one phase of the catch-up measurement saw: each read's start and latency, each
/// post's start, latency and outcome (its status code, or why it has none).
#[derive(Default)]
struct Seen {
    reads: Vec<(Instant, Duration)>,
    posts: Vec<(Instant, Duration, String)>,
}

impl Seen {
    /// Prints reads' and posts' p50/p99/max of the part of the phase that started in
    /// `from..to`, and the posts' outcomes; reads' p99 in ms.
    fn print(&self, label: &str, from: Instant, to: Instant) -> f64 {
        let within = |t: &Instant| *t >= from && *t < to;
        let mut reads: Vec<_> = self
            .reads
            .iter()
            .filter(|r| within(&r.0))
            .map(|r| r.1)
            .collect();
        let mut posts: Vec<_> = self
            .posts
            .iter()
            .filter(|p| within(&p.0))
            .map(|p| p.1)
            .collect();
        let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
        for p in self.posts.iter().filter(|p| within(&p.0)) {
            *outcomes.entry(p.2.as_str()).or_default() += 1;
        }
        let (r50, r99, rmax) = spread(&mut reads);
        let (p50, p99, pmax) = spread(&mut posts);
        println!(
            "{label} ({:.1} s): {} reads p50 {r50:.2} ms p99 {r99:.2} ms max {rmax:.2} ms; {} posts \
             p50 {p50:.1} ms p99 {p99:.1} ms max {pmax:.1} ms, outcomes {outcomes:?}",
            (to - from).as_secs_f64(),
            reads.len(),
            posts.len(),
        );
        r99
    }
}

/// 4 readers of `berita-baca` and a post every 200 ms on `berita-tetes` (a captcha challenge,
/// then the post, whose latency alone counts) against `base` until `stop`.
async fn read_and_post_until(base: String, stop: Arc<std::sync::atomic::AtomicBool>) -> Seen {
    use std::sync::atomic::{AtomicU64, Ordering};
    static POSTED: AtomicU64 = AtomicU64::new(0);
    let app = Arc::new(TestApp::external(&base));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (app, stop) = (app.clone(), stop.clone());
        readers.spawn(read_until(app, move || stop.load(Ordering::Relaxed)));
    }
    let poster = tokio::spawn(async move {
        let mut posts = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let n = POSTED.fetch_add(1, Ordering::Relaxed);
            let (token, answer) = app.challenge("berita-tetes").await;
            let body = serde_json::json!({
                "author_name": "Pembaca",
                "author_email": format!("tetes{n}@contoh.id"),
                "body": format!("{HAM} Tetesan nomor {n}."),
                "captcha_token": token,
                "captcha_answer": answer.to_string(),
            });
            let t = Instant::now();
            let sent = app
                .client
                .post(app.url("/api/v1/threads/berita-tetes/comments"))
                .json(&body)
                .timeout(Duration::from_secs(60))
                .send()
                .await;
            let outcome = match sent {
                Ok(resp) => resp.status().as_u16().to_string(),
                Err(e) if e.is_timeout() => "no answer in 60 s".into(),
                Err(e) => format!("error {e}"),
            };
            posts.push((t, t.elapsed(), outcome));
        }
        posts
    });
    let mut seen = Seen::default();
    while let Some(times) = readers.join_next().await {
        seen.reads.extend(times.expect("a reader"));
    }
    seen.posts = poster.await.expect("the poster");
    seen
}

/// The test's clients' runtime: one thread (the caller's: the test's own thread, named after
/// the test), its blocking threads `test-client`.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("test-client")
        .build()
        .expect("the clients' runtime")
}

/// Issue 8's "a slow snapshot does not delay thread reads or posts", as a restart with a
/// backlog: the server runs on a runtime of its own ([`ServerThread`]: 2 workers, named
/// threads), the test's 4 readers (of `berita-baca`, 50 comments) and a poster (one post every
/// 200 ms on `berita-tetes`: a challenge, then the post, whose latency alone counts) on a
/// one-thread runtime.
///
/// 1. A server publishes 50 comments on `berita-baca` and stops cleanly.
/// 2. With it stopped, 100,000 comments (300,000 events; built beforehand, no HTTP, no
///    screening) are appended to its log, the store opened as the app opens it (sealed).
/// 3. It starts again and serves at once while its follower folds the backlog. Phase (a):
///    until `/readyz` answers 200; (b) 10 s quiet; (c) a control that burns, on as many
///    threads, the CPU the server's non-request threads (all but its async workers and the
///    projection read pool) took per second in (a), for as long (at most 30 s).
///
/// Prints per phase reads' and posts' p50/p99/max, the posts' status codes, each thread
/// group's CPU and run-queue wait (`/proc/self/task`), and the catch-up's events/s. Page cache
/// off by default (every read queries the database), the served budget with
/// `SARING_MEASURE_PAGE_CACHE=1`; `SARING_MEASURE_BACKLOG=N` appends N comments.
/// `cargo test --release --test api measure_reads_while_the_follower_catches_up_100000_comments
/// -- --ignored --nocapture`; figures in docs/loadtest.md. Not a pass/fail check.
#[test]
#[ignore]
fn measure_reads_while_the_follower_catches_up_100000_comments() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let backlog: u64 = std::env::var("SARING_MEASURE_BACKLOG")
        .map_or(100_000, |v| v.parse().expect("a number of comments"));
    let cached = std::env::var("SARING_MEASURE_PAGE_CACHE").is_ok_and(|v| v == "1");
    println!("page cache {}", if cached { "on" } else { "off" });
    let dir = tempfile::tempdir().expect("a folder");
    let settings = || {
        let mut s = test_settings(&dir);
        if !cached {
            s.projections.page_cache_bytes = 0;
        }
        s
    };
    let clients = client_runtime();

    let server = ServerThread::start(settings());
    let app = server.client();
    clients.block_on(async {
        app.wait_until_ready().await;
        for n in 0..50 {
            app.comment_ok("berita-baca", &format!("{HAM} Komentar {n}."), "published")
                .await;
        }
    });
    server.stop();

    let built = Instant::now();
    let offline: Vec<_> = (0..backlog).map(backlog_comment).collect();
    let events: usize = offline.iter().map(|(_, e)| e.len()).sum();
    println!(
        "built {backlog} comments ({events} events) in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let appended = Instant::now();
    // Its own runtime, whose blocking threads (which seal new authors) per-thread counters tell
    // from the server's.
    let end = named_runtime(1, "appender", "appender-blk").block_on(async {
        let store = saring::store::open_store(None, dir.path())
            .await
            .expect("the stopped server's store opens");
        append_all(store, offline).await
    });
    println!(
        "appended them to the stopped server's log in {:.1} s; log end {end}",
        appended.elapsed().as_secs_f64()
    );

    // (a) The catch-up, served meanwhile.
    let before_a = thread_times();
    let server = ServerThread::start(settings());
    let app = server.client();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = clients.spawn(read_and_post_until(server.base.clone(), stop.clone()));
    let (first, a_ended) = clients.block_on(async {
        let first = served_readiness(&app).await;
        let deadline = Instant::now() + Duration::from_secs(900);
        while !served_readiness(&app).await.0 {
            assert!(Instant::now() < deadline, "the follower stalled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (first, Instant::now())
    });
    let a_started = server.started;
    let a_secs = (a_ended - a_started).as_secs_f64();
    let a_use = thread_use(&before_a, a_secs);
    stop.store(true, Ordering::Relaxed);
    let during = clients.block_on(seen).expect("the clients");
    println!(
        "/readyz right after the start: ready {}, position {} of {end}; caught up in {a_secs:.1} s \
         ({:.0} events/s, {:.0} comments/s)",
        first.0,
        first.1,
        (end - first.1) as f64 / a_secs,
        backlog as f64 / a_secs,
    );

    // (b) Quiet.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = clients.spawn(read_and_post_until(server.base.clone(), stop.clone()));
    let (before_b, b_started) = (thread_times(), Instant::now());
    clients.block_on(async { tokio::time::sleep(Duration::from_secs(10)).await });
    let b_use = thread_use(&before_b, b_started.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    let quiet = clients.block_on(seen).expect("the clients");
    let b_ended = Instant::now();

    // (c) The control: what the server's non-request threads took during (a), as arithmetic.
    // The clients run on the test's own thread (a current-thread runtime runs on its caller),
    // named after the test.
    let background = |r: &&(String, usize, f64, f64, i64)| {
        !matches!(r.0.as_str(), "srv-worker" | "saring-read-" | "srv-main")
            && !r.0.starts_with("projections::")
    };
    let a_cores: f64 = a_use.iter().filter(background).map(|r| r.2).sum();
    let a_busy = a_use
        .iter()
        .filter(background)
        .filter(|r| r.2 >= 0.1)
        .count();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = clients.spawn(read_and_post_until(server.base.clone(), stop.clone()));
    let (before_c, c_started) = (thread_times(), Instant::now());
    let burners = burn_cpu(a_cores, a_busy, stop.clone());
    let c_secs = Duration::from_secs_f64(a_secs).min(Duration::from_secs(30));
    clients.block_on(async { tokio::time::sleep(c_secs).await });
    let c_use = thread_use(&before_c, c_started.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    let control = clients.block_on(seen).expect("the clients");
    let c_ended = Instant::now();
    for burner in burners {
        burner.join().expect("a burner");
    }

    println!(
        "the control burns {a_cores:.2} cores on {} threads",
        a_busy.max(a_cores.ceil() as usize).max(1),
    );
    print_thread_use("(a) catch-up", &a_use);
    print_thread_use("(b) quiet", &b_use);
    print_thread_use("(c) control", &c_use);
    let a99 = during.print("(a) catch-up", a_started, a_ended);
    let b99 = quiet.print("(b) quiet", b_started, b_ended);
    let c99 = control.print("(c) control", c_started, c_ended);
    println!(
        "reads p99 ratios: catch-up / quiet {:.2}, catch-up / control {:.2}",
        a99 / b99,
        a99 / c99
    );
    let page = clients.block_on(app.get("/api/v1/threads/berita-antrean-7/comments"));
    assert_eq!(page.1["total"], backlog / 100, "{}", page.1["total"]);
    server.stop();
}

/// Whether the server says it is ready, and the position it reports to a moderator.
async fn served_readiness(app: &TestApp) -> (bool, u64) {
    let (status, v) = app.mod_get(AYU, "/readyz").await;
    (
        status == StatusCode::OK,
        v["position"].as_u64().unwrap_or(0),
    )
}
