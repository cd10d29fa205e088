//! Open d1plus bugs the fuzz targets step around (none open today), so that a long run finds new bugs instead
//! of these again. Each has its reproducer in `fuzz/regressions/<name>.txt` and an ignored
//! test in `tests/fuzz_replay.rs`. When a bug is fixed, delete its entry here, move its
//! reproducer to `fuzz/regressions/<target>/` and delete its ignored test.

use super::oracle::Step;
use d1plus::api::Database;
use d1plus::backend::sqlite::SqliteBackend;

/// Statements whose planning meets a known bug (none open).
pub fn planning(_sql: &str) -> Option<&'static str> {
    None
}

/// Statements SQLite reads less of than d1plus does (none open: SQL holding a NUL byte,
/// where SQLite stops, is refused before planning).
pub fn sqlite_reads_less(_sql: &str) -> Option<&'static str> {
    None
}

/// Oracle statements that meet a known bug before they run.
pub fn skipped(_db: &Database<SqliteBackend>, step: &Step) -> Option<&'static str> {
    planning(&step.sql).or_else(|| sqlite_reads_less(&step.sql))
}

/// Column names that differ for a known reason (none open).
pub fn column_names(_got: &[String], _want: &[String]) -> Option<&'static str> {
    None
}

/// Rows that differ for a known reason (none open).
pub fn rows(_step: &Step) -> Option<&'static str> {
    None
}
