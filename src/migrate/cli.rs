//! The `saring import …`, `saring export …`, `saring backup` and `saring restore` commands:
//! their arguments (clap) and what they print.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use super::{ImportOptions, ImportPlan, MigrateError, Source, SourceState, ThreadKeyRule};
use crate::config::{ServeArgs, Settings};
use crate::i18n::Lang;
use crate::store::EventStore;

/// `saring import …`: comments from another system, or a log exported by `saring export events`.
#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// A WordPress export (Tools → Export, WXR 1.2): comments with their replies and state.
    Wxr(SourceArgs),
    /// A Disqus XML export: threads, posts, spam and deleted flags, replies.
    Disqus(SourceArgs),
    /// An Isso SQLite database (comments.db).
    Isso(SourceArgs),
    /// JSON lines from `saring export events`, into an empty store of any backend.
    Events {
        /// The file written by `saring export events` (`-` for standard input).
        file: PathBuf,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
}

/// `saring export …`.
#[derive(clap::Subcommand)]
pub enum ExportCommand {
    /// The whole log as JSON lines, one event a line, in global order.
    Events {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Every thread as a WordPress post with its comments (WXR 1.2), for WordPress or any tool
    /// that reads WXR.
    Wxr {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The site's address, written as the WXR's site and the start of each post's link.
        #[arg(long, default_value = "https://example.com")]
        site_url: String,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
}

/// The file and mapping options of an import from another system.
#[derive(clap::Args)]
pub struct SourceArgs {
    /// The export file (or Isso database).
    pub file: PathBuf,
    /// How an article becomes a Saring thread key.
    #[arg(long, value_enum, default_value = "post-id")]
    pub thread_key: ThreadKeyRule,
    /// Put before every thread key (e.g. `wp-`), so keys match the widget's `data-thread`.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Print what would be imported and every problem found; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import the good records and list the bad ones, instead of importing nothing.
    #[arg(long)]
    pub skip_bad: bool,
    /// The language recorded on the imported comments (`id` or `en`).
    #[arg(long, default_value = "id", value_parser = parse_lang)]
    pub lang: Lang,
    /// Store settings (data folder, store URL).
    #[command(flatten)]
    pub serve: Box<ServeArgs>,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?} is not a language Saring speaks (id, en)"))
}

async fn open(serve: ServeArgs) -> Result<Arc<dyn EventStore>, MigrateError> {
    let settings = Settings::resolve(serve)?;
    Ok(crate::store::open_store(settings.store.as_deref(), &settings.data_dir).await?)
}

fn bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// Reads a source into a plan (no store needed).
pub fn read_plan(source: Source, args: &SourceArgs) -> Result<ImportPlan, MigrateError> {
    let options = options(args);
    let (site, records) = match source {
        Source::WordPress => {
            let bytes = super::read_source(&args.file)?;
            let file = super::wxr::read(&bytes)?;
            (file.site, file.comments)
        }
        Source::Disqus => {
            let bytes = super::read_source(&args.file)?;
            let file = super::disqus::read(&bytes)?;
            (file.forum, file.comments)
        }
        Source::Isso => super::isso::read(&args.file)?,
    };
    Ok(super::plan(source, &site, records, &options))
}

fn options(args: &SourceArgs) -> ImportOptions {
    ImportOptions {
        thread_key: args.thread_key,
        prefix: args.prefix.clone(),
        skip_bad: args.skip_bad,
        lang: args.lang,
    }
}

fn state_word(s: SourceState) -> &'static str {
    match s {
        SourceState::Published => "published",
        SourceState::Pending => "pending",
        SourceState::Spam => "spam",
        SourceState::Deleted => "deleted",
    }
}

/// Prints a plan: one line per comment, then the bad records and the notes.
pub fn print_plan(plan: &ImportPlan, out: &mut dyn Write) -> std::io::Result<()> {
    for c in &plan.comments {
        let s = &c.submission;
        writeln!(
            out,
            "would import {} {} as {} in thread {}{} ({})",
            plan.source.name(),
            c.original_id,
            s.comment_id,
            s.thread,
            s.parent_id
                .map(|p| format!(", reply to {p}"))
                .unwrap_or_default(),
            state_word(c.state),
        )?;
    }
    for p in &plan.bad {
        writeln!(out, "cannot import: {p}")?;
    }
    for p in &plan.notes {
        writeln!(out, "note: {p}")?;
    }
    writeln!(
        out,
        "{} comments to import, {} that cannot be, {} notes",
        plan.comments.len(),
        plan.bad.len(),
        plan.notes.len()
    )
}

/// `saring import wxr|disqus|isso`.
pub async fn import_source(source: Source, args: SourceArgs) -> Result<(), MigrateError> {
    let plan = read_plan(source, &args)?;
    let stdout = &mut std::io::stdout();
    if args.dry_run {
        return print_plan(&plan, stdout).map_err(|e| MigrateError::io("printing", e));
    }
    let word = if args.skip_bad {
        "skipped"
    } else {
        "cannot import"
    };
    for p in &plan.bad {
        eprintln!("{word}: {p}");
    }
    super::refuse_bad(&plan, &options(&args))?;
    let store = open(*args.serve).await?;
    let bar = bar(plan.comments.len() as u64, "importing");
    let report =
        super::write_plan(store.as_ref(), &plan, Utc::now(), &|n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    println!(
        "imported {} comments from {}; {} were already there; {} skipped",
        report.imported,
        source.name(),
        report.already_there,
        plan.bad.len()
    );
    Ok(())
}

/// `saring import events FILE`.
pub async fn import_events(file: PathBuf, serve: ServeArgs) -> Result<(), MigrateError> {
    let store = open(serve).await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("events written");
    let written = if file.as_os_str() == "-" {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        super::events::import(store.as_ref(), &mut input, &|n| bar.set_position(n)).await?
    } else {
        let f = std::fs::File::open(&file)
            .map_err(|e| MigrateError::io(format!("opening {}", file.display()), e))?;
        let mut input = std::io::BufReader::new(f);
        super::events::import(store.as_ref(), &mut input, &|n| bar.set_position(n)).await?
    };
    bar.finish_and_clear();
    println!(
        "imported {written} events into the {} store",
        store.backend_name()
    );
    Ok(())
}

fn output(out: &Option<PathBuf>) -> Result<Box<dyn Write>, MigrateError> {
    Ok(match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| MigrateError::io(format!("creating {}", path.display()), e))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

/// `saring export events|wxr`.
pub async fn export(command: ExportCommand) -> Result<(), MigrateError> {
    match command {
        ExportCommand::Events { out, serve } => {
            let store = open(*serve).await?;
            let mut w = output(&out)?;
            let n = super::events::export(store.as_ref(), &mut w).await?;
            eprintln!("exported {n} events");
        }
        ExportCommand::Wxr {
            out,
            site_url,
            serve,
        } => {
            let store = open(*serve).await?;
            let log = super::events::fold(store.as_ref()).await?;
            let mut text = String::new();
            super::wxr::write(&log, &site_url, &mut text);
            let mut w = output(&out)?;
            w.write_all(text.as_bytes())
                .and_then(|()| w.flush())
                .map_err(|e| MigrateError::io("writing the WXR file", e))?;
            eprintln!(
                "exported {} comments in {} threads",
                log.projections.comments.len(),
                log.projections.threads.len()
            );
        }
    }
    Ok(())
}

/// `saring backup DIR`: where the data folder is comes from the usual settings.
#[derive(clap::Args)]
pub struct BackupArgs {
    /// A new (or empty) folder for the copy, e.g. /var/backups/saring/2026-12-02.
    pub dir: PathBuf,
    /// Store settings (the data folder to copy).
    #[command(flatten)]
    pub serve: Box<ServeArgs>,
}

/// `saring restore DIR`.
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup folder.
    pub dir: PathBuf,
    /// Only check the backup (checksum, SQLite integrity, event count); copy nothing.
    #[arg(long)]
    pub check: bool,
    /// Store settings (the data folder to restore into; it must hold no store yet).
    #[command(flatten)]
    pub serve: Box<ServeArgs>,
}

fn data_dir(serve: ServeArgs) -> Result<PathBuf, MigrateError> {
    let settings = Settings::resolve(serve)?;
    if settings.store.as_deref().is_some_and(|s| {
        let s = s.trim();
        !s.is_empty() && !s.eq_ignore_ascii_case("sqlite") && !s.eq_ignore_ascii_case("embedded")
    }) {
        return Err(MigrateError::BadBackup(
            "backup and restore copy the embedded SQLite store; for PostgreSQL or KurrentDB use \
             their own backups, or `saring export events`"
                .into(),
        ));
    }
    Ok(settings.data_dir)
}

/// `saring backup DIR`, on the blocking pool so a large copy never holds an async worker.
pub async fn backup(args: BackupArgs) -> Result<(), MigrateError> {
    let from = data_dir(*args.serve)?;
    let to = args.dir.clone();
    let m = tokio::task::spawn_blocking(move || super::backup::backup(&from, &to))
        .await
        .map_err(|e| MigrateError::BadBackup(format!("the backup task failed: {e}")))??;
    println!(
        "backed up {} events (up to position {}) into {}",
        m.events,
        m.last_position,
        args.dir.display()
    );
    Ok(())
}

/// `saring restore DIR [--check]`.
pub async fn restore(args: RestoreArgs) -> Result<(), MigrateError> {
    let dir = args.dir.clone();
    let target = if args.check {
        None
    } else {
        Some(data_dir(*args.serve)?)
    };
    let t = target.clone();
    let m = tokio::task::spawn_blocking(move || match t {
        None => super::backup::check(&dir),
        Some(data) => super::backup::restore(&dir, &data),
    })
    .await
    .map_err(|e| MigrateError::BadBackup(format!("the restore task failed: {e}")))??;
    match target {
        None => println!(
            "the backup of {} is sound: {} events up to position {}",
            m.created_at, m.events, m.last_position
        ),
        Some(data) => println!(
            "restored {} events from the backup of {} into {}",
            m.events,
            m.created_at,
            data.display()
        ),
    }
    Ok(())
}
