//! Keeps the projections following the event log: load the latest snapshot, catch up with
//! `read_all`, then follow the live subscription, writing a snapshot every so many events.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;

use crate::projections::{EventPosition, Projections};
use crate::store::{EventStore, RecordedEvent, StoreError};

use super::codec;
use super::view::View;

/// Version of the snapshot format; a snapshot of another version is ignored and the log replayed.
const SNAPSHOT_FORMAT: u32 = 2;
/// Events fetched per catch-up read.
const CATCH_UP_BATCH: usize = 4096;

#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    format: u32,
    backend: String,
    projections: Projections,
}

fn snapshot_path(dir: &Path) -> PathBuf {
    dir.join("projections.snapshot.json")
}

/// Loads the snapshot in `dir` if it is of this format and this backend; otherwise empty
/// projections (a damaged or foreign snapshot only costs a full replay).
pub fn load_snapshot(dir: &Path, backend: &str) -> Projections {
    let Ok(bytes) = std::fs::read(snapshot_path(dir)) else {
        return Projections::default();
    };
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(s) if s.format == SNAPSHOT_FORMAT && s.backend == backend => {
            tracing::info!(
                position = s.projections.position,
                "loaded projection snapshot"
            );
            s.projections
        }
        Ok(_) => Projections::default(),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable projection snapshot");
            Projections::default()
        }
    }
}

/// Writes a snapshot atomically (temporary file, fsync, rename).
pub fn write_snapshot(dir: &Path, backend: &str, view: &View) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("projections.snapshot.json.tmp");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        view.read(|p| {
            #[derive(serde::Serialize)]
            struct SnapshotRef<'a> {
                format: u32,
                backend: &'a str,
                projections: &'a Projections,
            }
            serde_json::to_writer(
                &mut file,
                &SnapshotRef {
                    format: SNAPSHOT_FORMAT,
                    backend,
                    projections: p,
                },
            )
        })
        .map_err(std::io::Error::other)?;
        file.flush()?;
        file.get_ref().sync_all()?;
    }
    std::fs::rename(tmp, snapshot_path(dir))
}

/// Applies stored events to the view. An event this version cannot read is kept: it still
/// advances the position (so a resume does not read it again) and its comment's version (the
/// moderators' `expected_version` is the stream's last recorded revision), but changes nothing
/// else.
pub fn apply_batch(view: &View, events: &[RecordedEvent]) {
    view.write(|p| {
        for e in events {
            if let Some(event) = codec::decode_recorded(e) {
                p.apply(
                    EventPosition {
                        stream: &e.stream,
                        revision: e.revision,
                        position: e.position,
                    },
                    &event,
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
    });
}

/// Catches up with everything stored, then marks the view ready.
pub async fn catch_up(store: &dyn EventStore, view: &View) -> Result<(), StoreError> {
    loop {
        let from = view.position() + 1;
        let batch = store.read_all(from, CATCH_UP_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        apply_batch(view, &batch);
    }
    view.set_ready();
    Ok(())
}

/// When the follower writes a snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotSchedule {
    /// The folder of the snapshot file.
    pub dir: PathBuf,
    /// New events after which a snapshot is due.
    pub every: u64,
    /// Least time between two snapshots. A snapshot serialises every projection while the
    /// follower waits, so counting events alone makes its cost grow with store size times write
    /// rate: at 100,000 comments and 5,000 comments/s it took a third of the CPU (see
    /// docs/loadtest.md).
    pub min_interval: std::time::Duration,
}

/// Follows the live subscription forever (until the task is aborted), writing snapshots.
/// On a subscription error it resubscribes from its own position after a pause.
pub async fn follow(store: Arc<dyn EventStore>, view: Arc<View>, schedule: SnapshotSchedule) {
    let backend = store.backend_name();
    let mut since_snapshot = 0u64;
    let mut last_snapshot = std::time::Instant::now();
    loop {
        let from = view.position() + 1;
        let mut stream = match store.subscribe_all(from).await {
            Ok(s) => s.ready_chunks(1024),
            Err(e) => {
                tracing::error!(error = %e, "cannot subscribe to the event log; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(chunk) = stream.next().await {
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
            apply_batch(&view, &events);
            metrics::gauge!("saring_projection_position").set(view.position() as f64);
            since_snapshot += events.len() as u64;
            if since_snapshot >= schedule.every && last_snapshot.elapsed() >= schedule.min_interval
            {
                since_snapshot = 0;
                last_snapshot = std::time::Instant::now();
                let (dir, v) = (schedule.dir.clone(), view.clone());
                let written =
                    tokio::task::spawn_blocking(move || write_snapshot(&dir, backend, &v)).await;
                if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
                    tracing::warn!(error = %e, "could not write projection snapshot");
                }
            }
            if let Some(e) = failed {
                tracing::warn!(error = %e, "event subscription failed; resubscribing");
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
