//! Open d1plus bugs the fuzz targets step around, so that a long run finds new bugs instead
//! of these again. Each has its reproducer in `fuzz/regressions/<name>.txt` and an ignored
//! test in `tests/fuzz_replay.rs`. When a bug is fixed, delete its entry here, move its
//! reproducer to `fuzz/regressions/<target>/` and delete its ignored test.

use super::oracle::Step;
use d1plus::api::Database;
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::lex::significant;

/// Statements whose planning meets a known bug:
/// - `end-alias-order-by`: `FROM users END ORDER BY id` (END as a table alias, which
///   SQLite takes) is an internal error of src/plan/select_merge.rs.
pub fn planning(sql: &str) -> Option<&'static str> {
    let toks = significant(sql);
    let word = |k: &str| toks.iter().any(|t| t.is_keyword(sql, k));
    (word("END") && !word("CASE")).then_some("end-alias-order-by")
}

/// `nul-ends-sqlite-statement`: SQLite ends a statement at a NUL byte, d1plus's lexer
/// reads comments past it (src/lex.rs), so d1plus routes text SQLite never runs.
pub fn sqlite_reads_less(sql: &str) -> Option<&'static str> {
    sql.contains('\0').then_some("nul-ends-sqlite-statement")
}

/// Oracle statements that meet a known bug before they run.
pub fn skipped(_db: &Database<SqliteBackend>, step: &Step) -> Option<&'static str> {
    planning(&step.sql).or_else(|| sqlite_reads_less(&step.sql))
}

/// `aggregate-column-name-spelling`: a fanned-out aggregate names a bare column as it is
/// spelled (`TENANTID`), SQLite by its declaration (`tenantId`).
pub fn column_names(got: &[String], want: &[String]) -> Option<&'static str> {
    (got.len() == want.len() && got.iter().zip(want).all(|(g, w)| g.eq_ignore_ascii_case(w)))
        .then_some("aggregate-column-name-spelling")
}

/// Rows that differ for a known reason (none open).
pub fn rows(_step: &Step) -> Option<&'static str> {
    None
}
