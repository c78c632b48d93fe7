//! Starting a real server per test, and the few HTTP calls every test makes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use saring::app::Application;
use saring::config::Settings;
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;

/// Moderator tokens every test server knows.
pub const AYU: &str = "token-ayu-1234-abcdefghijkl";
pub const BUDI: &str = "token-budi-5678-abcdefghijk";
/// A site origin every test server allows.
pub const SITE: &str = "https://berita.contoh.id";

/// A comment the default policy publishes.
pub const HAM: &str =
    "Terima kasih atas beritanya. Semoga jalan desa cepat diperbaiki sebelum musim hujan.";
/// A comment the default policy holds: a first comment with a link to an unknown site.
pub const HELD: &str =
    "Informasi lengkapnya ada di https://blog-warga.example.net/jalan-desa kalau mau baca.";
/// A comment the default policy classes as spam: gambling promotion.
pub const SPAM: &str = "Daftar sekarang di GARUDA88 link alternatif, pasti maxwin, wd 5jt tiap hari! Hubungi wa.me/6281234567890";

/// A running server with its own data folder.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the shipped policy folder that a test may edit.
pub fn policy_copy() -> TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).expect("folder");
        for entry in std::fs::read_dir(from).expect("policy folder") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    copy(&manifest_dir().join("policies"), dir.path());
    dir
}

/// Settings for a test server: rate limits off, two moderators, one site origin.
/// A moderator's name for the settings.
pub fn moderator(name: &str) -> saring::domain::values::ModeratorName {
    saring::domain::values::ModeratorName::parse(name).expect("a valid moderator name")
}

pub fn test_settings(dir: &TempDir) -> Settings {
    let mut s = Settings::for_data_dir(dir.path());
    s.policies = manifest_dir().join("policies");
    s.limits = None;
    s.moderator_tokens = vec![
        (moderator("ayu"), SecretString::from(AYU.to_string())),
        (moderator("budi"), SecretString::from(BUDI.to_string())),
    ];
    s.site_origins = vec![SITE.to_string()];
    // Tests of other features post the sum alone; tests/api/pow.rs turns the stamp on.
    s.captcha.pow_difficulty = 0;
    s
}

/// Starts a server with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after letting the test change its settings.
pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temporary folder"), change).await
}

/// Starts a server on an existing data folder (one a stopped server left behind).
pub async fn spawn_app_in(dir: TempDir, change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_and_store(dir, change).await.0
}

/// Starts a server on `dir` and hands back its event store too, for a test that appends
/// beside the service (a backlog for the follower without the posts' work). Returns once
/// `/readyz` answers 200 (the projections caught up with the log), as tests assume.
pub async fn spawn_app_and_store(
    dir: TempDir,
    change: impl FnOnce(&mut Settings),
) -> (TestApp, std::sync::Arc<dyn saring::store::EventStore>) {
    let (app, store) = spawn_app_serving(dir, change).await;
    app.wait_until_ready().await;
    (app, store)
}

/// [`spawn_app_and_store`] without waiting for the catch-up: the server answers at once,
/// `/readyz` 503 until its projections have caught up with the log.
pub async fn spawn_app_serving(
    dir: TempDir,
    change: impl FnOnce(&mut Settings),
) -> (TestApp, std::sync::Arc<dyn saring::store::EventStore>) {
    let mut settings = test_settings(&dir);
    change(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the application starts");
    let store = app.store();
    let base = format!("http://{}", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let _ = app
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });
    (
        TestApp {
            base,
            client: reqwest::Client::new(),
            dir,
            stop: Some(stop),
            handle: Some(handle),
        },
        store,
    )
}

/// How long a started server may take to catch up before a test gives up on it.
pub const READY_DEADLINE: Duration = Duration::from_secs(120);

/// Polls `GET {base}/readyz` over a plain socket until it answers 200, for servers run as child
/// processes from synchronous code (a blocking poll on the test's runtime would stall an
/// in-process server); panics after [`READY_DEADLINE`].
pub fn wait_until_ready_blocking(base: &str) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        let answer = std::net::TcpStream::connect(addr).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            write!(
                s,
                "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head)?;
            Ok(head)
        });
        if answer.is_ok_and(|head| head.ends_with(b" 200")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{base} was not ready within {READY_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl TestApp {
    /// Polls `/readyz` until it answers 200 (the projections caught up with the log); panics
    /// after [`READY_DEADLINE`].
    pub async fn wait_until_ready(&self) {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let ready = self.client.get(self.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} was not ready within {READY_DEADLINE:?}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A client for a server that runs elsewhere (a child process); `dir` is unused.
    pub fn external(base: &str) -> TestApp {
        TestApp {
            base: format!("http://{base}").replace("http://http://", "http://"),
            client: reqwest::Client::new(),
            dir: tempfile::tempdir().expect("temporary folder"),
            stop: None,
            handle: None,
        }
    }
}

impl TestApp {
    /// Stops the server cleanly (as on SIGTERM) and waits until it has finished, returning its
    /// data folder.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("the server task ends without panicking");
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Solves a captcha question the way a bot would, from its text.
pub fn solve(question: &str) -> i64 {
    saring::captcha::solve_question(question).expect("a question the test can solve")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The body of a GET as text, whatever its type.
    pub async fn text(&self, path: &str) -> String {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        resp.text().await.expect("a body")
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The Prometheus text of `/metrics`, read as moderator `AYU`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(AYU)
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("metrics")
    }

    /// A fresh challenge for a thread: (token, answer).
    pub async fn challenge(&self, thread: &str) -> (String, i64) {
        let (status, c) = self.get(&format!("/api/v1/captcha?thread={thread}")).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        (
            c["token"].as_str().expect("token").to_string(),
            solve(c["question"].as_str().expect("question")),
        )
    }

    /// Posts raw JSON to a thread.
    pub async fn post_json(&self, thread: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(self.url(&format!("/api/v1/threads/{thread}/comments")))
            .json(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The whole reader flow: fetch a captcha, solve it, post.
    pub async fn comment(
        &self,
        thread: &str,
        name: &str,
        email: &str,
        body: &str,
        parent: Option<&str>,
    ) -> (StatusCode, Value) {
        let (token, answer) = self.challenge(thread).await;
        let mut payload = json!({
            "author_name": name,
            "author_email": email,
            "body": body,
            "captcha_token": token,
            "captcha_answer": answer.to_string(),
        });
        if let Some(p) = parent {
            payload["parent_id"] = json!(p);
        }
        self.post_json(thread, &payload).await
    }

    /// A comment that must be accepted with the given status; returns its id.
    pub async fn comment_ok(&self, thread: &str, body: &str, expect_status: &str) -> String {
        let email = format!("{}@contoh.id", uuid_like());
        let (status, v) = self.comment(thread, "Pembaca", &email, body, None).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], expect_status, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    pub async fn mod_get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn mod_post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The comment's current version, from the moderator detail.
    pub async fn version(&self, id: &str) -> u64 {
        let (status, v) = self
            .mod_get(AYU, &format!("/api/v1/mod/comments/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["version"].as_u64().expect("version")
    }

    pub async fn decide(
        &self,
        token: &str,
        id: &str,
        action: &str,
        expected: u64,
    ) -> (StatusCode, Value) {
        self.mod_post(
            token,
            &format!("/api/v1/mod/comments/{id}/decision"),
            &json!({ "action": action, "expected_version": expected, "reason": "uji" }),
        )
        .await
    }

    /// The ids in a thread's first page, depth first.
    pub async fn thread_ids(&self, thread: &str) -> Vec<String> {
        let (status, v) = self
            .get(&format!("/api/v1/threads/{thread}/comments"))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let mut ids = Vec::new();
        fn walk(list: &Value, ids: &mut Vec<String>) {
            for c in list.as_array().into_iter().flatten() {
                ids.push(c["id"].as_str().unwrap_or_default().to_string());
                walk(&c["replies"], ids);
            }
        }
        walk(&v["comments"], &mut ids);
        ids
    }
}

/// A unique-enough local part for emails, so first-comment rules see a new author each time.
pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "pembaca{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh database on the PostgreSQL server that `SARING_TEST_PG` names, for a test that needs
/// PostgreSQL; `None` (with a line on stderr saying how to run it) when the variable is unset.
pub async fn postgres_test_database() -> Option<String> {
    let Ok(admin) = std::env::var("SARING_TEST_PG") else {
        eprintln!("SKIPPED: set SARING_TEST_PG=postgres://user@host:port/db to run it");
        return None;
    };
    Some(
        saring::store::postgres::create_test_database(&admin)
            .await
            .expect("a test database"),
    )
}

/// The `n`th of a measurement's generated comments, written straight into the projections: on
/// one of `threads` threads, one second after the one before it, from one of 5,000 readers.
pub fn generated_record(
    n: u64,
    threads: u64,
    body_html: String,
    status: saring::domain::CommentStatus,
) -> saring::projections::CommentRecord {
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
    saring::projections::CommentRecord {
        id: uuid::Uuid::from_u128(u128::from(n) + 1),
        thread: format!("berita-{}", n % threads),
        parent_id: None,
        author_name: format!("Pembaca {n}"),
        author_email: format!("pembaca{}@contoh.id", n % 5000),
        author_url: None,
        ip_key: format!("203.0.{}.{}/32", (n / 256) % 256, n % 256),
        body_html,
        created_at: start + chrono::Duration::seconds(n as i64),
        status: Some(status),
        status_before_delete: None,
        seq: n + 1,
        version: 2,
        score: 1.0,
        outcome: None,
        reports: 0,
        borrowed: false,
        erased: false,
    }
}

/// A server on a runtime of its own: a `std::thread` running a 2-worker tokio runtime (as on
/// the 2-core machine) whose workers are named `srv-worker` and its blocking threads
/// `srv-blocking`, so a measurement's per-thread counters tell the server's threads from the
/// test's clients, which run on another runtime.
pub struct ServerThread {
    /// `http://ADDR` of the listener.
    pub base: String,
    /// When the builder started (the catch-up's start).
    pub started: Instant,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Builds and runs the application on `settings` in its own thread and runtime; returns
    /// once it listens (its projections may still be catching up: see `/readyz`).
    pub fn start(settings: Settings) -> ServerThread {
        let started = Instant::now();
        let (ready, built) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("srv-main".into())
            .spawn(move || {
                let runtime = named_runtime(2, "srv-worker", "srv-blocking");
                runtime.block_on(async move {
                    let app = Application::build(settings)
                        .await
                        .expect("the application starts");
                    let _ = ready.send(app.addr());
                    let _ = app
                        .run_until(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .expect("the server's thread");
        let addr = built
            .recv()
            .expect("the server builds and hands back its address");
        ServerThread {
            base: format!("http://{addr}"),
            started,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A client for this server (on the caller's runtime).
    pub fn client(&self) -> TestApp {
        TestApp::external(&self.base)
    }

    /// Stops the server cleanly (as on SIGTERM) and waits until its thread has ended.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join()
                .expect("the server's thread ends without panicking");
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A multi-thread runtime of `workers` workers named `worker`, its blocking threads named
/// `blocking`, so that per-thread counters (`/proc/self/task/*/stat`) tell one runtime's
/// threads from another's in the same process.
pub fn named_runtime(
    workers: usize,
    worker: &'static str,
    blocking: &'static str,
) -> tokio::runtime::Runtime {
    // The runtime starts its workers first; every later thread is a blocking one.
    let spawned = std::sync::atomic::AtomicUsize::new(0);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .thread_name_fn(move || {
            let n = spawned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n < workers { worker } else { blocking }.to_string()
        })
        .build()
        .expect("a runtime")
}
