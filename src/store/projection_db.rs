//! The projections' own SQLite file, `projections.sqlite3` in the data folder, next to the log
//! (whatever the log's backend). It is the read side: thread pages, queues, counts and author
//! history are queries on its indexed tables, and memory only keeps bounded caches in front of
//! it. The follower loads the rows an event batch touches, folds the batch into them with the
//! pure fold and writes the changed rows with the position reached in one transaction, so after
//! a crash the file holds exactly the projections of some prefix of the log, never a mix, and a
//! restart follows the log from there instead of replaying it.
//!
//! SQLite rather than an embedded key-value store: it is already a dependency, its WAL mode gives
//! crash-safe transactions without tuning and readers that never block the writer, secondary
//! orders (a thread's comments, a queue by position or by time) are plain indexes, and the file
//! can be inspected with `sqlite3` by an operator.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use uuid::Uuid;

mod text_file;

pub use text_file::text_path;

use super::checkpointer::Checkpointer;
use super::text_indexer::TextIndexer;
use crate::domain::CommentStatus;
use crate::projections::authors::{self, CountKind, Counts};
use crate::projections::restore::{StoredParts, StoredSighting};
use crate::projections::search::{
    AuthorRecord, ConsoleQueue, Cursor, QueueFilter, QueuePage, QueueStats, SortOrder,
};
use crate::projections::{CommentRecord, PolicyActivation, Projections, QueueName, ThreadRecord};

/// Version of what the file holds and how; a file of another version (or of another log
/// backend) is emptied and rebuilt from the log at start, with progress logged. Format 3 added
/// the full-text index of the published queue (`published_text`); format 4 the rows it has yet
/// to take (`text_pending`, see [`super::text_indexer`]); format 5 moved the index into a file
/// of its own ([`text_file`]) and gave the pending rows the position that marked them (`gen`).
pub const FORMAT: i64 = 5;

/// The older formats a file is migrated from in place rather than rebuilt: their index (in
/// this file) and pending rows are dropped, and the index file is filled from the published
/// comments at start.
const MIGRATES_FROM: [i64; 2] = [3, 4];

/// Pending text-index rows past which the fold indexes them itself, in its own transaction,
/// instead of leaving them to the background indexer (fallen behind, or not running): search
/// checks every pending published comment directly, so they must stay few.
const MAX_TEXT_PENDING: usize = 16_384;

/// Sightings kept at most; `AuthorHistory` keeps fewer, so replaying these rebuilds it.
const MAX_SIGHTING_ROWS: i64 = 250_000;

/// Sightings stored beyond [`MAX_SIGHTING_ROWS`] before the oldest are deleted: one delete of
/// a few thousand rows now and then dirties fewer pages of `sightings_body` (whose entries of
/// old rows lie at random places) than a few rows per batch.
const SIGHTING_SLACK: i64 = 4096;

/// Deletes the oldest `?1` sightings (it walks only them: `seq` is the row id).
const DROP_OLDEST_SIGHTINGS: &str =
    "DELETE FROM sightings WHERE seq IN (SELECT seq FROM sightings ORDER BY seq LIMIT ?1)";

/// The `meta` key of the number of stored sightings, kept in each transaction that changes
/// them, so the prune knows how many to delete without counting (or walking past) the rest.
const SIGHTING_ROWS_KEY: &str = "sighting_rows";

/// The `meta` key of the newest sighting's position when the count was written: a file that
/// an older binary (which does not keep the count) wrote since has newer ones, and is counted.
const SIGHTING_ROWS_AT_KEY: &str = "sighting_rows_at";

/// Connections that serve reads, so readers never wait for the follower's transaction (WAL);
/// the read pool has as many threads ([`crate::service::read_pool`]).
pub const READERS: usize = 4;

/// How often the background checkpointer copies the write-ahead log into the file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);
/// Write-ahead log pages after which the writer checkpoints itself, in case the background
/// checkpointer falls behind (64 MiB of 4 KiB pages).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;
/// What the write-ahead log is truncated to after a checkpoint that reset it.
const WAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The file's name in the data folder.
pub const FILE_NAME: &str = "projections.sqlite3";

/// Why the projection database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionDbError {
    /// SQLite failed.
    #[error("projection database {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// There is no projection database in the data folder.
    #[error(
        "no projection database at {path} (start the server once, or run `saring projections rebuild`)"
    )]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file is of another format or log backend.
    #[error(
        "projection database {path} is of format {format:?} for backend {backend:?}; run `saring projections rebuild`"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: Option<i64>,
        /// Its backend.
        backend: Option<String>,
    },
    /// The file is of an older format that the server migrates in place when it starts.
    #[error(
        "projection database {path} is of the older format {format}; start the server once to migrate it in place (or run `saring projections rebuild`)"
    )]
    Migratable {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: i64,
    },
    /// The task reading the file ended without an answer (it panicked or was cancelled).
    #[error("projection database read task failed: {0}")]
    Task(String),
    /// A stored record does not decode (a damaged file: rebuild it).
    #[error("projection database {path}: a stored record does not decode: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        source: serde_json::Error,
    },
}

/// A failed read of the projection database, as the store failure callers already answer as
/// "unavailable" (`503 store_unavailable` over HTTP, a retry at the next round in background
/// tasks): the cause stays in the error's source chain.
impl From<ProjectionDbError> for crate::store::StoreError {
    fn from(e: ProjectionDbError) -> Self {
        crate::store::StoreError::Unavailable {
            backend: "projection",
            source: Arc::new(e),
        }
    }
}

/// What the file keeps beside its tables and the server holds in memory: the position, the
/// policy history (at most [`crate::projections::MAX_POLICY_HISTORY`]) and the learned model
/// (bounded by [`crate::policy::learned::MAX_COMMENTS`]).
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Position of the last event applied.
    pub position: u64,
    /// Events applied.
    pub events_applied: u64,
    /// The policy version in force.
    pub policy_version: Option<String>,
    /// The recent policy activations, oldest first.
    pub policy_history: Vec<PolicyActivation>,
    /// What the moderators taught the filter.
    pub learned: crate::policy::learned::LearnedModel,
}

/// What one applied batch changed, written with its position in one transaction.
#[derive(Debug, Default)]
pub struct BatchWrite {
    /// Position reached.
    pub position: u64,
    /// Events applied so far.
    pub events_applied: u64,
    /// Comments changed, as they are now.
    pub comments: Vec<CommentRecord>,
    /// Threads changed: key, closed, generation, visible comments.
    pub threads: Vec<(String, bool, u64, u64)>,
    /// Comments whose reported-queue entries are replaced by `reported`.
    pub reported_for: Vec<Uuid>,
    /// Their current reported-queue entries (queue position, id).
    pub reported: Vec<(u64, Uuid)>,
    /// New sightings: the screening event's position and the sighting.
    pub sightings: Vec<(u64, StoredSighting)>,
    /// Authors (emails) whose stored sightings are deleted: their data was erased.
    pub forget_sightings: Vec<String>,
    /// Author counts changed (zero counts delete the row).
    pub counts: Vec<(CountKind, String, Counts)>,
    /// Changes of the totals (`comments` and one per status name).
    pub totals: Vec<(&'static str, i64)>,
    /// The policy version and history, when they changed.
    pub policy: Option<Vec<u8>>,
    /// The learned model, when it changed.
    pub learned: Option<Vec<u8>>,
}

/// An open projection database.
pub struct ProjectionDb {
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    path: PathBuf,
    /// In bulk mode ([`ProjectionDb::begin_bulk`]) batches leave the text index and the
    /// secondary indexes to [`ProjectionDb::finish_bulk`] (and the background checkpointer
    /// pauses: the bulk writer checkpoints itself, without syncs).
    bulk: Arc<AtomicBool>,
    /// Copies the write-ahead log into the file off the follower's commits (none for `check`).
    checkpointer: Option<Checkpointer>,
    /// The text index file's connection ([`text_file`]): the indexer's, and the fold's when
    /// too many rows are pending.
    text: Arc<Mutex<Connection>>,
    /// Moves the fold's pending text-index rows into the index (none for `check`, or if its
    /// thread could not start: the fold then indexes once [`MAX_TEXT_PENDING`] are pending).
    indexer: Option<TextIndexer>,
    /// Pending text-index rows, as far as this process knows (the fold's trigger for inline
    /// indexing; reset from the table whenever the fold or the indexer indexes).
    text_pending: Arc<AtomicUsize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PolicyRow {
    version: Option<String>,
    history: Vec<PolicyActivation>,
}

/// The policy part of a head, serialised.
pub fn policy_bytes(version: &Option<String>, history: &[PolicyActivation]) -> Vec<u8> {
    serde_json::to_vec(&PolicyRow {
        version: version.clone(),
        history: history.to_vec(),
    })
    .unwrap_or_default()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS comments (id BLOB PRIMARY KEY, seq INTEGER NOT NULL,
  thread TEXT NOT NULL, status INTEGER, email TEXT NOT NULL, ip TEXT NOT NULL,
  created INTEGER NOT NULL, record BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS comments_thread ON comments (thread, status, seq);
CREATE INDEX IF NOT EXISTS comments_queue ON comments (status, seq);
CREATE INDEX IF NOT EXISTS comments_time ON comments (status, created, id);
CREATE INDEX IF NOT EXISTS comments_email ON comments (email);
CREATE TABLE IF NOT EXISTS threads (key TEXT PRIMARY KEY, closed INTEGER NOT NULL,
  generation INTEGER NOT NULL, visible INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reported (pos INTEGER PRIMARY KEY, id BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS reported_id ON reported (id);
CREATE TABLE IF NOT EXISTS sightings (seq INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL,
  thread TEXT NOT NULL, author TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sightings_body ON sightings (fingerprint, seq);
CREATE TABLE IF NOT EXISTS author_counts (kind INTEGER NOT NULL, key TEXT NOT NULL,
  approved INTEGER NOT NULL, spam INTEGER NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS text_pending (seq INTEGER PRIMARY KEY, indexed INTEGER NOT NULL,
  gen INTEGER NOT NULL);
";

/// The queries a post, a fold or a page read makes many times a second, named so that a test
/// holds each to the index it is written for (`EXPLAIN QUERY PLAN`): a scan of `comments` at a
/// million rows would not show up in a small test's timings, only in production.
///
/// A comment by id: the fold's load of the rows a batch touches, the reply's parent check.
const COMMENT_BY_ID: &str = "SELECT record FROM comments WHERE id = ?1";
/// Whether a comment exists (a post's replay check), down the id's index alone.
const COMMENT_EXISTS: &str = "SELECT 1 FROM comments WHERE id = ?1";
/// A thread's visible comments in order (the page render), down `comments_thread`.
const THREAD_PAGE: &str =
    "SELECT record FROM comments WHERE thread = ?1 AND status = ?2 ORDER BY seq";
/// A thread's first visible comment's time ("close after N days"), one step down the same index.
const FIRST_IN_THREAD: &str =
    "SELECT created FROM comments WHERE thread = ?1 AND status = ?2 ORDER BY seq LIMIT 1";
/// An author's comments by status (the console card), down `comments_email`.
const AUTHOR_RECORD: &str =
    "SELECT status, count(*), min(created) FROM comments WHERE email = ?1 GROUP BY status";
/// One author key's counts (every post's screening), by the primary key.
const AUTHOR_COUNTS: &str = "SELECT approved, spam FROM author_counts WHERE kind = ?1 AND key = ?2";
/// A body's latest sightings (every post's duplicate check), down `sightings_body`.
const SIGHTINGS_OF_BODY: &str =
    "SELECT at, thread, author FROM sightings WHERE fingerprint = ?1 ORDER BY seq DESC LIMIT ?2";

/// Secondary indexes a bulk build creates once at its end (by sorting) instead of updating for
/// every row: no write of the fold reads them (it looks rows up by their primary keys, and the
/// reported queue, kept, by `reported_id`).
const BULK_DEFERRED_INDEXES: [&str; 5] = [
    "comments_thread",
    "comments_queue",
    "comments_time",
    "comments_email",
    "sightings_body",
];

/// Pages of SQLite's cache a bulk build's writer may use (negative: KiB), 8 MiB. A server's first
/// start builds in bulk in its own process (no projection file, or one of another format), and
/// what SQLite allocated for the build (this cache, and the index builds' sorter, which sizes
/// its runs from it) stays in glibc's arenas after it is freed: with 256 MiB a server that had
/// just built 1,000,000 comments served at 358–455 MiB of RSS, with 8 MiB at 108–209, and the
/// build took as long (89.6 against 87.1 s; 13.4–13.9 against 13.8 s at 200,000): with ids in
/// issue-time order the fold's lookups by primary key fall near the end of the index anyway.
const BULK_CACHE_KIB: i64 = 8 * 1024;

const TABLES: [&str; 9] = [
    "published_text",
    "text_pending",
    "comments",
    "threads",
    "reported",
    "sightings",
    "author_counts",
    "totals",
    "meta",
];

/// A status as stored (`NULL` before the filter's outcome).
pub fn status_code(s: Option<CommentStatus>) -> Option<i64> {
    s.map(|s| match s {
        CommentStatus::Pending => 0,
        CommentStatus::Published => 1,
        CommentStatus::Spam => 2,
        CommentStatus::Rejected => 3,
        CommentStatus::Deleted => 4,
    })
}

const PUBLISHED: i64 = 1;

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn decode_record(bytes: &[u8]) -> rusqlite::Result<CommentRecord> {
    serde_json::from_slice(bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, Box::new(e)))
}

fn record_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<CommentRecord> {
    decode_record(&row.get::<_, Vec<u8>>(0)?)
}

/// What the published queue's text index holds for a comment: its author's name and its
/// rendered body, lowercased as [`QueueFilter::matches`] compares them.
fn searchable_text(rec: &CommentRecord) -> String {
    format!(
        "{}\n{}",
        rec.author_name.to_lowercase(),
        rec.body_html.to_lowercase()
    )
}

/// The index query for a text filter, or `None` if the index cannot answer it (the trigram
/// index matches needles of three characters or more). It finds every comment whose name or
/// body contains the needle (and perhaps a few more, e.g. across the two): candidates, which
/// [`QueueFilter::matches`] then checks exactly.
fn text_query(text: &str) -> Option<String> {
    let needle = text.trim().to_lowercase();
    if needle.chars().count() < 3 {
        return None;
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let escaped = html_escape::encode_text(&needle);
    Some(if escaped == needle {
        quote(&needle)
    } else {
        format!("{} OR {}", quote(&needle), quote(&escaped))
    })
}

fn uuid_of(bytes: &[u8]) -> Uuid {
    Uuid::from_slice(bytes).unwrap_or_default()
}

fn pragmas(conn: &Connection) -> rusqlite::Result<()> {
    super::sqlite_plans::plan_once(conn)?;
    conn.execute_batch(
        // secure_delete=FAST zeroes what a replaced or deleted row held when that costs no
        // extra I/O, so an erased reader's old rows do not linger in the file's free space.
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;
         PRAGMA secure_delete=FAST;",
    )
}

impl ProjectionDb {
    /// The file's path in a data folder.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    fn connect(path: &Path) -> Result<ProjectionDb, ProjectionDbError> {
        let err = |source| ProjectionDbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        pragmas(&conn).map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);",
        )
        .map_err(err)?;
        let text = text_file::open(path).map_err(|source| ProjectionDbError::Sqlite {
            path: text_path(path),
            source,
        })?;
        Ok(ProjectionDb {
            writer: Arc::new(Mutex::new(conn)),
            text: Arc::new(Mutex::new(text)),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            path: path.to_path_buf(),
            bulk: Arc::new(AtomicBool::new(false)),
            checkpointer: None,
            indexer: None,
            text_pending: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn open_readers(&mut self) -> Result<(), ProjectionDbError> {
        for _ in 0..READERS {
            let conn = Connection::open(&self.path).map_err(|e| self.sqlite(e))?;
            pragmas(&conn)
                .and_then(|()| text_file::attach(&conn, &self.path))
                .map_err(|e| self.sqlite(e))?;
            self.readers.push(Mutex::new(conn));
        }
        Ok(())
    }

    /// Opens (creating) the file for the log backend `backend` and reads its head (position,
    /// policy history, learned model): nothing else is loaded, so opening takes the same time
    /// at any size. A file of another format or backend is emptied first, and `true` says so:
    /// the caller then folds the log from the start.
    pub fn open(
        path: &Path,
        backend: &str,
    ) -> Result<(ProjectionDb, Head, bool), ProjectionDbError> {
        let mut db = ProjectionDb::connect(path)?;
        let format = db.migrate(backend)?;
        let stored_backend = db.meta_text("backend")?;
        let fresh = format != Some(FORMAT) || stored_backend.as_deref() != Some(backend);
        if fresh {
            if format.is_some() {
                tracing::warn!(
                    stored_format = format,
                    format = FORMAT,
                    "projection database of another version or backend; rebuilding it from the log"
                );
            }
            db.reset(backend)?;
        } else {
            db.writer
                .lock()
                .execute_batch(SCHEMA)
                .map_err(|e| db.sqlite(e))?;
        }
        db.pair_text_index()?;
        db.open_readers()?;
        db.start_checkpointer()?;
        db.start_indexer()?;
        let head = db.head()?;
        Ok((db, head, fresh))
    }

    /// Moves a file of one of [`MIGRATES_FROM`] for this backend to [`FORMAT`] in place (its
    /// text index and pending rows dropped: [`ProjectionDb::pair_text_index`] then fills the
    /// index file), and answers the file's format after that.
    fn migrate(&self, backend: &str) -> Result<Option<i64>, ProjectionDbError> {
        let format: Option<i64> = self.meta_int("format")?;
        let Some(from) = format.filter(|f| MIGRATES_FROM.contains(f)) else {
            return Ok(format);
        };
        if self.meta_text("backend")?.as_deref() != Some(backend) {
            return Ok(format);
        }
        let mut conn = self.writer.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        tx.execute_batch("DROP TABLE IF EXISTS published_text; DROP TABLE IF EXISTS text_pending;")
            .and_then(|()| tx.execute_batch(SCHEMA))
            .and_then(|()| {
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'format'",
                    params![FORMAT],
                )
            })
            .map_err(|e| self.sqlite(e))?;
        tx.commit().map_err(|e| self.sqlite(e))?;
        tracing::info!(from, to = FORMAT, "projection database migrated in place");
        Ok(Some(FORMAT))
    }

    /// Fills the text index file from the published comments if it is not this file's pair
    /// (missing, new, or left by a crash between a rebuild's renames), logging its progress.
    fn pair_text_index(&self) -> Result<(), ProjectionDbError> {
        let mut text = self.text.lock();
        let text_err = |e| self.text_sqlite(e);
        if text_file::paired(&text).map_err(text_err)? {
            return Ok(());
        }
        let started = Instant::now();
        let mut logged = Instant::now();
        let indexed = text_file::fill(&mut text, &self.writer, |n| {
            if logged.elapsed() >= Duration::from_secs(2) {
                tracing::info!(comments = n, "filling the text index");
                logged = Instant::now();
            }
        })
        .map_err(text_err)?;
        if indexed > 0 {
            tracing::info!(
                comments = indexed,
                ms = started.elapsed().as_millis() as u64,
                "filled the text index"
            );
        }
        Ok(())
    }

    /// Starts the background text indexer ([`super::text_indexer`]), telling it what the file
    /// left pending (a crash between a fold and its indexing).
    fn start_indexer(&mut self) -> Result<(), ProjectionDbError> {
        let pending = pending_rows(&self.writer.lock()).map_err(|e| self.sqlite(e))?;
        self.text_pending.store(pending, Ordering::Relaxed);
        let counter = self.text_pending.clone();
        let writer = self.writer.clone();
        self.indexer = TextIndexer::start(
            self.text.clone(),
            Box::new(move |text: &mut Connection| {
                let started = std::time::Instant::now();
                let (moved, left) = text_file::index_round(text, &writer)?;
                counter.store(left, Ordering::Relaxed);
                metrics::counter!("saring_text_index_batches_total").increment(1);
                metrics::counter!("saring_text_index_rows_total").increment(moved as u64);
                metrics::counter!("saring_text_index_microseconds_total")
                    .increment(started.elapsed().as_micros() as u64);
                Ok(left)
            }),
            Box::new(|text: &mut Connection| {
                let started = std::time::Instant::now();
                let worked = text_file::merge_step(text)?;
                metrics::counter!("saring_text_index_merges_total").increment(1);
                metrics::counter!("saring_text_index_merge_microseconds_total")
                    .increment(started.elapsed().as_micros() as u64);
                Ok(worked)
            }),
            pending,
            self.bulk.clone(),
        );
        Ok(())
    }

    /// Moves every pending text-index row into the index now (each [`super::text_indexer::INDEX_BATCH`]
    /// in a transaction of its own), as the background indexer does a second after a fold.
    pub fn index_pending(&self) -> Result<(), ProjectionDbError> {
        let mut text = self.text.lock();
        while text_file::index_round(&mut text, &self.writer)
            .map_err(|e| self.sqlite(e))?
            .1
            > 0
        {}
        self.text_pending.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Pending text-index rows (what the background indexer has yet to take).
    pub fn text_pending_len(&self) -> Result<usize, ProjectionDbError> {
        self.read(pending_rows)
    }

    /// Moves the checkpoints off the writer's commits. A post's `201` waits for the fold of
    /// its batch, and the commit that crossed SQLite's default `wal_autocheckpoint` (1,000
    /// pages, a few batches' worth at 1,000,000 comments) copied the pages into the file and
    /// synced it twice before the post could be answered (docs/loadtest.md, "Where a post's
    /// time goes after the log's sync"). The writer keeps a far larger automatic checkpoint
    /// as a bound in case the background one falls behind (a reader holding an old snapshot).
    fn start_checkpointer(&mut self) -> Result<(), ProjectionDbError> {
        let conn = Connection::open(&self.path)
            .and_then(|c| pragmas(&c).map(|()| c))
            .map_err(|e| self.sqlite(e))?;
        self.writer
            .lock()
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}; \
                 PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES};"
            ))
            .map_err(|e| self.sqlite(e))?;
        self.checkpointer = Some(Checkpointer::start(
            "saring-projection-checkpoint",
            conn,
            CHECKPOINT_INTERVAL,
            self.bulk.clone(),
        ));
        Ok(())
    }

    /// Opens an existing file of this format and backend without changing it (for `saring
    /// projections check`).
    pub fn open_existing(path: &Path, backend: &str) -> Result<ProjectionDb, ProjectionDbError> {
        if !path.exists() {
            return Err(ProjectionDbError::Missing {
                path: path.to_path_buf(),
            });
        }
        let mut db = ProjectionDb::connect(path)?;
        let format = db.meta_int("format")?;
        let stored_backend = db.meta_text("backend")?;
        if let Some(format) = format.filter(|f| MIGRATES_FROM.contains(f))
            && stored_backend.as_deref() == Some(backend)
        {
            return Err(ProjectionDbError::Migratable {
                path: path.to_path_buf(),
                format,
            });
        }
        if format != Some(FORMAT) || stored_backend.as_deref() != Some(backend) {
            return Err(ProjectionDbError::Foreign {
                path: path.to_path_buf(),
                format,
                backend: stored_backend,
            });
        }
        db.writer
            .lock()
            .execute_batch(SCHEMA)
            .map_err(|e| db.sqlite(e))?;
        db.open_readers()?;
        Ok(db)
    }

    fn sqlite(&self, source: rusqlite::Error) -> ProjectionDbError {
        match source {
            rusqlite::Error::FromSqlConversionFailure(_, _, e) if e.is::<serde_json::Error>() => {
                match e.downcast::<serde_json::Error>() {
                    Ok(e) => ProjectionDbError::Decode {
                        path: self.path.clone(),
                        source: *e,
                    },
                    Err(e) => ProjectionDbError::Sqlite {
                        path: self.path.clone(),
                        source: rusqlite::Error::FromSqlConversionFailure(0, Type::Blob, e),
                    },
                }
            }
            source => ProjectionDbError::Sqlite {
                path: self.path.clone(),
                source,
            },
        }
    }

    /// An error of the text index file ([`text_file`]), named by its own path.
    fn text_sqlite(&self, source: rusqlite::Error) -> ProjectionDbError {
        ProjectionDbError::Sqlite {
            path: text_path(&self.path),
            source,
        }
    }

    fn meta<T: rusqlite::types::FromSql>(&self, key: &str) -> Result<Option<T>, ProjectionDbError> {
        self.writer
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    fn meta_int(&self, key: &str) -> Result<Option<i64>, ProjectionDbError> {
        self.meta(key)
    }

    fn meta_text(&self, key: &str) -> Result<Option<String>, ProjectionDbError> {
        self.meta(key)
    }

    /// Drops every table (an older format's may have other columns), creates them afresh and
    /// records the format and backend.
    fn reset(&self, backend: &str) -> Result<(), ProjectionDbError> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let drop: String = TABLES
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {t};"))
            .collect();
        tx.execute_batch(&drop)
            .and_then(|()| {
                tx.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);")
            })
            .and_then(|()| tx.execute_batch(SCHEMA))
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('format', ?1), ('backend', ?2),
                     ('position', 0), ('events_applied', 0)",
                    params![FORMAT, backend],
                )
            })
            .map_err(|e| self.sqlite(e))?;
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// The position the stored projections have reached.
    pub fn position(&self) -> Result<u64, ProjectionDbError> {
        Ok(self.meta_int("position")?.unwrap_or(0) as u64)
    }

    /// The head: position, policy history and learned model.
    pub fn head(&self) -> Result<Head, ProjectionDbError> {
        let decode = |source| ProjectionDbError::Decode {
            path: self.path.clone(),
            source,
        };
        let mut head = Head {
            position: self.position()?,
            events_applied: self.meta_int("events_applied")?.unwrap_or(0) as u64,
            ..Head::default()
        };
        if let Some(bytes) = self.meta::<Vec<u8>>("policy")? {
            let row: PolicyRow = serde_json::from_slice(&bytes).map_err(decode)?;
            head.policy_version = row.version;
            head.policy_history = row.history;
        }
        if let Some(bytes) = self.meta::<Vec<u8>>("learned")? {
            head.learned = serde_json::from_slice(&bytes).map_err(decode)?;
        }
        Ok(head)
    }

    /// Runs `f` on a reader connection (a free one if there is, else waits for one).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, ProjectionDbError> {
        if self.readers.is_empty() {
            return f(&self.writer.lock()).map_err(|e| self.sqlite(e));
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        let guard = (0..n)
            .find_map(|i| self.readers[(start + i) % n].try_lock())
            .unwrap_or_else(|| self.readers[start % n].lock());
        f(&guard).map_err(|e| self.sqlite(e))
    }

    /// Runs `f` in one write transaction and commits what it did, or nothing if it fails.
    /// Blocking: call it from the blocking pool.
    pub fn write_tx<T>(
        &self,
        f: impl FnOnce(&WriteTx<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, ProjectionDbError> {
        // The wait for the writer (held by the text indexer's rounds) and the commit are
        // counted apart: both fall in the fold's `commit` phase, and only one of them is
        // SQLite writing this batch's pages.
        let asked = Instant::now();
        let mut conn = self.writer.lock();
        metrics::counter!("saring_projection_writer_wait_microseconds_total")
            .increment(asked.elapsed().as_micros() as u64);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.sqlite(e))?;
        let wtx = WriteTx {
            tx: &tx,
            db: self,
            pending_added: Cell::new(0),
            index_now: Cell::new(false),
        };
        let out = f(&wtx).map_err(|e| self.sqlite(e))?;
        let (added, index_now) = (wtx.pending_added.get(), wtx.index_now.get());
        let committing = Instant::now();
        tx.commit().map_err(|e| self.sqlite(e))?;
        metrics::counter!("saring_projection_commit_microseconds_total")
            .increment(committing.elapsed().as_micros() as u64);
        drop(conn);
        if index_now {
            self.index_pending()?;
        } else if added > 0
            && let Some(indexer) = &self.indexer
        {
            indexer.wake(added);
        }
        Ok(out)
    }

    /// Reads every stored row back into in-memory projections (for `saring projections check`
    /// and tests; the server never does this).
    pub fn load_all(&self) -> Result<Projections, ProjectionDbError> {
        let head = self.head()?;
        let parts = self.read(|conn| {
            let mut parts = StoredParts {
                position: head.position,
                events_applied: head.events_applied,
                policy_version: head.policy_version,
                policy_history: head.policy_history,
                learned: head.learned,
                ..StoredParts::default()
            };
            let mut stmt = conn.prepare("SELECT record FROM comments ORDER BY seq")?;
            parts.comments = stmt
                .query_map([], record_of)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut stmt = conn.prepare("SELECT key, closed, generation FROM threads")?;
            parts.threads = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut stmt = conn.prepare("SELECT pos, id FROM reported")?;
            parts.reported = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        uuid_of(&r.get::<_, Vec<u8>>(1)?),
                    ))
                })?
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            let mut stmt =
                conn.prepare("SELECT fingerprint, thread, author, at FROM sightings ORDER BY seq")?;
            parts.sightings = stmt
                .query_map([], |r| {
                    Ok(StoredSighting {
                        fingerprint: r.get::<_, i64>(0)? as u64,
                        thread: r.get(1)?,
                        author: r.get(2)?,
                        at: DateTime::from_timestamp_nanos(r.get(3)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(parts)
        })?;
        Ok(Projections::restore(parts))
    }

    /// How the rows kept for reads (totals, visible counts, author counts) differ from what
    /// `p` (the file's restored projections, or a fresh fold) says; empty when they agree.
    pub fn derived_differences(&self, p: &Projections) -> Result<Vec<String>, ProjectionDbError> {
        let mut out = Vec::new();
        let totals: HashMap<String, i64> = self.read(|c| {
            let mut stmt = c.prepare("SELECT name, n FROM totals")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })?;
        let total = |name: &str| totals.get(name).copied().unwrap_or(0);
        if total("comments") != p.comments.len() as i64 {
            out.push(format!(
                "total comments {} vs {}",
                total("comments"),
                p.comments.len()
            ));
        }
        for status in [
            CommentStatus::Pending,
            CommentStatus::Published,
            CommentStatus::Spam,
            CommentStatus::Rejected,
            CommentStatus::Deleted,
        ] {
            let n = p
                .comments
                .values()
                .filter(|r| r.status == Some(status))
                .count() as i64;
            if total(status.as_str()) != n {
                out.push(format!(
                    "total {} {} vs {n}",
                    status.as_str(),
                    total(status.as_str())
                ));
            }
        }
        let visible: HashMap<String, i64> = self.read(|c| {
            let mut stmt = c.prepare("SELECT key, visible FROM threads")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })?;
        let wrong = p
            .threads
            .iter()
            .filter(|(k, t)| visible.get(*k).copied().unwrap_or(0) != t.visible.len() as i64)
            .count();
        if wrong > 0 {
            out.push(format!("{wrong} threads' visible counts differ"));
        }
        let stored: HashMap<(i64, String), Counts> = self.read(|c| {
            let mut stmt = c.prepare("SELECT kind, key, approved, spam FROM author_counts")?;
            stmt.query_map([], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?),
                    Counts {
                        approved: r.get(2)?,
                        spam: r.get(3)?,
                    },
                ))
            })?
            .collect()
        })?;
        let folded: HashMap<(i64, String), Counts> = p
            .authors
            .each_count()
            .filter(|(_, _, c)| *c != Counts::default())
            .map(|(kind, key, c)| ((kind.code(), key.to_string()), c))
            .collect();
        if stored != folded {
            out.push(format!(
                "author counts: {} stored keys vs {}",
                stored.len(),
                folded.len()
            ));
        }
        out.extend(self.text_index_differences()?);
        Ok(out)
    }

    /// How the text index and its pending rows, taken together, differ from the published
    /// queue: every published comment must have an entry or a pending row, and every entry
    /// without a pending row must be a published comment's (entries' texts cannot be read
    /// back from a contentless index; search checks candidates against the records anyway).
    fn text_index_differences(&self) -> Result<Vec<String>, ProjectionDbError> {
        if !text_file::paired(&self.text.lock()).map_err(|e| self.sqlite(e))? {
            return Ok(vec![format!(
                "the text index file {} is not this file's pair (the server fills it again when it starts)",
                text_path(&self.path).display()
            )]);
        }
        let (missing, stray): (i64, i64) = self.read(|c| {
            let missing = c.query_row(
                "SELECT count(*) FROM comments WHERE status = ?1
                 AND seq NOT IN (SELECT rowid FROM text.published_text)
                 AND seq NOT IN (SELECT seq FROM text_pending)",
                [PUBLISHED],
                |r| r.get(0),
            )?;
            let stray = c.query_row(
                "SELECT count(*) FROM text.published_text
                 WHERE rowid NOT IN (SELECT seq FROM comments WHERE status = ?1)
                 AND rowid NOT IN (SELECT seq FROM text_pending)",
                [PUBLISHED],
                |r| r.get(0),
            )?;
            Ok((missing, stray))
        })?;
        let mut out = Vec::new();
        if missing > 0 {
            out.push(format!(
                "{missing} published comments neither in the text index nor pending"
            ));
        }
        if stray > 0 {
            out.push(format!(
                "{stray} text index entries of comments not published and not pending"
            ));
        }
        Ok(out)
    }

    // ---- reads ----

    /// One comment's record.
    pub fn comment(&self, id: Uuid) -> Result<Option<CommentRecord>, ProjectionDbError> {
        self.read(|c| {
            c.prepare_cached(COMMENT_BY_ID)?
                .query_row([id.as_bytes()], record_of)
                .optional()
        })
    }

    /// Whether a comment is known.
    pub fn has_comment(&self, id: Uuid) -> Result<bool, ProjectionDbError> {
        self.read(|c| c.prepare_cached(COMMENT_EXISTS)?.exists([id.as_bytes()]))
    }

    /// When the first visible comment of a thread was submitted (`None`: no visible comment),
    /// for closing threads by age; one step down the (thread, status, seq) index.
    pub fn first_visible_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, ProjectionDbError> {
        self.read(|c| {
            Ok(c.prepare_cached(FIRST_IN_THREAD)?
                .query_row(params![key, PUBLISHED], |r| r.get::<_, i64>(0))
                .optional()?
                .map(DateTime::from_timestamp_nanos))
        })
    }

    /// A thread's closed flag, generation and visible comments.
    pub fn thread(&self, key: &str) -> Result<Option<(bool, u64, u64)>, ProjectionDbError> {
        self.read(|c| thread_row(c, key))
    }

    /// What a thread page is rendered from, read in one transaction: the thread's flags
    /// (closed, generation, visible count), its visible records in submission order and the
    /// hidden ancestors their parent chains pass through.
    #[allow(clippy::type_complexity)]
    pub fn thread_inputs(
        &self,
        key: &str,
    ) -> Result<
        Option<(
            (bool, u64, u64),
            Vec<CommentRecord>,
            HashMap<Uuid, CommentRecord>,
        )>,
        ProjectionDbError,
    > {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let Some(flags) = thread_row(&tx, key)? else {
                return Ok(None);
            };
            let visible: Vec<CommentRecord> = tx
                .prepare_cached(THREAD_PAGE)?
                .query_map(params![key, PUBLISHED], record_of)?
                .collect::<Result<_, _>>()?;
            let mut hidden: HashMap<Uuid, CommentRecord> = HashMap::new();
            let known: std::collections::HashSet<Uuid> = visible.iter().map(|r| r.id).collect();
            let mut wanted: Vec<Uuid> = visible
                .iter()
                .filter_map(|r| r.parent_id)
                .filter(|p| !known.contains(p))
                .collect();
            // Parent chains through hidden comments are short; the fold's walk stops at 64 hops.
            for _ in 0..=64 {
                wanted.sort_unstable();
                wanted.dedup();
                wanted.retain(|p| !hidden.contains_key(p) && !known.contains(p));
                if wanted.is_empty() {
                    break;
                }
                let mut next = Vec::new();
                let mut get = tx.prepare_cached(COMMENT_BY_ID)?;
                for id in wanted.drain(..) {
                    if let Some(rec) = get.query_row([id.as_bytes()], record_of).optional()? {
                        next.extend(rec.parent_id);
                        hidden.insert(id, rec);
                    }
                }
                wanted = next;
            }
            Ok(Some((flags, visible, hidden)))
        })
    }

    /// The reported-queue entries of a comment.
    pub fn is_reported(&self, id: Uuid) -> Result<bool, ProjectionDbError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM reported WHERE id = ?1")?
                .exists([id.as_bytes()])
        })
    }

    fn total(c: &Connection, name: &str) -> rusqlite::Result<u64> {
        Ok(c.prepare_cached("SELECT n FROM totals WHERE name = ?1")?
            .query_row([name], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Stored comments.
    pub fn comment_count(&self) -> Result<u64, ProjectionDbError> {
        self.read(|c| Self::total(c, "comments"))
    }

    /// Bulk mode, for a fresh file that nothing else opens until it is complete (`saring
    /// projections rebuild` builds one beside the live file and renames it into place): no
    /// `fsync` (`synchronous=OFF`; a crash leaves an unfinished file that is never renamed and
    /// is removed by the next rebuild), a large page cache, the secondary indexes dropped and
    /// the text index not written per batch. [`ProjectionDb::finish_bulk`] builds them.
    pub fn begin_bulk(&self) -> Result<(), ProjectionDbError> {
        let drop: String = BULK_DEFERRED_INDEXES
            .iter()
            .map(|i| format!("DROP INDEX IF EXISTS {i};"))
            .collect();
        self.writer
            .lock()
            .execute_batch(&format!(
                "PRAGMA synchronous=OFF; PRAGMA cache_size=-{BULK_CACHE_KIB}; {drop}"
            ))
            .map_err(|e| self.sqlite(e))?;
        self.bulk.store(true, Ordering::Release);
        Ok(())
    }

    /// Ends bulk mode: creates the secondary indexes, fills the published queue's text index
    /// file from the published comments ([`text_file`], in chunks, each checkpointed, so its
    /// write-ahead log never holds the whole index), restores `synchronous=NORMAL`, and writes
    /// the log into the file (checkpoint); the caller `fsync`s both files before renaming them
    /// into place. `progress` gets a line per step.
    pub fn finish_bulk(&self, mut progress: impl FnMut(&str)) -> Result<(), ProjectionDbError> {
        let conn = self.writer.lock();
        let err = |e| ProjectionDbError::Sqlite {
            path: self.path.clone(),
            source: e,
        };
        // A bulk build prunes only every 256 batches of thousands of events, so it can leave a
        // few hundred thousand sightings too many; the server's first batch with a sighting
        // would then delete them all in one transaction (3.5 s that the first posts waited,
        // at 1,000,000 comments). Pruned here, before their index is built.
        let rows = sighting_rows(&conn).map_err(err)?;
        trim_sightings(&conn, rows, 0).map_err(err)?;
        progress("creating the indexes");
        conn.execute_batch(SCHEMA).map_err(err)?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(err)?;
        progress("filling the text index");
        // Filled from the published comments as they are, in its own file: nothing is left
        // pending.
        drop(conn);
        text_file::fill(&mut self.text.lock(), &self.writer, |_| {})
            .map_err(|e| self.text_sqlite(e))?;
        let conn = self.writer.lock();
        progress("writing the file");
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-2000; PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .map_err(err)?;
        self.bulk.store(false, Ordering::Release);
        Ok(())
    }

    /// Threads, and author-count keys (for metrics).
    pub fn sizes(&self) -> Result<(u64, u64), ProjectionDbError> {
        self.read(|c| {
            let threads: i64 = c.query_row("SELECT count(*) FROM threads", [], |r| r.get(0))?;
            let keys: i64 = c.query_row("SELECT count(*) FROM author_counts", [], |r| r.get(0))?;
            Ok((threads as u64, keys as u64))
        })
    }

    /// A moderation queue's size.
    pub fn queue_len(&self, queue: QueueName) -> Result<usize, ProjectionDbError> {
        self.read(|c| {
            Ok(match queue {
                QueueName::Reported => {
                    c.query_row("SELECT count(*) FROM reported", [], |r| r.get::<_, i64>(0))? as u64
                }
                QueueName::Pending => Self::total(c, "pending")?,
                QueueName::Spam => Self::total(c, "spam")?,
                QueueName::Rejected => Self::total(c, "rejected")?,
            } as usize)
        })
    }

    /// The comments of a queue after the cursor (a queue position), oldest first, at most
    /// `limit`, and the cursor of the next page.
    pub fn queue_page(
        &self,
        queue: QueueName,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<CommentRecord>, Option<u64>), ProjectionDbError> {
        let start = after
            .map_or(0, |a| a.saturating_add(1))
            .min(i64::MAX as u64) as i64;
        let rows: Vec<(u64, CommentRecord)> = self.read(|c| {
            let sql = match queue {
                QueueName::Reported => {
                    "SELECT c.record, r.pos FROM reported r JOIN comments c ON c.id = r.id
                     WHERE r.pos >= ?1 ORDER BY r.pos LIMIT ?2"
                }
                _ => {
                    "SELECT record, seq FROM comments WHERE status = ?3 AND seq >= ?1
                     ORDER BY seq LIMIT ?2"
                }
            };
            let status = match queue {
                QueueName::Pending => 0,
                QueueName::Spam => 2,
                QueueName::Rejected => 3,
                QueueName::Reported => -1,
            };
            let mut stmt = c.prepare_cached(sql)?;
            let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(1)? as u64, record_of(r)?));
            let rows = if queue == QueueName::Reported {
                stmt.query_map(params![start, limit as i64 + 1], map)?
                    .collect::<Result<_, _>>()?
            } else {
                stmt.query_map(params![start, limit as i64 + 1, status], map)?
                    .collect::<Result<_, _>>()?
            };
            Ok(rows)
        })?;
        let more = rows.len() > limit;
        let mut items: Vec<(u64, CommentRecord)> = rows;
        items.truncate(limit);
        let next = if more {
            items.last().map(|(p, _)| *p)
        } else {
            None
        };
        Ok((items.into_iter().map(|(_, r)| r).collect(), next))
    }

    /// A console queue's count and oldest item.
    pub fn queue_stats(&self, queue: ConsoleQueue) -> Result<QueueStats, ProjectionDbError> {
        self.read(|c| {
            let oldest = |sql: &str, p: &[i64]| -> rusqlite::Result<Option<DateTime<Utc>>> {
                Ok(c.prepare_cached(sql)?
                    .query_row(params_from_iter(p), |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(DateTime::from_timestamp_nanos))
            };
            let by_seq = "SELECT created FROM comments WHERE status = ?1 ORDER BY seq LIMIT 1";
            Ok(match queue {
                ConsoleQueue::Reported => QueueStats {
                    count: c
                        .query_row("SELECT count(*) FROM reported", [], |r| r.get::<_, i64>(0))?
                        as usize,
                    oldest: oldest(
                        "SELECT c.created FROM reported r JOIN comments c ON c.id = r.id
                         ORDER BY r.pos LIMIT 1",
                        &[],
                    )?,
                },
                ConsoleQueue::Published => QueueStats {
                    count: Self::total(c, "published")? as usize,
                    oldest: oldest(
                        "SELECT created FROM comments WHERE status = ?1 ORDER BY created LIMIT 1",
                        &[PUBLISHED],
                    )?,
                },
                ConsoleQueue::Pending => QueueStats {
                    count: Self::total(c, "pending")? as usize,
                    oldest: oldest(by_seq, &[0])?,
                },
                ConsoleQueue::Spam => QueueStats {
                    count: Self::total(c, "spam")? as usize,
                    oldest: oldest(by_seq, &[2])?,
                },
                ConsoleQueue::Rejected => QueueStats {
                    count: Self::total(c, "rejected")? as usize,
                    oldest: oldest(by_seq, &[3])?,
                },
            })
        })
    }

    /// One page of a console queue: the items matching `filter` strictly after `after` in
    /// `order`. Thread, email and address filter in SQL on indexed or stored columns; a text
    /// filter of three characters or more on the published queue is narrowed by its full-text
    /// index; otherwise a domain or text filter decodes every row the others leave (moderators
    /// only).
    pub fn queue_search(
        &self,
        queue: ConsoleQueue,
        filter: &QueueFilter,
        order: SortOrder,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<QueuePage, ProjectionDbError> {
        let limit = limit.max(1);
        let mut wheres: Vec<String> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        // On the published queue (the one that grows with the archive) the text index narrows
        // a text filter to its candidates, so only those are decoded and checked. The comments
        // the background indexer has yet to take (`text_pending`, a few thousand at most) are
        // candidates too, so a comment just published is found and one just taken down is
        // not (the status and the exact check below see the rows as they are now): search
        // shows no lag. CROSS JOIN keeps SQLite from walking the whole queue in time order and
        // probing the candidates for each row: they are looked up by (status, seq) and sorted.
        let indexed_text = (queue == ConsoleQueue::Published)
            .then(|| filter.text.as_deref().and_then(text_query))
            .flatten();
        let candidates;
        let from = if queue == ConsoleQueue::Reported {
            "reported q JOIN comments c ON c.id = q.id"
        } else if let Some(q) = indexed_text {
            args.push(q.into());
            wheres.push(format!("c.status = {PUBLISHED} AND c.seq = t.seq"));
            candidates = format!(
                "(SELECT rowid AS seq FROM text.published_text WHERE published_text MATCH ?{} \
                 UNION SELECT seq FROM text_pending) t CROSS JOIN comments c",
                args.len()
            );
            candidates.as_str()
        } else {
            let code = match queue {
                ConsoleQueue::Pending => 0,
                ConsoleQueue::Published => 1,
                ConsoleQueue::Spam => 2,
                _ => 3,
            };
            wheres.push(format!("c.status = {code}"));
            "comments c"
        };
        if let Some(t) = &filter.thread {
            args.push(t.clone().into());
            wheres.push(format!("c.thread = ?{}", args.len()));
        }
        if let Some(e) = &filter.email {
            args.push(e.trim().to_lowercase().into());
            wheres.push(format!("c.email = ?{}", args.len()));
        }
        if let Some(a) = &filter.address {
            args.push(a.clone().into());
            wheres.push(format!("c.ip = ?{}", args.len()));
        }
        let base_where = if wheres.is_empty() {
            "1".to_string()
        } else {
            wheres.join(" AND ")
        };
        let dir = match order {
            SortOrder::Oldest => "ASC",
            SortOrder::Newest => "DESC",
        };
        let scan = filter.domain.is_some() || filter.text.is_some();
        // Only the reported queue can list a comment twice (reported again after a decision).
        let distinct = if queue == ConsoleQueue::Reported {
            "DISTINCT"
        } else {
            ""
        };
        let after_ok = |r: &CommentRecord| match (after, order) {
            (None, _) => true,
            (Some(c), SortOrder::Oldest) => Cursor::of(r) > c,
            (Some(c), SortOrder::Newest) => Cursor::of(r) < c,
        };
        self.read(|c| {
            let (mut items, matching) = if scan {
                let sql = format!(
                    "SELECT {distinct} c.record, c.created, c.id FROM {from} WHERE {base_where}
                     ORDER BY c.created {dir}, c.id {dir}"
                );
                let mut stmt = c.prepare(&sql)?;
                let mut rows = stmt.query(params_from_iter(args.iter()))?;
                let (mut items, mut matching) = (Vec::new(), 0);
                while let Some(row) = rows.next()? {
                    let rec = record_of(row)?;
                    if !filter.matches(&rec) {
                        continue;
                    }
                    matching += 1;
                    if items.len() <= limit && after_ok(&rec) {
                        items.push(rec);
                    }
                }
                (items, matching)
            } else {
                let count_sql =
                    format!("SELECT count({distinct} c.id) FROM {from} WHERE {base_where}");
                let matching: i64 = c
                    .prepare_cached(&count_sql)?
                    .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
                let mut page_args = args.clone();
                let mut page_where = base_where.clone();
                if let Some(cur) = after {
                    page_args.push(nanos(cur.at).into());
                    page_args.push(cur.id.as_bytes().to_vec().into());
                    let cmp = if order == SortOrder::Oldest { ">" } else { "<" };
                    page_where.push_str(&format!(
                        " AND (c.created, c.id) {cmp} (?{}, ?{})",
                        page_args.len() - 1,
                        page_args.len()
                    ));
                }
                let sql = format!(
                    "SELECT {distinct} c.record, c.created, c.id FROM {from} WHERE {page_where}
                     ORDER BY c.created {dir}, c.id {dir} LIMIT {}",
                    limit + 1
                );
                let items = c
                    .prepare_cached(&sql)?
                    .query_map(params_from_iter(page_args.iter()), record_of)?
                    .collect::<Result<Vec<_>, _>>()?;
                (items, matching as usize)
            };
            let more = items.len() > limit;
            items.truncate(limit);
            let next = if more {
                items.last().map(Cursor::of)
            } else {
                None
            };
            Ok(QueuePage {
                items,
                next,
                matching,
            })
        })
    }

    /// An author's comments by status and the first one's time.
    pub fn author_record(&self, email: &str) -> Result<AuthorRecord, ProjectionDbError> {
        let email = email.to_lowercase();
        self.read(|c| {
            let mut rec = AuthorRecord::default();
            let mut stmt = c.prepare_cached(AUTHOR_RECORD)?;
            let mut rows = stmt.query([&email])?;
            while let Some(row) = rows.next()? {
                let status: Option<i64> = row.get(0)?;
                let n = row.get::<_, i64>(1)? as u32;
                let first = DateTime::from_timestamp_nanos(row.get(2)?);
                let slot = match status {
                    Some(1) => &mut rec.approved,
                    Some(0) | None => &mut rec.pending,
                    Some(2) => &mut rec.spam,
                    Some(3) => &mut rec.rejected,
                    _ => &mut rec.deleted,
                };
                *slot += n;
                rec.first_seen = Some(rec.first_seen.map_or(first, |f| f.min(first)));
            }
            Ok(rec)
        })
    }

    /// The counts of one author key.
    pub fn counts(&self, kind: CountKind, key: &str) -> Result<Counts, ProjectionDbError> {
        self.read(|c| counts_row(c, kind, key))
    }

    /// The latest sightings of a body (time, thread digest, author digest), newest first.
    pub fn sightings(
        &self,
        fingerprint: u64,
    ) -> Result<Vec<(DateTime<Utc>, u64, u64)>, ProjectionDbError> {
        self.read(|c| {
            c.prepare_cached(SIGHTINGS_OF_BODY)?
                .query_map(
                    params![fingerprint as i64, authors::SIGHTINGS_PER_BODY as i64],
                    |r| {
                        Ok((
                            DateTime::from_timestamp_nanos(r.get(0)?),
                            authors::digest(&r.get::<_, String>(1)?),
                            authors::digest(&r.get::<_, String>(2)?),
                        ))
                    },
                )?
                .collect()
        })
    }
}

fn thread_row(c: &Connection, key: &str) -> rusqlite::Result<Option<(bool, u64, u64)>> {
    c.prepare_cached("SELECT closed, generation, visible FROM threads WHERE key = ?1")?
        .query_row([key], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)?.max(0) as u64,
            ))
        })
        .optional()
}

fn counts_row(c: &Connection, kind: CountKind, key: &str) -> rusqlite::Result<Counts> {
    Ok(c.prepare_cached(AUTHOR_COUNTS)?
        .query_row(params![kind.code(), key], |r| {
            Ok(Counts {
                approved: r.get(0)?,
                spam: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// The follower's transaction: load what a batch touches, then write what it changed.
pub struct WriteTx<'a> {
    tx: &'a Transaction<'a>,
    db: &'a ProjectionDb,
    /// Text-index rows this transaction left pending (the indexer is woken after the commit).
    pending_added: Cell<usize>,
    /// Whether the fold indexes the pending rows itself after the commit (too many pending).
    index_now: Cell<bool>,
}

impl WriteTx<'_> {
    /// The records of these comments (unknown ones are left out).
    pub fn comments(&self, ids: &[Uuid]) -> rusqlite::Result<HashMap<Uuid, CommentRecord>> {
        let mut get = self.tx.prepare_cached(COMMENT_BY_ID)?;
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(rec) = get.query_row([id.as_bytes()], record_of).optional()? {
                out.insert(*id, rec);
            }
        }
        Ok(out)
    }

    /// These threads' records (without their visible lists) and visible counts.
    pub fn threads(&self, keys: &[&str]) -> rusqlite::Result<HashMap<String, (ThreadRecord, u64)>> {
        let mut out = HashMap::with_capacity(keys.len());
        for key in keys {
            if let Some((closed, generation, visible)) = thread_row(self.tx, key)? {
                out.insert(
                    key.to_string(),
                    (
                        ThreadRecord {
                            closed,
                            generation,
                            visible: BTreeMap::new(),
                        },
                        visible,
                    ),
                );
            }
        }
        Ok(out)
    }

    /// The reported-queue entries of these comments.
    pub fn reported(&self, ids: &[Uuid]) -> rusqlite::Result<BTreeMap<u64, Uuid>> {
        let mut get = self
            .tx
            .prepare_cached("SELECT pos FROM reported WHERE id = ?1")?;
        let mut out = BTreeMap::new();
        for id in ids {
            let rows = get.query_map([id.as_bytes()], |r| r.get::<_, i64>(0))?;
            for pos in rows {
                out.insert(pos? as u64, *id);
            }
        }
        Ok(out)
    }

    /// The counts of these author keys.
    pub fn counts(&self, keys: &[(CountKind, String)]) -> rusqlite::Result<Vec<Counts>> {
        keys.iter()
            .map(|(kind, key)| counts_row(self.tx, *kind, key))
            .collect()
    }

    /// Writes one batch's changes and its position.
    pub fn write(&self, batch: &BatchWrite) -> rusqlite::Result<()> {
        let tx = self.tx;
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO comments (id, seq, thread, status, email, ip, created, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut was = tx.prepare_cached("SELECT status FROM comments WHERE id = ?1")?;
        let bulk = self.db.bulk.load(Ordering::Acquire);
        // The published queue's text index follows the comment in and out of it (and takes a
        // changed body: an erasure, a purge), but not in this transaction, which a post's `201`
        // waits for: a row of `text_pending` says the comment's entry is stale (and whether the
        // index holds one for it now), and the background indexer rewrites entries in large
        // batches (docs/loadtest.md, "The text index off the post's path"). A comment that
        // never was published costs it nothing; in bulk mode `finish_bulk` indexes the
        // comments published at the end.
        // `gen`, the position of the fold that last marked the row, tells the indexer which rows
        // were marked again after the snapshot it indexed from (`text_file`).
        let mut pend = tx.prepare_cached(
            "INSERT INTO text_pending (seq, indexed, gen) VALUES (?1, ?2, ?3)
             ON CONFLICT (seq) DO UPDATE SET gen = excluded.gen",
        )?;
        let mut added = 0;
        for rec in &batch.comments {
            if !bulk {
                let was_published = was
                    .query_row([rec.id.as_bytes()], |r| r.get::<_, Option<i64>>(0))
                    .optional()?
                    .flatten()
                    == Some(PUBLISHED);
                if was_published || rec.status == Some(CommentStatus::Published) {
                    added += pend.execute(params![
                        rec.seq as i64,
                        was_published,
                        batch.position as i64
                    ])?;
                }
            }
            let bytes = serde_json::to_vec(rec)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            put.execute(params![
                rec.id.as_bytes(),
                rec.seq as i64,
                rec.thread,
                status_code(rec.status),
                rec.author_email,
                rec.ip_key,
                nanos(rec.created_at),
                bytes
            ])?;
        }
        if added > 0 {
            let known = self.db.text_pending.fetch_add(added, Ordering::Relaxed) + added;
            self.pending_added.set(self.pending_added.get() + added);
            // The indexer fell behind (or is not running): the fold indexes after its commit,
            // so search never has many more than this many pending comments to check one by one.
            self.index_now.set(known > MAX_TEXT_PENDING);
        }
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO threads (key, closed, generation, visible) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (key, closed, generation, visible) in &batch.threads {
            put.execute(params![key, closed, *generation as i64, *visible as i64])?;
        }
        let mut drop_reported = tx.prepare_cached("DELETE FROM reported WHERE id = ?1")?;
        for id in &batch.reported_for {
            drop_reported.execute([id.as_bytes()])?;
        }
        let mut put =
            tx.prepare_cached("INSERT OR REPLACE INTO reported (pos, id) VALUES (?1, ?2)")?;
        for (pos, id) in &batch.reported {
            put.execute(params![*pos as i64, id.as_bytes()])?;
        }
        if !batch.sightings.is_empty() || !batch.forget_sightings.is_empty() {
            self.write_sightings(batch)?;
        }
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO author_counts (kind, key, approved, spam) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut del =
            tx.prepare_cached("DELETE FROM author_counts WHERE kind = ?1 AND key = ?2")?;
        for (kind, key, c) in &batch.counts {
            if *c == Counts::default() {
                del.execute(params![kind.code(), key])?;
            } else {
                put.execute(params![kind.code(), key, c.approved, c.spam])?;
            }
        }
        let mut bump = tx.prepare_cached(
            "INSERT INTO totals (name, n) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
        )?;
        for (name, delta) in &batch.totals {
            if *delta != 0 {
                bump.execute(params![name, delta])?;
            }
        }
        let mut meta =
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        if let Some(policy) = &batch.policy {
            meta.execute(params!["policy", policy])?;
        }
        if let Some(learned) = &batch.learned {
            meta.execute(params!["learned", learned])?;
        }
        meta.execute(params!["position", batch.position as i64])?;
        meta.execute(params!["events_applied", batch.events_applied as i64])?;
        Ok(())
    }

    /// Stores the batch's new sightings, deletes erased authors' and then the oldest beyond
    /// the newest [`MAX_SIGHTING_ROWS`] (once [`SIGHTING_SLACK`] over), keeping the count.
    fn write_sightings(&self, batch: &BatchWrite) -> rusqlite::Result<()> {
        let tx = self.tx;
        // Read before the inserts: a file without the count yet counts its rows once here.
        let mut rows = sighting_rows(tx)?;
        // A position already stored (a batch folded again) is overwritten, not counted twice.
        let mut put = tx.prepare_cached(
            "INSERT INTO sightings (seq, fingerprint, thread, author, at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (seq) DO UPDATE SET fingerprint = excluded.fingerprint,
               thread = excluded.thread, author = excluded.author, at = excluded.at",
        )?;
        let mut known = tx.prepare_cached("SELECT 1 FROM sightings WHERE seq = ?1")?;
        for (seq, s) in &batch.sightings {
            if !known.exists([*seq as i64])? {
                rows += 1;
            }
            put.execute(params![
                *seq as i64,
                s.fingerprint as i64,
                s.thread,
                s.author,
                nanos(s.at)
            ])?;
        }
        let mut forget = tx.prepare_cached("DELETE FROM sightings WHERE author = ?1")?;
        for author in &batch.forget_sightings {
            rows -= forget.execute([author])? as i64;
        }
        trim_sightings(tx, rows, SIGHTING_SLACK)
    }
}

/// Pending text-index rows.
fn pending_rows(conn: &Connection) -> rusqlite::Result<usize> {
    text_file::pending_rows(conn, "main")
}

/// The stored sightings: the kept count, or a count if there is none or it is stale (written
/// before the newest sighting, by a binary that did not keep it).
fn sighting_rows(conn: &Connection) -> rusqlite::Result<i64> {
    let mut meta = conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?;
    let kept: Option<i64> = meta
        .query_row([SIGHTING_ROWS_KEY], |r| r.get(0))
        .optional()?;
    let at: Option<i64> = meta
        .query_row([SIGHTING_ROWS_AT_KEY], |r| r.get(0))
        .optional()?;
    match kept {
        Some(n) if at == Some(newest_sighting(conn)?) => Ok(n),
        _ => conn.query_row("SELECT count(*) FROM sightings", [], |r| r.get(0)),
    }
}

/// The newest sighting's position, 0 for none (the last row id: no walk).
fn newest_sighting(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM sightings")?
        .query_row([], |r| r.get(0))
}

/// Deletes the oldest sightings beyond the newest [`MAX_SIGHTING_ROWS`] once `rows` (the
/// stored count) is more than `slack` over, and records the count that is left.
fn trim_sightings(conn: &Connection, mut rows: i64, slack: i64) -> rusqlite::Result<()> {
    if rows > MAX_SIGHTING_ROWS + slack {
        rows -= conn.execute(DROP_OLDEST_SIGHTINGS, [rows - MAX_SIGHTING_ROWS])? as i64;
    }
    let mut meta =
        conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
    meta.execute(params![SIGHTING_ROWS_KEY, rows])?;
    meta.execute(params![SIGHTING_ROWS_AT_KEY, newest_sighting(conn)?])?;
    Ok(())
}

#[cfg(test)]
mod tests;
