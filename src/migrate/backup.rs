//! `saring backup DIR` and `saring restore DIR`: a consistent copy of the embedded store's data
//! folder, made while the service runs, and its check.
//!
//! The database is copied with SQLite's online backup API, page by page from its own read
//! connection: the copy is one consistent state of the log even while the service appends
//! (the backup restarts its pass if a write lands in between). Besides the database the folder
//! holds the readers' sealing keys (`keys.sqlite3`, copied the same way right after the
//! log), the captcha key, copied as it is, and projection snapshots, which are left out: they
//! are caches the service rebuilds from the log. `MANIFEST.json` records what the copy holds so
//! `saring restore --check` can tell a complete backup from a damaged one.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::MigrateError;
use crate::privacy::keys::KEYS_FILE;
use crate::store::sqlite::{DB_FILE, LOCK_FILE};

/// The manifest's file name inside a backup folder.
pub const MANIFEST: &str = "MANIFEST.json";

/// What a backup holds, written beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Events in the copied log.
    pub events: u64,
    /// The highest position in it.
    pub last_position: u64,
    /// SHA-256 of the copied database file, hex.
    pub sha256: String,
    /// The other files copied (the captcha key).
    pub files: Vec<String>,
}

fn sqlite(what: &str) -> impl FnOnce(rusqlite::Error) -> MigrateError + '_ {
    move |source| MigrateError::Sqlite {
        what: what.to_string(),
        source,
    }
}

fn counts(db: &rusqlite::Connection) -> Result<(u64, u64), MigrateError> {
    db.query_row(
        "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .map_err(sqlite("counting the events"))
}

fn sha256_of(path: &Path) -> Result<String, MigrateError> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| MigrateError::io(format!("reading {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .map_err(|e| MigrateError::io(format!("reading {}", path.display()), e))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Copies the data folder `data_dir` into `dir` (which must not exist or be empty) while the
/// service may be running. Blocking: call it off the async workers.
pub fn backup(data_dir: &Path, dir: &Path) -> Result<Manifest, MigrateError> {
    let source_db = data_dir.join(DB_FILE);
    if !source_db.is_file() {
        return Err(MigrateError::BadBackup(format!(
            "{} holds no {DB_FILE}: is it Saring's data folder?",
            data_dir.display()
        )));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| MigrateError::io(format!("reading {}", dir.display()), e))?
            .next()
            .is_some()
    {
        return Err(MigrateError::BadBackup(format!(
            "{} is not empty; a backup goes into a new folder",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| MigrateError::io(format!("creating {}", dir.display()), e))?;
    let src = rusqlite::Connection::open_with_flags(
        &source_db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite("opening the store's database"))?;
    let target_db = dir.join(DB_FILE);
    {
        let mut dst =
            rusqlite::Connection::open(&target_db).map_err(sqlite("creating the backup"))?;
        let copy =
            rusqlite::backup::Backup::new(&src, &mut dst).map_err(sqlite("starting the backup"))?;
        // Small steps with a pause let the service's writer in between them.
        copy.run_to_completion(256, Duration::from_millis(5), None)
            .map_err(sqlite("copying the database"))?;
    }
    // The copy keeps WAL mode; fold its WAL in so the folder is one self-contained file.
    let dst = rusqlite::Connection::open(&target_db).map_err(sqlite("opening the backup"))?;
    dst.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sqlite("closing the backup's journal"))?;
    let (events, last_position) = counts(&dst)?;
    drop(dst);
    let mut files = Vec::new();
    // The readers' keys are copied after the log, also with the online backup: a key erased
    // in between is then missing from the copy too (its comments open as erased), never the
    // other way round.
    let keys = data_dir.join(KEYS_FILE);
    if keys.is_file() {
        let src = rusqlite::Connection::open_with_flags(
            &keys,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite("opening the readers' keys"))?;
        src.backup(rusqlite::MAIN_DB, dir.join(KEYS_FILE), None)
            .map_err(sqlite("copying the readers' keys"))?;
        let copy =
            rusqlite::Connection::open(dir.join(KEYS_FILE)).map_err(sqlite("opening the copy"))?;
        copy.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sqlite("closing the keys' journal"))?;
        files.push(KEYS_FILE.to_string());
    }
    for entry in std::fs::read_dir(data_dir)
        .map_err(|e| MigrateError::io(format!("reading {}", data_dir.display()), e))?
    {
        let entry = entry.map_err(|e| MigrateError::io("reading the data folder", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let skip = name == LOCK_FILE
            || name.starts_with(DB_FILE)
            || name.starts_with(KEYS_FILE)
            || name.ends_with(".tmp");
        if skip || !entry.path().is_file() {
            continue;
        }
        std::fs::copy(entry.path(), dir.join(&name))
            .map_err(|e| MigrateError::io(format!("copying {name}"), e))?;
        files.push(name);
    }
    files.sort();
    let manifest = Manifest {
        created_at: chrono::Utc::now().to_rfc3339(),
        events,
        last_position,
        sha256: sha256_of(&target_db)?,
        files,
    };
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| MigrateError::BadBackup(e.to_string()))?;
    std::fs::write(dir.join(MANIFEST), text)
        .map_err(|e| MigrateError::io("writing the manifest", e))?;
    Ok(manifest)
}

/// Checks a backup folder: the manifest is there, the database's checksum and SQLite's
/// integrity check pass, and it holds the events the manifest says.
pub fn check(dir: &Path) -> Result<Manifest, MigrateError> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|e| {
        MigrateError::io(
            format!("reading {} (is it a backup?)", dir.join(MANIFEST).display()),
            e,
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| MigrateError::BadBackup(format!("{MANIFEST}: {e}")))?;
    let db_path = dir.join(DB_FILE);
    let sum = sha256_of(&db_path)?;
    if sum != manifest.sha256 {
        return Err(MigrateError::BadBackup(format!(
            "{DB_FILE} has changed since the backup (checksum {sum}, the manifest says {})",
            manifest.sha256
        )));
    }
    let db =
        rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite("opening the backup"))?;
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sqlite("checking the backup"))?;
    if integrity != "ok" {
        return Err(MigrateError::BadBackup(format!(
            "SQLite's integrity check says: {integrity}"
        )));
    }
    let (events, last_position) = counts(&db)?;
    if (events, last_position) != (manifest.events, manifest.last_position) {
        return Err(MigrateError::BadBackup(format!(
            "it holds {events} events up to position {last_position}, the manifest says {} up to {}",
            manifest.events, manifest.last_position
        )));
    }
    for f in &manifest.files {
        if !dir.join(f).is_file() {
            return Err(MigrateError::BadBackup(format!("{f} is missing")));
        }
    }
    Ok(manifest)
}

/// Checks a backup and copies it into `data_dir`, which must hold no store yet.
pub fn restore(dir: &Path, data_dir: &Path) -> Result<Manifest, MigrateError> {
    let manifest = check(dir)?;
    if data_dir.join(DB_FILE).exists() {
        return Err(MigrateError::BadBackup(format!(
            "{} already holds a store; restore into a new data folder",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| MigrateError::io(format!("creating {}", data_dir.display()), e))?;
    for name in std::iter::once(DB_FILE).chain(manifest.files.iter().map(String::as_str)) {
        std::fs::copy(dir.join(name), data_dir.join(name))
            .map_err(|e| MigrateError::io(format!("copying {name}"), e))?;
    }
    Ok(manifest)
}
