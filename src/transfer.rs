//! Moving a whole database in and out of local shards.
//!
//! `import` takes a SQL dump (what `sqlite3 DB .dump` or `wrangler d1 export` writes) or a
//! SQLite database file, and puts every row where the policy places it: a sharded table's
//! rows on their key's shard, a reference table's rows on every shard, an unsharded table's
//! rows on the home shard. Ids keep their values.
//!
//! It is **resumable and never half-done without saying so**:
//! 1. every row's placement is checked before anything is written; a row that cannot be
//!    placed is reported (table, rowid, reason) and nothing is written;
//! 2. tables and indexes are created on every shard (through the proxy, like any DDL);
//! 3. each shard receives all its rows in one transaction, which also records the import
//!    (in a `_d1plus_import` table) on that shard: a shard holds all of its rows or none;
//! 4. views and triggers are created (after the rows, so triggers do not fire on them), the
//!    home shard records that the import is complete, and the records are dropped.
//!
//! A failure (or a killed process) at any point leaves shards that either hold their part
//! and say so, or hold nothing of it; running the same command again completes the import.
//!
//! `export` writes the logical database (or one shard's content) as a dump that `sqlite3`
//! and `wrangler d1 execute --file` load: no transaction statements (D1 refuses them), one
//! INSERT per row, `PRAGMA defer_foreign_keys` first.

use crate::api::Database;
use crate::backend::sqlite::SqliteBackend;
use crate::error::{sqlite_message, Error, ErrorCode, Result};
use crate::placement;
use crate::plan::ShardId;
use crate::policy::TableKind;
use crate::value::{Affinity, Value};
use futures::executor::block_on;
use rusqlite::{Connection, OpenFlags};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The table each shard records an import in, while it runs.
const MARKER: &str = "_d1plus_import";
/// The marker row that says the whole import is complete (on the home shard).
const DONE: i64 = -1;
/// Unplaceable rows reported before giving up.
const MAX_REPORTED: usize = 20;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Tables imported.
    pub tables: usize,
    /// Rows in the source.
    pub rows: u64,
    /// Row copies written (a reference table's row counts once per shard).
    pub written: u64,
    /// Shards that already held their part (a resumed import).
    pub resumed: usize,
}

/// How far an import is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Row copies written so far.
    pub done: u64,
    /// Row copies to write.
    pub total: u64,
    /// Since the rows phase started.
    pub elapsed: std::time::Duration,
    /// The shard being written.
    pub shard: ShardId,
}

/// One schema object of the source.
struct Object {
    kind: String,
    name: String,
    sql: String,
}

/// A source table: its columns (generated columns left out) and where its rows go.
struct Table {
    name: String,
    columns: Vec<String>,
    kind: TableKind,
    /// Sharded: the key's position in `columns` and its affinity.
    key: Option<(usize, Affinity)>,
    /// Sharded with an INTEGER PRIMARY KEY: its position in `columns`.
    rowid_alias: Option<usize>,
    rows: u64,
}

/// Imports `file` into `db` (whose shards are the files in a local directory). The import
/// is identified by the source's content: running it again resumes it. `progress` is
/// called as rows are written; an error it returns stops the import (the shard being
/// written then holds nothing of it, as after a crash).
pub fn import(
    db: &Database<SqliteBackend>,
    file: &Path,
    scratch_dir: &Path,
    progress: &mut dyn FnMut(Progress) -> Result<()>,
) -> Result<ImportReport> {
    let (source, id, scratch) = open_source(file, scratch_dir)?;
    let result = import_from(db, &source, &id, progress);
    drop(source);
    if let Some(path) = scratch {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn import_from(
    db: &Database<SqliteBackend>,
    source: &Connection,
    id: &str,
    progress: &mut dyn FnMut(Progress) -> Result<()>,
) -> Result<ImportReport> {
    let objects = source_objects(source)?;
    let n = db.policy().shard_count();
    let tables: Vec<Table> = objects
        .iter()
        .filter(|o| o.kind == "table")
        .map(|o| source_table(db, source, &o.name))
        .collect::<Result<_>>()?;
    // 1. Every row must have a place before anything is written.
    check_placements(source, &tables, n)?;
    let in_progress = (0..n).any(|s| marker_rows(db, s, id).is_ok_and(|m| !m.is_empty()));
    if !in_progress {
        check_target_empty(db, &tables)?;
    }
    // 2. Tables and indexes, on every shard.
    for o in objects
        .iter()
        .filter(|o| o.kind == "table" || o.kind == "index")
    {
        create_once(db, o)?;
    }
    for s in 0..n {
        db.backend()
            .with_connection(s, |c| {
                c.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {MARKER} (id TEXT NOT NULL, shard INTEGER NOT NULL, PRIMARY KEY (id, shard))"
                ))
            })?
            .map_err(|e| shard_error(s, e))?;
    }
    // 3. Each shard's rows in one transaction with its record.
    let mut report = ImportReport {
        tables: tables.len(),
        rows: tables.iter().map(|t| t.rows).sum(),
        ..ImportReport::default()
    };
    copy_rows(db, source, &tables, id, &mut report, progress)?;
    // 4. Views and triggers; then the import is complete, and its records go.
    for o in objects
        .iter()
        .filter(|o| o.kind == "view" || o.kind == "trigger")
    {
        create_once(db, o)?;
    }
    db.backend()
        .with_connection(0, |c| {
            c.execute(
                &format!("INSERT OR IGNORE INTO {MARKER} VALUES (?1, ?2)"),
                rusqlite::params![id, DONE],
            )
        })?
        .map_err(|e| shard_error(0, e))?;
    // The home shard's record last: until it goes, a rerun knows the import is complete.
    for s in (0..n).rev() {
        db.backend()
            .with_connection(s, |c| {
                c.execute_batch(&format!("DROP TABLE IF EXISTS {MARKER}"))
            })?
            .map_err(|e| shard_error(s, e))?;
    }
    block_on(db.reload_catalog())?;
    Ok(report)
}

/// Phase 3: each shard's rows in one transaction with the shard's record; shards that
/// hold their part already (or all, once the import is complete) are skipped.
fn copy_rows(
    db: &Database<SqliteBackend>,
    source: &Connection,
    tables: &[Table],
    id: &str,
    report: &mut ImportReport,
    progress: &mut dyn FnMut(Progress) -> Result<()>,
) -> Result<()> {
    let n = db.policy().shard_count();
    // The home shard's record of a complete import outlives the shards' own records.
    let home_done = marker_rows(db, 0, id)?.contains(&DONE);
    let total: u64 = tables
        .iter()
        .map(|t| match t.kind {
            TableKind::Reference => t.rows * n as u64,
            _ => t.rows,
        })
        .sum();
    let started = Instant::now();
    let mut done = 0u64;
    for s in 0..n {
        if home_done || marker_rows(db, s, id)?.contains(&(s as i64)) {
            report.resumed += 1;
            done += tables
                .iter()
                .map(|t| rows_for(source, t, s, n))
                .sum::<Result<u64>>()?;
            continue;
        }
        let mut report_progress = |k| {
            progress(Progress {
                done: done + k,
                total,
                elapsed: started.elapsed(),
                shard: s,
            })
        };
        let written = db.backend().with_connection(s, |c| {
            copy_shard(source, c, tables, s, n, id, &mut report_progress)
        })??;
        done += written;
        report.written += written;
    }
    progress(Progress {
        done,
        total,
        elapsed: started.elapsed(),
        shard: n - 1,
    })?;
    Ok(())
}

/// The source as a SQLite connection, the import's id (a hash of the file), and the scratch
/// file a dump was loaded into (removed after the import).
fn open_source(file: &Path, scratch_dir: &Path) -> Result<(Connection, String, Option<PathBuf>)> {
    let bytes = std::fs::read(file).map_err(|e| {
        Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!("cannot read {}: {e}", file.display()),
            "give a SQL dump (sqlite3 DB .dump, wrangler d1 export) or a SQLite database file",
        )
    })?;
    let id = format!("{:016x}", xxhash_rust::xxh64::xxh64(&bytes, 0));
    if bytes.starts_with(b"SQLite format 3\0") {
        let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| source_error(file, e))?;
        return Ok((conn, id, None));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!(
                "{} is neither a SQLite database nor UTF-8 SQL text",
                file.display()
            ),
            "give a SQL dump (sqlite3 DB .dump, wrangler d1 export) or a SQLite database file",
        )
    })?;
    // SQLite itself reads the dump, into a scratch database beside the shards.
    let scratch = scratch_dir.join(format!(".import-{id}.sqlite"));
    let _ = std::fs::remove_file(&scratch);
    let conn = Connection::open(&scratch).map_err(|e| source_error(&scratch, e))?;
    if let Err(e) = conn.execute_batch(&text) {
        drop(conn);
        let _ = std::fs::remove_file(&scratch);
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!(
                "the dump {} does not load in SQLite: {}",
                file.display(),
                sqlite_message(e)
            ),
            "check that it is a complete dump; nothing was imported",
        ));
    }
    Ok((conn, id, Some(scratch)))
}

fn source_error(file: &Path, e: rusqlite::Error) -> Error {
    Error::new(
        ErrorCode::InvalidArgument,
        format!("cannot open {}: {}", file.display(), sqlite_message(e)),
    )
}

fn shard_error(shard: ShardId, e: rusqlite::Error) -> Error {
    Error::backend(Some(shard), sqlite_message(e))
}

/// The source's schema objects in creation order, internal ones left out.
fn source_objects(source: &Connection) -> Result<Vec<Object>> {
    let mut stmt = source
        .prepare(
            "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' \
             AND name NOT LIKE '\\_d1plus\\_%' ESCAPE '\\' ORDER BY rowid",
        )
        .map_err(|e| Error::backend(None, sqlite_message(e)))?;
    let objects = stmt
        .query_map([], |r| {
            Ok(Object {
                kind: r.get(0)?,
                name: r.get(1)?,
                sql: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<Object>>>())
        .map_err(|e| Error::backend(None, sqlite_message(e)))?;
    if let Some(v) = objects.iter().find(|o| {
        o.sql
            .to_ascii_uppercase()
            .starts_with("CREATE VIRTUAL TABLE")
    }) {
        return Err(Error::with_remedy(
            ErrorCode::Unsupported,
            format!("virtual table {} cannot be imported", v.name),
            "create it after the import and fill it from its source table",
        ));
    }
    Ok(objects)
}

fn quote(name: &str) -> String {
    crate::lex::quote_ident(name)
}

/// A source table's columns and placement.
fn source_table(db: &Database<SqliteBackend>, source: &Connection, name: &str) -> Result<Table> {
    let err = |e| Error::backend(None, sqlite_message(e));
    let mut stmt = source
        .prepare(&format!("PRAGMA table_xinfo({})", quote(name)))
        .map_err(err)?;
    // (name, declared type, primary key position, hidden)
    let cols: Vec<(String, String, i64, i64)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(err)?;
    let cols: Vec<(String, String, i64)> = cols
        .into_iter()
        .filter(|c| c.3 == 0)
        .map(|(n, t, pk, _)| (n, t, pk))
        .collect();
    let policy = db.policy();
    let kind = policy.table_kind(name);
    let key = match policy.sharded_table(name) {
        Some(st) => {
            let Some(i) = cols
                .iter()
                .position(|c| c.0.eq_ignore_ascii_case(&st.key_column))
            else {
                return Err(Error::with_remedy(
                    ErrorCode::InvalidPolicy,
                    format!(
                        "table {name} of the source has no column {}, its shard key in the policy",
                        st.key_column
                    ),
                    "fix the policy's keyColumn for this table",
                ));
            };
            Some((i, Affinity::from_declared_type(&cols[i].1)))
        }
        None => None,
    };
    let single_pk: Vec<usize> = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| c.2 > 0)
        .map(|(i, _)| i)
        .collect();
    let rowid_alias = match single_pk.as_slice() {
        [i] if cols[*i].1.eq_ignore_ascii_case("INTEGER") && kind == TableKind::Sharded => Some(*i),
        _ => None,
    };
    let rows: i64 = source
        .query_row(&format!("SELECT count(*) FROM {}", quote(name)), [], |r| {
            r.get(0)
        })
        .map_err(err)?;
    Ok(Table {
        name: name.to_string(),
        columns: cols.into_iter().map(|c| c.0).collect(),
        kind,
        key,
        rowid_alias,
        rows: rows as u64,
    })
}

/// The SELECT that reads a source table's rows, in rowid order where there is one.
fn select_all(t: &Table, source: &Connection) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
    let without_rowid = source
        .prepare(&format!("SELECT rowid FROM {} LIMIT 0", quote(&t.name)))
        .is_err();
    format!(
        "SELECT {} FROM {}{}",
        cols.join(", "),
        quote(&t.name),
        if without_rowid { "" } else { " ORDER BY rowid" }
    )
}

/// The shard a sharded table's row goes to, or why it has none.
fn place(t: &Table, row: &[Value], n: usize) -> std::result::Result<ShardId, String> {
    let Some((k, affinity)) = t.key else {
        return Ok(0);
    };
    let shard = placement::shard_for_key(&row[k], affinity, n).map_err(|e| e.to_string())?;
    if let Some(Value::Integer(id)) = t.rowid_alias.map(|i| &row[i]) {
        match crate::plan::rowid_ranges::generator_of(*id, n) {
            Some(Some(g)) if g != shard => {
                return Err(format!(
                    "its id {id} is in the range shard {g} generates ids from, but its key belongs on shard {shard}"
                ))
            }
            Some(None) => {
                return Err(format!(
                    "its id {id} is in a range reserved for shards a split will add"
                ))
            }
            _ => {}
        }
    }
    Ok(shard)
}

fn read_row(r: &rusqlite::Row<'_>, width: usize) -> rusqlite::Result<Vec<Value>> {
    (0..width).map(|i| r.get_ref(i).map(Value::from)).collect()
}

/// Checks every row of every sharded table has a place; reports the first few that do not.
fn check_placements(source: &Connection, tables: &[Table], n: usize) -> Result<()> {
    let mut bad = Vec::new();
    let mut count = 0usize;
    for t in tables.iter().filter(|t| t.key.is_some()) {
        let err = |e| Error::backend(None, sqlite_message(e));
        let mut stmt = source.prepare(&select_all(t, source)).map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut index = 0u64;
        while let Some(r) = rows.next().map_err(err)? {
            index += 1;
            let row = read_row(r, t.columns.len()).map_err(err)?;
            if let Err(why) = place(t, &row, n) {
                count += 1;
                if bad.len() < MAX_REPORTED {
                    let shown: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                    bad.push(format!(
                        "  {} row {index} ({}): {why}",
                        t.name,
                        shown.join(", ")
                    ));
                }
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::with_remedy(
        ErrorCode::InvalidArgument,
        format!(
            "{count} row{} cannot be placed on a shard; nothing was imported:\n{}",
            if count == 1 { "" } else { "s" },
            bad.join("\n")
        ),
        "fix those rows in the source (or the policy), then import again",
    ))
}

/// An import into a database that already holds rows of its tables would mix them.
fn check_target_empty(db: &Database<SqliteBackend>, tables: &[Table]) -> Result<()> {
    let catalog = db.catalog();
    for t in tables.iter().filter(|t| catalog.get(&t.name).is_some()) {
        for s in 0..db.policy().shard_count() {
            let has_rows = db
                .backend()
                .with_connection(s, |c| {
                    c.query_row(
                        &format!("SELECT 1 FROM {} LIMIT 1", quote(&t.name)),
                        [],
                        |_| Ok(()),
                    )
                })?
                .is_ok();
            if has_rows {
                return Err(Error::with_remedy(
                    ErrorCode::InvalidArgument,
                    format!(
                        "the database already holds rows of table {}; nothing was imported",
                        t.name
                    ),
                    "import into a new database (d1plus init), or drop the table first",
                ));
            }
        }
    }
    Ok(())
}

/// The import records on shard `s`: the shards whose part is in, and DONE when complete.
fn marker_rows(db: &Database<SqliteBackend>, s: ShardId, id: &str) -> Result<Vec<i64>> {
    db.backend().with_connection(s, |c| {
        let Ok(mut stmt) = c.prepare(&format!("SELECT shard FROM {MARKER} WHERE id = ?1")) else {
            return Vec::new(); // no record table: nothing recorded
        };
        stmt.query_map([id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .unwrap_or_default()
    })
}

/// Creates a schema object through the proxy unless the home shard has it already (a
/// resumed import); with other SQL, refuses.
fn create_once(db: &Database<SqliteBackend>, o: &Object) -> Result<()> {
    let existing: Option<String> = db.backend().with_connection(0, |c| {
        c.query_row(
            "SELECT sql FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE",
            [&o.name],
            |r| r.get(0),
        )
        .ok()
    })?;
    match existing {
        Some(sql) if sql == o.sql => Ok(()),
        Some(_) => Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!("the database already has a {} named {} with another definition; nothing more was imported", o.kind, o.name),
            "import into a new database (d1plus init), or drop it first",
        )),
        None => block_on(db.query(&o.sql, &[], None)).map(|_| ()),
    }
}

/// Rows of `t` that belong on shard `s`.
fn rows_for(source: &Connection, t: &Table, s: ShardId, n: usize) -> Result<u64> {
    Ok(match t.kind {
        TableKind::Reference => t.rows,
        TableKind::Unsharded => u64::from(s == 0) * t.rows,
        TableKind::Sharded => {
            let err = |e| Error::backend(None, sqlite_message(e));
            let mut stmt = source.prepare(&select_all(t, source)).map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            let mut k = 0;
            while let Some(r) = rows.next().map_err(err)? {
                let row = read_row(r, t.columns.len()).map_err(err)?;
                k += u64::from(place(t, &row, n) == Ok(s));
            }
            k
        }
    })
}

/// Writes shard `s`'s rows of every table and the shard's record, in one transaction.
fn copy_shard(
    source: &Connection,
    shard: &Connection,
    tables: &[Table],
    s: ShardId,
    n: usize,
    id: &str,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<u64> {
    let err = |e| shard_error(s, e);
    shard
        .execute_batch("BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON")
        .map_err(err)?;
    let copied = (|| -> Result<u64> {
        let mut written = 0u64;
        progress(0)?;
        for t in tables {
            if t.kind == TableKind::Unsharded && s != 0 {
                continue;
            }
            let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
            let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
            let mut insert = shard
                .prepare(&format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    quote(&t.name),
                    cols.join(", "),
                    marks.join(", ")
                ))
                .map_err(err)?;
            let src_err = |e| Error::backend(None, sqlite_message(e));
            let mut stmt = source.prepare(&select_all(t, source)).map_err(src_err)?;
            let mut rows = stmt.query([]).map_err(src_err)?;
            while let Some(r) = rows.next().map_err(src_err)? {
                let row = read_row(r, t.columns.len()).map_err(src_err)?;
                if t.kind == TableKind::Sharded && place(t, &row, n) != Ok(s) {
                    continue;
                }
                insert
                    .execute(rusqlite::params_from_iter(row.iter()))
                    .map_err(|e| {
                        Error::backend(
                            Some(s),
                            format!(
                                "{} (table {}): {}",
                                sqlite_message(e),
                                t.name,
                                row_text(&row)
                            ),
                        )
                    })?;
                written += 1;
                if written % 4096 == 0 {
                    progress(written)?;
                }
            }
        }
        shard
            .execute(
                &format!("INSERT INTO {MARKER} VALUES (?1, ?2)"),
                rusqlite::params![id, s as i64],
            )
            .map_err(err)?;
        Ok(written)
    })();
    // A deferred foreign key fails at COMMIT (a row whose parent lives on another shard).
    let committed = copied.and_then(|written| {
        shard
            .execute_batch("COMMIT")
            .map(|()| written)
            .map_err(|e| {
                Error::backend(
                    Some(s),
                    format!("{} (at the end of shard {s}'s rows: a foreign key whose parent row is on another shard?)", sqlite_message(e)),
                )
            })
    });
    if committed.is_err() && !shard.is_autocommit() {
        let _ = shard.execute_batch("ROLLBACK");
    }
    committed
}

fn row_text(row: &[Value]) -> String {
    let shown: Vec<String> = row.iter().take(8).map(|v| v.to_string()).collect();
    format!("({})", shown.join(", "))
}

/// Writes the logical database, or shard `shard`'s content, as a dump. Returns the rows
/// written.
pub fn export(
    db: &Database<SqliteBackend>,
    shard: Option<ShardId>,
    out: &mut dyn Write,
) -> Result<u64> {
    let n = db.policy().shard_count();
    if let Some(s) = shard.filter(|s| *s >= n) {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "shard {s} does not exist: the database has {n} shards (0 to {})",
                n - 1
            ),
        ));
    }
    let schema_shard = shard.unwrap_or(0);
    let objects: Vec<Object> = db
        .backend()
        .with_connection(schema_shard, source_objects)??;
    let io = |e: std::io::Error| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("cannot write the dump: {e}"),
        )
    };
    writeln!(out, "PRAGMA defer_foreign_keys=TRUE;").map_err(io)?;
    let mut rows = 0u64;
    for o in objects.iter().filter(|o| o.kind == "table") {
        writeln!(out, "{};", o.sql).map_err(io)?;
        let kind = db.policy().table_kind(&o.name);
        let from: Vec<ShardId> = match (shard, kind) {
            (Some(s), _) => vec![s],
            (None, TableKind::Sharded) => (0..n).collect(),
            (None, _) => vec![0],
        };
        for s in from {
            rows += db
                .backend()
                .with_connection(s, |c| dump_rows(c, &o.name, out))??;
        }
    }
    for o in objects.iter().filter(|o| o.kind != "table") {
        writeln!(out, "{};", o.sql).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(rows)
}

/// One `INSERT` per row of `table` on this connection.
fn dump_rows(c: &Connection, table: &str, out: &mut dyn Write) -> Result<u64> {
    let err = |e| Error::backend(None, sqlite_message(e));
    let mut info = c
        .prepare(&format!("PRAGMA table_xinfo({})", quote(table)))
        .map_err(err)?;
    let cols: Vec<String> = info
        .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(6)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(err)?
        .into_iter()
        .filter(|c| c.1 == 0)
        .map(|c| quote(&c.0))
        .collect();
    let head = format!("INSERT INTO {} ({}) VALUES(", quote(table), cols.join(","));
    let mut stmt = c
        .prepare(&format!("SELECT {} FROM {}", cols.join(", "), quote(table)))
        .map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let mut count = 0;
    let mut line = String::new();
    while let Some(r) = rows.next().map_err(err)? {
        line.clear();
        line.push_str(&head);
        for i in 0..cols.len() {
            if i > 0 {
                line.push(',');
            }
            crate::value::push_sql_literal(&mut line, r.get_ref(i).map_err(err)?);
        }
        line.push_str(");\n");
        out.write_all(line.as_bytes()).map_err(|e| {
            Error::new(
                ErrorCode::InvalidArgument,
                format!("cannot write the dump: {e}"),
            )
        })?;
        count += 1;
    }
    Ok(count)
}
