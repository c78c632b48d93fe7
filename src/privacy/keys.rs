//! Per-author keys, kept apart from the event log in `keys.sqlite3` so that deleting one row
//! makes every personal field sealed under it unreadable while the log stays append-only.
//!
//! The file holds, per author, a random 32-byte key and a random key id; the log's sealed
//! submissions name only the key id. The author column is a SHA-256 digest of the author
//! identity ([`author_of`]), so the file itself lists no emails or addresses. SQLite's
//! `secure_delete` zeroes a deleted row's bytes in the file, and erasure checkpoints and
//! truncates the write-ahead log, so no copy of an erased key is left in the data folder (a
//! backup made before the erasure still holds it: see docs/privacy.md).
//!
//! Beside the author keys, the file holds one random key per UTC day (`day_keys`): the network
//! facts of a submission (address group, user agent) are sealed in a box of their own under the
//! key of the submission's day, and the retention pass (`[privacy] network_days`) deletes the
//! day keys older than its setting, the same way erasure deletes an author key.
//!
//! And one random key per comment body (`body_keys`), so the retention pass can make one purged
//! body unreadable in the log by deleting its key (see [`super::seal`]). Body keys belong to no
//! owner: they are made in batches, synced before any is handed out, and kept in memory until
//! a submission takes one ([`Keys::submission_keys`]), so a comment rarely waits for a sync of
//! its own body key.
//!
//! Author keys of the key file are made ahead the same way (`premade_author_keys`): a
//! background thread makes them in batches, synced *unowned* (no author named), before any is
//! handed out; a new author's submission takes one from memory and seals at once, and the
//! author's digest is written into the key's row afterwards, by the same thread, in a commit
//! that does not sync the file (the next batch's sync makes it durable; a process kill loses
//! nothing, only a power cut can). So a comment does not wait for the key file unless the
//! batch in memory ran out (see [`Keys::submission_keys`]). A crash between the two leaves a
//! key in the file that the log names but no owner row does: only a process hands out keys it
//! made itself, so such a key is never given to anyone else, it still opens its comments (keys
//! are found by id), and erasure finds it through the log ([`Keys::erase_keys`]). The
//! author's next comment after such a crash gets a new key. The shared stores (PostgreSQL,
//! KurrentDB) make each new author's key on the request path as before: another replica must
//! see the owner at once, or two replicas would give one author two keys.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// The key file's name inside the data folder.
pub const KEYS_FILE: &str = "keys.sqlite3";

/// Keys kept in memory at most; the cache is emptied when it is full (a miss costs one
/// indexed read of a small table).
const MAX_CACHED_KEYS: usize = 20_000;

/// How long a key read from a database that other replicas share is trusted from memory for
/// opening events: an erasure on another replica reaches this one's memory within it.
const SHARED_KEY_TTL: Duration = Duration::from_secs(30);

/// Body keys made per batch: a submission that finds none in memory waits for one commit that
/// makes this many more for those that follow (about 40 bytes each in the key file).
const BODY_KEYS_PER_BATCH: usize = 512;

/// Author keys made per batch ahead of need (key file only); the background thread makes the
/// next batch when fewer than half are left, so only a burst of more new authors than that
/// during one sync of the file waits for one.
const AUTHOR_KEYS_PER_BATCH: usize = 1_024;

/// How long the background thread gathers owners after a nudge before it writes them. Every new
/// author nudges it; without the pause a steady stream of new authors costs one commit of the
/// key file each (4.8 % of the server's CPU in the reader flow, docs/loadtest.md). Nothing waits
/// for these rows: a lookup finds the owner in memory until they are written.
const OWNER_GATHERING: Duration = Duration::from_millis(50);

/// Body keys read or handed out that memory keeps for opening (a ring, oldest out first: a
/// full read of the log meets each body key once, so they would only push the author keys out
/// of the main cache).
const MAX_CACHED_BODY_KEYS: usize = 8_192;

/// New authors' keys set aside before their comment's append ([`Keys::ready_author`]) at most:
/// beyond it the oldest goes back to the batch (no event names a set-aside key).
const SET_ASIDE_MAX: usize = 1_024;

/// A sealing key: 32 random bytes.
pub type Key = [u8; 32];

/// Why the key store failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// SQLite refused or failed.
    #[error("the key store {path} failed: {source}")]
    Sqlite {
        /// The key file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored key does not have 32 bytes (the file was altered).
    #[error("the key store {0} holds a damaged key")]
    Damaged(PathBuf),
    /// The key store in a database (PostgreSQL's key tables, KurrentDB's key streams) failed:
    /// the database is away, or refused.
    #[error("the key store in the database failed: {0}")]
    Store(#[source] crate::store::StoreError),
    /// A key request was not answered (cannot happen: see [`Keys::key_for`]).
    #[error("the key request was not answered")]
    Unanswered,
    /// The operation needs the embedded store's key file; a database keeps its keys itself
    /// (its own backups and tools cover them).
    #[error("{what} needs the embedded store's key file; {store} keeps its keys in the database")]
    NotAFile {
        /// What was asked.
        what: &'static str,
        /// The key store's backend.
        store: String,
    },
    /// The shared transaction that was to make this key (with others requested at the same
    /// time) failed; nothing of it was stored.
    #[error("the key store {path} failed: {cause}")]
    Batch {
        /// The key file.
        path: PathBuf,
        /// What failed, as the committing request saw it.
        #[source]
        cause: Arc<KeyError>,
    },
}

impl KeyError {
    /// The store's error behind a failure of PostgreSQL's key tables, so a database that is
    /// away is told as such (`503`) rather than as a failure of the key store.
    pub fn store_error(&self) -> Option<crate::store::StoreError> {
        use crate::store::StoreError as S;
        match self {
            KeyError::Store(e) => Some(match e {
                S::Unavailable { backend, source } => S::Unavailable {
                    backend,
                    source: source.clone(),
                },
                S::Database { backend, source } => S::Database {
                    backend,
                    source: source.clone(),
                },
                S::Closed => S::Closed,
                other => S::Backend(other.to_string()),
            }),
            KeyError::Batch { cause, .. } => cause.store_error(),
            _ => None,
        }
    }
}

/// The identity an author's key belongs to: the email, trimmed and lowercased, or, for a
/// comment without an email, its address group. The two cannot collide (an email holds `@`
/// and the prefixes differ).
pub fn author_of(email: &str, address_group: &str) -> String {
    let email = email.trim();
    if email.is_empty() {
        format!("addr:{}", address_group.trim())
    } else {
        format!("email:{}", email.to_lowercase())
    }
}

fn digest(author: &str) -> String {
    hex::encode(Sha256::digest(
        format!("saring-author-key\0{author}").as_bytes(),
    ))
}

/// What a key is for: an author (by digest), a UTC day (`YYYY-MM-DD`), or one comment body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// An author, by the digest of [`author_of`].
    Author(String),
    /// A UTC day, `YYYY-MM-DD`.
    Day(String),
    /// A new body key: each request makes one more (a body key has no owner to look up).
    Body,
}

impl Owner {
    fn day(day: NaiveDate) -> Owner {
        Owner::Day(day.format("%Y-%m-%d").to_string())
    }
}

/// Which keys a deletion removes for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doomed {
    /// An author's key, by the digest of [`author_of`] (erasure).
    Author(String),
    /// The keys of every UTC day before this one, `YYYY-MM-DD` (retention).
    DaysBefore(String),
    /// Body keys, by key id (the retention pass purging bodies; erasure tidying up).
    Bodies(Vec<String>),
    /// Author keys by key id, owned or not (erasure: the keys the log's sealed submissions of
    /// the reader name, which covers a key whose owner row a crash kept from being written).
    AuthorKeys(Vec<String>),
}

/// Keys made ahead in one synced commit: unowned author keys and body keys (id, key).
pub type MadeAhead = (Vec<(String, Key)>, Vec<(String, Key)>);

/// A fresh random key and key id, for a key store making a key.
pub fn fresh_key() -> (String, Key) {
    (uuid::Uuid::new_v4().to_string(), rand::random())
}

/// Where the keys are kept: the embedded store's key file ([`SqliteKeys`]), PostgreSQL's key
/// tables ([`PostgresKeys`]) or KurrentDB's key streams
/// (`crate::store::kurrent_keys::KurrentKeys`), chosen where the event store is chosen
/// (`crate::store::open_store`). Every method is blocking (called from the blocking pool);
/// caching and group commits are [`Keys`]'s, above any of them.
pub trait KeyStore: Send + Sync + 'static {
    /// What the keys are, for error messages (a path, or the database's tables).
    fn describe(&self) -> String;

    /// Whether other processes share these keys (replicas of one database), so memory may not
    /// trust a key for sealing: another replica may erase it.
    fn shared(&self) -> bool;

    /// Reads the key of each owner, making (random, [`fresh_key`]) the missing ones, all
    /// durable before this returns: a key is handed out before the event sealed with it is
    /// appended. One transaction where the store has them. Two callers (even two replicas)
    /// making the first key of one owner at once get the same key.
    fn get_or_create(&self, owners: &[Owner]) -> Result<Vec<(String, Key)>, KeyError>;

    /// The keys of these key ids that exist (a missing id was deleted, or never made).
    fn fetch(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError>;

    /// The body keys of these key ids that exist, like [`KeyStore::fetch`].
    fn fetch_bodies(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError>;

    /// Deletes the keys named for good and returns their ids (none: there were none), with no
    /// copy left in the store's own files where the store allows it (see docs/privacy.md).
    fn delete(&self, doomed: &Doomed) -> Result<Vec<String>, KeyError>;

    /// Whether an author digest has a key.
    fn has_author(&self, author: &str) -> Result<bool, KeyError>;

    /// The number of author keys.
    fn count_authors(&self) -> Result<u64, KeyError>;

    /// The days that have a key (`YYYY-MM-DD`), oldest first.
    fn days(&self) -> Result<Vec<String>, KeyError>;

    /// Whether author keys can be made ahead unowned and owned later ([`KeyStore::make_ahead`],
    /// [`KeyStore::own`], [`KeyStore::find_author`]): only a store no other process shares
    /// (the key file), since a replica would not see an owner that is not written yet.
    fn makes_ahead(&self) -> bool {
        false
    }

    /// Makes `authors` unowned author keys and `bodies` body keys, and writes the owners named
    /// (author digest, key id of an author key made ahead), in one commit, durable (with every
    /// earlier owner written) before this returns.
    fn make_ahead(
        &self,
        _authors: usize,
        _bodies: usize,
        _owners: &[(String, String)],
    ) -> Result<MadeAhead, KeyError> {
        Err(self.no_keys_ahead())
    }

    /// Writes the owners of author keys made ahead (author digest, key id), without waiting
    /// for a sync: losing them in a crash is allowed (see the module's documentation).
    fn own(&self, _owners: &[(String, String)]) -> Result<(), KeyError> {
        Err(self.no_keys_ahead())
    }

    /// The key an author digest owns, if any, read without waiting for a writer.
    fn find_author(&self, _author: &str) -> Result<Option<(String, Key)>, KeyError> {
        Err(self.no_keys_ahead())
    }

    /// Deletes author keys made ahead that nobody took (a clean shutdown tidying up).
    fn drop_unowned(&self, _key_ids: &[String]) -> Result<(), KeyError> {
        Ok(())
    }

    /// The refusal of the methods above by a store that does not make keys ahead.
    fn no_keys_ahead(&self) -> KeyError {
        KeyError::NotAFile {
            what: "author keys made ahead",
            store: self.describe(),
        }
    }

    /// Copies the keys consistently into the file `target` (for `saring backup`); only the
    /// key file can.
    fn backup_to(&self, _target: &Path) -> Result<(), KeyError> {
        Err(KeyError::NotAFile {
            what: "a backup of the keys",
            store: self.describe(),
        })
    }
}

/// Key bytes as a key; `Damaged` naming `store` when they are not 32.
pub fn key_from(bytes: &[u8], store: &dyn KeyStore) -> Result<Key, KeyError> {
    Key::try_from(bytes).map_err(|_| KeyError::Damaged(PathBuf::from(store.describe())))
}

/// Reads the key of an owner, or makes a random one.
fn key_in(conn: &Connection, owner: &Owner) -> rusqlite::Result<(String, Vec<u8>)> {
    let (select, insert, name) = match owner {
        Owner::Body => {
            // The row id is the key id: AUTOINCREMENT never hands out an id again, even the
            // last one after it is deleted.
            let key: Key = rand::random();
            let id: i64 = conn
                .prepare_cached("INSERT INTO body_keys (key) VALUES (?1) RETURNING id")?
                .query_row([key.as_slice()], |r| r.get(0))?;
            return Ok((id.to_string(), key.to_vec()));
        }
        Owner::Author(a) => (
            "SELECT key_id, key FROM author_keys WHERE author = ?1
             UNION ALL SELECT key_id, key FROM premade_author_keys WHERE author = ?1 LIMIT 1",
            "INSERT INTO author_keys (author, key_id, key, created) VALUES (?1, ?2, ?3, ?4)",
            a,
        ),
        Owner::Day(d) => (
            "SELECT key_id, key FROM day_keys WHERE day = ?1",
            "INSERT INTO day_keys (day, key_id, key, created) VALUES (?1, ?2, ?3, ?4)",
            d,
        ),
    };
    let found: Option<(String, Vec<u8>)> = conn
        .prepare_cached(select)?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some(found) = found {
        return Ok(found);
    }
    let (id, key) = fresh_key();
    conn.prepare_cached(insert)?.execute(params![
        name,
        id,
        key.as_slice(),
        chrono::Utc::now().timestamp()
    ])?;
    Ok((id, key.to_vec()))
}

/// Deletes, in one transaction, the author keys (owned ones and those made ahead) whose
/// `column` (`author` or `key_id`) is one of `values`; the key ids deleted.
fn delete_author_keys(
    conn: &Connection,
    column: &str,
    values: &[&str],
) -> rusqlite::Result<Vec<String>> {
    let tx = conn.unchecked_transaction()?;
    let mut ids = Vec::new();
    for table in ["author_keys", "premade_author_keys"] {
        let sql = format!("DELETE FROM {table} WHERE {column} = ?1 RETURNING key_id");
        let mut stmt = tx.prepare(&sql)?;
        for value in values {
            for id in stmt.query_map([value], |r| r.get(0))? {
                ids.push(id?);
            }
        }
    }
    tx.commit()?;
    Ok(ids)
}

/// Names the owners (author digest, key id) of author keys made ahead.
fn own_in(conn: &Connection, owners: &[(String, String)]) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare_cached("UPDATE premade_author_keys SET author = ?1 WHERE key_id = ?2")?;
    for (author, id) in owners {
        stmt.execute([author, id])?;
    }
    Ok(())
}

/// The embedded store's keys: the key file of a data folder, through one connection for
/// writes (key creation and erasure are rare and short) and one for reads, so opening events
/// and looking an author up do not wait for a batch being synced.
pub struct SqliteKeys {
    path: PathBuf,
    conn: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl SqliteKeys {
    /// Opens (creating) a key file at `path`.
    pub fn open(path: &Path) -> Result<SqliteKeys, KeyError> {
        let err = |source| KeyError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA secure_delete=ON; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=10000;
             CREATE TABLE IF NOT EXISTS author_keys (author TEXT PRIMARY KEY,
               key_id TEXT NOT NULL UNIQUE, key BLOB NOT NULL, created INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS day_keys (day TEXT PRIMARY KEY,
               key_id TEXT NOT NULL UNIQUE, key BLOB NOT NULL, created INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS body_keys (id INTEGER PRIMARY KEY AUTOINCREMENT,
               key BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS premade_author_keys (key_id TEXT PRIMARY KEY,
               key BLOB NOT NULL, author TEXT, created INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS premade_author_keys_author
               ON premade_author_keys (author) WHERE author IS NOT NULL;",
        )
        .map_err(err)?;
        let reader = Connection::open(path).map_err(err)?;
        reader
            .execute_batch("PRAGMA busy_timeout=10000; PRAGMA query_only=ON;")
            .map_err(err)?;
        Ok(SqliteKeys {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            reader: Mutex::new(reader),
        })
    }

    fn err(&self, source: rusqlite::Error) -> KeyError {
        KeyError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn count(&self, sql: &str, param: Option<&str>) -> Result<i64, KeyError> {
        let conn = self.reader.lock();
        match param {
            Some(p) => conn.query_row(sql, [p], |r| r.get(0)),
            None => conn.query_row(sql, [], |r| r.get(0)),
        }
        .map_err(|e| self.err(e))
    }
}

impl KeyStore for SqliteKeys {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn shared(&self) -> bool {
        false
    }

    fn get_or_create(&self, owners: &[Owner]) -> Result<Vec<(String, Key)>, KeyError> {
        let made = (|| {
            let c = self.conn.lock();
            let tx = c.unchecked_transaction()?;
            let mut made = Vec::with_capacity(owners.len());
            for owner in owners {
                made.push(key_in(&tx, owner)?);
            }
            tx.commit()?;
            Ok(made)
        })()
        .map_err(|e| self.err(e))?;
        made.into_iter()
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect()
    }

    fn fetch(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError> {
        let mut found = HashMap::with_capacity(key_ids.len());
        let conn = self.reader.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key FROM author_keys WHERE key_id = ?1
                 UNION ALL SELECT key FROM premade_author_keys WHERE key_id = ?1
                 UNION ALL SELECT key FROM day_keys WHERE key_id = ?1",
            )
            .map_err(|e| self.err(e))?;
        for id in key_ids {
            let bytes: Option<Vec<u8>> = stmt
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some(bytes) = bytes {
                found.insert(id.clone(), key_from(&bytes, self)?);
            }
        }
        Ok(found)
    }

    fn fetch_bodies(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError> {
        let mut found = HashMap::with_capacity(key_ids.len());
        let conn = self.reader.lock();
        let mut stmt = conn
            .prepare_cached("SELECT key FROM body_keys WHERE id = ?1")
            .map_err(|e| self.err(e))?;
        for id in key_ids {
            let Ok(row) = id.parse::<i64>() else {
                continue;
            };
            let bytes: Option<Vec<u8>> = stmt
                .query_row([row], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some(bytes) = bytes {
                found.insert(id.clone(), key_from(&bytes, self)?);
            }
        }
        Ok(found)
    }

    fn delete(&self, doomed: &Doomed) -> Result<Vec<String>, KeyError> {
        let conn = self.conn.lock();
        let ids: Vec<String> = match doomed {
            Doomed::Author(a) => delete_author_keys(&conn, "author", &[a.as_str()]),
            Doomed::AuthorKeys(wanted) => {
                let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
                delete_author_keys(&conn, "key_id", &wanted)
            }
            Doomed::DaysBefore(d) => conn
                .prepare("DELETE FROM day_keys WHERE day < ?1 RETURNING key_id")
                .and_then(|mut s| s.query_map([d], |r| r.get(0))?.collect()),
            Doomed::Bodies(ids) => (|| {
                let tx = conn.unchecked_transaction()?;
                let mut deleted = Vec::new();
                {
                    let mut stmt = tx.prepare_cached("DELETE FROM body_keys WHERE id = ?1")?;
                    for id in ids {
                        if let Ok(row) = id.parse::<i64>()
                            && stmt.execute([row])? > 0
                        {
                            deleted.push(id.clone());
                        }
                    }
                }
                tx.commit()?;
                Ok(deleted)
            })(),
        }
        .map_err(|e| self.err(e))?;
        if !ids.is_empty() {
            // The busy timeout covers a reader of another process (a backup) holding the log.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| self.err(e))?;
        }
        Ok(ids)
    }

    fn has_author(&self, author: &str) -> Result<bool, KeyError> {
        Ok(self.find_author(author)?.is_some())
    }

    fn count_authors(&self) -> Result<u64, KeyError> {
        let n = self.count(
            "SELECT count(*) FROM (SELECT author FROM author_keys
             UNION SELECT author FROM premade_author_keys WHERE author IS NOT NULL)",
            None,
        )?;
        Ok(n.max(0) as u64)
    }

    fn days(&self) -> Result<Vec<String>, KeyError> {
        self.reader
            .lock()
            .prepare("SELECT day FROM day_keys ORDER BY day")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))
    }

    fn makes_ahead(&self) -> bool {
        true
    }

    fn make_ahead(
        &self,
        authors: usize,
        bodies: usize,
        owners: &[(String, String)],
    ) -> Result<MadeAhead, KeyError> {
        let made = (|| {
            let c = self.conn.lock();
            let tx = c.unchecked_transaction()?;
            let now = chrono::Utc::now().timestamp();
            let mut made = (Vec::with_capacity(authors), Vec::with_capacity(bodies));
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO premade_author_keys (key_id, key, created) VALUES (?1, ?2, ?3)",
                )?;
                for _ in 0..authors {
                    let (id, key) = fresh_key();
                    insert.execute(params![id, key.as_slice(), now])?;
                    made.0.push((id, key));
                }
            }
            for _ in 0..bodies {
                let (id, bytes) = key_in(&tx, &Owner::Body)?;
                made.1.push((id, bytes));
            }
            own_in(&tx, owners)?;
            tx.commit()?;
            Ok(made)
        })()
        .map_err(|e| self.err(e))?;
        let bodies = made
            .1
            .into_iter()
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect::<Result<_, KeyError>>()?;
        Ok((made.0, bodies))
    }

    fn own(&self, owners: &[(String, String)]) -> Result<(), KeyError> {
        let c = self.conn.lock();
        // Not synced: the next batch's sync (or a checkpoint) makes it durable, and losing it
        // to a power cut only leaves keys the log still finds (see the module's documentation).
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        let written = (|| {
            let tx = c.unchecked_transaction()?;
            own_in(&tx, owners)?;
            tx.commit()
        })();
        let restored = c.pragma_update(None, "synchronous", "FULL");
        written.and(restored).map_err(|e| self.err(e))
    }

    fn find_author(&self, author: &str) -> Result<Option<(String, Key)>, KeyError> {
        let found: Option<(String, Vec<u8>)> = self
            .reader
            .lock()
            .prepare_cached(
                "SELECT key_id, key FROM author_keys WHERE author = ?1
                 UNION ALL SELECT key_id, key FROM premade_author_keys WHERE author = ?1
                 LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([author], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        found
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .transpose()
    }

    fn drop_unowned(&self, key_ids: &[String]) -> Result<(), KeyError> {
        (|| {
            let c = self.conn.lock();
            let tx = c.unchecked_transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM premade_author_keys WHERE key_id = ?1 AND author IS NULL",
                )?;
                for id in key_ids {
                    stmt.execute([id])?;
                }
            }
            tx.commit()
        })()
        .map_err(|e| self.err(e))
    }

    /// As one file without a write-ahead log, with SQLite's online backup.
    fn backup_to(&self, target: &Path) -> Result<(), KeyError> {
        let err = |source| KeyError::Sqlite {
            path: target.to_path_buf(),
            source,
        };
        self.conn
            .lock()
            .backup(rusqlite::MAIN_DB, target, None)
            .map_err(err)?;
        let copy = Connection::open(target).map_err(err)?;
        copy.pragma_update(None, "journal_mode", "DELETE")
            .map_err(err)?;
        Ok(())
    }
}

/// PostgreSQL's key tables (made by its schema migration), shared by every replica on the
/// database.
pub struct PostgresKeys {
    pool: deadpool_postgres::Pool,
    /// The runtime the pool's connections run on: the methods are blocking (called from the
    /// blocking pool) and wait for the database on it.
    rt: tokio::runtime::Handle,
}

impl PostgresKeys {
    /// The key tables through the store's pool. Call inside the Tokio runtime the pool runs on.
    pub fn new(pool: deadpool_postgres::Pool) -> PostgresKeys {
        PostgresKeys {
            pool,
            rt: tokio::runtime::Handle::current(),
        }
    }

    fn wait<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, crate::store::StoreError>>,
    ) -> Result<T, KeyError> {
        self.rt.block_on(f).map_err(KeyError::Store)
    }
}

impl KeyStore for PostgresKeys {
    fn describe(&self) -> String {
        "PostgreSQL (saring_author_keys, saring_day_keys, saring_body_keys)".into()
    }

    fn shared(&self) -> bool {
        true
    }

    fn get_or_create(&self, owners: &[Owner]) -> Result<Vec<(String, Key)>, KeyError> {
        let fresh = owners
            .iter()
            .map(|_| {
                let (id, key) = fresh_key();
                (id, key.to_vec())
            })
            .collect();
        let made = self.wait(pg::get_or_make(&self.pool, owners, fresh))?;
        made.into_iter()
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect()
    }

    fn fetch(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError> {
        self.wait(pg::find_many(&self.pool, key_ids))?
            .into_iter()
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect()
    }

    fn fetch_bodies(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError> {
        self.wait(pg::find_bodies(&self.pool, key_ids))?
            .into_iter()
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect()
    }

    fn delete(&self, doomed: &Doomed) -> Result<Vec<String>, KeyError> {
        match doomed {
            Doomed::Author(a) => Ok(self
                .wait(pg::delete_author(&self.pool, a))?
                .into_iter()
                .collect()),
            Doomed::DaysBefore(d) => self.wait(pg::delete_days_before(&self.pool, d)),
            Doomed::Bodies(ids) => self.wait(pg::delete_bodies(&self.pool, ids)),
            Doomed::AuthorKeys(ids) => self.wait(pg::delete_author_keys(&self.pool, ids)),
        }
    }

    fn has_author(&self, author: &str) -> Result<bool, KeyError> {
        self.wait(pg::has_author(&self.pool, author))
    }

    fn count_authors(&self) -> Result<u64, KeyError> {
        self.wait(pg::count_authors(&self.pool))
    }

    fn days(&self) -> Result<Vec<String>, KeyError> {
        self.wait(pg::days(&self.pool))
    }
}

use crate::store::postgres::keys as pg;

/// The keys of one event store, whichever [`KeyStore`] keeps them, with what every backend
/// needs above it: a cache, so reading the log and appending a known author's comment query no
/// store, and group commits of new keys.
pub struct Keys {
    store: Arc<dyn KeyStore>,
    /// Taken by whoever commits the pending requests: one writer per process keeps a key from
    /// being made twice for one owner (the shared stores keep that across replicas).
    writer: Mutex<()>,
    /// Keys by key id and by owner. An erased key is removed before erasure returns.
    cache: Mutex<Cache>,
    /// New keys' requests waiting for the next group commit (see [`Keys::key_for`]).
    pending: Mutex<Vec<Request>>,
    /// Body keys made and synced that no submission has taken yet. Only this process knows
    /// them (no event names them), so even on a shared store no replica can delete one.
    pool: Arc<Mutex<Vec<(String, Key)>>>,
    /// Body keys recently handed out or read, and body key ids known to be deleted (`None`).
    bodies: Mutex<BodyCache>,
    /// Other processes change the keys (replicas): sealing always asks the store, so no
    /// replica seals with a key another one erased, and keys read for opening are trusted for
    /// [`SHARED_KEY_TTL`].
    shared: bool,
    /// Author keys made ahead and their background thread, for a store that
    /// [makes them ahead](KeyStore::makes_ahead).
    ahead: Option<Arc<Ahead>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// Author (and body) keys made ahead by a background thread, and the owners it has still to
/// write (see the module's documentation).
struct Ahead {
    store: Arc<dyn KeyStore>,
    /// Unowned author keys made and synced by this process; never one made by another
    /// process, whose log may name it.
    authors: Mutex<Vec<(String, Key)>>,
    /// The body keys of [`Keys::pool`], refilled here too.
    bodies: Arc<Mutex<Vec<(String, Key)>>>,
    /// Author digest → the key made ahead it took, until its owner is in the file.
    unwritten: Mutex<HashMap<String, (String, Key)>>,
    /// New authors' keys set aside while their comments are screened: still unowned (nothing
    /// is written, no event names one) until the append takes one ([`Keys::claim_set_aside`]).
    set_aside: Mutex<SetAside>,
    /// Held while an author is looked up and given a key, so one author gets one.
    assign: Mutex<()>,
    /// Held while a batch is made, so a request that found none and the thread do not make
    /// two.
    refill: Mutex<()>,
    signal: Mutex<Signal>,
    wake: parking_lot::Condvar,
}

/// Author digest → a key made ahead, oldest first out (see [`SET_ASIDE_MAX`]).
#[derive(Default)]
struct SetAside {
    by_author: HashMap<String, (String, Key)>,
    order: std::collections::VecDeque<String>,
}

impl SetAside {
    /// Sets `key` aside for `author`; the key pushed out to keep the bound, if any.
    fn put(&mut self, author: String, key: (String, Key)) -> Option<(String, Key)> {
        if self.by_author.insert(author.clone(), key).is_none() {
            self.order.push_back(author);
        }
        while self.by_author.len() > SET_ASIDE_MAX {
            let oldest = self.order.pop_front()?;
            if let Some(out) = self.by_author.remove(&oldest) {
                return Some(out);
            }
        }
        None
    }

    fn take(&mut self, author: &str) -> Option<(String, Key)> {
        let key = self.by_author.remove(author)?;
        self.order.retain(|a| a != author);
        Some(key)
    }
}

#[derive(Default)]
struct Signal {
    /// Something to do: owners to write, or a batch running low.
    due: bool,
    /// The keys are being dropped: write the owners, tidy up, end.
    stop: bool,
}

/// Takes `n` keys from the end of a batch, or none if fewer are there.
fn take_from(batch: &Mutex<Vec<(String, Key)>>, n: usize) -> Option<Vec<(String, Key)>> {
    let mut batch = batch.lock();
    let at = batch.len().checked_sub(n)?;
    Some(batch.split_off(at))
}

impl Ahead {
    fn nudge(&self) {
        self.signal.lock().due = true;
        self.wake.notify_one();
    }

    /// The background thread: writes owners and makes batches as they are due, until stopped.
    fn run(&self) {
        loop {
            let stop = {
                let mut signal = self.signal.lock();
                while !signal.due && !signal.stop {
                    self.wake.wait(&mut signal);
                }
                let gathered = Instant::now() + OWNER_GATHERING;
                self.wake
                    .wait_while_until(&mut signal, |s| !s.stop, gathered);
                signal.due = false;
                signal.stop
            };
            if let Err(e) = self.catch_up(!stop) {
                // The next submission asks again; one that finds no key made ahead makes a
                // batch itself and reports the failure to its caller.
                tracing::warn!(error = %e, "writing the keys made ahead failed");
            }
            if stop {
                let set_aside = std::mem::take(&mut *self.set_aside.lock());
                let left: Vec<String> = self
                    .authors
                    .lock()
                    .drain(..)
                    .chain(set_aside.by_author.into_values())
                    .map(|(id, _)| id)
                    .collect();
                if let Err(e) = self.store.drop_unowned(&left) {
                    tracing::warn!(error = %e, "deleting the unused keys made ahead failed");
                }
                return;
            }
        }
    }

    /// Writes the owners taken so far, with a new batch of author and body keys if either
    /// runs low (`refill`): one synced commit for both, an unsynced one for owners alone.
    fn catch_up(&self, refill: bool) -> Result<(), KeyError> {
        let owners: Vec<(String, String)> = self
            .unwritten
            .lock()
            .iter()
            .map(|(author, (id, _))| (author.clone(), id.clone()))
            .collect();
        {
            let _refill = self.refill.lock();
            let short = |have: usize, batch: usize| {
                if refill && have < batch / 2 {
                    batch - have
                } else {
                    0
                }
            };
            let authors = short(self.authors.lock().len(), AUTHOR_KEYS_PER_BATCH);
            let bodies = short(self.bodies.lock().len(), BODY_KEYS_PER_BATCH);
            if authors + bodies > 0 {
                let (a, b) = self.store.make_ahead(authors, bodies, &owners)?;
                self.authors.lock().extend(a);
                self.bodies.lock().extend(b);
            } else if !owners.is_empty() {
                self.store.own(&owners)?;
            }
        }
        // Forgotten only once in the file (a lookup finds an owner in memory or on disk), and
        // only if unchanged: an erasure may have taken it out meanwhile.
        let mut unwritten = self.unwritten.lock();
        for (author, id) in owners {
            if unwritten.get(&author).is_some_and(|(i, _)| *i == id) {
                unwritten.remove(&author);
            }
        }
        Ok(())
    }

    /// `n` unowned author keys from memory; when fewer are left (the first new author after
    /// a start, or a burst that outran the thread) a batch is made here, and that caller
    /// waits for one sync of the key file.
    fn take_authors(&self, n: usize) -> Result<Vec<(String, Key)>, KeyError> {
        if let Some(taken) = take_from(&self.authors, n) {
            if self.authors.lock().len() < AUTHOR_KEYS_PER_BATCH / 2 {
                self.nudge();
            }
            return Ok(taken);
        }
        let _refill = self.refill.lock();
        if let Some(taken) = take_from(&self.authors, n) {
            return Ok(taken);
        }
        let have = self.authors.lock().len();
        let (made, _) = self
            .store
            .make_ahead(n - have + AUTHOR_KEYS_PER_BATCH, 0, &[])?;
        self.authors.lock().extend(made);
        take_from(&self.authors, n).ok_or_else(|| KeyError::Batch {
            path: PathBuf::from(self.store.describe()),
            cause: Arc::new(KeyError::Unanswered),
        })
    }
}

impl Drop for Keys {
    /// Writes the owners still in memory and deletes the unused keys made ahead.
    fn drop(&mut self) {
        if let (Some(ahead), Some(worker)) = (&self.ahead, self.worker.take()) {
            ahead.signal.lock().stop = true;
            ahead.wake.notify_one();
            let _ = worker.join();
        }
    }
}

/// One caller's request for new keys: their owners and where the keys (or the failure) go.
type Request = (
    Vec<Owner>,
    mpsc::SyncSender<Result<Vec<(String, Key)>, Arc<KeyError>>>,
);

/// The keys a submission is sealed with: its author's, its day's and its body's (id, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionKeys {
    /// The author's key.
    pub author: (String, Key),
    /// The key of the submission's UTC day (network facts).
    pub day: (String, Key),
    /// The body's own key, used once.
    pub body: (String, Key),
}

/// A ring of body keys by id (see [`MAX_CACHED_BODY_KEYS`]).
#[derive(Default)]
struct BodyCache {
    keys: HashMap<String, (Option<Key>, Instant)>,
    order: std::collections::VecDeque<String>,
}

impl BodyCache {
    fn put(&mut self, id: &str, key: Option<Key>) {
        if self
            .keys
            .insert(id.to_string(), (key, Instant::now()))
            .is_none()
        {
            self.order.push_back(id.to_string());
        }
        while self.order.len() > MAX_CACHED_BODY_KEYS {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
    }
}

#[derive(Default)]
struct Cache {
    by_id: HashMap<String, (Key, Instant)>,
    by_owner: HashMap<Owner, (String, Key)>,
    /// Key ids known to be deleted. Ids are random and never reused, so a deleted one stays
    /// deleted; remembering it spares a query per old submission once its day key is gone.
    gone: HashSet<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("Keys")
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Opens (creating) the key file of a data folder.
    pub fn open(data_dir: &Path) -> Result<Keys, KeyError> {
        Self::open_file(&data_dir.join(KEYS_FILE))
    }

    /// Opens (creating) a key file at `path`.
    pub fn open_file(path: &Path) -> Result<Keys, KeyError> {
        Ok(Self::new(Box::new(SqliteKeys::open(path)?)))
    }

    /// The key tables of a PostgreSQL store, through its pool. Call inside the Tokio runtime
    /// the pool runs on.
    pub fn open_postgres(pool: deadpool_postgres::Pool) -> Keys {
        Self::new(Box::new(PostgresKeys::new(pool)))
    }

    /// The keys kept by `store`; with a store that makes author keys ahead, a background
    /// thread makes and owns them (ended when the keys are dropped).
    pub fn new(store: Box<dyn KeyStore>) -> Keys {
        let store: Arc<dyn KeyStore> = Arc::from(store);
        let pool = Arc::new(Mutex::new(Vec::new()));
        let mut ahead = (!store.shared() && store.makes_ahead()).then(|| {
            Arc::new(Ahead {
                store: store.clone(),
                authors: Mutex::new(Vec::new()),
                bodies: pool.clone(),
                unwritten: Mutex::new(HashMap::new()),
                set_aside: Mutex::default(),
                assign: Mutex::new(()),
                refill: Mutex::new(()),
                signal: Mutex::new(Signal::default()),
                wake: parking_lot::Condvar::new(),
            })
        });
        let worker = ahead.clone().and_then(|a| {
            std::thread::Builder::new()
                .name("saring-keys".into())
                .spawn(move || a.run())
                .ok()
        });
        if worker.is_none() {
            // No thread: every new key is made on the request path, as on a shared store.
            ahead = None;
        }
        Keys {
            shared: store.shared(),
            store,
            writer: Mutex::new(()),
            cache: Mutex::new(Cache::default()),
            pending: Mutex::new(Vec::new()),
            pool,
            bodies: Mutex::new(BodyCache::default()),
            ahead,
            worker,
        }
    }

    /// The keys of these author digests: from memory, from the file (a read, no sync), or,
    /// for a new author, one made ahead, whose owner the background thread writes later.
    fn own_authors(
        &self,
        ahead: &Ahead,
        digests: &[String],
    ) -> Result<Vec<(String, Key)>, KeyError> {
        let _assign = ahead.assign.lock();
        let mut found: HashMap<&str, (String, Key)> = HashMap::with_capacity(digests.len());
        let mut new: Vec<&str> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::with_capacity(digests.len());
        let mut claimed = false;
        for d in digests {
            if !seen.insert(d.as_str()) {
                continue;
            }
            let owner = Owner::Author(d.clone());
            let cached = self.cache.lock().by_owner.get(&owner).cloned();
            let known = match cached {
                Some(k) => Some(k),
                None => {
                    let unwritten = ahead.unwritten.lock().get(d).cloned();
                    let set_aside = || ahead.set_aside.lock().take(d);
                    match unwritten {
                        Some(k) => Some(k),
                        None => match set_aside() {
                            Some(k) => {
                                ahead.unwritten.lock().insert(d.clone(), k.clone());
                                claimed = true;
                                Some(k)
                            }
                            None => self.store.find_author(d)?,
                        },
                    }
                }
            };
            match known {
                Some((id, key)) => {
                    self.remember(Some(&owner), &id, key);
                    found.insert(d, (id, key));
                }
                None => new.push(d),
            }
        }
        if !new.is_empty() {
            let taken = ahead.take_authors(new.len())?;
            for (d, (id, key)) in new.into_iter().zip(taken) {
                ahead
                    .unwritten
                    .lock()
                    .insert(d.to_string(), (id.clone(), key));
                self.remember(Some(&Owner::Author(d.to_string())), &id, key);
                found.insert(d, (id, key));
            }
            ahead.nudge();
        } else if claimed {
            ahead.nudge();
        }
        digests
            .iter()
            .map(|d| {
                found
                    .get(d.as_str())
                    .cloned()
                    .ok_or_else(|| KeyError::Batch {
                        path: self.path(),
                        cause: Arc::new(KeyError::Unanswered),
                    })
            })
            .collect()
    }

    /// Writes the owners of the keys made ahead that are still only in memory, now (so the
    /// file counts them). Blocking.
    pub fn flush(&self) -> Result<(), KeyError> {
        match &self.ahead {
            Some(ahead) => ahead.catch_up(false),
            None => Ok(()),
        }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(self.store.describe())
    }

    fn remember(&self, owner: Option<&Owner>, key_id: &str, key: Key) {
        if owner == Some(&Owner::Body) {
            self.bodies.lock().put(key_id, Some(key));
            return;
        }
        let mut cache = self.cache.lock();
        if cache.by_id.len() >= MAX_CACHED_KEYS
            || cache.by_owner.len() >= MAX_CACHED_KEYS
            || cache.gone.len() >= MAX_CACHED_KEYS
        {
            cache.by_id.clear();
            cache.by_owner.clear();
            cache.gone.clear();
        }
        cache
            .by_id
            .insert(key_id.to_string(), (key, Instant::now()));
        if let Some(owner) = owner {
            cache
                .by_owner
                .insert(owner.clone(), (key_id.to_string(), key));
        }
    }

    /// The author's key id and key if they are in memory: no I/O, so an append can seal
    /// without leaving its task (which keeps concurrent appends in the order they were made).
    /// Always `None` on a shared store, whose keys another replica may erase.
    pub fn cached_key_for(&self, author: &str) -> Option<(String, Key)> {
        if self.shared {
            return None;
        }
        self.cache
            .lock()
            .by_owner
            .get(&Owner::Author(digest(author)))
            .cloned()
    }

    /// Puts in memory the keys a submission of `author` on `day` is sealed with, so that its
    /// append seals on its own task instead of hopping to the blocking pool: the submit path
    /// calls this on the screening thread, which it visits anyway. A known author's key is
    /// read from the file; a new author gets a key made ahead *set aside*, owned by nobody
    /// until the append takes it ([`Keys::claim_set_aside`]), so a comment refused after its
    /// screening leaves no owner row (and its key goes back to the batch once pushed out).
    /// Blocking. Nothing on a store without keys made ahead (shared stores ask the store at
    /// every append anyway).
    pub fn ready_author(&self, author: &str, day: NaiveDate) -> Result<(), KeyError> {
        let Some(ahead) = &self.ahead else {
            return Ok(());
        };
        if self.cached_key_for(author).is_none() {
            let d = digest(author);
            let owner = Owner::Author(d.clone());
            let _assign = ahead.assign.lock();
            let known = self.cache.lock().by_owner.contains_key(&owner)
                || ahead.unwritten.lock().contains_key(&d)
                || ahead.set_aside.lock().by_author.contains_key(&d);
            if !known {
                match self.store.find_author(&d)? {
                    Some((id, key)) => self.remember(Some(&owner), &id, key),
                    None => {
                        let taken = ahead.take_authors(1)?;
                        for key in taken {
                            if let Some(back) = ahead.set_aside.lock().put(d.clone(), key) {
                                ahead.authors.lock().push(back);
                            }
                        }
                    }
                }
            }
        }
        if self.cached_day_key(day).is_none() {
            self.day_key(day)?;
        }
        Ok(())
    }

    /// The key set aside for `author` by [`Keys::ready_author`], now owned by the author (its
    /// owner row written by the background thread, as for a key taken at the append), or the
    /// author's key if another append took it first. No I/O.
    pub fn claim_set_aside(&self, author: &str) -> Option<(String, Key)> {
        let ahead = self.ahead.as_ref()?;
        let d = digest(author);
        let owner = Owner::Author(d.clone());
        let _assign = ahead.assign.lock();
        if let Some(found) = self.cache.lock().by_owner.get(&owner).cloned() {
            return Some(found);
        }
        let (id, key) = ahead.set_aside.lock().take(&d)?;
        ahead.unwritten.lock().insert(d, (id.clone(), key));
        self.remember(Some(&owner), &id, key);
        ahead.nudge();
        Some((id, key))
    }

    /// The key id and key of a UTC day if they are in memory (no I/O); `None` on a shared
    /// store, like [`Keys::cached_key_for`].
    pub fn cached_day_key(&self, day: NaiveDate) -> Option<(String, Key)> {
        if self.shared {
            return None;
        }
        self.cache.lock().by_owner.get(&Owner::day(day)).cloned()
    }

    /// Makes (or reads) the keys of all these authors and days, and `bodies` new body keys, in
    /// one transaction, one sync of the file for the lot, and keeps them in memory (for
    /// imports: their appends then seal without waiting). Blocking.
    pub fn prepare(
        &self,
        authors: &[String],
        days: &[NaiveDate],
        bodies: usize,
    ) -> Result<(), KeyError> {
        let bodies = bodies.saturating_sub(self.pool.lock().len());
        // With keys made ahead, new authors take theirs from memory like a submission.
        let authors: &[String] = match &self.ahead {
            Some(ahead) => {
                let digests: Vec<String> = authors.iter().map(|a| digest(a)).collect();
                self.own_authors(ahead, &digests)?;
                &[]
            }
            None => authors,
        };
        let owners: Vec<Owner> = authors
            .iter()
            .map(|a| Owner::Author(digest(a)))
            .chain(days.iter().map(|d| Owner::day(*d)))
            .chain(std::iter::repeat_n(Owner::Body, bodies))
            .collect();
        let made = {
            let _writer = self.writer.lock();
            self.store.get_or_create(&owners)?
        };
        let mut pool = Vec::with_capacity(bodies);
        for (owner, (id, key)) in owners.iter().zip(made) {
            if *owner == Owner::Body {
                pool.push((id, key));
            } else {
                self.remember(Some(owner), &id, key);
            }
        }
        self.pool.lock().extend(pool);
        Ok(())
    }

    /// `n` body keys from memory, or none (and nothing taken) if fewer are there. No I/O.
    pub fn take_body_keys(&self, n: usize) -> Option<Vec<(String, Key)>> {
        let taken: Vec<(String, Key)> = {
            let mut pool = self.pool.lock();
            if pool.len() < n {
                return None;
            }
            let at = pool.len() - n;
            pool.split_off(at)
        };
        if let Some(ahead) = &self.ahead
            && self.pool.lock().len() < BODY_KEYS_PER_BATCH / 2
        {
            ahead.nudge();
        }
        let mut bodies = self.bodies.lock();
        for (id, key) in &taken {
            bodies.put(id, Some(*key));
        }
        Some(taken)
    }

    /// The keys to seal one submission with: its author's and its day's (made on first use)
    /// and a body key of its own. With keys made ahead (the key file), a new author takes
    /// one from memory and the background thread keeps the author and body batches filled,
    /// so the comment waits for no sync of the key file, except the first of a UTC day (its
    /// day key) and one that finds a batch empty (the first after a start, or a burst of more
    /// than half a batch during one sync), which makes the batch itself. Otherwise (shared
    /// stores) what memory lacks is asked for in one request, so a new author's comment waits
    /// for one group commit, and one that finds no body key in memory makes
    /// [`BODY_KEYS_PER_BATCH`] more in that same commit. Blocking.
    pub fn submission_keys(
        &self,
        author: &str,
        day: NaiveDate,
    ) -> Result<SubmissionKeys, KeyError> {
        let author_known = match &self.ahead {
            Some(ahead) => self.own_authors(ahead, &[digest(author)])?.pop(),
            None => self.cached_key_for(author),
        };
        let day_known = self.cached_day_key(day);
        let body_known = self.take_body_keys(1).and_then(|mut b| b.pop());
        let mut owners = Vec::new();
        if author_known.is_none() {
            owners.push(Owner::Author(digest(author)));
        }
        if day_known.is_none() {
            owners.push(Owner::day(day));
        }
        if body_known.is_none() {
            owners.push(Owner::Body);
        }
        let mut made = if owners.is_empty() {
            Vec::new()
        } else {
            self.request(owners)?
        }
        .into_iter();
        let mut next = |known: Option<(String, Key)>| {
            known
                .or_else(|| made.next())
                .ok_or_else(|| KeyError::Batch {
                    path: self.path(),
                    cause: Arc::new(KeyError::Unanswered),
                })
        };
        Ok(SubmissionKeys {
            author: next(author_known)?,
            day: next(day_known)?,
            body: next(body_known)?,
        })
    }

    /// The author's key id and key, made (random) on first use. Blocking.
    ///
    /// New keys are group-committed: a request is queued, then whichever caller holds the
    /// writer next writes every queued request in one transaction (one sync of the file) and
    /// hands each its key before letting go of the writer. So callers arriving while a sync
    /// is under way share the next one instead of taking one each, and a key is still durable
    /// before `key_for` returns it (an event sealed with it is appended afterwards).
    ///
    /// With keys made ahead (the key file), a new author's key comes from memory instead,
    /// as in [`Keys::submission_keys`].
    pub fn key_for(&self, author: &str) -> Result<(String, Key), KeyError> {
        if let Some(found) = self.cached_key_for(author) {
            return Ok(found);
        }
        if let Some(ahead) = &self.ahead {
            return self
                .own_authors(ahead, &[digest(author)])?
                .pop()
                .ok_or_else(|| KeyError::Batch {
                    path: self.path(),
                    cause: Arc::new(KeyError::Unanswered),
                });
        }
        self.request_one(Owner::Author(digest(author)))
    }

    /// The key id and key of a UTC day, made (random) on first use, group-committed and
    /// durable before it is returned like [`Keys::key_for`]'s. Blocking.
    pub fn day_key(&self, day: NaiveDate) -> Result<(String, Key), KeyError> {
        if let Some(found) = self.cached_day_key(day) {
            return Ok(found);
        }
        self.request_one(Owner::day(day))
    }

    fn request_one(&self, owner: Owner) -> Result<(String, Key), KeyError> {
        self.request(vec![owner])?
            .pop()
            .ok_or_else(|| KeyError::Batch {
                path: self.path(),
                cause: Arc::new(KeyError::Unanswered),
            })
    }

    fn request(&self, owners: Vec<Owner>) -> Result<Vec<(String, Key)>, KeyError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.pending.lock().push((owners, tx));
        let writer = self.writer.lock();
        // Queued before the writer was taken: either the previous holder served this request
        // (and answered before letting go) or it is in the batch taken here. A served caller
        // leaves the queue to the next unserved one, so that one's batch holds every request
        // made during the sync before it, not one each.
        let answer = match rx.try_recv() {
            Ok(answer) => Ok(answer),
            Err(_) => {
                let batch = std::mem::take(&mut *self.pending.lock());
                self.commit_batch(batch);
                rx.try_recv()
            }
        };
        drop(writer);
        match answer {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(cause)) => Err(KeyError::Batch {
                path: self.path(),
                cause,
            }),
            // Unreachable by the reasoning above; said rather than panicking.
            Err(_) => Err(KeyError::Batch {
                path: self.path(),
                cause: Arc::new(KeyError::Unanswered),
            }),
        }
    }

    /// Makes (or reads) the keys of a batch of requests in one transaction and answers each.
    /// A batch that asks for a body key also makes [`BODY_KEYS_PER_BATCH`] more for memory.
    fn commit_batch(&self, batch: Vec<Request>) {
        let mut owners: Vec<Owner> = batch.iter().flat_map(|(o, _)| o.iter().cloned()).collect();
        let refill = if owners.contains(&Owner::Body) {
            BODY_KEYS_PER_BATCH
        } else {
            0
        };
        owners.extend(std::iter::repeat_n(Owner::Body, refill));
        match self.store.get_or_create(&owners) {
            Ok(made) => {
                let mut made = owners.into_iter().zip(made);
                for (asked, reply) in batch {
                    let answer: Vec<(String, Key)> = made
                        .by_ref()
                        .take(asked.len())
                        .map(|(owner, (id, key))| {
                            self.remember(Some(&owner), &id, key);
                            (id, key)
                        })
                        .collect();
                    // The channel has room for its one answer; a waiter never leaves early.
                    let _ = reply.try_send(Ok(answer));
                }
                self.pool.lock().extend(made.map(|(_, made)| made));
            }
            Err(e) => {
                let cause = Arc::new(e);
                for (_, reply) in batch {
                    let _ = reply.try_send(Err(cause.clone()));
                }
            }
        }
    }

    /// What memory knows of a key id, with no I/O, so a read can open its events on its own
    /// task: `Some(Some(key))` the key, `Some(None)` known to be deleted, `None` not known
    /// (ask [`Keys::key`]).
    pub fn cached_key(&self, key_id: &str) -> Option<Option<Key>> {
        let cache = self.cache.lock();
        match cache.by_id.get(key_id) {
            Some((key, at)) if !self.shared || at.elapsed() < SHARED_KEY_TTL => Some(Some(*key)),
            Some(_) => None,
            None if cache.gone.contains(key_id) => Some(None),
            None => None,
        }
    }

    /// What memory knows of a body key id, with no I/O, like [`Keys::cached_key`].
    pub fn cached_body_key(&self, key_id: &str) -> Option<Option<Key>> {
        match self.bodies.lock().keys.get(key_id) {
            Some((key, at)) if !self.shared || key.is_none() || at.elapsed() < SHARED_KEY_TTL => {
                Some(*key)
            }
            _ => None,
        }
    }

    /// The body keys of these ids (`None`: deleted, the body was purged), from memory or in
    /// one request to the store, remembered for the next reads. Blocking.
    pub fn load_bodies(
        &self,
        key_ids: &[String],
    ) -> Result<HashMap<String, Option<Key>>, KeyError> {
        let mut out = HashMap::with_capacity(key_ids.len());
        let mut unknown = Vec::new();
        for id in key_ids {
            match self.cached_body_key(id) {
                Some(known) => {
                    out.insert(id.clone(), known);
                }
                None => unknown.push(id.clone()),
            }
        }
        unknown.sort();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(out);
        }
        let found = self.store.fetch_bodies(&unknown)?;
        let mut bodies = self.bodies.lock();
        for id in unknown {
            let key = found.get(&id).copied();
            bodies.put(&id, key);
            out.insert(id, key);
        }
        Ok(out)
    }

    /// Deletes these body keys for good (their bodies no longer open anywhere) and returns
    /// how many there were; gone from the key file's bytes like [`Keys::erase`]'s. Blocking.
    pub fn delete_bodies(&self, key_ids: &[String]) -> Result<usize, KeyError> {
        if key_ids.is_empty() {
            return Ok(0);
        }
        let deleted = self.store.delete(&Doomed::Bodies(key_ids.to_vec()))?;
        let mut bodies = self.bodies.lock();
        for id in key_ids {
            bodies.put(id, None);
        }
        Ok(deleted.len())
    }

    /// The key of a key id (an author's or a day's), if it was not deleted. Blocking on a
    /// cache miss.
    pub fn key(&self, key_id: &str) -> Result<Option<Key>, KeyError> {
        if let Some(known) = self.cached_key(key_id) {
            return Ok(known);
        }
        self.load(&[key_id.to_string()])?;
        Ok(self.cached_key(key_id).flatten())
    }

    /// Reads the keys of these ids that memory does not know in one request and remembers
    /// them (and the missing ones as deleted), so opening a page of events asks the store
    /// once. Blocking.
    pub fn load(&self, key_ids: &[String]) -> Result<(), KeyError> {
        let mut unknown: Vec<String> = key_ids
            .iter()
            .filter(|id| self.cached_key(id).is_none())
            .cloned()
            .collect();
        unknown.sort();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        let found = self.store.fetch(&unknown)?;
        let mut gone = Vec::new();
        for id in unknown {
            match found.get(&id) {
                Some(key) => self.remember(None, &id, *key),
                None => gone.push(id),
            }
        }
        self.forget(&gone);
        Ok(())
    }

    /// Drops deleted key ids from memory and remembers them as deleted.
    fn forget(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let mut cache = self.cache.lock();
        if cache.gone.len() + ids.len() >= MAX_CACHED_KEYS {
            cache.gone.clear();
        }
        for id in ids {
            cache.by_id.remove(id);
            cache.gone.insert(id.clone());
        }
        cache.by_owner.retain(|_, (id, _)| !ids.contains(id));
    }

    /// Deletes for good the keys of every UTC day before `first_kept` and returns how many
    /// there were: the network facts sealed under them no longer open. Gone from the store's
    /// files like [`Keys::erase`]'s. Blocking.
    pub fn delete_days_before(&self, first_kept: NaiveDate) -> Result<usize, KeyError> {
        let first_kept = first_kept.format("%Y-%m-%d").to_string();
        let ids = self.store.delete(&Doomed::DaysBefore(first_kept))?;
        self.forget(&ids);
        Ok(ids.len())
    }

    /// The UTC days that have a key, oldest first. Blocking.
    pub fn days(&self) -> Result<Vec<NaiveDate>, KeyError> {
        Ok(self
            .store
            .days()?
            .iter()
            .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect())
    }

    /// Whether the author has a key (has sealed comments that were not erased). Blocking.
    pub fn has_key(&self, author: &str) -> Result<bool, KeyError> {
        let author = digest(author);
        if let Some(ahead) = &self.ahead
            && ahead.unwritten.lock().contains_key(&author)
        {
            return Ok(true);
        }
        self.store.has_author(&author)
    }

    /// Deletes the author's key for good and returns its id (`None`: there was none). In the
    /// key file the row's bytes are zeroed and the write-ahead log is checkpointed and
    /// truncated before this returns, so the key is in no file of the data folder; in
    /// PostgreSQL the row is deleted and the table vacuumed, in KurrentDB the key's stream is
    /// tombstoned (see docs/privacy.md for what the database's own files and archives keep
    /// until they are vacuumed or scavenged). Blocking.
    ///
    /// A key made ahead whose owner is still only in memory goes too. A key whose owner row
    /// a crash kept from being written is not found by the author: [`Keys::erase_keys`]
    /// deletes it by the id the log names.
    pub fn erase(&self, author: &str) -> Result<Option<String>, KeyError> {
        let author = digest(author);
        // Held so no submission of the author takes a key between the two deletions.
        let _assign = self.ahead.as_ref().map(|a| a.assign.lock());
        // A key only set aside was never handed to an event: back to the batch.
        if let Some(ahead) = &self.ahead
            && let Some(key) = ahead.set_aside.lock().take(&author)
        {
            ahead.authors.lock().push(key);
        }
        let unwritten: Vec<String> = self
            .ahead
            .as_ref()
            .and_then(|a| a.unwritten.lock().remove(&author))
            .map(|(id, _)| id)
            .into_iter()
            .collect();
        let mut ids = self.store.delete(&Doomed::Author(author.clone()))?;
        if !unwritten.is_empty() {
            for id in self.store.delete(&Doomed::AuthorKeys(unwritten))? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        self.cache.lock().by_owner.remove(&Owner::Author(author));
        self.forget(&ids);
        Ok(ids.into_iter().next())
    }

    /// Deletes these author keys for good, by key id, whoever owns them, and returns the ids
    /// of those there were: erasure passes the key ids the reader's sealed submissions name,
    /// which covers keys left unowned by a crash (see the module's documentation) and keys of
    /// an earlier process. Gone from the store's files like [`Keys::erase`]'s. Blocking.
    pub fn erase_keys(&self, key_ids: &[String]) -> Result<Vec<String>, KeyError> {
        if key_ids.is_empty() {
            return Ok(Vec::new());
        }
        let _assign = self.ahead.as_ref().map(|a| a.assign.lock());
        if let Some(ahead) = &self.ahead {
            ahead
                .unwritten
                .lock()
                .retain(|_, (id, _)| !key_ids.contains(id));
        }
        let ids = self.store.delete(&Doomed::AuthorKeys(key_ids.to_vec()))?;
        self.forget(key_ids);
        Ok(ids)
    }

    /// Number of keys kept (authors with sealed, not erased comments). Blocking.
    pub fn len(&self) -> Result<u64, KeyError> {
        self.flush()?;
        self.store.count_authors()
    }

    /// Whether no key is kept. Blocking.
    pub fn is_empty(&self) -> Result<bool, KeyError> {
        Ok(self.len()? == 0)
    }

    /// Copies the key file consistently into `target` (for `saring backup`), as one file
    /// without a write-ahead log. Blocking.
    pub fn backup_to(&self, target: &Path) -> Result<(), KeyError> {
        self.store.backup_to(target)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    impl Keys {
        /// Moves the key file's write-ahead log into the main file.
        fn checkpoint(&self) {
            let file = self.store.describe();
            Connection::open(file)
                .unwrap()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .unwrap();
        }
    }

    #[test]
    fn an_author_keeps_one_key_until_it_is_erased() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let sari = author_of(" Sari@Contoh.ID ", "203.0.113.9");
        assert_eq!(sari, "email:sari@contoh.id");
        let (id, key) = keys.key_for(&sari).unwrap();
        assert_eq!(keys.key_for(&sari).unwrap(), (id.clone(), key));
        let (other_id, other_key) = keys.key_for(&author_of("", "203.0.113.9")).unwrap();
        assert_ne!(other_id, id);
        assert_ne!(other_key, key);
        assert_eq!(keys.key(&id).unwrap(), Some(key));

        assert_eq!(keys.erase(&sari).unwrap(), Some(id.clone()));
        assert_eq!(keys.key(&id).unwrap(), None, "gone from the cache too");
        assert!(!keys.has_key(&sari).unwrap());
        assert_eq!(
            keys.erase(&sari).unwrap(),
            None,
            "erasing twice is harmless"
        );
        assert_eq!(
            keys.key(&other_id).unwrap(),
            Some(other_key),
            "others keep theirs"
        );

        // Reopened, the erased key is still gone and a returning author gets a new one.
        drop(keys);
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.key(&id).unwrap(), None);
        let (new_id, new_key) = keys.key_for(&sari).unwrap();
        assert_ne!((new_id, new_key), (id, key));
    }

    #[test]
    fn a_key_set_aside_is_owned_only_once_claimed_and_an_erasure_takes_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let sari = author_of("sari@contoh.id", "203.0.113.0/24");
        keys.ready_author(&sari, day).unwrap();
        assert!(
            keys.cached_day_key(day).is_some(),
            "the day key is in memory"
        );
        assert_eq!(keys.cached_key_for(&sari), None, "set aside, not owned");
        keys.flush().unwrap();
        assert!(
            !keys.has_key(&sari).unwrap(),
            "no owner row for a comment not appended"
        );

        // Readied again (a second comment screened), the same key stays set aside.
        keys.ready_author(&sari, day).unwrap();
        let claimed = keys.claim_set_aside(&sari).unwrap();
        assert_eq!(keys.cached_key_for(&sari), Some(claimed.clone()));
        assert_eq!(keys.submission_keys(&sari, day).unwrap().author, claimed);
        keys.flush().unwrap();
        assert!(keys.has_key(&sari).unwrap(), "owned once claimed");

        // Erased while a key is set aside: the next comment gets a key nobody owned.
        let budi = author_of("budi@contoh.id", "203.0.113.0/24");
        keys.ready_author(&budi, day).unwrap();
        keys.erase(&budi).unwrap();
        assert_eq!(keys.claim_set_aside(&budi), None);
        let fresh = keys.submission_keys(&budi, day).unwrap().author;
        assert_ne!(fresh, claimed);
        keys.flush().unwrap();
        assert!(keys.has_key(&budi).unwrap());
    }

    #[test]
    fn an_erased_key_leaves_no_bytes_in_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let (_, key) = keys.key_for("email:sari@contoh.id").unwrap();
        keys.key_for("email:budi@contoh.id").unwrap();
        let contains = |needle: &[u8]| {
            std::fs::read_dir(dir.path()).unwrap().any(|f| {
                let bytes = std::fs::read(f.unwrap().path()).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            })
        };
        // Checkpointed so the row is in the main file, not only in the write-ahead log.
        keys.checkpoint();
        assert!(contains(&key), "the key is in the file before erasure");
        keys.erase("email:sari@contoh.id").unwrap();
        assert!(!contains(&key), "and in no file of the folder afterwards");
        assert!(!contains(digest("email:sari@contoh.id").as_bytes()));
    }

    #[test]
    fn prepared_keys_are_in_memory_and_an_erased_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let authors = vec![
            "email:a@contoh.id".to_string(),
            "addr:203.0.113.9".to_string(),
        ];
        assert_eq!(keys.cached_key_for(&authors[0]), None);
        keys.prepare(&authors, &[], 0).unwrap();
        let a = keys.cached_key_for(&authors[0]).expect("in memory");
        assert_eq!(
            keys.key_for(&authors[0]).unwrap(),
            a,
            "the same key as on disk"
        );
        keys.erase(&authors[0]).unwrap();
        assert_eq!(keys.cached_key_for(&authors[0]), None);
        assert!(keys.cached_key_for(&authors[1]).is_some());
        // Reopened (nothing in memory), the prepared key was stored.
        let (id, key) = keys.cached_key_for(&authors[1]).unwrap();
        drop(keys);
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.key(&id).unwrap(), Some(key));
    }

    #[test]
    fn keys_requested_at_once_are_all_stored_and_one_author_gets_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::open(dir.path()).unwrap());
        // 16 threads, each asking for 8 new authors' keys and for one author every thread
        // shares: the requests overlap, so batches form.
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let keys = keys.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    for i in 0..8 {
                        got.push(keys.key_for(&format!("email:{t}-{i}@contoh.id")).unwrap());
                    }
                    (got, keys.key_for("email:sari@contoh.id").unwrap())
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|h| h.join().unwrap()).collect();
        let sari = results[0].1.clone();
        assert!(results.iter().all(|(_, s)| *s == sari), "one key for Sari");
        let mut ids: Vec<_> = results
            .iter()
            .flat_map(|(got, _)| got.iter().map(|(id, _)| id.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 16 * 8, "a distinct key per author");

        // Reopened (nothing in memory), every key handed out was stored.
        drop(keys);
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.len().unwrap(), 16 * 8 + 1);
        for (got, _) in &results {
            for (id, key) in got {
                assert_eq!(keys.key(id).unwrap(), Some(*key));
            }
        }
        assert_eq!(keys.key(&sari.0).unwrap(), Some(sari.1));
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_day_keeps_one_key_until_the_days_before_a_date_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let (id1, key1) = keys.day_key(day(1)).unwrap();
        assert_eq!(keys.day_key(day(1)).unwrap(), (id1.clone(), key1), "reused");
        let (id2, key2) = keys.day_key(day(2)).unwrap();
        let (id3, key3) = keys.day_key(day(3)).unwrap();
        assert_ne!(id1, id2);
        assert_ne!(key2, key3);
        let (author_id, author_key) = keys.key_for("email:sari@contoh.id").unwrap();
        keys.checkpoint();
        let in_files = |needle: &[u8]| {
            std::fs::read_dir(dir.path()).unwrap().any(|f| {
                let bytes = std::fs::read(f.unwrap().path()).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            })
        };
        assert!(in_files(&key1));

        assert_eq!(keys.delete_days_before(day(3)).unwrap(), 2);
        assert_eq!(keys.key(&id1).unwrap(), None, "gone from memory too");
        assert_eq!(keys.key(&id2).unwrap(), None);
        assert_eq!(keys.cached_key(&id1), Some(None), "remembered as deleted");
        assert_eq!(
            keys.key(&id3).unwrap(),
            Some(key3),
            "a later day keeps its key"
        );
        assert_eq!(
            keys.key(&author_id).unwrap(),
            Some(author_key),
            "authors' too"
        );
        assert!(
            !in_files(&key1) && !in_files(&key2),
            "in no file of the folder"
        );
        assert_eq!(
            keys.delete_days_before(day(3)).unwrap(),
            0,
            "harmless twice"
        );

        // Reopened (nothing in memory), the deleted keys are still gone.
        drop(keys);
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.days().unwrap(), vec![day(3)]);
        assert_eq!(keys.key(&id1).unwrap(), None);
        assert_eq!(keys.key(&id3).unwrap(), Some(key3));
        assert_eq!(keys.day_key(day(3)).unwrap(), (id3, key3));
        let (again, _) = keys.day_key(day(1)).unwrap();
        assert_ne!(
            again, id1,
            "a deleted day that is asked for again gets a new key"
        );
    }

    #[test]
    fn each_submission_gets_a_body_key_of_its_own_until_it_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.take_body_keys(1), None, "none made yet");
        let first = keys
            .submission_keys("email:sari@contoh.id", day(5))
            .unwrap();
        assert_eq!(first.author, keys.key_for("email:sari@contoh.id").unwrap());
        assert_eq!(first.day, keys.day_key(day(5)).unwrap());
        // That commit made a batch more (and the background thread may be making the next):
        // the next submissions take them from memory.
        let taken = keys
            .take_body_keys(BODY_KEYS_PER_BATCH)
            .expect("a batch in memory");
        let mut ids: Vec<&String> = taken.iter().map(|(id, _)| id).collect();
        ids.push(&first.body.0);
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            BODY_KEYS_PER_BATCH + 1,
            "no body key is handed out twice"
        );
        keys.prepare(&[], &[], 3).unwrap();
        assert_eq!(keys.take_body_keys(3).map(|b| b.len()), Some(3), "prepared");

        let (gone, kept) = (first.body.clone(), taken[0].clone());
        keys.checkpoint();
        let in_files = |needle: &[u8]| {
            std::fs::read_dir(dir.path()).unwrap().any(|f| {
                let bytes = std::fs::read(f.unwrap().path()).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            })
        };
        assert!(in_files(&gone.1));
        assert_eq!(
            keys.delete_bodies(&[gone.0.clone(), "999999".into()])
                .unwrap(),
            1
        );
        assert!(
            !in_files(&gone.1),
            "a deleted body key is in no file of the folder"
        );

        // Reopened (nothing in memory), the deleted key is gone and the others open; a new
        // key never gets a deleted one's id.
        drop(keys);
        let keys = Keys::open(dir.path()).unwrap();
        let read = keys.load_bodies(&[gone.0.clone(), kept.0.clone()]).unwrap();
        assert_eq!(read[&gone.0], None);
        assert_eq!(read[&kept.0], Some(kept.1));
        let again = keys
            .submission_keys("email:sari@contoh.id", day(5))
            .unwrap();
        assert_ne!(again.body.0, gone.0);
    }

    /// The owner digests of the key file's author keys made ahead, by key id (`None`: unowned).
    fn premade_owners(dir: &Path) -> HashMap<String, Option<String>> {
        let conn = Connection::open(dir.join(KEYS_FILE)).unwrap();
        let mut stmt = conn
            .prepare("SELECT key_id, author FROM premade_author_keys")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_new_author_takes_a_key_made_ahead_whose_owner_is_written_later() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let sari = "email:sari@contoh.id";
        let (id, key) = keys.key_for(sari).unwrap();
        // Synced before it was handed out: another handle on the file opens with it at once.
        let other = Keys::open(dir.path()).unwrap();
        assert_eq!(other.key(&id).unwrap(), Some(key));
        drop(other);
        // The rest of the batch waits in memory for the next new authors.
        let budi = keys.key_for("email:budi@contoh.id").unwrap();
        assert_ne!(budi.0, id);
        assert_eq!(keys.key_for(sari).unwrap(), (id.clone(), key), "one key");
        keys.flush().unwrap();
        assert_eq!(premade_owners(dir.path())[&id], Some(digest(sari)));

        // Dropped: the owners are written and the keys nobody took are deleted; reopened,
        // the author keeps the key.
        drop(keys);
        let owners = premade_owners(dir.path());
        assert_eq!(owners.len(), 2, "only the keys taken are left: {owners:?}");
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.key_for(sari).unwrap(), (id, key));
        assert_eq!(keys.len().unwrap(), 2);
    }

    #[test]
    fn a_key_whose_owner_a_crash_lost_still_opens_is_never_reused_and_is_erased_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let sari = "email:sari@contoh.id";
        let (lost, key) = keys.key_for(sari).unwrap();
        drop(keys);
        // The crash window: the key is in the file, its owner row never written.
        let conn = Connection::open(dir.path().join(KEYS_FILE)).unwrap();
        conn.execute("UPDATE premade_author_keys SET author = NULL", [])
            .unwrap();
        drop(conn);

        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(
            keys.key(&lost).unwrap(),
            Some(key),
            "its comments still open"
        );
        assert!(!keys.has_key(sari).unwrap());
        let (again, _) = keys.key_for(sari).unwrap();
        assert_ne!(again, lost, "the author's next comment gets a new key");
        // More new authors than a batch holds: none gets the key left unowned.
        for i in 0..AUTHOR_KEYS_PER_BATCH + 10 {
            let (id, _) = keys.key_for(&format!("email:{i}@contoh.id")).unwrap();
            assert_ne!(
                id, lost,
                "a key an earlier process made was handed out again"
            );
        }
        assert_eq!(keys.erase(sari).unwrap(), Some(again.clone()));
        assert_eq!(
            keys.key(&lost).unwrap(),
            Some(key),
            "the owner alone misses it"
        );
        assert_eq!(
            keys.erase_keys(&[lost.clone(), again.clone()]).unwrap(),
            vec![lost.clone()]
        );
        assert_eq!(keys.key(&lost).unwrap(), None);
        keys.checkpoint();
        let in_files = |needle: &[u8]| {
            std::fs::read_dir(dir.path()).unwrap().any(|f| {
                let bytes = std::fs::read(f.unwrap().path()).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            })
        };
        assert!(!in_files(&key), "in no file of the folder");
        let (other, other_key) = keys.key_for("email:0@contoh.id").unwrap();
        drop(keys);
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.key(&lost).unwrap(), None, "gone for good");
        assert_eq!(
            keys.key(&other).unwrap(),
            Some(other_key),
            "others keep theirs"
        );
    }

    #[test]
    fn prepared_day_keys_are_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        assert_eq!(keys.cached_day_key(day(5)), None);
        keys.prepare(&[], &[day(5), day(6)], 0).unwrap();
        let five = keys.cached_day_key(day(5)).expect("in memory");
        assert_eq!(keys.day_key(day(5)).unwrap(), five);
        assert!(keys.cached_day_key(day(6)).is_some());
    }

    /// With `SARING_TEST_PG`: two replicas' key stores on one database share keys, and a key
    /// one of them deletes is gone for the other (which makes a new one rather than sealing
    /// with the deleted key).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_keys_are_shared_by_replicas_and_deleted_for_all() {
        let Ok(admin) = std::env::var("SARING_TEST_PG") else {
            eprintln!("SKIPPED: set SARING_TEST_PG=postgres://user@host:port/db to run it");
            return;
        };
        let url = crate::store::postgres::create_test_database(&admin)
            .await
            .unwrap();
        let a = crate::store::postgres::PostgresStore::connect(&url)
            .await
            .unwrap();
        let b = crate::store::postgres::PostgresStore::connect(&url)
            .await
            .unwrap();
        let (ka, kb) = (Keys::open_postgres(a.pool()), Keys::open_postgres(b.pool()));
        let fresh = Keys::open_postgres(b.pool());
        tokio::task::spawn_blocking(move || {
            crate::store::conformance::shared_keys(&ka, &kb, &fresh).unwrap();
            assert_eq!(fresh.len().unwrap(), 2, "the two authors' keys are counted");
        })
        .await
        .unwrap();
    }

    #[test]
    fn a_backup_of_the_keys_opens_with_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path()).unwrap();
        let (id, key) = keys.key_for("email:sari@contoh.id").unwrap();
        let copy = dir.path().join("copy.sqlite3");
        keys.backup_to(&copy).unwrap();
        let restored = Keys::open_file(&copy).unwrap();
        assert_eq!(restored.key(&id).unwrap(), Some(key));
    }
}
