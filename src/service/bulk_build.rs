//! Building the projection database afresh from the whole log in bulk mode: a file of its own
//! beside the old one, no fsync while folding, the secondary and text indexes made once at the
//! end, then synced and renamed into place. `saring projections rebuild` uses it, and so does a
//! server whose file is missing or of another format (its first start on a log).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::store::EventStore;
use crate::store::StoreError;
use crate::store::projection_db::{ProjectionDb, ProjectionDbError, text_path};

use super::View;
use super::runner;

/// Events folded per transaction by a rebuild (the server's catch-up uses 4,096).
const REBUILD_BATCH: usize = 16_384;

/// The side files SQLite keeps next to a database in WAL mode.
fn side_files(path: &Path) -> [PathBuf; 2] {
    let name = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    [name("-wal"), name("-shm")]
}

fn remove_with_side_files(path: &Path) -> std::io::Result<()> {
    for p in std::iter::once(path.to_path_buf()).chain(side_files(path)) {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Why a bulk build of the projection database failed (the file in place is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum BulkBuildError {
    /// The log could not be read.
    #[error("reading the event log")]
    Store(#[from] StoreError),
    /// The new projection database could not be written.
    #[error("writing the projection database")]
    Db(#[from] ProjectionDbError),
    /// Files could not be replaced.
    #[error("replacing the projection database")]
    Io(#[from] std::io::Error),
}

/// What a bulk build did.
#[derive(Debug, Clone, Copy)]
pub struct BulkBuild {
    /// The log position the new file holds.
    pub position: u64,
    /// Comments in it.
    pub comments: u64,
    /// Time spent folding the log.
    pub folded: Duration,
    /// Time in all (the fold, then the indexes and the rename).
    pub total: Duration,
}

/// Builds the projection database at `path` afresh from the whole log, in bulk mode, beside
/// it (`projections.sqlite3.rebuild`), and renames it into place; `progress` gets the position
/// after each batch. Used by `saring projections rebuild` and by a server whose file is
/// missing or of another format (its first start on a log).
pub async fn build_in_bulk(
    store: &dyn EventStore,
    path: &Path,
    settings: &crate::service::view::ProjectionSettings,
    mut progress: impl FnMut(u64),
) -> Result<BulkBuild, BulkBuildError> {
    let fresh_path = path.with_extension("sqlite3.rebuild");
    remove_with_side_files(&fresh_path)?;
    remove_with_side_files(&text_path(&fresh_path))?;
    let (db, head, _) = {
        let (p, backend) = (fresh_path.clone(), store.backend_name());
        tokio::task::spawn_blocking(move || ProjectionDb::open(&p, backend))
            .await
            .map_err(std::io::Error::other)??
    };
    // The fresh file is the build's alone until the rename: built in bulk mode (no fsync, the
    // secondary and text indexes built once at the end), which a crash cannot hurt, since an
    // unfinished file is never renamed into place and the next build removes it.
    db.begin_bulk()?;
    let db = Arc::new(db);
    let view = Arc::new(View::on_disk(db.clone(), head, settings));
    let started = std::time::Instant::now();
    runner::fold_log_in(store, &view, None, REBUILD_BATCH, |position, _| {
        progress(position)
    })
    .await?;
    let folded = started.elapsed();
    let position = view.position();
    {
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            db.finish_bulk(|step| tracing::info!(step, "finishing the rebuilt projections"))
        })
        .await
        .map_err(std::io::Error::other)??;
    }
    let comments = db.comment_count()?;
    drop(view);
    drop(db);
    // On disk before they are renamed into place, and the renames on disk before we say so.
    // The text index file goes first: a crash between the two renames leaves the old
    // projection file with the new index file, which is not its pair and is filled again from
    // it at start (`projection_db::text_path`).
    let (fresh_text, text) = (text_path(&fresh_path), text_path(path));
    std::fs::File::open(&fresh_text)?.sync_all()?;
    std::fs::File::open(&fresh_path)?.sync_all()?;
    remove_with_side_files(&text)?;
    std::fs::rename(&fresh_text, &text)?;
    remove_with_side_files(path)?;
    std::fs::rename(&fresh_path, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(BulkBuild {
        position,
        comments,
        folded,
        total: started.elapsed(),
    })
}
