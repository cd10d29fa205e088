//! The schema guard (docs/ARCHITECTURE.md §3b): a request's first shard call carries a
//! statement that fails when the shard's schema is not the one the plan was made for, so
//! a new request needs no extra round trip to re-read the schema, and a plan made against
//! a schema changed elsewhere never commits.
//!
//! - A call of reads only: the guard heads the first shard's batch, so a point read is
//!   one call, when that batch's rows stay exact in a batch: always natively; on D1, whose
//!   `batch()` answers rows as objects, only for reads whose column names an earlier
//!   guarded call saw, on this catalog, to survive that (distinct, none integer-like; see
//!   [`KnownColumns`]). Otherwise it runs beside them, as one more batch of the same
//!   backend call (concurrently). A failed guard discards their answers.
//! - A call that writes: the guard heads each shard's batch, which D1 runs atomically, so
//!   a failed guard rolls that shard's batch back; the guard's own output is dropped.
//!
//! Either way the call fails with `D1PLUS_SCHEMA_CHANGED`, and the caller reloads the
//! catalog, plans again and reruns (see `Database::revalidating`). The guard adds one
//! statement to the query budget for reads, one per shard batch for writes.

use crate::backend::{only_output, Backend, ShardBatch, ShardId, ShardStatement, StatementOutput};
use crate::catalog::{self, Catalog};
use crate::error::{Error, ErrorCode};
use crate::execute::Budget;
use crate::lex;
use crate::value::Value;
use ahash::AHashMap;
use futures::future::LocalBoxFuture;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

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

/// Column names of reads, by SQL text, as guarded calls that ran each read alone saw
/// them, for one catalog version: a D1 `batch()` answers rows as objects, keyed by these
/// names, so a read whose names survive that (distinct, none integer-like, no
/// `__proto__`) can share its batch with the guard and have its rows put back in order.
/// A new catalog forgets them all. Bounded: past [`KnownColumns::MAX`] reads it starts over.
#[derive(Debug, Default)]
pub(crate) struct KnownColumns {
    version: u64,
    by_sql: AHashMap<String, Rc<[String]>>,
}

impl KnownColumns {
    const MAX: usize = 512;

    fn get(&self, version: u64, sql: &str) -> Option<Rc<[String]>> {
        (self.version == version)
            .then(|| self.by_sql.get(sql).cloned())
            .flatten()
    }

    fn learn(&mut self, version: u64, sql: &str, columns: &[String]) {
        if self.version != version || self.by_sql.len() >= Self::MAX {
            self.by_sql.clear();
            self.version = version;
        }
        if survives_objects(columns) {
            self.by_sql.insert(sql.to_owned(), columns.into());
        } else {
            self.by_sql.remove(sql);
        }
    }
}

/// Whether rows keyed by these column names, as D1's `batch()` answers them, keep every
/// value and the columns' order: names distinct, none an array index (which an object
/// lists first), none `__proto__`.
fn survives_objects(columns: &[String]) -> bool {
    !columns.is_empty()
        && columns
            .iter()
            .enumerate()
            .all(|(i, c)| c != "__proto__" && !lex::is_array_index(c) && !columns[..i].contains(c))
}

/// Puts a read's known column names back on its batch answer (a D1 `batch()` gives none
/// for no rows); false when the answer's names are not those (the batch answered
/// something this catalog did not plan).
fn restore_columns(outs: &mut [StatementOutput], expected: &[Rc<[String]>]) -> bool {
    if outs.len() != expected.len() {
        return false;
    }
    for (o, columns) in outs.iter_mut().zip(expected) {
        if o.rows.is_empty() {
            o.columns = columns.to_vec();
        } else if o.columns[..] != columns[..] || o.rows.iter().any(|r| r.len() != columns.len()) {
            return false;
        }
    }
    true
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
    fn placement(
        &self,
        batches: &[ShardBatch],
        reads_only: bool,
    ) -> (Placement, Vec<Rc<[String]>>) {
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

    /// `(batch, statement, SQL)` of the statements whose answer in this call is what it
    /// answers alone: every one, unless a batch of several answers rows by name.
    fn exact_alone(&self, batches: &[ShardBatch]) -> Vec<(usize, usize, Arc<str>)> {
        let by_name = self.inner.batch_rows_by_name();
        batches
            .iter()
            .enumerate()
            .filter(|(_, b)| !by_name || b.statements.len() == 1)
            .flat_map(|(b, batch)| {
                batch
                    .statements
                    .iter()
                    .enumerate()
                    .map(move |(i, s)| (b, i, s.sql.clone()))
            })
            .collect()
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
        if self.armed.get() || check_layout(self.layout, self.catalog).is_err() {
            // As a batch, through `run`: it adds the guard or refuses.
            let batch = ShardBatch {
                shard,
                statements: vec![ShardStatement {
                    sql: sql.clone(),
                    params: params.to_vec(),
                }],
            };
            return Box::pin(async move { only_output(self.run(vec![batch]).await) });
        }
        self.inner.run_one(shard, sql, params)
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
        let guard = ShardStatement {
            sql: sql.into(),
            params,
        };
        let reads_only = batches
            .iter()
            .all(|b| b.statements.iter().all(|s| lex::returns_rows_only(&s.sql)));
        let n = batches.len();
        let extra = if reads_only { 1 } else { n };
        if let Err(e) = self.budget.take(extra) {
            return Box::pin(async move { vec![Err(e); n] });
        }
        let (placement, expected) = self.placement(&batches, reads_only);
        // What the reads answer alone, where the batch keeps it exact: learned for later.
        let learn = match placement {
            Placement::Beside => self.exact_alone(&batches),
            _ => Vec::new(),
        };
        match placement {
            Placement::Beside => batches.push(ShardBatch {
                shard: batches[0].shard,
                statements: vec![guard],
            }),
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
            if !expected.is_empty() {
                if let Some(Ok(first)) = out.first_mut() {
                    if !restore_columns(first, &expected) {
                        // Not what this catalog's reads answered: plan again on a fresh one.
                        return vec![Err(schema_changed()); n];
                    }
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
