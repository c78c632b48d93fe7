//! The whole log as JSON lines (`saring export events`) and back into an empty store of any
//! backend (`saring import events`), so a site can move between SQLite, PostgreSQL and KurrentDB.
//!
//! One line per stored event, in global order, with its stream, revision, id, type, schema
//! version, data and metadata. Importing appends each stream's events at the revisions they
//! had, with their ids, in the same global order, so every fold (threads, queues, author
//! histories) gives the same result. The store assigns new positions and recording times.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use uuid::Uuid;

use super::MigrateError;
use crate::projections::{EventPosition, Projections};
use crate::store::{EventStore, ExpectedRevision, NewEvent, RecordedEvent};

/// Events read from the store per request.
const READ_BATCH: usize = 4096;

/// The longest line accepted: one event is at most [`crate::store::MAX_APPEND_BYTES`] of data.
pub const MAX_LINE_BYTES: usize = 2 * crate::store::MAX_APPEND_BYTES;

/// Calls `visit` with every stored event in global order.
pub async fn each_event(
    store: &dyn EventStore,
    mut visit: impl FnMut(&RecordedEvent) -> Result<(), MigrateError>,
) -> Result<(), MigrateError> {
    let mut from = 0;
    loop {
        let batch = store.read_all(from, READ_BATCH).await?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        from = last.position + 1;
        for r in &batch {
            visit(r)?;
        }
    }
}

/// Writes every event as one JSON line; returns how many.
pub async fn export(store: &dyn EventStore, out: &mut dyn Write) -> Result<u64, MigrateError> {
    let mut n = 0;
    each_event(store, |r| {
        serde_json::to_writer(&mut *out, r)
            .map_err(|e| MigrateError::io("writing an event", e.into()))?;
        out.write_all(b"\n")
            .map_err(|e| MigrateError::io("writing an event", e))?;
        n += 1;
        Ok(())
    })
    .await?;
    out.flush()
        .map_err(|e| MigrateError::io("writing the events", e))?;
    Ok(n)
}

/// Events of one stream appended together, at most this many.
const MAX_BATCH: usize = 100;
/// And at most this many bytes of data, well below the store's limit per append.
const MAX_BATCH_BYTES: usize = crate::store::MAX_APPEND_BYTES / 2;

/// Reads JSON lines written by [`export`] into `store`, which must hold no events; returns how
/// many were written. A line that is not an event stops the import with its line number; what
/// was written before it stays (run it again into a fresh store after fixing the file).
pub async fn import(
    store: &dyn EventStore,
    input: &mut dyn BufRead,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, MigrateError> {
    if !store.read_all(0, 1).await?.is_empty() {
        return Err(MigrateError::NotEmpty);
    }
    let mut written = 0u64;
    let mut batch: Vec<NewEvent> = Vec::new();
    let mut batch_stream = String::new();
    let mut batch_first = 0u64;
    let mut batch_bytes = 0usize;
    let mut line_no = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        line_no += 1;
        let n = std::io::Read::take(&mut *input, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| MigrateError::io("reading the events file", e))?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(MigrateError::BadEventLine {
                line: line_no,
                message: format!("longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let r: RecordedEvent =
            serde_json::from_slice(&line).map_err(|e| MigrateError::BadEventLine {
                line: line_no,
                message: e.to_string(),
            })?;
        let size = r.data.to_string().len();
        let continues = r.stream == batch_stream
            && r.revision == batch_first + batch.len() as u64
            && batch.len() < MAX_BATCH
            && batch_bytes + size <= MAX_BATCH_BYTES;
        if !continues && !batch.is_empty() {
            written += flush(store, &batch_stream, batch_first, &mut batch).await?;
            progress(written);
            batch_bytes = 0;
        }
        if batch.is_empty() {
            batch_stream = r.stream.clone();
            batch_first = r.revision;
        }
        batch_bytes += size;
        batch.push(NewEvent {
            id: r.id,
            event_type: r.event_type,
            schema_version: r.schema_version,
            data: r.data,
            metadata: r.metadata,
        });
    }
    if !batch.is_empty() {
        written += flush(store, &batch_stream, batch_first, &mut batch).await?;
        progress(written);
    }
    Ok(written)
}

async fn flush(
    store: &dyn EventStore,
    stream: &str,
    first: u64,
    batch: &mut Vec<NewEvent>,
) -> Result<u64, MigrateError> {
    let expected = match first {
        0 => ExpectedRevision::NoStream,
        r => ExpectedRevision::Exact(r - 1),
    };
    let n = batch.len() as u64;
    store
        .append(stream, expected, std::mem::take(batch))
        .await?;
    Ok(n)
}

/// The log folded: the projections moderators and readers see, and each comment's text as
/// submitted (the projections keep only its HTML).
#[derive(Debug, Default)]
pub struct FoldedLog {
    /// Threads, queues and author histories.
    pub projections: Projections,
    /// Bodies by comment id.
    pub bodies: HashMap<Uuid, String>,
}

/// Folds the whole log of `store`.
pub async fn fold(store: &dyn EventStore) -> Result<FoldedLog, MigrateError> {
    let mut log = FoldedLog::default();
    each_event(store, |r| {
        let Some(event) = crate::service::codec::decode_recorded(r) else {
            return Ok(());
        };
        if let crate::domain::DomainEvent::CommentSubmitted(s) = &event {
            log.bodies.insert(s.comment_id, s.body.clone());
        }
        log.projections.apply(
            EventPosition {
                stream: &r.stream,
                revision: r.revision,
                position: r.position,
            },
            &event,
        );
        Ok(())
    })
    .await?;
    Ok(log)
}
