//! Crash safety: a child appends with several writers and is killed with SIGKILL at a random
//! moment; every append it saw acknowledged must be there after reopening, whole and in order.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};

use rand::Rng;
use saring::store::postgres::PostgresStore;
use saring::store::sqlite::SqliteStore;
use saring::store::{EventStore, RecordedEvent};

use crate::child::child_command;

/// One acknowledged append as the child printed it.
#[derive(Debug)]
struct Ack {
    stream: String,
    last_revision: u64,
    last_position: u64,
    count: u64,
}

fn parse_ack(line: &str) -> Option<Ack> {
    // libtest prints "test <name> ... " without a newline before the first line of the child.
    let start = line.find("ACK ")? + "ACK ".len();
    let mut parts = line[start..].split(' ');
    let ack = Ack {
        stream: parts.next()?.to_string(),
        last_revision: parts.next()?.parse().ok()?,
        last_position: parts.next()?.parse().ok()?,
        count: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(ack)
}

/// Runs the child until `kill_after` acknowledgements, kills it, and returns every complete
/// acknowledgement line it printed (including those printed between the decision and the kill).
fn run_and_kill(dir: &std::path::Path, kill_after: usize, pg: Option<&str>) -> Vec<Ack> {
    let mut command = child_command("child::child_crash_writer", dir);
    if let Some(url) = pg {
        command.env(crate::child::PG_VAR, url);
    }
    let mut child = command.spawn().expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut acks = Vec::new();
    let mut line = String::new();
    let mut killed = false;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read child stdout");
        if n == 0 {
            break;
        }
        // A line cut short by the kill has no newline: it was never fully acknowledged.
        if !line.ends_with('\n') {
            break;
        }
        if let Some(ack) = parse_ack(line.trim_end()) {
            acks.push(ack);
        }
        if !killed && acks.len() >= kill_after {
            child.kill().expect("SIGKILL child");
            killed = true;
        }
    }
    let status = child.wait().expect("wait child");
    assert!(
        killed,
        "child stopped by itself after {} acks: {status}",
        acks.len()
    );
    acks
}

async fn verify(store: &dyn EventStore, acks: &[Ack]) -> usize {
    // Every stored event is intact and globally ordered.
    let mut all: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = all.last().map_or(0, |e| e.position + 1);
        let page = store
            .read_all(from, 5000)
            .await
            .expect("read_all after crash");
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let mut by_stream: HashMap<&str, Vec<&RecordedEvent>> = HashMap::new();
    for w in all.windows(2) {
        assert!(
            w[0].position < w[1].position,
            "positions out of order after crash"
        );
    }
    for e in &all {
        by_stream.entry(e.stream.as_str()).or_default().push(e);
        assert_eq!(
            e.data["stream"],
            e.stream.as_str(),
            "event at {} belongs elsewhere",
            e.position
        );
        assert_eq!(
            e.data["rev"], e.revision,
            "event at {} has a foreign revision",
            e.position
        );
        let pad = e.data["pad"].as_str().expect("pad is text");
        assert_eq!(
            Some(pad.chars().count() as u64),
            e.data["len"].as_u64(),
            "event at {} half-written",
            e.position
        );
    }
    for (stream, events) in &by_stream {
        for (i, e) in events.iter().enumerate() {
            assert_eq!(
                e.revision, i as u64,
                "{stream}: revisions not dense after crash"
            );
        }
    }
    let by_position: HashMap<u64, &RecordedEvent> = all.iter().map(|e| (e.position, e)).collect();
    for ack in acks {
        let last = by_position
            .get(&ack.last_position)
            .unwrap_or_else(|| panic!("acknowledged append lost: {ack:?}"));
        assert_eq!(last.stream, ack.stream, "{ack:?}");
        assert_eq!(last.revision, ack.last_revision, "{ack:?}");
        let events = &by_stream[ack.stream.as_str()];
        let first_rev = ack.last_revision + 1 - ack.count;
        for rev in first_rev..=ack.last_revision {
            assert!(
                events.get(rev as usize).is_some(),
                "{ack:?}: revision {rev} missing"
            );
        }
    }
    all.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill() {
    crash_rounds(None).await;
}

/// The same against PostgreSQL: the child's connections die with it mid-transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_appends_survive_sigkill() {
    let Some(url) = crate::conformance::postgres_test_database("postgres crash test").await else {
        return;
    };
    crash_rounds(Some(&url)).await;
}

async fn crash_rounds(pg: Option<&str>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = rand::rng();
    let mut stored_before = 0;
    for round in 0..5 {
        let kill_after = rng.random_range(1..=2500);
        let acks = tokio::task::block_in_place(|| run_and_kill(dir.path(), kill_after, pg));
        assert!(
            acks.len() >= kill_after,
            "round {round}: only {} acks",
            acks.len()
        );
        let stored = match pg {
            Some(url) => {
                let store = PostgresStore::connect(url)
                    .await
                    .expect("reconnect after crash");
                let stored = verify(&store, &acks).await;
                store.close().await;
                stored
            }
            None => {
                let store = SqliteStore::open(dir.path()).expect("reopen after crash");
                let stored = verify(&store, &acks).await;
                store.close();
                stored
            }
        };
        let acked_events: u64 = acks.iter().map(|a| a.count).sum();
        assert!(
            stored as u64 >= stored_before as u64 + acked_events,
            "round {round}: {stored} events stored, {stored_before} before plus {acked_events} acknowledged"
        );
        println!(
            "round {round}: killed after {} acks ({acked_events} events), {stored} events stored",
            acks.len()
        );
        stored_before = stored;
    }
}
