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
use crate::analyze::object_name;
use crate::error::Result;
use sqlparser::ast::{Expr, GroupByExpr, SelectItem, SetExpr, Statement, TableFactor};

/// Whether the INSERT … SELECT keeps every row on the shard it was read from.
pub(crate) fn is_colocated(stmt: &Statement, target: &str, cx: Context<'_>) -> Result<bool> {
    let Statement::Insert(ins) = stmt else {
        return Ok(false);
    };
    let Some(t) = cx.policy.sharded_table(target) else {
        return Ok(false);
    };
    let Some(q) = ins.source.as_deref() else {
        return Ok(false);
    };
    if q.limit_clause.is_some() || q.with.is_some() {
        return Ok(false);
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Ok(false);
    };
    // Where the target's key sits among the inserted columns.
    let key_index = if ins.columns.is_empty() {
        match cx.catalog.get(&t.name) {
            Some(tab) => tab
                .insertable_columns()
                .position(|c| c.name.eq_ignore_ascii_case(&t.key_column)),
            None => None,
        }
    } else {
        ins.columns
            .iter()
            .position(|c| object_name(c).eq_ignore_ascii_case(&t.key_column))
    };
    let Some(key_index) = key_index else {
        return Ok(false);
    };
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
            }
        }
    }
    // The source column feeding the key.
    let (qualifier, column) = match sel.projection.as_slice() {
        [SelectItem::Wildcard(_)] if tables.len() == 1 => {
            let Some(src) = cx.catalog.get(&tables[0].1) else {
                return Ok(false);
            };
            match src.insertable_columns().nth(key_index) {
                Some(c) => (None, c.name.clone()),
                None => return Ok(false),
            }
        }
        items => match items.get(key_index) {
            Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => match e
            {
                Expr::Identifier(id) => (None, id.value.clone()),
                Expr::CompoundIdentifier(p) if p.len() == 2 => {
                    (Some(p[0].value.clone()), p[1].value.clone())
                }
                _ => return Ok(false),
            },
            _ => return Ok(false),
        },
    };
    let candidates: Vec<&(String, String)> = tables
        .iter()
        .filter(|(alias, name)| match &qualifier {
            Some(q) => alias.eq_ignore_ascii_case(q),
            None => cx
                .policy
                .sharded_table(name)
                .is_some_and(|s| s.key_column.eq_ignore_ascii_case(&column)),
        })
        .collect();
    let [(_, source)] = candidates.as_slice() else {
        return Ok(false);
    };
    let Some(s) = cx.policy.sharded_table(source) else {
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
            super::fanout::has_aggregate(e)
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
