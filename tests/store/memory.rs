//! SQLite's memory budget (`sqlite_memory_bytes`, `saring::store::sqlite::limit_memory`): past
//! it a connection reuses its cached pages instead of growing its cache to `cache_size`.

use rusqlite::Connection;

/// The bytes of page cache `conn` holds now.
fn cache_used(conn: &Connection) -> i64 {
    let (mut current, mut highest) = (0, 0);
    // SAFETY: the handle stays valid while `conn` is borrowed, and the out-pointers are locals.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_db_status(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
            &mut current,
            &mut highest,
            0,
        )
    };
    assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
    i64::from(current)
}

/// Opens the file with a 64 MiB page cache and reads every row, so every page passes through
/// the cache; returns what the cache holds then.
fn read_all_through_a_large_cache(path: &std::path::Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA cache_size=-65536;").unwrap();
    let bytes: i64 = conn
        .query_row("SELECT sum(length(body)) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(bytes, 16_000 * 1000);
    cache_used(&conn)
}

#[test]
fn a_connection_caches_no_more_than_the_sqlite_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("budget.sqlite3");
    {
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);")
            .unwrap();
        let tx = conn.transaction().unwrap();
        // Rows smaller than a page, so that scanning the table reads every page (a blob's
        // length alone can be had without reading its overflow pages).
        for i in 0..16_000 {
            tx.execute("INSERT INTO t VALUES (?1, randomblob(1000))", [i])
                .unwrap();
        }
        tx.commit().unwrap();
    }
    const MIB: i64 = 1024 * 1024;

    saring::store::sqlite::limit_memory(0).unwrap();
    let unbounded = read_all_through_a_large_cache(&path);
    assert!(unbounded > 12 * MIB, "without a budget: {unbounded} bytes");

    saring::store::sqlite::limit_memory(2 * 1024 * 1024).unwrap();
    let probe = Connection::open_in_memory().unwrap();
    let limit: i64 = probe
        .query_row("PRAGMA soft_heap_limit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(limit, 2 * MIB);
    let bounded = read_all_through_a_large_cache(&path);
    saring::store::sqlite::limit_memory(0).unwrap();
    // The budget is the whole process's (other tests' connections count too), so this
    // connection holds at most the budget, plus the pages in use while it reads.
    assert!(bounded <= 3 * MIB, "with a 2 MiB budget: {bounded} bytes");
}
