//! The coordinator: an in-memory SQLite database (the same SQLite the shards run) where the
//! final step of a fan-out runs as SQL. The shards' partial rows go into a table whose
//! columns carry the original expressions' affinity and collation; the final GROUP BY,
//! HAVING, output expressions, ORDER BY and LIMIT run there, so they mean exactly what they
//! mean in one SQLite database. Partial aggregates combine through the `__d1p_*` aggregate
//! functions registered here.
//!
//! One connection per thread (a Worker isolate is one thread). A partial table is kept per
//! column layout and emptied after each use, so a repeated statement re-prepares nothing.

use super::compare::{compare, Collation};
use super::sum::{refusal, SumKind, SumOf, SEPARATOR};
use super::Row;
use crate::error::{sqlite_message, Error, ErrorCode, Result};
use crate::value::Value;
use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Serialize;
use std::cell::RefCell;
use std::cmp::Ordering;

/// The final step of a fan-out, run over the shards' partial rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinalStep {
    /// Column declarations of the partial table, one per shard-row column, in order
    /// (`"__d1p_g1" TEXT COLLATE NOCASE`).
    pub columns: Vec<String>,
    /// The query over the partial table, which is named [`PARTIALS`] in it.
    pub sql: String,
    /// Its parameters (the statement's literals and bound values it uses).
    pub params: Vec<Value>,
    /// Checks run before `sql`.
    pub ambiguity_checks: Vec<AmbiguityCheck>,
}

/// A query over the partial rows that returns a row when the answer would depend on the
/// order the rows are met; then the statement is refused with its message and remedy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmbiguityCheck {
    /// The query, over [`PARTIALS`].
    pub sql: String,
    /// What the refusal says.
    pub message: String,
    /// What the refusal suggests.
    pub remedy: &'static str,
}

impl AmbiguityCheck {
    /// A check for equal values that differ in type or spelling.
    pub fn spelling(sql: String, message: String) -> AmbiguityCheck {
        AmbiguityCheck {
            sql,
            message,
            remedy: SPELLING_REMEDY,
        }
    }
}

/// The remedy for integers whose sum passes 2^63 at a point the row order decides.
pub const OVERFLOW_REMEDY: &str =
    "CAST the values to REAL (sum(CAST(x AS REAL)) or total(x)), or pin one shard with the key";

/// The remedy for a column neither grouped nor aggregated that differs within a group.
pub const BARE_REMEDY: &str =
    "add the column to GROUP BY or aggregate it (min(), max()), or pin one shard with the key";

/// The remedy for equal values that differ in type or spelling.
pub const SPELLING_REMEDY: &str =
    "CAST the column to one type (or COLLATE BINARY), or pin one shard with the key";

/// The partial table's name in [`FinalStep::sql`]; replaced by the layout's own table.
pub const PARTIALS: &str = "__d1p_partials";

struct Coordinator {
    conn: Connection,
    /// Column layouts with a table.
    tables: Vec<Layout>,
}

/// A column layout's partial table, and its statement texts.
struct Layout {
    /// The column declarations.
    columns: Vec<String>,
    /// The table's name, quoted (what [`PARTIALS`] becomes in a step's texts).
    quoted: String,
    /// `INSERT INTO "name" VALUES (?, …)`.
    insert: String,
    /// `DELETE FROM "name"`.
    delete: String,
}

thread_local! {
    static COORDINATOR: RefCell<Option<Coordinator>> = const { RefCell::new(None) };
}

/// Most partial tables kept at once; past it they are all dropped.
const MAX_TABLES: usize = 64;

fn sql_error(e: rusqlite::Error) -> Error {
    let message = sqlite_message(e);
    let refused = message
        .strip_prefix(ErrorCode::Unsupported.as_str())
        .and_then(|rest| rest.strip_prefix(SEPARATOR));
    if let Some(rest) = refused {
        let (what, remedy) = rest.split_once(SEPARATOR).unwrap_or((rest, ""));
        return Error::unsupported(what.to_string(), remedy.to_string());
    }
    Error::backend(None, message)
}

fn open() -> Result<Coordinator> {
    let conn = Connection::open_in_memory().map_err(sql_error)?;
    // No rollback journal: nothing here is ever rolled back (each use ends by emptying its
    // table, error or not), and the in-memory journal copied every page an INSERT touched.
    conn.execute_batch("PRAGMA journal_mode = OFF")
        .map_err(sql_error)?;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let reg = |r: rusqlite::Result<()>| r.map_err(sql_error);
    for kind in [SumKind::Sum, SumKind::Total, SumKind::Avg] {
        let (name, arity) = kind.function();
        reg(conn.create_aggregate_function(name, arity as i32, flags, SumOf(kind)))?;
    }
    reg(conn.create_aggregate_function("__d1p_min", 2, flags, Best(Ordering::Less)))?;
    reg(conn.create_aggregate_function("__d1p_max", 2, flags, Best(Ordering::Greater)))?;
    reg(conn.create_aggregate_function("__d1p_json_arrays", 1, flags, JsonArrays))?;
    reg(conn.create_aggregate_function("__d1p_bare_min", 3, flags, BareOf(Ordering::Less)))?;
    reg(conn.create_aggregate_function("__d1p_bare_max", 3, flags, BareOf(Ordering::Greater)))?;
    Ok(Coordinator {
        conn,
        tables: Vec::new(),
    })
}

impl Coordinator {
    /// The table for this column layout (its index in `tables`), created on first use.
    fn table(&mut self, columns: &[String]) -> Result<usize> {
        if let Some(i) = self.tables.iter().position(|t| t.columns == columns) {
            return Ok(i);
        }
        if self.tables.len() >= MAX_TABLES {
            for t in self.tables.drain(..) {
                self.conn
                    .execute_batch(&format!("DROP TABLE {}", t.quoted))
                    .map_err(sql_error)?;
            }
        }
        let quoted = format!("\"__d1p_p{}\"", next_table_id());
        self.conn
            .execute_batch(&format!("CREATE TABLE {quoted}({})", columns.join(", ")))
            .map_err(sql_error)?;
        let placeholders = vec!["?"; columns.len()].join(", ");
        self.tables.push(Layout {
            columns: columns.to_vec(),
            insert: format!("INSERT INTO {quoted} VALUES ({placeholders})"),
            delete: format!("DELETE FROM {quoted}"),
            quoted,
        });
        Ok(self.tables.len() - 1)
    }

    /// One statement without parameters or rows, prepared once.
    fn execute(&self, sql: &str) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_error)?;
        stmt.execute([]).map_err(sql_error).map(drop)
    }

    /// The final step over these rows, in one transaction that ends with the partial table
    /// emptied, whether the step succeeded or not.
    fn run(
        &mut self,
        step: &FinalStep,
        rows: Vec<Row>,
        names: Option<&mut Vec<String>>,
    ) -> Result<Vec<Row>> {
        let i = self.table(&step.columns)?;
        if !self.conn.is_autocommit() {
            // A COMMIT that failed before: end that transaction first.
            self.execute("COMMIT")?;
        }
        self.execute("BEGIN")?;
        let layout = &self.tables[i];
        let result = self.fill_and_query(step, &rows, layout, names);
        let cleared = self.execute(&layout.delete);
        let committed = self.execute("COMMIT");
        if cleared.is_err() {
            // Its rows could not go: the layout gets a new table next time.
            self.tables.remove(i);
        }
        let out = result?;
        cleared?;
        committed?;
        Ok(out)
    }

    /// Fills the partial table and runs the step; `names`, when given, gets its result's
    /// column names.
    fn fill_and_query(
        &self,
        step: &FinalStep,
        rows: &[Row],
        layout: &Layout,
        names: Option<&mut Vec<String>>,
    ) -> Result<Vec<Row>> {
        let width = step.columns.len();
        {
            let mut insert = self
                .conn
                .prepare_cached(&layout.insert)
                .map_err(sql_error)?;
            for row in rows {
                if row.len() != width {
                    return Err(Error::internal(format!(
                        "a shard answered {} columns where {width} were planned",
                        row.len()
                    )));
                }
                insert
                    .execute(rusqlite::params_from_iter(row.iter()))
                    .map_err(sql_error)?;
            }
        }
        for check in &step.ambiguity_checks {
            let sql = check.sql.replace(PARTIALS, &layout.quoted);
            let mut stmt = self.conn.prepare_cached(&sql).map_err(sql_error)?;
            if stmt.exists([]).map_err(sql_error)? {
                return Err(Error::unsupported(check.message.clone(), check.remedy));
            }
        }
        let sql = step.sql.replace(PARTIALS, &layout.quoted);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sql_error)?;
        let n = stmt.column_count();
        if let Some(names) = names {
            *names = stmt.column_names().map(String::from).collect();
        }
        let mut out = Vec::new();
        let mut it = stmt
            .query(rusqlite::params_from_iter(step.params.iter()))
            .map_err(sql_error)?;
        while let Some(r) = it.next().map_err(sql_error)? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(Value::from(r.get_ref(i).map_err(sql_error)?));
            }
            out.push(row);
        }
        Ok(out)
    }
}

fn next_table_id() -> u64 {
    thread_local! { static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) }; }
    NEXT.with(|n| {
        n.set(n.get() + 1);
        n.get()
    })
}

/// Runs a final step over the partial rows of every shard.
pub fn finish(step: &FinalStep, rows: Vec<Row>) -> Result<Vec<Row>> {
    run_step(step, rows, None)
}

/// [`finish`] for a step whose result's column names are SQLite's own (a query over a
/// FROM subquery's rows): its rows, and `names` filled with those.
pub fn finish_named(step: &FinalStep, rows: Vec<Row>, names: &mut Vec<String>) -> Result<Vec<Row>> {
    run_step(step, rows, Some(names))
}

fn run_step(step: &FinalStep, rows: Vec<Row>, names: Option<&mut Vec<String>>) -> Result<Vec<Row>> {
    COORDINATOR.with(|c| {
        let mut slot = c.try_borrow_mut().map_err(|_| {
            Error::internal("the coordinator database is already in use on this thread")
        })?;
        if slot.is_none() {
            *slot = Some(open()?);
        }
        let coordinator = slot.as_mut().expect("opened above");
        coordinator.run(step, rows, names)
    })
}

/// min()/max() of shard minimums/maximums under a collation (argument 2: its name). Two
/// json_group_array() of shard json_group_array()s: their elements, one array (in shard
/// order, as group_concat's pieces are).
struct JsonArrays;

impl Aggregate<String, String> for JsonArrays {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<String> {
        Ok(String::new())
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut String) -> rusqlite::Result<()> {
        if let ValueRef::Text(t) = ctx.get_raw(0) {
            let t =
                std::str::from_utf8(t).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            let inner = t.trim().strip_prefix('[').and_then(|r| r.strip_suffix(']'));
            match inner {
                Some(inner) if inner.trim().is_empty() => {}
                Some(inner) => {
                    if !acc.is_empty() {
                        acc.push(',');
                    }
                    acc.push_str(inner);
                }
                None => {
                    return Err(rusqlite::Error::UserFunctionError(
                        format!("a shard's json_group_array() is not an array: {t}").into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, acc: Option<String>) -> rusqlite::Result<String> {
        Ok(format!("[{}]", acc.unwrap_or_default()))
    }
}

/// The collation a `__d1p_*` call names in argument `i` (`'NOCASE'`); BINARY otherwise.
fn collation_arg(ctx: &Context<'_>, i: usize) -> Collation {
    match ctx.get_raw(i) {
        ValueRef::Text(t) => {
            Collation::from_name(&String::from_utf8_lossy(t)).unwrap_or(Collation::Binary)
        }
        _ => Collation::Binary,
    }
}

/// equal values that differ (`0` and `0.0`, `'A'` and `'a'` under NOCASE) are refused:
/// which one SQLite keeps depends on the order it meets them.
struct Best(Ordering);

impl Aggregate<Option<Value>, Option<Value>> for Best {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Option<Value>> {
        Ok(None)
    }

    fn step(&self, ctx: &mut Context<'_>, best: &mut Option<Value>) -> rusqlite::Result<()> {
        let v = Value::from(ctx.get_raw(0));
        if v.is_null() {
            return Ok(());
        }
        let collation = collation_arg(ctx, 1);
        match best {
            None => *best = Some(v),
            Some(b) => {
                let o = compare(&v, b, collation);
                if o == Ordering::Equal && v != *b {
                    return Err(refusal(
                        &format!("min()/max() across shards met equal values of different types or spellings ({} {b} and {} {v}); which one SQLite keeps depends on row order", b.type_name(), v.type_name()),
                        SPELLING_REMEDY,
                    ));
                }
                if o == self.0 {
                    *best = Some(v);
                }
            }
        }
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        best: Option<Option<Value>>,
    ) -> rusqlite::Result<Option<Value>> {
        Ok(best.flatten())
    }
}

/// `__d1p_bare_max(m, b, collation)` (and `_min`): a column neither grouped nor aggregated
/// beside the query's one `max(x)`, whose partial `m` each shard sent with the value `b`
/// its SQLite took from the row of that maximum. The answer is the `b` of the partial row
/// with the greatest `m`, as one SQLite takes it from the row with the greatest `x`. Where
/// that row is not one (equal `m` on several shards with different `b`), or no row has a
/// value (every `m` NULL, with different `b`; an empty shard of an ungrouped query sends
/// NULL and NULL), one SQLite would take the row it meets first: refused, as that order is
/// the shards'.
struct BareOf(Ordering);

#[derive(Default)]
struct BareState {
    /// The best `m` so far and its `b`.
    best: Option<(Value, Value)>,
    /// Another partial row has an `m` equal to the best one and another `b`.
    tied: bool,
    /// The `b` of the partial rows whose `m` is NULL, while they agree.
    unset: Option<Value>,
    unset_differs: bool,
}

impl Aggregate<BareState, Value> for BareOf {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<BareState> {
        Ok(BareState::default())
    }

    fn step(&self, ctx: &mut Context<'_>, state: &mut BareState) -> rusqlite::Result<()> {
        let (m, b) = (Value::from(ctx.get_raw(0)), Value::from(ctx.get_raw(1)));
        if m.is_null() {
            match &state.unset {
                None => state.unset = Some(b),
                Some(u) => state.unset_differs |= *u != b,
            }
            return Ok(());
        }
        let collation = collation_arg(ctx, 2);
        match &state.best {
            Some((best, kept)) => match compare(&m, best, collation) {
                o if o == self.0 => {
                    state.best = Some((m, b));
                    state.tied = false;
                }
                Ordering::Equal => state.tied |= *kept != b,
                _ => {}
            },
            None => state.best = Some((m, b)),
        }
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, state: Option<BareState>) -> rusqlite::Result<Value> {
        let state = state.unwrap_or_default();
        let which = if self.0 == Ordering::Greater {
            "max"
        } else {
            "min"
        };
        let remedy = "select the column in a second query keyed by the row found, or pin one shard with the key";
        match state.best {
            Some(_) if state.tied => Err(refusal(
                &format!("a column beside {which}() across shards: several shards hold a row with the {which}imum and they differ in it; which row SQLite takes depends on row order"),
                remedy,
            )),
            Some((_, b)) => Ok(b),
            None if state.unset_differs => Err(refusal(
                &format!("a column beside {which}() across shards, where every value is NULL: SQLite takes it from the row it meets first, which depends on row order"),
                remedy,
            )),
            None => Ok(state.unset.unwrap_or(Value::Null)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(sql: &str) -> FinalStep {
        FinalStep {
            columns: vec!["\"__d1p_g1\" INTEGER".into()],
            sql: sql.into(),
            params: Vec::new(),
            ambiguity_checks: Vec::new(),
        }
    }

    fn ints(ns: &[i64]) -> Vec<Row> {
        ns.iter().map(|n| vec![Value::Integer(*n)]).collect()
    }

    #[test]
    fn each_step_sees_only_its_own_rows_even_after_a_failed_one() {
        let sum = step(&format!("SELECT sum(\"__d1p_g1\") FROM {PARTIALS}"));
        assert_eq!(finish(&sum, ints(&[1, 2])).unwrap(), ints(&[3]));
        // Fails after its rows went in (the function does not exist).
        let failing = step(&format!("SELECT no_such_fn(\"__d1p_g1\") FROM {PARTIALS}"));
        let err = finish(&failing, ints(&[100])).unwrap_err();
        assert!(err.to_string().contains("no_such_fn"), "{err}");
        // A row of the wrong width fails part-way through the inserts.
        assert!(finish(&sum, vec![vec![Value::Integer(7)], Vec::new()]).is_err());
        assert_eq!(finish(&sum, ints(&[5])).unwrap(), ints(&[5]));
        COORDINATOR.with(|c| {
            let c = c.borrow();
            assert!(
                c.as_ref().unwrap().conn.is_autocommit(),
                "a transaction was left open"
            );
        });
    }
}
