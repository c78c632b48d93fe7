//! Keeps the projections following the event log: open the projection database (its head and
//! the position it reached), catch up with `read_all`, then follow the live subscription until
//! told to stop. For each batch the follower loads the rows the batch touches, folds the batch
//! into them with the pure fold ([`Projections::apply`]) and writes the changed rows with the
//! batch's position in one transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{CommentStatus, DomainEvent};
use crate::projections::authors::{self, AuthorHistory, CountKind, Counts};
use crate::projections::restore::StoredSighting;
use crate::projections::{EventPosition, Projections, Queues, learned};
use crate::store::projection_db::{self, BatchWrite, ProjectionDb, ProjectionDbError};
use crate::store::{EventStore, RecordedEvent, StoreError};

use super::codec;
use super::view::{Core, View};

/// Events fetched per catch-up read.
const CATCH_UP_BATCH: usize = 4096;

fn at(e: &RecordedEvent) -> EventPosition<'_> {
    EventPosition {
        stream: &e.stream,
        revision: e.revision,
        position: e.position,
    }
}

/// What a batch written to the database changed, for the view.
pub struct Folded {
    /// The new head.
    pub core: Core,
    /// Threads whose pages changed.
    pub threads: Vec<String>,
    /// Author counts written.
    pub counts: Vec<(CountKind, String, Counts)>,
}

/// Folds a batch into the projection database in one transaction: loads the records, threads,
/// reported entries and author counts the batch touches, applies the pure fold to them and
/// writes what changed with the position reached. Blocking: call it from the blocking pool.
/// An event this build cannot decode (written by a newer one) is not folded; it still moves
/// the position and its comment's version.
pub fn fold_on_disk(
    db: &ProjectionDb,
    core: &Core,
    events: &[RecordedEvent],
) -> Result<Folded, ProjectionDbError> {
    let decoded: Vec<Option<DomainEvent>> = events.iter().map(codec::decode_recorded).collect();
    let started = Instant::now();
    let mut timings = FoldTimings::default();
    let folded = db.write_tx(|tx| {
        let mut phase = Instant::now();
        let mut ids: Vec<Uuid> = events
            .iter()
            .filter_map(|e| crate::domain::comment::id_from_stream(&e.stream))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let comments = tx.comments(&ids)?;
        let before: HashMap<Uuid, Option<CommentStatus>> =
            comments.iter().map(|(id, r)| (*id, r.status)).collect();
        let mut thread_keys: Vec<&str> = comments.values().map(|r| r.thread.as_str()).collect();
        let mut count_keys: Vec<(CountKind, String)> = comments
            .values()
            .flat_map(|r| authors::count_keys(&r.author_email, &r.ip_key, r.author_url.as_deref()))
            .collect();
        let (mut learns, mut policy_changes) = (false, false);
        // The stored sightings name their author; an erased one's go with the erasure.
        let mut forget_sightings: Vec<String> = Vec::new();
        for (e, event) in events.iter().zip(&decoded) {
            let Some(event) = event else { continue };
            match event {
                DomainEvent::ReaderErased { .. } => {
                    if let Some(rec) = crate::domain::comment::id_from_stream(&e.stream)
                        .and_then(|id| comments.get(&id))
                        .filter(|r| !r.author_email.is_empty())
                    {
                        forget_sightings.push(rec.author_email.clone());
                    }
                }
                DomainEvent::CommentSubmitted(s) => {
                    thread_keys.push(&s.thread);
                    count_keys.extend(authors::count_keys(
                        &s.author_email,
                        &s.client.ip,
                        s.author_url.as_deref(),
                    ));
                }
                DomainEvent::ThreadClosed { thread, .. }
                | DomainEvent::ThreadReopened { thread, .. } => thread_keys.push(thread),
                DomainEvent::PolicyActivated { .. } => policy_changes = true,
                other if learned::moderator_decision(other).is_some() => learns = true,
                _ => {}
            }
        }
        thread_keys.sort_unstable();
        thread_keys.dedup();
        count_keys.sort_unstable_by(|a, b| (a.0.code(), &a.1).cmp(&(b.0.code(), &b.1)));
        count_keys.dedup();
        let threads = tx.threads(&thread_keys)?;
        let mut authors = AuthorHistory::default();
        for ((kind, key), c) in count_keys.iter().zip(tx.counts(&count_keys)?) {
            authors.set_counts(*kind, key, c);
        }
        timings.read = phase.elapsed();
        phase = Instant::now();
        let mut work = Projections {
            position: core.position,
            events_applied: core.events_applied,
            comments,
            threads: threads
                .iter()
                .map(|(k, (t, _))| (k.clone(), t.clone()))
                .collect(),
            queues: Queues {
                reported: tx.reported(&ids)?,
                ..Queues::default()
            },
            authors,
            policy_version: core.policy_version.clone(),
            policy_history: core.policy_history.clone(),
            // Cloned only when a decision of the batch can change it.
            learned: if learns {
                (*core.learned).clone()
            } else {
                Default::default()
            },
        };
        for (e, event) in events.iter().zip(&decoded) {
            work.apply_recorded(at(e), event.as_ref());
        }

        let mut batch = BatchWrite {
            position: work.position,
            events_applied: work.events_applied,
            ..BatchWrite::default()
        };
        let mut totals: HashMap<&'static str, i64> = HashMap::new();
        let mut visible_delta: HashMap<&str, i64> = HashMap::new();
        for id in &ids {
            let Some(rec) = work.comments.get(id) else {
                continue;
            };
            let old = match before.get(id) {
                Some(old) => *old,
                None => {
                    *totals.entry("comments").or_default() += 1;
                    None
                }
            };
            if old != rec.status {
                for (status, d) in [(old, -1), (rec.status, 1)] {
                    if let Some(s) = status {
                        *totals.entry(s.as_str()).or_default() += d;
                        if s == CommentStatus::Published {
                            *visible_delta.entry(rec.thread.as_str()).or_default() += d;
                        }
                    }
                }
            }
            batch.comments.push(rec.clone());
        }
        let mut changed_threads = Vec::new();
        for (key, t) in &work.threads {
            let (old_generation, old_visible) = threads
                .get(key)
                .map_or((None, 0), |(t, v)| (Some(t.generation), *v));
            let visible =
                old_visible as i64 + visible_delta.get(key.as_str()).copied().unwrap_or(0);
            if old_generation != Some(t.generation) {
                changed_threads.push(key.clone());
            }
            batch
                .threads
                .push((key.clone(), t.closed, t.generation, visible.max(0) as u64));
        }
        batch.reported = work
            .queues
            .reported
            .iter()
            .map(|(p, id)| (*p, *id))
            .collect();
        for (e, event) in events.iter().zip(&decoded) {
            if let Some(DomainEvent::CommentScreened {
                fingerprint: Some(fp),
                ..
            }) = event
                && let Some(rec) = crate::domain::comment::id_from_stream(&e.stream)
                    .and_then(|id| work.comments.get(&id))
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
        batch.counts = work
            .authors
            .each_count()
            .map(|(kind, key, c)| (kind, key.to_string(), c))
            .collect();
        batch.totals = totals.into_iter().collect();
        // Once per batch, not per event: a bulk decision of hundreds would otherwise serialise
        // the whole learned state hundreds of times.
        if policy_changes {
            batch.policy = Some(projection_db::policy_bytes(
                &work.policy_version,
                &work.policy_history,
            ));
        }
        if learns {
            batch.learned = Some(serde_json::to_vec(&work.learned).unwrap_or_default());
        }
        batch.reported_for = ids;
        forget_sightings.sort_unstable();
        forget_sightings.dedup();
        batch.forget_sightings = forget_sightings;
        timings.fold = phase.elapsed();
        phase = Instant::now();
        tx.write(&batch)?;
        timings.write = phase.elapsed();
        Ok(Folded {
            core: Core {
                position: work.position,
                events_applied: work.events_applied,
                policy_version: work.policy_version,
                policy_history: work.policy_history,
                learned: if learns {
                    Arc::new(work.learned)
                } else {
                    core.learned.clone()
                },
            },
            threads: changed_threads,
            counts: batch.counts,
        })
    })?;
    timings.record(started.elapsed(), events.len());
    Ok(folded)
}

/// Where one batch's fold spent its time, counted in `saring_projection_fold_microseconds_total`
/// by phase: a post's `201` waits for its batch's fold, so these say what a post pays after
/// the log's sync (docs/loadtest.md, "Where a post's time goes after the log's sync").
#[derive(Default)]
struct FoldTimings {
    /// Loading the rows the batch touches.
    read: Duration,
    /// The pure fold, and the changed rows gathered.
    fold: Duration,
    /// The rows written (statements, indexes, the text index).
    write: Duration,
}

impl FoldTimings {
    fn record(&self, total: Duration, events: usize) {
        // The commit (and any checkpoint SQLite runs inside it) is what the phases leave.
        let commit = total.saturating_sub(self.read + self.fold + self.write);
        for (phase, d) in [
            ("read", self.read),
            ("fold", self.fold),
            ("write", self.write),
            ("commit", commit),
        ] {
            metrics::counter!("saring_projection_fold_microseconds_total", "phase" => phase)
                .increment(d.as_micros() as u64);
        }
        metrics::counter!("saring_projection_folds_total").increment(1);
        metrics::counter!("saring_projection_folded_events_total").increment(events as u64);
    }
}

/// Folds a batch into in-memory projections (tools, tests).
pub fn apply_in_memory(p: &mut Projections, events: &[RecordedEvent]) {
    for e in events {
        let event = codec::decode_recorded(e);
        p.apply_recorded(at(e), event.as_ref());
    }
}

/// Applies a batch to the view: in memory, or written to its database on the blocking pool,
/// retrying until it is written or `stop` comes (a batch is never skipped, since the next
/// one's position would then cover changes the file does not hold). Given up at a stop, the
/// file stays consistent at its earlier position and the next start follows from there.
/// Whether it was applied.
pub async fn apply(view: &Arc<View>, events: Vec<RecordedEvent>, stop: &CancellationToken) -> bool {
    if events.is_empty() {
        return true;
    }
    let (Some(db), Some(_)) = (view.db().cloned(), view.core()) else {
        view.write(|p| apply_in_memory(p, &events));
        return true;
    };
    let events = Arc::new(events);
    loop {
        let core = view.core().unwrap_or_default();
        let (db, evs) = (db.clone(), events.clone());
        match tokio::task::spawn_blocking(move || fold_on_disk(&db, &core, &evs)).await {
            Ok(Ok(folded)) => {
                view.commit(folded.core, folded.threads, &folded.counts);
                drop_off_worker(events);
                return true;
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot write the projections; retrying"),
            Err(e) => tracing::error!(error = %e, "projection writer failed; retrying"),
        }
        if stop.is_cancelled() {
            return false;
        }
        pause(stop, Duration::from_secs(1)).await;
    }
}

/// Events in a batch above which it is freed on the blocking pool.
const DROP_INLINE_MAX: usize = 32;

/// Frees a folded batch. Hundreds of events (each a tree of JSON values) take a millisecond or
/// more to free, which on an async worker holds up every request queued behind it; a few
/// are freed here, cheaper than the trip to the blocking pool.
fn drop_off_worker(events: Arc<Vec<RecordedEvent>>) {
    if events.len() > DROP_INLINE_MAX {
        tokio::task::spawn_blocking(move || drop(events));
    }
}

/// Catches up with everything stored after the view's position, then marks the view ready
/// (`/readyz` answers 200 from then on); false if `stop` came first. See [`fold_to_end`].
pub async fn catch_up(store: &dyn EventStore, view: &Arc<View>, stop: &CancellationToken) -> bool {
    let caught_up = fold_to_end(store, view, stop).await;
    if caught_up {
        view.set_ready();
    }
    caught_up
}

/// Folds everything stored after the view's position; false if `stop` came first (after the
/// batch in hand, written in full). Progress is logged every few seconds, the end once; a
/// failed read of the log is logged and retried after a pause: the server already serves
/// what the projections hold, and can only wait for its store.
async fn fold_to_end(store: &dyn EventStore, view: &Arc<View>, stop: &CancellationToken) -> bool {
    let (started, from) = (Instant::now(), view.position());
    let mut logged = Instant::now();
    loop {
        let folded = fold_until(store, view, None, CATCH_UP_BATCH, stop, |position, _| {
            metrics::gauge!("saring_projection_position").set(position as f64);
            if logged.elapsed() > Duration::from_secs(5) {
                logged = Instant::now();
                tracing::info!(position, "projections catching up with the log");
            }
        })
        .await;
        match folded {
            Ok(()) if stop.is_cancelled() => return false,
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the event log to catch up; retrying");
                pause(stop, Duration::from_secs(1)).await;
                if stop.is_cancelled() {
                    return false;
                }
            }
        }
    }
    if view.position() > from {
        tracing::info!(
            position = view.position(),
            events = view.position() - from,
            seconds = started.elapsed().as_secs_f64(),
            "projections caught up"
        );
    }
    true
}

/// The server's follower. First the catch-up: the log beyond the projection database's
/// position (a long stop's backlog, a new replica's whole log) is folded while the server
/// already answers; then `before_ready` runs (the server records its policy, which needs the
/// log's last activation folded), what it appended is folded, the view is marked ready and
/// `ready` says so; then [`follow`] until `stop`. A stop during the catch-up ends it after
/// the batch in hand (written in full), and the next start goes on from there.
pub async fn catch_up_and_follow(
    store: Arc<dyn EventStore>,
    view: Arc<View>,
    stop: CancellationToken,
    before_ready: impl Future<Output = ()>,
    ready: tokio::sync::watch::Sender<bool>,
) {
    if !fold_to_end(store.as_ref(), &view, &stop).await {
        return;
    }
    before_ready.await;
    if !catch_up(store.as_ref(), &view, &stop).await {
        return;
    }
    let _ = ready.send(true);
    follow(store, view, stop).await;
}

/// Folds the log after the view's position (up to `until`, if given) into the view;
/// `progress` gets the position reached and the events of each batch.
pub async fn fold_log(
    store: &dyn EventStore,
    view: &Arc<View>,
    until: Option<u64>,
    progress: impl FnMut(u64, usize),
) -> Result<(), StoreError> {
    fold_log_in(store, view, until, CATCH_UP_BATCH, progress).await
}

/// [`fold_log`] in batches of `batch` events (one transaction each): a bulk rebuild uses
/// larger ones than the server's catch-up, which keeps its transactions short.
pub async fn fold_log_in(
    store: &dyn EventStore,
    view: &Arc<View>,
    until: Option<u64>,
    batch: usize,
    progress: impl FnMut(u64, usize),
) -> Result<(), StoreError> {
    fold_until(
        store,
        view,
        until,
        batch,
        &CancellationToken::new(),
        progress,
    )
    .await
}

/// [`fold_log_in`] that also ends, between batches, once `stop` is cancelled.
async fn fold_until(
    store: &dyn EventStore,
    view: &Arc<View>,
    until: Option<u64>,
    batch: usize,
    stop: &CancellationToken,
    mut progress: impl FnMut(u64, usize),
) -> Result<(), StoreError> {
    while !stop.is_cancelled() {
        let from = view.position() + 1;
        if until.is_some_and(|u| from > u) {
            break;
        }
        let mut events = store.read_all(from, batch).await?;
        if let Some(u) = until {
            events.retain(|e| e.position <= u);
        }
        if events.is_empty() {
            break;
        }
        let n = events.len();
        // A batch read is written in full even if the stop comes meanwhile (`apply` gives up
        // only on a failed write), so the file's position always matches what it holds.
        apply(view, events, stop).await;
        progress(view.position(), n);
    }
    Ok(())
}

/// Follows the live subscription until `stop` is cancelled. On a subscription error it
/// resubscribes from its own position after a pause. A batch in hand when the stop comes is
/// applied and written in full.
pub async fn follow(store: Arc<dyn EventStore>, view: Arc<View>, stop: CancellationToken) {
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
            let (events, failed) = crate::store::events_until_failure(chunk);
            // Events at or before the position (an overlap after resubscribing) are skipped
            // by the fold itself.
            apply(&view, events, &stop).await;
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
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
    use crate::domain::{ClientFacts, ModeratorAction, Submission, comment_stream};
    use crate::policy::{Outcome, Verdict};
    use crate::projections::search::{ConsoleQueue, QueueFilter, SortOrder};
    use crate::projections::{Order, QueueName};
    use crate::service::view::ProjectionSettings;
    use crate::store::{ExpectedRevision, sqlite::SqliteStore};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    /// Events recorded as a store would: streams, revisions and dense positions.
    #[derive(Default)]
    struct Log {
        events: Vec<RecordedEvent>,
        states: HashMap<Uuid, CommentState>,
    }

    impl Log {
        fn push(&mut self, stream: String, revision: u64, e: &DomainEvent) {
            let new = codec::encode(e).unwrap();
            self.events.push(RecordedEvent {
                id: Uuid::new_v4(),
                stream,
                revision,
                position: self.events.len() as u64 + 1,
                event_type: new.event_type,
                schema_version: new.schema_version,
                recorded_at: t(0),
                data: new.data,
                metadata: new.metadata,
            });
        }

        /// Runs a command through the real decider; a refused one leaves the log unchanged.
        fn run(&mut self, id: Uuid, cmd: CommentCommand) {
            let state = self.states.remove(&id).unwrap_or_default();
            let Ok(events) = comment::decide(&state, cmd) else {
                self.states.insert(id, state);
                return;
            };
            let mut state = state;
            for e in &events {
                let revision = state.events;
                state = comment::evolve(state, e);
                self.push(comment_stream(id), revision, e);
            }
            self.states.insert(id, state);
        }

        fn post(
            &mut self,
            n: u64,
            thread: usize,
            parent: Option<Uuid>,
            outcome: Outcome,
            author: usize,
        ) -> Uuid {
            let id = Uuid::from_u128(u128::from(n) + 1);
            let submission = Submission {
                comment_id: id,
                thread: format!("berita-{thread}"),
                parent_id: parent,
                author_name: format!("Pembaca {author}"),
                author_email: format!("P{author}@contoh.id"),
                author_url: author
                    .is_multiple_of(2)
                    .then(|| format!("https://www.situs{author}.id/")),
                body: format!("Komentar nomor {n} <b>tebal</b> \"kutip\" https://contoh.id/{n}"),
                client: ClientFacts {
                    ip: format!("198.51.100.{author}"),
                    user_agent: None,
                },
                captcha_solve_ms: 3000,
                pow: None,
                known_reader: None,
                lang: crate::i18n::Lang::Id,
                submitted_at: t(n as i64),
                erased: false,
            };
            // The parent facts as the service reads them; a refused reply is simply not logged.
            let parent_facts = parent.and_then(|p| {
                let st = self.states.get(&p)?;
                Some((format!("berita-{thread}"), st.is_visible()))
            });
            self.run(
                id,
                CommentCommand::Submit {
                    submission: Box::new(submission),
                    verdict: Box::new(Verdict {
                        outcome,
                        score: 1.5,
                        rules: vec![],
                        policy_version: "v".into(),
                    }),
                    fingerprint: n % 3,
                    context: SubmitContext {
                        thread_closed: false,
                        parent: parent_facts,
                    },
                },
            );
            id
        }

        fn close(&mut self, thread: usize, closed: bool) {
            let e = if closed {
                DomainEvent::ThreadClosed {
                    thread: format!("berita-{thread}"),
                    by: crate::domain::Actor::Moderator("ayu".into()),
                    at: t(500),
                }
            } else {
                DomainEvent::ThreadReopened {
                    thread: format!("berita-{thread}"),
                    by: crate::domain::Actor::Moderator("ayu".into()),
                    at: t(501),
                }
            };
            let n = self.events.len() as u64;
            self.push(
                crate::domain::thread_stream(&format!("berita-{thread}")),
                n,
                &e,
            );
        }
    }

    const ACTIONS: [ModeratorAction; 6] = [
        ModeratorAction::Approve,
        ModeratorAction::Reject,
        ModeratorAction::Spam,
        ModeratorAction::NotSpam,
        ModeratorAction::Delete,
        ModeratorAction::Restore,
    ];

    /// A log of posts (some replies), moderator decisions, reader reports and thread closes.
    fn log_of(posts: &[(usize, usize, usize, bool)], steps: &[(usize, usize)]) -> Log {
        let mut log = Log::default();
        let outcomes = [Outcome::Accept, Outcome::Hold, Outcome::Spam];
        let mut ids = Vec::new();
        for (n, (thread, outcome, author, reply)) in posts.iter().enumerate() {
            let parent = (*reply && !ids.is_empty()).then(|| ids[n % ids.len()]);
            ids.push(log.post(n as u64, *thread, parent, outcomes[*outcome], *author));
        }
        for (which, step) in steps {
            let id = ids[which % ids.len()];
            match step {
                0..6 => log.run(
                    id,
                    CommentCommand::Decide {
                        action: ACTIONS[*step],
                        moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
                        reason: String::new(),
                        now: t(999),
                    },
                ),
                6 | 7 => log.run(
                    id,
                    CommentCommand::Flag {
                        reporter: format!("r{which}{step}"),
                        reason: String::new(),
                        threshold: 1,
                        now: t(1000),
                    },
                ),
                _ => log.close(which % 3, step % 2 == 0),
            }
        }
        log
    }

    /// Folds `events` into a fresh database in batches of the given sizes.
    fn fold_into_db(dir: &std::path::Path, events: &[RecordedEvent], sizes: &[usize]) -> Arc<View> {
        let (db, head, _) =
            ProjectionDb::open(&dir.join(projection_db::FILE_NAME), "sqlite").unwrap();
        let view = Arc::new(View::on_disk(
            Arc::new(db),
            head,
            &ProjectionSettings::default(),
        ));
        let (mut rest, mut i) = (events, 0);
        while !rest.is_empty() {
            let n = sizes.get(i).copied().unwrap_or(3).clamp(1, rest.len());
            let folded =
                fold_on_disk(view.db().unwrap(), &view.core().unwrap(), &rest[..n]).unwrap();
            view.commit(folded.core, folded.threads, &folded.counts);
            rest = &rest[n..];
            i += 1;
        }
        view
    }

    /// Every question readers and moderators ask, answered by `view`.
    fn answers(view: &View, emails: &[String]) -> Vec<String> {
        // Every read must succeed: a failed one would answer empty on both sides alike.
        view.read_or_fail(|p| {
            let mut out = Vec::new();
            for thread in 0..4 {
                let key = format!("berita-{thread}");
                for order in [Order::Oldest, Order::Newest] {
                    for page in 1..=3 {
                        let rendered = p.thread_page(&key, order, page, 2, 1).map(|(_, page)| page);
                        out.push(format!("{key} {order:?} {page}: {rendered:?}"));
                    }
                }
                out.push(format!(
                    "{key} closed {} visible {}",
                    p.is_closed(&key),
                    p.visible_count(&key)
                ));
            }
            for q in [
                QueueName::Pending,
                QueueName::Reported,
                QueueName::Spam,
                QueueName::Rejected,
            ] {
                let (items, next) = p.queue_page(q, None, 3);
                let ids: Vec<Uuid> = items.iter().map(|r| r.id).collect();
                let rest = next.map(|n| p.queue_page(q, Some(n), 100).0.len());
                out.push(format!("{q:?}: {ids:?} {rest:?} len {}", p.queue_len(q)));
            }
            for q in ConsoleQueue::ALL {
                out.push(format!("{q:?} {:?}", p.queue_stats(q)));
                for order in [SortOrder::Oldest, SortOrder::Newest] {
                    let filters = [
                        QueueFilter::default(),
                        QueueFilter {
                            thread: Some("berita-1".into()),
                            ..QueueFilter::default()
                        },
                        QueueFilter {
                            domain: Some("situs2.id".into()),
                            ..QueueFilter::default()
                        },
                        QueueFilter {
                            text: Some("tebal".into()),
                            email: Some("p1@contoh.id".into()),
                            ..QueueFilter::default()
                        },
                        // Through the published queue's text index (three characters or
                        // more, escaped as the body is, in the name) and around it (shorter).
                        QueueFilter {
                            text: Some(" NOMOR 1".into()),
                            ..QueueFilter::default()
                        },
                        QueueFilter {
                            text: Some("<b>teb".into()),
                            ..QueueFilter::default()
                        },
                        QueueFilter {
                            text: Some("aca 2".into()),
                            ..QueueFilter::default()
                        },
                        QueueFilter {
                            text: Some("</b> \"kut".into()),
                            ..QueueFilter::default()
                        },
                        QueueFilter {
                            text: Some("b>".into()),
                            ..QueueFilter::default()
                        },
                    ];
                    for f in filters {
                        let first = p.queue_search(q, &f, order, None, 2);
                        let second = p.queue_search(q, &f, order, first.next, 50);
                        let ids = |page: &crate::projections::search::QueuePage| {
                            page.items.iter().map(|r| r.id).collect::<Vec<_>>()
                        };
                        out.push(format!(
                            "{q:?} {order:?} {f:?}: {:?} {:?} {} {:?}",
                            ids(&first),
                            ids(&second),
                            first.matching,
                            second.next
                        ));
                    }
                }
            }
            for (i, email) in emails.iter().enumerate() {
                out.push(format!("{email}: {:?}", p.author_record(email)));
                let ip = format!("198.51.100.{i}");
                let url = format!("http://situs{i}.id");
                for fp in 0..3 {
                    let h = p.history(email, &ip, Some(&url), fp, "berita-0", t(2000));
                    out.push(format!("{email} {fp}: {h:?}"));
                }
                out.push(format!("{ip}: {}", p.address_spam(&ip)));
            }
            out.push(format!("learned {}", p.learned().len()));
            out
        })
        .expect("every read of the projections succeeds")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// However the log is cut into batches, folding it through the projection database
        /// gives the in-memory fold: the stored rows load back equal, and every read (thread
        /// pages, queues with filters and paging, counts, author history) answers the same.
        #[test]
        fn a_fold_through_the_database_equals_the_in_memory_fold(
            posts in proptest::collection::vec((0usize..4, 0usize..3, 0usize..4, any::<bool>()), 1..14),
            steps in proptest::collection::vec((0usize..14, 0usize..10), 0..24),
            sizes in proptest::collection::vec(1usize..6, 0..12),
        ) {
            let log = log_of(&posts, &steps);
            let dir = tempfile::tempdir().unwrap();
            let disk = fold_into_db(dir.path(), &log.events, &sizes);
            let mut mem = Projections::default();
            apply_in_memory(&mut mem, &log.events);
            let db = disk.db().unwrap();
            prop_assert_eq!(db.load_all().unwrap().differences(&mem, 5), Vec::<String>::new());
            prop_assert_eq!(db.derived_differences(&mem).unwrap(), Vec::<String>::new());
            let emails: Vec<String> = (0..4).map(|a| format!("p{a}@contoh.id")).collect();
            let memory = View::new(mem);
            prop_assert_eq!(answers(&disk, &emails), answers(&memory, &emails));
        }
    }

    /// Many threads read through a small page cache while the follower keeps writing: the
    /// cache never holds more than its budget, and a thread's page read after its change is
    /// the new one (the cached one was dropped, not served).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_page_cache_stays_within_its_budget_and_never_serves_a_changed_thread() {
        use crate::http::thread_cache::ThreadCache;
        let mut log = Log::default();
        for n in 0..600 {
            log.post(n, n as usize % 300, None, Outcome::Accept, n as usize % 4);
        }
        let dir = tempfile::tempdir().unwrap();
        let view = fold_into_db(dir.path(), &log.events, &[500]);
        let budget = 40_000;
        let cache = ThreadCache::with_budget(budget);
        let hot = cache
            .page(&view, "berita-0", Order::Oldest, 1, 20, 3)
            .await
            .unwrap();
        for round in 0..3 {
            for thread in 0..300 {
                cache
                    .page(&view, &format!("berita-{thread}"), Order::Oldest, 1, 20, 3)
                    .await
                    .unwrap();
                assert!(
                    cache.bytes() as usize <= budget,
                    "{} bytes in round {round}",
                    cache.bytes()
                );
                assert_eq!(
                    cache
                        .page(&view, "berita-0", Order::Oldest, 1, 20, 3)
                        .await
                        .unwrap()
                        .etag,
                    hot.etag
                );
            }
        }
        assert!(cache.len() > 20, "the cache holds pages: {}", cache.len());
        // The hot thread changes (a new comment): the next read renders it again.
        let before = log.events.len();
        log.post(10_000, 0, None, Outcome::Accept, 1);
        let folded = fold_on_disk(
            view.db().unwrap(),
            &view.core().unwrap(),
            &log.events[before..],
        )
        .unwrap();
        view.commit(folded.core, folded.threads, &folded.counts);
        let fresh = cache
            .page(&view, "berita-0", Order::Oldest, 1, 20, 3)
            .await
            .unwrap();
        assert_ne!(fresh.etag, hot.etag);
        assert!(
            std::str::from_utf8(&fresh.body)
                .unwrap()
                .contains("\"total\":3")
        );
    }

    /// Appends `n` submitted and screened comments over 7 threads, one in three held.
    async fn seed(store: &SqliteStore, n: u64) {
        let mut log = Log::default();
        for i in 0..n {
            let outcome = if i % 3 == 0 {
                Outcome::Hold
            } else {
                Outcome::Accept
            };
            log.post(i, (i % 7) as usize, None, outcome, (i % 5) as usize);
        }
        let mut by_stream: Vec<(String, Vec<crate::store::NewEvent>)> = Vec::new();
        for e in &log.events {
            let event = codec::decode_recorded(e).unwrap();
            match by_stream.last_mut() {
                Some((s, evs)) if *s == e.stream => evs.push(codec::encode(&event).unwrap()),
                _ => by_stream.push((e.stream.clone(), vec![codec::encode(&event).unwrap()])),
            }
        }
        for (stream, events) in by_stream {
            store
                .append(&stream, ExpectedRevision::NoStream, events)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_restart_follows_from_the_stored_position_and_another_backend_rebuilds() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        seed(&store, 40).await;
        let path = dir.path().join(projection_db::FILE_NAME);
        let settings = ProjectionSettings::default();
        let (db, head, fresh) = ProjectionDb::open(&path, "sqlite").unwrap();
        assert!(fresh && head.position == 0);
        let view = Arc::new(View::on_disk(Arc::new(db), head, &settings));
        assert!(catch_up(&store, &view, &CancellationToken::new()).await);
        let first = view.position();
        drop(view);

        // More events while "stopped"; the reopened file starts at its position, not at 0.
        let close = DomainEvent::ThreadClosed {
            thread: "berita-0".into(),
            by: crate::domain::Actor::Moderator("ayu".into()),
            at: t(100_000),
        };
        store
            .append(
                &crate::domain::thread_stream("berita-0"),
                ExpectedRevision::Any,
                vec![codec::encode(&close).unwrap()],
            )
            .await
            .unwrap();
        let (db, head, fresh) = ProjectionDb::open(&path, "sqlite").unwrap();
        assert!(!fresh);
        assert_eq!(head.position, first);
        let view = Arc::new(View::on_disk(Arc::new(db), head, &settings));
        assert!(catch_up(&store, &view, &CancellationToken::new()).await);
        assert!(view.read(|p| p.is_closed("berita-0")));

        let mut mem = Projections::default();
        apply_in_memory(&mut mem, &store.read_all(1, 10_000).await.unwrap());
        assert!(mem.queues.pending.len() > 5, "the seed holds some comments");
        let db = view.db().unwrap();
        assert_eq!(
            db.load_all().unwrap().differences(&mem, 5),
            Vec::<String>::new()
        );
        assert_eq!(
            view.read(|p| p.queue_len(QueueName::Pending)),
            mem.queues.pending.len()
        );
        drop(view);

        let (_, other, fresh) = ProjectionDb::open(&path, "postgres").unwrap();
        assert!(fresh);
        assert_eq!(other.position, 0, "another backend's file is rebuilt");
    }
}
