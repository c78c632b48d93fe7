//! Keeps the projections following the event log: open the projection database (the state and
//! the position it reached), catch up with `read_all`, then follow the live subscription until
//! told to stop, writing what each batch changed to the database in the same transaction as the
//! batch's position.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::DomainEvent;
use crate::projections::restore::StoredSighting;
use crate::projections::{EventPosition, Projections, learned};
use crate::store::projection_db::{self, BatchWrite, ProjectionDb};
use crate::store::{EventStore, RecordedEvent, StoreError};

use super::codec;
use super::view::View;

/// Events fetched per catch-up read.
const CATCH_UP_BATCH: usize = 4096;

/// Folds a batch of stored events into the view and returns what changed, for the projection
/// database. An event this build cannot decode (written by a newer one) is not folded; it still
/// moves the position and its comment's version (the moderators' `expected_version` is the
/// stream's last recorded revision), but changes nothing else.
pub fn apply_batch(view: &View, events: &[RecordedEvent]) -> BatchWrite {
    let decoded: Vec<Option<DomainEvent>> = events.iter().map(codec::decode_recorded).collect();
    view.write(|p| {
        for (e, event) in events.iter().zip(&decoded) {
            if let Some(event) = event {
                p.apply(
                    EventPosition {
                        stream: &e.stream,
                        revision: e.revision,
                        position: e.position,
                    },
                    event,
                );
            } else {
                p.position = p.position.max(e.position);
                if let Some(rec) = crate::domain::comment::id_from_stream(&e.stream)
                    .and_then(|id| p.comments.get_mut(&id))
                {
                    rec.version = rec.version.max(e.revision);
                }
            }
        }
        changes(p, events, &decoded)
    })
}

/// What a batch changed in `p` (after it was applied): the records of the comments its events
/// belong to, their threads, their reported-queue entries, new sightings, and the policy and
/// learned state when an event of the batch can change them.
fn changes(
    p: &Projections,
    events: &[RecordedEvent],
    decoded: &[Option<DomainEvent>],
) -> BatchWrite {
    let mut batch = BatchWrite {
        position: p.position,
        events_applied: p.events_applied,
        ..BatchWrite::default()
    };
    let mut ids: Vec<Uuid> = events
        .iter()
        .filter_map(|e| crate::domain::comment::id_from_stream(&e.stream))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut threads: Vec<&str> = Vec::new();
    for id in &ids {
        if let Some(rec) = p.comments.get(id) {
            batch
                .comments
                .push((*id, rec.seq, serde_json::to_vec(rec).unwrap_or_default()));
            threads.push(&rec.thread);
        }
    }
    if !ids.is_empty() {
        batch.reported = p
            .queues
            .reported
            .iter()
            .filter(|(_, id)| ids.binary_search(id).is_ok())
            .map(|(pos, id)| (*pos, *id))
            .collect();
    }
    let (mut policy_changed, mut learned_changed) = (false, false);
    for (e, event) in events.iter().zip(decoded) {
        match event {
            Some(DomainEvent::ThreadClosed { thread, .. })
            | Some(DomainEvent::ThreadReopened { thread, .. }) => threads.push(thread),
            Some(DomainEvent::CommentScreened {
                fingerprint: Some(fp),
                ..
            }) => {
                if let Some(rec) = crate::domain::comment::id_from_stream(&e.stream)
                    .and_then(|id| p.comments.get(&id))
                {
                    batch.sightings.push((
                        e.position,
                        StoredSighting {
                            fingerprint: *fp,
                            thread: rec.thread.clone(),
                            author: rec.author_email.clone(),
                            at: rec.created_at,
                        },
                    ));
                }
            }
            Some(DomainEvent::PolicyActivated { .. }) => policy_changed = true,
            Some(other) if learned::moderator_decision(other).is_some() => learned_changed = true,
            _ => {}
        }
    }
    // Once per batch, not per event: a bulk decision of hundreds would otherwise serialise the
    // whole learned state hundreds of times under the write lock.
    if policy_changed {
        batch.policy = Some(projection_db::policy_bytes(p));
    }
    if learned_changed {
        batch.learned = Some(serde_json::to_vec(&p.learned).unwrap_or_default());
    }
    threads.sort_unstable();
    threads.dedup();
    batch.threads = threads
        .into_iter()
        .filter_map(|k| {
            p.threads
                .get(k)
                .map(|t| (k.to_string(), t.closed, t.generation))
        })
        .collect();
    batch.reported_for = ids;
    batch
}

/// Writes a batch to the projection database on the blocking pool, retrying until it is written
/// or `stop` comes: a batch is never skipped, since the next one's position would then cover
/// changes the file does not hold. Given up at a stop, the file stays consistent at its earlier
/// position and the next start replays from there. Whether it was written.
async fn persist(db: &Arc<ProjectionDb>, batch: BatchWrite, stop: &CancellationToken) -> bool {
    let batch = Arc::new(batch);
    loop {
        let (db, b) = (db.clone(), batch.clone());
        match tokio::task::spawn_blocking(move || db.write(&b)).await {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => tracing::error!(error = %e, "cannot write the projections; retrying"),
            Err(e) => tracing::error!(error = %e, "projection writer failed; retrying"),
        }
        if stop.is_cancelled() {
            return false;
        }
        pause(stop, Duration::from_secs(1)).await;
    }
}

/// Catches up with everything stored after the view's position, writing each batch to `db`,
/// then marks the view ready. Progress is logged every few seconds (a first start on a large
/// log, or a rebuild after a format change, folds the whole log here).
pub async fn catch_up(
    store: &dyn EventStore,
    view: &View,
    db: Option<&Arc<ProjectionDb>>,
) -> Result<(), StoreError> {
    let mut logged = Instant::now();
    fold_log(store, view, db, None, |position, _| {
        if logged.elapsed() > Duration::from_secs(5) {
            logged = Instant::now();
            tracing::info!(position, "projections catching up with the log");
        }
    })
    .await?;
    view.set_ready();
    Ok(())
}

/// Folds the log after the view's position (up to `until`, if given) into the view, writing
/// each batch to `db`; `progress` gets the position reached and the events of each batch.
pub async fn fold_log(
    store: &dyn EventStore,
    view: &View,
    db: Option<&Arc<ProjectionDb>>,
    until: Option<u64>,
    mut progress: impl FnMut(u64, usize),
) -> Result<(), StoreError> {
    let never = CancellationToken::new();
    loop {
        let from = view.position() + 1;
        if until.is_some_and(|u| from > u) {
            break;
        }
        let mut batch = store.read_all(from, CATCH_UP_BATCH).await?;
        if let Some(u) = until {
            batch.retain(|e| e.position <= u);
        }
        if batch.is_empty() {
            break;
        }
        let changed = apply_batch(view, &batch);
        if let Some(db) = db {
            persist(db, changed, &never).await;
        }
        progress(view.position(), batch.len());
    }
    Ok(())
}

/// Follows the live subscription until `stop` is cancelled, writing each batch to `db`. On a
/// subscription error it resubscribes from its own position after a pause. A batch in hand when
/// the stop comes is applied and written in full.
pub async fn follow(
    store: Arc<dyn EventStore>,
    view: Arc<View>,
    db: Option<Arc<ProjectionDb>>,
    stop: CancellationToken,
) {
    'follow: while !stop.is_cancelled() {
        let from = view.position() + 1;
        let subscribed = tokio::select! {
            () = stop.cancelled() => break 'follow,
            s = store.subscribe_all(from) => s,
        };
        let mut stream = match subscribed {
            Ok(s) => s.ready_chunks(1024),
            Err(e) => {
                tracing::error!(error = %e, "cannot subscribe to the event log; retrying");
                pause(&stop, Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let chunk = tokio::select! {
                biased;
                () = stop.cancelled() => break 'follow,
                chunk = stream.next() => match chunk {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            let mut events = Vec::with_capacity(chunk.len());
            let mut failed = None;
            for item in chunk {
                match item {
                    Ok(e) => events.push(e),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let changed = apply_batch(&view, &events);
            if let Some(db) = &db {
                persist(db, changed, &stop).await;
            }
            metrics::gauge!("saring_projection_position").set(view.position() as f64);
            if let Some(e) = failed {
                tracing::warn!(error = %e, "event subscription failed; resubscribing");
                break;
            }
        }
        pause(&stop, Duration::from_millis(200)).await;
    }
}

/// Waits `d`, or less if `stop` comes first.
async fn pause(stop: &CancellationToken, d: Duration) {
    tokio::select! {
        () = stop.cancelled() => {},
        () = tokio::time::sleep(d) => {},
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::*;
    use crate::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
    use crate::domain::{ClientFacts, Submission, comment_stream};
    use crate::policy::{Outcome, Verdict};
    use crate::store::{ExpectedRevision, sqlite::SqliteStore};

    /// Appends `n` submitted and screened comments over 7 threads, one in three held.
    async fn seed(store: &SqliteStore, n: u64) {
        for i in 0..n {
            let id = Uuid::from_u128(u128::from(i) + 1);
            let submission = Submission {
                comment_id: id,
                thread: format!("berita-{}", i % 7),
                parent_id: None,
                author_name: format!("Pembaca {i}"),
                author_email: format!("p{}@contoh.id", i % 5),
                author_url: None,
                body: format!("Komentar nomor {i}: semoga jalan desa cepat diperbaiki."),
                client: ClientFacts {
                    ip: format!("198.51.100.{}", i % 9),
                    user_agent: None,
                },
                captcha_solve_ms: 3000,
                pow: None,
                known_reader: None,
                lang: crate::i18n::Lang::Id,
                submitted_at: DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
            };
            let events = comment::decide(
                &CommentState::default(),
                CommentCommand::Submit {
                    submission: Box::new(submission),
                    verdict: Box::new(Verdict {
                        outcome: if i % 3 == 0 {
                            Outcome::Hold
                        } else {
                            Outcome::Accept
                        },
                        score: 0.0,
                        rules: vec![],
                        policy_version: "v".into(),
                    }),
                    fingerprint: i % 4,
                    context: SubmitContext {
                        thread_closed: false,
                        parent: None,
                    },
                },
            )
            .unwrap();
            let encoded: Vec<_> = events.iter().map(|e| codec::encode(e).unwrap()).collect();
            store
                .append(&comment_stream(id), ExpectedRevision::NoStream, encoded)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn projections_written_batch_by_batch_load_back_equal_to_a_fresh_fold() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        seed(&store, 40).await;
        let path = dir.path().join(projection_db::FILE_NAME);
        let (db, empty) = ProjectionDb::open(&path, "sqlite").unwrap();
        assert_eq!(empty.position, 0);
        let db = Arc::new(db);
        let view = View::new(empty);
        catch_up(&store, &view, Some(&db)).await.unwrap();
        // More events after the first catch-up, applied as a second set of batches.
        seed_more(&store).await;
        catch_up(&store, &view, Some(&db)).await.unwrap();
        drop(db);

        let (_, loaded) = ProjectionDb::open(&path, "sqlite").unwrap();
        let fresh = View::new(Projections::default());
        catch_up(&store, &fresh, None).await.unwrap();
        let fresh = fresh.read(Projections::clone);
        assert!(
            fresh.queues.pending.len() > 5,
            "the seed holds some comments"
        );
        assert_eq!(loaded.differences(&fresh, 5), Vec::<String>::new());
        assert!(fresh.threads["berita-0"].closed);

        let (_, other) = ProjectionDb::open(&path, "postgres").unwrap();
        assert_eq!(other.position, 0, "another backend's file is rebuilt");
    }

    /// Closes a thread and appends a few more comments.
    async fn seed_more(store: &SqliteStore) {
        let close = DomainEvent::ThreadClosed {
            thread: "berita-0".into(),
            by: crate::domain::Actor::Moderator("ayu".into()),
            at: DateTime::from_timestamp(1_700_100_000, 0).unwrap(),
        };
        store
            .append(
                &crate::domain::thread_stream("berita-0"),
                ExpectedRevision::Any,
                vec![codec::encode(&close).unwrap()],
            )
            .await
            .unwrap();
    }
}
