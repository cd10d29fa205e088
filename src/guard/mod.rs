//! The schema guard (docs/ARCHITECTURE.md §3b): a request's first shard call carries a
//! statement that fails when the shard's schema is not the one the plan was made for, so
//! a new request needs no extra round trip to re-read the schema, and a plan made against
//! a schema changed elsewhere never commits.
//!
//! - A call of reads only: the guard heads the first shard's batch, so a point read is
//!   one call, when that batch's rows stay exact in a batch: always natively; on D1, whose
//!   `batch()` answers rows as objects, only for reads whose column names an earlier
//!   guarded call saw, on this catalog, to survive that (distinct, none integer-like; see
//!   [`KnownColumns`], and `names_of_first` for empty answers). Otherwise it runs beside
//!   them, as one more batch of the same backend call (concurrently). A failed guard
//!   discards their answers.
//! - A call that writes: the guard heads each shard's batch, which D1 runs atomically, so
//!   a failed guard rolls that shard's batch back; the guard's own output is dropped.
//!
//! Either way the call fails with `D1PLUS_SCHEMA_CHANGED`, and the caller reloads the
//! catalog, plans again and reruns (see `Database::revalidating`). The guard adds one
//! statement to the query budget for reads, one per shard batch for writes.

use crate::backend::{run_as_batch, Backend, ShardBatch, ShardId, ShardStatement, StatementOutput};
use crate::catalog::{self, Catalog};
use crate::error::{Error, ErrorCode};
use crate::execute::Budget;
use crate::lex;
use crate::value::Value;
use futures::future::LocalBoxFuture;
pub(crate) use known::KnownColumns;
use known::{Answer, Known};
use std::cell::{Cell, RefCell};
use std::sync::Arc;

mod known;

/// Where the guard statement goes in a guarded call.
#[derive(Debug, Clone, Copy)]
enum Placement {
    /// A batch of its own beside the reads (their rows would not survive sharing a batch).
    Beside,
    /// At the head of the first shard's batch of reads, which keeps their rows exact.
    HeadOfFirst,
    /// At the head of every shard's batch of writes, so a failed guard rolls each back.
    HeadOfEach,
}

/// A backend whose next call carries the schema guard of `catalog`, once.
pub(crate) struct Guarded<'a> {
    pub(crate) inner: &'a dyn Backend,
    pub(crate) catalog: &'a Catalog,
    pub(crate) armed: &'a Cell<bool>,
    pub(crate) budget: &'a Budget,
    /// The layout record the handle's bindings were chosen by, when it says.
    pub(crate) layout: Option<&'a Option<String>>,
    /// What reads answered, shared by the handles of one database.
    pub(crate) known: &'a RefCell<KnownColumns>,
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

impl Guarded<'_> {
    /// Where the guard goes in a call of `batches`, and for a read sharing its batch with
    /// it, the column names each of that batch's statements answers.
    fn placement(&self, batches: &[ShardBatch], reads_only: bool) -> (Placement, Vec<Known>) {
        if !reads_only {
            return (Placement::HeadOfEach, Vec::new());
        }
        if !self.inner.batch_rows_by_name() {
            return (Placement::HeadOfFirst, Vec::new());
        }
        let known = self.known.borrow();
        let columns = batches[0]
            .statements
            .iter()
            .map(|s| known.get(self.catalog.version, &s.sql))
            .collect::<Option<Vec<_>>>();
        match columns {
            Some(columns) => (Placement::HeadOfFirst, columns),
            None => (Placement::Beside, Vec::new()),
        }
    }

    /// Gives the first batch's reads, which shared their D1 batch with the guard, their
    /// column names: the names an answer with rows shows (which confirms what was known),
    /// the known ones for an empty answer once confirmed, else the reads' answers alone (one
    /// more call). Names other than the known ones fail the call as a changed schema.
    async fn names_of_first(
        &self,
        out: &mut [Result<Vec<StatementOutput>, Error>],
        first: ShardBatch,
        expected: &[Known],
    ) -> Result<(), Error> {
        let Some(Ok(outs)) = out.first_mut() else {
            return Ok(());
        };
        let answers = known::restore(outs, expected);
        self.known
            .borrow_mut()
            .judge(self.catalog.version, &first.statements, answers.as_deref());
        let Some(answers) = answers else {
            return Err(schema_changed());
        };
        if !answers.contains(&Answer::Unknown) {
            return Ok(());
        }
        let alone: Vec<ShardBatch> = first
            .statements
            .into_iter()
            .map(|s| ShardBatch::one(first.shard, s.sql, s.params))
            .collect();
        self.budget.take(alone.len())?;
        let mut again = Vec::with_capacity(alone.len());
        for r in self.inner.run(alone).await {
            again.extend(r?);
        }
        out[0] = Ok(again);
        Ok(())
    }

    /// `(batch, statement, SQL)` of the statements whose answer in this call is what it
    /// answers alone (every one, unless a batch of several answers rows by name), on the
    /// shard whose schema the guard checks beside them.
    fn exact_alone(&self, batches: &[ShardBatch]) -> Vec<(usize, usize, Arc<str>)> {
        let by_name = self.inner.batch_rows_by_name();
        let guarded = batches[0].shard;
        batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.shard == guarded && (!by_name || b.statements.len() == 1))
            .flat_map(|(b, batch)| {
                batch
                    .statements
                    .iter()
                    .enumerate()
                    .map(move |(i, s)| (b, i, s.sql.clone()))
            })
            .collect()
    }

    /// Whether a call of one statement must go as a batch through `run`, which adds the
    /// guard (when armed) or refuses (when the layout check fails).
    fn through_run(&self) -> bool {
        self.armed.get() || check_layout(self.layout, self.catalog).is_err()
    }
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

    fn run_one<'b>(
        &'b self,
        shard: ShardId,
        sql: &'b Arc<str>,
        params: &'b [Value],
    ) -> LocalBoxFuture<'b, Result<StatementOutput, Error>> {
        if self.through_run() {
            return run_as_batch(self, shard, sql, params);
        }
        self.inner.run_one(shard, sql, params)
    }

    fn run_one_now(
        &self,
        shard: ShardId,
        sql: &Arc<str>,
        params: &[Value],
    ) -> Option<Result<StatementOutput, Error>> {
        if self.through_run() {
            return None;
        }
        self.inner.run_one_now(shard, sql, params)
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
        let (placement, expected) = self.placement(&batches, reads_only);
        // The first batch's reads, to run again alone if their names cannot be told.
        let first = (!expected.is_empty()).then(|| batches[0].clone());
        // What the reads answer alone, where the batch keeps it exact: learned for later.
        let learn = match placement {
            Placement::Beside => self.exact_alone(&batches),
            _ => Vec::new(),
        };
        match placement {
            Placement::Beside => {
                batches.push(ShardBatch::one(batches[0].shard, guard.sql, guard.params))
            }
            Placement::HeadOfFirst => batches[0].statements.insert(0, guard),
            Placement::HeadOfEach => {
                for b in &mut batches {
                    b.statements.insert(0, guard.clone());
                }
            }
        }
        Box::pin(async move {
            let mut out = self.inner.run(batches).await;
            let failed = |r: &Result<Vec<StatementOutput>, Error>| matches!(r, Err(Error::Backend { message, .. }) if catalog::is_guard_failure(message));
            if out.iter().any(failed) {
                return vec![Err(schema_changed()); n];
            }
            let headed = match placement {
                Placement::Beside => {
                    out.pop();
                    0
                }
                Placement::HeadOfFirst => 1,
                Placement::HeadOfEach => n,
            };
            for r in out.iter_mut().take(headed).flatten() {
                if !r.is_empty() {
                    r.remove(0);
                }
            }
            if let Some(first) = first {
                if let Err(e) = self.names_of_first(&mut out, first, &expected).await {
                    return vec![Err(e); n];
                }
            }
            let mut known = self.known.borrow_mut();
            for (b, i, sql) in learn {
                if let Some(Ok(outs)) = out.get(b) {
                    if let Some(o) = outs.get(i) {
                        known.learn(self.catalog.version, &sql, &o.columns);
                    }
                }
            }
            out
        })
    }
}
