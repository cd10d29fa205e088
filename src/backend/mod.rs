//! Where shard SQL runs. The [`Backend`] trait is the only I/O boundary of d1plus: the
//! planner produces [`ShardBatch`]es, a backend runs them, and the merge combines what
//! comes back.
//!
//! The trait is asynchronous because in a Worker every D1 call is a future on a single
//! thread; natively, [`sqlite::SqliteBackend`] runs shards on scoped threads.

use crate::error::Error;
use crate::value::Value;
use futures::future::LocalBoxFuture;
use serde::Serialize;
use std::sync::Arc;

#[cfg(not(target_arch = "wasm32"))]
mod names;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;

pub mod recording;

pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod d1;
#[cfg(target_arch = "wasm32")]
pub mod io;

pub use crate::plan::output::{ShardBatch, ShardId, ShardStatement};

/// What a shard reports for one statement, as D1 does.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShardMeta {
    /// Rows changed by the statement (`sqlite3_changes`), 0 for reads.
    pub changes: u64,
    /// The last inserted rowid on this shard's connection.
    pub last_row_id: i64,
    /// Rows read (approximation natively: rows returned plus rows changed).
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Whether the statement changed the database.
    pub changed_db: bool,
    /// Database size in bytes after the statement.
    pub size_after: u64,
    /// Time the shard spent, in milliseconds.
    pub duration: f64,
}

/// The result of one statement on one shard.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatementOutput {
    /// Column names, as the shard named them.
    pub columns: crate::value::Columns,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Counters.
    pub meta: ShardMeta,
}

/// Runs shard batches. Implemented over local SQLite files (native) and D1 bindings (wasm).
pub trait Backend {
    /// Number of shards this backend serves (a power of two, 1..=64).
    fn shard_count(&self) -> usize;

    /// Runs every batch on its shard, each batch atomically, with the backend's bounded
    /// concurrency. The answer has one entry per batch, in the order given; a failed batch
    /// changed nothing on its shard.
    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, Error>>>;

    /// Runs one statement on one shard with borrowed parameters: what a plan of one
    /// statement on one shard sends (`Template::passthrough`), without building its batch.
    /// By default it is that batch, run.
    fn run_one<'a>(
        &'a self,
        shard: ShardId,
        sql: &'a Arc<str>,
        params: &'a [Value],
    ) -> LocalBoxFuture<'a, Result<StatementOutput, Error>> {
        run_as_batch(self, shard, sql, params)
    }

    /// [`Backend::run_one`] answered at once by a backend whose calls never wait (local
    /// files), which saves the future's allocation; None: call `run_one`.
    fn run_one_now(
        &self,
        _shard: ShardId,
        _sql: &Arc<str>,
        _params: &[Value],
    ) -> Option<Result<StatementOutput, Error>> {
        None
    }

    /// Whether a batch of several statements answers rows as objects keyed by column name
    /// (D1's `batch()`), where two result columns of one name become one.
    fn batch_rows_by_name(&self) -> bool {
        false
    }

    /// The text this backend's shards give for a statement SQLite cannot prepare
    /// (`message`, at byte `offset` when SQLite names one), for errors d1plus finds by
    /// preparing the statement itself: SQLite's text as it is.
    fn prepare_error(&self, message: &str, _offset: Option<usize>) -> String {
        message.to_owned()
    }
}

/// A borrowed backend is a backend: handles made with `Database::attach` may share one.
impl<T: Backend + ?Sized> Backend for &T {
    fn shard_count(&self) -> usize {
        (**self).shard_count()
    }

    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, Error>>> {
        (**self).run(batches)
    }

    fn run_one<'a>(
        &'a self,
        shard: ShardId,
        sql: &'a Arc<str>,
        params: &'a [Value],
    ) -> LocalBoxFuture<'a, Result<StatementOutput, Error>> {
        (**self).run_one(shard, sql, params)
    }

    fn run_one_now(
        &self,
        shard: ShardId,
        sql: &Arc<str>,
        params: &[Value],
    ) -> Option<Result<StatementOutput, Error>> {
        (**self).run_one_now(shard, sql, params)
    }

    fn batch_rows_by_name(&self) -> bool {
        (**self).batch_rows_by_name()
    }

    fn prepare_error(&self, message: &str, offset: Option<usize>) -> String {
        (**self).prepare_error(message, offset)
    }
}

/// [`Backend::run_one`] as a batch of one statement through [`Backend::run`].
pub fn run_as_batch<'a, B: Backend + ?Sized>(
    backend: &'a B,
    shard: ShardId,
    sql: &Arc<str>,
    params: &[Value],
) -> LocalBoxFuture<'a, Result<StatementOutput, Error>> {
    let batch = ShardBatch::one(shard, sql.clone(), params.to_vec());
    Box::pin(async move { only_output(backend.run(vec![batch]).await) })
}

/// The one statement's output of a call of one batch of one statement.
pub fn only_output(
    mut out: Vec<Result<Vec<StatementOutput>, Error>>,
) -> Result<StatementOutput, Error> {
    match (out.pop(), out.is_empty()) {
        (Some(Ok(mut outputs)), true) if outputs.len() == 1 => Ok(outputs.remove(0)),
        (Some(Err(e)), true) => Err(e),
        _ => Err(Error::internal(
            "a backend answered a call of one statement with another number of answers",
        )),
    }
}
