//! Local SQLite files, one per shard: `DIR/shard-00.sqlite`, `DIR/shard-01.sqlite`, ...
//!
//! This is the native backend and the embedded default for development and tests: D1 *is*
//! SQLite, so a shard here behaves as a D1 database does (foreign keys on, SQLite's own
//! error text, the same storage classes).
//!
//! Each shard is one [`rusqlite::Connection`] behind a mutex, with a prepared-statement
//! cache. [`SqliteBackend::run`] executes a lone batch inline on the caller's thread (a
//! single-shard query costs what a direct rusqlite call costs) and fans several batches
//! out on scoped threads, at most [`SqliteBackend::max_concurrency`] at a time.

use super::{Backend, ShardBatch, ShardId, ShardMeta, ShardStatement, StatementOutput};
use crate::error::{sqlite_message, Error, ErrorCode};
use crate::value::Value;
use futures::future::LocalBoxFuture;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many batches run at once by default: a Worker may hold 6 connections at once, and
/// keeping the native bound the same makes local runs behave like deployed ones.
pub const DEFAULT_MAX_CONCURRENCY: usize = 6;

/// Prepared statements kept per shard connection.
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// How long a shard waits for another process's lock before reporting `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Database size in bytes, read after every statement that may change the database.
const SIZE_SQL: &str = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";

/// D1 shards as local SQLite databases, one connection per shard.
pub struct SqliteBackend {
    shards: Vec<Mutex<Shard>>,
    max_concurrency: usize,
}

/// One shard's connection and what we remember about it between statements.
struct Shard {
    conn: Connection,
    /// Database size in bytes after the last statement that could change it. Read-only
    /// statements report this value instead of asking SQLite again.
    size: u64,
    /// The column names of the statements run here.
    names: super::names::KnownNames,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("shard_count", &self.shards.len())
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

/// The file of shard `shard` in `dir`: `dir/shard-03.sqlite` (two digits, zero-padded).
pub fn shard_path(dir: &Path, shard: ShardId) -> PathBuf {
    dir.join(format!("shard-{shard:02}.sqlite"))
}

impl SqliteBackend {
    /// Creates `dir` (if needed) and one new, empty SQLite file per shard. Fails, touching
    /// nothing, if any of the shard files already exists: creating never adopts old data.
    pub fn create(dir: &Path, shard_count: usize) -> Result<Self, Error> {
        check_shard_count(shard_count)?;
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::backend(
                None,
                format!("cannot create shard directory {}: {e}", dir.display()),
            )
        })?;
        let paths: Vec<PathBuf> = (0..shard_count).map(|s| shard_path(dir, s)).collect();
        for (shard, path) in paths.iter().enumerate() {
            if path.exists() {
                return Err(Error::backend(
                    Some(shard),
                    format!(
                        "shard file {} already exists; open the existing shards instead of creating them",
                        path.display()
                    ),
                ));
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let shards = paths
            .iter()
            .enumerate()
            .map(|(shard, path)| open_shard(shard, path, flags))
            .collect::<Result<_, _>>()?;
        Ok(Self::from_shards(shards))
    }

    /// Opens the existing shard files in `dir`. Fails, naming the file, if one is missing.
    pub fn open(dir: &Path, shard_count: usize) -> Result<Self, Error> {
        check_shard_count(shard_count)?;
        // More shard files than the policy says means the policy does not describe this
        // directory: routing with it would look for rows on the wrong shards.
        let extra = shard_path(dir, shard_count);
        if extra.exists() {
            return Err(Error::new(
                crate::error::ErrorCode::InvalidPolicy,
                format!(
                    "{} holds more shard files than the {shard_count} the policy names (found {})",
                    dir.display(),
                    extra.display()
                ),
            ));
        }
        let files: Vec<PathBuf> = (0..shard_count).map(|s| shard_path(dir, s)).collect();
        Self::open_files(dir, &files)
    }

    /// Opens existing shard files, shard `i` in `files[i]` (a split's layout names them;
    /// see `crate::layout`). Fails, naming the file, if one is missing.
    pub fn open_files(dir: &Path, files: &[PathBuf]) -> Result<Self, Error> {
        check_shard_count(files.len())?;
        // Without SQLITE_OPEN_CREATE SQLite would refuse too, but only with
        // "unable to open database file"; say which file is missing.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let shards = files
            .iter()
            .enumerate()
            .map(|(shard, path)| {
                if !path.is_file() {
                    return Err(Error::backend(
                        Some(shard),
                        format!(
                            "shard file {} is missing ({} shards expected in {})",
                            path.display(),
                            files.len(),
                            dir.display()
                        ),
                    ));
                }
                open_shard(shard, path, flags)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::from_shards(shards))
    }

    /// `shard_count` private in-memory databases, for tests.
    pub fn in_memory(shard_count: usize) -> Result<Self, Error> {
        check_shard_count(shard_count)?;
        let shards = (0..shard_count)
            .map(|shard| {
                let conn = Connection::open_in_memory().map_err(|e| sqlite_error(shard, e))?;
                configure_shard(shard, conn)
            })
            .collect::<Result<_, _>>()?;
        // In-memory shards answer in microseconds: a thread per fan-out would cost more
        // than it saves (a sqllogictest file of 10,000 records spent most of its time in
        // thread creation), so their batches run one after another on the caller's thread.
        Ok(Self::from_shards(shards).with_max_concurrency(1))
    }

    fn from_shards(shards: Vec<Shard>) -> Self {
        SqliteBackend {
            shards: shards.into_iter().map(Mutex::new).collect(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }

    /// Sets how many batches may run at once (at least 1).
    pub fn with_max_concurrency(mut self, max_concurrency: usize) -> Self {
        self.max_concurrency = max_concurrency.max(1);
        self
    }

    /// How many batches may run at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// Calls `f` with shard `shard`'s connection, e.g. for a test to check which shard holds
    /// a row. Other batches on that shard wait until `f` returns.
    pub fn with_connection<R>(
        &self,
        shard: ShardId,
        f: impl FnOnce(&Connection) -> R,
    ) -> Result<R, Error> {
        let guard = self.lock(shard)?;
        Ok(f(&guard.conn))
    }

    /// One statement on its shard, now.
    fn run_now(
        &self,
        shard: ShardId,
        sql: &str,
        params: &[Value],
    ) -> Result<StatementOutput, Error> {
        let mut guard = self.lock(shard)?;
        run_statement(shard, &mut guard, sql, params)
    }

    /// Locks a shard. A poisoned lock (a panic while it was held, which is a bug) is
    /// recovered: the connection itself is still sound, and any transaction left open is
    /// rolled back so the next batch starts clean.
    fn lock(&self, shard: ShardId) -> Result<MutexGuard<'_, Shard>, Error> {
        let mutex = self.shards.get(shard).ok_or_else(|| {
            Error::internal(format!(
                "shard {shard} does not exist: this backend has {} shards",
                self.shards.len()
            ))
        })?;
        match mutex.lock() {
            Ok(guard) => Ok(guard),
            Err(poisoned) => {
                let guard = poisoned.into_inner();
                if !guard.conn.is_autocommit() {
                    guard
                        .conn
                        .execute_batch("ROLLBACK")
                        .map_err(|e| sqlite_error(shard, e))?;
                }
                mutex.clear_poison();
                Ok(guard)
            }
        }
    }

    /// Runs one batch on its shard; see [`Backend::run`].
    fn run_batch(&self, batch: &ShardBatch) -> Result<Vec<StatementOutput>, Error> {
        let mut guard = self.lock(batch.shard)?;
        run_batch_on(batch.shard, &mut guard, &batch.statements)
    }

    /// Runs several batches on scoped threads, at most `max_concurrency` at a time; each
    /// worker takes the next batch not yet started, so a slow shard does not hold up a slot.
    fn run_concurrently(&self, batches: &[ShardBatch]) -> Vec<Result<Vec<StatementOutput>, Error>> {
        let next = AtomicUsize::new(0);
        let workers = self.max_concurrency.min(batches.len());
        let mut results: Vec<Option<Result<Vec<StatementOutput>, Error>>> =
            (0..batches.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(batch) = batches.get(i) else { break };
                            done.push((i, self.run_batch(batch)));
                        }
                        done
                    })
                })
                .collect();
            for handle in handles {
                // A worker that panicked leaves its slots empty; they become errors below.
                if let Ok(done) = handle.join() {
                    for (i, result) in done {
                        if let Some(slot) = results.get_mut(i) {
                            *slot = Some(result);
                        }
                    }
                }
            }
        });
        results
            .into_iter()
            .zip(batches)
            .map(|(result, batch)| {
                result.unwrap_or_else(|| {
                    Err(Error::internal(format!(
                        "the thread running the batch for shard {} panicked",
                        batch.shard
                    )))
                })
            })
            .collect()
    }
}

impl Backend for SqliteBackend {
    fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The statement runs on the polling thread, with the borrowed values bound as they are.
    fn run_one<'a>(
        &'a self,
        shard: ShardId,
        sql: &'a Arc<str>,
        params: &'a [Value],
    ) -> LocalBoxFuture<'a, Result<StatementOutput, Error>> {
        Box::pin(async move { self.run_now(shard, sql, params) })
    }

    fn run_one_now(
        &self,
        shard: ShardId,
        sql: &Arc<str>,
        params: &[Value],
    ) -> Option<Result<StatementOutput, Error>> {
        Some(self.run_now(shard, sql, params))
    }

    /// All the work happens when the future is first polled. One batch (or a concurrency
    /// bound of 1) runs on the polling thread; several run on scoped threads.
    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, Error>>> {
        Box::pin(async move {
            if batches.len() <= 1 || self.max_concurrency <= 1 {
                batches.iter().map(|b| self.run_batch(b)).collect()
            } else {
                self.run_concurrently(&batches)
            }
        })
    }
}

fn check_shard_count(shard_count: usize) -> Result<(), Error> {
    if (1..=64).contains(&shard_count) && shard_count.is_power_of_two() {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidPolicy,
            format!("shard count {shard_count} is not a power of two from 1 to 64"),
        ))
    }
}

fn open_shard(shard: ShardId, path: &Path, flags: OpenFlags) -> Result<Shard, Error> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        Error::backend(
            Some(shard),
            format!("cannot open {}: {}", path.display(), sqlite_message(e)),
        )
    })?;
    configure_shard(shard, conn)
}

/// Applies D1's connection settings. The journal stays SQLite's default (DELETE): WAL
/// would add `-wal`/`-shm` files next to every shard for little gain, since each shard has
/// a single connection.
fn configure_shard(shard: ShardId, conn: Connection) -> Result<Shard, Error> {
    let err = |e| sqlite_error(shard, e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // D1 enforces foreign keys.
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    let size = database_size(&conn).map_err(err)?;
    Ok(Shard {
        conn,
        size,
        names: Default::default(),
    })
}

fn database_size(conn: &Connection) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare_cached(SIZE_SQL)?;
    let size: i64 = stmt.query_row([], |row| row.get(0))?;
    Ok(u64::try_from(size).unwrap_or(0))
}

/// Runs a batch's statements in order. More than one statement runs in one transaction,
/// rolled back on the first error; a single statement relies on autocommit, which is
/// already atomic.
fn run_batch_on(
    shard: ShardId,
    state: &mut Shard,
    statements: &[ShardStatement],
) -> Result<Vec<StatementOutput>, Error> {
    if statements.len() <= 1 {
        return statements
            .iter()
            .map(|s| run_statement(shard, state, &s.sql, &s.params))
            .collect();
    }
    // Reads alone need only a consistent snapshot; a write takes the lock up front, so
    // the batch cannot fail halfway for want of it.
    let begin = if statements
        .iter()
        .all(|s| crate::lex::returns_rows_only(&s.sql))
    {
        "BEGIN"
    } else {
        "BEGIN IMMEDIATE"
    };
    control(&state.conn, begin).map_err(|e| sqlite_error(shard, e))?;
    let outcome = statements
        .iter()
        .map(|s| run_statement(shard, state, &s.sql, &s.params))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|outputs| {
            control(&state.conn, "COMMIT")
                .map(|()| outputs)
                .map_err(|e| sqlite_error(shard, e))
        });
    match outcome {
        Ok(outputs) => Ok(outputs),
        Err(error) => {
            // Some errors (e.g. SQLITE_FULL, RAISE(ROLLBACK)) end the transaction
            // themselves; a failed COMMIT (deferred foreign keys) leaves it open.
            if !state.conn.is_autocommit() {
                // The statement's error is what the caller needs; if the rollback fails
                // too, the connection is unusable and the next statement will say so.
                let _ = control(&state.conn, "ROLLBACK");
            }
            // The size cached during the batch may describe rolled-back pages.
            if let Ok(size) = database_size(&state.conn) {
                state.size = size;
            }
            Err(error)
        }
    }
}

/// Runs a transaction-control statement through the statement cache.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// Runs one statement and collects its columns, rows and counters.
fn run_statement(
    shard: ShardId,
    state: &mut Shard,
    sql: &str,
    params: &[Value],
) -> Result<StatementOutput, Error> {
    let started = Instant::now();
    let conn = &state.conn;
    let err = |e| sqlite_error(shard, e);
    let mut stmt = conn.prepare_cached(sql).map_err(err)?;
    let expected = stmt.parameter_count();
    if params.len() != expected {
        return Err(Error::backend(
            Some(shard),
            format!(
                "Wrong number of parameter bindings for SQL query: {} given, {expected} expected",
                params.len()
            ),
        ));
    }
    for (i, value) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, value).map_err(err)?;
    }
    let readonly = stmt.readonly();
    let total_before = conn.total_changes();
    let kept = state.names.before(sql, &stmt);

    let mut rows = Vec::new();
    let stepped: rusqlite::Result<()> = (|| {
        let mut cursor = stmt.raw_query();
        let mut width = None;
        while let Some(row) = cursor.next()? {
            let width = *width.get_or_insert_with(|| row.as_ref().column_count());
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(Value::from(row.get_ref(i)?));
            }
            rows.push(values);
        }
        Ok(())
    })();
    if let Err(error) = stepped {
        // Text with no statement in it ("", ";", "-- note") prepares to a null statement,
        // and stepping that is SQLITE_MISUSE; say what D1 says instead.
        let misuse = error.sqlite_error_code() == Some(rusqlite::ErrorCode::ApiMisuse);
        if misuse && stmt.expanded_sql().is_none() {
            return Err(Error::backend(Some(shard), "No SQL statements detected."));
        }
        return Err(err(error));
    }
    // Names are read after stepping: if the schema changed since the statement was cached,
    // the step re-prepared it and only now are the names current (e.g. `SELECT *` after
    // `ALTER TABLE ... ADD COLUMN`).
    let columns = match kept.and_then(|k| k.still(&stmt)) {
        Some(columns) => columns,
        None => state.names.read(sql, &stmt),
    };
    drop(stmt);

    // `sqlite3_changes` keeps the count of the last INSERT/UPDATE/DELETE, so after DDL it
    // would report a stale number; it belongs to this statement only if the connection's
    // total moved.
    let changes = if !readonly && conn.total_changes() != total_before {
        conn.changes()
    } else {
        0
    };
    if !readonly {
        state.size = database_size(conn).map_err(err)?;
    }
    let returned = rows.len() as u64;
    Ok(StatementOutput {
        columns,
        rows,
        meta: ShardMeta {
            changes,
            last_row_id: state.conn.last_insert_rowid(),
            // SQLite does not count rows scanned; rows returned plus rows changed is a
            // lower bound of what D1 would report.
            rows_read: returned + changes,
            rows_written: changes,
            // DDL changes the database without changing rows.
            changed_db: !readonly,
            size_after: state.size,
            duration: started.elapsed().as_secs_f64() * 1000.0,
        },
    })
}

/// A shard's error, with SQLite's own text and nothing prepended.
fn sqlite_error(shard: ShardId, error: rusqlite::Error) -> Error {
    Error::from_shard(shard, sqlite_message(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn stmt(sql: &str, params: Vec<Value>) -> ShardStatement {
        ShardStatement {
            sql: sql.into(),
            params,
        }
    }

    fn batch(shard: ShardId, statements: Vec<ShardStatement>) -> ShardBatch {
        ShardBatch { shard, statements }
    }

    /// Runs one statement on one shard.
    fn one(
        backend: &SqliteBackend,
        shard: ShardId,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<StatementOutput, Error> {
        let mut results = block_on(backend.run(vec![batch(shard, vec![stmt(sql, params)])]));
        assert_eq!(results.len(), 1);
        let mut outputs = results.remove(0)?;
        assert_eq!(outputs.len(), 1);
        Ok(outputs.remove(0))
    }

    fn count(backend: &SqliteBackend, shard: ShardId, table: &str) -> i64 {
        backend
            .with_connection(shard, |c| {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            })
            .unwrap()
            .unwrap()
    }

    #[test]
    fn storage_classes_round_trip() {
        let b = SqliteBackend::in_memory(1).unwrap();
        one(&b, 0, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)", vec![]).unwrap();
        let values = vec![
            Value::Integer(1),
            Value::Real(1.0),
            Value::Text("1".into()),
            Value::Blob(vec![1]),
            Value::Null,
        ];
        for v in &values {
            one(&b, 0, "INSERT INTO t(v) VALUES (?1)", vec![v.clone()]).unwrap();
        }
        let out = one(
            &b,
            0,
            "SELECT v, typeof(v) AS ty FROM t ORDER BY id",
            vec![],
        )
        .unwrap();
        assert_eq!(out.columns[..], ["v", "ty"]);
        let got: Vec<Value> = out.rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(got, values);
        let types: Vec<Value> = out.rows.iter().map(|r| r[1].clone()).collect();
        let names = ["integer", "real", "text", "blob", "null"];
        assert_eq!(types, names.map(|n| Value::Text(n.into())).to_vec());

        // Literals in SQL keep their classes too.
        let out = one(&b, 0, "SELECT 1, 1.0, '1', x'01', NULL", vec![]).unwrap();
        assert_eq!(out.columns[..], ["1", "1.0", "'1'", "x'01'", "NULL"]);
        assert_eq!(out.rows, vec![values]);
    }

    #[test]
    fn meta_counters() {
        let b = SqliteBackend::in_memory(1).unwrap();
        let ddl = one(
            &b,
            0,
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
            vec![],
        )
        .unwrap();
        assert_eq!(ddl.meta.changes, 0);
        assert!(ddl.meta.changed_db);
        assert!(ddl.meta.size_after > 0);

        let ins = one(
            &b,
            0,
            "INSERT INTO t(id, v) VALUES (7, 'a'), (9, 'b'), (11, 'c')",
            vec![],
        )
        .unwrap();
        assert_eq!(ins.meta.changes, 3);
        assert_eq!(ins.meta.rows_written, 3);
        assert_eq!(ins.meta.last_row_id, 11);
        assert!(ins.meta.changed_db);
        assert!(ins.columns.is_empty() && ins.rows.is_empty());

        // DDL after DML must not report the previous statement's count.
        let idx = one(&b, 0, "CREATE INDEX t_v ON t(v)", vec![]).unwrap();
        assert_eq!(idx.meta.changes, 0);

        let upd = one(
            &b,
            0,
            "UPDATE t SET v = 'z' WHERE id > ?1",
            vec![Value::Integer(8)],
        )
        .unwrap();
        assert_eq!(upd.meta.changes, 2);

        let sel = one(&b, 0, "SELECT id FROM t", vec![]).unwrap();
        assert_eq!(sel.meta.changes, 0);
        assert_eq!(sel.meta.rows_read, 3);
        assert_eq!(sel.meta.rows_written, 0);
        assert!(!sel.meta.changed_db);
        assert_eq!(sel.meta.size_after, upd.meta.size_after);
        assert!(sel.meta.duration >= 0.0);

        let ret = one(&b, 0, "DELETE FROM t WHERE id = 7 RETURNING v", vec![]).unwrap();
        assert_eq!(ret.columns[..], ["v"]);
        assert_eq!(ret.rows, vec![vec![Value::Text("a".into())]]);
        assert_eq!(ret.meta.changes, 1);
    }

    #[test]
    fn failed_batch_rolls_back_and_names_the_shard() {
        let b = SqliteBackend::in_memory(2).unwrap();
        for shard in 0..2 {
            one(&b, shard, "CREATE TABLE t(id INTEGER PRIMARY KEY)", vec![]).unwrap();
            one(&b, shard, "INSERT INTO t VALUES (1)", vec![]).unwrap();
        }
        let results = block_on(b.run(vec![
            batch(
                0,
                vec![
                    stmt("INSERT INTO t VALUES (2)", vec![]),
                    stmt("INSERT INTO t VALUES (3)", vec![]),
                ],
            ),
            batch(
                1,
                vec![
                    stmt("INSERT INTO t VALUES (2)", vec![]),
                    stmt("INSERT INTO t VALUES (1)", vec![]),
                ],
            ),
        ]));
        assert_eq!(results[0].as_ref().map(Vec::len), Ok(2));
        assert_eq!(
            results[1],
            Err(Error::backend(Some(1), "UNIQUE constraint failed: t.id"))
        );
        assert_eq!(count(&b, 0, "t"), 3);
        // The first statement of the failed batch was undone, and the shard is usable.
        assert_eq!(count(&b, 1, "t"), 1);
        assert!(b.with_connection(1, |c| c.is_autocommit()).unwrap());
        one(&b, 1, "INSERT INTO t VALUES (2)", vec![]).unwrap();
    }

    #[test]
    fn failed_commit_rolls_back() {
        let b = SqliteBackend::in_memory(1).unwrap();
        one(&b, 0, "CREATE TABLE p(id INTEGER PRIMARY KEY)", vec![]).unwrap();
        one(
            &b,
            0,
            "CREATE TABLE c(id INTEGER PRIMARY KEY, p REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)",
            vec![],
        )
        .unwrap();
        let results = block_on(b.run(vec![batch(
            0,
            vec![
                stmt("INSERT INTO p VALUES (1)", vec![]),
                stmt("INSERT INTO c VALUES (1, 2)", vec![]),
            ],
        )]));
        assert_eq!(
            results[0],
            Err(Error::backend(Some(0), "FOREIGN KEY constraint failed"))
        );
        assert_eq!(count(&b, 0, "p"), 0);
        assert!(b.with_connection(0, |c| c.is_autocommit()).unwrap());
    }

    #[test]
    fn concurrent_batches_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::create(dir.path(), 8)
            .unwrap()
            .with_max_concurrency(3);
        assert_eq!(b.max_concurrency(), 3);
        let ddl = (0..8)
            .map(|s| {
                batch(
                    s,
                    vec![stmt("CREATE TABLE t(shard INTEGER, n INTEGER)", vec![])],
                )
            })
            .collect();
        assert!(block_on(b.run(ddl)).iter().all(Result::is_ok));

        // Shards in a scrambled order, each told which shard it is.
        let order = [5, 2, 7, 0, 3, 6, 1, 4];
        let batches = order
            .iter()
            .map(|&s| {
                batch(
                    s,
                    vec![
                        stmt(
                            "INSERT INTO t VALUES (?1, 1), (?1, 2)",
                            vec![Value::Integer(s as i64)],
                        ),
                        stmt("SELECT shard, sum(n) FROM t", vec![]),
                    ],
                )
            })
            .collect();
        let results = block_on(b.run(batches));
        assert_eq!(results.len(), 8);
        for (result, &s) in results.iter().zip(&order) {
            let outputs = result.as_ref().unwrap();
            assert_eq!(outputs[0].meta.changes, 2);
            assert_eq!(
                outputs[1].rows,
                vec![vec![Value::Integer(s as i64), Value::Integer(3)]]
            );
        }
    }

    #[test]
    fn several_batches_on_one_shard_serialize() {
        let b = SqliteBackend::in_memory(1).unwrap().with_max_concurrency(4);
        one(&b, 0, "CREATE TABLE t(n)", vec![]).unwrap();
        let batches = (0..10)
            .map(|i| {
                batch(
                    0,
                    vec![stmt("INSERT INTO t VALUES (?1)", vec![Value::Integer(i)])],
                )
            })
            .collect();
        assert!(block_on(b.run(batches)).iter().all(Result::is_ok));
        assert_eq!(count(&b, 0, "t"), 10);
    }

    #[test]
    fn parameter_count_mismatch() {
        let b = SqliteBackend::in_memory(2).unwrap();
        let err = one(&b, 1, "SELECT ?1, ?2", vec![Value::Integer(1)]).unwrap_err();
        assert_eq!(
            err,
            Error::backend(
                Some(1),
                "Wrong number of parameter bindings for SQL query: 1 given, 2 expected"
            )
        );
        assert!(one(&b, 1, "SELECT 1", vec![Value::Integer(1)]).is_err());
        // The cached statement is reusable afterwards.
        let ok = one(&b, 1, "SELECT ?1, ?2", vec![Value::Integer(1), Value::Null]).unwrap();
        assert_eq!(ok.rows, vec![vec![Value::Integer(1), Value::Null]]);
    }

    #[test]
    fn sqlite_error_text_is_unchanged() {
        let b = SqliteBackend::in_memory(4).unwrap();
        assert_eq!(
            one(&b, 3, "SELECT * FROM x", vec![]).unwrap_err(),
            Error::backend(Some(3), "no such table: x")
        );
        assert_eq!(
            one(&b, 2, "SELEC 1", vec![]).unwrap_err(),
            Error::backend(Some(2), "near \"SELEC\": syntax error")
        );
        assert_eq!(
            one(&b, 0, "SELECT abs(-9223372036854775808)", vec![]).unwrap_err(),
            Error::backend(Some(0), "integer overflow")
        );
        let multi = one(&b, 0, "SELECT 1; SELECT 2", vec![]).unwrap_err();
        assert!(
            multi.to_string().contains("more than one statement"),
            "{multi}"
        );
        // A trailing semicolon or comment is one statement.
        assert!(one(&b, 0, "SELECT 1; -- done", vec![]).is_ok());
        for empty in ["", " ", ";", "-- nothing"] {
            assert_eq!(
                one(&b, 1, empty, vec![]).unwrap_err(),
                Error::backend(Some(1), "No SQL statements detected."),
                "{empty:?}"
            );
        }
    }

    #[test]
    fn foreign_keys_are_enforced() {
        let b = SqliteBackend::in_memory(1).unwrap();
        one(&b, 0, "CREATE TABLE p(id INTEGER PRIMARY KEY)", vec![]).unwrap();
        one(&b, 0, "CREATE TABLE c(p REFERENCES p(id))", vec![]).unwrap();
        assert_eq!(
            one(&b, 0, "INSERT INTO c VALUES (1)", vec![]).unwrap_err(),
            Error::backend(Some(0), "FOREIGN KEY constraint failed")
        );
    }

    #[test]
    fn select_star_sees_added_columns() {
        let b = SqliteBackend::in_memory(1).unwrap();
        one(&b, 0, "CREATE TABLE t(a)", vec![]).unwrap();
        one(&b, 0, "INSERT INTO t VALUES (1)", vec![]).unwrap();
        assert_eq!(
            one(&b, 0, "SELECT * FROM t", vec![]).unwrap().columns[..],
            ["a"]
        );
        one(&b, 0, "ALTER TABLE t ADD COLUMN b", vec![]).unwrap();
        let out = one(&b, 0, "SELECT * FROM t", vec![]).unwrap();
        assert_eq!(out.columns[..], ["a", "b"]);
        assert_eq!(out.rows, vec![vec![Value::Integer(1), Value::Null]]);
    }

    /// Kept column names are shared between answers, and never outlive the statement they
    /// were read from: not when rusqlite's cache drops it and the table is made again with
    /// other names (same count), not when another connection changes the schema under a
    /// cached statement.
    #[test]
    fn kept_column_names_follow_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::create(dir.path(), 1).unwrap();
        let star = |b: &SqliteBackend| one(b, 0, "SELECT * FROM t", vec![]).unwrap().columns;
        one(&b, 0, "CREATE TABLE t(a)", vec![]).unwrap();
        let first = star(&b);
        assert_eq!(first[..], ["a"]);
        assert!(std::sync::Arc::ptr_eq(&first, &star(&b)), "names kept");

        // Push the statement out of rusqlite's cache, then rebuild the table.
        for i in 0..2 * STATEMENT_CACHE_CAPACITY {
            one(&b, 0, &format!("SELECT {i} AS c"), vec![]).unwrap();
        }
        one(&b, 0, "DROP TABLE t", vec![]).unwrap();
        one(&b, 0, "CREATE TABLE t(x)", vec![]).unwrap();
        assert_eq!(star(&b)[..], ["x"], "a statement prepared afresh");

        // Another connection (another process) rebuilds it under the cached statement.
        let other = Connection::open(shard_path(dir.path(), 0)).unwrap();
        other
            .execute_batch("DROP TABLE t; CREATE TABLE t(y)")
            .unwrap();
        assert_eq!(star(&b)[..], ["y"], "a statement SQLite prepared again");
        assert_eq!(star(&b)[..], ["y"]);
    }

    #[test]
    fn files_are_named_by_shard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shards");
        let b = SqliteBackend::create(&path, 16).unwrap();
        assert_eq!(b.shard_count(), 16);
        one(&b, 15, "CREATE TABLE t(x)", vec![]).unwrap();
        one(&b, 15, "INSERT INTO t VALUES ('kept')", vec![]).unwrap();
        drop(b);
        for shard in 0..16 {
            assert!(path.join(format!("shard-{shard:02}.sqlite")).is_file());
        }
        assert_eq!(shard_path(&path, 3), path.join("shard-03.sqlite"));

        assert!(SqliteBackend::create(&path, 16).is_err());
        let b = SqliteBackend::open(&path, 16).unwrap();
        let out = one(&b, 15, "SELECT x FROM t", vec![]).unwrap();
        assert_eq!(out.rows, vec![vec![Value::Text("kept".into())]]);
    }

    #[test]
    fn open_reports_a_missing_shard() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteBackend::create(dir.path(), 2).unwrap());
        let err = SqliteBackend::open(dir.path(), 4).unwrap_err();
        assert!(
            matches!(err, Error::Backend { shard: Some(2), .. }),
            "{err}"
        );
        assert!(err.to_string().contains("shard-02.sqlite"), "{err}");
        assert!(SqliteBackend::open(&dir.path().join("nope"), 1).is_err());
    }

    #[test]
    fn invalid_shard_counts_and_shards() {
        assert!(SqliteBackend::in_memory(0).is_err());
        assert!(SqliteBackend::in_memory(3).is_err());
        assert!(SqliteBackend::in_memory(128).is_err());
        let b = SqliteBackend::in_memory(2).unwrap();
        let err = one(&b, 2, "SELECT 1", vec![]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(b.with_connection(5, |_| ()).is_err());
        // An empty batch is a no-op.
        assert_eq!(block_on(b.run(vec![batch(0, vec![])])), vec![Ok(vec![])]);
        assert!(block_on(b.run(vec![])).is_empty());
    }
}
