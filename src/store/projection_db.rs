//! The projections' own SQLite file, `projections.sqlite3` in the data folder, next to the log
//! (whatever the log's backend). The follower writes what each applied batch changed in one
//! transaction together with the position it reached, so after a crash the file holds exactly
//! the projections of some prefix of the log, never a mix, and a restart follows the log from
//! there instead of replaying it.
//!
//! SQLite rather than an embedded key-value store: it is already a dependency, its WAL mode gives
//! crash-safe transactions without tuning, secondary orders (a thread's comments, a queue by
//! position) are plain indexes, and the file can be inspected with `sqlite3` by an operator.
//!
//! Only what cannot be derived is kept (see [`crate::projections::restore`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::projections::restore::{StoredParts, StoredSighting};
use crate::projections::{PolicyActivation, Projections};

/// Version of what the file holds and how; a file of another version (or of another log
/// backend) is emptied and rebuilt from the log at start, with progress logged.
pub const FORMAT: i64 = 1;

/// Sightings kept at most; `AuthorHistory` keeps fewer, so replaying these rebuilds it.
const MAX_SIGHTING_ROWS: i64 = 250_000;

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
    /// A stored record does not decode (a damaged file: rebuild it).
    #[error("projection database {path}: a stored record does not decode: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        source: serde_json::Error,
    },
}

/// What one applied batch changed, ready to write (built under the view's lock, written off
/// it).
#[derive(Debug, Default)]
pub struct BatchWrite {
    /// Position reached.
    pub position: u64,
    /// Events applied so far.
    pub events_applied: u64,
    /// Comments changed: id, submission position, JSON record.
    pub comments: Vec<(Uuid, u64, Vec<u8>)>,
    /// Threads changed: key, closed, generation.
    pub threads: Vec<(String, bool, u64)>,
    /// Comments whose reported-queue entries are replaced by `reported`.
    pub reported_for: Vec<Uuid>,
    /// Their current reported-queue entries (queue position, id).
    pub reported: Vec<(u64, Uuid)>,
    /// New sightings: the screening event's position and the sighting.
    pub sightings: Vec<(u64, StoredSighting)>,
    /// The policy version and history, when they changed.
    pub policy: Option<Vec<u8>>,
    /// The learned model, when it changed.
    pub learned: Option<Vec<u8>>,
}

/// An open projection database.
pub struct ProjectionDb {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Batches written with sightings, so old sightings are pruned every so many.
    sighting_writes: std::sync::atomic::AtomicU64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PolicyRow {
    version: Option<String>,
    history: Vec<PolicyActivation>,
}

/// The policy part of a batch, serialised.
pub fn policy_bytes(p: &Projections) -> Vec<u8> {
    serde_json::to_vec(&PolicyRow {
        version: p.policy_version.clone(),
        history: p.policy_history.clone(),
    })
    .unwrap_or_default()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS comments (id BLOB PRIMARY KEY, seq INTEGER NOT NULL, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS threads (key TEXT PRIMARY KEY, closed INTEGER NOT NULL, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reported (pos INTEGER PRIMARY KEY, id BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS reported_id ON reported (id);
CREATE TABLE IF NOT EXISTS sightings (seq INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL,
  thread TEXT NOT NULL, author TEXT NOT NULL, at INTEGER NOT NULL);
";

impl ProjectionDb {
    /// The file's path in a data folder.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Opens (creating) the file for the log backend `backend` and loads the projections it
    /// holds. A file of another format or backend is emptied first: the caller then replays the
    /// log from the start.
    pub fn open(
        path: &Path,
        backend: &str,
    ) -> Result<(ProjectionDb, Projections), ProjectionDbError> {
        let err = |source| ProjectionDbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let db = ProjectionDb {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            sighting_writes: std::sync::atomic::AtomicU64::new(0),
        };
        let format: Option<i64> = db.meta_int("format")?;
        let stored_backend = db.meta_text("backend")?;
        if format != Some(FORMAT) || stored_backend.as_deref() != Some(backend) {
            if format.is_some() {
                tracing::warn!(
                    stored_format = format,
                    format = FORMAT,
                    "projection database of another version or backend; rebuilding it from the log"
                );
            }
            db.reset(backend)?;
            return Ok((db, Projections::default()));
        }
        let projections = db.load()?;
        Ok((db, projections))
    }

    /// Opens an existing file of this format and backend without changing it, and loads its
    /// projections (for `saring projections check`).
    pub fn open_existing(path: &Path, backend: &str) -> Result<Projections, ProjectionDbError> {
        if !path.exists() {
            return Err(ProjectionDbError::Missing {
                path: path.to_path_buf(),
            });
        }
        let err = |source| ProjectionDbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let db = ProjectionDb {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            sighting_writes: std::sync::atomic::AtomicU64::new(0),
        };
        let format = db.meta_int("format")?;
        let stored_backend = db.meta_text("backend")?;
        if format != Some(FORMAT) || stored_backend.as_deref() != Some(backend) {
            return Err(ProjectionDbError::Foreign {
                path: path.to_path_buf(),
                format,
                backend: stored_backend,
            });
        }
        db.load()
    }

    fn sqlite(&self, source: rusqlite::Error) -> ProjectionDbError {
        ProjectionDbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn meta_int(&self, key: &str) -> Result<Option<i64>, ProjectionDbError> {
        self.conn
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    fn meta_text(&self, key: &str) -> Result<Option<String>, ProjectionDbError> {
        self.conn
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    fn meta_blob(&self, key: &str) -> Result<Option<Vec<u8>>, ProjectionDbError> {
        self.conn
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    /// Empties every table and records the format and backend.
    fn reset(&self, backend: &str) -> Result<(), ProjectionDbError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        tx.execute_batch(
            "DELETE FROM meta; DELETE FROM comments; DELETE FROM threads; DELETE FROM reported;
             DELETE FROM sightings;",
        )
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

    /// Reads every stored row back into projections.
    pub fn load(&self) -> Result<Projections, ProjectionDbError> {
        let decode = |source| ProjectionDbError::Decode {
            path: self.path.clone(),
            source,
        };
        let mut parts = StoredParts {
            position: self.position()?,
            events_applied: self.meta_int("events_applied")?.unwrap_or(0) as u64,
            ..StoredParts::default()
        };
        if let Some(bytes) = self.meta_blob("policy")? {
            let row: PolicyRow = serde_json::from_slice(&bytes).map_err(decode)?;
            parts.policy_version = row.version;
            parts.policy_history = row.history;
        }
        if let Some(bytes) = self.meta_blob("learned")? {
            parts.learned = serde_json::from_slice(&bytes).map_err(decode)?;
        }
        let conn_guard = self.conn.lock();
        let conn: &Connection = &conn_guard;
        let sq = |e| self.sqlite(e);
        let mut stmt = conn
            .prepare("SELECT record FROM comments ORDER BY seq")
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(row) = rows.next().map_err(sq)? {
            let bytes: Vec<u8> = row.get(0).map_err(sq)?;
            parts
                .comments
                .push(serde_json::from_slice(&bytes).map_err(decode)?);
        }
        let mut stmt = conn
            .prepare("SELECT key, closed, generation FROM threads")
            .map_err(sq)?;
        parts.threads = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sq)?;
        let mut stmt = conn.prepare("SELECT pos, id FROM reported").map_err(sq)?;
        parts.reported = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    Uuid::from_slice(&r.get::<_, Vec<u8>>(1)?).unwrap_or_default(),
                ))
            })
            .and_then(|rows| rows.collect::<Result<BTreeMap<_, _>, _>>())
            .map_err(sq)?;
        let mut stmt = conn
            .prepare("SELECT fingerprint, thread, author, at FROM sightings ORDER BY seq")
            .map_err(sq)?;
        parts.sightings = stmt
            .query_map([], |r| {
                Ok(StoredSighting {
                    fingerprint: r.get::<_, i64>(0)? as u64,
                    thread: r.get(1)?,
                    author: r.get(2)?,
                    at: chrono::DateTime::from_timestamp_nanos(r.get(3)?),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sq)?;
        drop(stmt);
        Ok(Projections::restore(parts))
    }

    /// Writes one batch's changes and its position in one transaction. Blocking: call it from
    /// the blocking pool.
    pub fn write(&self, batch: &BatchWrite) -> Result<(), ProjectionDbError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let result = (|| -> rusqlite::Result<()> {
            {
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO comments (id, seq, record) VALUES (?1, ?2, ?3)",
                )?;
                for (id, seq, record) in &batch.comments {
                    put.execute(params![id.as_bytes(), *seq as i64, record])?;
                }
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO threads (key, closed, generation) VALUES (?1, ?2, ?3)",
                )?;
                for (key, closed, generation) in &batch.threads {
                    put.execute(params![key, closed, *generation as i64])?;
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
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO sightings (seq, fingerprint, thread, author, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (seq, s) in &batch.sightings {
                    put.execute(params![
                        *seq as i64,
                        s.fingerprint as i64,
                        s.thread,
                        s.author,
                        s.at.timestamp_nanos_opt().unwrap_or(i64::MAX)
                    ])?;
                }
            }
            // Pruning walks the index, so it runs every 256 batches with sightings, not each.
            if !batch.sightings.is_empty()
                && self
                    .sighting_writes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    .is_multiple_of(256)
            {
                tx.execute(
                    "DELETE FROM sightings WHERE seq < (SELECT seq FROM sightings
                     ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
                    [MAX_SIGHTING_ROWS],
                )?;
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
        })();
        result.map_err(|e| self.sqlite(e))?;
        tx.commit().map_err(|e| self.sqlite(e))
    }
}
