//! Rule `colocated_insert_select`: `INSERT INTO a SELECT … FROM b` between sharded tables
//! runs on each shard as it is when every selected row keeps its shard: the value for
//! `a`'s key is `b`'s key column itself (same affinity), so a row read on shard `s` is
//! written to shard `s`. LIMIT, and aggregates not grouped by the key, would change what
//! a shard selects, and are refused.
//!
//! ```sql
//! INSERT INTO doc_versions (tenantId, docId, body) SELECT tenantId, id, body FROM docs WHERE tenantId = ?
//! ```

use super::route::key_affinity;
use super::Context;
use crate::error::Result;
use crate::plan::params::Params;
use crate::sql::object_name;
use sqlparser::ast::{Expr, GroupByExpr, SelectItem, SetExpr, Statement, TableFactor};

/// What feeds the target's key column in `INSERT INTO t … SELECT`.
enum Feed<'s> {
    /// A column of the SELECT's FROM: (its table, its column).
    Column(String, String),
    /// Any other expression of the select list.
    Expr(&'s Expr),
}

/// The SELECT of `INSERT INTO target … SELECT` and what feeds the target's key, when
/// d1plus can tell (a plain SELECT, no WITH or LIMIT).
fn key_feed<'s>(
    stmt: &'s Statement,
    target: &str,
    cx: Context<'_>,
) -> Option<(&'s sqlparser::ast::Select, Feed<'s>)> {
    let Statement::Insert(ins) = stmt else {
        return None;
    };
    let t = cx.policy.sharded_table(target)?;
    let q = ins.source.as_deref()?;
    if q.limit_clause.is_some() || q.with.is_some() {
        return None;
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    // Where the target's key sits among the inserted columns.
    let key_index = if ins.columns.is_empty() {
        cx.catalog
            .get(&t.name)?
            .insertable_columns()
            .position(|c| c.name.eq_ignore_ascii_case(&t.key_column))
    } else {
        ins.columns
            .iter()
            .position(|c| object_name(c).eq_ignore_ascii_case(&t.key_column))
    }?;
    // The FROM tables of the SELECT, by alias.
    let mut tables: Vec<(String, String)> = Vec::new();
    for twj in &sel.from {
        for f in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
            if let TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } = f
            {
                let n = object_name(name);
                let a = alias
                    .as_ref()
                    .map(|a| a.name.value.clone())
                    .unwrap_or_else(|| n.clone());
                tables.push((a, n));
            } else {
                // A derived table or table function: its columns are not the catalog's.
                tables.push((String::new(), String::new()));
            }
        }
    }
    if items_before_are_wildcards(&sel.projection, key_index) {
        return None;
    }
    // The source column feeding the key.
    let (qualifier, column) = match sel.projection.as_slice() {
        [SelectItem::Wildcard(_)] if tables.len() == 1 => {
            let src = cx.catalog.get(&tables[0].1)?;
            (None, src.insertable_columns().nth(key_index)?.name.clone())
        }
        items => match items.get(key_index)? {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => match e {
                Expr::Identifier(id) => (None, id.value.clone()),
                Expr::CompoundIdentifier(p) if p.len() == 2 => {
                    (Some(p[0].value.clone()), p[1].value.clone())
                }
                e => return Some((sel, Feed::Expr(e))),
            },
            _ => return None,
        },
    };
    let candidates: Vec<&(String, String)> = tables
        .iter()
        .filter(|(alias, name)| match &qualifier {
            Some(q) => alias.eq_ignore_ascii_case(q),
            None => cx
                .catalog
                .get(name)
                .is_some_and(|t| t.column(&column).is_some()),
        })
        .collect();
    let [(_, source)] = candidates.as_slice() else {
        return None;
    };
    Some((sel, Feed::Column(source.clone(), column)))
}

/// `SELECT t.*, x` puts an unknown number of columns before `x`.
fn items_before_are_wildcards(items: &[SelectItem], index: usize) -> bool {
    items.len() > 1
        && items[..index.min(items.len())].iter().any(|i| {
            matches!(
                i,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        })
}

/// Under a hint, whether every row the SELECT gives has the hinted key: the key is fed by
/// the key column of a sharded table of the same key affinity (which the hint scopes to
/// that key), or by a literal or parameter equal to the hinted key.
pub(crate) fn feeds_hinted_key(
    parsed: &crate::parse::Parsed,
    stmt: &Statement,
    target: &str,
    hinted: &crate::value::Value,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<bool> {
    let Some(t) = cx.policy.sharded_table(target) else {
        return Ok(false);
    };
    let affinity = key_affinity(&t.name, &t.key_column, cx)?;
    match key_feed(stmt, target, cx) {
        Some((_, Feed::Column(source, column))) => match cx.policy.sharded_table(&source) {
            Some(s) if s.key_column.eq_ignore_ascii_case(&column) => {
                Ok(key_affinity(&s.name, &s.key_column, cx)? == affinity)
            }
            _ => Ok(false),
        },
        Some((_, Feed::Expr(e))) => {
            let Some(k) = crate::analyze::key_literal(parsed, e) else {
                return Ok(false);
            };
            let v = super::key_value(&k, params)?;
            Ok(
                match (
                    crate::placement::canonical_key(&v, affinity),
                    crate::placement::canonical_key(hinted, affinity),
                ) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                },
            )
        }
        None => Ok(false),
    }
}

/// Whether the INSERT … SELECT keeps every row on the shard it was read from.
pub(crate) fn is_colocated(stmt: &Statement, target: &str, cx: Context<'_>) -> Result<bool> {
    let Some(t) = cx.policy.sharded_table(target) else {
        return Ok(false);
    };
    let Some((sel, Feed::Column(source, column))) = key_feed(stmt, target, cx) else {
        return Ok(false);
    };
    let Some(s) = cx.policy.sharded_table(&source) else {
        return Ok(false);
    };
    if !s.key_column.eq_ignore_ascii_case(&column) {
        return Ok(false);
    }
    if key_affinity(&s.name, &s.key_column, cx)? != key_affinity(&t.name, &t.key_column, cx)? {
        return Ok(false);
    }
    // Aggregates or grouping must keep the key: GROUP BY must include it.
    let grouped = match &sel.group_by {
        GroupByExpr::Expressions(e, _) => !e.is_empty(),
        GroupByExpr::All(_) => true,
    };
    let aggregated = sel.projection.iter().any(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            crate::sql::has_aggregate(e)
        }
        _ => false,
    });
    if grouped || aggregated || sel.having.is_some() {
        let GroupByExpr::Expressions(keys, _) = &sel.group_by else {
            return Ok(false);
        };
        let groups_by_key = keys.iter().any(|k| match k {
            Expr::Identifier(id) => id.value.eq_ignore_ascii_case(&column),
            Expr::CompoundIdentifier(p) => p
                .last()
                .is_some_and(|l| l.value.eq_ignore_ascii_case(&column)),
            _ => false,
        });
        if !groups_by_key {
            return Ok(false);
        }
    }
    Ok(true)
}
