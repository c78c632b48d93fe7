//! The event store: the one boundary through which Saring writes its facts and reads them back.
//!
//! Everything else in the crate is written against [`EventStore`]; the embedded SQLite backend
//! ([`sqlite::SqliteStore`]) is the default, and the KurrentDB/EventStoreDB backend
//! ([`kurrent::KurrentStore`]) and the PostgreSQL backend ([`postgres::PostgresStore`]) serve
//! deployments with several replicas.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod burned_pg;
mod checkpointer;
pub mod conformance;
pub mod kurrent;
pub mod kurrent_keys;
pub mod postgres;
pub mod projection_db;
pub mod sqlite;
mod sqlite_plans;
mod text_indexer;

/// What the writer believes about a stream's current revision when it appends.
///
/// Revisions count from 0: a stream with one event has revision 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedRevision {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet; this is how Saring makes submissions idempotent.
    NoStream,
    /// The stream must hold at least one event.
    StreamExists,
    /// The stream's last event must have exactly this revision.
    Exact(u64),
}

/// The revision a stream actually had when an append was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActualRevision {
    /// The stream does not exist.
    NoStream,
    /// The stream's last event has this revision.
    Exact(u64),
}

impl ExpectedRevision {
    /// Whether a stream at `actual` satisfies this expectation.
    pub fn is_satisfied_by(self, actual: ActualRevision) -> bool {
        match (self, actual) {
            (Self::Any, _) => true,
            (Self::NoStream, ActualRevision::NoStream) => true,
            (Self::StreamExists, ActualRevision::Exact(_)) => true,
            (Self::Exact(want), ActualRevision::Exact(have)) => want == have,
            _ => false,
        }
    }
}

impl ActualRevision {
    /// The revision the next appended event will get.
    pub fn next(self) -> u64 {
        match self {
            Self::NoStream => 0,
            Self::Exact(r) => r.saturating_add(1),
        }
    }
}

impl fmt::Display for ExpectedRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::StreamExists => f.write_str("stream exists"),
            Self::Exact(r) => write!(f, "revision {r}"),
        }
    }
}

impl fmt::Display for ActualRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(r) => write!(f, "revision {r}"),
        }
    }
}

/// Who caused an event and why, carried beside its data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The actor: `reader`, `system`, or `moderator:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Ties together every event caused by one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The event (or request) that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
}

/// An event to be appended; the store assigns its revision, position and recorded time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id of the event (UUID v4 unless the caller derives one).
    pub id: Uuid,
    /// The event's type name, e.g. `CommentSubmitted`.
    pub event_type: String,
    /// Version of the JSON schema of `data`, so old events can be upcast.
    pub schema_version: u32,
    /// The event's payload.
    pub data: serde_json::Value,
    /// Actor, correlation and causation.
    pub metadata: EventMetadata,
}

impl NewEvent {
    /// A new event with a fresh id, schema version 1 and empty metadata.
    pub fn new(event_type: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            id: Uuid::new_v4(),
            event_type: event_type.into(),
            schema_version: 1,
            data,
            metadata: EventMetadata::default(),
        }
    }

    /// The same event with the given metadata.
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A stored event as read back from the store: the envelope plus its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The event's id, as given on append.
    pub id: Uuid,
    /// The stream it belongs to, e.g. `comment-<id>`.
    pub stream: String,
    /// Its revision within the stream, from 0.
    pub revision: u64,
    /// Its position in the global order of all streams; strictly increasing, not necessarily dense.
    pub position: u64,
    /// The event's type name.
    pub event_type: String,
    /// Version of the JSON schema of `data`.
    pub schema_version: u32,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The event's payload.
    pub data: serde_json::Value,
    /// Actor, correlation and causation.
    pub metadata: EventMetadata,
}

/// Splits a chunk of a subscription (`ready_chunks`) into the events read before its first
/// failure and that failure: the events before it are still good and in order, and what follows
/// it is not trusted (the subscriber resubscribes from its position).
pub fn events_until_failure(
    chunk: Vec<Result<RecordedEvent, StoreError>>,
) -> (Vec<RecordedEvent>, Option<StoreError>) {
    let mut events = Vec::with_capacity(chunk.len());
    for item in chunk {
        match item {
            Ok(e) => events.push(e),
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

/// The result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's revision after the append: the revision of the last event written.
    pub next_revision: u64,
    /// The global position of the last event written.
    pub position: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the expected revision; nothing was written.
    #[error("stream {stream} expected {expected} but is at {actual}")]
    Conflict {
        /// The stream that was written to.
        stream: String,
        /// What the writer expected.
        expected: ExpectedRevision,
        /// What the stream held.
        actual: ActualRevision,
    },
    /// Another process holds the data folder.
    #[error("the data folder {0} is in use by another Saring process")]
    Locked(String),
    /// An argument was invalid (empty stream name, empty batch, bad connection string).
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    /// The backend failed (I/O, database, network); the message carries the cause.
    #[error("event store backend failed: {0}")]
    Backend(String),
    /// The database cannot be reached or dropped the connection; the request may be retried
    /// once it is back (the HTTP layer answers `503`). An append that failed this way is not
    /// acknowledged and may or may not be stored.
    #[error("the {backend} event store is unavailable")]
    Unavailable {
        /// The backend's name, as in [`EventStore::backend_name`].
        backend: &'static str,
        /// What the client saw.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The database refused or failed a request for another reason than being away.
    #[error("the {backend} event store failed")]
    Database {
        /// The backend's name, as in [`EventStore::backend_name`].
        backend: &'static str,
        /// The database's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The database's disk (or its size limit) is full: nothing of the append was written, and a
    /// retry succeeds once an operator has made room (the HTTP layer answers `503
    /// storage_full`). Kept apart from [`StoreError::Database`] because the cure is the
    /// operator's, not the client's or the code's.
    #[error("the {backend} event store's disk is full")]
    StorageFull {
        /// The backend's name, as in [`EventStore::backend_name`].
        backend: &'static str,
        /// The database's error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The stream holds, or after this append would hold, more than `limit` events: more than
    /// the service reads back in one fold. Nothing was written. Checked by the store itself, so
    /// no writer (a flood of reports, a bug, another replica) can grow a stream past what its
    /// readers see whole.
    #[error("stream {stream} is full: it may hold at most {limit} events")]
    StreamFull {
        /// The stream.
        stream: String,
        /// The most events a stream may hold ([`MAX_STREAM_EVENTS`]).
        limit: u64,
    },
    /// The store has been shut down.
    #[error("the event store is closed")]
    Closed,
}

impl StoreError {
    /// Whether the error is an expected-revision conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Whether the database's disk is full (nothing was written; a retry succeeds once there is
    /// room).
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Self::StorageFull { .. })
    }

    /// Whether the error means the database is away for now, so a retry may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The longest stream name accepted, in bytes; Saring's own names stay far below it.
pub const MAX_STREAM_NAME_BYTES: usize = 1024;

/// The most events accepted in one append.
pub const MAX_EVENTS_PER_APPEND: usize = 10_000;

/// The most events one stream may hold, refused at append time with [`StreamFull`]
/// (`StoreError::StreamFull`). The service folds a stream whole on every command on it, so this
/// is also the most it reads: a comment has a handful of events (its reports are capped far
/// below, see `domain::comment::MAX_STORED_REPORTS`), and a stream this long is a flood or a bug.
///
/// [`StreamFull`]: StoreError::StreamFull
pub const MAX_STREAM_EVENTS: u64 = 10_000;

/// Refuses an append of `adding` events to a stream at `actual` that would take it past
/// [`MAX_STREAM_EVENTS`]. Every backend calls it where it knows the stream's revision (inside
/// its write transaction), after the expected-revision check.
pub fn check_stream_room(
    stream: &str,
    actual: ActualRevision,
    adding: usize,
) -> Result<(), StoreError> {
    let after = actual.next().saturating_add(adding as u64);
    if after > MAX_STREAM_EVENTS {
        return Err(StoreError::StreamFull {
            stream: stream.to_string(),
            limit: MAX_STREAM_EVENTS,
        });
    }
    Ok(())
}

/// The largest serialised size of one append (data plus metadata of all its events), in bytes.
/// Equal to KurrentDB's default `MaxAppendSize`, so both backends accept the same appends.
pub const MAX_APPEND_BYTES: usize = 1024 * 1024;

/// Checks the arguments of an append the same way for every backend.
///
/// Stream names must be non-empty, at most [`MAX_STREAM_NAME_BYTES`], free of control characters
/// and must not start with `$`, which KurrentDB reserves for system streams. Every event needs a
/// non-empty type name that does not start with `$` either.
pub fn validate_append(stream: &str, events: &[NewEvent]) -> Result<(), StoreError> {
    validate_stream_name(stream)?;
    if events.is_empty() {
        return Err(StoreError::Invalid(
            "an append needs at least one event".into(),
        ));
    }
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::Invalid(format!(
            "an append may hold at most {MAX_EVENTS_PER_APPEND} events, got {}",
            events.len()
        )));
    }
    for e in events {
        if e.event_type.is_empty() || e.event_type.starts_with('$') || e.event_type.len() > 256 {
            return Err(StoreError::Invalid(format!(
                "event type {:?} must be 1 to 256 bytes and not start with '$'",
                e.event_type
            )));
        }
    }
    Ok(())
}

/// An event serialised on the caller's task, so a backend's writer only inserts it.
pub(crate) struct EncodedEvent {
    pub(crate) id: uuid::Uuid,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) data: String,
    pub(crate) metadata: String,
}

/// The type name of a submission in the log.
pub(crate) const SUBMITTED: &str = "CommentSubmitted";

/// Which streams' submissions a reader of [`EventStore::read_all_skipping`] drops unread, by
/// stream name.
pub type SkipStreams = Arc<dyn for<'s> Fn(&'s str) -> bool + Send + Sync>;

/// Replaces the data of the submissions among `events` whose stream `skip` names with `null`
/// (for [`EventStore::read_all_skipping`]).
pub fn skip_submissions(events: &mut [RecordedEvent], skip: impl Fn(&str) -> bool) {
    for e in events {
        if e.event_type == SUBMITTED && skip(&e.stream) {
            e.data = serde_json::Value::Null;
        }
    }
}

/// Whether `e` is a submission [`EventStore::read_all_skipping`] left unread: the reader
/// must drop it without decoding it.
pub fn is_skipped_submission(e: &RecordedEvent) -> bool {
    e.event_type == SUBMITTED && e.data.is_null()
}

/// Validates an append and serialises its events for a backend that stores JSON text,
/// returning them with their total size in bytes (data and metadata), which is refused above
/// [`MAX_APPEND_BYTES`].
pub(crate) fn encode_append(
    stream: &str,
    events: Vec<NewEvent>,
) -> Result<(Vec<EncodedEvent>, usize), StoreError> {
    validate_append(stream, &events)?;
    let mut bytes = 0;
    let mut encoded = Vec::with_capacity(events.len());
    for e in events {
        let data = serde_json::to_string(&e.data)
            .map_err(|err| StoreError::Invalid(format!("event data is not JSON: {err}")))?;
        let metadata = serde_json::to_string(&e.metadata)
            .map_err(|err| StoreError::Invalid(format!("event metadata: {err}")))?;
        bytes += data.len() + metadata.len();
        encoded.push(EncodedEvent {
            id: e.id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            data,
            metadata,
        });
    }
    if bytes > MAX_APPEND_BYTES {
        return Err(StoreError::Invalid(format!(
            "append of {bytes} bytes exceeds the limit of {MAX_APPEND_BYTES}"
        )));
    }
    Ok((encoded, bytes))
}

/// Checks a stream name for reads and appends (see [`validate_append`]).
pub fn validate_stream_name(stream: &str) -> Result<(), StoreError> {
    if stream.is_empty() || stream.len() > MAX_STREAM_NAME_BYTES {
        return Err(StoreError::Invalid(format!(
            "stream name must be 1 to {MAX_STREAM_NAME_BYTES} bytes"
        )));
    }
    if stream.starts_with('$') || stream.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "stream name {stream:?} must not start with '$' or contain control characters"
        )));
    }
    Ok(())
}

/// Opens the store named by the `--store` setting: nothing (or `sqlite`, `embedded`) selects the
/// embedded SQLite store in `data_dir`; a KurrentDB connection string (`esdb://…`,
/// `kurrentdb://…`, `kdb://…`, see [`kurrent::KurrentStore::accepts`]) selects KurrentDB; a
/// PostgreSQL URL (`postgres://…`, `postgresql://…`) selects PostgreSQL, connecting and migrating
/// its schema; anything else is refused as invalid rather than silently ignored.
///
/// Call inside a Tokio runtime (the KurrentDB and PostgreSQL clients need one). The SQLite store
/// closes when the last handle is dropped.
pub async fn open_store(
    setting: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn EventStore>, StoreError> {
    match setting.map(str::trim).filter(|s| !s.is_empty()) {
        None => open_embedded(data_dir),
        Some(s) if s.eq_ignore_ascii_case("sqlite") || s.eq_ignore_ascii_case("embedded") => {
            open_embedded(data_dir)
        }
        Some(s) if kurrent::KurrentStore::accepts(s) => {
            // Sealed too, with the keys in streams of their own on the same server.
            let log = kurrent::KurrentStore::connect(s)?;
            let keys = kurrent_keys::KurrentKeys::new(log.client());
            Ok(Arc::new(crate::privacy::store::SealedStore::new(
                Arc::new(log),
                Arc::new(crate::privacy::keys::Keys::new(Box::new(keys))),
            )))
        }
        Some(s) if postgres::PostgresStore::accepts(s) => {
            // Sealed like the embedded store, with the keys in the same database (so every
            // replica shares them).
            let log = postgres::PostgresStore::connect(s).await?;
            let keys = crate::privacy::keys::Keys::open_postgres(log.pool());
            Ok(Arc::new(crate::privacy::store::SealedStore::new(
                Arc::new(log),
                Arc::new(keys),
            )))
        }
        Some(_) => Err(StoreError::Invalid(
            "the store must be empty or `sqlite` for the embedded store, a KurrentDB \
             connection string such as esdb://localhost:2113?tls=false, or a PostgreSQL URL \
             such as postgres://saring@localhost/saring"
                .into(),
        )),
    }
}

/// The embedded store with its submissions sealed by per-author keys kept beside it
/// (`crate::privacy`). The log is opened first, so a second process is refused by the log's
/// lock before it touches the key file.
fn open_embedded(data_dir: &Path) -> Result<Arc<dyn EventStore>, StoreError> {
    let log: Arc<dyn EventStore> = Arc::new(sqlite::SqliteStore::open(data_dir)?);
    let keys = crate::privacy::keys::Keys::open(data_dir)
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(Arc::new(crate::privacy::store::SealedStore::new(
        log,
        Arc::new(keys),
    )))
}

/// A live stream of events from a subscription, in global order.
pub type EventStream = BoxStream<'static, Result<RecordedEvent, StoreError>>;

/// The event store every part of Saring uses; nothing bypasses it.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` atomically to `stream` if it is at `expected`; durable on return.
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// Reads up to `max` events of one stream starting at `from_revision`, oldest first.
    /// A stream that does not exist reads as empty. A backend may return fewer than `max` to
    /// bound the size of one answer; only an empty answer means the end.
    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `max` events of all streams with position `>= from_position`, in global order.
    /// As with [`EventStore::read_stream`], fewer than `max` does not mean the end; an empty
    /// answer does. Continue from the last event's position plus one.
    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// [`EventStore::read_all`] for a reader that drops some submissions unread: each
    /// `CommentSubmitted` event of a stream for which `skip` says yes comes back with its data
    /// replaced by JSON `null` (see [`is_skipped_submission`]), not opened. The audit window
    /// (which notes no submission) and the spam waves (which skip those this process folded
    /// as they came) read the log's tail every few seconds, and opening the submissions they
    /// throw away was about 4 % of the server's CPU in the reader flow.
    async fn read_all_skipping(
        &self,
        from_position: u64,
        max: usize,
        skip: SkipStreams,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = self.read_all(from_position, max).await?;
        skip_submissions(&mut events, &*skip);
        Ok(events)
    }

    /// Every event with position `>= from_position`: first those stored, then live ones as they
    /// are appended, without gaps or duplicates. Resume from a checkpoint by passing the last
    /// processed position plus one.
    async fn subscribe_all(&self, from_position: u64) -> Result<EventStream, StoreError>;

    /// The position of the last event stored, `None` while the log is empty. `/readyz` shows
    /// it beside the projections' position, so an operator watching a catch-up (a restart
    /// after a long stop, a new replica) sees how far it has to go, not only that it moves.
    /// One cheap question per backend: no event is read but the last.
    async fn head_position(&self) -> Result<Option<u64>, StoreError>;

    /// A short name of the backend for logs and `/readyz` (`sqlite`, `kurrentdb`).
    fn backend_name(&self) -> &'static str;

    /// A durable table of burnt captcha tokens, if the backend has one: PostgreSQL's
    /// (`burned_pg`) is shared by every replica, the embedded store's keeps burns across a
    /// restart. KurrentDB offers no such table, so its replicas keep per-process lists.
    fn shared_burned_tokens(&self) -> Option<Arc<dyn crate::captcha::SharedBurnedTokens>> {
        None
    }

    /// The per-author keys that seal this store's submissions, if it seals them: every
    /// backend does as [`open_store`] opens it (`crate::privacy::store::SealedStore`, with the
    /// keys in the key file, PostgreSQL's key tables or KurrentDB's key streams); a bare log
    /// does not, and readers' data cannot be erased there.
    fn privacy_keys(&self) -> Option<Arc<crate::privacy::keys::Keys>> {
        None
    }

    /// Deletes the body keys of these comment streams' submissions, so their bodies open
    /// nowhere again (the log, `export events`, backups made afterwards), and returns how
    /// many there were. A store that does not seal, and submissions sealed before body keys
    /// existed, have none (their bodies stay readable in the log: docs/privacy.md).
    async fn shred_bodies(&self, _streams: &[String]) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// The author key ids these comment streams' submissions are sealed under, as stored
    /// (erasure deletes them by id: a key may have lost its owner row in a crash). None for
    /// a store that does not seal.
    async fn sealing_key_ids(&self, _streams: &[String]) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_revisions_accept_exactly_their_states() {
        use ActualRevision as A;
        use ExpectedRevision as E;
        let cases = [
            (E::Any, A::NoStream, true),
            (E::Any, A::Exact(3), true),
            (E::NoStream, A::NoStream, true),
            (E::NoStream, A::Exact(0), false),
            (E::StreamExists, A::NoStream, false),
            (E::StreamExists, A::Exact(0), true),
            (E::Exact(0), A::NoStream, false),
            (E::Exact(2), A::Exact(2), true),
            (E::Exact(2), A::Exact(3), false),
        ];
        for (expected, actual, ok) in cases {
            assert_eq!(
                expected.is_satisfied_by(actual),
                ok,
                "{expected} vs {actual}"
            );
        }
        assert_eq!(A::NoStream.next(), 0);
        assert_eq!(A::Exact(4).next(), 5);
    }

    #[test]
    fn a_stream_takes_events_up_to_the_limit_and_not_one_more() {
        let last = ActualRevision::Exact(MAX_STREAM_EVENTS - 2);
        assert!(
            check_stream_room("s", last, 1).is_ok(),
            "the last free place"
        );
        assert!(matches!(
            check_stream_room("s", last, 2),
            Err(StoreError::StreamFull { stream, limit: MAX_STREAM_EVENTS }) if stream == "s"
        ));
        let full = ActualRevision::Exact(MAX_STREAM_EVENTS - 1);
        assert!(check_stream_room("s", full, 1).is_err());
        let batch = usize::try_from(MAX_STREAM_EVENTS).unwrap();
        assert!(check_stream_room("s", ActualRevision::NoStream, batch).is_ok());
        assert!(check_stream_room("s", ActualRevision::NoStream, batch + 1).is_err());
    }

    #[test]
    fn stream_names_are_checked() {
        assert!(validate_stream_name("comment-0f3a").is_ok());
        assert!(validate_stream_name("thread-berita:2025/06").is_ok());
        for bad in ["", "$all", "a\nb", &"x".repeat(MAX_STREAM_NAME_BYTES + 1)] {
            assert!(
                matches!(validate_stream_name(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn open_store_picks_the_backend_from_the_setting() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(None, dir.path()).await.expect("embedded");
        assert_eq!(store.backend_name(), "sqlite");
        drop(store);
        let store = open_store(Some(" sqlite "), dir.path())
            .await
            .expect("embedded by name");
        assert_eq!(store.backend_name(), "sqlite");
        drop(store);
        let store = open_store(Some("esdb://localhost:2113?tls=false"), dir.path())
            .await
            .expect("kurrent");
        assert_eq!(store.backend_name(), "kurrentdb");
        for bad in ["postgres://localhost:99999999/saring", "./data", "mysql"] {
            assert!(
                matches!(
                    open_store(Some(bad), dir.path()).await,
                    Err(StoreError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }
}
