//! One setting the log's and the projection file's SQLite connections take: statements are
//! planned once.
//!
//! SQLite (3.5x) compiles a `LIMIT ?n` bound to an integer into the statement as that constant,
//! and marks the parameter so that binding it again expires the statement: every execution of
//! a cached `… LIMIT ?` statement was parsed and planned again (the post's sightings lookup, a
//! command's stream read, the follower's log pages: `sqlite3Reprepare` under `sqlite3_step` in
//! the reader flow's profile). With the query planner stability guarantee on, plans never
//! depend on bound values, so a cached statement stays prepared. Nothing here relies on
//! value-dependent plans: there are no `sqlite_stat4` samples (no `ANALYZE`), and no `LIKE ?`
//! that an index could serve. Measured on a 10,000-row table with an index like `sightings`'s:
//! 12.4 µs per lookup with the guarantee off, 4.9 µs with it on, 6.2 µs with the limit written
//! into the SQL (docs/loadtest.md).

use rusqlite::Connection;
use rusqlite::config::DbConfig;

/// Turns the query planner stability guarantee on for `conn`, so cached statements with a
/// bound `LIMIT` are not prepared again at every execution.
pub(crate) fn plan_once(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached statement with a bound `LIMIT` keeps its compiled program across executions
    /// once the guarantee is on; without it, each binding expires it (SQLite's own counter of
    /// re-preparations says so).
    #[test]
    fn a_cached_statement_with_a_bound_limit_is_not_prepared_again() {
        let reprepares = |qpsg: bool| {
            let c = Connection::open_in_memory().unwrap();
            if qpsg {
                plan_once(&c).unwrap();
            }
            c.execute_batch(
                "CREATE TABLE s (seq INTEGER PRIMARY KEY, f INTEGER);
                 CREATE INDEX sf ON s (f, seq);
                 INSERT INTO s (f) VALUES (1), (2), (1);",
            )
            .unwrap();
            let mut st = c
                .prepare_cached("SELECT seq FROM s WHERE f = ?1 ORDER BY seq DESC LIMIT ?2")
                .unwrap();
            for f in 0..20 {
                let _: Vec<i64> = st
                    .query_map(rusqlite::params![f % 3, 2], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
            }
            st.get_status(rusqlite::StatementStatus::RePrepare)
        };
        assert!(reprepares(false) >= 19, "SQLite re-prepares without it");
        assert_eq!(reprepares(true), 0);
    }
}
