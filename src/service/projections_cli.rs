//! `saring projections rebuild|check`: replay the log into a fresh projection database, or compare
//! the stored one with a fresh fold of the log. Run them with the server stopped: the SQLite log
//! refuses a second process, and a rebuild replaces the file the server writes.

use std::io::Write;
use std::time::Duration;

use crate::config::{ConfigError, ServeArgs, Settings};
use crate::projections::Projections;
use crate::store::projection_db::{ProjectionDb, ProjectionDbError};
use crate::store::{EventStore, StoreError};

use super::bulk_build::{BulkBuildError, build_in_bulk};
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
