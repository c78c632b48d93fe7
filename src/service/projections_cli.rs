//! `saring projections rebuild|check`: replay the log into a fresh projection database, or compare
//! the stored one with a fresh fold of the log. Run them with the server stopped: the SQLite log
//! refuses a second process, and a rebuild replaces the file the server writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigError, ServeArgs, Settings};
use crate::projections::Projections;
use crate::store::projection_db::{ProjectionDb, ProjectionDbError};
use crate::store::{EventStore, StoreError};

use super::View;
use super::runner;

/// The `projections` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the whole log into a fresh projection database and put it in place of the old one
    /// (with the server stopped), showing events per second and the time left.
    Rebuild {
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Compare the stored projections with a fresh fold of the log up to the same position and
    /// print every difference; exits 1 if there is one.
    Check {
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
}

/// Why a `projections` command failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionsCliError {
    /// The settings are invalid.
    #[error("reading the settings")]
    Settings(#[from] ConfigError),
    /// The log could not be opened or read.
    #[error("reading the event log")]
    Store(#[from] StoreError),
    /// The projection database could not be opened, read or written.
    #[error("using the projection database")]
    Db(#[from] ProjectionDbError),
    /// Files could not be replaced.
    #[error("replacing the projection database")]
    Io(#[from] std::io::Error),
    /// The bulk build failed.
    #[error("rebuilding the projections")]
    Bulk(#[from] BulkBuildError),
    /// The stored projections differ from the log's fold.
    #[error("{0} difference(s) between the stored projections and the log")]
    Differences(usize),
}

/// Runs a `projections` subcommand, printing its report to `out`.
pub async fn run(
    command: ProjectionsCommand,
    out: &mut (dyn Write + Send),
) -> Result<(), ProjectionsCliError> {
    match command {
        ProjectionsCommand::Rebuild { serve } => rebuild(*serve, out).await,
        ProjectionsCommand::Check { serve } => check(*serve, out).await,
    }
}

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

async fn rebuild(args: ServeArgs, out: &mut (dyn Write + Send)) -> Result<(), ProjectionsCliError> {
    let settings = Settings::resolve(args)?;
    let store = crate::store::open_store(settings.store.as_deref(), &settings.data_dir).await?;
    let path = ProjectionDb::path_in(&settings.data_dir);
    // The old file's position is the best estimate of the log's length there is without a
    // second pass over it.
    let estimate = ProjectionDb::open_existing(&path, store.backend_name())
        .and_then(|db| db.position())
        .unwrap_or(0);
    let bar = indicatif::ProgressBar::new(estimate.max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} position {pos}/{len} · {per_sec} · {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let built = build_in_bulk(store.as_ref(), &path, &settings.projections, |position| {
        if position > bar.length().unwrap_or(0) {
            bar.set_length(position);
        }
        bar.set_position(position);
    })
    .await;
    bar.finish_and_clear();
    let built = built?;
    let total = built.total.as_secs_f64();
    writeln!(
        out,
        "rebuilt the projections: position {}, {} comments in {total:.1} s \
         ({:.0} events/s; fold {:.1} s, indexes {:.1} s)",
        built.position,
        built.comments,
        built.position as f64 / total.max(1e-9),
        built.folded.as_secs_f64(),
        total - built.folded.as_secs_f64()
    )?;
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
    // On disk before it is renamed into place, and the rename on disk before we say so.
    std::fs::File::open(&fresh_path)?.sync_all()?;
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

/// Folds the log up to `until` in memory, as a fresh start would.
async fn fresh_fold(store: &dyn EventStore, until: u64) -> Result<Projections, StoreError> {
    let mut p = Projections::default();
    loop {
        let from = p.position + 1;
        if from > until {
            break;
        }
        let mut batch = store.read_all(from, 4096).await?;
        batch.retain(|e| e.position <= until);
        let Some(last) = batch.last().map(|e| e.position) else {
            break;
        };
        runner::apply_in_memory(&mut p, &batch);
        p.position = p.position.max(last);
    }
    Ok(p)
}

async fn check(args: ServeArgs, out: &mut (dyn Write + Send)) -> Result<(), ProjectionsCliError> {
    let settings = Settings::resolve(args)?;
    let store = crate::store::open_store(settings.store.as_deref(), &settings.data_dir).await?;
    let path = ProjectionDb::path_in(&settings.data_dir);
    let backend = store.backend_name();
    let (db, stored) = tokio::task::spawn_blocking(move || {
        let db = ProjectionDb::open_existing(&path, backend)?;
        let stored = db.load_all()?;
        Ok::<_, ProjectionDbError>((db, stored))
    })
    .await
    .map_err(std::io::Error::other)??;
    let fresh = fresh_fold(store.as_ref(), stored.position).await?;
    let mut differences = stored.differences(&fresh, 20);
    differences.extend(db.derived_differences(&fresh)?);
    for d in &differences {
        writeln!(out, "{d}")?;
    }
    if differences.is_empty() {
        writeln!(
            out,
            "the stored projections match the log at position {} ({} comments)",
            stored.position,
            stored.comments.len()
        )?;
        Ok(())
    } else {
        Err(ProjectionsCliError::Differences(differences.len()))
    }
}
