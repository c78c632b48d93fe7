//! Nothing acknowledged is lost: a server killed with SIGKILL comes back with the same threads
//! and queues. These tests run the real binary as a child process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

/// The real binary as a child process.
pub struct Server {
    child: Child,
    pub base: String,
    log: std::path::PathBuf,
}

impl Server {
    /// Starts the binary on a data folder with no settings file.
    pub fn start(data_dir: &std::path::Path) -> Server {
        Server::start_with_config(data_dir, std::path::Path::new("/dev/null"))
    }

    /// Starts the binary with a settings file; its log goes to a file beside the data folder.
    pub fn start_with_config(data_dir: &std::path::Path, config: &std::path::Path) -> Server {
        std::fs::create_dir_all(data_dir).expect("data folder");
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_saring"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--policies")
            .arg(manifest_dir().join("policies"))
            .env("SARING_MODERATOR_TOKENS", format!("ayu:{AYU}"))
            .env("SARING_RATE_LIMITS", "off")
            // These tests post the sum alone; tests/api/pow.rs covers the proof of work.
            .env("SARING_POW_DIFFICULTY", "0")
            .env("SARING_CONFIG", config)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("the saring binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("saring listening on ") {
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server announces its address");
        // It answers at once; the tests assume the projections caught up with the log.
        wait_until_ready_blocking(&base);
        Server { child, base, log }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM (a clean stop) and waits for the process to exit, polling with a deadline.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix: no shutdown code runs.
        let _ = self.child.wait();
    }
}

async fn snapshot(app: &TestApp) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    let (_, thread) = app.get("/api/v1/threads/berita-restart/comments").await;
    let (_, pending) = app.mod_get(AYU, "/api/v1/mod/queue?status=pending").await;
    let (_, spam) = app.mod_get(AYU, "/api/v1/mod/queue?status=spam").await;
    (thread, pending, spam)
}

#[tokio::test]
async fn a_killed_server_comes_back_with_the_same_threads_and_queues() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path());
    let app = client_for(&first.base);
    let a = app.comment_ok("berita-restart", HAM, "published").await;
    app.comment_ok("berita-restart", HELD, "pending").await;
    app.comment_ok("berita-restart", SPAM, "pending").await;
    app.comment(
        "berita-restart",
        "B",
        "b@contoh.id",
        "Balasan untuk Sari.",
        Some(&a),
    )
    .await;
    let before = snapshot(&app).await;
    assert_eq!(before.0["total"], 2);
    first.kill();

    let started = Instant::now();
    let second = Server::start(dir.path());
    let app = client_for(&second.base);
    let after = snapshot(&app).await;
    assert_eq!(before, after);
    eprintln!("restart took {:?}", started.elapsed());
    // Posting still works after the restart.
    app.comment_ok(
        "berita-restart",
        "Komentar setelah mulai ulang.",
        "published",
    )
    .await;
    second.kill();
}

/// A client for a server started outside the test process.
fn client_for(base: &str) -> TestApp {
    TestApp::external(base)
}

#[tokio::test]
async fn a_second_process_on_the_same_data_folder_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--policies")
        .arg(manifest_dir().join("policies"))
        .env("SARING_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
    let app = client_for(&first.base);
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    first.kill();
}

#[tokio::test]
async fn a_clean_stop_loses_no_acknowledged_request() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path());
    let app = std::sync::Arc::new(client_for(&first.base));
    // (id, status) of every post answered 201.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let mut posts = tokio::task::JoinSet::new();
    // Fewer than a page (20), so the first page shows every one.
    for n in 0..16 {
        let (app, acknowledged) = (app.clone(), acknowledged.clone());
        posts.spawn(async move {
            let Ok(c) = app
                .client
                .get(app.url("/api/v1/captcha?thread=berita-stop"))
                .send()
                .await
            else {
                return;
            };
            let Ok(c) = c.json::<serde_json::Value>().await else {
                return;
            };
            let body = serde_json::json!({
                "author_name": "Pembaca",
                "author_email": format!("stop{n}@contoh.id"),
                "body": HAM,
                "captcha_token": c["token"],
                "captcha_answer": solve(c["question"].as_str().unwrap_or_default()).to_string(),
            });
            let sent = app
                .client
                .post(app.url("/api/v1/threads/berita-stop/comments"))
                .json(&body)
                .send()
                .await;
            // Refused or cut connections are not acknowledged; only a 201 is.
            if let Ok(resp) = sent
                && resp.status() == StatusCode::CREATED
                && let Ok(v) = resp.json::<serde_json::Value>().await
            {
                let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                acknowledged
                    .lock()
                    .unwrap()
                    .push((field("id"), field("status")));
            }
        });
    }
    // Stop while the posts are under way: as soon as the first one is acknowledged.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no post was acknowledged");
        tokio::task::yield_now().await;
    }
    let status = tokio::task::spawn_blocking(move || first.terminate())
        .await
        .unwrap();
    assert!(status.success(), "a clean stop exits 0: {status:?}");
    while posts.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty());
    eprintln!("{} of 16 posts acknowledged", acknowledged.len());

    // The projections are kept in their own database file, not in a snapshot.
    assert!(dir.path().join("projections.sqlite3").exists());
    assert!(
        !dir.path()
            .join("snapshots/projections.snapshot.json")
            .exists()
    );

    let second = Server::start(dir.path());
    let app = client_for(&second.base);
    let shown = app.thread_ids("berita-stop").await;
    for (id, answered) in &acknowledged {
        let (status, record) = app
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "acknowledged {id} is lost: {record}"
        );
        if answered == "published" {
            assert_eq!(record["status"], "published");
            assert!(
                shown.contains(id),
                "published {id} is missing from the thread"
            );
        }
    }
    second.kill();
}

#[tokio::test]
async fn a_token_burnt_by_a_wrong_answer_stays_burnt_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path());
    let app = client_for(&first.base);
    let (token, answer) = app.challenge("berita-bakar").await;
    let post = |answer: i64| {
        serde_json::json!({
            "author_name": "Pembaca",
            "author_email": "bakar@contoh.id",
            "body": HAM,
            "captcha_token": token,
            "captcha_answer": answer.to_string(),
        })
    };
    let (status, v) = app.post_json("berita-bakar", &post(answer + 1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "captcha_wrong", "{v}");
    // No clean stop: the burn must be on disk once the wrong answer was answered.
    first.kill();

    let second = Server::start(dir.path());
    let app = client_for(&second.base);
    let (status, v) = app.post_json("berita-bakar", &post(answer)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the burnt token worked again: {v}"
    );
    assert_eq!(v["error"]["code"], "captcha_invalid", "{v}");
    // A fresh token still works.
    app.comment_ok("berita-bakar", HAM, "published").await;
    second.kill();
}

/// mimalloc asks for transparent huge pages on its arenas, and each 2 MiB page counts whole in
/// the server's RSS as soon as one byte of it is used (docs/loadtest.md, "Where the server's
/// memory goes"): the server turns them off for itself.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_keeps_its_heap_out_of_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let app = client_for(&server.base);
    app.comment_ok("berita-thp", HAM, "published").await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    // Kernels before 5.0 do not report the flag; there is nothing to check on them.
    if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
    server.kill();
}
