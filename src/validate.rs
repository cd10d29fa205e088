//! Validation (issue 10): a statement d1plus would refuse or fan out is first prepared by
//! SQLite itself against an in-memory copy of the schema, so SQL that SQLite rejects gets
//! SQLite's own error, word for word, instead of a refusal or of an answer from a rewrite
//! (`ORDER BY 2` over one column, an aggregate in the ORDER BY of a plain query, …).
//!
//! Writes that run on several shards (reference-table writes, INSERTs split across
//! shards, scatter writes) are checked the same way before anything runs, so a statement
//! SQLite rejects fails everywhere alike instead of half-applying; the verdict is kept per
//! (schema, text), so a repeated statement is prepared once. DDL and maintenance (REINDEX,
//! ANALYZE) are not checked: the copy holds tables and views only (no indexes or triggers).
//!
//! One copy per schema content (the tables' and views' CREATE statements, hashed), a few
//! kept per thread. A schema the copy cannot build (a virtual table whose module the
//! embedded SQLite lacks) is not validated. Errors that say the embedded SQLite or the copy
//! lacks something a shard may have (`no such function`, `no such module`, `no such index`)
//! are not taken as SQLite's verdict.

use crate::catalog::{Catalog, ObjectKind};
use crate::error::sqlite_message;
use std::cell::RefCell;

/// Schema copies kept per thread.
const KEPT: usize = 4;

thread_local! {
    static COPIES: RefCell<Vec<(u64, Option<rusqlite::Connection>)>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    static CONSTANTS: Option<rusqlite::Connection> = rusqlite::Connection::open_in_memory().ok();
}

/// The value SQLite gives a constant expression (`1 << 63`, `'a' || 'b'`), or None when
/// it fails (an error such as an overflow is the shard's to report). The caller makes
/// sure the text reads no column, parameter or function.
pub fn constant(expr: &str) -> Option<crate::value::Value> {
    CONSTANTS.with(|conn| {
        let conn = conn.as_ref()?;
        let mut st = conn.prepare(&format!("SELECT {expr}")).ok()?;
        if st.column_count() != 1 {
            return None;
        }
        st.query_row([], |row| row.get_ref(0).map(crate::value::Value::from))
            .ok()
    })
}

/// Why SQLite cannot prepare a statement: its message, and the byte offset it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// SQLite's text (`near "SELEKT": syntax error`).
    pub message: String,
    /// Where in the statement, when SQLite says.
    pub offset: Option<usize>,
}

/// Verdicts kept per thread, by (schema, SQL text).
const VERDICTS: usize = 512;

thread_local! {
    static CACHED: RefCell<std::collections::VecDeque<(u64, String, Option<Rejection>)>> =
        const { RefCell::new(std::collections::VecDeque::new()) };
}

/// [`sqlite_rejects`], remembered: the verdict depends only on the schema and the text, so
/// a statement repeated under one schema is prepared once (the last [`VERDICTS`] kept).
pub fn sqlite_rejects_cached(catalog: &Catalog, sql: &str) -> Option<Rejection> {
    let key = catalog.schema_hash;
    let hit = CACHED.with(|c| {
        let c = c.borrow();
        c.iter()
            .find(|(k, s, _)| *k == key && s == sql)
            .map(|(_, _, v)| v.clone())
    });
    if let Some(verdict) = hit {
        return verdict;
    }
    let verdict = sqlite_rejects(catalog, sql);
    CACHED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= VERDICTS {
            c.pop_front();
        }
        c.push_back((key, sql.to_owned(), verdict.clone()));
    });
    verdict
}

/// SQLite's own error for `sql` against the catalog's schema, if SQLite rejects it.
pub fn sqlite_rejects(catalog: &Catalog, sql: &str) -> Option<Rejection> {
    let key = catalog.schema_hash;
    COPIES.with(|copies| {
        let mut copies = copies.try_borrow_mut().ok()?;
        let at = match copies.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                if copies.len() >= KEPT {
                    copies.remove(0);
                }
                copies.push((key, build(catalog)));
                copies.len() - 1
            }
        };
        let conn = copies[at].1.as_ref()?;
        let (message, offset) = match conn.prepare_cached(sql) {
            Ok(_) => return None,
            Err(rusqlite::Error::SqlInputError { msg, offset, .. }) => {
                (msg, usize::try_from(offset).ok())
            }
            Err(e) => (sqlite_message(e), None),
        };
        // What the copy lacks and a shard may have; it holds no indexes (`INDEXED BY`).
        let lacks = [
            "no such function",
            "no such module",
            "unknown function",
            "no such index",
        ];
        if lacks.iter().any(|l| message.starts_with(l)) {
            return None;
        }
        Some(Rejection { message, offset })
    })
}

/// An in-memory database with the catalog's tables, then its views (each view after the
/// views it reads), or None when a table cannot be created here.
fn build(catalog: &Catalog) -> Option<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_in_memory().ok()?;
    let mut views = Vec::new();
    for t in catalog.tables() {
        match t.kind {
            ObjectKind::Table => conn.execute_batch(&t.sql).ok()?,
            ObjectKind::View => views.push(t.sql.as_str()),
        }
    }
    // Views in any order: retry those whose dependencies are not there yet.
    while !views.is_empty() {
        let before = views.len();
        views.retain(|v| conn.execute_batch(v).is_err());
        if views.len() == before {
            // A view over a dropped table: SQLite itself would reject reads of it alone.
            break;
        }
    }
    Some(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn catalog(script: &str) -> Catalog {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(script).unwrap();
        let mut stmt = conn.prepare(crate::catalog::LOAD_SQL).unwrap();
        let n = stmt.column_count();
        let rows: Vec<Vec<Value>> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get_ref(i).map(Value::from))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        Catalog::from_rows(&rows, 1)
    }

    #[test]
    fn sqlite_errors_come_back_word_for_word() {
        let c = catalog("CREATE TABLE t (a, b); CREATE VIEW v AS SELECT a FROM w; CREATE VIEW w AS SELECT a FROM t;");
        assert!(sqlite_rejects(&c, "SELECT a FROM t ORDER BY 1").is_none());
        assert!(sqlite_rejects(&c, "SELECT a FROM v").is_none());
        let e = sqlite_rejects(&c, "SELECT a FROM t ORDER BY 2").unwrap();
        assert_eq!(
            e.message,
            "1st ORDER BY term out of range - should be between 1 and 1"
        );
        let e = sqlite_rejects(&c, "SELECT group_concat(DISTINCT a, ':') FROM t").unwrap();
        assert!(e
            .message
            .contains("DISTINCT aggregates must have exactly one argument"));
        // The offset SQLite names, for backends that report it (D1 does).
        let e = sqlite_rejects(&c, "SELEKT a FROM t").unwrap();
        assert_eq!(e.message, "near \"SELEKT\": syntax error");
        assert_eq!(e.offset, Some(0));
        let e = sqlite_rejects(&c, "SELECT a FROM t WHERE a = = 1").unwrap();
        assert_eq!(e.offset, Some(26));
        // What the embedded SQLite may lack is not its verdict.
        assert!(sqlite_rejects(&c, "SELECT not_a_function(a) FROM t").is_none());
    }
}
