//! One `saring serve` child process on PostgreSQL, and the shared test plumbing: fresh databases,
//! polling with a deadline, and the gate that keeps an outage test from stopping the server
//! under the other tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{AYU, BUDI, TestApp, manifest_dir, wait_until_ready_blocking};

/// A deadline for what must happen "soon" (another replica catching up, a server starting):
/// generous, so a loaded build machine does not fail the test; the time actually taken is
/// printed where it is a figure of interest.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The captcha secret every replica of a test shares, as replicas behind one balancer must.
const SHARED_SECRET: &str = "replica-test-secret-0123456789abcdef";

/// Tests that stop the PostgreSQL server take this for writing; every other test reads it.
pub static PG_GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The URL of a fresh database on the `SARING_TEST_PG` server, or `None` (after saying
/// `SKIPPED` on stderr) when it is unset.
pub async fn fresh_database(what: &str) -> Option<String> {
    let Ok(admin) = std::env::var("SARING_TEST_PG") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {what}: set SARING_TEST_PG=postgres://user@host:port/db to run it"
        );
        return None;
    };
    Some(
        saring::store::postgres::create_test_database(&admin)
            .await
            .expect("create a test database on SARING_TEST_PG"),
    )
}

/// A running `saring serve` on a PostgreSQL database.
pub struct Replica {
    child: Child,
    /// An HTTP client for it.
    pub app: TestApp,
    log: PathBuf,
}

impl Replica {
    /// Starts the binary on `store` with its data folder `data_dir` and policy folder `policies`
    /// (the shipped one when `None`); rate limits off, the moderators `ayu` and `budi`.
    pub fn start(store: &str, data_dir: &Path, policies: Option<&Path>) -> Replica {
        Replica::start_with(store, data_dir, policies, &[])
    }

    /// [`Replica::start`] with more environment variables.
    pub fn start_with(
        store: &str,
        data_dir: &Path,
        policies: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Replica {
        std::fs::create_dir_all(data_dir).expect("data folder");
        let log = data_dir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let policies = policies.map_or_else(|| manifest_dir().join("policies"), Path::to_path_buf);
        let mut child = Command::new(env!("CARGO_BIN_EXE_saring"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--policies")
            .arg(policies)
            .arg("--store")
            .arg(store)
            .env("SARING_MODERATOR_TOKENS", format!("ayu:{AYU},budi:{BUDI}"))
            .env("SARING_RATE_LIMITS", "off")
            // These tests post the sum alone; the proof of work has its own tests.
            .env("SARING_POW_DIFFICULTY", "0")
            .env("SARING_CAPTCHA_SECRET", SHARED_SECRET)
            .env("SARING_CONFIG", "/dev/null")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
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
        let base = match rx.recv_timeout(DEADLINE) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not announce its address; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        // It answers at once; the tests assume the projections caught up with the log.
        wait_until_ready_blocking(&base);
        let mut app = TestApp::external(&base);
        // Generous: a request during a database outage may wait for the store's own timeouts.
        app.client = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("client");
        Replica { child, app, log }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process with SIGKILL (no shutdown code runs) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("last lines of the replica's log:");
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it gives `Some`, or panics with `what` when [`DEADLINE`] passes.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every comment id in a thread, over all its pages, depth first.
pub async fn all_thread_ids(app: &TestApp, thread: &str) -> Vec<String> {
    fn walk(list: &Value, ids: &mut Vec<String>) {
        for c in list.as_array().into_iter().flatten() {
            ids.push(c["id"].as_str().unwrap_or_default().to_string());
            walk(&c["replies"], ids);
        }
    }
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let (status, v) = app
            .get(&format!("/api/v1/threads/{thread}/comments?page={page}"))
            .await;
        assert!(
            status.is_success(),
            "thread {thread} page {page}: {status} {v}"
        );
        walk(&v["comments"], &mut ids);
        match v["next"].as_u64() {
            Some(next) => page = next as usize,
            None => return ids,
        }
    }
}

/// Every comment id in a moderator queue, over all its pages.
pub async fn all_queue_ids(app: &TestApp, status: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, v) = app
            .mod_get(
                AYU,
                &format!("/api/v1/mod/queue?status={status}&limit=500&cursor={cursor}"),
            )
            .await;
        assert!(code.is_success(), "queue {status}: {code} {v}");
        for item in v["items"].as_array().into_iter().flatten() {
            ids.push(item["id"].as_str().unwrap_or_default().to_string());
        }
        match v["next"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return ids,
        }
    }
}

/// The projection position a replica has reached (`/readyz` with a moderator token).
pub async fn position(app: &TestApp) -> u64 {
    let (_, v) = app.mod_get(AYU, "/readyz").await;
    v["position"].as_u64().unwrap_or(0)
}
