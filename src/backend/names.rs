//! The column names of the statements a shard connection runs, kept between calls.
//!
//! Reading a prepared statement's names costs a point read more than the rest of its Rust
//! side: an FFI call, a length and a UTF-8 check per column, a string each, and freeing them
//! all again after the answer is read (about 2,000 instructions for six columns, where
//! routing the statement takes about 1,000). A statement's names change only when SQLite
//! prepares it again, so they are read once per prepared statement and shared
//! ([`Columns`]) by every answer after that.
//!
//! Whether the statement is the one whose names were kept is told by SQLite's own counters
//! for it (`sqlite3_stmt_status`):
//! - `SQLITE_STMTSTATUS_REPREPARE` goes up each time SQLite prepares the statement again
//!   (after a schema change, by this connection or another), and the new names come with it;
//! - `SQLITE_STMTSTATUS_RUN` goes up on each run. Kept names are used only when the counter
//!   reads, before this run, exactly what it read after the run that kept them. A statement
//!   prepared afresh (rusqlite's cache dropped the old one) starts from 0, below any count a
//!   run has left, so its names are read again.
//!
//! Texts run by other means on the same connection (transaction control, the size pragma)
//! are ones whose names never change, so a count they move can only cause a re-read.

use crate::value::Columns;
use rusqlite::{Statement, StatementStatus};
use std::cell::Cell;
use std::collections::HashMap;

/// At most this many texts are kept; past it the map starts over (a statement's names are
/// then read once more). rusqlite keeps 128 prepared statements per shard.
const CAPACITY: usize = 512;

/// Longer texts are not kept (their names are read each time, a small part of running
/// them), so the map holds at most `CAPACITY * LONGEST` bytes of text.
const LONGEST: usize = 4096;

/// The names kept for one statement text.
pub(super) struct Kept {
    columns: Columns,
    /// `SQLITE_STMTSTATUS_RUN` after the last run that used or kept them.
    runs: Cell<i32>,
    /// `SQLITE_STMTSTATUS_REPREPARE` when they were kept.
    reprepares: i32,
}

/// Column names by statement text, for one connection.
#[derive(Default)]
pub(super) struct KnownNames {
    by_sql: HashMap<Box<str>, Kept, ahash::RandomState>,
    /// The empty list, shared (statements without columns).
    none: Columns,
}

impl KnownNames {
    /// Call before stepping `stmt` (prepared from `sql`): the names kept for it, if it is
    /// the statement they were read from.
    pub(super) fn before(&self, sql: &str, stmt: &Statement<'_>) -> Option<&Kept> {
        // What `read` never keeps is not looked up (a long INSERT's text is not hashed).
        if sql.len() > LONGEST || stmt.column_count() == 0 {
            return None;
        }
        let kept = self.by_sql.get(sql)?;
        (kept.runs.get() == stmt.get_status(StatementStatus::Run)).then_some(kept)
    }

    /// Reads the names of `stmt` (prepared from `sql`, stepped to its end) and keeps them.
    pub(super) fn read(&mut self, sql: &str, stmt: &Statement<'_>) -> Columns {
        if stmt.column_count() == 0 {
            return self.none.clone();
        }
        let columns: Columns = stmt.column_names().map(String::from).collect();
        if sql.len() > LONGEST {
            return columns;
        }
        if self.by_sql.len() >= CAPACITY && !self.by_sql.contains_key(sql) {
            self.by_sql.clear();
        }
        let kept = Kept {
            columns: columns.clone(),
            runs: Cell::new(stmt.get_status(StatementStatus::Run)),
            reprepares: stmt.get_status(StatementStatus::RePrepare),
        };
        self.by_sql.insert(sql.into(), kept);
        columns
    }
}

impl Kept {
    /// The kept names, if `stmt` (found by [`KnownNames::before`], then stepped to its end)
    /// was not prepared again meanwhile.
    pub(super) fn still(&self, stmt: &Statement<'_>) -> Option<Columns> {
        let same = stmt.get_status(StatementStatus::RePrepare) == self.reprepares
            && stmt.column_count() == self.columns.len();
        if !same {
            return None;
        }
        self.runs.set(stmt.get_status(StatementStatus::Run));
        Some(self.columns.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// Runs `sql` on `conn` the way the backend does, returning its names.
    fn names_of(known: &mut KnownNames, conn: &Connection, sql: &str) -> Columns {
        let mut stmt = conn.prepare_cached(sql).unwrap();
        let kept = known.before(sql, &stmt);
        let mut rows = stmt.raw_query();
        while rows.next().unwrap().is_some() {}
        drop(rows);
        match kept.and_then(|k| k.still(&stmt)) {
            Some(columns) => columns,
            None => known.read(sql, &stmt),
        }
    }

    #[test]
    fn what_is_kept_is_bounded() {
        let conn = Connection::open_in_memory().unwrap();
        let mut known = KnownNames::default();
        for i in 0..CAPACITY + 10 {
            let sql = format!("SELECT {i} AS c{i}");
            assert_eq!(names_of(&mut known, &conn, &sql)[..], [format!("c{i}")]);
            assert!(known.by_sql.len() <= CAPACITY);
        }
        let long = format!("SELECT 1 AS \"{}\"", "n".repeat(LONGEST));
        assert_eq!(names_of(&mut known, &conn, &long)[0].len(), LONGEST);
        assert!(
            !known.by_sql.contains_key(long.as_str()),
            "a long text is not kept"
        );
        // Statements without columns share one empty list and keep nothing.
        let before = known.by_sql.len();
        assert!(names_of(&mut known, &conn, "CREATE TABLE t(a)").is_empty());
        assert_eq!(known.by_sql.len(), before);
    }
}
