//! The terms of the outermost SELECT that both fan-out planners read: output column
//! names, ORDER BY terms and their collations, LIMIT and OFFSET values, and whether the
//! SELECT aggregates.

use super::fanout::refuse;
use super::names::Scope;
use crate::analyze::{key_literal, Analysis};
use crate::error::{Error, Result};
use crate::merge::Collation;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::sql::{object_name, KeyExpr};
use crate::value::Value;
use sqlparser::ast::{Expr, GroupByExpr, LimitClause, OrderByKind, Query, Select, SelectItem};
use std::ops::Range;

/// A LIMIT/OFFSET operand: an integer literal or a bound parameter.
fn limit_value(
    parsed: &Parsed,
    e: &Expr,
    params: &Params<'_>,
    what: &str,
    a: &Analysis,
) -> Result<i64> {
    let v = match key_literal(parsed, e) {
        Some(KeyExpr::Literal(v)) => v,
        Some(KeyExpr::Param(i)) => params.value(i)?,
        None => return Err(refuse(&format!("{what} given as an expression"), a)),
    };
    match v.with_affinity(crate::value::Affinity::Integer) {
        Value::Integer(i) => Ok(i),
        // What SQLite says for a LIMIT that is not an integer.
        _ => Err(Error::backend(None, "datatype mismatch")),
    }
}

/// The terms of a query's ORDER BY (empty without one); `ORDER BY ALL` is refused.
pub(crate) fn order_terms<'q>(
    q: &'q Query,
    a: &Analysis,
) -> Result<&'q [sqlparser::ast::OrderByExpr]> {
    match &q.order_by {
        None => Ok(&[]),
        Some(ob) => match &ob.kind {
            OrderByKind::Expressions(terms) => Ok(terms),
            _ => Err(refuse("ORDER BY ALL", a)),
        },
    }
}

/// An ORDER BY term's expression without its `COLLATE`, and that collation (refused when
/// it is not one the merge knows).
pub(crate) fn split_collate<'e>(
    e: &'e Expr,
    a: &Analysis,
) -> Result<(&'e Expr, Option<Collation>)> {
    match e {
        Expr::Collate { expr, collation } => {
            let name = object_name(collation);
            match Collation::from_name(&name) {
                Some(c) => Ok((expr.as_ref(), Some(c))),
                None => Err(refuse(&format!("collation {name} in ORDER BY"), a)),
            }
        }
        e => Ok((e, None)),
    }
}

/// LIMIT and OFFSET values, in every SQLite form (`LIMIT n OFFSET m`, `LIMIT m, n`,
/// bound parameters); a negative limit means none, a negative offset means 0.
pub(crate) fn limit_offset(
    parsed: &Parsed,
    clause: Option<&LimitClause>,
    params: &Params<'_>,
    a: &Analysis,
) -> Result<(Option<u64>, u64)> {
    let (limit, offset) = match clause {
        None => (None, 0),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            let n = limit
                .as_ref()
                .map(|e| limit_value(parsed, e, params, "LIMIT", a))
                .transpose()?;
            let m = offset
                .as_ref()
                .map(|o| limit_value(parsed, &o.value, params, "OFFSET", a))
                .transpose()?;
            (n, m.unwrap_or(0))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            let n = limit_value(parsed, limit, params, "LIMIT", a)?;
            let m = limit_value(parsed, offset, params, "OFFSET", a)?;
            (Some(n), m)
        }
    };
    Ok((
        limit.filter(|n| *n >= 0).map(|n| n as u64),
        offset.max(0) as u64,
    ))
}

/// The collation an expression compares with, as SQLite's `sqlite3ExprCollSeq` finds it:
/// `x COLLATE c` explicitly; a column its declared collation (resolved in `scope`); unary
/// `+` and CAST pass their operand's through; functions and other operators give BINARY.
/// An explicit COLLATE inside an operator's operand is refused (rare, and subtle).
pub(crate) fn expression_collation(
    expr: &Expr,
    scope: &Scope<'_>,
    a: &Analysis,
) -> Result<Collation> {
    match expr {
        Expr::Collate { collation, .. } => {
            let c = object_name(collation);
            Collation::from_name(&c).ok_or_else(|| {
                Error::unsupported(
                    format!("collation {c} across shards"),
                    "use BINARY, NOCASE or RTRIM",
                )
            })
        }
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => Ok(scope.declared_collation(expr)),
        Expr::Nested(inner)
        | Expr::Cast { expr: inner, .. }
        | Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Plus,
            expr: inner,
        } => expression_collation(inner, scope, a),
        Expr::BinaryOp { left, right, .. } => {
            let explicit = |e: &Expr| {
                matches!(e, Expr::Collate { .. })
                    || matches!(e, Expr::Nested(n) if matches!(n.as_ref(), Expr::Collate { .. }))
            };
            if explicit(left) || explicit(right) {
                return Err(refuse("ORDER BY an operator over a COLLATE expression", a));
            }
            Ok(Collation::Binary)
        }
        _ => Ok(Collation::Binary),
    }
}

/// The LIMIT each shard gets for `LIMIT n OFFSET m`: `n + m`, or none when that passes
/// SQLite's largest integer.
pub(crate) fn shard_limit(limit: Option<u64>, offset: u64) -> Option<String> {
    let n = limit?;
    if n == 0 {
        // No row is wanted: SQLite evaluates none (an error in a row past it never shows).
        return Some(" LIMIT 0".to_string());
    }
    Some(
        match n.checked_add(offset).filter(|t| *t <= i64::MAX as u64) {
            Some(t) => format!(" LIMIT {t}"),
            None => " LIMIT -1".to_string(),
        },
    )
}

/// Whether this SELECT needs the aggregate merge.
pub(crate) fn is_aggregate(select: &Select, q: &Query) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(e, _) => !e.is_empty(),
    };
    let mut exprs: Vec<&Expr> = Vec::new();
    for item in &select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            exprs.push(e);
        }
    }
    if let Some(h) = &select.having {
        exprs.push(h);
    }
    if let Some(ob) = &q.order_by {
        if let OrderByKind::Expressions(terms) = &ob.kind {
            exprs.extend(terms.iter().map(|t| &t.expr));
        }
    }
    grouped || select.having.is_some() || exprs.iter().any(|e| crate::sql::has_aggregate(e))
}

/// The name SQLite gives a result column: the alias, a column's declared name (however
/// the query spells it), or the expression's text.
pub(crate) fn column_name(
    parsed: &Parsed,
    item: &SelectItem,
    range: &Range<usize>,
    scope: &Scope<'_>,
) -> String {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
        SelectItem::UnnamedExpr(e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_))) => scope
            .output_name(e)
            .unwrap_or_else(|| parsed.sql[range.clone()].to_string()),
        _ => parsed.sql[range.clone()].to_string(),
    }
}
