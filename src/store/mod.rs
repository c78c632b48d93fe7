//! The event store: the one boundary through which Saring writes its facts and reads them back.
//!
//! Everything else in the crate is written against [`EventStore`]; the embedded SQLite backend
//! ([`sqlite::SqliteStore`]) is the default, and the KurrentDB/EventStoreDB backend
//! ([`kurrent::KurrentStore`]) serves deployments with several replicas.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod conformance;
pub mod kurrent;
pub mod sqlite;

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
    /// The store has been shut down.
    #[error("the event store is closed")]
    Closed,
}

impl StoreError {
    /// Whether the error is an expected-revision conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
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
    /// A stream that does not exist reads as empty.
    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `max` events of all streams with position `>= from_position`, in global order.
    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Every event with position `>= from_position`: first those stored, then live ones as they
    /// are appended, without gaps or duplicates. Resume from a checkpoint by passing the last
    /// processed position plus one.
    async fn subscribe_all(&self, from_position: u64) -> Result<EventStream, StoreError>;

    /// A short name of the backend for logs and `/readyz` (`sqlite`, `kurrentdb`).
    fn backend_name(&self) -> &'static str;
}
