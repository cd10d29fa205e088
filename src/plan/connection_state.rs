//! Statements that read the connection's state (`changes()`, `last_insert_rowid()`,
//! `total_changes()`). Each shard's connection keeps its own, so such a call means what one
//! SQLite's would only on the shard where the statement before it wrote: alone, such a
//! statement is refused; in a batch it is placed on the shard of the batch's previous write
//! (`plan::batch`).

use crate::error::{Error, ErrorCode};

/// Where a statement that reads the connection's state (`changes()`, `last_insert_rowid()`,
/// `total_changes()`) may run. Each shard's connection keeps its own, so such a call means
/// what one SQLite's would only on the shard where the statement before it wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConnectionState {
    /// Refused: a statement run alone has no write before it to be placed by.
    #[default]
    Refused,
    /// Planned, and placed by `Database::batch` on the shard of the batch's previous write.
    PlacedByBatch,
}

/// The refusal of a statement that reads the connection's state (`call`), and why it
/// cannot be placed on the shard whose state it means.
pub(crate) fn refused(call: &str, why: &str) -> Error {
    Error::with_remedy(
        ErrorCode::Unsupported,
        format!("{call} reads the connection's state, which each shard keeps for its own statements, and {why}"),
        "read `meta.changes` / `meta.last_row_id` of the write's own result, or use RETURNING; inside batch(), put the call right after a write that runs on one shard",
    )
}
