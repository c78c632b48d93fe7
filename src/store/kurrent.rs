//! The KurrentDB / EventStoreDB backend, for deployments with several Saring replicas.
//!
//! Every replica appends through expected revisions, which the server checks, so writes stay
//! correct across machines; each replica follows `$all` for its projections.
//!
//! How the trait maps onto the server:
//! - **Positions.** The server orders `$all` by log position. [`RecordedEvent::position`] is
//!   `2 × commit position + 1`: odd numbers are event positions, and the even number just above
//!   one (the "last processed + 1" a checkpoint resumes from) means "after that event". The
//!   server can only start reading at a real record boundary, and this encoding lets both
//!   `read_all(p)` (inclusive) and `read_all(p + 1)` (resume) start at one. Any other number is
//!   not a position this store handed out and the server may refuse it.
//! - **Metadata.** Actor, correlation, causation and the schema version travel in the event's
//!   custom metadata JSON, with KurrentDB's own `$correlationId` / `$causationId` names so the
//!   server's projections understand them. The recorded time is the server's `created` time.
//! - **System events** (types starting with `$`) and binary (non-JSON) events written by other
//!   programs never reach Saring: reads and subscriptions skip them.
//! - **Subscriptions** reconnect with exponential backoff and resume after the last delivered
//!   event, so a dropped connection causes neither a gap nor a duplicate.

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use kurrentdb::{
    AppendToStreamOptions, Client, ClientSettings, CurrentRevision, EventData, Position,
    ReadAllOptions, ReadStreamOptions, StreamPosition, StreamState, SubscribeToAllOptions,
    Subscription, SubscriptionFilter,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ActualRevision, AppendResult, EventMetadata, EventStore, EventStream, ExpectedRevision,
    MAX_APPEND_BYTES, NewEvent, RecordedEvent, StoreError, validate_append, validate_stream_name,
};

/// Connection-string schemes the `kurrentdb` client understands, with and without `+discover`.
pub const SCHEMES: [&str; 8] = [
    "esdb",
    "esdb+discover",
    "kurrentdb",
    "kurrentdb+discover",
    "kurrent",
    "kurrent+discover",
    "kdb",
    "kdb+discover",
];

/// Events read from the server per request while catching up.
const READ_PAGE: usize = 1000;
/// First wait before resubscribing after a dropped subscription; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between resubscription attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The KurrentDB / EventStoreDB event store. Cloning shares the connection.
#[derive(Clone)]
pub struct KurrentStore {
    client: Client,
}

impl std::fmt::Debug for KurrentStore {
    // The settings may hold a password: show only the hosts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> = self
            .client
            .settings()
            .hosts()
            .iter()
            .map(|h| format!("{}:{}", h.host, h.port))
            .collect();
        f.debug_struct("KurrentStore")
            .field("hosts", &hosts)
            .finish()
    }
}

impl KurrentStore {
    /// Whether `s` looks like a KurrentDB connection string (`esdb://`, `esdb+discover://`,
    /// `kurrentdb://`, `kurrent://`, `kdb://`, each with or without `+discover`), as opposed to a
    /// data folder for the embedded store.
    pub fn accepts(s: &str) -> bool {
        s.split_once("://")
            .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
    }

    /// Prepares a client for the server(s) named by `conn_string`, e.g.
    /// `esdb://admin:changeit@localhost:2113?tls=false`. Must be called inside a Tokio runtime.
    ///
    /// The connection itself is made lazily by the first request, so this only fails on a
    /// malformed string or outside a runtime; an unreachable server shows up as
    /// [`StoreError::Backend`] on the first operation.
    pub fn connect(conn_string: &str) -> Result<KurrentStore, StoreError> {
        let settings = parse_settings(conn_string)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Backend(
                "the KurrentDB client must be created inside a Tokio runtime".into(),
            )
        })?;
        let client = Client::with_runtime_handle(handle, settings)
            .map_err(|e| StoreError::Backend(format!("cannot create KurrentDB client: {e}")))?;
        Ok(KurrentStore { client })
    }

    /// The client (shared connection), for the key streams beside the log
    /// (`super::kurrent_keys`).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Reads one page of `$all` starting at `start`, returning the raw page size and the
    /// Saring events in it at or after `from` (system and binary events skipped).
    async fn read_all_page(
        &self,
        start: StreamPosition<Position>,
        from: u64,
        count: usize,
    ) -> Result<(usize, Option<Position>, Vec<RecordedEvent>), StoreError> {
        let options = ReadAllOptions::default()
            .forwards()
            .position(start)
            .max_count(count);
        let mut reader = self.client.read_all(&options).await.map_err(map_error)?;
        let mut raw = 0;
        let mut last = None;
        let mut out = Vec::new();
        while let Some(resolved) = reader.next().await.map_err(map_error)? {
            raw += 1;
            let Some(event) = resolved.event else {
                continue;
            };
            last = Some(event.position);
            if encode_position(event.position.commit) < from {
                continue;
            }
            if let Some(e) = convert_event(&event)? {
                out.push(e);
            }
        }
        Ok((raw, last, out))
    }
}

/// Parses a connection string, with errors that never repeat the password.
pub fn parse_settings(conn_string: &str) -> Result<ClientSettings, StoreError> {
    let trimmed = conn_string.trim();
    if !KurrentStore::accepts(trimmed) {
        return Err(StoreError::Invalid(format!(
            "a KurrentDB connection string starts with one of {}://",
            SCHEMES.join("://, ")
        )));
    }
    // The client accepts lower-case schemes only; people type `ESDB://` too.
    let normalised = match trimmed.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => trimmed.to_owned(),
    };
    normalised
        .parse::<ClientSettings>()
        .map_err(|e| StoreError::Invalid(format!("bad KurrentDB connection string: {e}")))
}

/// The server's expectation for our [`ExpectedRevision`].
pub fn to_stream_state(expected: ExpectedRevision) -> StreamState {
    match expected {
        ExpectedRevision::Any => StreamState::Any,
        ExpectedRevision::NoStream => StreamState::NoStream,
        ExpectedRevision::StreamExists => StreamState::StreamExists,
        ExpectedRevision::Exact(r) => StreamState::StreamRevision(r),
    }
}

/// Our [`ActualRevision`] for the server's report of a stream's revision.
pub fn to_actual_revision(current: CurrentRevision) -> ActualRevision {
    match current {
        CurrentRevision::Current(r) => ActualRevision::Exact(r),
        CurrentRevision::NoStream => ActualRevision::NoStream,
    }
}

/// Maps a failed append: a wrong expected version becomes [`StoreError::Conflict`] naming what the
/// caller expected and what the server found.
pub fn map_append_error(
    stream: &str,
    expected: ExpectedRevision,
    e: kurrentdb::Error,
) -> StoreError {
    match e {
        kurrentdb::Error::WrongExpectedVersion { current, .. } => StoreError::Conflict {
            stream: stream.to_owned(),
            expected,
            actual: to_actual_revision(current),
        },
        other => map_error(other),
    }
}

/// Maps any other client error to a backend failure with a readable cause.
pub fn map_error(e: kurrentdb::Error) -> StoreError {
    match e {
        kurrentdb::Error::AccessDenied => StoreError::Backend(
            "KurrentDB refused access: check the user and password in the connection string".into(),
        ),
        other => StoreError::Backend(format!("KurrentDB: {other}")),
    }
}

/// Our position for a server commit position (see the module docs): always odd.
pub fn encode_position(commit: u64) -> u64 {
    commit.saturating_mul(2).saturating_add(1)
}

/// Where to start reading `$all` so that every event with position `>= from` is seen: the
/// start of the log, or the record boundary at or just before `from`.
pub fn start_for(from: u64) -> StreamPosition<Position> {
    if from == 0 {
        return StreamPosition::Start;
    }
    let commit = (from - 1) / 2;
    StreamPosition::Position(Position {
        commit,
        prepare: commit,
    })
}

/// The custom metadata JSON Saring writes with every event.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WireMetadata {
    /// Who caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// KurrentDB's conventional correlation id field.
    #[serde(
        rename = "$correlationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub correlation_id: Option<Uuid>,
    /// KurrentDB's conventional causation id field.
    #[serde(
        rename = "$causationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub causation_id: Option<Uuid>,
    /// Version of the event's data schema; absent in events not written by Saring (read as 1).
    #[serde(rename = "schemaVersion", default = "one")]
    pub schema_version: u32,
}

fn one() -> u32 {
    1
}

impl WireMetadata {
    /// The wire form of an event's schema version and metadata.
    pub fn from_parts(schema_version: u32, m: &EventMetadata) -> Self {
        WireMetadata {
            actor: m.actor.clone(),
            correlation_id: m.correlation_id,
            causation_id: m.causation_id,
            schema_version,
        }
    }

    /// Reads the custom metadata of a stored event; empty or foreign metadata reads as defaults.
    pub fn parse(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return WireMetadata {
                schema_version: 1,
                ..Default::default()
            };
        }
        serde_json::from_slice(bytes).unwrap_or(WireMetadata {
            schema_version: 1,
            ..Default::default()
        })
    }

    /// Splits into the schema version and the envelope metadata.
    pub fn into_parts(self) -> (u32, EventMetadata) {
        (
            self.schema_version,
            EventMetadata {
                actor: self.actor,
                correlation_id: self.correlation_id,
                causation_id: self.causation_id,
            },
        )
    }
}

/// Converts a stored server event; `None` for system and binary events, which are not Saring's,
/// and for the sealing keys' streams (`kurrent_keys`), which no read of the log may carry.
fn convert_event(e: &kurrentdb::RecordedEvent) -> Result<Option<RecordedEvent>, StoreError> {
    if e.event_type.starts_with('$')
        || e.stream_id().starts_with('$')
        || e.stream_id()
            .starts_with(super::kurrent_keys::KEY_STREAM_PREFIX)
        || !e.is_json
    {
        return Ok(None);
    }
    let data = serde_json::from_slice(&e.data).map_err(|err| {
        StoreError::Backend(format!(
            "event {}@{} in KurrentDB is marked JSON but is not: {err}",
            e.revision,
            e.stream_id()
        ))
    })?;
    let (schema_version, metadata) = WireMetadata::parse(&e.custom_metadata).into_parts();
    Ok(Some(RecordedEvent {
        id: e.id,
        stream: e.stream_id().to_owned(),
        revision: e.revision,
        position: encode_position(e.position.commit),
        event_type: e.event_type.clone(),
        schema_version,
        recorded_at: e.created,
        data,
        metadata,
    }))
}

fn to_event_data(e: &NewEvent) -> Result<EventData, StoreError> {
    EventData::json(&e.event_type, &e.data)
        .and_then(|d| d.metadata_as_json(&WireMetadata::from_parts(e.schema_version, &e.metadata)))
        .map(|d| d.id(e.id))
        .map_err(|err| StoreError::Invalid(format!("event is not serialisable: {err}")))
}

#[async_trait]
impl EventStore for KurrentStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        validate_append(stream, &events)?;
        if stream.starts_with(super::kurrent_keys::KEY_STREAM_PREFIX) {
            return Err(StoreError::Invalid(format!(
                "stream names starting with {} are the sealing keys'",
                super::kurrent_keys::KEY_STREAM_PREFIX
            )));
        }
        // The server knows no such limit, so it is checked here where the expectation names the
        // revision the append will land on: every command of Saring (`Exact`, `NoStream`). An
        // `Any` append (the policy stream) would need a read first that another writer could
        // overtake, so it is not checked on this backend.
        match expected {
            ExpectedRevision::Exact(r) => {
                super::check_stream_room(stream, ActualRevision::Exact(r), events.len())?
            }
            ExpectedRevision::NoStream => {
                super::check_stream_room(stream, ActualRevision::NoStream, events.len())?
            }
            ExpectedRevision::Any | ExpectedRevision::StreamExists => {}
        }
        let mut bytes = 0;
        let mut data = Vec::with_capacity(events.len());
        for e in &events {
            bytes += serde_json::to_vec(&e.data).map(|v| v.len()).unwrap_or(0);
            data.push(to_event_data(e)?);
        }
        if bytes > MAX_APPEND_BYTES {
            return Err(StoreError::Invalid(format!(
                "append of {bytes} bytes exceeds the limit of {MAX_APPEND_BYTES}"
            )));
        }
        let options = AppendToStreamOptions::default().stream_state(to_stream_state(expected));
        let written = self
            .client
            .append_to_stream(stream, &options, data)
            .await
            .map_err(|e| map_append_error(stream, expected, e))?;
        let next_revision = written.next_expected_version;
        let position = if events.len() == 1 {
            encode_position(written.position.commit)
        } else {
            // The write result's position may be the transaction's rather than the last
            // event's; read that event back so the result names its own position, as the trait
            // promises.
            let last = self.read_stream(stream, next_revision, 1).await?;
            match last.first() {
                Some(e) if e.revision == next_revision => e.position,
                _ => encode_position(written.position.commit),
            }
        };
        Ok(AppendResult {
            next_revision,
            position,
        })
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        validate_stream_name(stream)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let options = ReadStreamOptions::default()
            .forwards()
            .position(StreamPosition::Position(from_revision))
            .max_count(max);
        let mut reader = match self.client.read_stream(stream, &options).await {
            Ok(r) => r,
            Err(kurrentdb::Error::ResourceNotFound) => return Ok(Vec::new()),
            Err(e) => return Err(map_error(e)),
        };
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(Some(resolved)) => {
                    if let Some(e) = resolved
                        .event
                        .as_ref()
                        .map(convert_event)
                        .transpose()?
                        .flatten()
                    {
                        out.push(e);
                    }
                }
                Ok(None) => return Ok(out),
                Err(kurrentdb::Error::ResourceNotFound) => return Ok(Vec::new()),
                Err(e) => return Err(map_error(e)),
            }
        }
    }

    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::new();
        let mut start = start_for(from_position);
        let mut from = from_position;
        while out.len() < max {
            // One more than needed: the first record may be the one just before `from`.
            let want = (max - out.len()).min(READ_PAGE) + 1;
            let (raw, last, events) = self.read_all_page(start, from, want).await?;
            for e in events {
                if out.len() < max {
                    out.push(e);
                }
            }
            match last {
                Some(p) if raw >= want => {
                    from = encode_position(p.commit) + 1;
                    start = StreamPosition::Position(p);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn subscribe_all(&self, from_position: u64) -> Result<EventStream, StoreError> {
        let state = Live {
            store: self.clone(),
            from: from_position,
            resume: None,
            pending: VecDeque::new(),
            subscription: None,
            backoff: FIRST_BACKOFF,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(state, Live::next_item)))
    }

    async fn head_position(&self) -> Result<Option<u64>, StoreError> {
        // `$all` read backwards from its end: the newest of our events among the last few
        // records (the server's own `$` events and the key streams come between them).
        let options = ReadAllOptions::default()
            .backwards()
            .position(StreamPosition::End)
            .max_count(HEAD_LOOKBACK);
        let mut reader = self.client.read_all(&options).await.map_err(map_error)?;
        while let Some(resolved) = reader.next().await.map_err(map_error)? {
            if let Some(event) = resolved.event
                && let Some(e) = convert_event(&event)?
            {
                return Ok(Some(e.position));
            }
        }
        Ok(None)
    }

    fn backend_name(&self) -> &'static str {
        "kurrentdb"
    }
}

/// How many of `$all`'s last records [`KurrentStore::head_position`] looks through for one of
/// ours; past that (a log ending in a long run of system or key events) the head is unknown.
const HEAD_LOOKBACK: usize = 64;

/// One `$all` subscription: where it resumes after a reconnect and the events read ahead.
struct Live {
    store: KurrentStore,
    /// Deliver only events at or after this position; moves past every delivered event.
    from: u64,
    /// The server position of the last delivered event; resubscriptions start after it.
    resume: Option<Position>,
    /// Events read while catching up on an inclusive start, at most one page.
    pending: VecDeque<RecordedEvent>,
    subscription: Option<Subscription>,
    backoff: Duration,
    done: bool,
}

impl Live {
    async fn next_item(mut self) -> Option<(Result<RecordedEvent, StoreError>, Self)> {
        if self.done {
            return None;
        }
        loop {
            if let Some(e) = self.pending.pop_front() {
                self.from = e.position + 1;
                return Some((Ok(e), self));
            }
            if self.subscription.is_none() {
                match self.open().await {
                    Ok(()) => {}
                    Err(e @ StoreError::Backend(_)) => {
                        tracing::warn!(
                            "KurrentDB subscription failed, retrying in {:?}: {e}",
                            self.backoff
                        );
                        self.wait().await;
                        continue;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some((Err(e), self));
                    }
                }
                if !self.pending.is_empty() {
                    continue;
                }
            }
            let Some(sub) = self.subscription.as_mut() else {
                continue;
            };
            match sub.next().await {
                Ok(resolved) => {
                    self.backoff = FIRST_BACKOFF;
                    let Some(raw) = resolved.event else { continue };
                    let position = encode_position(raw.position.commit);
                    if position < self.from {
                        continue;
                    }
                    self.resume = Some(raw.position);
                    match convert_event(&raw) {
                        Ok(Some(e)) => {
                            self.from = position + 1;
                            return Some((Ok(e), self));
                        }
                        Ok(None) => self.from = position + 1,
                        Err(e) => {
                            self.done = true;
                            return Some((Err(e), self));
                        }
                    }
                }
                Err(kurrentdb::Error::AccessDenied) => {
                    self.done = true;
                    return Some((Err(map_error(kurrentdb::Error::AccessDenied)), self));
                }
                Err(e) => {
                    tracing::warn!(
                        "KurrentDB subscription dropped, resubscribing in {:?}: {e}",
                        self.backoff
                    );
                    self.subscription = None;
                    self.wait().await;
                }
            }
        }
    }

    /// Subscribes after the last delivered event, or at the requested start.
    async fn open(&mut self) -> Result<(), StoreError> {
        let start = match self.resume {
            Some(p) => StreamPosition::Position(p),
            None if self.from == 0 => StreamPosition::Start,
            None if self.from.is_multiple_of(2) => start_for(self.from),
            None => {
                // An odd start names an event that must be delivered too, but the server's
                // subscriptions start after the given position: read that event first.
                let (_, last, events) = self
                    .store
                    .read_all_page(start_for(self.from), self.from, 1)
                    .await?;
                match last {
                    Some(p) => {
                        self.resume = Some(p);
                        self.pending.extend(events);
                        StreamPosition::Position(p)
                    }
                    None => start_for(self.from),
                }
            }
        };
        let options = SubscribeToAllOptions::default()
            .position(start)
            .filter(SubscriptionFilter::on_event_type().exclude_system_events());
        self.subscription = Some(self.store.client.subscribe_to_all(&options).await);
        Ok(())
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_revisions_map_to_stream_states() {
        assert_eq!(to_stream_state(ExpectedRevision::Any), StreamState::Any);
        assert_eq!(
            to_stream_state(ExpectedRevision::NoStream),
            StreamState::NoStream
        );
        assert_eq!(
            to_stream_state(ExpectedRevision::StreamExists),
            StreamState::StreamExists
        );
        assert_eq!(
            to_stream_state(ExpectedRevision::Exact(0)),
            StreamState::StreamRevision(0)
        );
        assert_eq!(
            to_stream_state(ExpectedRevision::Exact(u64::MAX)),
            StreamState::StreamRevision(u64::MAX)
        );
    }

    #[test]
    fn wrong_expected_version_becomes_conflict() {
        let e = kurrentdb::Error::WrongExpectedVersion {
            expected: StreamState::StreamRevision(3),
            current: CurrentRevision::Current(7),
        };
        match map_append_error("comment-1", ExpectedRevision::Exact(3), e) {
            StoreError::Conflict {
                stream,
                expected,
                actual,
            } => {
                assert_eq!(stream, "comment-1");
                assert_eq!(expected, ExpectedRevision::Exact(3));
                assert_eq!(actual, ActualRevision::Exact(7));
            }
            other => panic!("expected a conflict, got {other}"),
        }
        let e = kurrentdb::Error::WrongExpectedVersion {
            expected: StreamState::StreamExists,
            current: CurrentRevision::NoStream,
        };
        let mapped = map_append_error("thread-x", ExpectedRevision::StreamExists, e);
        assert!(
            matches!(
                mapped,
                StoreError::Conflict {
                    actual: ActualRevision::NoStream,
                    ..
                }
            ),
            "{mapped}"
        );
    }

    #[test]
    fn other_errors_become_backend_errors_with_their_cause() {
        let mapped = map_append_error("s", ExpectedRevision::Any, kurrentdb::Error::AccessDenied);
        assert!(
            matches!(&mapped, StoreError::Backend(m) if m.contains("refused access")),
            "{mapped}"
        );
        let mapped = map_error(kurrentdb::Error::DeadlineExceeded);
        assert!(
            matches!(&mapped, StoreError::Backend(m) if m.contains("Deadline")),
            "{mapped}"
        );
    }

    #[test]
    fn metadata_round_trips_through_the_wire_form() {
        let m = EventMetadata {
            actor: Some("moderator:dewi 🇮🇩".into()),
            correlation_id: Some(Uuid::new_v4()),
            causation_id: Some(Uuid::new_v4()),
        };
        let wire = serde_json::to_vec(&WireMetadata::from_parts(4, &m)).expect("serialise");
        let text = String::from_utf8(wire.clone()).expect("utf-8");
        assert!(
            text.contains("\"$correlationId\"") && text.contains("\"$causationId\""),
            "{text}"
        );
        assert_eq!(WireMetadata::parse(&wire).into_parts(), (4, m));

        let empty = serde_json::to_vec(&WireMetadata::from_parts(1, &EventMetadata::default()))
            .expect("serialise");
        assert_eq!(String::from_utf8_lossy(&empty), r#"{"schemaVersion":1}"#);
        assert_eq!(
            WireMetadata::parse(&empty).into_parts(),
            (1, EventMetadata::default())
        );
    }

    #[test]
    fn foreign_metadata_reads_as_defaults() {
        for bytes in [
            &b""[..],
            b"not json",
            b"[1,2]",
            br#"{"$correlationId":"not-a-uuid"}"#,
        ] {
            assert_eq!(
                WireMetadata::parse(bytes).into_parts(),
                (1, EventMetadata::default())
            );
        }
        let other_fields = br#"{"traceId":"x","actor":"system"}"#;
        let (v, m) = WireMetadata::parse(other_fields).into_parts();
        assert_eq!((v, m.actor.as_deref()), (1, Some("system")));
    }

    #[test]
    fn positions_encode_inclusive_and_resume_starts() {
        for commit in [0u64, 1, 2, 1234, 1 << 40] {
            let p = encode_position(commit);
            assert_eq!(p % 2, 1);
            let at = Position {
                commit,
                prepare: commit,
            };
            // Reading at an event's position and just after it both start at that event's record.
            assert_eq!(start_for(p), StreamPosition::Position(at));
            assert_eq!(start_for(p + 1), StreamPosition::Position(at));
            assert!(encode_position(commit + 1) > p + 1);
        }
        assert_eq!(start_for(0), StreamPosition::Start);
    }

    #[test]
    fn connection_strings_of_every_scheme_parse() {
        for s in [
            "esdb://localhost:2113?tls=false",
            "esdb+discover://admin:changeit@cluster.example:2113",
            "kurrentdb://localhost:2113?tls=false",
            "kurrentdb+discover://node1:2113,node2:2113",
            "kurrent://localhost:2113",
            "kdb://localhost:2113?tls=false&keepAliveTimeout=10000",
            "kdb+discover://localhost:2113",
            "ESDB://localhost:2113?tls=false",
            "  esdb://localhost:2113?tls=false  ",
        ] {
            assert!(KurrentStore::accepts(s.trim()), "{s}");
            let settings = parse_settings(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!settings.hosts().is_empty(), "{s}");
        }
        let discover = parse_settings("esdb+discover://cluster.example:2113").expect("parse");
        let plain = parse_settings("esdb://cluster.example:2113").expect("parse");
        assert_ne!(format!("{discover:?}"), format!("{plain:?}"));
    }

    #[test]
    fn bad_connection_strings_are_invalid_and_hide_passwords() {
        for s in [
            "",
            "./data",
            "/var/lib/saring",
            "http://localhost:2113",
            "esdb:/x",
            "postgres://u:p@h/db",
        ] {
            assert!(!KurrentStore::accepts(s), "{s}");
            assert!(
                matches!(parse_settings(s), Err(StoreError::Invalid(_))),
                "{s}"
            );
        }
        match parse_settings("esdb://admin:s3cr3t-pass@localhost:2113?tls=maybe") {
            Err(StoreError::Invalid(msg)) => assert!(!msg.contains("s3cr3t"), "{msg}"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn connect_is_lazy_and_debug_hides_credentials() {
        let store = KurrentStore::connect("esdb://admin:s3cr3t-pass@localhost:2113?tls=false")
            .expect("connect");
        let shown = format!("{store:?}");
        assert!(
            shown.contains("localhost:2113") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert_eq!(store.backend_name(), "kurrentdb");
    }

    #[test]
    fn connect_outside_a_runtime_is_an_error_not_a_panic() {
        let res = KurrentStore::connect("esdb://localhost:2113?tls=false");
        assert!(matches!(res, Err(StoreError::Backend(m)) if m.contains("Tokio")));
    }

    #[tokio::test]
    async fn invalid_appends_are_refused_before_the_network() {
        let store = KurrentStore::connect("esdb://localhost:1?tls=false").expect("connect");
        let res = store
            .append(
                "",
                ExpectedRevision::Any,
                vec![NewEvent::new("X", serde_json::json!(1))],
            )
            .await;
        assert!(matches!(res, Err(StoreError::Invalid(_))));
        let res = store
            .append(
                "$system",
                ExpectedRevision::Any,
                vec![NewEvent::new("X", serde_json::json!(1))],
            )
            .await;
        assert!(matches!(res, Err(StoreError::Invalid(_))));
        let big = "x".repeat(MAX_APPEND_BYTES + 1);
        let res = store
            .append(
                "s",
                ExpectedRevision::Any,
                vec![NewEvent::new("X", serde_json::json!(big))],
            )
            .await;
        assert!(matches!(res, Err(StoreError::Invalid(_))));
    }

    #[tokio::test]
    async fn unreachable_server_is_a_backend_error() {
        // Port 1 on loopback: nothing listens, so the client fails fast without any network.
        let store = KurrentStore::connect(
            "esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1&discoveryInterval=10",
        )
        .expect("connect");
        let res = store
            .append(
                "s",
                ExpectedRevision::Any,
                vec![NewEvent::new("X", serde_json::json!(1))],
            )
            .await;
        assert!(matches!(res, Err(StoreError::Backend(_))), "{res:?}");
        let res = store.read_all(0, 10).await;
        assert!(matches!(res, Err(StoreError::Backend(_))), "{res:?}");
    }
}
