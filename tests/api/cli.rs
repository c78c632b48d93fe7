//! The command line: `policy check`, `policy test` and `policy backtest` on a real data folder,
//! and restarts that resume from the projection database.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::restart::Server;

fn saring(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(args)
        .current_dir(manifest_dir())
        .env("SARING_CONFIG", "/dev/null")
        .output()
        .expect("the saring binary runs")
}

#[test]
fn policy_check_counts_rules_and_points_at_errors() {
    let ok = saring(&["policy", "check", "policies"]);
    assert!(ok.status.success());
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.contains("rules:") && out.contains("words"), "{out}");

    let dir = policy_copy();
    let file = dir.path().join("default.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replacen("hold = 5.0", "hold = \"lima\"", 1);
    std::fs::write(&file, text).unwrap();
    let bad = saring(&["policy", "check", dir.path().to_str().unwrap()]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("default.toml:") && err.matches(':').count() >= 3,
        "file:line:column in {err}"
    );
}

#[test]
fn policy_test_scores_a_labelled_file_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("comments.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            serde_json::json!({"body": HAM, "author_name": "Sari", "label": "ham"}),
            serde_json::json!({"body": SPAM, "author_name": "Gacor", "label": "spam"}),
        ),
    )
    .unwrap();
    let out = saring(&[
        "policy",
        "test",
        "--policy",
        "policies",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON verdict a line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "accept");
    assert_eq!(lines[1]["verdict"], "spam");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        report.to_lowercase().contains("precision") && report.to_lowercase().contains("recall"),
        "{report}"
    );
}

#[tokio::test]
async fn backtest_replays_stored_submissions_through_a_candidate_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let app = TestApp::external(&server.base);
    app.comment_ok("berita-uji", HAM, "published").await;
    let held = app.comment_ok("berita-uji", HELD, "pending").await;
    let version = app.version(&held).await;
    assert_eq!(
        app.decide(AYU, &held, "spam", version).await.0,
        StatusCode::OK
    );
    server.kill();

    // A candidate that holds everything: every published comment would change.
    let candidate = tempfile::tempdir().unwrap();
    std::fs::write(
        candidate.path().join("default.toml"),
        "[policy]\nname = \"hold-all\"\n\n[thresholds]\nhold = 0.0\nspam = 100.0\n",
    )
    .unwrap();
    let out = saring(&[
        "policy",
        "backtest",
        "--policy",
        candidate.path().to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One JSON line per comment whose outcome would change, then a summary on stderr.
    let changes: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per change"))
        .collect();
    assert!(
        changes
            .iter()
            .any(|c| c["recorded"] == "accept" && c["candidate"] == "hold"),
        "{changes:?}"
    );
    // The held comment that a moderator marked spam stays held: no change for it.
    assert!(
        changes.iter().all(|c| c["comment_id"] != held.as_str()),
        "{changes:?}"
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("replayed 2 submissions"), "{summary}");
    assert!(
        summary.contains("agreement with 1 moderator decisions"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_restart_loads_the_projections_from_their_database_instead_of_replaying_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    for i in 0..3 {
        app.comment_ok(
            "berita-snap",
            &format!("Komentar biasa nomor {i} soal pasar."),
            "published",
        )
        .await;
    }
    let (_, before) = app.get("/api/v1/threads/berita-snap/comments").await;
    // Killed, not stopped: every applied batch is already in the database.
    server.kill();

    let server = Server::start(&data);
    let app = TestApp::external(&server.base);
    let (_, after) = app.get("/api/v1/threads/berita-snap/comments").await;
    assert_eq!(before, after);
    assert!(
        server.log().contains("comments=3") && server.log().contains("loaded the projections"),
        "{}",
        server.log()
    );
    server.kill();
}

#[test]
fn hash_token_reads_the_secret_from_standard_input() {
    use std::io::Write;
    let run = |input: &str, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_saring"))
            .args(args)
            .current_dir(manifest_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the saring binary runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("output")
    };
    let ok = run("a-long-random-moderator-token-42\n", &["hash-token"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let hash = String::from_utf8_lossy(&ok.stdout).trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let short = run("short-token\n", &["hash-token"]);
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("24 characters"));
    // The secret is not accepted on the command line any more.
    let argv = run("", &["hash-token", "a-long-random-moderator-token-42"]);
    assert!(!argv.status.success());
}
