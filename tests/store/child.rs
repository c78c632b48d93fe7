//! Child processes for the lock and crash tests: the test binary re-runs itself with one of
//! these ignored tests selected and an environment variable saying what to do.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use saring::store::postgres::PostgresStore;
use saring::store::sqlite::SqliteStore;
use saring::store::{EventStore, ExpectedRevision, NewEvent, StoreError};
use serde_json::json;

/// Environment variable naming the data folder the child works in.
pub const DIR_VAR: &str = "SARING_STORE_TEST_CHILD_DIR";
/// Environment variable with a PostgreSQL URL: when set, the crash writer appends there instead
/// of to the SQLite store in the folder.
pub const PG_VAR: &str = "SARING_STORE_TEST_CHILD_PG";

/// A command that runs this test binary's ignored test `name` in a child process on `dir`.
pub fn child_command(name: &str, dir: &std::path::Path) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        name,
        "--nocapture",
        "--test-threads=1",
    ])
    .env(DIR_VAR, dir)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    cmd
}

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(DIR_VAR).map(PathBuf::from)
}

/// Tries to open the store and says on stdout whether the folder was locked.
#[test]
#[ignore = "run as a child process by lock::second_process_is_refused"]
fn child_open_store() {
    let dir = child_dir().expect("run by the lock test with the folder in the environment");
    let line = match SqliteStore::open(&dir) {
        Ok(_) => "RESULT OPENED".to_string(),
        Err(StoreError::Locked(msg)) => format!("RESULT LOCKED {msg}"),
        Err(e) => format!("RESULT ERROR {e}"),
    };
    println!("{line}");
}

/// Appends as fast as it can with several concurrent writers and prints every acknowledged
/// append right after `append` returns, until it is killed.
#[test]
#[ignore = "run as a child process by crash::acknowledged_appends_survive_sigkill"]
fn child_crash_writer() {
    let dir = child_dir().expect("run by the crash test with the folder in the environment");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store: Arc<dyn EventStore> = match std::env::var(PG_VAR) {
            Ok(url) => Arc::new(PostgresStore::connect(&url).await.expect("connect to PostgreSQL")),
            Err(_) => Arc::new(SqliteStore::open(&dir).expect("open store")),
        };
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut tasks = Vec::new();
        for w in 0..8u64 {
            let store = Arc::clone(&store);
            let run = run.clone();
            tasks.push(tokio::spawn(async move {
                // Two streams per writer, so revisions of one stream come from one writer only.
                let mut next = [0u64, 0u64];
                for seq in 0..1_000_000u64 {
                    let which = (seq % 2) as usize;
                    let stream = format!("crash-{run}-{w}-{which}");
                    let count = 1 + (seq % 3);
                    let events: Vec<NewEvent> = (0..count)
                        .map(|k| {
                            let pad = "ü".repeat(((seq * 7 + k * 13) % 400) as usize);
                            NewEvent::new("Crashed", json!({ "stream": stream, "rev": next[which] + k, "pad": pad, "len": pad.chars().count() }))
                        })
                        .collect();
                    let expected = if next[which] == 0 { ExpectedRevision::NoStream } else { ExpectedRevision::Exact(next[which] - 1) };
                    let r = store.append(&stream, expected, events).await.expect("append");
                    next[which] = r.next_revision + 1;
                    let mut out = std::io::stdout().lock();
                    // A closed pipe means the parent is gone: stop.
                    if writeln!(out, "ACK {stream} {} {} {count}", r.next_revision, r.position).and_then(|_| out.flush()).is_err() {
                        std::process::exit(0);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("writer");
        }
    });
}
