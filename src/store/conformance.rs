//! The conformance suite every [`EventStore`] backend must pass, written once.
//!
//! Each check is an async function taking a store and returning `Err` with a readable message on
//! the first behaviour that differs from the trait's contract. Stream names carry a fresh UUID, and
//! checks on the global order only look at their own streams, so the suite can run against a
//! KurrentDB server that other runs (or other programs) share.
//!
//! [`run_all`] runs every check; the integration tests in `tests/store/` call it for each backend.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use serde_json::json;
use uuid::Uuid;

use super::{
    ActualRevision, EventMetadata, EventStore, ExpectedRevision, MAX_STREAM_EVENTS, NewEvent,
    RecordedEvent, StoreError,
};

/// How long a check waits for events it expects before it fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(30);

/// A behaviour of a backend that broke the [`EventStore`] contract.
#[derive(Debug, thiserror::Error)]
#[error("conformance check `{check}` failed: {message}")]
pub struct ConformanceError {
    /// The name of the failing check.
    pub check: &'static str,
    /// What differed from the contract.
    pub message: String,
}

/// A shared handle to the store under test.
pub type Store = Arc<dyn EventStore>;

type CheckResult = Result<(), String>;
type CheckFuture = Pin<Box<dyn Future<Output = CheckResult> + Send>>;

/// One named check of the suite.
pub struct Check {
    /// Short name, used in failure messages.
    pub name: &'static str,
    run: fn(Store) -> CheckFuture,
}

impl Check {
    /// Runs this check against `store`.
    pub async fn run(&self, store: Store) -> Result<(), ConformanceError> {
        (self.run)(store).await.map_err(|message| ConformanceError {
            check: self.name,
            message,
        })
    }
}

macro_rules! check {
    ($name:ident) => {
        Check {
            name: stringify!($name),
            run: |s| Box::pin($name(s)),
        }
    };
}

/// Every check of the suite, in a stable order.
pub fn checks() -> Vec<Check> {
    vec![
        check!(ordering),
        check!(concurrent_expected_revision),
        check!(no_stream_is_idempotency),
        check!(stream_exists),
        check!(exact_revision),
        check!(read_stream_from_and_max),
        check!(read_all_from_and_max),
        check!(subscription_catches_up_then_goes_live),
        check!(subscription_resumes_from_checkpoint),
        check!(large_and_non_ascii_events),
        check!(metadata_round_trip),
        check!(invalid_requests),
        check!(stream_limit),
    ]
}

/// Runs every check, each against a store produced by `make_store` (fresh or shared), and
/// stops at the first failure.
pub async fn run_all<F, Fut>(mut make_store: F) -> Result<(), ConformanceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Store>,
{
    for check in checks() {
        let store = make_store().await;
        check.run(store).await?;
    }
    Ok(())
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// A stream name unique to this run.
fn unique(prefix: &str) -> String {
    format!("conformance-{prefix}-{}", Uuid::new_v4().simple())
}

fn ev(kind: &str, n: u64) -> NewEvent {
    NewEvent::new(kind, json!({ "n": n }))
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn expect_conflict(
    result: Result<super::AppendResult, StoreError>,
    stream: &str,
    expected: ExpectedRevision,
    actual: ActualRevision,
) -> CheckResult {
    match result {
        Err(StoreError::Conflict {
            stream: s,
            expected: e,
            actual: a,
        }) => {
            ensure!(s == stream, "conflict names stream {s}, expected {stream}");
            ensure!(
                e == expected,
                "conflict reports expected {e}, the writer said {expected}"
            );
            ensure!(
                a == actual,
                "conflict reports actual {a}, the stream is at {actual}"
            );
            Ok(())
        }
        Err(other) => Err(format!(
            "expected a conflict ({expected} vs {actual}), got error {other}"
        )),
        Ok(r) => Err(format!(
            "expected a conflict ({expected} vs {actual}), append succeeded: {r:?}"
        )),
    }
}

/// Reads every event of `stream`, page by page.
async fn read_whole_stream(store: &Store, stream: &str) -> Result<Vec<RecordedEvent>, String> {
    let mut out = Vec::new();
    loop {
        let page = store
            .read_stream(stream, out.len() as u64, 100)
            .await
            .map_err(err("read_stream"))?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page);
    }
}

/// Reads all events from `from` that belong to streams starting with `prefix`, until the end.
async fn read_all_matching(
    store: &Store,
    from: u64,
    prefix: &str,
) -> Result<Vec<RecordedEvent>, String> {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let page = store.read_all(next, 1000).await.map_err(err("read_all"))?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        ensure!(
            last.position >= next,
            "read_all({next}) returned position {}",
            last.position
        );
        next = last.position + 1;
        out.extend(page.into_iter().filter(|e| e.stream.starts_with(prefix)));
    }
}

fn strictly_increasing(events: &[RecordedEvent]) -> CheckResult {
    for w in events.windows(2) {
        ensure!(
            w[0].position < w[1].position,
            "positions not strictly increasing: {} then {}",
            w[0].position,
            w[1].position
        );
    }
    Ok(())
}

/// Events keep their order within a stream (dense revisions from 0) and globally (positions
/// strictly increasing, in append order across streams).
pub async fn ordering(store: Store) -> CheckResult {
    let prefix = unique("order");
    let a = format!("{prefix}-a");
    let b = format!("{prefix}-b");
    let mut appended = Vec::new();
    let mut expected_a = ExpectedRevision::NoStream;
    let mut expected_b = ExpectedRevision::NoStream;
    let mut last_position = None;
    for i in 0..10u64 {
        let (stream, expected) = if i % 3 == 0 {
            (&b, &mut expected_b)
        } else {
            (&a, &mut expected_a)
        };
        let batch = vec![ev("Numbered", i * 2), ev("Numbered", i * 2 + 1)];
        let ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
        let r = store
            .append(stream, *expected, batch)
            .await
            .map_err(err("append"))?;
        if let Some(p) = last_position {
            ensure!(
                r.position > p,
                "append position {} not after previous {p}",
                r.position
            );
        }
        last_position = Some(r.position);
        *expected = ExpectedRevision::Exact(r.next_revision);
        appended.extend(ids.into_iter().map(|id| (stream.clone(), id)));
    }
    for stream in [&a, &b] {
        let events = read_whole_stream(&store, stream).await?;
        for (i, e) in events.iter().enumerate() {
            ensure!(
                e.revision == i as u64,
                "{stream}: event {i} has revision {}",
                e.revision
            );
            ensure!(
                &e.stream == stream,
                "read_stream({stream}) returned {}",
                e.stream
            );
        }
        strictly_increasing(&events)?;
        let want: Vec<Uuid> = appended
            .iter()
            .filter(|(s, _)| s == stream)
            .map(|(_, id)| *id)
            .collect();
        let got: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        ensure!(
            got == want,
            "{stream}: events read back in another order than appended"
        );
    }
    // Start at our first event rather than 0: a shared server may hold millions of others.
    let first = store
        .read_stream(&b, 0, 1)
        .await
        .map_err(err("read_stream"))?;
    let start = first
        .first()
        .map(|e| e.position)
        .ok_or("first event missing")?;
    let all = read_all_matching(&store, start, &prefix).await?;
    strictly_increasing(&all)?;
    let got: Vec<(String, Uuid)> = all.iter().map(|e| (e.stream.clone(), e.id)).collect();
    ensure!(got == appended, "read_all order differs from append order");
    Ok(())
}

/// Many writers appending with the same expected revision: exactly one wins, every other one
/// gets a conflict naming the expected and the actual revision, and nothing of theirs is stored.
pub async fn concurrent_expected_revision(store: Store) -> CheckResult {
    let stream = unique("race");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![ev("Created", 0)])
        .await
        .map_err(err("create"))?;
    let writers = 16;
    let mut tasks = Vec::new();
    for i in 0..writers {
        let store = Arc::clone(&store);
        let stream = stream.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append(
                    &stream,
                    ExpectedRevision::Exact(0),
                    vec![ev("Raced", i), ev("Raced", i)],
                )
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.map_err(err("writer task"))? {
            Ok(r) => {
                ensure!(
                    r.next_revision == 2,
                    "winner got next revision {}",
                    r.next_revision
                );
                wins += 1;
            }
            res @ Err(_) => expect_conflict(
                res,
                &stream,
                ExpectedRevision::Exact(0),
                ActualRevision::Exact(2),
            )?,
        }
    }
    ensure!(
        wins == 1,
        "{wins} of {writers} concurrent writers won, exactly one must"
    );
    let events = read_whole_stream(&store, &stream).await?;
    ensure!(
        events.len() == 3,
        "stream holds {} events, expected 3",
        events.len()
    );
    ensure!(
        events[1].data == events[2].data,
        "the winner's two events were interleaved with another's"
    );
    Ok(())
}

/// `NoStream` makes the first append to a stream idempotent: a repeat, sequential or concurrent,
/// is a conflict.
pub async fn no_stream_is_idempotency(store: Store) -> CheckResult {
    let stream = unique("once");
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![ev("Submitted", 1)],
        )
        .await
        .map_err(err("first append"))?;
    let again = store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![ev("Submitted", 1)],
        )
        .await;
    expect_conflict(
        again,
        &stream,
        ExpectedRevision::NoStream,
        ActualRevision::Exact(0),
    )?;

    let stream = unique("once-race");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        let stream = stream.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append(
                    &stream,
                    ExpectedRevision::NoStream,
                    vec![ev("Submitted", i)],
                )
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.map_err(err("writer task"))? {
            Ok(_) => wins += 1,
            res @ Err(_) => expect_conflict(
                res,
                &stream,
                ExpectedRevision::NoStream,
                ActualRevision::Exact(0),
            )?,
        }
    }
    ensure!(
        wins == 1,
        "{wins} concurrent first appends won, exactly one must"
    );
    Ok(())
}

/// `StreamExists` refuses a missing stream and accepts an existing one.
pub async fn stream_exists(store: Store) -> CheckResult {
    let stream = unique("exists");
    let res = store
        .append(
            &stream,
            ExpectedRevision::StreamExists,
            vec![ev("Edited", 0)],
        )
        .await;
    expect_conflict(
        res,
        &stream,
        ExpectedRevision::StreamExists,
        ActualRevision::NoStream,
    )?;
    let events = store
        .read_stream(&stream, 0, 10)
        .await
        .map_err(err("read_stream"))?;
    ensure!(
        events.is_empty(),
        "a refused append left {} events",
        events.len()
    );
    store
        .append(&stream, ExpectedRevision::Any, vec![ev("Created", 0)])
        .await
        .map_err(err("create"))?;
    let r = store
        .append(
            &stream,
            ExpectedRevision::StreamExists,
            vec![ev("Edited", 1)],
        )
        .await
        .map_err(err("append to existing stream"))?;
    ensure!(
        r.next_revision == 1,
        "next revision {} after two events",
        r.next_revision
    );
    Ok(())
}

/// `Exact` accepts only the current revision; `Any` always appends.
pub async fn exact_revision(store: Store) -> CheckResult {
    let stream = unique("exact");
    let res = store
        .append(&stream, ExpectedRevision::Exact(0), vec![ev("X", 0)])
        .await;
    expect_conflict(
        res,
        &stream,
        ExpectedRevision::Exact(0),
        ActualRevision::NoStream,
    )?;
    let r = store
        .append(
            &stream,
            ExpectedRevision::Any,
            vec![ev("X", 0), ev("X", 1), ev("X", 2)],
        )
        .await
        .map_err(err("append"))?;
    ensure!(
        r.next_revision == 2,
        "three events gave next revision {}",
        r.next_revision
    );
    for wrong in [0, 1, 3, 5] {
        let res = store
            .append(&stream, ExpectedRevision::Exact(wrong), vec![ev("X", 9)])
            .await;
        expect_conflict(
            res,
            &stream,
            ExpectedRevision::Exact(wrong),
            ActualRevision::Exact(2),
        )?;
    }
    let r = store
        .append(&stream, ExpectedRevision::Exact(2), vec![ev("X", 3)])
        .await
        .map_err(err("exact append"))?;
    ensure!(
        r.next_revision == 3,
        "next revision {} after four events",
        r.next_revision
    );
    let r = store
        .append(&stream, ExpectedRevision::Any, vec![ev("X", 4)])
        .await
        .map_err(err("any append"))?;
    ensure!(
        r.next_revision == 4,
        "next revision {} after five events",
        r.next_revision
    );
    Ok(())
}

/// `read_stream` starts at the given revision, returns at most `max`, and reads a missing stream
/// as empty.
pub async fn read_stream_from_and_max(store: Store) -> CheckResult {
    let stream = unique("pages");
    let batch: Vec<NewEvent> = (0..10).map(|i| ev("Paged", i)).collect();
    store
        .append(&stream, ExpectedRevision::NoStream, batch)
        .await
        .map_err(err("append"))?;
    let page = store
        .read_stream(&stream, 3, 4)
        .await
        .map_err(err("read_stream"))?;
    let revs: Vec<u64> = page.iter().map(|e| e.revision).collect();
    ensure!(
        revs == vec![3, 4, 5, 6],
        "read_stream(from 3, max 4) gave revisions {revs:?}"
    );
    let ns: Vec<&serde_json::Value> = page.iter().map(|e| &e.data["n"]).collect();
    ensure!(
        ns == vec![&json!(3), &json!(4), &json!(5), &json!(6)],
        "data out of place: {ns:?}"
    );
    let tail = store
        .read_stream(&stream, 8, 100)
        .await
        .map_err(err("read_stream"))?;
    ensure!(
        tail.len() == 2,
        "read_stream(from 8) gave {} events, expected 2",
        tail.len()
    );
    let past = store
        .read_stream(&stream, 10, 100)
        .await
        .map_err(err("read_stream"))?;
    ensure!(
        past.is_empty(),
        "reading past the end gave {} events",
        past.len()
    );
    let none = store
        .read_stream(&stream, 0, 0)
        .await
        .map_err(err("read_stream"))?;
    ensure!(none.is_empty(), "max 0 gave {} events", none.len());
    let missing = store
        .read_stream(&unique("missing"), 0, 10)
        .await
        .map_err(err("read missing stream"))?;
    ensure!(
        missing.is_empty(),
        "a missing stream read as {} events",
        missing.len()
    );
    Ok(())
}

/// `read_all` is inclusive of its start position, returns at most `max`, in global order.
pub async fn read_all_from_and_max(store: Store) -> CheckResult {
    let prefix = unique("all");
    let empty = store
        .read_all(0, 1)
        .await
        .map_err(err("read_all"))?
        .is_empty();
    let head = store.head_position().await.map_err(err("head_position"))?;
    ensure!(
        !empty || head.is_none(),
        "an empty store names a head position {head:?}"
    );
    let mut positions = Vec::new();
    for i in 0..10u64 {
        let stream = format!("{prefix}-{}", i % 2);
        let r = store
            .append(&stream, ExpectedRevision::Any, vec![ev("Global", i)])
            .await
            .map_err(err("append"))?;
        positions.push(r.position);
    }
    // Inclusive start at an event's own position.
    let page = store
        .read_all(positions[3], 3)
        .await
        .map_err(err("read_all"))?;
    ensure!(
        page.len() <= 3,
        "read_all with max 3 returned {}",
        page.len()
    );
    ensure!(
        !page.is_empty(),
        "read_all from an existing event's position returned nothing"
    );
    ensure!(
        page[0].position == positions[3],
        "read_all({}) started at {}",
        positions[3],
        page[0].position
    );
    ensure!(
        page[0].data["n"] == json!(3),
        "read_all({}) started with the wrong event",
        positions[3]
    );
    strictly_increasing(&page)?;
    // Resume after a checkpoint: last processed + 1.
    let after = read_all_matching(&store, positions[6] + 1, &prefix).await?;
    let ns: Vec<&serde_json::Value> = after.iter().map(|e| &e.data["n"]).collect();
    ensure!(
        ns == vec![&json!(7), &json!(8), &json!(9)],
        "read_all after checkpoint gave {ns:?}"
    );
    let end = store
        .read_all(positions[9] + 1, 100)
        .await
        .map_err(err("read_all"))?;
    ensure!(
        !end.iter().any(|e| e.stream.starts_with(&prefix)),
        "read_all after the last event returned one of ours"
    );
    let none = store
        .read_all(positions[0], 0)
        .await
        .map_err(err("read_all"))?;
    ensure!(
        none.is_empty(),
        "read_all with max 0 returned {} events",
        none.len()
    );
    // The head is the last stored event's own position (another writer of a shared server
    // may have appended since: at least ours).
    let head = store.head_position().await.map_err(err("head_position"))?;
    let Some(head) = head else {
        return Err("a store holding events names no head position".into());
    };
    ensure!(
        head >= positions[9],
        "head position {head} is before the last append's {}",
        positions[9]
    );
    let at_head = store.read_all(head, 1).await.map_err(err("read_all"))?;
    ensure!(
        at_head.first().map(|e| e.position) == Some(head),
        "no event stored at the head position {head}"
    );
    Ok(())
}

/// A subscription delivers the stored events, then live ones as another task appends, with no
/// gap and no duplicate, in the same order as `read_all`.
pub async fn subscription_catches_up_then_goes_live(store: Store) -> CheckResult {
    let prefix = unique("sub");
    let first = store
        .append(
            &format!("{prefix}-0"),
            ExpectedRevision::Any,
            (0..20).map(|i| ev("Early", i)).collect(),
        )
        .await
        .map_err(err("append"))?;
    let head = store
        .read_stream(&format!("{prefix}-0"), 0, 1)
        .await
        .map_err(err("read_stream"))?;
    let start = head
        .first()
        .map(|e| e.position)
        .ok_or("the first event cannot be read back")?;
    ensure!(
        start <= first.position,
        "first event at {start} after the batch's last {}",
        first.position
    );
    let mut sub = store
        .subscribe_all(start)
        .await
        .map_err(err("subscribe_all"))?;

    let writer = {
        let store = Arc::clone(&store);
        let prefix = prefix.clone();
        tokio::spawn(async move {
            for i in 0..200u64 {
                let stream = format!("{prefix}-{}", i % 3);
                let batch = if i % 10 == 0 {
                    vec![ev("Live", i), ev("Live", i)]
                } else {
                    vec![ev("Live", i)]
                };
                store.append(&stream, ExpectedRevision::Any, batch).await?;
                if i % 25 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            Ok::<(), StoreError>(())
        })
    };
    let expected_total = 20 + 200 + 20;
    let mut seen: Vec<RecordedEvent> = Vec::new();
    let mut last_position: Option<u64> = None;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while seen.len() < expected_total {
        let next = tokio::time::timeout_at(deadline, sub.next())
            .await
            .map_err(|_| {
                format!(
                    "subscription delivered {} of {expected_total} events before the deadline",
                    seen.len()
                )
            })?;
        let event = match next {
            Some(Ok(e)) => e,
            Some(Err(e)) => return Err(format!("subscription failed: {e}")),
            None => return Err("subscription ended".into()),
        };
        if let Some(p) = last_position {
            ensure!(
                event.position > p,
                "subscription went from position {p} to {} (duplicate or reorder)",
                event.position
            );
        }
        ensure!(
            event.position >= start,
            "subscription from {start} delivered position {}",
            event.position
        );
        last_position = Some(event.position);
        if event.stream.starts_with(&prefix) {
            seen.push(event);
        }
    }
    writer
        .await
        .map_err(err("writer task"))?
        .map_err(err("live append"))?;
    let stored = read_all_matching(&store, start, &prefix).await?;
    let seen_ids: Vec<Uuid> = seen.iter().map(|e| e.id).collect();
    let stored_ids: Vec<Uuid> = stored.iter().map(|e| e.id).collect();
    ensure!(
        seen_ids == stored_ids,
        "subscription order differs from read_all order"
    );
    let unique_ids: HashSet<Uuid> = seen_ids.iter().copied().collect();
    ensure!(
        unique_ids.len() == seen_ids.len(),
        "subscription delivered an event twice"
    );
    ensure!(
        seen == stored,
        "subscription delivered events that differ from the stored ones"
    );
    Ok(())
}

/// Subscribing from a checkpoint (last processed + 1) delivers only what came after it.
pub async fn subscription_resumes_from_checkpoint(store: Store) -> CheckResult {
    let prefix = unique("resume");
    let stream = format!("{prefix}-s");
    let done = store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            (0..5).map(|i| ev("Old", i)).collect(),
        )
        .await
        .map_err(err("append"))?;
    let mut sub = store
        .subscribe_all(done.position + 1)
        .await
        .map_err(err("subscribe_all"))?;
    store
        .append(&stream, ExpectedRevision::Exact(4), vec![ev("New", 5)])
        .await
        .map_err(err("append"))?;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let next = tokio::time::timeout_at(deadline, sub.next())
            .await
            .map_err(|_| "the live event never arrived".to_string())?;
        match next {
            Some(Ok(e)) if e.stream == stream => {
                ensure!(
                    e.revision == 5,
                    "resumed subscription delivered revision {} first",
                    e.revision
                );
                ensure!(
                    e.position > done.position,
                    "resumed subscription replayed position {}",
                    e.position
                );
                return Ok(());
            }
            Some(Ok(e)) => ensure!(
                e.position > done.position,
                "resumed subscription replayed position {}",
                e.position
            ),
            Some(Err(e)) => return Err(format!("subscription failed: {e}")),
            None => return Err("subscription ended".into()),
        }
    }
}

/// A 1 MB event and text in Indonesian, emoji, right-to-left scripts and combining marks come
/// back byte for byte, in data, metadata and stream names.
pub async fn large_and_non_ascii_events(store: Store) -> CheckResult {
    let texts = [
        "Tinggalkan Balasan — Alamat email Anda tidak akan dipublikasikan. Ruas yang wajib ditandai *",
        "🎰🔥 slot gacor maxwin 👍🏽 👩‍👩‍👧‍👦 🇮🇩",
        "مرحبا بكم في التعليقات — עברית משמאל לימין",
        "Ｓ𝐋𝐎𝐓 ⓖⓐⓒⓞⓡ s̲l̲o̲t̲ zero\u{200b}width\u{200d}joiner",
        "quotes \" and \\ backslash, nul-free control \u{7} bell, \u{feff} BOM",
    ];
    let stream = format!("{}-é-🎉-ملاحظة", unique("text"));
    let events: Vec<NewEvent> = texts
        .iter()
        .map(|t| {
            NewEvent::new(
                "KomentarDikirim",
                json!({ "body": t, "nested": { "list": [t, 1, null, true] } }),
            )
            .with_metadata(EventMetadata {
                actor: Some(format!("moderator:{t}")),
                ..Default::default()
            })
        })
        .collect();
    // One megabyte (10^6 bytes), inside KurrentDB's default 1 MiB append limit.
    let unit = "Tinggalkan Balasan 🇮🇩 ";
    let big: String = unit.repeat(1_000_000 / unit.len() + 1);
    ensure!(big.len() >= 1_000_000, "test data too small");
    let mut sent = events.clone();
    store
        .append(&stream, ExpectedRevision::NoStream, events)
        .await
        .map_err(err("append"))?;
    let big = NewEvent::new("Big", json!({ "body": big }));
    sent.push(big.clone());
    store
        .append(&stream, ExpectedRevision::Exact(4), vec![big])
        .await
        .map_err(err("append 1 MB"))?;
    let back = read_whole_stream(&store, &stream).await?;
    ensure!(
        back.len() == sent.len(),
        "read {} events back of {}",
        back.len(),
        sent.len()
    );
    for (s, b) in sent.iter().zip(&back) {
        ensure!(
            b.stream == stream,
            "stream name came back as {:?}",
            b.stream
        );
        ensure!(
            b.data == s.data,
            "event {} data changed on the way (len {})",
            b.revision,
            b.data.to_string().len()
        );
        ensure!(
            b.metadata == s.metadata,
            "event {} metadata changed: {:?}",
            b.revision,
            b.metadata
        );
        ensure!(
            b.event_type == s.event_type,
            "event type changed: {}",
            b.event_type
        );
    }
    Ok(())
}

/// Ids, types, schema versions, actor, correlation and causation come back as given; the
/// recorded time is set by the store near now.
pub async fn metadata_round_trip(store: Store) -> CheckResult {
    let stream = unique("meta");
    let before = Utc::now() - chrono::Duration::minutes(5);
    let correlation = Uuid::new_v4();
    let mut full =
        NewEvent::new("CommentApproved", json!({ "reason": "ok" })).with_metadata(EventMetadata {
            actor: Some("moderator:ayu".into()),
            correlation_id: Some(correlation),
            causation_id: Some(Uuid::new_v4()),
        });
    full.schema_version = 3;
    let empty = NewEvent::new("CommentHeld", json!(null));
    let mut with_id = NewEvent::new("CommentSubmitted", json!([1, "dua", 3.5]));
    with_id.id = Uuid::new_v5(&Uuid::NAMESPACE_OID, stream.as_bytes());
    with_id.metadata.correlation_id = Some(correlation);
    let sent = vec![full, empty, with_id];
    store
        .append(&stream, ExpectedRevision::NoStream, sent.clone())
        .await
        .map_err(err("append"))?;
    let after = Utc::now() + chrono::Duration::minutes(5);
    let back = read_whole_stream(&store, &stream).await?;
    ensure!(back.len() == 3, "read {} events back of 3", back.len());
    let mut by_id: HashMap<Uuid, &RecordedEvent> = HashMap::new();
    for b in &back {
        by_id.insert(b.id, b);
    }
    for s in &sent {
        let b = by_id
            .get(&s.id)
            .ok_or_else(|| format!("event id {} not preserved", s.id))?;
        ensure!(
            b.event_type == s.event_type,
            "type {} came back as {}",
            s.event_type,
            b.event_type
        );
        ensure!(
            b.schema_version == s.schema_version,
            "schema version {} came back as {}",
            s.schema_version,
            b.schema_version
        );
        ensure!(b.data == s.data, "data {} came back as {}", s.data, b.data);
        ensure!(
            b.metadata == s.metadata,
            "metadata {:?} came back as {:?}",
            s.metadata,
            b.metadata
        );
        ensure!(
            b.recorded_at > before && b.recorded_at < after,
            "recorded time {} is not near now",
            b.recorded_at
        );
    }
    let all = store
        .read_all(back[0].position, 3)
        .await
        .map_err(err("read_all"))?;
    ensure!(
        all.first() == back.first(),
        "read_all and read_stream disagree about the same event"
    );
    Ok(())
}

/// Malformed appends are refused as invalid, and nothing is written.
pub async fn invalid_requests(store: Store) -> CheckResult {
    let stream = unique("invalid");
    match store
        .append(&stream, ExpectedRevision::Any, Vec::new())
        .await
    {
        Err(StoreError::Invalid(_)) => {}
        other => return Err(format!("an empty append gave {other:?}, expected Invalid")),
    }
    match store
        .append("", ExpectedRevision::Any, vec![ev("X", 0)])
        .await
    {
        Err(StoreError::Invalid(_)) => {}
        other => {
            return Err(format!(
                "an empty stream name gave {other:?}, expected Invalid"
            ));
        }
    }
    match store
        .append(&stream, ExpectedRevision::Any, vec![ev("", 0)])
        .await
    {
        Err(StoreError::Invalid(_)) => {}
        other => {
            return Err(format!(
                "an empty event type gave {other:?}, expected Invalid"
            ));
        }
    }
    let events = store
        .read_stream(&stream, 0, 10)
        .await
        .map_err(err("read_stream"))?;
    ensure!(
        events.is_empty(),
        "invalid appends wrote {} events",
        events.len()
    );
    Ok(())
}

/// Expects an append refused as [`StoreError::StreamFull`] naming `stream`.
fn expect_full(result: Result<super::AppendResult, StoreError>, stream: &str) -> CheckResult {
    match result {
        Err(StoreError::StreamFull { stream: s, limit }) => {
            ensure!(
                s == stream,
                "stream_full names stream {s}, expected {stream}"
            );
            ensure!(
                limit == MAX_STREAM_EVENTS,
                "stream_full names limit {limit}, expected {MAX_STREAM_EVENTS}"
            );
            Ok(())
        }
        other => Err(format!("expected stream_full, got {other:?}")),
    }
}

/// A stream takes [`MAX_STREAM_EVENTS`] events and not one more: an append that would take it
/// past the limit is refused whole as `StreamFull` and writes nothing, whatever the expectation.
pub async fn stream_limit(store: Store) -> CheckResult {
    let limit = usize::try_from(MAX_STREAM_EVENTS).map_err(err("limit"))?;
    let batch = |from: usize, n: usize| (from..from + n).map(|i| ev("Fill", i as u64)).collect();
    let stream = unique("full");
    // Two short of full, then an append of three: refused, nothing of it stored.
    store
        .append(&stream, ExpectedRevision::NoStream, batch(0, limit - 2))
        .await
        .map_err(err("filling append"))?;
    let at = ExpectedRevision::Exact(MAX_STREAM_EVENTS - 3);
    expect_full(
        store.append(&stream, at, batch(limit - 2, 3)).await,
        &stream,
    )?;
    let events = read_whole_stream(&store, &stream).await?;
    ensure!(
        events.len() == limit - 2,
        "a refused append left {} events, expected {}",
        events.len(),
        limit - 2
    );
    // Exactly full is allowed; then nothing more.
    let r = store
        .append(&stream, at, batch(limit - 2, 2))
        .await
        .map_err(err("append up to the limit"))?;
    ensure!(
        r.next_revision == MAX_STREAM_EVENTS - 1,
        "the last allowed event got revision {}",
        r.next_revision
    );
    let last = ExpectedRevision::Exact(MAX_STREAM_EVENTS - 1);
    expect_full(
        store.append(&stream, last, vec![ev("Over", 0)]).await,
        &stream,
    )?;
    // A wrong expectation is still a conflict first: the writer must learn the stream moved.
    let res = store
        .append(&stream, ExpectedRevision::Exact(0), vec![ev("Over", 1)])
        .await;
    expect_conflict(
        res,
        &stream,
        ExpectedRevision::Exact(0),
        ActualRevision::Exact(MAX_STREAM_EVENTS - 1),
    )?;
    // KurrentDB checks the limit only where the expectation names the revision (see
    // `kurrent::KurrentStore::append`); the stores with a write transaction check every append.
    if store.backend_name() != "kurrentdb" {
        for expected in [ExpectedRevision::Any, ExpectedRevision::StreamExists] {
            expect_full(
                store.append(&stream, expected, vec![ev("Over", 2)]).await,
                &stream,
            )?;
        }
    }
    let events = read_whole_stream(&store, &stream).await?;
    ensure!(
        events.len() == limit,
        "a full stream holds {} events, expected {limit}",
        events.len()
    );
    // Other streams are not affected by a full one.
    store
        .append(
            &unique("beside-full"),
            ExpectedRevision::NoStream,
            vec![ev("X", 0)],
        )
        .await
        .map_err(err("append beside a full stream"))?;
    Ok(())
}

/// The contract of a key store shared by replicas (PostgreSQL's key tables, KurrentDB's key
/// streams), through two replicas' [`Keys`](crate::privacy::keys::Keys) on one database and a
/// third that has nothing in memory: one key per author and per day for all of them, an
/// erased author's key gone for every replica (and a returning author given a new one), old
/// days' keys deleted for all and later days' kept. Author names carry a fresh UUID; the days
/// are in 1901, so a server other runs share loses no real day key. Blocking: call it from
/// the blocking pool.
pub fn shared_keys(
    a: &crate::privacy::keys::Keys,
    b: &crate::privacy::keys::Keys,
    fresh: &crate::privacy::keys::Keys,
) -> Result<(), ConformanceError> {
    shared_keys_check(a, b, fresh).map_err(|message| ConformanceError {
        check: "shared_keys",
        message,
    })
}

fn shared_keys_check(
    a: &crate::privacy::keys::Keys,
    b: &crate::privacy::keys::Keys,
    fresh: &crate::privacy::keys::Keys,
) -> CheckResult {
    let day = |d| chrono::NaiveDate::from_ymd_opt(1901, 1, d).expect("a real day");
    let e = |e: crate::privacy::keys::KeyError| e.to_string();
    let sari = format!("email:sari-{}@contoh.id", Uuid::new_v4());
    let budi = format!("email:budi-{}@contoh.id", Uuid::new_v4());
    let key = a.key_for(&sari).map_err(e)?;
    ensure!(
        b.key_for(&sari).map_err(e)? == key,
        "two keys for one author"
    );
    // Read through `b` only: a replica that read a key trusts it from memory for a while
    // (the erasure reaches it within `SHARED_KEY_TTL`), and `fresh` must not have read it.
    ensure!(
        b.key(&key.0).map_err(e)? == Some(key.1),
        "another replica cannot open with the author's key"
    );
    let other = b.key_for(&budi).map_err(e)?;
    ensure!(
        other.0 != key.0 && other.1 != key.1,
        "two authors share a key"
    );
    let d1 = a.day_key(day(1)).map_err(e)?;
    let d3 = b.day_key(day(3)).map_err(e)?;
    ensure!(b.day_key(day(1)).map_err(e)? == d1, "two keys for one day");

    ensure!(
        b.erase(&sari).map_err(e)? == Some(key.0.clone()),
        "erasure did not name the key it deleted"
    );
    ensure!(
        !a.has_key(&sari).map_err(e)?,
        "the erased author still has a key"
    );
    ensure!(
        fresh.key(&key.0).map_err(e)?.is_none() && b.key(&key.0).map_err(e)?.is_none(),
        "the erased key still opens"
    );
    ensure!(
        b.erase(&sari).map_err(e)?.is_none(),
        "erasing twice found a key"
    );
    let again = a.key_for(&sari).map_err(e)?;
    ensure!(
        again.0 != key.0,
        "a returning author got the erased key back"
    );
    ensure!(
        fresh.key(&other.0).map_err(e)? == Some(other.1),
        "another author's key went with the erasure"
    );

    ensure!(
        a.delete_days_before(day(3)).map_err(e)? >= 1,
        "no day key was deleted"
    );
    ensure!(
        a.key(&d1.0).map_err(e)?.is_none(),
        "a deleted day key opens"
    );
    ensure!(
        fresh.key(&d1.0).map_err(e)?.is_none(),
        "a deleted day key opens on another replica"
    );
    ensure!(
        fresh.key(&d3.0).map_err(e)? == Some(d3.1),
        "a later day lost its key"
    );
    let days = fresh.days().map_err(e)?;
    ensure!(
        days.contains(&day(3)) && !days.contains(&day(1)),
        "the days listed are {days:?}"
    );
    ensure!(
        a.day_key(day(1)).map_err(e)?.0 != d1.0,
        "a deleted day asked for again got its old key"
    );

    // Body keys: made by one replica, read by another, one deleted for all.
    let made = a.submission_keys(&budi, day(3)).map_err(e)?;
    ensure!(
        made.author == other && made.day == d3,
        "a submission's keys are not its author's and day's"
    );
    let next = a.submission_keys(&budi, day(3)).map_err(e)?;
    ensure!(
        next.body.0 != made.body.0,
        "two submissions got one body key"
    );
    let ids = vec![made.body.0.clone(), next.body.0.clone()];
    let read = b.load_bodies(&ids).map_err(e)?;
    ensure!(
        read.get(&made.body.0) == Some(&Some(made.body.1)),
        "another replica cannot open a body"
    );
    ensure!(
        b.delete_bodies(&ids[..1]).map_err(e)? == 1,
        "the body key was not deleted"
    );
    let after = fresh.load_bodies(&ids).map_err(e)?;
    ensure!(
        after.get(&made.body.0) == Some(&None),
        "a deleted body key opens on another replica"
    );
    ensure!(
        after.get(&next.body.0) == Some(&Some(next.body.1)),
        "another body lost its key"
    );
    Ok(())
}
