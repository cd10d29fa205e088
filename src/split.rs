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

use crate::backend::sqlite::RETRY_MARKER;
use crate::catalog::{self, Catalog, ObjectKind};
use crate::error::{sqlite_message, Error, ErrorCode, Result};
use crate::layout::{self, Layout, Phase, SplitState};
use crate::lex::quote_ident;
use crate::placement;
use crate::plan::rowid_ranges;
use crate::policy::{Policy, TableKind};
use crate::value::{Affinity, Value};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    if fresh && target <= now {
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
        let conn = open(&path, false)?;
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
    let conn = open(&path, false)?;
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

/// Where a table's rows go among the two new files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spread {
    /// By the key (column index, affinity).
    Key(usize, Affinity),
    /// Reference tables and d1plus's own records: on both.
    Both,
    /// Unsharded tables: with the even half (the home shard stays shard 0).
    Even,
}

/// One table as the split copies it.
#[derive(Debug, Clone)]
struct CopyTable {
    name: String,
    spread: Spread,
    /// The name the rowid goes by (`rowid` unless a column took it).
    rowid: String,
    /// Stored columns, quoted and comma-separated.
    columns: String,
    /// The key column, quoted (sharded tables).
    key: Option<String>,
    /// The INTEGER PRIMARY KEY aliasing the rowid, if any.
    id_alias: bool,
    /// UNIQUE indexes over plain columns: their columns, quoted, with their collations.
    unique: Vec<Vec<(String, String)>>,
}

fn copy_tables(conn: &Connection, path: &Path, policy: &Policy) -> Result<Vec<CopyTable>> {
    let catalog: Catalog = catalog::load_from(conn, 0).map_err(|e| file_error(path, e))?;
    let mut out = Vec::new();
    for t in catalog.tables() {
        if t.kind != ObjectKind::Table {
            continue;
        }
        let Some(rowid) = ["rowid", "_rowid_", "oid"]
            .into_iter()
            .find(|r| t.column(r).is_none())
        else {
            return Err(Error::unsupported(
                format!("table {} has columns named rowid, _rowid_ and oid: the split cannot address its rows", t.name),
                "rename one of those columns before splitting",
            ));
        };
        let spread = match policy.table_kind(&t.name) {
            TableKind::Sharded => {
                let key = policy
                    .sharded_table(&t.name)
                    .map(|s| s.key_column.as_str())
                    .unwrap_or_default();
                let (i, c) = t.column(key).ok_or_else(|| {
                    Error::internal(format!("sharded table {} has no key column {key}", t.name))
                })?;
                Spread::Key(i, c.affinity)
            }
            TableKind::Reference => Spread::Both,
            TableKind::Unsharded if is_bookkeeping(&t.name) => Spread::Both,
            TableKind::Unsharded => Spread::Even,
        };
        let stored: Vec<String> = t
            .columns
            .iter()
            .filter(|c| !c.hidden)
            .map(|c| quote_ident(&c.name))
            .collect();
        out.push(CopyTable {
            name: t.name.clone(),
            key: match spread {
                Spread::Key(i, _) => Some(quote_ident(&t.columns[i].name)),
                _ => None,
            },
            spread,
            rowid: rowid.to_string(),
            columns: stored.join(", "),
            id_alias: t.rowid_alias.is_some(),
            unique: unique_indexes(conn, path, &t.name)?,
        });
    }
    Ok(out)
}

/// d1plus's and wrangler's records, which every shard keeps its own copy of.
fn is_bookkeeping(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("_d1plus_") || lower == "d1_migrations"
}

fn unique_indexes(
    conn: &Connection,
    path: &Path,
    table: &str,
) -> Result<Vec<Vec<(String, String)>>> {
    let err = |e| file_error(path, e);
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1")
        .map_err(err)?;
    let names: Vec<String> = stmt
        .query_map([table], |r| r.get(0))
        .and_then(|r| r.collect())
        .map_err(err)?;
    let mut out = Vec::new();
    for name in names {
        let mut stmt = conn
            .prepare(
                "SELECT cid, name, coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
            )
            .map_err(err)?;
        let cols: Vec<(i64, Option<String>, String)> = stmt
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|r| r.collect())
            .map_err(err)?;
        // The rows an OR REPLACE deletes through a UNIQUE index on an expression cannot be
        // found column by column, and no trigger sees them go.
        if cols.iter().any(|(cid, n, _)| *cid < 0 || n.is_none()) {
            return Err(Error::unsupported(
                format!("table {table} has a UNIQUE index on an expression ({name}): the split cannot follow the rows an OR REPLACE deletes through it"),
                "drop the index (or make it a plain column index) before splitting, and recreate it after",
            ));
        }
        out.push(
            cols.into_iter()
                .map(|(_, n, coll)| (quote_ident(&n.unwrap_or_default()), coll))
                .collect(),
        );
    }
    Ok(out)
}

/// One doubling step.
struct Step<'a> {
    dir: &'a Path,
    layout: Layout,
    state: SplitState,
    tables: Vec<CopyTable>,
    /// The app's schema, from the home shard.
    schema: AppSchema,
    report: StepReport,
}

impl<'a> Step<'a> {
    fn new(dir: &'a Path, policy: &Policy, layout: Layout) -> Result<Step<'a>> {
        let state = layout
            .split
            .clone()
            .ok_or_else(|| Error::internal("a split step without a split in the layout"))?;
        let home = dir.join(&layout.files[0]);
        let conn = open(&home, false)?;
        let tables = copy_tables(&conn, &home, policy)?;
        let schema = app_schema(&conn, &home)?;
        let report = StepReport {
            from: layout.shard_count,
            to: layout.shard_count * 2,
            ..StepReport::default()
        };
        Ok(Step {
            dir,
            layout,
            state,
            tables,
            schema,
            report,
        })
    }

    fn old(&self, i: usize) -> PathBuf {
        self.dir.join(&self.layout.files[i])
    }

    fn new_file(&self, s: usize) -> PathBuf {
        self.dir.join(&self.state.files[s])
    }

    fn run(
        mut self,
        options: &SplitOptions,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<StepReport> {
        let started = Instant::now();
        let n = self.layout.shard_count;
        if self.state.phase == Phase::Copy {
            for i in 0..n {
                let src = open(&self.old(i), false)?;
                install_capture(&src, &self.old(i), &self.tables)?;
                for s in [2 * i, 2 * i + 1] {
                    self.copy(i, s, options, ticks, progress)?;
                }
            }
            // Twice: the first pass replays what the copy took long to reach; the second
            // leaves the cutover only what arrived meanwhile.
            for _ in 0..2 {
                for i in 0..n {
                    for s in [2 * i, 2 * i + 1] {
                        self.catch_up(
                            i,
                            s,
                            options.catch_up_batch,
                            options.cutover_backlog,
                            ticks,
                            progress,
                        )?;
                    }
                }
            }
            ticks.tick()?;
            self.state.phase = Phase::Cutover;
            self.layout.split = Some(self.state.clone());
            self.layout.write(self.dir)?;
        }
        self.cutover(options, ticks, progress)?;
        self.report.elapsed = started.elapsed();
        progress(&self.progress("done", n.saturating_sub(1)));
        Ok(self.report)
    }

    fn progress(&self, stage: &'static str, shard: usize) -> Progress {
        Progress {
            from: self.report.from,
            to: self.report.to,
            stage,
            shard,
            rows: self.report.rows,
            changes: self.report.changes,
        }
    }

    /// Opens new file `s` (the copy of old shard `i`) with the old file attached as `src`,
    /// creating its schema first if the file has none yet (a file left by a process killed
    /// while creating it is started again).
    fn target(&self, i: usize, s: usize) -> Result<Connection> {
        let path = self.new_file(s);
        if path.exists() && !has_table(&open(&path, false)?, &path, CAUGHT)? {
            remove_file(&path)?;
        }
        let conn = open(&path, true)?;
        let err = |e| file_error(&path, e);
        // Until the new file is final, nothing but the split writes it: WAL with NORMAL
        // sync commits each chunk without an fsync, and a power loss can only lose the last
        // chunks (with the progress they recorded), never corrupt it.
        if !is_final(&conn, &path)? {
            conn.pragma_update(Some("main"), "journal_mode", "WAL")
                .map_err(err)?;
            conn.pragma_update(Some("main"), "synchronous", "NORMAL")
                .map_err(err)?;
        }
        conn.execute("ATTACH ?1 AS src", [self.old(i).to_string_lossy()])
            .map_err(err)?;
        conn.execute_batch("PRAGMA src.cache_size = -65536")
            .map_err(err)?;
        conn.create_scalar_function(
            "d1plus_shard",
            3,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |cx| {
                let affinity = match cx.get_raw(1).as_str().unwrap_or_default() {
                    "integer" => Affinity::Integer,
                    "text" => Affinity::Text,
                    "real" => Affinity::Real,
                    "numeric" => Affinity::Numeric,
                    _ => Affinity::Blob,
                };
                let count = cx.get::<i64>(2)?.clamp(1, 64) as usize;
                let shard = match (cx.get_raw(0), affinity) {
                    // The common keys, without copying them.
                    (ValueRef::Text(bytes), Affinity::Text | Affinity::Blob) => {
                        Ok(placement::shard_for_bytes(bytes, count))
                    }
                    (ValueRef::Integer(i), _) => {
                        placement::shard_for_key(&Value::Integer(i), affinity, count)
                    }
                    (raw, _) => placement::shard_for_key(&Value::from(raw), affinity, count),
                };
                // A key no shard can hold stays where it is (the even half).
                Ok(shard.map_or(-1, |s| s as i64))
            },
        )
        .map_err(err)?;
        if !has_table(&conn, &path, CAUGHT)? {
            self.create_schema(&conn, &path)?;
        }
        Ok(conn)
    }

    fn create_schema(&self, conn: &Connection, path: &Path) -> Result<()> {
        let mut sql = String::from("BEGIN;\n");
        for stmt in &self.schema.objects {
            sql.push_str(stmt);
            sql.push_str(";\n");
        }
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} (tbl TEXT PRIMARY KEY, floor INTEGER NOT NULL);\n",
            rowid_ranges::FLOOR_TABLE
        ));
        sql.push_str(&format!(
            "CREATE TABLE {COPY} (tbl TEXT PRIMARY KEY, after INTEGER, done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE {CAUGHT} (seq INTEGER NOT NULL, final INTEGER NOT NULL DEFAULT 0);\n\
             INSERT INTO {CAUGHT} VALUES (0, 0);\n"
        ));
        for t in &self.tables {
            sql.push_str(&format!(
                "INSERT INTO {COPY} (tbl) VALUES ({});\n",
                literal(&t.name)
            ));
        }
        sql.push_str("COMMIT;");
        run_script(conn, path, &sql)
    }

    /// Whether the rows of `t` belong on new shard `s`, as SQL over `src.t`.
    fn belongs(&self, t: &CopyTable, s: usize) -> String {
        let even = s % 2 == 0;
        match (t.spread, &t.key) {
            (Spread::Key(_, affinity), Some(key)) => {
                let aff = format!("{affinity:?}").to_ascii_lowercase();
                let shard = format!("d1plus_shard({key}, '{aff}', {})", self.report.to);
                // The even half takes every row that is not the odd half's, so a row
                // stays on some shard whatever its key.
                if even {
                    format!("{shard} <> {}", s + 1)
                } else {
                    format!("{shard} = {s}")
                }
            }
            (Spread::Both, _) => "1".into(),
            _ if even => "1".into(),
            _ => "0".into(),
        }
    }

    /// Copies old shard `i`'s rows to new shard `s`, chunk by chunk.
    fn copy(
        &mut self,
        i: usize,
        s: usize,
        options: &SplitOptions,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let conn = self.target(i, s)?;
        let path = self.new_file(s);
        let err = |e| file_error(&path, e);
        for t in self.tables.clone() {
            loop {
                let (after, done): (Option<i64>, bool) = conn
                    .query_row(
                        &format!("SELECT after, done FROM {COPY} WHERE tbl = ?1"),
                        [&t.name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(err)?
                    .unwrap_or((None, true));
                if done {
                    break;
                }
                ticks.tick()?;
                let (name, rowid) = (quote_ident(&t.name), &t.rowid);
                let after = after.unwrap_or(i64::MIN);
                let tx = Tx::begin(&conn, &path)?;
                let bound: Option<i64> = conn
                    .query_row(
                        &format!("SELECT max({rowid}) FROM (SELECT {rowid} FROM src.{name} WHERE {rowid} > ?1 ORDER BY {rowid} LIMIT ?2)"),
                        rusqlite::params![after, options.chunk_rows as i64],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                let copied = match bound {
                    Some(bound) => conn
                        .execute(
                            &format!(
                                "INSERT OR REPLACE INTO main.{name} ({rowid}, {cols}) SELECT {rowid}, {cols} FROM src.{name} \
                                 WHERE {rowid} > ?1 AND {rowid} <= ?2 AND {}",
                                self.belongs(&t, s),
                                cols = t.columns
                            ),
                            [after, bound],
                        )
                        .map_err(err)?,
                    None => 0,
                };
                conn.execute(
                    &format!("UPDATE {COPY} SET after = ?1, done = ?2 WHERE tbl = ?3"),
                    rusqlite::params![bound, bound.is_none(), t.name],
                )
                .map_err(err)?;
                tx.commit()?;
                self.report.rows += copied as u64;
                progress(&self.progress("copy", i));
            }
        }
        // Every row is in: build the indexes (each once, also when resumed).
        for (name, sql) in &self.schema.indexes {
            if !has_object(&conn, &path, name)? {
                ticks.tick()?;
                conn.execute_batch(sql).map_err(err)?;
            }
        }
        Ok(())
    }

    /// Replays old shard `i`'s change log on new shard `s` until at most `leave` entries
    /// are left (0: all of them).
    fn catch_up(
        &mut self,
        i: usize,
        s: usize,
        batch: usize,
        leave: usize,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let conn = self.target(i, s)?;
        let path = self.new_file(s);
        let err = |e| file_error(&path, e);
        loop {
            let caught: i64 = conn
                .query_row(&format!("SELECT seq FROM {CAUGHT}"), [], |r| r.get(0))
                .map_err(err)?;
            let left: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM src.{LOG} WHERE seq > ?1"),
                    [caught],
                    |r| r.get(0),
                )
                .map_err(err)?;
            if left == 0 || left as usize <= leave {
                return Ok(());
            }
            ticks.tick()?;
            let tx = Tx::begin(&conn, &path)?;
            let entries: Vec<(i64, String, i64)> = {
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT seq, tbl, rid FROM src.{LOG} WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))
                    .map_err(err)?;
                let rows = stmt
                    .query_map([caught, batch as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(err)?;
                rows
            };
            let mut touched: Vec<(String, i64)> =
                entries.iter().map(|(_, t, r)| (t.clone(), *r)).collect();
            touched.sort();
            touched.dedup();
            // Every touched row goes first, then each comes back as it is now: the rows
            // this transaction leaves are the old file's at one instant.
            for (tname, rid) in &touched {
                if let Some(t) = self.tables.iter().find(|t| &t.name == tname) {
                    conn.execute(
                        &format!(
                            "DELETE FROM main.{} WHERE {} = ?1",
                            quote_ident(&t.name),
                            t.rowid
                        ),
                        [rid],
                    )
                    .map_err(err)?;
                }
            }
            for (tname, rid) in &touched {
                if let Some(t) = self.tables.iter().find(|t| &t.name == tname) {
                    conn.execute(
                        &format!(
                            "INSERT OR REPLACE INTO main.{name} ({rowid}, {cols}) SELECT {rowid}, {cols} FROM src.{name} \
                             WHERE {rowid} = ?1 AND {}",
                            self.belongs(t, s),
                            name = quote_ident(&t.name),
                            rowid = t.rowid,
                            cols = t.columns
                        ),
                        [rid],
                    )
                    .map_err(err)?;
                }
            }
            let last = entries.last().map_or(caught, |e| e.0);
            conn.execute(&format!("UPDATE {CAUGHT} SET seq = ?1"), [last])
                .map_err(err)?;
            tx.commit()?;
            self.report.changes += entries.len() as u64;
            progress(&self.progress("catch-up", i));
        }
    }

    fn cutover(
        &mut self,
        options: &SplitOptions,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let n = self.layout.shard_count;
        let paused = Instant::now();
        for i in 0..n {
            let src = open(&self.old(i), false)?;
            install_pause(&src, &self.old(i), &self.tables)?;
        }
        progress(&self.progress("cutover", 0));
        for i in 0..n {
            for s in [2 * i, 2 * i + 1] {
                self.catch_up(i, s, options.catch_up_batch, 0, ticks, progress)?;
            }
            ticks.tick()?;
            if let Err(e) = self.finish_pair(i) {
                // Writes go on in the old layout while the operator looks (or aborts).
                self.resume_writes()?;
                return Err(e);
            }
        }
        ticks.tick()?;
        let mut layout = self.layout.clone();
        layout.version += 1;
        layout.shard_count = self.report.to;
        layout.files = self.state.files.clone();
        layout.split = (self.state.to > self.report.to).then(|| SplitState {
            to: self.state.to,
            files: (0..2 * self.report.to)
                .map(|s| layout::split_file_name(s, 2 * self.report.to))
                .collect(),
            phase: Phase::Copy,
        });
        // The commit point: from here on every process reads and writes the new files.
        layout.write(self.dir)?;
        self.report.write_pause = paused.elapsed();
        Ok(())
    }

    /// Drops the pause triggers from the old files and goes back to the copy phase.
    fn resume_writes(&mut self) -> Result<()> {
        for i in 0..self.layout.shard_count {
            let path = self.old(i);
            let conn = open(&path, false)?;
            let mut sql = String::from("BEGIN IMMEDIATE;\n");
            for t in &self.tables {
                for op in ["insert", "update", "delete"] {
                    sql.push_str(&format!(
                        "DROP TRIGGER IF EXISTS {};\n",
                        trigger_name("pause", op, &t.name)
                    ));
                }
            }
            sql.push_str("COMMIT;");
            run_script(&conn, &path, &sql)?;
        }
        self.state.phase = Phase::Copy;
        self.layout.split = Some(self.state.clone());
        self.layout.write(self.dir)
    }

    /// Checks new shards `2i` and `2i + 1` against old shard `i` (with writes paused and
    /// the log replayed) and makes them final: the app's triggers, the id floors, the
    /// sequence table. Idempotent: a file already final is left alone.
    fn finish_pair(&mut self, i: usize) -> Result<()> {
        let even = self.target(i, 2 * i)?;
        let odd = self.target(i, 2 * i + 1)?;
        self.verify(i, &even, &odd)?;
        for (s, conn) in [(2 * i, &even), (2 * i + 1, &odd)] {
            let path = self.new_file(s);
            let err = |e| file_error(&path, e);
            if is_final(conn, &path)? {
                continue;
            }
            let tx = Tx::begin(conn, &path)?;
            if has_table(conn, &path, "sqlite_sequence")? {
                conn.execute_batch(
                    "DELETE FROM main.sqlite_sequence; INSERT INTO main.sqlite_sequence SELECT * FROM src.sqlite_sequence",
                )
                .map_err(err)?;
            }
            if s % 2 == 0 {
                self.floors(i, conn, &path)?;
            }
            for t in &self.schema.triggers {
                conn.execute_batch(t).map_err(err)?;
            }
            conn.execute_batch(&format!("DROP TABLE {COPY}; UPDATE {CAUGHT} SET final = 1"))
                .map_err(err)?;
            tx.commit()?;
            // Like every shard file: a rollback journal (this checkpoints and syncs it).
            conn.pragma_update(Some("main"), "journal_mode", "DELETE")
                .map_err(err)?;
        }
        Ok(())
    }

    /// Every table's rows: old = even + odd for sharded tables, old = each for the others
    /// on both, old = even for unsharded ones; and the same schema.
    fn verify(&self, i: usize, even: &Connection, odd: &Connection) -> Result<()> {
        let count = |conn: &Connection, schema: &str, t: &str| -> Result<i64> {
            conn.query_row(
                &format!("SELECT count(*) FROM {schema}.{}", quote_ident(t)),
                [],
                |r| r.get(0),
            )
            .map_err(|e| Error::internal(sqlite_message(e)))
        };
        // The floors are the split's own writes (see `floors`).
        for t in self
            .tables
            .iter()
            .filter(|t| t.name != rowid_ranges::FLOOR_TABLE)
        {
            let old = count(even, "src", &t.name)?;
            let (e, o) = (count(even, "main", &t.name)?, count(odd, "main", &t.name)?);
            let ok = match t.spread {
                Spread::Key(..) => e + o == old,
                Spread::Both => e == old && o == old,
                Spread::Even => e == old && o == 0,
            };
            if !ok {
                return Err(Error::with_remedy(
                    ErrorCode::Internal,
                    format!(
                        "the split's copy of {} differs from shard {i}: {old} rows there, {e} and {o} in the new shards {} and {}",
                        t.name,
                        2 * i,
                        2 * i + 1
                    ),
                    "run `d1plus split DIR --abort` (the old shards are intact) and report this",
                ));
            }
        }
        let (old, mut new) = (app_schema_of(even, "src")?, app_schema_of(even, "main")?);
        if !is_final(even, Path::new(""))? {
            new.triggers = self.schema.triggers.clone();
        }
        if old.sorted() != new.sorted() {
            return Err(Error::with_remedy(
                ErrorCode::Retry,
                format!("the schema of shard {i} changed during the split"),
                "run `d1plus split DIR --abort`, then split again",
            ));
        }
        Ok(())
    }

    /// Leaves new shard `2i` a floor above the ids old shard `i` generated (some of those
    /// rows may now be on `2i + 1`).
    fn floors(&self, i: usize, conn: &Connection, path: &Path) -> Result<()> {
        let start = rowid_ranges::range_start(i, self.layout.shard_count);
        let (low, high) = (start + rowid_ranges::GENERATED, start + rowid_ranges::RANGE);
        for t in self
            .tables
            .iter()
            .filter(|t| t.id_alias && matches!(t.spread, Spread::Key(..)))
        {
            conn.execute(
                &format!(
                    "INSERT INTO {floor} (tbl, floor) SELECT ?1, m FROM (SELECT max({rowid}) AS m FROM src.{name} \
                     WHERE {rowid} >= ?2 AND {rowid} < ?3) WHERE m IS NOT NULL \
                     ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor)",
                    floor = rowid_ranges::FLOOR_TABLE,
                    rowid = t.rowid,
                    name = quote_ident(&t.name),
                ),
                rusqlite::params![t.name, low, high],
            )
            .map_err(|e| file_error(path, e))?;
        }
        Ok(())
    }
}

/// An open transaction, rolled back unless committed.
struct Tx<'c> {
    conn: &'c Connection,
    path: &'c Path,
    open: bool,
}

impl<'c> Tx<'c> {
    /// A deferred transaction: the new file is written, the attached old file only read
    /// (holding its shared lock no longer than the transaction).
    fn begin(conn: &'c Connection, path: &'c Path) -> Result<Tx<'c>> {
        conn.execute_batch("BEGIN")
            .map_err(|e| file_error(path, e))?;
        Ok(Tx {
            conn,
            path,
            open: true,
        })
    }

    fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| file_error(self.path, e))
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report from a rollback on the way out of an error.
            let _rolled_back = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The app's schema objects: what the copy creates first, last, and at the cutover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AppSchema {
    /// Tables and views, in creation order.
    objects: Vec<String>,
    /// Indexes made with CREATE INDEX, not UNIQUE (built after the rows are in: faster
    /// than row by row).
    indexes: Vec<(String, String)>,
    /// Triggers (made at the cutover, so the copy does not fire them).
    triggers: Vec<String>,
}

impl AppSchema {
    /// Every object's SQL, sorted: what two files with the same schema agree on.
    fn sorted(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .objects
            .iter()
            .chain(self.indexes.iter().map(|(_, sql)| sql))
            .chain(&self.triggers)
            .map(String::as_str)
            .collect();
        all.sort_unstable();
        all
    }
}

fn app_schema(conn: &Connection, path: &Path) -> Result<AppSchema> {
    app_schema_of(conn, "main")
        .map_err(|e| Error::backend(None, format!("{}: {e}", path.display())))
}

fn app_schema_of(conn: &Connection, schema: &str) -> Result<AppSchema> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT type, name, sql FROM {schema}.sqlite_schema WHERE sql IS NOT NULL \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\' \
             AND name <> '{}' ORDER BY rowid",
            rowid_ranges::FLOOR_TABLE
        ))
        .map_err(|e| Error::internal(sqlite_message(e)))?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|r| r.collect())
        .map_err(|e| Error::internal(sqlite_message(e)))?;
    let mut out = AppSchema::default();
    for (kind, name, sql) in rows {
        match kind.as_str() {
            "trigger" => out.triggers.push(sql),
            // A UNIQUE index is there from the start: the copy's OR REPLACE relies on it.
            "index" if !is_unique_index(&sql) => out.indexes.push((name, sql)),
            _ => out.objects.push(sql),
        }
    }
    Ok(out)
}

fn is_unique_index(sql: &str) -> bool {
    crate::lex::significant(sql)
        .get(1)
        .is_some_and(|t| t.is_keyword(sql, "UNIQUE"))
}

fn trigger_name(kind: &str, op: &str, table: &str) -> String {
    quote_ident(&format!("_d1plus_split_{kind}_{op}_{table}"))
}

/// The change log and its triggers on an old file (idempotent).
fn install_capture(conn: &Connection, path: &Path, tables: &[CopyTable]) -> Result<()> {
    let mut sql = format!(
        "BEGIN IMMEDIATE;\nCREATE TABLE IF NOT EXISTS {LOG} (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, rid INTEGER NOT NULL);\n"
    );
    for t in tables {
        let (name, tbl, r) = (quote_ident(&t.name), literal(&t.name), &t.rowid);
        let log = |row: &str| format!("INSERT INTO {LOG} (tbl, rid) VALUES ({tbl}, {row});");
        // The rows an OR REPLACE would delete: those the new values collide with.
        let collisions: String = t
            .unique
            .iter()
            .map(|cols| {
                let cond: Vec<String> = cols
                    .iter()
                    .map(|(c, coll)| format!("{c} = NEW.{c} COLLATE {}", quote_ident(coll)))
                    .collect();
                format!(
                    "INSERT INTO {LOG} (tbl, rid) SELECT {tbl}, {r} FROM {name} WHERE {};",
                    cond.join(" AND ")
                )
            })
            .collect();
        sql.push_str(&format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {name} BEGIN {} END;\n\
             CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {name} BEGIN {} {} END;\n\
             CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {name} BEGIN {} END;\n",
            trigger_name("log", "insert", &t.name),
            log(&format!("NEW.{r}")),
            trigger_name("log", "update", &t.name),
            log(&format!("OLD.{r}")),
            log(&format!("NEW.{r}")),
            trigger_name("log", "delete", &t.name),
            log(&format!("OLD.{r}")),
        ));
        if !collisions.is_empty() {
            sql.push_str(&format!(
                "CREATE TRIGGER IF NOT EXISTS {} BEFORE INSERT ON {name} BEGIN {collisions} END;\n\
                 CREATE TRIGGER IF NOT EXISTS {} BEFORE UPDATE ON {name} BEGIN {collisions} END;\n",
                trigger_name("collide", "insert", &t.name),
                trigger_name("collide", "update", &t.name),
            ));
        }
    }
    sql.push_str("COMMIT;");
    run_script(conn, path, &sql)
}

/// Triggers that refuse every write to an old file with `D1PLUS_RETRY` (idempotent).
fn install_pause(conn: &Connection, path: &Path, tables: &[CopyTable]) -> Result<()> {
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    for t in tables {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            sql.push_str(&format!(
                "CREATE TRIGGER IF NOT EXISTS {} BEFORE {op} ON {} BEGIN SELECT RAISE(ABORT, '{RETRY_MARKER}: a split is moving this shard'); END;\n",
                trigger_name("pause", &op.to_ascii_lowercase(), &t.name),
                quote_ident(&t.name)
            ));
        }
    }
    sql.push_str("COMMIT;");
    run_script(conn, path, &sql)
}

/// Drops the split's triggers and log from an old file.
fn drop_capture(conn: &Connection, path: &Path) -> Result<()> {
    let err = |e| file_error(path, e);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_d1plus\\_split%' ESCAPE '\\'")
        .map_err(err)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|r| r.collect())
        .map_err(err)?;
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    for n in names {
        sql.push_str(&format!("DROP TRIGGER IF EXISTS {};\n", quote_ident(&n)));
    }
    sql.push_str(&format!("DROP TABLE IF EXISTS {LOG};\nCOMMIT;"));
    run_script(conn, path, &sql)
}

/// Runs a `BEGIN; …; COMMIT;` script, rolled back if a statement fails.
fn run_script(conn: &Connection, path: &Path, sql: &str) -> Result<()> {
    conn.execute_batch(sql).map_err(|e| {
        if !conn.is_autocommit() {
            // The error to report is the statement's; a failed rollback adds nothing.
            let _rolled_back = conn.execute_batch("ROLLBACK");
        }
        file_error(path, e)
    })
}

/// After a cutover: deletes the files no layout names any more (a killed cleanup is
/// finished by the next command), drops the copy's bookkeeping from the live files, and
/// writes the layout's shard count into `policy.json`.
fn cleanup(dir: &Path, policy: &Policy, layout: &Layout) -> Result<()> {
    if layout.version == 0 {
        return Ok(());
    }
    let live: Vec<&String> = layout
        .files
        .iter()
        .chain(layout.split.iter().flat_map(|s| &s.files))
        .collect();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::backend(None, format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let base = ["-journal", "-wal", "-shm"]
            .iter()
            .fold(name.as_str(), |n, suffix| n.trim_end_matches(suffix));
        if base.starts_with("shard-")
            && base.ends_with(".sqlite")
            && !live.iter().any(|l| *l == base)
        {
            remove_file(&entry.path())?;
        }
    }
    for path in layout.paths(dir) {
        let conn = open(&path, false)?;
        if has_table(&conn, &path, CAUGHT)? {
            conn.execute_batch(&format!(
                "DROP TABLE IF EXISTS {CAUGHT}; DROP TABLE IF EXISTS {COPY}"
            ))
            .map_err(|e| file_error(&path, e))?;
        }
    }
    let on_disk = layout::read_policy(dir)?;
    if on_disk.shard_count() != layout.shard_count {
        layout::write_atomically(dir, layout::POLICY_FILE, &policy.to_json_pretty())?;
    }
    Ok(())
}

fn open(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.is_file() {
        return Err(Error::backend(
            None,
            format!("shard file {} is missing", path.display()),
        ));
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| file_error(path, e))?;
    conn.busy_timeout(BUSY).map_err(|e| file_error(path, e))?;
    // 64 MB of page cache per database (and per attached one): the copy reads and writes
    // every page, and SQLite's default of 8 MB rereads them.
    conn.execute_batch("PRAGMA cache_size = -65536")
        .map_err(|e| file_error(path, e))?;
    // Rows arrive in rowid order, not in the order foreign keys would need.
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(|e| file_error(path, e))?;
    Ok(conn)
}

/// Whether a new file has been made final (`finish_pair`).
fn is_final(conn: &Connection, path: &Path) -> Result<bool> {
    if !has_table(conn, path, CAUGHT)? {
        return Ok(false);
    }
    conn.query_row(&format!("SELECT final FROM main.{CAUGHT}"), [], |r| {
        r.get(0)
    })
    .map_err(|e| file_error(path, e))
}

fn has_object(conn: &Connection, path: &Path, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM main.sqlite_schema WHERE name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| file_error(path, e))
}

fn has_table(conn: &Connection, path: &Path, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| file_error(path, e))
}

fn remove_file(path: &Path) -> Result<()> {
    for p in [
        path.to_path_buf(),
        PathBuf::from(format!("{}-journal", path.display())),
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::backend(
                    None,
                    format!("cannot remove {}: {e}", p.display()),
                ))
            }
        }
    }
    Ok(())
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn file_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::backend(None, format!("{}: {}", path.display(), sqlite_message(e)))
}

/// What `d1plus split --auto` decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoDecision {
    /// The shard count to split to, if any.
    pub to: Option<usize>,
    /// Why, in a sentence.
    pub reason: String,
}

/// Decides whether `"mode": "auto"` capacity splits now: when a shard's file passes
/// `splitAtBytes` (default [`crate::policy::DEFAULT_SPLIT_AT_BYTES`]) or its sharded
/// tables hold more than `splitAtRows` rows, and the database has fewer than
/// `maxShardCount` shards, it doubles once. A split in progress is resumed.
pub fn auto_target(dir: &Path) -> Result<AutoDecision> {
    let (policy, layout) = layout::read(dir)?;
    if let Some(s) = &layout.split {
        return Ok(AutoDecision {
            to: Some(s.to),
            reason: format!("resuming the split to {} shards", s.to),
        });
    }
    let crate::policy::Capacity::Auto {
        max_shard_count,
        split_at_bytes,
        split_at_rows,
        ..
    } = policy.capacity
    else {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            "--auto splits by the policy's \"auto\" capacity, and this policy's capacity is not auto",
            "set \"capacity\": {\"mode\": \"auto\", \"targetShardCount\": N, \"maxShardCount\": M} in policy.json, or split with --to",
        ));
    };
    let bytes_limit = split_at_bytes.unwrap_or(crate::policy::DEFAULT_SPLIT_AT_BYTES);
    let mut largest = (0u64, 0u64);
    let mut passing = None;
    for (i, path) in layout.paths(dir).iter().enumerate() {
        let (bytes, rows) = shard_size(path, &policy)?;
        largest = (largest.0.max(bytes), largest.1.max(rows));
        let over_rows = split_at_rows.is_some_and(|r| rows > r);
        if passing.is_none() && (bytes > bytes_limit || over_rows) {
            passing = Some((i, bytes, rows));
        }
    }
    let n = layout.shard_count;
    let rows_limit = split_at_rows.map_or("no row limit".to_string(), |r| format!("{r} rows"));
    Ok(match passing {
        None => AutoDecision {
            to: None,
            reason: format!(
                "no shard passes the thresholds ({bytes_limit} bytes, {rows_limit}); the largest has {} bytes and {} rows",
                largest.0, largest.1
            ),
        },
        Some((i, bytes, rows)) if n >= max_shard_count => AutoDecision {
            to: None,
            reason: format!(
                "shard {i} passes the thresholds ({bytes} bytes, {rows} rows), but the database already has maxShardCount ({max_shard_count}) shards"
            ),
        },
        Some((i, bytes, rows)) => AutoDecision {
            to: Some(2 * n),
            reason: format!(
                "shard {i} passes the thresholds ({bytes} bytes, {rows} rows against {bytes_limit} bytes, {rows_limit}): splitting {n} -> {} shards",
                2 * n
            ),
        },
    })
}

/// A shard file's bytes and rows of sharded tables.
fn shard_size(path: &Path, policy: &Policy) -> Result<(u64, u64)> {
    let conn = open(path, false)?;
    let err = |e| file_error(path, e);
    let bytes: i64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let mut rows = 0u64;
    for t in &policy.sharding.tables {
        if has_table(&conn, path, &t.name)? {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {}", quote_ident(&t.name)),
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            rows += n as u64;
        }
    }
    Ok((bytes as u64, rows))
}
