//! The one command path: load a stream, fold it, decide, append with the revision of the last
//! recorded event, and on a conflict retry or give up as the command's kind says.
//!
//! Every command (a submission, a moderator decision, a reader report, closing or reopening a
//! thread) goes through [`Shell::execute`], so "what is a conflict" and "which revision do we
//! expect" have one answer. The expected revision is the stream's last *recorded* revision, not
//! the number of events this version could decode: one event of a type written by a newer replica
//! must not make every later decision on that stream stale.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::DomainEvent;
use crate::store::{EventStore, ExpectedRevision, RecordedEvent, StoreError};

use super::View;
use super::codec;

/// How long a command waits for the projections to include its write before answering anyway.
pub const READ_YOUR_WRITES: Duration = Duration::from_secs(5);
/// Events of one stream read at most: the store refuses to grow a stream past it, so a fold
/// always sees the whole stream; a longer one (written before the limit existed) is refused as
/// [`StoreError::StreamFull`] rather than folded short.
pub const MAX_STREAM_EVENTS: u64 = crate::store::MAX_STREAM_EVENTS;
/// Attempts of a retried command before it gives up as [`StoreFailure::Contended`].
pub const RETRY_ATTEMPTS: u32 = 5;

/// What a command does when another writer changed its stream between its read and its append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Creates a stream that must not exist yet (a submission, whose id comes from the captcha
    /// nonce). Nothing is read first; a conflict means the stream exists, which the caller
    /// answers as a replay. Never retried.
    Create,
    /// A change decided against a state the caller has seen (a moderator decision with its
    /// `expected_version`): a conflict means someone else changed it first, and retrying would
    /// apply a decision to a state nobody looked at. Never retried.
    ChangeOnce,
    /// A change the decider can simply recompute from the fresh state (a reader report, closing
    /// a thread): load, fold and decide again, up to [`RETRY_ATTEMPTS`] attempts in all.
    Retry,
}

impl CommandKind {
    fn attempts(self) -> u32 {
        match self {
            CommandKind::Create | CommandKind::ChangeOnce => 1,
            CommandKind::Retry => RETRY_ATTEMPTS,
        }
    }
}

/// A stream as loaded: the folded state, the recorded events (known or not) and its revision.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    /// The state folded from every event this version knows.
    pub state: S,
    /// Every recorded event, including those the fold ignored.
    pub recorded: Vec<RecordedEvent>,
    /// The revision of the last recorded event; `None` when the stream does not exist.
    pub revision: Option<u64>,
}

impl<S> Loaded<S> {
    /// The expectation an append after this load carries.
    pub fn expected(&self) -> ExpectedRevision {
        self.revision
            .map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact)
    }
}

/// What a command wrote: its events (possibly none), the state after them, and where they
/// landed.
#[derive(Debug, Clone)]
pub struct Appended<S> {
    /// The state folded from the load plus the new events.
    pub state: S,
    /// The events written.
    pub events: Vec<DomainEvent>,
    /// The stream's revision after the command: the last new event's, or the loaded one when
    /// the decider wrote nothing (only ever on a stream that exists).
    pub revision: u64,
    /// The global position of the last new event; `None` when the decider wrote nothing.
    pub position: Option<u64>,
}

/// An operational failure: nothing the domain refused, something the caller may retry later.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    /// The event store failed or is away.
    #[error("the event store failed")]
    Store(
        #[from]
        #[source]
        StoreError,
    ),
    /// The stream changed under the command on every attempt it was allowed.
    #[error("stream {stream} changed under the command {attempts} time(s) in a row")]
    Contended {
        /// The stream.
        stream: String,
        /// Attempts made.
        attempts: u32,
    },
}

/// Why a command did not take effect: the domain refused it, or the machinery failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<R> {
    /// The domain (or a check before it) refused the command; the answer says why.
    #[error("the command was refused")]
    Refused(R),
    /// The store failed or stayed contended; the command may be repeated.
    #[error(transparent)]
    Failed(#[from] StoreFailure),
}

impl<R> From<StoreError> for CommandError<R> {
    fn from(e: StoreError) -> Self {
        CommandError::Failed(StoreFailure::Store(e))
    }
}

/// Stripes of the turn lock that orders retried commands on one stream within a process.
const TURN_STRIPES: usize = 256;

/// Runs commands against the store and waits for the projections to see them.
pub struct Shell {
    store: Arc<dyn EventStore>,
    view: Arc<View>,
    stripes: Box<[tokio::sync::Mutex<()>]>,
}

impl Shell {
    /// A shell over `store`, whose writes `view` follows.
    pub fn new(store: Arc<dyn EventStore>, view: Arc<View>) -> Shell {
        Shell {
            store,
            view,
            stripes: (0..TURN_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// Reads and folds one stream, whole.
    ///
    /// A backend may answer a read in pages (by size), so this reads until an empty answer. A
    /// stream longer than [`MAX_STREAM_EVENTS`] is an error, never a fold of its first part: a
    /// short fold used to make its revision look stale to every decision for ever.
    pub async fn load<S: Default>(
        &self,
        stream: &str,
        evolve: fn(S, &DomainEvent) -> S,
    ) -> Result<Loaded<S>, StoreError> {
        let mut recorded: Vec<RecordedEvent> = Vec::new();
        loop {
            // One more than allowed, so a stream over the limit shows itself.
            let room = (MAX_STREAM_EVENTS + 1).saturating_sub(recorded.len() as u64);
            let from = recorded.last().map_or(0, |r| r.revision + 1);
            let page = self
                .store
                .read_stream(stream, from, usize::try_from(room).unwrap_or(usize::MAX))
                .await?;
            if page.is_empty() {
                break;
            }
            recorded.extend(page);
            if recorded.len() as u64 > MAX_STREAM_EVENTS {
                tracing::error!(
                    stream,
                    limit = MAX_STREAM_EVENTS,
                    "stream over the read limit"
                );
                return Err(StoreError::StreamFull {
                    stream: stream.to_string(),
                    limit: MAX_STREAM_EVENTS,
                });
            }
        }
        let state = recorded
            .iter()
            .filter_map(codec::decode_recorded)
            .fold(S::default(), |s, e| evolve(s, &e));
        let revision = recorded.last().map(|r| r.revision);
        Ok(Loaded {
            state,
            recorded,
            revision,
        })
    }

    /// Loads `stream` (unless the command creates it), asks `decide`, appends what it decided
    /// with the loaded revision, and waits for the projections to include it. On a conflict a
    /// [`CommandKind::Retry`] command starts again from a fresh load; the others answer
    /// [`StoreFailure::Contended`] at once.
    pub async fn execute<S, R>(
        &self,
        stream: &str,
        kind: CommandKind,
        evolve: fn(S, &DomainEvent) -> S,
        mut decide: impl FnMut(&Loaded<S>) -> Result<Vec<DomainEvent>, R>,
    ) -> Result<Appended<S>, CommandError<R>>
    where
        S: Default + Clone,
    {
        // Retried commands on one stream take turns in this process, so a burst of reports on
        // one comment queues here instead of racing each other to the store until some give up
        // contended. Conflicts with other replicas are still retried below.
        let turn = match kind {
            CommandKind::Retry => Some(self.stripe(stream).lock().await),
            CommandKind::Create | CommandKind::ChangeOnce => None,
        };
        let attempts = kind.attempts();
        for _ in 0..attempts {
            let loaded = match kind {
                CommandKind::Create => Loaded {
                    state: S::default(),
                    recorded: Vec::new(),
                    revision: None,
                },
                CommandKind::ChangeOnce | CommandKind::Retry => self.load(stream, evolve).await?,
            };
            let events = decide(&loaded).map_err(CommandError::Refused)?;
            if events.is_empty() {
                // Accepted with nothing to record (a report beyond the stored cap): no append,
                // so nothing to wait for either.
                return Ok(Appended {
                    state: loaded.state,
                    events,
                    revision: loaded.revision.unwrap_or(0),
                    position: None,
                });
            }
            match self.append(stream, loaded.expected(), &events).await {
                Ok(written) => {
                    // The next command's load reads the store, not the projections: its turn
                    // need not wait for them.
                    drop(turn);
                    self.view.wait_for(written.position, READ_YOUR_WRITES).await;
                    let state = events.iter().fold(loaded.state, evolve);
                    return Ok(Appended {
                        state,
                        events,
                        revision: written.next_revision,
                        position: Some(written.position),
                    });
                }
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreFailure::Contended {
            stream: stream.to_string(),
            attempts,
        }
        .into())
    }

    /// The turn lock of `stream`'s stripe. A fixed set of stripes rather than a lock per stream:
    /// a map keyed by stream would be one more map an attacker grows with every comment id,
    /// and two streams sharing a stripe only wait a little for each other.
    fn stripe(&self, stream: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(stream);
        &self.stripes[(hash % TURN_STRIPES as u64) as usize]
    }

    /// Appends facts that depend on no stream state (the policy in force), then waits for the
    /// projections.
    pub async fn record(&self, stream: &str, events: &[DomainEvent]) -> Result<(), StoreError> {
        let written = self.append(stream, ExpectedRevision::Any, events).await?;
        self.view.wait_for(written.position, READ_YOUR_WRITES).await;
        Ok(())
    }

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: &[DomainEvent],
    ) -> Result<crate::store::AppendResult, StoreError> {
        let new_events = codec::encode_command(events)?;
        self.store.append(stream, expected, new_events).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use chrono::Utc;

    use super::*;
    use crate::projections::Projections;
    use crate::store::{AppendResult, EventMetadata, EventStream, NewEvent, sqlite::SqliteStore};
    use uuid::Uuid;

    /// A store where another writer slips an event into the stream just before each of the
    /// next `races` appends, as a second replica or a colleague would.
    /// Reads answer at most `page` events (0: as many as asked), as a backend bounding the size
    /// of one answer does.
    struct Racing {
        inner: SqliteStore,
        races: AtomicU32,
        page: std::sync::atomic::AtomicUsize,
    }

    /// A stream that never ends: every read answers a full page of events nobody knows.
    struct Endless;

    #[async_trait]
    impl EventStore for Endless {
        async fn append(
            &self,
            _: &str,
            _: ExpectedRevision,
            _: Vec<NewEvent>,
        ) -> Result<AppendResult, StoreError> {
            Err(StoreError::Closed)
        }
        async fn read_stream(
            &self,
            stream: &str,
            from: u64,
            max: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            Ok((from..from + max.min(1000) as u64)
                .map(|revision| RecordedEvent {
                    id: Uuid::new_v4(),
                    stream: stream.to_string(),
                    revision,
                    position: revision,
                    event_type: "CommentPinned".into(),
                    schema_version: 1,
                    recorded_at: Utc::now(),
                    data: serde_json::json!({}),
                    metadata: EventMetadata::default(),
                })
                .collect())
        }
        async fn read_all(&self, _: u64, _: usize) -> Result<Vec<RecordedEvent>, StoreError> {
            Ok(Vec::new())
        }
        async fn subscribe_all(&self, _: u64) -> Result<EventStream, StoreError> {
            Err(StoreError::Closed)
        }
        async fn head_position(&self) -> Result<Option<u64>, StoreError> {
            Ok(None)
        }
        fn backend_name(&self) -> &'static str {
            "endless"
        }
    }

    fn fact(version: &str) -> DomainEvent {
        DomainEvent::PolicyActivated {
            version: version.into(),
            summary: serde_json::Value::Null,
            descriptions: Default::default(),
            at: Utc::now(),
        }
    }

    #[async_trait]
    impl EventStore for Racing {
        async fn append(
            &self,
            stream: &str,
            expected: ExpectedRevision,
            events: Vec<NewEvent>,
        ) -> Result<AppendResult, StoreError> {
            let race = self
                .races
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if race {
                let other = codec::encode(&fact("other writer"))?;
                self.inner
                    .append(stream, ExpectedRevision::Any, vec![other])
                    .await?;
            }
            self.inner.append(stream, expected, events).await
        }
        async fn read_stream(
            &self,
            stream: &str,
            from: u64,
            max: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            let max = match self.page.load(Ordering::SeqCst) {
                0 => max,
                page => max.min(page),
            };
            self.inner.read_stream(stream, from, max).await
        }
        async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
            self.inner.read_all(from, max).await
        }
        async fn subscribe_all(&self, from: u64) -> Result<EventStream, StoreError> {
            self.inner.subscribe_all(from).await
        }
        async fn head_position(&self) -> Result<Option<u64>, StoreError> {
            self.inner.head_position().await
        }
        fn backend_name(&self) -> &'static str {
            "racing"
        }
    }

    /// Counts the events a stream's fold saw.
    fn count(n: u64, _: &DomainEvent) -> u64 {
        n + 1
    }

    struct Fixture {
        shell: Shell,
        store: Arc<Racing>,
        _dir: tempfile::TempDir,
    }

    /// A shell over a racing store whose view is followed, so read-your-writes waits end.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Racing {
            inner: SqliteStore::open(dir.path()).unwrap(),
            races: AtomicU32::new(0),
            page: std::sync::atomic::AtomicUsize::new(0),
        });
        let view = Arc::new(View::new(Projections::default()));
        tokio::spawn(super::super::runner::follow(
            store.clone(),
            view.clone(),
            tokio_util::sync::CancellationToken::new(),
        ));
        Fixture {
            shell: Shell::new(store.clone(), view),
            store,
            _dir: dir,
        }
    }

    async fn seed(f: &Fixture, stream: &str) {
        f.shell
            .execute(stream, CommandKind::Create, count, |_| {
                Ok::<_, ()>(vec![fact("seed")])
            })
            .await
            .unwrap();
    }

    /// Runs a command of `kind` that always decides one fact, against a stream where the other
    /// writer slips in before the next `races` appends; the result and the decider's calls.
    async fn run_racing(
        f: &Fixture,
        kind: CommandKind,
        races: u32,
    ) -> (Result<Appended<u64>, CommandError<()>>, u32) {
        f.store.races.store(races, Ordering::SeqCst);
        let mut calls = 0;
        let result = f
            .shell
            .execute("s", kind, count, |_| {
                calls += 1;
                Ok(vec![fact("mine")])
            })
            .await;
        (result, calls)
    }

    #[tokio::test]
    async fn a_retried_command_decides_again_on_the_fresh_state() {
        let f = fixture();
        seed(&f, "s").await;
        f.store.races.store(2, Ordering::SeqCst);
        let mut seen = Vec::new();
        let appended = f
            .shell
            .execute("s", CommandKind::Retry, count, |loaded| {
                seen.push(loaded.state);
                Ok::<_, ()>(vec![fact("mine")])
            })
            .await
            .unwrap();
        // Each attempt saw one more event: the other writer's.
        assert_eq!(seen, vec![1, 2, 3]);
        assert_eq!(appended.revision, 3);
        assert_eq!(appended.state, 4);
        assert!(matches!(
            appended.events.as_slice(),
            [DomainEvent::PolicyActivated { version, .. }] if version == "mine"
        ));
    }

    #[tokio::test]
    async fn a_retried_command_gives_up_contended_after_its_attempts() {
        let f = fixture();
        seed(&f, "s").await;
        let (result, calls) = run_racing(&f, CommandKind::Retry, RETRY_ATTEMPTS).await;
        assert_eq!(calls, RETRY_ATTEMPTS);
        assert!(matches!(
            result,
            Err(CommandError::Failed(StoreFailure::Contended { attempts, .. })) if attempts == RETRY_ATTEMPTS
        ));
    }

    #[tokio::test]
    async fn a_change_once_command_is_refused_on_the_first_conflict() {
        let f = fixture();
        seed(&f, "s").await;
        let (result, calls) = run_racing(&f, CommandKind::ChangeOnce, 1).await;
        assert_eq!(calls, 1);
        assert!(matches!(
            result,
            Err(CommandError::Failed(StoreFailure::Contended {
                attempts: 1,
                ..
            }))
        ));
        let loaded = f.shell.load("s", count).await.unwrap();
        assert_eq!(
            loaded.revision,
            Some(1),
            "only the seed and the other writer"
        );
    }

    #[tokio::test]
    async fn creating_an_existing_stream_is_a_conflict_without_retry() {
        let f = fixture();
        seed(&f, "s").await;
        let (result, calls) = run_racing(&f, CommandKind::Create, 0).await;
        assert_eq!(calls, 1);
        assert!(matches!(
            result,
            Err(CommandError::Failed(StoreFailure::Contended {
                attempts: 1,
                ..
            }))
        ));
    }

    #[tokio::test]
    async fn a_refusal_writes_nothing() {
        let f = fixture();
        seed(&f, "s").await;
        let err = f
            .shell
            .execute("s", CommandKind::Retry, count, |_| {
                Err::<Vec<DomainEvent>, _>("no")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, CommandError::Refused("no")));
        assert_eq!(f.shell.load("s", count).await.unwrap().revision, Some(0));
    }

    #[tokio::test]
    async fn an_unreadable_event_counts_in_the_revision_but_not_in_the_fold() {
        let f = fixture();
        seed(&f, "s").await;
        let newer = NewEvent::new(
            "CommentPinned",
            serde_json::json!({"type": "CommentPinned"}),
        );
        f.store
            .inner
            .append("s", ExpectedRevision::Exact(0), vec![newer])
            .await
            .unwrap();
        let loaded = f.shell.load("s", count).await.unwrap();
        assert_eq!((loaded.state, loaded.revision), (1, Some(1)));
        // A change decided on that load is appended after the unknown event, not refused.
        let appended = f
            .shell
            .execute("s", CommandKind::ChangeOnce, count, |_| {
                Ok::<_, ()>(vec![fact("after")])
            })
            .await
            .unwrap();
        assert_eq!(appended.revision, 2);
    }

    #[tokio::test]
    async fn a_stream_read_in_pages_is_folded_whole() {
        let f = fixture();
        seed(&f, "s").await;
        for _ in 0..4 {
            f.shell.record("s", &[fact("more")]).await.unwrap();
        }
        f.store.page.store(2, Ordering::SeqCst);
        let loaded = f.shell.load("s", count).await.unwrap();
        assert_eq!((loaded.state, loaded.revision), (5, Some(4)));
    }

    #[tokio::test]
    async fn a_stream_over_the_read_limit_is_an_error_not_a_short_fold() {
        let view = Arc::new(View::new(Projections::default()));
        let shell = Shell::new(Arc::new(Endless), view);
        let err = shell.load("comment-x", count).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::StreamFull { stream, limit } if stream == "comment-x" && *limit == MAX_STREAM_EVENTS),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_decision_of_no_events_writes_nothing_and_answers_the_loaded_revision() {
        let f = fixture();
        seed(&f, "s").await;
        let appended = f
            .shell
            .execute("s", CommandKind::Retry, count, |_| Ok::<_, ()>(Vec::new()))
            .await
            .unwrap();
        assert!(appended.events.is_empty());
        assert_eq!((appended.revision, appended.position), (0, None));
        assert_eq!(f.shell.load("s", count).await.unwrap().revision, Some(0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retried_commands_on_one_stream_at_once_all_go_through() {
        let f = Arc::new(fixture());
        seed(&f, "s").await;
        let runs: Vec<_> = (0..64)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move {
                    f.shell
                        .execute("s", CommandKind::Retry, count, |_| {
                            Ok::<_, ()>(vec![fact("mine")])
                        })
                        .await
                        .is_ok()
                })
            })
            .collect();
        for run in runs {
            assert!(run.await.unwrap(), "a report gave up contended");
        }
        assert_eq!(f.shell.load("s", count).await.unwrap().revision, Some(64));
    }
}
