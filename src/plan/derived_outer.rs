//! What the outer query over rows read first may do (see `derived_table`): the rows of a
//! FROM subquery, or of a read whose window functions span shards (`window_rows`,
//! `join_rows`).
//!
//! The coordinator meets the rows in the order the merge gave them; one database meets
//! them in an order its planner chooses. So whatever in the outer query depends on that
//! order is refused or checked on the rows:
//! - refused: aggregates other than count, sum, total, avg, min and max, or with an ORDER
//!   BY inside (`group_concat`'s order); window functions over a named window;
//!   LIMIT/OFFSET over groups or DISTINCT rows; a nested query;
//! - checked on the rows, refused when they hold such values: a column neither grouped nor
//!   aggregated with two values in one group (one database takes it from a row its order
//!   decides; `derived_bare`); values that compare equal
//!   but differ (`'A'` and `'a'` under NOCASE, `1` and `1.0`), of which one database shows
//!   the one it meets first (DISTINCT, a group's key, min/max, a DISTINCT aggregate);
//!   integer sums whose positive or negative values alone pass 2^63 (they overflow, or
//!   leave exact arithmetic, at a point the order decides); a LIMIT/OFFSET bound falling
//!   among rows equal in the ORDER BY that differ; for a window function whose answer
//!   depends on the order among equal rows, rows equal in its PARTITION BY and ORDER BY
//!   that differ (rows alike in every column may come in any order: the answer's rows are
//!   the same); over groups, two groups equal there.
//!
//! Ranks, and count/sum/total/avg/min/max over RANGE or GROUPS frames, take in every row
//! equal to the current one, so they need no such check.
//!
//! REAL sums are added in the coordinator's order and may differ from one database's in
//! the last bit, as across shards (README: Merging).

use super::derived_bare::{aggregate, bare_columns, ColumnFinder};
use super::names::ordinal;
use crate::error::{Error, Result};
use crate::merge::coordinator::{AmbiguityCheck, BARE_REMEDY, OVERFLOW_REMEDY, PARTIALS};
use crate::parse::{parse_expression, Parsed};
use crate::sql::walk::{walk, Walk};
use crate::sql::{column_name, is_aggregate, object_name, strip_nested, KeyExpr};
use crate::value::Value;
use sqlparser::ast::{
    Distinct, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    LimitClause, OrderByKind, OrderBySort, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, WindowFrameUnits, WindowSpec, WindowType,
};
use std::ops::ControlFlow;

/// Aggregates whose answer is the same in any row order (given the checks below).
const ORDER_FREE: [&str; 6] = ["count", "sum", "total", "avg", "min", "max"];

/// What the rows the outer query reads are, as its refusals name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A FROM subquery of the statement.
    Subquery,
    /// The rows of the statement's one table, read first for its window functions.
    Windows,
}

impl Origin {
    fn phrase(self) -> &'static str {
        match self {
            Origin::Subquery => "over a FROM subquery across shards",
            Origin::Windows => "with window functions across shards",
        }
    }

    fn remedy(self) -> &'static str {
        match self {
            Origin::Subquery => {
                "pin one shard with the key or a hint, or run the subquery alone and finish in the app"
            }
            Origin::Windows => {
                "pin one shard with the key or a hint, or partition the window by the shard key"
            }
        }
    }
}

/// The rows read first, as the checks read them.
struct Rows<'a> {
    /// Their columns.
    names: &'a [String],
    /// The FROM clause that reads them under the outer query's name for them.
    from: String,
    origin: Origin,
}

/// The checks the outer query `sql` needs on the rows read first (each a query over
/// [`PARTIALS`] that returns a row when the answer would depend on the row order, and the
/// refusal's text), or its refusal; `names` are the rows' columns.
pub(crate) fn order_checks(
    sql: &str,
    params: &[Value],
    names: &[String],
    origin: Origin,
) -> Result<Vec<AmbiguityCheck>> {
    let parsed = Parsed::new(sql)?;
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return Err(Error::internal(
            "the outer query over rows read first is not a SELECT",
        ));
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(Error::internal(
            "the outer query over rows read first is not a SELECT",
        ));
    };
    // The checks read the rows under the outer query's name for them.
    let from = match sel.from.first().map(|t| &t.relation) {
        Some(TableFactor::Table { alias: Some(a), .. }) => {
            format!("{PARTIALS} AS {}", crate::lex::quote_ident(&a.name.value))
        }
        _ => PARTIALS.to_string(),
    };
    let rows = Rows {
        names,
        from,
        origin,
    };
    if q.fetch.is_some() {
        return Err(rows.refuse("FETCH", "not combinable"));
    }
    if matches!(sel.distinct, Some(Distinct::On(_))) || !sel.named_window.is_empty() {
        return Err(rows.refuse("DISTINCT ON or WINDOW", "not combinable"));
    }
    let calls = calls(q, &rows)?;
    let keys = group_keys(&parsed, sel, names);
    let aggregated = !keys.is_empty() || sel.having.is_some() || !calls.aggregates.is_empty();
    // A column neither grouped nor aggregated comes from a row of its group that one
    // database's order decides: answered when it has one value in every group.
    let mut bare_checks = Vec::new();
    if aggregated {
        let Some(bare) = bare_columns(q, sel, &keys, names) else {
            return Err(rows.refuse(
                "the column * neither grouped nor aggregated",
                "one database takes it from a row its order decides",
            ));
        };
        for column in &bare {
            bare_checks.push(rows.bare_check(sel, &keys, column)?);
        }
    }
    let mut limited = Vec::new();
    // An aggregate without GROUP BY is one row: any LIMIT keeps it or not alike.
    if let Some(limit) = q
        .limit_clause
        .as_ref()
        .filter(|_| !aggregated || !keys.is_empty())
    {
        if aggregated || sel.distinct.is_some() {
            return Err(rows.refuse(
                "LIMIT or OFFSET over groups or DISTINCT rows",
                "which rows it keeps among equal ORDER BY values is one database's choice",
            ));
        }
        let bounds = limit_bounds(&parsed, limit, params, &rows)?;
        limited.push(rows.limit_check(&parsed, q, sel, bounds)?);
    }
    let mut checks = rows.value_checks(sel, &calls, &keys, aggregated)?;
    let groups = aggregated.then_some(keys.as_slice());
    for (name, spec) in &calls.ordered {
        checks.extend(rows.peer_check(name, spec, sel, groups)?);
    }
    checks.extend(limited);
    checks.extend(bare_checks);
    Ok(checks)
}

/// The positions after which LIMIT/OFFSET cuts the ordered rows: the offset, and the
/// offset plus the limit (when there is one), from literals or bound parameters.
fn limit_bounds(
    parsed: &Parsed,
    limit: &LimitClause,
    params: &[Value],
    rows: &Rows<'_>,
) -> Result<Vec<u64>> {
    let value = |e: &Expr| -> Result<i64> {
        let v = match crate::analyze::key_literal(parsed, e) {
            Some(KeyExpr::Literal(v)) => Some(v),
            Some(KeyExpr::Param(i)) => params.get(i.wrapping_sub(1)).cloned(),
            None => None,
        };
        match v {
            Some(Value::Integer(n)) => Ok(n),
            _ => Err(rows.refuse(
                &format!("the LIMIT or OFFSET {e}"),
                "d1plus reads only integers there",
            )),
        }
    };
    let (limit, offset) = match limit {
        LimitClause::LimitOffset { limit, offset, .. } => (
            limit.as_ref().map(value).transpose()?,
            offset.as_ref().map(|o| value(&o.value)).transpose()?,
        ),
        LimitClause::OffsetCommaLimit { offset, limit } => {
            (Some(value(limit)?), Some(value(offset)?))
        }
    };
    let offset = offset.unwrap_or(0).max(0) as u64;
    let mut bounds = vec![offset];
    if let Some(n) = limit.filter(|n| *n >= 0) {
        bounds.push(offset.saturating_add(n as u64));
    }
    Ok(bounds)
}

impl Rows<'_> {
    fn refuse(&self, what: &str, why: &str) -> Error {
        Error::unsupported(
            format!("{what} in a query {} ({why})", self.origin.phrase()),
            self.origin.remedy(),
        )
    }

    /// Checks for values that compare equal but differ where one database shows the one it
    /// meets first (DISTINCT outputs, group keys, min/max and DISTINCT aggregates), and for
    /// integer sums that could pass 2^63. A window function's argument in a query over
    /// groups (`aggregated`, grouped by `keys`) is read per group.
    fn value_checks(
        &self,
        sel: &Select,
        calls: &Calls,
        keys: &[Expr],
        aggregated: bool,
    ) -> Result<Vec<AmbiguityCheck>> {
        let mut shown: Vec<&Expr> = keys.iter().collect();
        let (mut checks, mut overflows) = (Vec::new(), Vec::new());
        if matches!(sel.distinct, Some(Distinct::Distinct)) {
            for item in &sel.projection {
                match item {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }
                        if crate::sql::has_window(e) =>
                    {
                        // A window's values exist only in a query: computed first, over
                        // the rows (or the groups) the window reads.
                        let text = self.text_with_windows(e)?;
                        let column = format!("{text} AS __d1p_v");
                        let source = match (aggregated, keys) {
                            (false, _) => {
                                format!("(SELECT {column} FROM {}{})", self.from, self.filter(sel)?)
                            }
                            (true, []) => continue,
                            (true, keys) => format!("({})", self.groups_query(sel, keys, &column)?),
                        };
                        checks.push(self.spelling_check("__d1p_v", &text, &source));
                    }
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        if !crate::sql::has_aggregate(e) {
                            shown.push(e);
                        }
                    }
                    // `*` and `t.*` show every column of the subquery.
                    _ => checks.extend(self.names.iter().map(|n| {
                        let n = crate::lex::quote_ident(n);
                        self.spelling_check(&n, &n, &self.from)
                    })),
                }
            }
        }
        let aggregates = calls.aggregates.iter().map(|c| (c, false));
        for (call, window) in aggregates.chain(calls.windows.iter().map(|c| (c, true))) {
            let name = object_name(&call.name).to_ascii_lowercase();
            let distinct =
                matches!(&call.args, FunctionArguments::List(l) if l.duplicate_treatment.is_some());
            let Some(arg) = argument(call) else {
                continue;
            };
            let text = self.text(arg)?;
            let (value, source) = match (window && aggregated, keys) {
                (false, _) => (text.clone(), self.from.clone()),
                // One group: the window sees one value.
                (true, []) => continue,
                (true, keys) => {
                    let groups = self.groups_query(sel, keys, &format!("{text} AS __d1p_v"))?;
                    ("__d1p_v".to_string(), format!("({groups})"))
                }
            };
            if name == "min" || name == "max" || (distinct && name != "count") {
                checks.push(self.spelling_check(&value, &text, &source));
            }
            if matches!(name.as_str(), "sum" | "total" | "avg") {
                overflows.push(self.overflow_check(&value, &text, &source));
            }
        }
        for e in shown {
            let e = self.text(e)?;
            checks.push(self.spelling_check(&e, &e, &self.from));
        }
        // The overflow checks first: they only add with total(), where the others may
        // compute a sum that overflows (an error where the refusal is due).
        overflows.extend(checks);
        Ok(overflows)
    }

    /// `SELECT columns` over the groups of the outer query (its WHERE, GROUP BY `keys` and
    /// HAVING).
    fn groups_query(&self, sel: &Select, keys: &[Expr], columns: &str) -> Result<String> {
        let keys = self.keys_text(keys)?;
        let having = match &sel.having {
            Some(h) => format!(" HAVING {}", self.text(h)?),
            None => String::new(),
        };
        Ok(format!(
            "SELECT {columns} FROM {}{} GROUP BY {}{having}",
            self.from,
            self.filter(sel)?,
            keys.join(", ")
        ))
    }

    /// The group keys' texts for a check's GROUP BY, each parenthesized.
    fn keys_text(&self, keys: &[Expr]) -> Result<Vec<String>> {
        keys.iter()
            .map(|k| Ok(format!("({})", self.text(k)?)))
            .collect()
    }

    /// The outer query's WHERE clause, for a check.
    fn filter(&self, sel: &Select) -> Result<String> {
        Ok(match &sel.selection {
            Some(w) => format!(" WHERE {}", self.text(w)?),
            None => String::new(),
        })
    }

    /// The text of one row's every column, for telling rows apart (`quote()` tells every
    /// two values apart; compared as bytes).
    fn whole_row(&self) -> String {
        self.names
            .iter()
            .map(|n| format!("quote({})", crate::lex::quote_ident(n)))
            .collect::<Vec<_>>()
            .join(" || ',' || ")
    }

    /// A row when a LIMIT/OFFSET bound falls inside rows equal in the ORDER BY (every row,
    /// without one) that differ: which of them one database keeps depends on the order it
    /// meets them. The outer query's outputs and ORDER BY terms (an ordinal or an output's
    /// alias standing for that output) are computed first, without the LIMIT, window
    /// functions included; ranked in that order, a set of equal rows of rank `r` holds
    /// positions `r` to `r + n - 1`.
    fn limit_check(
        &self,
        parsed: &Parsed,
        q: &Query,
        sel: &Select,
        bounds: Vec<u64>,
    ) -> Result<AmbiguityCheck> {
        let mut columns = Vec::new();
        for item in &sel.projection {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    columns.push(self.text_with_windows(e)?)
                }
                _ => columns.extend(self.names.iter().map(|n| crate::lex::quote_ident(n))),
            }
        }
        let outputs = columns.len();
        let mut terms = Vec::new();
        if let Some(order) = &q.order_by {
            let OrderByKind::Expressions(order) = &order.kind else {
                return Err(self.refuse("ORDER BY ALL", "not combinable"));
            };
            for t in order {
                let output = |i: usize| match sel.projection.get(i) {
                    Some(
                        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. },
                    ) => Some(e),
                    _ => None,
                };
                let resolved = match (ordinal(parsed, &t.expr), strip_nested(&t.expr)) {
                    (Some(k), _) => usize::try_from(k)
                        .ok()
                        .and_then(|k| k.checked_sub(1))
                        .and_then(output),
                    (None, Expr::Identifier(id)) => sel.projection.iter().position(|i| {
                        matches!(i, SelectItem::ExprWithAlias { alias, .. } if alias.value.eq_ignore_ascii_case(&id.value))
                    }).and_then(output),
                    _ => None,
                };
                columns.push(self.text_with_windows(resolved.unwrap_or(&t.expr))?);
                let mut term = format!("__d1p_c{}", columns.len() - 1);
                match &t.options.sort {
                    Some(OrderBySort::Desc) => term.push_str(" DESC"),
                    Some(OrderBySort::Asc) | None => {}
                    Some(OrderBySort::Using(_)) => {
                        return Err(self.refuse("ORDER BY … USING", "not SQLite's"))
                    }
                }
                match t.options.nulls_first {
                    Some(true) => term.push_str(" NULLS FIRST"),
                    Some(false) => term.push_str(" NULLS LAST"),
                    None => {}
                }
                terms.push(term);
            }
        }
        let filter = match &sel.selection {
            Some(w) => format!(" WHERE {}", self.text(w)?),
            None => String::new(),
        };
        // Each term keeps its collation as a subquery's column: a column reference its
        // column's, COLLATE its own, any other expression none, as in the ORDER BY.
        let computed = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} AS __d1p_c{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = (0..outputs)
            .map(|i| format!("quote(__d1p_c{i})"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let order = if terms.is_empty() {
            String::new()
        } else {
            format!("ORDER BY {}", terms.join(", "))
        };
        let split = bounds
            .iter()
            .map(|b| format!("(r <= {b} AND r + count(*) - 1 > {b})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        Ok(AmbiguityCheck {
            sql: format!(
                "SELECT 1 FROM (SELECT rank() OVER ({order}) AS r, {row} AS w \
                 FROM (SELECT {computed} FROM {}{filter})) \
                 GROUP BY r HAVING count(DISTINCT w COLLATE BINARY) > 1 AND ({split}) LIMIT 1",
                self.from
            ),
            message: format!("{}, LIMIT or OFFSET falls among rows equal in the ORDER BY that differ; which of them SQLite keeps depends on the order it meets them", self.origin.phrase()),
            remedy: "add ORDER BY terms that tell equal rows apart (a unique column last), or pin one shard with the key",
        })
    }

    /// A row when rows equal in the PARTITION BY and ORDER BY of the window function
    /// `name` differ (among the rows WHERE keeps): which of them comes first is one
    /// database's choice, and the function's answer depends on it. Over groups (`groups`,
    /// the GROUP BY terms), the window's rows are the groups, which always differ: a row
    /// when two are equal there. None when nothing can be equal (one group).
    fn peer_check(
        &self,
        name: &str,
        spec: &WindowSpec,
        sel: &Select,
        groups: Option<&[Expr]>,
    ) -> Result<Option<AmbiguityCheck>> {
        let mut terms = Vec::new();
        let order = spec.order_by.iter().map(|o| &o.expr);
        for e in spec.partition_by.iter().chain(order) {
            // A constant tells no rows apart (and would be read as an ordinal).
            if !matches!(strip_nested(e), Expr::Value(_)) {
                terms.push(self.text(e)?);
            }
        }
        let filter = self.filter(sel)?;
        let from = &self.from;
        let sql = match groups {
            None if terms.is_empty() => format!(
                "SELECT 1 FROM (SELECT count(DISTINCT {} COLLATE BINARY) AS n FROM {from}{filter}) WHERE n > 1",
                self.whole_row()
            ),
            None => format!(
                "SELECT 1 FROM {from}{filter} GROUP BY {} HAVING count(DISTINCT {} COLLATE BINARY) > 1 LIMIT 1",
                terms.iter().map(|t| format!("({t})")).collect::<Vec<_>>().join(", "),
                self.whole_row()
            ),
            Some([]) => return Ok(None),
            Some(keys) => {
                // Each term keeps its collation as a subquery's column, as in the window.
                let columns = if terms.is_empty() {
                    "1".to_string()
                } else {
                    terms
                        .iter()
                        .enumerate()
                        .map(|(i, t)| format!("{t} AS __d1p_k{i}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let groups = self.groups_query(sel, keys, &columns)?;
                let peers = (0..terms.len())
                    .map(|i| format!("__d1p_k{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if terms.is_empty() {
                    format!("SELECT 1 FROM (SELECT count(*) AS n FROM ({groups})) WHERE n > 1")
                } else {
                    format!("SELECT 1 FROM ({groups}) GROUP BY {peers} HAVING count(*) > 1 LIMIT 1")
                }
            }
        };
        Ok(Some(AmbiguityCheck {
            sql,
            message: format!("{}, rows equal in the PARTITION BY and ORDER BY of {name}() differ; which of them comes first is one database's choice, and {name}() depends on it", self.origin.phrase()),
            remedy: "add ORDER BY terms to the window that tell equal rows apart (a unique column last), or pin one shard with the key",
        }))
    }

    /// A row when two values of `e` (read from `source`; `shown` names it) compare equal
    /// but differ (`quote()` tells them apart, compared as bytes: an explicit COLLATE
    /// inside `e` would pass up through `quote()`).
    /// A row when a column neither grouped nor aggregated has two values (told apart by
    /// `quote()`) in one group (over every row, without GROUP BY). HAVING is left out: it
    /// may read that column itself.
    fn bare_check(&self, sel: &Select, keys: &[Expr], column: &Expr) -> Result<AmbiguityCheck> {
        let c = self.text(column)?;
        let groups = self.keys_text(keys)?;
        let group_by = match groups.is_empty() {
            true => String::new(),
            false => format!(" GROUP BY {}", groups.join(", ")),
        };
        Ok(AmbiguityCheck {
            sql: format!(
                "SELECT 1 FROM (SELECT count(DISTINCT quote({c}) COLLATE BINARY) AS n FROM {}{}{group_by}) WHERE n > 1 LIMIT 1",
                self.from,
                self.filter(sel)?
            ),
            message: format!("{}, the column {column} neither grouped nor aggregated has different values in one group; one database takes it from a row its order decides", self.origin.phrase()),
            remedy: BARE_REMEDY,
        })
    }

    fn spelling_check(&self, e: &str, shown: &str, source: &str) -> AmbiguityCheck {
        AmbiguityCheck::spelling(
            format!("SELECT 1 FROM {source} GROUP BY ({e}) HAVING count(DISTINCT quote({e}) COLLATE BINARY) > 1 LIMIT 1"),
            format!("{}, {shown} has values that compare equal but differ (in case, trailing spaces or type); which one SQLite shows depends on the order it meets them", self.origin.phrase()),
        )
    }

    /// A row when the integers `e` (read from `source`; `shown` names it) sums could pass
    /// 2^63 (positive or negative ones alone), read as sum() reads values (text that looks
    /// numeric counts).
    fn overflow_check(&self, e: &str, shown: &str, source: &str) -> AmbiguityCheck {
        let v = format!("(({e}) + 0)");
        AmbiguityCheck {
            sql: format!(
                "SELECT 1 FROM (SELECT total(CASE WHEN typeof({v}) = 'integer' AND {v} > 0 THEN {v} END) AS p, \
                 total(CASE WHEN typeof({v}) = 'integer' AND {v} < 0 THEN {v} END) AS n FROM {source}) \
                 WHERE p > 9.0e18 OR n < -9.0e18"
            ),
            message: format!("{}, the integers of {shown} add up past 2^63, where SQLite's running sum overflows at a point its row order decides", self.origin.phrase()),
            remedy: OVERFLOW_REMEDY,
        }
    }

    /// An expression's text for a check, when it reads only the rows' columns, calls no
    /// window function and prints back to itself (sqlparser prints some SQL that SQLite
    /// reads otherwise).
    fn text(&self, e: &Expr) -> Result<String> {
        if crate::sql::has_window(e) {
            return Err(self.cannot_check(e));
        }
        self.text_with_windows(e)
    }

    /// [`Self::text`], window functions allowed (for a query over the rows, not a GROUP BY
    /// term or an aggregate's argument).
    fn text_with_windows(&self, e: &Expr) -> Result<String> {
        let printed = e.to_string();
        let mut foreign = None;
        let _ = walk(
            e,
            &mut ColumnFinder(&mut |c: &Expr| {
                if let Some(n) = column_name(c) {
                    if !self.names.iter().any(|c| c.eq_ignore_ascii_case(n)) {
                        foreign = Some(n.to_string());
                    }
                }
            }),
        );
        let unsafe_text = foreign.is_some()
            || printed.contains('?')
            || parse_expression(&printed).as_ref() != Some(e);
        if unsafe_text {
            return Err(self.cannot_check(e));
        }
        Ok(printed)
    }

    fn cannot_check(&self, e: &Expr) -> Error {
        self.refuse(
            &format!("the expression {e}"),
            "d1plus cannot check it on the rows read first",
        )
    }
}

/// The aggregate and window calls of the outer query; refused: window functions over a
/// named window, aggregates whose answer depends on the row order, nested queries.
fn calls(q: &Query, rows: &Rows<'_>) -> Result<Calls> {
    struct Finder<'r, 'n> {
        calls: Calls,
        queries: usize,
        refused: Option<Error>,
        rows: &'r Rows<'n>,
    }
    impl Walk for Finder<'_, '_> {
        fn pre_query(&mut self, _q: &Query) -> ControlFlow<()> {
            self.queries += 1;
            if self.queries > 1 {
                self.refused = Some(self.rows.refuse("a nested query", "not combinable yet"));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
        fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let Expr::Function(f) = e else {
                return ControlFlow::Continue(());
            };
            let name = object_name(&f.name).to_ascii_lowercase();
            let args = match &f.args {
                FunctionArguments::List(l) => l.args.len(),
                _ => 0,
            };
            let ordered = matches!(&f.args, FunctionArguments::List(l) if !l.clauses.is_empty())
                || !f.within_group.is_empty();
            let order_free = ORDER_FREE.contains(&name.as_str()) && !ordered;
            if let Some(over) = &f.over {
                // Ranks give equal rows equal ranks; an order-free aggregate over a RANGE or
                // GROUPS frame (the default is one) takes in every row equal to the current
                // one: neither depends on the order among equal rows. ROWS frames and the
                // rest do (checked on the rows); a named window is not read here.
                let spec = match over {
                    WindowType::WindowSpec(s) if s.window_name.is_none() => s,
                    _ => {
                        self.refused = Some(self.rows.refuse(
                            &format!("the window function {name}() over a named window"),
                            "not combinable yet; write the window in its OVER clause",
                        ));
                        return ControlFlow::Break(());
                    }
                };
                let frame = spec
                    .window_frame
                    .as_ref()
                    .is_none_or(|f| f.units != WindowFrameUnits::Rows);
                let rank = args == 0
                    && matches!(
                        name.as_str(),
                        "rank" | "dense_rank" | "percent_rank" | "cume_dist"
                    );
                if !(rank || (order_free && frame && is_aggregate(&name, args))) {
                    self.calls.ordered.push((name.clone(), spec.clone()));
                }
                if is_aggregate(&name, args) {
                    self.calls.windows.push(f.clone());
                }
            } else if aggregate(f) {
                if !order_free {
                    self.refused = Some(self.rows.refuse(
                        &format!("the aggregate {name}()"),
                        "its answer depends on the order it meets rows",
                    ));
                    return ControlFlow::Break(());
                }
                self.calls.aggregates.push(f.clone());
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder {
        calls: Calls::default(),
        queries: 0,
        refused: None,
        rows,
    };
    let _ = walk(q, &mut finder);
    match finder.refused {
        Some(e) => Err(e),
        None => Ok(finder.calls),
    }
}

/// The aggregate and window calls of the outer query.
#[derive(Default)]
struct Calls {
    /// Plain aggregates, order-free (they make the query an aggregate one).
    aggregates: Vec<Function>,
    /// Aggregates over a window.
    windows: Vec<Function>,
    /// Window functions whose answer depends on the order among equal rows, by name.
    ordered: Vec<(String, WindowSpec)>,
}

/// An aggregate's one argument expression (None for `count(*)`).
fn argument(f: &Function) -> Option<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => match l.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e),
            _ => None,
        },
        _ => None,
    }
}

/// The GROUP BY terms as expressions: an ordinal or an output's alias (a name that is not
/// one of the subquery's columns) stands for that output's expression.
fn group_keys(parsed: &Parsed, sel: &Select, names: &[String]) -> Vec<Expr> {
    let GroupByExpr::Expressions(terms, _) = &sel.group_by else {
        return Vec::new();
    };
    let outputs: Vec<(Option<&str>, &Expr)> = sel
        .projection
        .iter()
        .filter_map(|i| match i {
            SelectItem::UnnamedExpr(e) => Some((None, e)),
            SelectItem::ExprWithAlias { expr, alias } => Some((Some(alias.value.as_str()), expr)),
            _ => None,
        })
        .collect();
    terms
        .iter()
        .map(|t| {
            let resolved = match (ordinal(parsed, t), strip_nested(t)) {
                (Some(k), _) => usize::try_from(k)
                    .ok()
                    .and_then(|k| k.checked_sub(1))
                    .and_then(|i| outputs.get(i).map(|(_, e)| *e)),
                (None, Expr::Identifier(id))
                    if !names.iter().any(|n| n.eq_ignore_ascii_case(&id.value)) =>
                {
                    outputs
                        .iter()
                        .find(|(a, _)| a.is_some_and(|a| a.eq_ignore_ascii_case(&id.value)))
                        .map(|(_, e)| *e)
                }
                _ => None,
            };
            resolved.unwrap_or(t).clone()
        })
        .collect()
}
