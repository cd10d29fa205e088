//! Two phases where one database has one (issue 10): an uncorrelated scalar subquery over
//! sharded tables (`x / (SELECT count(*) FROM t)`, `WHERE a = (SELECT max(a) FROM t)`)
//! cannot run inside each shard's query, since each shard would see only its own rows.
//! Its value does not depend on the outer row, so d1plus computes it first, as a query of
//! its own merged exactly across shards, and runs the statement with the value in its
//! place. The two phases are not one snapshot (neither are the shards of a fan-out).
//!
//! Only subqueries with exactly one row and one column qualify: an aggregate without
//! GROUP BY or LIMIT. Its value has no affinity and no collation in SQLite (an aggregate
//! is a function), so a literal in its place compares exactly as the subquery did.

use super::splice::{splice, sql_literal, Piece};
use crate::analyze::object_name;
use crate::catalog::Catalog;
use crate::lex::TokenKind;
use crate::parse::Parsed;
use crate::policy::{Policy, TableKind};
use crate::value::Value;
use sqlparser::ast::{Expr, GroupByExpr, ObjectName, SelectItem, SetExpr, Visit, Visitor};
use std::ops::{ControlFlow, Range};

/// A scalar subquery d1plus can compute before the statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScalarSubquery {
    /// The subquery's text (without its parentheses), parameters renumbered from `?1`.
    pub sql: String,
    /// The values it binds.
    pub params: Vec<Value>,
    /// The byte range of `( … )` in the statement.
    pub range: Range<usize>,
    /// A subquery in FROM (its one row becomes a row of literals), not a scalar.
    pub derived: bool,
}

/// The uncorrelated one-row scalar subqueries over sharded tables of a SELECT, not nested
/// in one another, in text order.
pub(crate) fn scalar_subqueries(
    parsed: &Parsed,
    params: &[Value],
    policy: &Policy,
    catalog: &Catalog,
) -> Vec<ScalarSubquery> {
    let Ok(sqlparser::ast::Statement::Query(q)) = &parsed.ast else {
        return Vec::new();
    };
    struct Finder<'p> {
        parsed: &'p Parsed,
        found: Vec<(Range<usize>, bool)>,
    }
    impl Finder<'_> {
        fn add(&mut self, q: &sqlparser::ast::Query, derived: bool) {
            if let Some(r) = parenthesized(self.parsed, q) {
                if !self
                    .found
                    .iter()
                    .any(|(f, _)| f.start <= r.start && r.end <= f.end)
                {
                    self.found.push((r, derived));
                }
            }
        }
    }
    impl Visitor for Finder<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Subquery(q) = expr {
                self.add(q, false);
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, f: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
            if let sqlparser::ast::TableFactor::Derived {
                lateral: false,
                subquery,
                ..
            } = f
            {
                self.add(subquery, true);
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder {
        parsed,
        found: Vec::new(),
    };
    let _ = q.visit(&mut finder);
    let mut found = finder.found;
    found.sort_by_key(|(r, _)| r.start);
    found
        .into_iter()
        .filter_map(|(outer, derived)| {
            let inner = outer.start + 1..outer.end - 1;
            let text = &parsed.sql[inner.clone()];
            let sub = Parsed::new(text).ok()?;
            qualifies(&sub, derived, policy, catalog).then_some(())?;
            let s = splice(parsed, &[Piece::Source(inner)], params);
            Some(ScalarSubquery {
                sql: s.sql,
                params: s.params,
                range: outer,
                derived,
            })
        })
        .collect()
}

/// A computed subquery: its range, and its one row (empty: no row) with column names.
pub(crate) struct Computed {
    /// The byte range of `( … )` in the statement.
    pub range: Range<usize>,
    /// Whether it sits in FROM.
    pub derived: bool,
    /// Its result's column names.
    pub columns: Vec<String>,
    /// Its row, if any.
    pub row: Option<Vec<Value>>,
}

/// The statement with each subquery replaced by its value (a scalar) or by a SELECT of
/// literals under the same column names (a FROM item), parameters renumbered.
pub(crate) fn substitute(
    parsed: &Parsed,
    params: &[Value],
    subs: &[Computed],
) -> super::splice::Spliced {
    let mut pieces = Vec::with_capacity(subs.len() * 2 + 1);
    let mut cursor = 0;
    for c in subs {
        pieces.push(Piece::Source(cursor..c.range.start));
        let text = if c.derived {
            let items: Vec<String> = c
                .columns
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let v = c
                        .row
                        .as_ref()
                        .and_then(|r| r.get(i))
                        .unwrap_or(&Value::Null);
                    format!("{} AS {}", sql_literal(v), crate::lex::quote_ident(name))
                })
                .collect();
            // No row: the same columns, no rows.
            let filter = if c.row.is_some() { "" } else { " WHERE 0" };
            format!("(SELECT {}{filter})", items.join(", "))
        } else {
            let v = c
                .row
                .as_ref()
                .and_then(|r| r.first())
                .unwrap_or(&Value::Null);
            format!("({})", sql_literal(v))
        };
        pieces.push(Piece::Owned(text));
        cursor = c.range.end;
    }
    pieces.push(Piece::Source(cursor..parsed.sql.len()));
    splice(parsed, &pieces, params)
}

/// SQLite's column names for the outermost SELECT's output, from the original text
/// (None with `*`, whose names the shards give).
pub(crate) fn column_names(parsed: &Parsed, catalog: &Catalog) -> Option<Vec<String>> {
    let Ok(sqlparser::ast::Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let shape = super::select_shape::select_shape(parsed)?;
    if shape.items.len() != sel.projection.len() {
        return None;
    }
    let scope = super::names::Scope::of(sel, catalog);
    sel.projection
        .iter()
        .zip(&shape.items)
        .map(|(item, range)| match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => None,
            _ => Some(super::aggregate::column_name(parsed, item, range, &scope)),
        })
        .collect()
}

/// At most one row of values without affinity or collation (one value for a scalar): an
/// aggregate without GROUP BY, or columns of such a subquery read alone (`SELECT c FROM
/// (SELECT count(*) AS c …)`). A bare column, CAST or COLLATE as a value would carry an
/// affinity or collation that a literal in its place would not.
fn one_plain_row(q: &sqlparser::ast::Query, many: bool) -> bool {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return false;
    };
    let exprs: Option<Vec<&Expr>> = sel
        .projection
        .iter()
        .map(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect();
    let Some(exprs) = exprs else {
        return false;
    };
    let ungrouped =
        matches!(&sel.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty());
    if exprs.is_empty()
        || (!many && exprs.len() != 1)
        || !ungrouped
        || q.limit_clause.is_some()
        || q.with.is_some()
    {
        return false;
    }
    let aggregate = super::aggregate::is_aggregate(sel, q);
    exprs.iter().all(|expr| {
        let mut e = *expr;
        while let Expr::Nested(inner) = e {
            e = inner;
        }
        match e {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                // A column of the only FROM item, a subquery giving one plain row.
                let [sqlparser::ast::TableWithJoins {
                    relation: sqlparser::ast::TableFactor::Derived { subquery, .. },
                    joins,
                }] = sel.from.as_slice()
                else {
                    return false;
                };
                !aggregate && joins.is_empty() && one_plain_row(subquery, true)
            }
            Expr::Cast { .. } | Expr::Collate { .. } => false,
            _ => aggregate,
        }
    })
}

/// The `( … )` around a subquery's SELECT, as a byte range.
fn parenthesized(parsed: &Parsed, q: &sqlparser::ast::Query) -> Option<Range<usize>> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    if q.with.is_some() {
        return None;
    }
    let at = parsed.offset(sel.select_token.0.span.start)?;
    let toks = &parsed.tokens;
    let i = toks.binary_search_by_key(&at, |t| t.start).ok()?;
    let open = toks[..i].iter().rposition(|t| !t.is_trivia())?;
    if toks[open].kind != TokenKind::LParen {
        return None;
    }
    let close = parsed.closing_paren(open)?;
    Some(toks[open].start..toks[close].end)
}

/// One row, one column, reads a sharded table, and names nothing outside itself.
fn qualifies(sub: &Parsed, derived: bool, policy: &Policy, catalog: &Catalog) -> bool {
    let Ok(sqlparser::ast::Statement::Query(q)) = &sub.ast else {
        return false;
    };
    if !one_plain_row(q, derived) {
        return false;
    }
    // Every table and alias the subquery names, at any depth, and their columns.
    struct Names<'c> {
        catalog: &'c Catalog,
        policy: &'c Policy,
        qualifiers: Vec<String>,
        columns: Vec<String>,
        sharded: bool,
        refs: Vec<(Option<String>, String)>,
    }
    impl Visitor for Names<'_> {
        type Break = ();
        fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
            let name = object_name(relation);
            self.sharded |= self.policy.table_kind(&name) == TableKind::Sharded;
            if let Some(t) = self.catalog.get(&name) {
                self.columns
                    .extend(t.columns.iter().map(|c| c.name.to_ascii_lowercase()));
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, f: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
            use sqlparser::ast::TableFactor as F;
            // A FROM item is named by its alias, or by its table's name without one.
            match f {
                F::Table { alias: Some(a), .. } | F::Derived { alias: Some(a), .. } => {
                    self.qualifiers.push(a.name.value.to_ascii_lowercase())
                }
                F::Table {
                    name, alias: None, ..
                } => self.qualifiers.push(object_name(name).to_ascii_lowercase()),
                _ => {}
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_select(&mut self, s: &sqlparser::ast::Select) -> ControlFlow<()> {
            for i in &s.projection {
                if let SelectItem::ExprWithAlias { alias, .. } = i {
                    self.columns.push(alias.value.to_ascii_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::Identifier(id) => self.refs.push((None, id.value.to_ascii_lowercase())),
                Expr::CompoundIdentifier(p) if p.len() >= 2 => self.refs.push((
                    Some(p[p.len() - 2].value.to_ascii_lowercase()),
                    p[p.len() - 1].value.to_ascii_lowercase(),
                )),
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names {
        catalog,
        policy,
        qualifiers: Vec::new(),
        columns: Vec::new(),
        sharded: false,
        refs: Vec::new(),
    };
    let _ = q.visit(&mut names);
    // A name the subquery's own tables do not have may be the outer query's: correlated.
    names.sharded
        && names
            .refs
            .iter()
            .all(|(qualifier, column)| match qualifier {
                Some(q) => names.qualifiers.contains(q),
                None => names.columns.contains(column),
            })
}
