//! Transparent FROM subqueries of the outermost query (see [`DerivedLimit`]).

use super::scopes::Scopes;
use super::{key_literal, DerivedLimit};
use crate::sql::has_nested_query;
use sqlparser::ast::{
    Expr, GroupByExpr, LimitClause, Query, Select, SelectItem, SetExpr, TableFactor, TableWithJoins,
};

impl Scopes<'_> {
    pub(super) fn is_transparent(&self, q: &Query) -> bool {
        self.transparent.iter().any(|p| std::ptr::eq(*p, q))
    }

    /// A SELECT whose only source is itself a subquery that only filters and projects,
    /// with no other nested query (a chain of CTEs read one through another).
    pub(super) fn reads_transparent_subquery(&self, sel: &Select) -> bool {
        let [TableWithJoins {
            relation:
                TableFactor::Derived {
                    lateral: false,
                    subquery,
                    ..
                },
            joins,
        }] = sel.from.as_slice()
        else {
            return false;
        };
        let nested = crate::sql::holds_query;
        joins.is_empty()
            && !sel.projection.iter().any(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => nested(e),
                _ => false,
            })
            && !sel.selection.as_ref().is_some_and(nested)
            && self.transparent_limits(subquery).is_some()
    }

    /// The LIMIT/OFFSET of a FROM subquery that only filters and projects, or None.
    pub(super) fn transparent_limits(&self, q: &Query) -> Option<DerivedLimit> {
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return None;
        };
        // No ORDER BY: SQLite carries a subquery's order to the outer query when it
        // flattens it, and a fan-out would lose it. No nested query at all: an aggregate
        // in one may aggregate over this query's rows (`(SELECT max(e.id))`).
        let plain = q.with.is_none()
            && q.order_by.is_none()
            && q.fetch.is_none()
            && (!has_nested_query(&q.body) || self.reads_transparent_subquery(sel))
            && matches!(sel.distinct, None | Some(sqlparser::ast::Distinct::All))
            && matches!(&sel.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
            && sel.having.is_none()
            && sel.named_window.is_empty()
            && sel.qualify.is_none()
            && sel.top.is_none()
            && sel.projection.iter().all(|i| match i {
                // An output the outer query reads with a type of its own (`CAST(x AS
                // TEXT) AS y`, `x COLLATE NOCASE AS y`) is not the column it names: such a
                // subquery is read first (`plan::derived_table`), where that type is kept.
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    !crate::sql::has_aggregate(e) && !crate::sql::carries_own_type(e)
                }
                _ => true,
            });
        if !plain {
            return None;
        }
        let known = |e: &Expr| key_literal(self.parsed, e);
        match &q.limit_clause {
            None => Some(DerivedLimit {
                limit: None,
                offset: None,
            }),
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => {
                let limit = match limit {
                    Some(e) => Some(known(e)?),
                    None => None,
                };
                let offset = match offset {
                    Some(o) => Some(known(&o.value)?),
                    None => None,
                };
                Some(DerivedLimit { limit, offset })
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => Some(DerivedLimit {
                limit: Some(known(limit)?),
                offset: Some(known(offset)?),
            }),
            Some(_) => None,
        }
    }
}
