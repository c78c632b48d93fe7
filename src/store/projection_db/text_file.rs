//! The published queue's full-text index in a database file of its own, next to the projection
//! file (`projections-text.sqlite3` beside `projections.sqlite3`).
//!
//! Why a file of its own: SQLite lets one writer at a time into a file, and at 1,000,000
//! comments a merge of a deep level of the index (FTS5 rewriting large segments) took 8–32 ms
//! per step; in the same file every fold, and so every post waiting for its fold, waited for
//! those steps (posts fell to a quarter of the small store's rate in such runs, docs/loadtest.md,
//! "Posts at 1,000,000"). In a file of its own the index is written by its own connection under
//! its own lock, and the fold never waits for it.
//!
//! The price is that no transaction spans both files (SQLite's WAL mode commits attached files
//! one by one, not atomically), so moving pending rows into the index takes two commits, made
//! safe by the order and a record of what was taken:
//!
//! 1. in the index file, one transaction writes the entries of the pending rows as the
//!    projections stood at position `P` (a read snapshot of the projection file), and records the
//!    rows it took (`taken`, with what the index now holds for each) and `P`;
//! 2. in the projection file, the fold's writer deletes the pending rows taken that no fold has
//!    marked again since `P` (a row's `gen` is the position of the fold that last marked it),
//!    and sets what the index holds on the rows marked again;
//! 3. the index file forgets `taken`.
//!
//! A crash after 1 leaves `taken`, and step 2 is done (again: it is idempotent) before any other
//! round. Meanwhile search finds a comment through the index or its pending row, and reads the
//! projection file's snapshot before the index file's (SQLite opens the read transactions of a
//! statement's files in the order they were attached, the projection file first), so a row
//! deleted in 2 is always seen in the index written in 1. A stale entry costs nothing: search
//! checks every candidate against the comment as it is.
//!
//! The two files are paired by a random number kept in both: an index file that is missing, or
//! not the pair of its projection file (a crash between the renames of a rebuild, a copy of one
//! file), is filled again from the published comments at start, with progress logged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};

use super::{PUBLISHED, decode_record, pragmas, record_of, searchable_text};
use crate::store::text_indexer;

/// The index file's tables. `taken` holds the rows of the last round until the projection
/// file has let them go (step 2 above).
const SCHEMA: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS published_text USING fts5(text, tokenize = 'trigram',
  content = '', contentless_delete = 1);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS taken (seq INTEGER PRIMARY KEY, indexed INTEGER NOT NULL);
";

/// Writes one comment's entry (its `seq`, its [`searchable_text`]).
const INSERT_ENTRY: &str = "INSERT INTO published_text (rowid, text) VALUES (?1, ?2)";

/// The key, in both files' `meta`, of the number that pairs them.
pub(super) const PAIR_KEY: &str = "text_pair";

/// The schema name the projection file is attached under on the index file's connection.
const PROJECTIONS: &str = "proj";

/// The schema name the index file is attached under on the projection file's readers.
pub(super) const ATTACHED: &str = "text";

/// Leaf pages one merge step of the text index writes at most (FTS5's `'merge'` command, 4 KiB
/// each).
const MERGE_PAGES: i64 = 32;

/// Published comments written to the index per transaction when it is filled.
const FILL_CHUNK: i64 = 100_000;

/// FTS5's `automerge` while the index is filled (its default, 4): nothing waits for a fill.
const FILL_AUTOMERGE: i64 = 4;

/// The index file that goes with the projection file at `path`: `projections.sqlite3` has
/// `projections-text.sqlite3`, a rebuild's `projections.sqlite3.rebuild` has
/// `projections-text.sqlite3.rebuild`.
pub fn text_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match name.split_once('.') {
        Some((stem, rest)) => format!("{stem}-text.{rest}"),
        None => format!("{name}-text"),
    };
    path.with_file_name(name)
}

fn path_text(path: &Path) -> rusqlite::Result<&str> {
    path.to_str()
        .ok_or_else(|| rusqlite::Error::InvalidPath(path.to_path_buf()))
}

/// Opens (creating) the index file of the projection file at `projections`, with the
/// projection file attached for reading the pending rows and the comments.
pub(super) fn open(projections: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(text_path(projections))?;
    pragmas(&conn)?;
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {PROJECTIONS}"),
        [path_text(projections)?],
    )?;
    conn.execute_batch(SCHEMA)?;
    manual_merges(&conn)?;
    Ok(conn)
}

/// Attaches the index file to a reader of the projection file at `projections`, as
/// [`ATTACHED`].
pub(super) fn attach(reader: &Connection, projections: &Path) -> rusqlite::Result<()> {
    reader.execute(
        &format!("ATTACH DATABASE ?1 AS {ATTACHED}"),
        [path_text(&text_path(projections))?],
    )?;
    Ok(())
}

/// Whether the index file is the pair of its projection file.
pub(super) fn paired(text: &Connection) -> rusqlite::Result<bool> {
    let get = |schema: &str| {
        text.query_row(
            &format!("SELECT value FROM {schema}.meta WHERE key = ?1"),
            [PAIR_KEY],
            |r| r.get::<_, i64>(0),
        )
        .optional()
    };
    Ok(matches!((get("main")?, get(PROJECTIONS)?), (Some(a), Some(b)) if a == b))
}

/// Empties the index and fills it with the published comments as they are (in chunks of
/// [`FILL_CHUNK`], each checkpointed, so the index file's log never holds the whole index),
/// deletes the projection file's pending rows (through `writer`: nothing may fold meanwhile),
/// and pairs the two files with a new number. Answers the comments indexed.
pub(super) fn fill(
    text: &mut Connection,
    writer: &Mutex<Connection>,
    mut progress: impl FnMut(u64),
) -> rusqlite::Result<u64> {
    text.execute_batch(&format!(
        "DROP TABLE IF EXISTS published_text; DELETE FROM taken; DELETE FROM meta; {SCHEMA}
         INSERT INTO published_text (published_text, rank) VALUES ('automerge', {FILL_AUTOMERGE});"
    ))?;
    let (mut after, mut indexed) = (i64::MIN, 0u64);
    loop {
        let tx = text.transaction()?;
        let mut last = None;
        {
            let mut published = tx.prepare_cached(&format!(
                "SELECT seq, record FROM {PROJECTIONS}.comments WHERE status = ?1 AND seq > ?2 \
                 ORDER BY seq LIMIT ?3"
            ))?;
            let mut index = tx.prepare_cached(INSERT_ENTRY)?;
            let mut rows = published.query(params![PUBLISHED, after, FILL_CHUNK])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let rec = decode_record(&row.get::<_, Vec<u8>>(1)?)?;
                index.execute(params![seq, searchable_text(&rec)])?;
                last = Some(seq);
                indexed += 1;
            }
        }
        tx.commit()?;
        text.execute_batch("PRAGMA main.wal_checkpoint(TRUNCATE);")?;
        progress(indexed);
        match last {
            Some(seq) => after = seq,
            None => break,
        }
    }
    manual_merges(text)?;
    let pair = rand::random::<i64>();
    {
        let mut conn = writer.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM text_pending", [])?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![PAIR_KEY, pair],
        )?;
        tx.commit()?;
    }
    text.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![PAIR_KEY, pair],
    )?;
    text.execute_batch("PRAGMA main.wal_checkpoint(TRUNCATE);")?;
    Ok(indexed)
}

/// Turns FTS5's automatic merging of the index off (kept in the index's own config, so once
/// per file): inside an indexing round it merged whole levels in the round's transaction. The
/// indexer merges in [`merge_step`]s instead; FTS5's crisis merge (16 segments on a level)
/// stays as a bound.
fn manual_merges(text: &Connection) -> rusqlite::Result<()> {
    let automerge: Option<i64> = text
        .query_row(
            "SELECT v FROM published_text_config WHERE k = 'automerge'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if automerge != Some(0) {
        text.execute(
            "INSERT INTO published_text (published_text, rank) VALUES ('automerge', 0)",
            [],
        )?;
    }
    Ok(())
}

/// Merges at most [`MERGE_PAGES`] of the index's segments (on a level holding four or more,
/// FTS5's `usermerge`), in a transaction of its own; whether there was work (FTS5 counts two or
/// more changes when it merged). Deferred, as every transaction on this connection: an
/// immediate one would take the attached projection file's write lock too.
pub(super) fn merge_step(text: &mut Connection) -> rusqlite::Result<bool> {
    let tx = text.transaction()?;
    let changes =
        |tx: &rusqlite::Transaction<'_>| tx.query_row("SELECT total_changes()", [], |r| r.get(0));
    let before: i64 = changes(&tx)?;
    tx.execute(
        "INSERT INTO published_text (published_text, rank) VALUES ('merge', ?1)",
        [MERGE_PAGES],
    )?;
    let worked = changes(&tx)? - before >= 2;
    tx.commit()?;
    Ok(worked)
}

/// Pending rows in the projection file.
pub(super) fn pending_rows(conn: &Connection, schema: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!("SELECT count(*) FROM {schema}.text_pending"))?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

/// One round: lets go of what the last round took (if a crash left it), moves the first
/// [`text_indexer::INDEX_BATCH`] pending rows into the index (steps 1–3 of the module's
/// comment), and answers the rows moved and the rows left. Stale entries go first, then the
/// published comments' current text in ascending rowid: FTS5 flushes its pending terms into a
/// new segment whenever a rowid goes backwards, so a round in order makes one segment.
pub(super) fn index_round(
    text: &mut Connection,
    writer: &Mutex<Connection>,
) -> rusqlite::Result<(usize, usize)> {
    let_go_of_taken(text, writer)?;
    let moved = take(text)?;
    let_go_of_taken(text, writer)?;
    Ok((moved, pending_rows(text, PROJECTIONS)?))
}

/// Step 1 of the module's comment: writes the entries of the first pending rows as the
/// projections stand now and records them in `taken`; answers how many it took.
pub(super) fn take(text: &mut Connection) -> rusqlite::Result<usize> {
    // This commit syncs the index file's log (one sync a round; merge steps do not): step 2
    // deletes pending rows in the other file, which must never outlive, in a power cut, the
    // entries written for them.
    text.execute_batch("PRAGMA main.synchronous=FULL;")?;
    let taken = take_in_tx(text);
    text.execute_batch("PRAGMA main.synchronous=NORMAL;")?;
    taken
}

fn take_in_tx(text: &mut Connection) -> rusqlite::Result<usize> {
    let tx = text.transaction()?;
    let position: i64 = tx
        .query_row(
            &format!("SELECT value FROM {PROJECTIONS}.meta WHERE key = 'position'"),
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let rows: Vec<(i64, bool)> = tx
        .prepare_cached(&format!(
            "SELECT seq, indexed FROM {PROJECTIONS}.text_pending ORDER BY seq LIMIT ?1"
        ))?
        .query_map([text_indexer::INDEX_BATCH], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if let Some(&(last, _)) = rows.last() {
        let mut unindex = tx.prepare_cached("DELETE FROM published_text WHERE rowid = ?1")?;
        for (seq, _) in rows.iter().filter(|(_, indexed)| *indexed) {
            unindex.execute([seq])?;
        }
        let mut published = tx.prepare_cached(&format!(
            "SELECT record FROM {PROJECTIONS}.comments WHERE status = ?1 AND seq = ?2"
        ))?;
        let mut index = tx.prepare_cached(INSERT_ENTRY)?;
        let mut take =
            tx.prepare_cached("INSERT OR REPLACE INTO taken (seq, indexed) VALUES (?1, ?2)")?;
        for (seq, _) in &rows {
            let rec = published
                .query_row(params![PUBLISHED, seq], record_of)
                .optional()?;
            if let Some(rec) = &rec {
                index.execute(params![seq, searchable_text(rec)])?;
            }
            take.execute(params![seq, rec.is_some()])?;
        }
        let mut meta =
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        meta.execute(params!["taken_position", position])?;
        meta.execute(params!["taken_last", last])?;
    }
    tx.commit()?;
    Ok(rows.len())
}

/// Step 2 and 3 of the module's comment for the rows `taken` holds (none: nothing to do).
fn let_go_of_taken(text: &mut Connection, writer: &Mutex<Connection>) -> rusqlite::Result<()> {
    let taken: HashMap<i64, bool> = text
        .prepare_cached("SELECT seq, indexed FROM taken")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if taken.is_empty() {
        return Ok(());
    }
    let mut meta = text.prepare_cached("SELECT value FROM meta WHERE key = ?1")?;
    let position: i64 = meta.query_row(["taken_position"], |r| r.get(0))?;
    let last: i64 = meta.query_row(["taken_last"], |r| r.get(0))?;
    drop(meta);
    {
        let mut conn = writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Marked again by a fold after the round's snapshot: still pending, and what the
        // index holds for it now is what the round wrote.
        let marked_again: Vec<i64> = tx
            .prepare_cached("SELECT seq FROM text_pending WHERE seq <= ?1 AND gen > ?2")?
            .query_map(params![last, position], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut set = tx.prepare_cached("UPDATE text_pending SET indexed = ?2 WHERE seq = ?1")?;
        for seq in marked_again {
            if let Some(indexed) = taken.get(&seq) {
                set.execute(params![seq, indexed])?;
            }
        }
        drop(set);
        tx.prepare_cached("DELETE FROM text_pending WHERE seq <= ?1 AND gen <= ?2")?
            .execute(params![last, position])?;
        tx.commit()?;
        // Fair: a fold waiting meanwhile gets the writer first.
        parking_lot::MutexGuard::unlock_fair(conn);
    }
    text.execute("DELETE FROM taken", [])?;
    Ok(())
}
