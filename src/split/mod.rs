//! `d1plus split`: online doubling of a local database's shards while it serves.
//!
//! Shard `i` of `n` becomes shards `2i` and `2i + 1` of `2n` (the placement rule keeps
//! every key's shard a prefix of its hash), in new files; the old files serve every read
//! and write until the cutover. One step, resumable at every transaction:
//!
//! 1. **Capture.** Triggers on every table of each old file record the rowid of each row
//!    inserted, updated or deleted in a change log (`_d1plus_split_log`), in the same
//!    transaction as the write, whichever process writes. Before an INSERT or UPDATE they
//!    also record the rows its new values collide with on a UNIQUE index, which an
//!    `OR REPLACE` deletes without firing a delete trigger.
//! 2. **Copy.** Each new file gets the schema (tables, indexes, views), then the old file's
//!    rows in rowid chunks, each chunk in one transaction that also records how far the
//!    copy got: sharded tables' rows by the placement rule among `2n`, reference tables'
//!    (and d1plus's own records') rows on both, unsharded tables' rows on the even shard.
//! 3. **Catch up.** The log is replayed in order: for each logged rowid the new file takes
//!    the row *as it is now* in the old file (or deletes it if it is gone), so a change
//!    made during the copy is never overwritten by an older copy and a deleted row never
//!    comes back. How far the replay got is committed with it.
//! 4. **Cutover.** Triggers on the old files refuse writes with `D1PLUS_RETRY`; the rest of
//!    the log is replayed; the copy is checked (every table's rows: old = even + odd, and
//!    the schemas); the new files get the app's triggers and the id floors; then the
//!    layout (`crate::layout`) is replaced in one rename, the commit point. Reads are never
//!    refused: until the rename the old files answer them, after it the new ones.
//! 5. **Cleanup.** `policy.json` takes the new shard count; the old files are deleted.
//!
//! A process killed at any point leaves the layout saying where the step is; running the
//! same command again resumes it. `--abort` before the rename drops the triggers and the
//! new files, and the old layout serves on as if nothing happened.
//!
//! Ids: each shard generates INTEGER PRIMARY KEY values in its own range (see
//! `plan::rowid_ranges`); shard `2i` keeps shard `i`'s range, and rows with ids of that
//! range may move to `2i + 1`, so the split leaves shard `2i` a floor in
//! `_d1plus_id_floor` that its generated ids stay above.

use crate::catalog::{self, Catalog};
use crate::error::{sqlite_message, Error, ErrorCode, Result};
use crate::layout::{self, Layout, Phase, SplitState};
use crate::lex::quote_ident;
use crate::placement;
use crate::plan::rowid_ranges;
use crate::policy::Policy;
use crate::value::{Affinity, Value};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod auto;
mod files;
mod step;

pub use auto::{auto_target, AutoDecision};
use files::*;
use step::Step;

/// The change log on each old file.
const LOG: &str = "_d1plus_split_log";
/// On each new file during the copy: how far each table's copy got.
const COPY: &str = "_d1plus_split_copy";
/// On each new file: how far the log replay got (and whether the file is final).
const CAUGHT: &str = "_d1plus_split_caught";
/// How long a split connection waits for another process's lock.
const BUSY: Duration = Duration::from_secs(10);

/// How a split runs.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// The shard count to end with (a power of two, at most 64). `None`: finish the split
    /// in progress, or double once.
    pub to: Option<usize>,
    /// Rows per copy transaction.
    pub chunk_rows: usize,
    /// Log entries per catch-up transaction.
    pub catch_up_batch: usize,
    /// The cutover starts when no old shard has more log entries left than this.
    pub cutover_backlog: usize,
    /// Stop (as a killed process would) after this many transactions: for tests.
    pub stop_after: Option<u64>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            to: None,
            chunk_rows: 10_000,
            catch_up_batch: 5_000,
            cutover_backlog: 1_000,
            stop_after: None,
        }
    }
}

/// Where a split is, for a progress display.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The step's shard counts.
    pub from: usize,
    /// The step's shard counts.
    pub to: usize,
    /// "copy", "catch-up", "cutover" or "done".
    pub stage: &'static str,
    /// The old shard being worked on.
    pub shard: usize,
    /// Rows copied so far in this step.
    pub rows: u64,
    /// Log entries replayed so far in this step.
    pub changes: u64,
}

/// What one doubling did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepReport {
    /// Shards before.
    pub from: usize,
    /// Shards after.
    pub to: usize,
    /// Rows copied (a reference table's row counts once per new file).
    pub rows: u64,
    /// Log entries replayed.
    pub changes: u64,
    /// How long writes were refused (the cutover).
    pub write_pause: Duration,
    /// How long the step took.
    pub elapsed: Duration,
}

/// Splits (or resumes a split of) the local database in `dir`.
pub fn split(
    dir: &Path,
    options: &SplitOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<StepReport>> {
    let mut ticks = Ticks(options.stop_after);
    let mut reports = Vec::new();
    loop {
        let (policy, mut layout) = layout::read(dir)?;
        cleanup(dir, &policy, &layout)?;
        let target = match (&layout.split, options.to) {
            (Some(s), Some(to)) if s.to != to => {
                return Err(Error::with_remedy(
                    ErrorCode::InvalidArgument,
                    format!(
                        "a split to {} shards is in progress; it cannot change to {to}",
                        s.to
                    ),
                    "run `d1plus split DIR` to finish it, or `d1plus split DIR --abort` first",
                ))
            }
            (Some(s), _) => s.to,
            (None, Some(to)) => to,
            (None, None) if reports.is_empty() => layout.shard_count * 2,
            (None, None) => layout.shard_count,
        };
        check_target(
            target,
            layout.shard_count,
            reports.is_empty() && layout.split.is_none(),
        )?;
        if layout.shard_count >= target {
            return Ok(reports);
        }
        if layout.split.is_none() {
            check_splittable(dir, &layout, &policy)?;
            let count = layout.shard_count * 2;
            layout.split = Some(SplitState {
                to: target,
                files: (0..count)
                    .map(|s| layout::split_file_name(s, count))
                    .collect(),
                phase: Phase::Copy,
            });
            layout.write(dir)?;
        }
        let step = Step::new(dir, &policy, layout)?;
        reports.push(step.run(options, &mut ticks, progress)?);
    }
}

fn check_target(target: usize, now: usize, fresh: bool) -> Result<()> {
    if !target.is_power_of_two() || target > 64 {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!("--to {target} is not a power of two from 1 to 64"),
            "choose 2, 4, 8, 16, 32 or 64",
        ));
    }
    // `--to` the count the database has is done (a split killed right after its last
    // cutover is rerun that way); fewer shards cannot be had by splitting.
    if fresh && target < now {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!("the database already has {now} shards; --to {target} would not add any"),
            "splitting only doubles: choose a larger power of two",
        ));
    }
    Ok(())
}

/// Returns to the layout before the split in progress (refused once its cutover
/// committed). Returns whether there was a split to abort.
pub fn abort(dir: &Path) -> Result<bool> {
    let (policy, mut layout) = layout::read(dir)?;
    let Some(state) = layout.split.take() else {
        return Ok(false);
    };
    for path in layout.paths(dir) {
        let conn = open(&path)?;
        drop_capture(&conn, &path)?;
    }
    layout.write(dir)?;
    for f in &state.files {
        remove_file(&dir.join(f))?;
    }
    cleanup(dir, &policy, &layout)?;
    Ok(true)
}

/// Counts transactions, to stop where a test says (as a killed process would).
struct Ticks(Option<u64>);

impl Ticks {
    fn tick(&mut self) -> Result<()> {
        match &mut self.0 {
            Some(0) => Err(Error::new(
                ErrorCode::Internal,
                "the split stopped where the test asked (run it again to resume)",
            )),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Refuses tables the copy cannot move row by row: virtual and WITHOUT ROWID tables, and
/// UNIQUE indexes on expressions (see `unique_indexes`).
fn check_splittable(dir: &Path, layout: &Layout, policy: &Policy) -> Result<()> {
    let path = dir.join(&layout.files[0]);
    let conn = open(&path)?;
    copy_tables(&conn, &path, policy)?;
    let mut stmt = conn
        .prepare(
            "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND type IN ('virtual', 'table')",
        )
        .map_err(|e| file_error(&path, e))?;
    let rows: Vec<(String, String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| file_error(&path, e))?;
    for (name, kind, without_rowid) in rows {
        if kind == "virtual" || without_rowid {
            return Err(Error::with_remedy(
                ErrorCode::Unsupported,
                format!(
                    "table {name} is a {} table: the split copies rows by rowid",
                    if kind == "virtual" {
                        "virtual"
                    } else {
                        "WITHOUT ROWID"
                    }
                ),
                "recreate it as an ordinary rowid table before splitting",
            ));
        }
    }
    Ok(())
}

use crate::reshard::sql::{trigger_name, Spread, TableSpec as CopyTable};

/// The tables of an old file as the split copies them (`crate::reshard::sql`, shared with
/// the split over D1 bindings).
fn copy_tables(conn: &Connection, path: &Path, policy: &Policy) -> Result<Vec<CopyTable>> {
    let catalog: Catalog = catalog::load_from(conn, 0).map_err(|e| file_error(path, e))?;
    let mut stmt = conn
        .prepare(crate::reshard::sql::UNIQUE_SQL)
        .map_err(|e| file_error(path, e))?;
    let unique: Vec<Vec<Value>> = stmt
        .query_map([], |r| {
            (0..5).map(|i| r.get_ref(i).map(Value::from)).collect()
        })
        .and_then(|r| r.collect())
        .map_err(|e| file_error(path, e))?;
    crate::reshard::sql::table_specs(&catalog, policy, &unique)
}
