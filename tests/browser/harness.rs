//! Processes the browser test needs: the real `saring` server, chromedriver and WebDriver sessions.
//! Every child is killed when its guard drops, so a failing assertion leaves nothing running.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long any single wait in the scenario may take before the test fails: generous, because
/// the browser tests run side by side with the rest of the suite on two cores (a proof of work
/// in the page once took longer than 20 s there).
pub const DEADLINE: Duration = Duration::from_secs(45);

/// A child process killed on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The chromedriver to drive Chromium with, or `None` after saying SKIPPED on stderr (straight
/// there: the test harness captures `println!`, and a skip must be seen) when either is missing.
pub fn chromedriver_or_skip() -> Option<PathBuf> {
    match (which("chromedriver"), which("chromium")) {
        (Some(chromedriver), Some(_)) => Some(chromedriver),
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: install chromium and chromium-driver"
            );
            None
        }
    }
}

/// A comment's status, from the moderator API (`token` is a moderator's bearer token).
pub async fn comment_status(base: &str, token: &str, id: &str) -> Result<String> {
    let detail: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/mod/comments/{id}"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    Ok(detail["status"].as_str().unwrap_or_default().to_string())
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(listener.local_addr()?.port())
}

/// The saring server started from the binary cargo built for this test.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Where the server's stderr goes, shown when the test fails.
    pub log: PathBuf,
    _child: Guard,
}

impl Server {
    /// Starts `saring serve --listen 127.0.0.1:0` on a fresh data folder and waits for the
    /// "saring listening on http://…" line on its stdout.
    pub fn start(data_dir: &Path, moderator_token: &str) -> Result<Server> {
        let log = data_dir.join("server.log");
        let stderr = File::create(&log).context("creating the server log")?;
        // Two top-level comments per page, so a handful of comments already needs paging.
        let config = data_dir.join("saring.toml");
        std::fs::write(&config, "[threads]\nper_page = 2\n").context("writing saring.toml")?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_saring"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.join("data"))
            .arg("--config")
            .arg(&config)
            .env(
                "SARING_MODERATOR_TOKENS",
                format!("alice:{moderator_token}"),
            )
            .env("SARING_RATE_LIMITS", "off")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting the saring binary")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let child = Guard(child);
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout after the first line so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| {
                anyhow!(
                    "the server printed no address within 60 s; its log:\n{}",
                    tail(&log)
                )
            })?;
            if let Some(at) = line.find("http://") {
                let base: String = line[at..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                return Ok(Server {
                    base: base.trim_end_matches('/').to_string(),
                    log,
                    _child: child,
                });
            }
        }
    }
}

/// The last lines of a log file, for failure messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A running chromedriver.
pub struct Driver {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    _child: Guard,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until `/status` says ready.
    pub async fn start(chromedriver: &Path, log_dir: &Path) -> Result<Driver> {
        let port = free_port()?;
        let log = File::create(log_dir.join("chromedriver.log"))?;
        let child = Guard(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("starting chromedriver")?,
        );
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(resp) = http.get(format!("{url}/status")).send().await
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(Driver { url, _child: child });
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not become ready on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a headless Chromium session with a fresh profile; `javascript: false` turns
    /// scripts off through the profile preferences, as a reader who disabled them would have.
    pub async fn session(&self, profile: &Path, javascript: bool) -> Result<Client> {
        let mut options = json!({
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1280,2200", "--lang=id-ID",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        if let Some(binary) = which("chromium") {
            options["binary"] = json!(binary);
        }
        if !javascript {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(caps) = caps else {
            bail!("capabilities must be an object");
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .context("opening a Chromium session")
    }

    /// Reads (and clears) the browser console log of a session: `(level, source, message)`.
    pub async fn console(&self, client: &Client) -> Result<Vec<(String, String, String)>> {
        let id = client
            .session_id()
            .await?
            .context("the session has an id")?;
        let body: Value = reqwest::Client::new()
            .post(format!("{}/session/{id}/se/log", self.url))
            .json(&json!({"type": "browser"}))
            .send()
            .await?
            .json()
            .await?;
        let entries = body["value"].as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("level"), s("source"), s("message"))
            })
            .collect())
    }
}

/// Polls a JavaScript expression in the page until it is truthy; returns its value.
pub async fn wait_js(client: &Client, expr: &str, what: &str) -> Result<Value> {
    wait_js_for(client, expr, what, DEADLINE).await
}

/// [`wait_js`] with its own time limit.
pub async fn wait_js_for(
    client: &Client,
    expr: &str,
    what: &str,
    limit: Duration,
) -> Result<Value> {
    let deadline = Instant::now() + limit;
    let script = format!("try {{ return ({expr}); }} catch (e) {{ return null; }}");
    loop {
        let v = client.execute(&script, vec![]).await?;
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if truthy {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (`{expr}` was {v})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for an element by CSS selector.
pub async fn wait_css(client: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(DEADLINE)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting for `{css}`"))
}

/// Saves a screenshot as `<target>/screenshots/browser-<name>.png` and returns its path.
pub async fn screenshot(client: &Client, name: &str) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("browser-{name}.png"));
    std::fs::write(&path, client.screenshot().await?)?;
    Ok(path)
}

/// Answers the fill-in-the-blank sum the way a reader does: `[ ] − 3 = 3` → 6.
pub fn solve(question: &str) -> Option<i64> {
    let q = question
        .replace("[ ]", " ? ")
        .replace(['−', '–'], " - ")
        .replace(['×', '*'], " x ")
        .replace('+', " + ")
        .replace('=', " = ");
    let tokens: Vec<&str> = q.split_whitespace().collect();
    let [a, op, b, "=", c] = tokens.as_slice() else {
        return None;
    };
    let num = |s: &str| s.parse::<i64>().ok();
    match (num(a), num(b), num(c), *op) {
        (None, Some(b), Some(c), "+") => Some(c - b),
        (None, Some(b), Some(c), "-") => Some(c + b),
        (None, Some(b), Some(c), "x") if b != 0 => Some(c / b),
        (Some(a), None, Some(c), "+") => Some(c - a),
        (Some(a), None, Some(c), "-") => Some(a - c),
        (Some(a), None, Some(c), "x") if a != 0 => Some(c / a),
        (Some(a), Some(b), None, "+") => Some(a + b),
        (Some(a), Some(b), None, "-") => Some(a - b),
        (Some(a), Some(b), None, "x") => Some(a * b),
        _ => None,
    }
}

#[test]
fn solves_every_shape_of_question() {
    assert_eq!(solve("[ ] − 3 = 3"), Some(6));
    assert_eq!(solve("4 + [ ] = 9"), Some(5));
    assert_eq!(solve("2 × 7 = [ ]"), Some(14));
    assert_eq!(solve("[ ] × 4 = 12"), Some(3));
    assert_eq!(solve("9 − [ ] = 2"), Some(7));
    assert_eq!(solve("nonsense"), None);
}
