//! Stage 3, plan: where a statement runs, what each shard receives, and how the answers
//! combine. A [`Plan`] is plain data: it prints (`d1plus explain`), compares and snapshots.

mod aggregate;
pub(crate) mod batch;
pub mod connection_state;
pub(crate) mod cte;
mod derived_bare;
mod derived_outer;
pub(crate) mod derived_table;
mod deterministic;
pub(crate) mod distinct_groups;
pub(crate) mod fanout;
mod insert_select;
mod insert_split;
pub(crate) mod insert_two_phase;
mod join_rows;
mod names;
pub mod output;
pub(crate) mod params;
mod result_names;
mod route;
pub mod rowid_ranges;
mod scope;
mod select_merge;
mod select_shape;
mod splice;
pub(crate) mod subquery;
pub(crate) mod template;
mod terms;
pub(crate) mod window_rows;

pub use connection_state::ConnectionState;
pub use route::ShardHint;
pub(crate) use route::{key_affinity, resolve_hint};

use crate::analyze::{Analysis, StatementClass};
use crate::catalog::Catalog;
use crate::error::{Error, ErrorCode, Result};
use crate::lex;
use crate::merge::RowMerge;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::policy::Policy;
use crate::sql::KeyExpr;
use crate::value::Value;
pub use output::{ShardBatch, ShardId, ShardStatement};
use serde::Serialize;
use sqlparser::ast::Statement;
use std::collections::BTreeSet;
use std::fmt;

/// D1's limit on bound parameters per statement.
pub const D1_MAX_PARAMS: usize = 100;
/// D1's limit on SQL text per statement, in bytes.
pub const D1_MAX_SQL_BYTES: usize = 100_000;

/// Where a statement runs. There is exactly one way to say "all shards".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Target {
    /// The home shard (shard 0), where unsharded tables live.
    Home,
    /// One shard.
    One(ShardId),
    /// Several shards, in ascending order.
    Some(BTreeSet<ShardId>),
    /// Every shard.
    All,
}

impl Target {
    /// The shards this target names, in ascending order.
    pub fn shards(&self, shard_count: usize) -> Vec<ShardId> {
        match self {
            Target::Home => vec![0],
            Target::One(s) => vec![*s],
            Target::Some(set) => set.iter().copied().collect(),
            Target::All => (0..shard_count).collect(),
        }
    }

    /// Builds the narrowest target for a set of shards.
    pub fn from_set(set: BTreeSet<ShardId>, shard_count: usize) -> Target {
        if set.len() == 1 {
            set.into_iter()
                .next()
                .map(Target::One)
                .unwrap_or(Target::All)
        } else if set.len() >= shard_count {
            Target::All
        } else {
            Target::Some(set)
        }
    }
}

/// Why a statement goes where it goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Reason {
    /// Only unsharded (or no) tables: they live on the home shard.
    Unsharded,
    /// Reads only reference tables, identical everywhere: the home shard answers.
    ReferenceRead,
    /// Writes a reference table: every copy must change.
    ReferenceWrite,
    /// The shard key is pinned by the SQL.
    Key {
        /// The table whose key was found.
        table: String,
        /// Its key column.
        column: String,
        /// The distinct key values, after parameters were bound.
        values: Vec<Value>,
    },
    /// The caller's hint.
    Hint {
        /// The hinted table.
        table: String,
        /// The hinted key.
        key: Value,
    },
    /// A sharded table without a key: every shard, merged.
    NoKey {
        /// The sharded table.
        table: String,
    },
    /// A keyless write the caller explicitly allowed on every shard.
    ScatterWrite {
        /// The sharded table.
        table: String,
    },
    /// INSERT … SELECT whose rows keep the shard they are read from.
    CoLocatedInsert {
        /// The target table.
        table: String,
    },
    /// INSERT rows, each routed by its key.
    InsertRows {
        /// The target table.
        table: String,
    },
    /// DDL: the schema is the same on every shard.
    Ddl,
    /// Schema introspection: the schema is the same everywhere, the home shard answers.
    Introspection,
    /// `PRAGMA x = y`: every shard.
    PragmaWrite,
    /// ANALYZE / REINDEX: every shard.
    Maintenance,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unsharded => f.write_str("only unsharded tables (they live on the home shard)"),
            Reason::ReferenceRead => {
                f.write_str("reads reference tables only (same on every shard)")
            }
            Reason::ReferenceWrite => {
                f.write_str("writes a reference table (copied on every shard)")
            }
            Reason::Key {
                table,
                column,
                values,
            } => {
                // A NULL key was pinned by `IS NULL` (`= NULL` matches nothing).
                let null = values.iter().any(|v| matches!(v, Value::Null));
                let vs: Vec<String> = values
                    .iter()
                    .filter(|v| !matches!(v, Value::Null))
                    .map(display_value)
                    .collect();
                let or_null = if null { " or IS NULL" } else { "" };
                match vs.as_slice() {
                    [] if null => write!(f, "shard key {table}.{column} IS NULL"),
                    [] => write!(
                        f,
                        "shard key {table}.{column} matches no value (any shard answers)"
                    ),
                    [one] => write!(f, "shard key {table}.{column} = {one}{or_null}"),
                    many => write!(
                        f,
                        "shard key {table}.{column} IN ({}){or_null}",
                        many.join(", ")
                    ),
                }
            }
            Reason::Hint { table, key } => write!(f, "hint {table} = {}", display_value(key)),
            Reason::NoKey { table } => write!(f, "no shard key for {table}: every shard, merged"),
            Reason::ScatterWrite { table } => {
                write!(f, "keyless write to {table}, scatter explicitly allowed")
            }
            Reason::InsertRows { table } => write!(f, "INSERT rows routed by their {table} keys"),
            Reason::CoLocatedInsert { table } => {
                write!(f, "INSERT INTO {table} … SELECT reads and writes the same shard key: every shard, rows stay in place")
            }
            Reason::Ddl => f.write_str("DDL (same schema on every shard)"),
            Reason::Introspection => f.write_str("schema introspection (same schema everywhere)"),
            Reason::PragmaWrite => f.write_str("PRAGMA assignment (every shard)"),
            Reason::Maintenance => f.write_str("maintenance statement (every shard)"),
        }
    }
}

fn display_value(v: &Value) -> String {
    match v {
        Value::Text(t) => lex::quote_text(t),
        other => other.to_string(),
    }
}

/// Route: where and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// Where.
    pub target: Target,
    /// Why.
    pub reason: Reason,
}

/// How the shards' answers become one answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Combine {
    /// One shard answered: its answer is the answer.
    Single,
    /// Rows of every shard, concatenated in shard order (no order was asked for).
    Concat,
    /// Rows of several shards merged: ORDER BY, DISTINCT, OFFSET/LIMIT, hidden columns.
    Rows(crate::merge::RowMerge),
    /// Partial aggregates of several shards combined per group; the result's columns.
    Aggregate {
        /// How to combine.
        merge: crate::merge::AggregateMerge,
        /// The result's column names (SQLite's names for the original projection).
        columns: crate::value::Columns,
    },
    /// INSERT rows split across shards: RETURNING rows go back in the caller's row order,
    /// and `last_row_id` is the rowid of the caller's last inserted row. `rows[b][s]` is
    /// the caller's row index of the s-th row that statement `s` of batch `b` inserts.
    InsertRows {
        /// Caller row indexes, per batch, per statement.
        rows: Vec<Vec<Vec<usize>>>,
        /// The statement has a RETURNING clause.
        returning: bool,
    },
    /// A write that ran on several shards, each on its own rows: rows concatenated in
    /// shard order, counters summed.
    Scatter,
    /// The same statement on every copy (reference-table writes, DDL, PRAGMA writes):
    /// every shard must succeed; the home shard's answer is the answer.
    Replicated,
}

/// A plan: route, per-shard SQL, and how to combine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Where and why.
    pub route: Route,
    /// What each shard runs, one atomic batch per shard, shards ascending.
    pub batches: Vec<ShardBatch>,
    /// How the answers combine.
    pub combine: Combine,
    /// The statement changes the schema: the catalog must be reloaded after it.
    pub changes_schema: bool,
    /// The statement's first call of a function that reads the connection's state
    /// (`changes()`, …; see [`connection_state`]), for `batch()` to place it.
    #[serde(skip)]
    pub connection_state_call: Option<String>,
}

impl Plan {
    /// A plan that leaves the schema as it is and reads no connection state (the planner
    /// marks those).
    pub(crate) fn new(route: Route, batches: Vec<ShardBatch>, combine: Combine) -> Plan {
        Plan {
            route,
            batches,
            combine,
            changes_schema: false,
            connection_state_call: None,
        }
    }

    /// One statement on one shard, its answer as it is.
    pub(crate) fn one(route: Route, shard: ShardId, statement: ShardStatement) -> Plan {
        let batch = ShardBatch {
            shard,
            statements: vec![statement],
        };
        Plan::new(route, vec![batch], Combine::Single)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.route.target {
            Target::Home => "home shard (0)".to_string(),
            Target::One(s) => format!("shard {s}"),
            Target::Some(set) => format!(
                "shards {}",
                set.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Target::All => "all shards".to_string(),
        };
        writeln!(f, "route: {target}")?;
        writeln!(f, "why:   {}", self.route.reason)?;
        // Shards that run the same statements print once (`shards 0-63: …`).
        let mut i = 0;
        while i < self.batches.len() {
            let b = &self.batches[i];
            let mut j = i + 1;
            while j < self.batches.len()
                && self.batches[j].statements == b.statements
                && self.batches[j].shard == self.batches[j - 1].shard + 1
            {
                j += 1;
            }
            let who = if j - i == 1 {
                format!("shard {:>2}", b.shard)
            } else {
                format!("shards {}-{}", b.shard, self.batches[j - 1].shard)
            };
            for st in &b.statements {
                write!(f, "{who}: {}", st.sql)?;
                if !st.params.is_empty() {
                    let ps: Vec<String> = st.params.iter().map(display_value).collect();
                    write!(f, "  -- params: [{}]", ps.join(", "))?;
                }
                writeln!(f)?;
            }
            i = j;
        }
        match &self.combine {
            Combine::Single => writeln!(f, "merge: none (one shard answers)"),
            Combine::Concat => writeln!(f, "merge: concatenate rows in shard order"),
            Combine::Rows(m) => writeln!(f, "merge: {m}"),
            Combine::Aggregate { merge, .. } => writeln!(f, "merge: {merge}"),
            Combine::InsertRows {
                returning: true, ..
            } => {
                writeln!(
                    f,
                    "merge: RETURNING rows put back in the caller's row order"
                )
            }
            Combine::InsertRows { .. } => {
                writeln!(
                    f,
                    "merge: sum changes; last_row_id of the caller's last row"
                )
            }
            Combine::Scatter => writeln!(f, "merge: concatenate rows, sum changes over shards"),
            Combine::Replicated => {
                writeln!(
                    f,
                    "merge: same statement on every copy; the home shard's answer"
                )
            }
        }
    }
}

/// What a caller allows beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Allow UPDATE/DELETE of a sharded table without a shard key to run on every shard.
    pub allow_scatter_writes: bool,
    /// Who places a statement that reads the connection's state.
    pub connection_state: ConnectionState,
}

/// Everything planning needs besides the statement.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// The schema.
    pub catalog: &'a Catalog,
    /// Caller options.
    pub options: PlanOptions,
}

impl Context<'_> {
    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.policy.shard_count()
    }
}

/// Plans one parsed and analyzed statement with its parameter values.
pub fn plan(
    parsed: &Parsed,
    analysis: &Analysis,
    params: &[Value],
    hint: Option<&ShardHint>,
    cx: Context<'_>,
) -> Result<Plan> {
    plan_reading(parsed, analysis, &Params::new(params), hint, cx)
}

/// [`plan`] over parameters whose reads are logged (see [`params`]): a dispatcher over the
/// planner of each statement class.
pub(crate) fn plan_reading(
    parsed: &Parsed,
    analysis: &Analysis,
    params: &Params<'_>,
    hint: Option<&ShardHint>,
    cx: Context<'_>,
) -> Result<Plan> {
    if params.len() != parsed.params.count {
        return Err(Error::with_remedy(
            ErrorCode::ParamCount,
            format!(
                "wrong number of parameter bindings: the statement has {} parameter{}, {} {} bound",
                parsed.params.count,
                if parsed.params.count == 1 { "" } else { "s" },
                params.len(),
                if params.len() == 1 { "was" } else { "were" },
            ),
            "bind exactly one value per parameter",
        ));
    }
    let p = Planner {
        parsed,
        analysis,
        params,
        hint: hint.map(|h| route::resolve_hint(h, cx)).transpose()?,
        cx,
    };
    use StatementClass as C;
    if let (C::Insert { table, .. } | C::Update { table }, crate::analyze::ReadBy::TokenScan(_)) =
        (&analysis.class, &analysis.read_by)
    {
        route::check_key_not_assigned_tokens(parsed, table, cx)?;
    }
    // DDL (a trigger's body reads its own shard's connection) and EXPLAIN read no state.
    let call = (!matches!(analysis.class, C::Ddl | C::Explain | C::Introspection))
        .then(|| lex::connection_state_call(&parsed.sql, &parsed.tokens))
        .flatten();
    if let Some(call) = &call {
        if cx.options.connection_state == ConnectionState::Refused {
            return Err(connection_state::refused(
                call,
                "it runs alone, with no write before it",
            ));
        }
    }
    let planned = match &analysis.class {
        C::Transaction => Err(Error::with_remedy(
            ErrorCode::TransactionStatement,
            format!(
                "{} statements are not supported: D1 does not allow transaction control or ATTACH/DETACH/VACUUM",
                parsed.first_keyword()
            ),
            "use batch() for statements that must succeed or fail together",
        )),
        C::Ddl => {
            let mut plan = p.unchanged(Target::All, Reason::Ddl, Combine::Replicated);
            plan.changes_schema = true;
            Ok(plan)
        }
        C::PragmaWrite => Ok(p.unchanged(Target::All, Reason::PragmaWrite, Combine::Replicated)),
        C::Maintenance => Ok(p.unchanged(Target::All, Reason::Maintenance, Combine::Replicated)),
        // EXPLAIN describes one shard's program; the home shard's is as good as any.
        C::Introspection | C::Explain => {
            Ok(p.unchanged(Target::Home, Reason::Introspection, Combine::Single))
        }
        C::Read => p.read(),
        C::Insert { table, from_select: true } if cx.policy.sharded_table(table).is_some() => {
            p.insert_select(table)
        }
        C::Insert { table, .. } if cx.policy.sharded_table(table).is_some() => {
            let Ok(stmt) = &parsed.ast else {
                return Err(route::unparsed_needs_hint(parsed, table));
            };
            let plan = insert_split::plan_insert(parsed, stmt, table, params, p.hint.as_ref(), cx)?;
            check_values_subqueries(analysis, &plan, params, cx)?;
            Ok(plan)
        }
        C::Insert { table, .. } => {
            if cx.policy.is_reference(table) {
                deterministic::check_deterministic(parsed, table, params, cx)?;
            }
            let route = route::route_write(analysis, table, params, p.hint.as_ref(), cx)?;
            let combine = combine_for_write(&route);
            Ok(p.unchanged(route.target, route.reason, combine))
        }
        C::Update { table } | C::Delete { table } => p.update_or_delete(table),
    };
    planned.map(|plan| Plan {
        connection_state_call: call,
        ..plan
    })
}

/// One statement being planned, with its parameters and resolved hint.
struct Planner<'a> {
    parsed: &'a Parsed,
    analysis: &'a Analysis,
    params: &'a Params<'a>,
    hint: Option<route::ResolvedHint>,
    cx: Context<'a>,
}

impl Planner<'_> {
    /// The statement's own text on each shard of `target`.
    fn unchanged(&self, target: Target, reason: Reason, combine: Combine) -> Plan {
        let shards = target.shards(self.cx.shard_count());
        let batches = shards
            .into_iter()
            .map(|shard| {
                let sql = self.parsed.sql.as_str().into();
                ShardBatch::one(shard, sql, self.params.carry_all())
            })
            .collect();
        Plan::new(Route { target, reason }, batches, combine)
    }

    /// Scopes a hinted plan to the hinted key (see `scope`).
    fn scoped(&self, mut plan: Plan) -> Result<Plan> {
        let (parsed, analysis, params, cx) = (self.parsed, self.analysis, self.params, self.cx);
        scope_to_hint(&mut plan, parsed, analysis, self.hint.as_ref(), params, cx)?;
        Ok(plan)
    }

    /// A read: one shard as it is, or a fan-out rewritten and merged.
    fn read(&self) -> Result<Plan> {
        let (parsed, analysis, params, cx) = (self.parsed, self.analysis, self.params, self.cx);
        let route = route::route_read(analysis, params, self.hint.as_ref(), cx)?;
        if matches!(route.target, Target::Home | Target::One(_)) {
            return self.scoped(self.unchanged(route.target, route.reason, Combine::Single));
        }
        fanout::check_fanout_read(parsed, analysis, params, cx.catalog)?;
        let Ok(Statement::Query(q)) = &parsed.ast else {
            return Err(Error::internal("a fan-out read without a query AST"));
        };
        let (shard_sql, combine) = match q.body.as_ref() {
            sqlparser::ast::SetExpr::Select(select)
                if terms::is_aggregate(select, q)
                    && !aggregate::groups_live_on_one_shard(parsed, select, cx) =>
            {
                let shape = select_shape::select_shape(parsed)
                    .filter(|s| !s.unusual)
                    .ok_or_else(|| {
                        Error::unsupported(
                            "this aggregate SELECT across shards",
                            "pin one shard with the key or a hint",
                        )
                    })?;
                let planned =
                    aggregate::plan_aggregate(parsed, q, select, &shape, params, analysis, cx)?;
                let combine = Combine::Aggregate {
                    merge: planned.merge,
                    columns: planned.columns.into(),
                };
                (planned.shard_sql, combine)
            }
            _ => {
                let planned = select_merge::plan_select(parsed, q, params, analysis, cx)?;
                let combine = if planned.merge == RowMerge::concat() {
                    Combine::Concat
                } else {
                    Combine::Rows(planned.merge)
                };
                (planned.shard_sql, combine)
            }
        };
        let mut plan = self.unchanged(route.target, route.reason, combine);
        for b in &mut plan.batches {
            b.statements = vec![ShardStatement {
                sql: shard_sql.sql.as_str().into(),
                params: shard_sql.params.clone(),
            }];
        }
        Ok(plan)
    }

    /// `INSERT INTO <sharded> … SELECT`: co-located with what it reads, or routed by the
    /// key it selects (and, under a hint, proven to feed the hinted key).
    fn insert_select(&self, table: &str) -> Result<Plan> {
        let (parsed, analysis, params, cx) = (self.parsed, self.analysis, self.params, self.cx);
        let colocated = match &parsed.ast {
            Ok(stmt) if self.hint.is_none() => insert_select::is_colocated(stmt, table, cx)?,
            _ => false,
        };
        let route = if colocated {
            let mut r = route::route_read(analysis, params, None, cx)?;
            if !matches!(r.target, Target::One(_)) {
                if let Some(h) = analysis.fanout_hazard() {
                    return Err(Error::unsupported(
                        format!("{h} in INSERT … SELECT across shards"),
                        "pin one shard with the key or a hint",
                    ));
                }
            }
            if matches!(r.reason, Reason::NoKey { .. }) {
                r.reason = Reason::CoLocatedInsert {
                    table: table.to_string(),
                };
            }
            r
        } else {
            let route =
                route::route_insert_select(analysis, table, params, self.hint.as_ref(), cx)?;
            if let Some(h) = &self.hint {
                let proven = match &parsed.ast {
                    Ok(stmt) => {
                        insert_select::feeds_hinted_key(parsed, stmt, table, &h.key, params, cx)?
                    }
                    Err(_) => false,
                };
                if !proven {
                    return Err(Error::with_remedy(
                        ErrorCode::HintConflict,
                        format!("INSERT … SELECT into sharded table {table} under the hint {} = {}: d1plus cannot tell that every selected row has that key", h.table, display_value(&h.key)),
                        "select the key column of a sharded table read under the hint, or the hinted key itself as a literal or parameter, for the key column",
                    ));
                }
            }
            route
        };
        let combine = combine_for_write(&route);
        self.scoped(self.unchanged(route.target, route.reason, combine))
    }

    /// UPDATE or DELETE: the key's shard (never assigning the key), or every shard when
    /// the caller allows a scatter write.
    fn update_or_delete(&self, table: &str) -> Result<Plan> {
        let (parsed, analysis, params, cx) = (self.parsed, self.analysis, self.params, self.cx);
        if let (StatementClass::Update { .. }, Ok(stmt)) = (&analysis.class, &parsed.ast) {
            route::check_key_not_assigned(stmt, table, cx)?;
        }
        if cx.policy.is_reference(table) {
            deterministic::check_deterministic(parsed, table, params, cx)?;
        }
        let route = route::route_write(analysis, table, params, self.hint.as_ref(), cx)?;
        let combine = combine_for_write(&route);
        self.scoped(self.unchanged(route.target, route.reason, combine))
    }
}

/// A statement routed by a hint runs scoped to the hinted key (see [`scope`]).
fn scope_to_hint(
    plan: &mut Plan,
    parsed: &Parsed,
    analysis: &Analysis,
    hint: Option<&route::ResolvedHint>,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<()> {
    let (Some(h), Reason::Hint { .. }) = (hint, &plan.route.reason) else {
        return Ok(());
    };
    if let Some(sql) = scope::scoped_sql(parsed, analysis, h, params, cx)? {
        let sql: std::sync::Arc<str> = sql.into();
        for st in plan
            .batches
            .iter_mut()
            .flat_map(|b| b.statements.iter_mut())
        {
            st.sql.clone_from(&sql);
        }
    }
    Ok(())
}

/// A subquery inside INSERT … VALUES runs on the shard of its row: it may read only
/// reference tables, or sharded rows pinned to that same shard.
fn check_values_subqueries(
    analysis: &Analysis,
    plan: &Plan,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<()> {
    if let Some(t) = analysis.unsharded.first() {
        return Err(Error::with_remedy(
            ErrorCode::CrossShard,
            format!("a subquery in INSERT … VALUES reads unsharded table {t}, which lives only on the home shard"),
            format!("read {t} first and bind the value, or declare {t} a reference table"),
        ));
    }
    if analysis.refs.is_empty() {
        return Ok(());
    }
    let pinned = match route::route_read(analysis, params, None, cx) {
        Ok(Route {
            target: Target::One(s),
            ..
        }) => Some(s),
        _ => None,
    };
    let rows_on: Vec<ShardId> = plan.batches.iter().map(|b| b.shard).collect();
    match pinned {
        Some(s) if rows_on == [s] => Ok(()),
        _ => Err(Error::with_remedy(
            ErrorCode::CrossShard,
            format!(
                "a subquery in INSERT … VALUES reads sharded table {}, but each row's subquery would see only its own shard",
                analysis.refs[0].table
            ),
            "pin the subquery to the row's key, or read the value first and bind it",
        )),
    }
}

fn combine_for_write(route: &Route) -> Combine {
    match (&route.target, &route.reason) {
        (Target::Home | Target::One(_), _) => Combine::Single,
        (_, Reason::ReferenceWrite) => Combine::Replicated,
        _ => Combine::Scatter,
    }
}

/// A `Reason::Key`, with the values deduplicated in order.
pub(crate) fn key_reason(table: &str, column: &str, mut values: Vec<Value>) -> Reason {
    dedupe_keys(&mut values);
    Reason::Key {
        table: table.to_string(),
        column: column.to_string(),
        values,
    }
}

/// Drops repeated key values (equal as SQLite compares them), keeping the first of each.
pub(crate) fn dedupe_keys(values: &mut Vec<Value>) {
    if values.len() > 1 {
        let mut seen = ahash::AHashSet::with_capacity(values.len());
        values.retain(|v| seen.insert(crate::merge::EqKey::of(v)));
    }
}

/// A key expression's value, which the plan then depends on exactly. [`plan`] checks the
/// parameter count first, so a parameter out of range is a d1plus bug, reported as one
/// (never read as NULL).
pub(crate) fn key_value(k: &KeyExpr, params: &Params<'_>) -> Result<Value> {
    match k {
        KeyExpr::Literal(v) => Ok(v.clone()),
        KeyExpr::Param(i) => params.value(*i),
    }
}

/// A key expression's value, carried into the plan (a route's reason) and not decided on.
pub(crate) fn key_carry(k: &KeyExpr, params: &Params<'_>) -> Result<Value> {
    match k {
        KeyExpr::Literal(v) => Ok(v.clone()),
        KeyExpr::Param(i) => params.carry(*i),
    }
}

/// The shard a key expression is placed on (None: no stored row has that key).
pub(crate) fn key_shard(
    k: &KeyExpr,
    params: &Params<'_>,
    affinity: crate::value::Affinity,
    shard_count: usize,
) -> Result<Option<ShardId>> {
    match k {
        KeyExpr::Literal(v) => Ok(crate::placement::shard_for_key(v, affinity, shard_count).ok()),
        KeyExpr::Param(i) => params.shard(*i, affinity, shard_count),
    }
}
