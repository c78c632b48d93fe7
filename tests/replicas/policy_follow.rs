//! A policy reload through one replica's API reaches the other through the log, with file
//! watching off so that nothing but the `PolicyActivated` event can carry it; a replica whose
//! folder lacks the new files says so in `/metrics` and its log instead of running them.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::replica::*;

/// Appends a comment line to the policy file: a new version, the same rules.
fn edit_policy(folder: &std::path::Path, line: &str) {
    let file = folder.join("default.toml");
    let mut text = std::fs::read_to_string(&file).expect("policy file");
    text.push_str(&format!("\n# {line}\n"));
    std::fs::write(&file, text).expect("write the policy");
}

async fn version(app: &TestApp) -> String {
    let (status, p) = app.mod_get(AYU, "/api/v1/mod/policy").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    p["version"].as_str().expect("version").to_string()
}

async fn reload(app: &TestApp) -> String {
    let (status, v) = app
        .mod_post(AYU, "/api/v1/mod/policy/reload", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["version"].as_str().expect("version").to_string()
}

/// The value of `saring_policy_drift` in a replica's `/metrics`.
async fn drift(app: &TestApp) -> Option<f64> {
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("saring_policy_drift "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_on_one_replica_reaches_the_other() {
    let _gate = PG_GATE.read().await;
    let Some(db) = fresh_database("policy reloads across replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    // Each replica has its own copy of the files, as on two machines, and watches none of them.
    let (files_a, files_b) = (policy_copy(), policy_copy());
    let no_watch = [("SARING_POLICY_WATCH", "off")];
    let ra = Replica::start_with(&db, &dir.path().join("a"), Some(files_a.path()), &no_watch);
    let rb = Replica::start_with(&db, &dir.path().join("b"), Some(files_b.path()), &no_watch);
    let (a, b) = (&ra.app, &rb.app);
    let old = version(a).await;
    assert_eq!(version(b).await, old, "both start on the same files");

    // The deployment puts the new files on both machines; the operator reloads one replica.
    edit_policy(files_a.path(), "deployed to both");
    edit_policy(files_b.path(), "deployed to both");
    assert_eq!(
        version(b).await,
        old,
        "unwatched files are not read by themselves"
    );
    let new = reload(a).await;
    assert_ne!(new, old);
    eventually("the other replica runs the reloaded policy", || async {
        (version(b).await == new).then_some(())
    })
    .await;
    // The gauge is set just after the new policy is in force, so it is polled too.
    eventually("the other replica reports no drift", || async {
        (drift(b).await == Some(0.0)).then_some(())
    })
    .await;

    // A reload of files that reached only one machine: the other keeps what it has and says so.
    edit_policy(files_a.path(), "deployed to one machine only");
    let newer = reload(a).await;
    eventually(
        "the replica without the files reports the drift",
        || async { (drift(b).await == Some(1.0)).then_some(()) },
    )
    .await;
    assert_eq!(version(b).await, new, "it keeps the policy it can read");
    assert!(
        rb.log().contains("does not have"),
        "the drift is logged:\n{}",
        rb.log()
    );
    eventually("the reloading replica reports no drift", || async {
        (drift(a).await == Some(0.0)).then_some(())
    })
    .await;

    // Once its files are there, its own reload brings it in step and clears the gauge.
    edit_policy(files_b.path(), "deployed to one machine only");
    assert_eq!(reload(b).await, newer);
    eventually("the drift clears", || async {
        (drift(b).await == Some(0.0)).then_some(())
    })
    .await;
}
