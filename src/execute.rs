//! Stage 4, execute: run a plan's shard batches on a backend, within the query budget,
//! and combine the shards' answers into one D1-shaped result.

use crate::backend::{Backend, ShardBatch, ShardId, StatementOutput};
use crate::error::{Error, ErrorCode, Result};
use crate::plan::{Combine, Plan};
use crate::value::Value;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use std::cell::Cell;

/// D1's `meta`, summed over the shards that served the statement, plus which they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Meta {
    /// Time spent, in milliseconds (the slowest shard for fan-outs).
    pub duration: f64,
    /// Rows changed.
    pub changes: u64,
    /// Last inserted rowid.
    pub last_row_id: i64,
    /// Whether the database changed.
    pub changed_db: bool,
    /// Total size of the shards that served the statement, in bytes.
    pub size_after: u64,
    /// Rows read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// The shards that served it, ascending.
    pub shards: ShardList,
}

impl Meta {
    /// Adds the meta of a statement that ran after these (as one statement made of several
    /// runs, e.g. the writes of an `INSERT … SELECT`): counts and time summed, the last
    /// row id the later one's, the shards of both.
    pub fn then(&mut self, later: Meta) {
        self.changes += later.changes;
        self.rows_read += later.rows_read;
        self.rows_written += later.rows_written;
        self.changed_db |= later.changed_db;
        self.last_row_id = later.last_row_id;
        self.duration += later.duration;
        self.size_after = self.size_after.max(later.size_after);
        self.shards.extend(later.shards);
        self.shards.sort_unstable();
        self.shards.dedup();
    }
}

/// The shards that served a statement: most statements name one to a few, kept inline.
pub type ShardList = smallvec::SmallVec<[ShardId; 4]>;

/// One statement's result: column names, rows, meta.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    /// Column names, in order.
    pub columns: crate::value::Columns,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Counters.
    pub meta: Meta,
}

/// A row as a JSON object in column order (D1's `results` element).
pub struct RowObject<'a> {
    columns: &'a [String],
    /// `(column, value index)` per key: see [`QueryResult::object_keys`].
    keys: std::rc::Rc<[(usize, usize)]>,
    row: &'a [Value],
}

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.keys.len()))?;
        for &(c, v) in self.keys.iter() {
            if let (Some(c), Some(v)) = (self.columns.get(c), self.row.get(v)) {
                map.serialize_entry(c, v)?;
            }
        }
        map.end()
    }
}

impl QueryResult {
    /// The rows as D1 objects.
    pub fn objects(&self) -> impl Iterator<Item = RowObject<'_>> {
        let keys: std::rc::Rc<[(usize, usize)]> = self.object_keys().into();
        self.rows.iter().map(move |r| RowObject {
            columns: &self.columns,
            keys: keys.clone(),
            row: r,
        })
    }

    /// The keys of a row object, as D1 builds them: one per distinct column name, where the
    /// name first appears, holding the value of its last column of that name (a JavaScript
    /// object assigned column by column). `(column, value index)` pairs.
    pub fn object_keys(&self) -> Vec<(usize, usize)> {
        let mut keys: Vec<(usize, usize)> = Vec::with_capacity(self.columns.len());
        for (i, c) in self.columns.iter().enumerate() {
            match keys.iter_mut().find(|(k, _)| self.columns[*k] == *c) {
                Some(k) => k.1 = i,
                None => keys.push((i, i)),
            }
        }
        keys
    }
}

/// `{ "results": [...], "success": true, "meta": {...} }`, D1's result shape.
impl Serialize for QueryResult {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct Rows<'a>(&'a QueryResult);
        impl Serialize for Rows<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq(self.0.objects())
            }
        }
        let mut st = s.serialize_struct("D1Result", 3)?;
        st.serialize_field("results", &Rows(self))?;
        st.serialize_field("success", &true)?;
        st.serialize_field("meta", &self.meta)?;
        st.end()
    }
}

/// A budget counter that outlives one handle (the JavaScript `D1Database` of a request,
/// shared by its concurrent calls and sessions). Read and updated synchronously, before
/// any shard is called, so concurrent calls cannot both spend the same remainder.
pub trait SharedBudget {
    /// Shard statements allowed (None: unlimited).
    fn limit(&self) -> Option<usize>;
    /// Shard statements used so far.
    fn used(&self) -> usize;
    /// Records `n` more.
    fn add(&self, n: usize);
    /// Takes `n` more if the limit allows them; otherwise takes nothing and returns the
    /// statements used so far.
    fn try_take(&self, n: usize) -> std::result::Result<(), usize> {
        take_by_parts(self, n)
    }
}

/// [`SharedBudget::try_take`] from `used`, `limit` and `add`.
pub fn take_by_parts<B: SharedBudget + ?Sized>(
    budget: &B,
    n: usize,
) -> std::result::Result<(), usize> {
    let used = budget.used();
    if budget.limit().is_some_and(|limit| used + n > limit) {
        return Err(used);
    }
    budget.add(n);
    Ok(())
}

/// A counter several handles share in Rust (a database and its sessions).
#[derive(Debug, Default)]
pub struct BudgetCounter {
    limit: Option<usize>,
    used: Cell<usize>,
}

impl BudgetCounter {
    /// A counter of `limit` shard statements (None: unlimited).
    pub fn new(limit: Option<usize>) -> std::rc::Rc<BudgetCounter> {
        std::rc::Rc::new(BudgetCounter {
            limit,
            used: Cell::new(0),
        })
    }
}

impl SharedBudget for std::rc::Rc<BudgetCounter> {
    fn limit(&self) -> Option<usize> {
        self.limit
    }
    fn used(&self) -> usize {
        self.used.get()
    }
    fn add(&self, n: usize) {
        self.used.set(self.used.get() + n);
    }
}

/// The per-invocation query budget (D1: 50 queries on the free plan, 1000 paid): a
/// handle's view of a counter, its own or one shared with other handles.
pub struct Budget {
    /// Statements this handle used.
    used: Cell<usize>,
    counter: Box<dyn SharedBudget>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("limit", &self.counter.limit())
            .field("used", &self.used.get())
            .field("used_in_all", &self.counter.used())
            .finish()
    }
}

impl Budget {
    /// A budget of `limit` shard statements (None: unlimited), this handle's own.
    pub fn new(limit: Option<usize>) -> Budget {
        Budget::shared(Box::new(BudgetCounter::new(limit)))
    }

    /// A budget drawn from a counter shared with other handles.
    pub fn shared(counter: Box<dyn SharedBudget>) -> Budget {
        Budget {
            used: Cell::new(0),
            counter,
        }
    }

    /// Statements this handle used so far.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Takes `n` statements from the budget, or refuses before anything runs.
    pub fn take(&self, n: usize) -> Result<()> {
        if let Err(used) = self.counter.try_take(n) {
            let limit = self.counter.limit().unwrap_or(used);
            return Err(Error::with_remedy(
                ErrorCode::QueryBudget,
                format!("running this needs {n} shard queries, but only {} of the {limit} allowed per invocation are left", limit.saturating_sub(used)),
                "pin the statement to one shard with its key, or split the work across invocations",
            ));
        }
        self.used.set(self.used.get() + n);
        Ok(())
    }
}

/// Runs the batches of several plans together (one backend call, one batch per shard).
pub async fn run_batches(
    backend: &dyn Backend,
    batches: Vec<ShardBatch>,
    budget: &Budget,
) -> Result<Vec<Result<Vec<StatementOutput>>>> {
    let n: usize = batches.iter().map(|b| b.statements.len()).sum();
    budget.take(n)?;
    Ok(backend.run(batches).await)
}

/// Executes one plan. Its batches move to the backend: a plan is run once.
pub async fn execute(
    mut plan: Plan,
    backend: &dyn Backend,
    budget: &Budget,
) -> Result<QueryResult> {
    let batches = std::mem::take(&mut plan.batches);
    let shards: ShardList = batches.iter().map(|b| b.shard).collect();
    let outputs = run_batches(backend, batches, budget).await?;
    combine_from(&plan, shards, outputs)
}

/// Executes the one statement of a plan of one statement on one shard, answered as the
/// shard answers it (`Template::passthrough`), from its SQL and the caller's values.
pub async fn execute_one(
    shard: ShardId,
    sql: &std::sync::Arc<str>,
    params: &[Value],
    backend: &dyn Backend,
    budget: &Budget,
) -> Result<QueryResult> {
    budget.take(1)?;
    let out = match backend.run_one_now(shard, sql, params) {
        Some(out) => out?,
        None => backend.run_one(shard, sql, params).await?,
    };
    let mut result = QueryResult::default();
    add_meta(&mut result.meta, std::slice::from_ref(&out));
    result.columns = out.columns;
    result.rows = out.rows;
    result.meta.shards = smallvec::smallvec![shard];
    Ok(result)
}

/// Combines the outputs of a plan's batches (one entry per batch, in plan order).
pub fn combine(plan: &Plan, outputs: Vec<Result<Vec<StatementOutput>>>) -> Result<QueryResult> {
    let shards: ShardList = plan.batches.iter().map(|b| b.shard).collect();
    combine_from(plan, shards, outputs)
}

/// A split INSERT's answer: RETURNING rows back in the caller's row order, counters
/// summed, `last_row_id` of the caller's last inserted row.
fn insert_rows(result: &mut QueryResult, ok: &[Vec<StatementOutput>], rows: &[Vec<Vec<usize>>]) {
    let total: usize = rows.iter().flatten().map(|s| s.len()).sum();
    let mut placed: Vec<Option<Vec<Value>>> = vec![None; total];
    let mut exact = true;
    // SQLite's last_insert_rowid() is the rowid of the last row the statement
    // inserted: the last row of the statement holding the latest caller row that
    // inserted anything. (When a conflict skipped rows of that statement, its last
    // inserted row is still the latest one there.)
    let mut last: Option<(usize, i64)> = None;
    for (outs, batch_rows) in ok.iter().zip(rows) {
        for (o, stmt_rows) in outs.iter().zip(batch_rows) {
            if o.meta.changes > 0 {
                let latest = stmt_rows.iter().copied().max().unwrap_or(0);
                if last.is_none_or(|(i, _)| latest >= i) {
                    last = Some((latest, o.meta.last_row_id));
                }
            }
            if o.rows.len() != stmt_rows.len() {
                // A conflict skipped rows (planning allows that on one shard only,
                // whose rows keep their order).
                exact = false;
            } else {
                for (row, &i) in o.rows.iter().zip(stmt_rows) {
                    if let Some(slot) = placed.get_mut(i) {
                        *slot = Some(row.clone());
                    }
                }
            }
        }
    }
    for outs in ok {
        add_meta(&mut result.meta, outs);
    }
    if let Some((_, rowid)) = last {
        result.meta.last_row_id = rowid;
    }
    if exact {
        result.rows = placed.into_iter().flatten().collect();
    } else {
        result.rows = ok
            .iter()
            .flat_map(|o| o.iter().flat_map(|s| s.rows.clone()))
            .collect();
    }
}

/// [`combine`] with the shard of each output given (`shards[i]` answered `outputs[i]`).
fn combine_from(
    plan: &Plan,
    shards: ShardList,
    mut outputs: Vec<Result<Vec<StatementOutput>>>,
) -> Result<QueryResult> {
    if let Some(first) = outputs.iter().position(Result::is_err) {
        let committed: Vec<ShardId> = shards
            .iter()
            .zip(&outputs)
            .filter(|(_, o)| o.is_ok())
            .map(|(&s, _)| s)
            .collect();
        let e = match outputs.swap_remove(first) {
            Err(e) => e,
            Ok(_) => Error::internal("a failed shard answer went missing"),
        };
        return Err(partial_failure(e, &committed, &shards, plan));
    }
    // Every batch answered (in plan order).
    let mut result = QueryResult::default();
    for o in outputs.iter_mut().filter_map(|o| o.as_mut().ok()).flatten() {
        if !o.columns.is_empty() {
            result.columns = std::mem::take(&mut o.columns);
            break;
        }
    }
    let answers = outputs.into_iter().filter_map(Result::ok);
    match &plan.combine {
        Combine::Replicated => {
            if let Some(outs) = answers.take(1).next() {
                add_outputs(&mut result, outs);
            }
        }
        Combine::InsertRows { rows, .. } => {
            let ok: Vec<Vec<StatementOutput>> = answers.collect();
            insert_rows(&mut result, &ok, rows);
        }
        Combine::Rows(spec) => {
            let per_shard = rows_per_shard(&mut result.meta, answers);
            result.rows = crate::merge::merge_rows(spec, per_shard)?;
            if let Some(columns) = &spec.columns {
                result.columns = columns.clone();
            } else if spec.hidden > 0 {
                let visible = result.columns.len().saturating_sub(spec.hidden);
                result.columns = result.columns[..visible].into();
            }
        }
        Combine::Aggregate { merge, columns } => {
            let per_shard = rows_per_shard(&mut result.meta, answers);
            result.rows = crate::merge::merge_aggregates(merge, per_shard)?;
            result.columns = columns.clone();
        }
        Combine::Single | Combine::Concat | Combine::Scatter => {
            for outs in answers {
                add_outputs(&mut result, outs);
            }
        }
    }
    result.meta.shards = shards;
    Ok(result)
}

/// Each shard's rows, its statements' in order, for a merge; their counters go to `meta`.
fn rows_per_shard(
    meta: &mut Meta,
    answers: impl Iterator<Item = Vec<StatementOutput>>,
) -> Vec<Vec<Vec<Value>>> {
    answers
        .map(|outs| {
            add_meta(meta, &outs);
            outs.into_iter().flat_map(|o| o.rows).collect()
        })
        .collect()
}

fn add_outputs(result: &mut QueryResult, outs: Vec<StatementOutput>) {
    add_meta(&mut result.meta, &outs);
    for o in outs {
        if result.rows.is_empty() {
            result.rows = o.rows;
        } else {
            result.rows.extend(o.rows);
        }
    }
}

fn add_meta(meta: &mut Meta, outs: &[StatementOutput]) {
    let mut duration = 0.0;
    for o in outs {
        let m = &o.meta;
        meta.changes += m.changes;
        meta.rows_read += m.rows_read;
        meta.rows_written += m.rows_written;
        meta.changed_db |= m.changed_db;
        if m.changes > 0 || meta.last_row_id == 0 {
            meta.last_row_id = m.last_row_id;
        }
        duration += m.duration;
    }
    if let Some(o) = outs.last() {
        meta.size_after += o.meta.size_after;
    }
    // Shards run concurrently: the statement took as long as its slowest shard.
    meta.duration = meta.duration.max(duration);
}

/// A shard's error; when other shards of the same statement already committed, say so,
/// since D1 cannot roll them back.
fn partial_failure(
    e: Error,
    committed: &[ShardId],
    batch_shards: &[ShardId],
    plan: &Plan,
) -> Error {
    let shards = batch_shards.len();
    let reads = matches!(
        plan.combine,
        Combine::Single | Combine::Concat | Combine::Rows(_) | Combine::Aggregate { .. }
    );
    // A read that stops at a LIMIT: SQLite evaluates rows in order and stops, so an error
    // in a row one shard reached may lie past the rows one database would have evaluated.
    let windowed = match &plan.combine {
        Combine::Rows(m) => m.limit.is_some(),
        _ => false,
    };
    if let (Error::Backend { shard, message }, true, true) = (&e, reads, windowed) {
        if shards > 1 {
            return Error::unsupported(
                format!(
                    "shard {} failed ({message}) in a row it read toward the LIMIT; whether one database would reach that row depends on the rows before it on other shards",
                    shard.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
                ),
                "filter out the rows that fail, or pin one shard with the key",
            );
        }
    }
    let writes = !reads;
    match e {
        Error::Backend { shard, message } if plan.changes_schema && !committed.is_empty() => {
            let list: Vec<String> = committed.iter().map(|s| s.to_string()).collect();
            let failed: Vec<String> = batch_shards
                .iter()
                .copied()
                .filter(|s| !committed.contains(s))
                .map(|s| s.to_string())
                .collect();
            Error::Backend {
                shard,
                message: format!("{message} [d1plus: the schema change was applied on shard{} {} but not on shard{} {}: the shards' schemas now differ. `d1plus check DIR` lists the differences; repair by making the failing shards match (fix what fails there and run the statement on them alone) or by undoing it on the others, and make schema changes through `d1plus migrate`, which resumes per shard]",
                    if list.len() == 1 { "" } else { "s" }, list.join(", "),
                    if failed.len() == 1 { "" } else { "s" }, failed.join(", ")),
            }
        }
        Error::Backend { shard, message } if writes && !committed.is_empty() => {
            let list: Vec<String> = committed.iter().map(|s| s.to_string()).collect();
            Error::Backend {
                shard,
                message: format!("{message} [d1plus: shard{} {} committed {} part; a write across shards is atomic per shard only]",
                    if list.len() == 1 { "" } else { "s" }, list.join(", "),
                    if list.len() == 1 { "its" } else { "their" }),
            }
        }
        other => other,
    }
}
