//! How merge steps print in `explain`: a header line, then one `field: value` line per
//! parameter of the step, indented by two spaces (DataFusion-style), so that any change of
//! a merge (a sort key, a limit, a HAVING) changes the printed plan.
//!
//! The coordinator's query is printed as a tree over the partial columns: its SQL is read
//! back with sqlparser here, at display time (explain is not a hot path), its identifiers
//! renamed short and its parameters inlined as SQL literals. When anything about it does not
//! read back as expected, the step prints as the one line of SQL it runs.

use super::compare::Collation;
use super::coordinator::{FinalStep, PARTIALS};
use super::{OrderColumn, OrderTerm, RowMerge};
use crate::value::Value;
use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, Ident, LimitClause, OrderByKind, Query, SelectItem, SetExpr,
    Statement, Value as SqlValue,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use std::fmt;
use std::ops::ControlFlow;

/// A partial column's short name: `__d1p_` dropped and `#` put in front, so `__d1p_g1`
/// (group key) -> `#g1`, `__d1p_a3` (partial aggregate) -> `#a3`, `__d1p_d1` (distinct
/// value) -> `#d1`, `__d1p_t1` (count of a group key's spellings) -> `#t1`. None for a
/// name that is not a partial column (letters then digits after the prefix).
fn short_name(name: &str) -> Option<String> {
    let rest = name.strip_prefix("__d1p_")?;
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let ok = digits.len() < rest.len()
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("#{rest}"))
}

/// A column declaration of the partial table with its name shortened
/// (`"__d1p_g1" TEXT COLLATE NOCASE` -> `#g1 TEXT COLLATE NOCASE`).
fn short_declaration(decl: &str) -> String {
    let renamed = decl.strip_prefix('"').and_then(|rest| {
        let (name, tail) = rest.split_once('"')?;
        Some(format!("{}{tail}", short_name(name)?))
    });
    renamed.unwrap_or_else(|| decl.to_string())
}

/// Renames partial columns and replaces `?N` by the N-th parameter as an SQL literal;
/// breaks on a parameter it cannot resolve.
fn inline(params: &[Value], expr: &mut Expr) -> ControlFlow<()> {
    match expr {
        Expr::Identifier(id) => {
            if let Some(short) = short_name(&id.value) {
                *id = Ident::new(short);
            }
        }
        Expr::Value(v) => {
            if let SqlValue::Placeholder(p) = &v.value {
                let value = p
                    .strip_prefix('?')
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| params.get(n.checked_sub(1)?));
                let Some(value) = value else {
                    return ControlFlow::Break(());
                };
                let literal = value.sql_literal();
                // Parenthesized when negative: `- -1` must not print as `--1`.
                let literal = if literal.starts_with('-') {
                    format!("({literal})")
                } else {
                    literal
                };
                *expr = Expr::Identifier(Ident::new(literal));
            }
        }
        _ => {}
    }
    ControlFlow::Continue(())
}

/// `sql` read as one query, identifiers renamed and parameters inlined.
fn read_query(sql: &str, params: &[Value]) -> Option<Query> {
    let dialect = SQLiteDialect {};
    let mut statements = Parser::new(&dialect)
        .try_with_sql(sql)
        .ok()?
        .parse_statements()
        .ok()?;
    let Some(Statement::Query(mut query)) = statements.pop().filter(|_| statements.is_empty())
    else {
        return None;
    };
    if crate::sql::walk::walk_exprs_mut(&mut query, &mut |e| inline(params, e)).is_break() {
        return None;
    }
    Some(*query)
}

/// An expression without its outermost parentheses.
fn bare(e: Expr) -> String {
    match e {
        Expr::Nested(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// The fields of a query over the partial table, taken out of it: what is left must print
/// as the empty query does, or something would go unprinted (then None).
fn fields(mut query: Query) -> Option<Vec<(&'static str, String)>> {
    let mut out = Vec::new();
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    if select.from.len() != 1 || select.from[0].to_string() != PARTIALS {
        return None;
    }
    select.from.clear();
    let output = select.projection.drain(..).map(|item| match item {
        SelectItem::UnnamedExpr(e) => bare(e),
        other => other.to_string(),
    });
    out.push(("output", list(output)));
    match select.distinct.take() {
        None => {}
        Some(Distinct::Distinct) => out.push(("distinct", "true".into())),
        Some(_) => return None,
    }
    if let Some(e) = select.selection.take() {
        out.push(("where", bare(e)));
    }
    match &mut select.group_by {
        GroupByExpr::Expressions(keys, modifiers) if modifiers.is_empty() => {
            if !keys.is_empty() {
                out.push(("group by", list(keys.drain(..))));
            }
        }
        _ => return None,
    }
    if let Some(e) = select.having.take() {
        out.push(("having", bare(e)));
    }
    if let Some(order) = query.order_by.take() {
        let OrderByKind::Expressions(terms) = order.kind else {
            return None;
        };
        if order.interpolate.is_some() {
            return None;
        }
        out.push(("order by", list(terms)));
    }
    match query.limit_clause.take() {
        None => {}
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => {
            let limit = limit.map_or("none".to_string(), |l| l.to_string());
            let offset = offset.map_or(String::new(), |o| format!(" offset {}{}", o.value, o.rows));
            out.push(("limit", format!("{limit}{offset}")));
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            out.push(("limit", format!("{limit} offset {offset}")));
        }
        Some(_) => return None,
    }
    (Some(query.to_string()) == empty_query()).then_some(out)
}

/// What [`fields`] leaves of a query that has nothing but an output and the partial table.
fn empty_query() -> Option<String> {
    let mut q = read_query(&format!("SELECT 1 FROM {PARTIALS}"), &[])?;
    if let SetExpr::Select(s) = q.body.as_mut() {
        s.projection.clear();
        s.from.clear();
    }
    Some(q.to_string())
}

/// An ambiguity check as the condition that refuses the answer: its HAVING, per group of
/// its GROUP BY keys (`max(#t1) > 1 OR … per group of [#g1]`); its SQL when it has
/// another shape.
fn refusal(check: &str) -> String {
    let shown = read_query(check, &[]).and_then(|query| {
        let fields = fields(query)?;
        let get = |name| fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        let shape_ok = fields
            .iter()
            .all(|(n, _)| matches!(*n, "output" | "group by" | "having"));
        let having = get("having").filter(|_| shape_ok)?;
        Some(match get("group by") {
            Some(keys) => format!("{having} per group of {keys}"),
            None => having.clone(),
        })
    });
    shown.unwrap_or_else(|| check.to_string())
}

impl FinalStep {
    /// The header and fields of the tree; None when the query does not read back.
    fn tree(&self) -> Option<(String, Vec<(&'static str, String)>)> {
        let mut out = fields(read_query(&self.sql, &self.params)?)?;
        for check in &self.ambiguity_checks {
            out.push(("refuse if", refusal(&check.sql)));
        }
        let columns: Vec<String> = self.columns.iter().map(|c| short_declaration(c)).collect();
        let header = format!("coordinator over partials ({})", columns.join(", "));
        Some((header, out))
    }

    /// The one line of SQL the coordinator runs, with its parameters after it.
    fn one_line(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "coordinator SQLite: {PARTIALS}({}); {}",
            self.columns.join(", "),
            self.sql
        )?;
        if !self.params.is_empty() {
            let p: Vec<String> = self.params.iter().map(|v| v.sql_literal()).collect();
            write!(f, " -- params [{}]", p.join(", "))?;
        }
        Ok(())
    }
}

/// The coordinator step as a tree over the partial table's columns:
///
/// ```text
/// coordinator over partials (#g1 TEXT COLLATE BINARY, #a1, #a2, #t1)
///   output: [#g1, round(__d1p_avg(#a1, …), 2)]
///   group by: [#g1]
///   having: coalesce(sum(#a2), 0) > 2
///   order by: [2 DESC]
///   limit: 3 offset 0
///   refuse if: max(#t1) > 1 OR count(DISTINCT quote(#g1)) > 1 per group of [#g1]
/// ```
///
/// Partial columns lose their `__d1p_` prefix and take a `#`: `#gN` is the N-th group key,
/// `#aN` the N-th partial aggregate, `#dN` the N-th DISTINCT aggregate's value, `#tN` the
/// number of spellings of group key N a shard met. `__d1p_*` functions are the
/// coordinator's own aggregates. Parameters are inlined as SQL literals (text quoted with
/// `'` doubled, blobs `X'..'`, `NULL`). Fields the query does not have are left out
/// (`distinct`, `where`, `group by`, `having`, `order by`, `limit`); one `refuse if` line
/// per ambiguity check. When the query does not read back as one SELECT over the partial
/// table, the step prints as one line: `coordinator SQLite: __d1p_partials(<columns>);
/// <SQL> -- params [<literals>]`.
impl fmt::Display for FinalStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((header, fields)) = self.tree() else {
            return self.one_line(f);
        };
        f.write_str(&header)?;
        for (name, value) in fields {
            write!(f, "\n  {name}: {value}")?;
        }
        Ok(())
    }
}

fn sort_key(t: &OrderTerm) -> String {
    let column = match t.column {
        OrderColumn::Output(i) => format!("column {}", i + 1),
        OrderColumn::Hidden(i) => format!("hidden column {}", i + 1),
    };
    let direction = if t.descending { "DESC" } else { "ASC" };
    let collation = match t.collation {
        Collation::Binary => "BINARY",
        Collation::NoCase => "NOCASE",
        Collation::RTrim => "RTRIM",
    };
    let nulls = match t.nulls_first {
        None => "",
        Some(true) => " NULLS FIRST",
        Some(false) => " NULLS LAST",
    };
    format!("{column} {direction} COLLATE {collation}{nulls}")
}

/// A row merge: its kind, then every parameter, one per line:
///
/// ```text
/// k-way merge of the sorted shard rows
///   order by: [column 2 DESC COLLATE BINARY, hidden column 1 ASC COLLATE NOCASE]
///   distinct: false
///   limit: 5 offset 0
///   hidden columns: 1
/// ```
///
/// (`concatenate rows in shard order` and no `order by` when there are no sort keys;
/// `limit: none` for no limit; a NULLS FIRST/LAST only when the statement says it;
/// `row width` and `column names` when the merge carries them.)
impl fmt::Display for RowMerge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.order.is_empty() {
            f.write_str("concatenate rows in shard order")?;
        } else {
            f.write_str("k-way merge of the sorted shard rows")?;
            write!(f, "\n  order by: {}", list(self.order.iter().map(sort_key)))?;
        }
        write!(f, "\n  distinct: {}", self.distinct)?;
        let limit = self.limit.map_or("none".to_string(), |n| n.to_string());
        write!(f, "\n  limit: {limit} offset {}", self.offset)?;
        write!(f, "\n  hidden columns: {}", self.hidden)?;
        if let Some(w) = self.width {
            write!(f, "\n  row width: {w}")?;
        }
        if let Some(names) = &self.columns {
            let quoted = names.iter().map(|n| Value::Text(n.clone()).sql_literal());
            write!(f, "\n  column names: {}", list(quoted))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::coordinator::AmbiguityCheck;

    fn step(sql: &str, params: Vec<Value>) -> FinalStep {
        FinalStep {
            columns: vec![
                "\"__d1p_g1\" TEXT COLLATE NOCASE".into(),
                "\"__d1p_a1\"".into(),
                "\"__d1p_a2\"".into(),
                "\"__d1p_t1\"".into(),
            ],
            sql: sql.into(),
            params,
            ambiguity_checks: vec![AmbiguityCheck::spelling(
                "SELECT 1 FROM __d1p_partials GROUP BY \"__d1p_g1\" HAVING max(\"__d1p_t1\") > 1 OR count(DISTINCT quote(\"__d1p_g1\")) > 1".into(),
                "GROUP BY across shards met equal keys".into(),
            )],
        }
    }

    #[test]
    fn coordinator_prints_as_a_tree_with_parameters_inlined() {
        let s = step(
            "SELECT \"__d1p_g1\", round(__d1p_avg(\"__d1p_a1\"), ?1), (\"__d1p_g1\" || ?5) FROM __d1p_partials GROUP BY \"__d1p_g1\" HAVING (coalesce(sum(\"__d1p_a2\"), 0) > ?2) ORDER BY 2 DESC LIMIT ?3 OFFSET ?4",
            vec![
                Value::Integer(2),
                Value::Real(2.5),
                Value::Integer(3),
                Value::Integer(0),
                Value::Text("it's".into()),
            ],
        );
        assert_eq!(
            s.to_string(),
            "coordinator over partials (#g1 TEXT COLLATE NOCASE, #a1, #a2, #t1)
  output: [#g1, round(__d1p_avg(#a1), 2), #g1 || 'it''s']
  group by: [#g1]
  having: coalesce(sum(#a2), 0) > 2.5
  order by: [2 DESC]
  limit: 3 offset 0
  refuse if: max(#t1) > 1 OR count(DISTINCT quote(#g1)) > 1 per group of [#g1]"
        );
    }

    #[test]
    fn unreadable_coordinator_sql_prints_as_one_line() {
        let mut s = step(
            "SELECT ((( FROM __d1p_partials WHERE ?1",
            vec![Value::Blob(vec![1, 255])],
        );
        s.ambiguity_checks.clear();
        let line = "coordinator SQLite: __d1p_partials(\"__d1p_g1\" TEXT COLLATE NOCASE, \"__d1p_a1\", \"__d1p_a2\", \"__d1p_t1\"); SELECT ((( FROM __d1p_partials WHERE ?1 -- params [X'01FF']";
        assert_eq!(s.to_string(), line);
        // A parameter the query numbers past its values, or a clause the tree would not
        // show, also keeps the one line.
        let s = step("SELECT ?2 FROM __d1p_partials", vec![Value::Null]);
        assert!(s.to_string().starts_with("coordinator SQLite: "));
        let s = step("SELECT 1 FROM __d1p_partials WINDOW w AS ()", vec![]);
        assert!(s.to_string().starts_with("coordinator SQLite: "));
    }

    #[test]
    fn row_merge_prints_every_parameter() {
        let m = RowMerge {
            order: vec![
                OrderTerm {
                    column: OrderColumn::Output(1),
                    descending: true,
                    nulls_first: None,
                    collation: Collation::Binary,
                },
                OrderTerm {
                    column: OrderColumn::Hidden(0),
                    descending: false,
                    nulls_first: Some(true),
                    collation: Collation::NoCase,
                },
            ],
            hidden: 1,
            distinct: true,
            offset: 10,
            limit: Some(5),
            width: Some(3),
            columns: None,
        };
        assert_eq!(
            m.to_string(),
            "k-way merge of the sorted shard rows
  order by: [column 2 DESC COLLATE BINARY, hidden column 1 ASC COLLATE NOCASE NULLS FIRST]
  distinct: true
  limit: 5 offset 10
  hidden columns: 1
  row width: 3"
        );
    }
}
