//! Event store throughput: durable appends with 1, 8 and 64 concurrent writers, reading `$all`,
//! replaying one million events through a trivial fold, and the burnt-captcha table (a lookup,
//! as every right answer makes, and a durable burn, as every wrong one makes).
//!
//! Run with `cargo bench --bench store`. The million-event database is built once per run in a
//! temporary folder (this takes a while: every append is durable).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use saring::store::sqlite::SqliteStore;
use saring::store::{EventStore, ExpectedRevision, NewEvent};
use serde_json::json;

const REPLAY_EVENTS: u64 = 1_000_000;
const READ_EVENTS: u64 = 100_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn comment_event(n: u64) -> NewEvent {
    NewEvent::new(
        "CommentSubmitted",
        json!({
            "n": n,
            "thread": "berita-2025-06-01-banjir",
            "author_name": "Ayu",
            "body": "Tinggalkan balasan: semoga cepat surut, warga sudah lelah.",
        }),
    )
}

/// Fills a store with `total` events, 10 per append, from 64 concurrent writers.
async fn fill(store: &Arc<SqliteStore>, total: u64) {
    let writers = 64u64;
    let per_append = 10u64;
    let appends = total / per_append;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let mut a = w;
            while a < appends {
                let batch = (0..per_append)
                    .map(|k| comment_event(a * per_append + k))
                    .collect();
                store
                    .append(&format!("comment-{a}"), ExpectedRevision::NoStream, batch)
                    .await
                    .expect("fill append");
                a += writers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("fill task");
    }
}

fn appends(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("open"));
    let mut group = c.benchmark_group("durable_append");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for writers in [1u64, 8, 64] {
        group.throughput(Throughput::Elements(writers));
        for shared in [false, true] {
            let name = if shared {
                "shared_streams"
            } else {
                "own_streams"
            };
            group.bench_with_input(BenchmarkId::new(name, writers), &writers, |b, &writers| {
                b.to_async(&rt).iter_custom(|iters| {
                    let store = Arc::clone(&store);
                    async move {
                        let run = uuid::Uuid::new_v4().simple().to_string();
                        let start = Instant::now();
                        let mut tasks = Vec::new();
                        for w in 0..writers {
                            let store = Arc::clone(&store);
                            let run = run.clone();
                            tasks.push(tokio::spawn(async move {
                                for i in 0..iters {
                                    // Shared: 8 streams that every writer appends to with `Any`.
                                    let stream = if shared {
                                        format!("bench-{run}-{}", i % 8)
                                    } else {
                                        format!("bench-{run}-{w}")
                                    };
                                    store
                                        .append(
                                            &stream,
                                            ExpectedRevision::Any,
                                            vec![comment_event(i)],
                                        )
                                        .await
                                        .expect("append");
                                }
                            }));
                        }
                        for t in tasks {
                            t.await.expect("writer");
                        }
                        start.elapsed()
                    }
                });
            });
        }
    }
    group.finish();
}

/// A store holding `total` events in a temporary folder, built on first use so that filtered
/// runs (`cargo bench --bench store -- durable_append`) skip it.
struct Filled {
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

fn filled(rt: &tokio::runtime::Runtime, total: u64) -> Filled {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path()).expect("open"));
    let built = Instant::now();
    rt.block_on(fill(&store, total));
    eprintln!(
        "built {total} events in {:.1} s ({:.0} events/s in appends of 10 from 64 writers)",
        built.elapsed().as_secs_f64(),
        total as f64 / built.elapsed().as_secs_f64()
    );
    Filled { store, _dir: dir }
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    let data = std::sync::OnceLock::new();
    let mut group = c.benchmark_group("read_all");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(READ_EVENTS));
    for page in [1000usize, 10_000] {
        group.bench_with_input(BenchmarkId::new("page", page), &page, |b, &page| {
            let store = &data.get_or_init(|| filled(&rt, READ_EVENTS)).store;
            b.to_async(&rt).iter(|| {
                let store = Arc::clone(store);
                async move {
                    let mut next = 0;
                    let mut seen = 0u64;
                    loop {
                        let events = store.read_all(next, page).await.expect("read_all");
                        let Some(last) = events.last() else { break };
                        next = last.position + 1;
                        seen += events.len() as u64;
                    }
                    assert_eq!(seen, READ_EVENTS);
                }
            });
        });
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    let rt = runtime();
    let data = std::sync::OnceLock::new();
    let mut group = c.benchmark_group("replay_1m");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(REPLAY_EVENTS));
    group.bench_function("read_all_fold", |b| {
        let store = &data.get_or_init(|| filled(&rt, REPLAY_EVENTS)).store;
        b.to_async(&rt).iter(|| {
            let store = Arc::clone(store);
            async move {
                let (mut count, mut sum, mut next) = (0u64, 0u64, 0u64);
                loop {
                    let events = store.read_all(next, 10_000).await.expect("read_all");
                    let Some(last) = events.last() else { break };
                    next = last.position + 1;
                    for e in &events {
                        count += 1;
                        sum += e.data["n"].as_u64().unwrap_or(0);
                    }
                }
                assert_eq!(count, REPLAY_EVENTS);
                assert_eq!(sum, REPLAY_EVENTS * (REPLAY_EVENTS - 1) / 2);
            }
        });
    });
    group.bench_function("subscription_fold", |b| {
        let store = &data.get_or_init(|| filled(&rt, REPLAY_EVENTS)).store;
        b.to_async(&rt).iter(|| {
            let store = Arc::clone(store);
            async move {
                let mut sub = store.subscribe_all(0).await.expect("subscribe");
                let (mut count, mut sum) = (0u64, 0u64);
                while count < REPLAY_EVENTS {
                    let e = sub.next().await.expect("event").expect("ok");
                    count += 1;
                    sum += e.data["n"].as_u64().unwrap_or(0);
                }
                assert_eq!(sum, REPLAY_EVENTS * (REPLAY_EVENTS - 1) / 2);
            }
        });
    });
    group.finish();
}

/// The burnt-captcha table with 10,000 live rows (ten minutes of wrong answers at 16 a second).
fn burned(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let table = store.shared_burned_tokens().expect("burnt-token table");
    let now = 1_800_000_000_000i64;
    let nonce = |n: u64| {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&n.to_be_bytes());
        key
    };
    rt.block_on(async {
        for n in 0..10_000u64 {
            table
                .burn(&nonce(n), now + 600_000, now)
                .await
                .expect("burn");
        }
    });
    let mut group = c.benchmark_group("captcha_burned");
    group.sample_size(20);
    let mut probe = 0u64;
    group.bench_function("is_burned (right answer)", |b| {
        b.to_async(&rt).iter(|| {
            probe += 1;
            let key = nonce(20_000 + probe);
            let table = &table;
            async move { assert!(!table.is_burned(&key, now).await.expect("read")) }
        })
    });
    let mut next = 1_000_000u64;
    group.bench_function("burn (wrong answer, durable)", |b| {
        b.to_async(&rt).iter(|| {
            next += 1;
            let key = nonce(next);
            let table = &table;
            async move { table.burn(&key, now + 600_000, now).await.expect("burn") }
        })
    });
    group.finish();
}

criterion_group!(benches, appends, reads, replay, burned);
criterion_main!(benches);
