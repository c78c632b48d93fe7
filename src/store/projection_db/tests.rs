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
