//! The sightings' bound: the prune keeps the newest [`MAX_SIGHTING_ROWS`] and the duplicate
//! lookup still finds them.

use super::*;

fn sighting(fingerprint: u64, author: &str) -> StoredSighting {
    StoredSighting {
        fingerprint,
        thread: "berita-1".into(),
        author: author.into(),
        at: DateTime::from_timestamp_nanos(1_700_000_000_000_000_000),
    }
}

/// The one number `sql` answers, read on a reader connection.
fn number(db: &ProjectionDb, sql: &str) -> i64 {
    db.read(|c| c.query_row(sql, [], |r| r.get(0))).unwrap()
}

fn stored(db: &ProjectionDb) -> (i64, i64, i64) {
    db.read(|c| {
        c.query_row(
            "SELECT count(*), min(seq), max(seq) FROM sightings",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    })
    .unwrap()
}

fn kept_count(db: &ProjectionDb) -> Option<i64> {
    db.meta_int(SIGHTING_ROWS_KEY).unwrap()
}

#[test]
fn the_prune_keeps_the_newest_sightings_and_their_duplicates_stay_found() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = ProjectionDb::open(&dir.path().join(FILE_NAME), "sqlite").unwrap();
    // Positions 1.. with gaps (not every event is a sighting), two bodies alternating.
    let total = MAX_SIGHTING_ROWS + SIGHTING_SLACK + 100;
    let batch = BatchWrite {
        position: 3 * total as u64,
        sightings: (1..=total)
            .map(|i| (3 * i as u64, sighting(i as u64 % 2, "a@example.org")))
            .collect(),
        ..BatchWrite::default()
    };
    db.write_tx(|tx| tx.write(&batch)).unwrap();
    assert_eq!(
        stored(&db),
        (
            MAX_SIGHTING_ROWS,
            3 * (total - MAX_SIGHTING_ROWS + 1),
            3 * total
        )
    );
    assert_eq!(kept_count(&db), Some(MAX_SIGHTING_ROWS));

    // Within the slack nothing is deleted; a batch folded again is not counted twice.
    let again = BatchWrite {
        position: 3 * total as u64 + 3,
        sightings: vec![
            (3 * total as u64, sighting(7, "b@example.org")),
            (3 * total as u64 + 3, sighting(7, "b@example.org")),
        ],
        ..BatchWrite::default()
    };
    db.write_tx(|tx| tx.write(&again)).unwrap();
    assert_eq!(stored(&db).0, MAX_SIGHTING_ROWS + 1);
    assert_eq!(kept_count(&db), Some(MAX_SIGHTING_ROWS + 1));
    assert_eq!(
        db.sightings(7).unwrap().len(),
        2,
        "the newest body is found"
    );
    assert_eq!(
        db.sightings(0).unwrap().len(),
        authors::SIGHTINGS_PER_BODY,
        "the older body is still found"
    );

    // Erasing an author deletes its sightings and the count follows.
    let forget = BatchWrite {
        position: 3 * total as u64 + 4,
        forget_sightings: vec!["b@example.org".into()],
        ..BatchWrite::default()
    };
    db.write_tx(|tx| tx.write(&forget)).unwrap();
    assert!(db.sightings(7).unwrap().is_empty());
    assert_eq!(kept_count(&db), Some(MAX_SIGHTING_ROWS - 1));
    assert_eq!(stored(&db).0, MAX_SIGHTING_ROWS - 1);
}

/// A batch of ten sightings of one email, at positions `from..from + 10`.
fn ten_sightings_from(from: u64) -> BatchWrite {
    BatchWrite {
        position: from + 9,
        sightings: (from..from + 10)
            .map(|i| (i, sighting(i, "a@example.org")))
            .collect(),
        ..BatchWrite::default()
    }
}

#[test]
fn a_file_without_the_kept_count_counts_its_sightings_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = ProjectionDb::open(&dir.path().join(FILE_NAME), "sqlite").unwrap();
    db.write_tx(|tx| tx.write(&ten_sightings_from(1))).unwrap();
    // As a file written by an earlier binary: the rows without the count.
    db.writer
        .lock()
        .execute("DELETE FROM meta WHERE key = ?1", [SIGHTING_ROWS_KEY])
        .unwrap();
    db.write_tx(|tx| tx.write(&ten_sightings_from(11))).unwrap();
    assert_eq!(kept_count(&db), Some(20));
}

#[test]
fn a_count_written_before_newer_sightings_is_counted_again() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = ProjectionDb::open(&dir.path().join(FILE_NAME), "sqlite").unwrap();
    db.write_tx(|tx| tx.write(&ten_sightings_from(1))).unwrap();
    // An older binary adds sightings without keeping the count.
    db.writer
        .lock()
        .execute(
            "INSERT INTO sightings (seq, fingerprint, thread, author, at) VALUES (50, 1, 't', 'a', 0)",
            [],
        )
        .unwrap();
    db.write_tx(|tx| tx.write(&ten_sightings_from(51))).unwrap();
    assert_eq!(kept_count(&db), Some(21));
}

fn published(n: u64, body: &str) -> CommentRecord {
    CommentRecord {
        id: Uuid::from_u128(u128::from(n)),
        thread: "berita-1".into(),
        parent_id: None,
        author_name: format!("Pembaca {n}"),
        author_email: format!("p{n}@example.org"),
        author_url: None,
        ip_key: "203.0.113.7/32".into(),
        body_html: crate::projections::render::body_html(body),
        created_at: DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
        status: Some(CommentStatus::Published),
        status_before_delete: None,
        seq: n,
        version: 2,
        score: 0.0,
        outcome: None,
        reports: 0,
        borrowed: false,
        erased: false,
    }
}

fn write_comments(db: &ProjectionDb, position: u64, comments: Vec<CommentRecord>) {
    let batch = BatchWrite {
        position,
        comments,
        ..BatchWrite::default()
    };
    db.write_tx(|tx| tx.write(&batch)).unwrap();
}

/// The console's published-queue text search for `text`: the first 50 ids, and how many match.
fn search(db: &ProjectionDb, text: &str) -> (Vec<Uuid>, usize) {
    let filter = QueueFilter {
        text: Some(text.into()),
        ..QueueFilter::default()
    };
    let page = db
        .queue_search(
            ConsoleQueue::Published,
            &filter,
            SortOrder::Oldest,
            None,
            50,
        )
        .unwrap();
    (page.items.iter().map(|r| r.id).collect(), page.matching)
}

/// The ids the search finds for `text` (fewer than a page).
fn found(db: &ProjectionDb, text: &str) -> Vec<Uuid> {
    let (ids, matching) = search(db, text);
    assert_eq!(matching, ids.len());
    ids
}

/// A file with no background indexer (as `saring projections check` opens it), so what the
/// fold left pending stays pending until the test indexes it.
fn without_indexer(dir: &tempfile::TempDir) -> ProjectionDb {
    let path = dir.path().join(FILE_NAME);
    drop(ProjectionDb::open(&path, "sqlite").unwrap());
    ProjectionDb::open_existing(&path, "sqlite").unwrap()
}

#[test]
fn text_search_is_exact_before_and_after_the_indexer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = without_indexer(&dir);
    let a = published(1, "Kabar gembira dari desa");
    let b = published(2, "Berita lain hari ini");
    write_comments(&db, 2, vec![a.clone(), b.clone()]);
    assert_eq!(db.text_pending_len().unwrap(), 2);
    // Just published, not yet indexed: found.
    assert_eq!(found(&db, "gembira"), vec![a.id]);
    assert_eq!(found(&db, "LAIN"), vec![b.id]);
    db.index_pending().unwrap();
    assert_eq!(db.text_pending_len().unwrap(), 0);
    assert_eq!(found(&db, "gembira"), vec![a.id]);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());

    // Taken down after it was indexed: not found, before the indexer ran and after.
    let mut gone = a.clone();
    gone.status = Some(CommentStatus::Deleted);
    // And b's body changed (an erasure): the old words are not found, the new ones are.
    let mut erased = b.clone();
    erased.body_html = crate::projections::render::body_html("[dihapus]");
    write_comments(&db, 4, vec![gone, erased]);
    assert!(found(&db, "gembira").is_empty());
    assert!(found(&db, "lain").is_empty());
    assert_eq!(found(&db, "dihapus"), vec![b.id]);
    db.index_pending().unwrap();
    assert!(found(&db, "gembira").is_empty());
    assert!(found(&db, "lain").is_empty());
    assert_eq!(found(&db, "dihapus"), vec![b.id]);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());

    // Published and taken down again before any indexing: never found, nothing left over.
    let c = published(3, "Sekali terbit lalu hilang");
    write_comments(&db, 5, vec![c.clone()]);
    assert_eq!(found(&db, "terbit"), vec![c.id]);
    let mut c_gone = c;
    c_gone.status = Some(CommentStatus::Spam);
    write_comments(&db, 6, vec![c_gone]);
    assert!(found(&db, "terbit").is_empty());
    db.index_pending().unwrap();
    assert!(found(&db, "terbit").is_empty());
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
}

#[test]
fn the_fold_indexes_itself_once_too_many_rows_are_pending() {
    let dir = tempfile::tempdir().unwrap();
    let db = without_indexer(&dir);
    let per_batch = 1000;
    let batches = MAX_TEXT_PENDING / per_batch + 2;
    for b in 0..batches {
        let comments = (0..per_batch)
            .map(|i| published((b * per_batch + i + 1) as u64, "isi komentar biasa"))
            .collect();
        write_comments(&db, ((b + 1) * per_batch) as u64, comments);
        assert!(db.text_pending_len().unwrap() <= MAX_TEXT_PENDING);
    }
    assert_eq!(search(&db, "komentar").1, batches * per_batch);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
}

#[test]
fn the_background_indexer_takes_what_the_fold_left_pending() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = ProjectionDb::open(&dir.path().join(FILE_NAME), "sqlite").unwrap();
    let a = published(1, "Kabar gembira dari desa");
    write_comments(&db, 1, vec![a.clone()]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while db.text_pending_len().unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "still pending");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(found(&db, "gembira"), vec![a.id]);
    // Only the index answers now.
    let in_index = number(&db, "SELECT count(*) FROM published_text");
    assert_eq!(in_index, 1);
    // The indexer gave the writer back after its round and its merges: the next fold is
    // written and its comment indexed too.
    let b = published(2, "Kabar duka dari kota");
    write_comments(&db, 2, vec![b.clone()]);
    while db.text_pending_len().unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "still pending");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(found(&db, "kabar").len(), 2);
}

/// Removes the text index file (and its side files) of the projection file in `dir`.
fn remove_text_file(dir: &tempfile::TempDir) {
    let text = text_path(&dir.path().join(FILE_NAME));
    for suffix in ["", "-wal", "-shm"] {
        let mut p = text.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn a_format_4_file_is_migrated_in_place_and_its_index_moves_to_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let db = without_indexer(&dir);
        write_comments(
            &db,
            7,
            vec![
                published(1, "Kabar gembira dari desa"),
                published(2, "Berita lain hari ini"),
            ],
        );
        // As format 4 left it: the index in this file, one comment still pending.
        db.write_tx(|tx| {
            tx.tx.execute_batch(
                "DROP TABLE text_pending;
                 CREATE TABLE text_pending (seq INTEGER PRIMARY KEY, indexed INTEGER NOT NULL);
                 INSERT INTO text_pending VALUES (2, 0);
                 CREATE VIRTUAL TABLE published_text USING fts5(text, tokenize = 'trigram',
                   content = '', contentless_delete = 1);
                 INSERT INTO published_text (rowid, text) VALUES (1, 'kabar gembira dari desa');
                 UPDATE meta SET value = 4 WHERE key = 'format';",
            )
        })
        .unwrap();
    }
    remove_text_file(&dir);
    // `check` asks for the server's start first rather than reading half a layout.
    assert!(matches!(
        ProjectionDb::open_existing(&path, "sqlite"),
        Err(ProjectionDbError::Migratable { format: 4, .. })
    ));
    let (db, head, fresh) = ProjectionDb::open(&path, "sqlite").unwrap();
    assert!(!fresh);
    assert_eq!(head.position, 7);
    assert_eq!(db.meta_int("format").unwrap(), Some(FORMAT));
    assert_eq!(db.text_pending_len().unwrap(), 0);
    assert_eq!(found(&db, "gembira").len(), 1);
    assert_eq!(found(&db, "lain").len(), 1);
    let old_index = number(
        &db,
        "SELECT count(*) FROM main.sqlite_master WHERE name = 'published_text'",
    );
    assert_eq!(old_index, 0);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
}

#[test]
fn a_missing_or_foreign_text_index_file_is_filled_again_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let db = without_indexer(&dir);
        write_comments(&db, 3, vec![published(1, "Kabar gembira dari desa")]);
        db.index_pending().unwrap();
    }
    // The index file of another data folder: not this file's pair.
    let other = tempfile::tempdir().unwrap();
    {
        let db = without_indexer(&other);
        write_comments(&db, 3, vec![published(9, "Sesuatu yang lain sekali")]);
        db.index_pending().unwrap();
    }
    remove_text_file(&dir);
    std::fs::copy(text_path(&other.path().join(FILE_NAME)), text_path(&path)).unwrap();
    let db = ProjectionDb::open_existing(&path, "sqlite").unwrap();
    assert_eq!(db.text_index_differences().unwrap().len(), 1);
    drop(db);
    let (db, _, fresh) = ProjectionDb::open(&path, "sqlite").unwrap();
    assert!(!fresh);
    assert_eq!(found(&db, "gembira").len(), 1);
    assert!(found(&db, "sekali").is_empty());
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
    drop(db);
    // Missing altogether: the same.
    remove_text_file(&dir);
    let (db, _, _) = ProjectionDb::open(&path, "sqlite").unwrap();
    assert_eq!(found(&db, "gembira").len(), 1);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
}

#[test]
fn a_round_cut_short_between_its_two_files_is_finished_before_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let (a, b, c) = (
        published(1, "Kabar gembira dari desa"),
        published(2, "Berita lain hari ini"),
        published(3, "Cerita ketiga yang baru"),
    );
    {
        let db = without_indexer(&dir);
        write_comments(&db, 3, vec![a.clone(), b.clone()]);
        // Step 1 only, as if the process died before the projection file let the rows go.
        assert_eq!(text_file::take(&mut db.text.lock()).unwrap(), 2);
        // Folds after the round's snapshot: `a` taken down (its row marked again), `c` new.
        let mut a_gone = a.clone();
        a_gone.status = Some(CommentStatus::Spam);
        write_comments(&db, 5, vec![a_gone, c.clone()]);
        assert!(found(&db, "gembira").is_empty());
        assert_eq!(found(&db, "lain"), vec![b.id]);
    }
    let db = ProjectionDb::open_existing(&path, "sqlite").unwrap();
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
    db.index_pending().unwrap();
    assert_eq!(db.text_pending_len().unwrap(), 0);
    // `a`'s entry, written by the cut round, was taken out again: the row marked again knew
    // the index held one.
    assert!(found(&db, "gembira").is_empty());
    assert_eq!(found(&db, "lain"), vec![b.id]);
    assert_eq!(found(&db, "ketiga"), vec![c.id]);
    let entries = number(&db, "SELECT count(*) FROM text.published_text");
    assert_eq!(entries, 2);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
}

#[test]
fn a_fold_does_not_wait_for_the_text_index_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = without_indexer(&dir);
    write_comments(&db, 1, vec![published(1, "Kabar gembira dari desa")]);
    // Another connection holds the index file's write lock (as a long merge step does), and
    // this process's index connection is busy too: the fold still commits at once, and its
    // comment is found (pending).
    let other = Connection::open(text_path(&dir.path().join(FILE_NAME))).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO meta VALUES ('held', 1);")
        .unwrap();
    let _busy = db.text.lock();
    // A fold that wrote to the index file would fail here with SQLITE_BUSY (after the busy
    // timeout), and `write_comments` unwraps.
    write_comments(&db, 2, vec![published(2, "Berita lain hari ini")]);
    assert_eq!(found(&db, "lain").len(), 1);
}

#[test]
fn the_text_index_merges_in_steps_of_its_own_and_search_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = without_indexer(&dir);
    // Serving opened it: FTS5 no longer merges inside an indexing round.
    let automerge = number(
        &db,
        "SELECT v FROM published_text_config WHERE k = 'automerge'",
    );
    assert_eq!(automerge, 0);
    // Twelve rounds leave twelve segments (fewer than FTS5's crisis merge, 16)...
    let mut all = Vec::new();
    for round in 0..12u64 {
        let comments: Vec<CommentRecord> = (0..10)
            .map(|i| published(round * 10 + i + 1, "isi komentar biasa"))
            .collect();
        all.extend(comments.iter().map(|c| c.id));
        write_comments(&db, (round + 1) * 10, comments);
        db.index_pending().unwrap();
    }
    // ... which the merge steps merge, a few pages at a time, until nothing is left to merge.
    let mut steps = 0;
    while text_file::merge_step(&mut db.text.lock()).unwrap() {
        steps += 1;
        assert!(steps < 1000, "merging does not end");
    }
    assert!(steps > 0, "nothing was merged");
    assert_eq!(search(&db, "komentar").1, all.len());
    // A comment taken down after the merge is gone from the merged segments too.
    let mut gone = published(1, "isi komentar biasa");
    gone.status = Some(CommentStatus::Deleted);
    write_comments(&db, 200, vec![gone]);
    db.index_pending().unwrap();
    while text_file::merge_step(&mut db.text.lock()).unwrap() {}
    assert_eq!(search(&db, "komentar").1, all.len() - 1);
    assert_eq!(db.text_index_differences().unwrap(), Vec::<String>::new());
}

/// SQLite's plan for `sql`, one line per step.
fn plan(db: &ProjectionDb, sql: &str) -> Vec<String> {
    db.read(|c| {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        // Unbound parameters are NULL, which the planner takes as any value.
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        let rows = stmt.query_map(params_from_iter(nulls), |r| r.get::<_, String>(3))?;
        rows.collect::<Result<Vec<_>, _>>()
    })
    .unwrap()
}

#[test]
fn the_hot_queries_go_down_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = ProjectionDb::open(&dir.path().join(FILE_NAME), "sqlite").unwrap();
    let cases = [
        (
            COMMENT_BY_ID,
            "SEARCH comments USING INDEX sqlite_autoindex_comments_1 (id=?)",
        ),
        (
            COMMENT_EXISTS,
            "SEARCH comments USING COVERING INDEX sqlite_autoindex_comments_1 (id=?)",
        ),
        (
            THREAD_PAGE,
            "SEARCH comments USING INDEX comments_thread (thread=? AND status=?)",
        ),
        (
            FIRST_IN_THREAD,
            "SEARCH comments USING INDEX comments_thread (thread=? AND status=?)",
        ),
        (
            AUTHOR_RECORD,
            "SEARCH comments USING INDEX comments_email (email=?)",
        ),
        (
            AUTHOR_COUNTS,
            "SEARCH author_counts USING PRIMARY KEY (kind=? AND key=?)",
        ),
        (
            SIGHTINGS_OF_BODY,
            "SEARCH sightings USING INDEX sightings_body (fingerprint=?)",
        ),
    ];
    for (sql, step) in cases {
        let steps = plan(&db, sql);
        assert!(steps.iter().any(|s| s == step), "{sql}: {steps:?}");
        // A scan of a million-row table, or a sort of what an index could give in order, would
        // pass every functional test and only show at scale.
        assert!(
            !steps
                .iter()
                .any(|s| s.starts_with("SCAN") || s.contains("ORDER BY")),
            "{sql}: {steps:?}"
        );
    }
}
