//! The schema guard (docs/ARCHITECTURE.md §3b): a request's first shard call carries a
//! statement that fails when the shard's schema is not the one the plan was made for, so
//! a new request needs no extra round trip to re-read the schema, and a plan made against
//! a schema changed elsewhere never commits.
//!
//! - A call of reads only: the guard runs beside them, as one more batch of the same
//!   backend call (concurrently); a failed guard discards their answers.
//! - A call that writes: the guard heads each shard's batch, which D1 runs atomically, so
//!   a failed guard rolls that shard's batch back; the guard's own output is dropped.
//!
//! Either way the call fails with `D1PLUS_SCHEMA_CHANGED`, and the caller reloads the
//! catalog, plans again and reruns (see `Database::revalidating`). The guard adds one
//! statement to the query budget for reads, one per shard batch for writes.

use crate::backend::{Backend, ShardBatch, ShardStatement, StatementOutput};
use crate::catalog::{self, Catalog};
use crate::error::{Error, ErrorCode};
use crate::execute::Budget;
use crate::lex;
use futures::future::LocalBoxFuture;
use std::cell::Cell;

/// A backend whose next call carries the schema guard of `catalog`, once.
pub(crate) struct Guarded<'a> {
    pub(crate) inner: &'a dyn Backend,
    pub(crate) catalog: &'a Catalog,
    pub(crate) armed: &'a Cell<bool>,
    pub(crate) budget: &'a Budget,
    /// The layout record the handle's bindings were chosen by, when it says.
    pub(crate) layout: Option<&'a Option<String>>,
}

/// Fails with `D1PLUS_LAYOUT_CHANGED` when a handle that says which layout record its
/// bindings were chosen by (`expected`) meets a catalog naming another: the bindings a
/// split has since replaced.
pub(crate) fn check_layout(
    expected: Option<&Option<String>>,
    catalog: &Catalog,
) -> Result<(), Error> {
    match expected {
        Some(layout) if *layout != catalog.layout => Err(Error::with_remedy(
            ErrorCode::LayoutChanged,
            "a split moved this database to other bindings; nothing ran",
            "make the database handle again over the bindings its layout record names (the JavaScript D1Database.fromEnv and the Rust D1Database::follow do)",
        )),
        _ => Ok(()),
    }
}

/// The error of a call whose guard failed.
pub(crate) fn schema_changed() -> Error {
    Error::with_remedy(
        ErrorCode::SchemaChanged,
        "the schema changed since this statement was planned (another client changed it); nothing ran",
        "run it again: d1plus reads the new schema first",
    )
}

impl Backend for Guarded<'_> {
    fn shard_count(&self) -> usize {
        self.inner.shard_count()
    }

    fn batch_rows_by_name(&self) -> bool {
        self.inner.batch_rows_by_name()
    }

    fn prepare_error(&self, message: &str, offset: Option<usize>) -> String {
        self.inner.prepare_error(message, offset)
    }

    fn run(
        &self,
        mut batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, Error>>> {
        if let Err(e) = check_layout(self.layout, self.catalog) {
            let n = batches.len();
            return Box::pin(async move { vec![Err(e); n] });
        }
        if !self.armed.replace(false) || batches.is_empty() {
            return self.inner.run(batches);
        }
        let (sql, params) = self.catalog.guard();
        let guard = ShardStatement { sql, params };
        let reads_only = batches
            .iter()
            .all(|b| b.statements.iter().all(|s| lex::returns_rows_only(&s.sql)));
        let n = batches.len();
        let extra = if reads_only { 1 } else { n };
        if let Err(e) = self.budget.take(extra) {
            return Box::pin(async move { vec![Err(e); n] });
        }
        if reads_only {
            batches.push(ShardBatch {
                shard: batches[0].shard,
                statements: vec![guard],
            });
        } else {
            for b in &mut batches {
                b.statements.insert(0, guard.clone());
            }
        }
        Box::pin(async move {
            let mut out = self.inner.run(batches).await;
            let failed = |r: &Result<Vec<StatementOutput>, Error>| matches!(r, Err(Error::Backend { message, .. }) if catalog::is_guard_failure(message));
            if out.iter().any(failed) {
                return vec![Err(schema_changed()); n];
            }
            if reads_only {
                out.pop();
            } else {
                for r in out.iter_mut().flatten() {
                    if !r.is_empty() {
                        r.remove(0);
                    }
                }
            }
            out
        })
    }
}
