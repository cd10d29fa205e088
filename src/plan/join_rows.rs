//! A read of joined tables whose window functions span shards (`SELECT u.name, p.title,
//! row_number() OVER (ORDER BY p.views DESC, p.id) FROM posts p JOIN users u ON u.tenantId =
//! p.tenantId AND u.id = p.authorId`): as `window_rows` does for one table, the joined rows
//! WHERE keeps are read first, and the rest of the statement runs on the coordinator over
//! them (`derived_table`, whose checks refuse what would depend on the order the rows are
//! met). The rows read first are a FROM subquery of the columns the rest of the statement
//! reads, each under a name of its own (`d1p_0`, …: two tables may both have `id`), and the
//! statement's references to them are rewritten to those names. Each is a plain column
//! reference, so it keeps its column's affinity and collation; the result keeps the
//! statement's column names.
//!
//! Taken only for plain tables joined with ON or commas (USING and NATURAL merge columns),
//! no `*`, no subquery outside WHERE and ON, no WINDOW clause or compound, and names outside
//! WHERE and ON that are one table's columns (not `rowid`) or output aliases that are no
//! column's name; WHERE and ON must read no output alias (the subquery cannot see them).

use super::derived_table::{self, DerivedRead, Origin};
use super::select_shape::select_shape;
use super::splice::{splice, Piece};

use crate::catalog::{Catalog, Table};
use crate::lex::quote_ident;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::sql::walk::{calls_window, walk, TopLevel};
use crate::sql::{holds_query, object_name};
use crate::value::Value;
use sqlparser::ast::{
    Expr, GroupByExpr, JoinConstraint, JoinOperator, OrderByKind, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor,
};
use std::ops::Range;

/// One FROM table: the name the statement reads it by, and its catalog entry.
struct Item<'c> {
    refer: String,
    table: &'c Table,
}

/// The read as its joined rows read first and the statement over them, when it has that
/// shape (see the module's documentation); None otherwise.
pub(super) fn split(
    parsed: &Parsed,
    params: &[Value],
    catalog: &Catalog,
    policy: &crate::policy::Policy,
) -> Option<DerivedRead> {
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    if q.with.is_some() || !sel.named_window.is_empty() || !calls_window(q) {
        return None;
    }
    let (items, conditions) = from_items(sel, catalog)?;
    if items.len() < 2 {
        return None;
    }
    let aliases = crate::sql::output_aliases(sel);
    let names = Names {
        items: &items,
        aliases: &aliases,
    };
    if aliases
        .iter()
        .any(|a| a.to_ascii_lowercase().starts_with("d1p_"))
        || !conditions.iter().all(|e| names.only_columns(e))
    {
        return None;
    }
    let mut refs = Vec::new();
    for e in outer_exprs(q, sel)? {
        if holds_query(e) {
            return None;
        }
        names.collect(parsed, e, &mut refs)?;
    }
    let (rewritten, renamed) = rewrite(parsed, params, &items, refs)?;
    let reparsed = Parsed::new(&rewritten.sql).ok()?;
    let mut read = derived_table::split(&reparsed, &rewritten.params, policy, catalog)?;
    read.origin = Origin::Windows;
    read.names = super::subquery::column_names(parsed, catalog);
    read.renamed = renamed;
    Some(read)
}

/// The FROM tables and the join conditions, when every FROM item is a plain table joined
/// with ON or a comma.
fn from_items<'s, 'c>(
    sel: &'s Select,
    catalog: &'c Catalog,
) -> Option<(Vec<Item<'c>>, Vec<&'s Expr>)> {
    let mut items = Vec::new();
    let mut conditions = Vec::new();
    let item = |f: &TableFactor| -> Option<Item<'c>> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = f
        else {
            return None;
        };
        if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
            return None;
        }
        let table = object_name(name);
        Some(Item {
            refer: alias
                .as_ref()
                .map_or(table.clone(), |a| a.name.value.clone()),
            table: catalog.get(&table)?,
        })
    };
    for twj in &sel.from {
        items.push(item(&twj.relation)?);
        for j in &twj.joins {
            let constraint = match &j.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::CrossJoin(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => c,
                _ => return None,
            };
            match constraint {
                JoinConstraint::On(e) => conditions.push(e),
                JoinConstraint::None => {}
                _ => return None,
            }
            items.push(item(&j.relation)?);
        }
    }
    conditions.extend(sel.selection.as_ref());
    Some((items, conditions))
}

/// The expressions of the statement outside FROM and WHERE; None for a `*`.
fn outer_exprs<'q>(q: &'q Query, sel: &'q Select) -> Option<Vec<&'q Expr>> {
    let mut exprs = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => exprs.push(e),
            _ => return None,
        }
    }
    match &sel.group_by {
        GroupByExpr::Expressions(terms, m) if m.is_empty() => exprs.extend(terms),
        _ => return None,
    }
    exprs.extend(sel.having.iter());
    if let Some(order) = &q.order_by {
        let OrderByKind::Expressions(terms) = &order.kind else {
            return None;
        };
        exprs.extend(terms.iter().map(|t| &t.expr));
    }
    Some(exprs)
}

/// A column reference to rewrite: where it is written, and the table column it reads.
struct Ref {
    range: Range<usize>,
    item: usize,
    column: String,
}

/// The names of the statement.
struct Names<'a, 'c> {
    items: &'a [Item<'c>],
    aliases: &'a [&'a str],
}

impl Names<'_, '_> {
    /// The items having column `name`.
    fn having(&self, name: &str) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].table.column(name).is_some())
            .collect()
    }

    fn qualified(&self, table: &str, column: &str) -> Option<usize> {
        let i = self
            .items
            .iter()
            .position(|it| it.refer.eq_ignore_ascii_case(table))?;
        self.items[i].table.column(column).map(|_| i)
    }

    /// Whether every name `e` reads outside its subqueries is a column of the tables.
    fn only_columns(&self, e: &Expr) -> bool {
        let mut ok = true;
        let _ = walk(
            e,
            &mut TopLevel::of_expr(&mut |x: &Expr| {
                ok &= match x {
                    Expr::Identifier(id) => !self.having(&id.value).is_empty(),
                    Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                        [t, c] => self.qualified(&t.value, &c.value).is_some(),
                        _ => false,
                    },
                    _ => true,
                };
            }),
        );
        ok
    }

    /// Adds the column references of `e` to `refs`; None when a name is not one this
    /// module can rewrite.
    fn collect(&self, parsed: &Parsed, e: &Expr, refs: &mut Vec<Ref>) -> Option<()> {
        let mut ok = true;
        let _ = walk(
            e,
            &mut TopLevel::of_expr(&mut |x: &Expr| {
                let found = match x {
                    Expr::Identifier(id) => {
                        let alias = self
                            .aliases
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(&id.value));
                        match (self.having(&id.value).as_slice(), alias) {
                            // An output's alias, read as it is.
                            ([], true) => return,
                            ([i], false) => Some((*i, &id.value, id.span, id.span)),
                            _ => None,
                        }
                    }
                    Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                        [t, c] => self
                            .qualified(&t.value, &c.value)
                            .map(|i| (i, &c.value, t.span, c.span)),
                        _ => None,
                    },
                    _ => return,
                };
                let at = found.and_then(|(i, column, first, last)| {
                    let start = parsed.offset(first.start)?;
                    let end = parsed.offset(last.end)?;
                    let column = self.items[i].table.column(column)?.1.name.clone();
                    Some(Ref {
                        range: start..end,
                        item: i,
                        column,
                    })
                });
                match at {
                    Some(r) => refs.push(r),
                    None => ok = false,
                }
            }),
        );
        ok.then_some(())
    }
}

/// The statement with its FROM and WHERE as a subquery of the columns `refs` read, and
/// each reference written as that column's name there; with each name and the statement's
/// text for it.
fn rewrite(
    parsed: &Parsed,
    params: &[Value],
    items: &[Item<'_>],
    mut refs: Vec<Ref>,
) -> Option<(super::splice::Spliced, Vec<(String, String)>)> {
    let shape = select_shape(parsed)?;
    let from = shape.from.filter(|_| !shape.unusual)?;
    let end = shape.where_.as_ref().map_or(from.end, |w| w.end);
    refs.sort_by_key(|r| r.range.start);
    let mut columns: Vec<(usize, &str)> = Vec::new();
    let mut named: Vec<usize> = Vec::with_capacity(refs.len());
    let mut renamed = Vec::new();
    for r in &refs {
        let n = match columns
            .iter()
            .position(|(i, c)| *i == r.item && c.eq_ignore_ascii_case(&r.column))
        {
            Some(n) => n,
            None => {
                columns.push((r.item, &r.column));
                renamed.push((
                    format!("d1p_{}", columns.len() - 1),
                    parsed.sql.get(r.range.clone())?.to_string(),
                ));
                columns.len() - 1
            }
        };
        named.push(n);
    }
    let list = if columns.is_empty() {
        "NULL AS d1p_none".to_string()
    } else {
        columns
            .iter()
            .enumerate()
            .map(|(n, (i, c))| {
                format!(
                    "{}.{} AS d1p_{n}",
                    quote_ident(&items[*i].refer),
                    quote_ident(c)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut placed = false;
    for (r, n) in refs.iter().zip(&named) {
        // Each reference outside FROM and WHERE, after the previous one (spans as
        // sqlparser reports them; anything else is not rewritten).
        let outside = r.range.end <= from.start || r.range.start >= end;
        if !outside || r.range.start < at || r.range.start >= r.range.end {
            return None;
        }
        if !placed && r.range.start >= end {
            pieces.extend(from_pieces(at, &from, end, &list));
            at = end;
            placed = true;
        }
        pieces.push(Piece::Source(at..r.range.start));
        pieces.push(Piece::Owned(format!("d1p_{n}")));
        at = r.range.end;
    }
    if !placed {
        pieces.extend(from_pieces(at, &from, end, &list));
        at = end;
    }
    pieces.push(Piece::Source(at..parsed.sql.len()));
    let spliced = splice(parsed, &pieces, &Params::new(params)).ok()?;
    Some((spliced, renamed))
}

/// The text from `at` to FROM, then FROM and WHERE as a subquery selecting `list`.
fn from_pieces<'p>(at: usize, from: &Range<usize>, end: usize, list: &str) -> [Piece<'p>; 4] {
    [
        Piece::Source(at..from.start),
        Piece::Owned(format!("FROM (SELECT {list} ")),
        Piece::Source(from.start..end),
        Piece::Text(") AS d1p_rows "),
    ]
}
