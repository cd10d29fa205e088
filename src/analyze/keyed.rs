//! FROM subqueries keyed like a sharded table: each of their rows is made from one shard
//! key's rows only and carries that key among its columns (Prisma's relation counts,
//! `LEFT JOIN (SELECT tenantId, authorId, count(*) … GROUP BY tenantId, authorId) AS c`).
//! On every shard such a subquery yields exactly the rows of the keys that shard holds, so
//! the query reading it may treat it as one more sharded table: a reference of its own,
//! joined (or pinned) by its key column like any table.

use super::scopes::{Columns, Entry, Level, PendingKeyed, Scopes};
use super::ShardedRef;
use crate::policy::TableKind;
use crate::sql::{
    carries_own_type, column_name, has_aggregate, has_window, object_name, strip_nested,
};
use sqlparser::ast::{
    Expr, GroupByExpr, JoinOperator, Query, Select, SelectItem, SelectItemQualifiedWildcardKind,
    SetExpr, TableAlias, TableFactor,
};

/// What makes a subquery keyed: its key table, how it is referred to inside, and the
/// subquery's column names (None when some output's name is not known here).
struct Keyed {
    table: String,
    key_column: String,
    inner: String,
    columns: Option<Vec<String>>,
}

impl Scopes<'_> {
    /// Registers a FROM subquery as a sharded reference of the query reading it, when it is
    /// keyed (see the module's documentation); returns its frame entry, or None to leave it
    /// out of the frame as any other subquery.
    pub(super) fn keyed_subquery(
        &mut self,
        subquery: &Query,
        alias: Option<&TableAlias>,
        level: Level,
    ) -> Option<Entry> {
        if self.is_transparent(subquery) {
            return None;
        }
        let keyed = self.keyed(subquery, alias)?;
        self.refs.push(ShardedRef {
            table: keyed.table.clone(),
            key_column: keyed.key_column,
            pins: Vec::new(),
            output_pins: Vec::new(),
            top_level: level == Level::Outermost,
            branch: self.branch,
        });
        let node = self.refs.len() - 1;
        self.pending_keyed.push(PendingKeyed {
            query: subquery,
            node,
            inner: keyed.inner,
        });
        Some(Entry {
            alias: alias.map(|a| a.name.value.clone()).unwrap_or_default(),
            table: keyed.table,
            node: Some(node),
            columns: keyed.columns.map_or(Columns::Unknown, Columns::Named),
        })
    }

    /// Links a keyed subquery's reference to the reference of its key table, once the walk
    /// has pushed the frame of the subquery's own SELECT (`query` is the query the SELECT
    /// is the body of).
    pub(super) fn link_keyed(&mut self, query: *const Query) {
        let Some(i) = self.pending_keyed.iter().position(|p| p.query == query) else {
            return;
        };
        let pending = self.pending_keyed.swap_remove(i);
        let inner = self.frames.last().and_then(|frame| {
            frame
                .iter()
                .find(|e| e.alias.eq_ignore_ascii_case(&pending.inner))
                .and_then(|e| e.node)
        });
        if let Some(inner) = inner {
            self.links.push((pending.node, inner));
        }
    }

    fn keyed(&self, q: &Query, alias: Option<&TableAlias>) -> Option<Keyed> {
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return None;
        };
        // A LIMIT would cut each shard's rows on its own; a window would number them. An
        // ORDER BY decides the order the query reading the subquery meets its rows in
        // (which row a column beside max() comes from), and SQLite drops it or not by the
        // shape of that query, which a fan-out rewrites.
        let plain = q.with.is_none()
            && q.order_by.is_none()
            && q.limit_clause.is_none()
            && q.fetch.is_none()
            && alias.is_none_or(|a| a.columns.is_empty())
            && sel.top.is_none()
            && sel.qualify.is_none()
            && sel.named_window.is_empty()
            && !sel.projection.iter().any(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    has_window(e) || carries_own_type(e)
                }
                _ => false,
            });
        if !plain {
            return None;
        }
        let (table, inner) = self.key_table(sel)?;
        let key_column = self.policy.sharded_table(&table)?.key_column.clone();
        let is_key = |e: &Expr| names_key(e, &inner, &key_column);
        if aggregates(sel) {
            // Each group must hold one key's rows.
            let GroupByExpr::Expressions(groups, modifiers) = &sel.group_by else {
                return None;
            };
            if !modifiers.is_empty() || !groups.iter().any(is_key) {
                return None;
            }
        }
        let columns = self.output_names(sel, &table, &inner)?;
        let key_outputs = columns
            .iter()
            .flatten()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&key_column));
        let mut exposed = false;
        for (_, is_key_output) in key_outputs {
            if !is_key_output || exposed {
                return None;
            }
            exposed = true;
        }
        exposed.then(|| Keyed {
            table,
            key_column,
            inner,
            columns: columns
                .into_iter()
                .map(|c| c.map(|(n, _)| n))
                .collect::<Option<Vec<String>>>(),
        })
    }

    /// The sharded table leading the SELECT's FROM (whose rows are never NULL-filled: no
    /// RIGHT or FULL join anywhere, as SQLite reads `a, b RIGHT JOIN c` as `(a, b) RIGHT
    /// JOIN c`), with the name it is referred to by.
    fn key_table(&self, sel: &Select) -> Option<(String, String)> {
        let outer_join = sel.from.iter().flat_map(|twj| &twj.joins).any(|j| {
            matches!(
                j.join_operator,
                JoinOperator::Right(_) | JoinOperator::RightOuter(_) | JoinOperator::FullOuter(_)
            )
        });
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = &sel.from.first()?.relation
        else {
            return None;
        };
        let table = object_name(name);
        let is_cte = name.0.len() == 1 && self.ctes.iter().any(|c| c.eq_ignore_ascii_case(&table));
        if outer_join || is_cte || self.policy.table_kind(&table) != TableKind::Sharded {
            return None;
        }
        let inner = alias
            .as_ref()
            .map_or_else(|| table.clone(), |a| a.name.value.clone());
        let table = self.policy.sharded_table(&table)?.name.clone();
        Some((table, inner))
    }

    /// Each output's name and whether it is the key table's key column; None for an
    /// output whose name is not known here, and None overall for a `*` that is not the key
    /// table's alone.
    #[allow(clippy::type_complexity)]
    fn output_names(
        &self,
        sel: &Select,
        table: &str,
        inner: &str,
    ) -> Option<Vec<Option<(String, bool)>>> {
        let key_column = &self.policy.sharded_table(table)?.key_column;
        let star = || -> Option<Vec<Option<(String, bool)>>> {
            let t = self.catalog.get(table)?;
            Some(
                t.star_columns()
                    .map(|c| Some((c.name.clone(), c.name.eq_ignore_ascii_case(key_column))))
                    .collect(),
            )
        };
        let alone = sel.from.len() == 1 && sel.from[0].joins.is_empty();
        let mut names = Vec::new();
        for item in &sel.projection {
            match item {
                SelectItem::Wildcard(_) if alone => names.extend(star()?),
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(q),
                    _,
                ) if object_name(q).eq_ignore_ascii_case(inner) => names.extend(star()?),
                SelectItem::Wildcard(_)
                | SelectItem::QualifiedWildcard(..)
                | SelectItem::ExprWithAliases { .. } => return None,
                SelectItem::ExprWithAlias { expr, alias } => names.push(Some((
                    alias.value.clone(),
                    names_key(expr, inner, key_column),
                ))),
                SelectItem::UnnamedExpr(e) => names
                    .push(column_name(e).map(|n| (n.to_string(), names_key(e, inner, key_column)))),
            }
        }
        Some(names)
    }
}

/// Whether the SELECT groups its rows (GROUP BY, HAVING or an aggregate in its outputs).
fn aggregates(sel: &Select) -> bool {
    let grouped =
        !matches!(&sel.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty());
    grouped
        || sel.having.is_some()
        || sel.projection.iter().any(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                has_aggregate(e)
            }
            _ => false,
        })
}

/// Whether `e` reads the key column of the table referred to as `inner` (unqualified, it
/// is that table's column or SQLite rejects it as ambiguous).
fn names_key(e: &Expr, inner: &str, key_column: &str) -> bool {
    match strip_nested(e) {
        Expr::Identifier(id) => id.value.eq_ignore_ascii_case(key_column),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let n = parts.len();
            parts[n - 2].value.eq_ignore_ascii_case(inner)
                && parts[n - 1].value.eq_ignore_ascii_case(key_column)
        }
        _ => false,
    }
}
