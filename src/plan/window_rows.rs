//! A read of one sharded table whose window functions span shards (`SELECT name,
//! rank() OVER (ORDER BY score DESC) FROM players`, a running total over every tenant's
//! rows): no shard can compute a window over rows that other shards hold.
//!
//! So the table's rows that WHERE keeps are read first, and the rest of the statement runs
//! on the coordinator over them, as the same read over a FROM subquery would:
//! `SELECT … FROM (SELECT * FROM players WHERE …) AS players …` (see `derived_table`, whose
//! checks refuse what would depend on the order the rows are met). WHERE is evaluated
//! before any window, so it moves into the subquery unchanged; the subquery keeps the
//! table's name (or alias), so every reference reads the same column, with its affinity
//! and collation.
//!
//! Taken only for one table and no join, a statement whose names are the table's columns
//! or its outputs' aliases (not `rowid`, which the subquery does not give; not an alias in
//! WHERE, which the subquery cannot see), and no WINDOW clause or compound.

use super::derived_table::{self, DerivedRead, Origin};
use super::select_shape::select_shape;
use super::splice::{splice, Piece};
use crate::catalog::Catalog;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::policy::{Policy, TableKind};
use crate::sql::object_name;
use crate::sql::walk::{calls_window, walk, TopLevel};
use crate::value::Value;
use sqlparser::ast::{
    Expr, GroupByExpr, OrderByKind, Query, SelectItem, SetExpr, Statement, TableFactor,
    TableWithJoins,
};

/// A read the planner refuses that runs on the coordinator over rows read first: its one
/// FROM subquery's (`derived_table`), or its table's for its window functions (this
/// module's), or its joined tables' (`join_rows`); None when none applies.
pub(crate) fn rows_first(
    parsed: &Parsed,
    params: &[Value],
    policy: &Policy,
    catalog: &Catalog,
) -> Option<DerivedRead> {
    derived_table::split(parsed, params, policy, catalog)
        .or_else(|| split(parsed, params, policy, catalog))
        .or_else(|| super::join_rows::split(parsed, params, catalog, policy))
}

/// The read as its table's rows read first and the statement over them, when it has that
/// shape (see the module's documentation); None otherwise.
fn split(
    parsed: &Parsed,
    params: &[Value],
    policy: &Policy,
    catalog: &Catalog,
) -> Option<DerivedRead> {
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let [TableWithJoins {
        relation:
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            },
        joins,
    }] = sel.from.as_slice()
    else {
        return None;
    };
    let table = object_name(name);
    if q.with.is_some()
        || !joins.is_empty()
        || alias.as_ref().is_some_and(|a| !a.columns.is_empty())
        || policy.table_kind(&table) != TableKind::Sharded
        || !calls_window(q)
    {
        return None;
    }
    let columns: Vec<&str> = catalog
        .get(&table)?
        .star_columns()
        .map(|c| c.name.as_str())
        .collect();
    let refer = alias.as_ref().map_or(table, |a| a.name.value.clone());
    let aliases = crate::sql::output_aliases(sel);
    let outer = Names {
        columns: &columns,
        aliases: &aliases,
        refer: &refer,
    };
    let kept = Names {
        aliases: &[],
        ..outer
    };
    if !outer.read_by_query(q) || sel.selection.as_ref().is_some_and(|w| !kept.read_by(w)) {
        return None;
    }
    let shape = select_shape(parsed)?;
    let from = shape.from.filter(|_| !shape.unusual)?;
    let end = shape.where_.as_ref().map_or(from.end, |w| w.end);
    let pieces = [
        Piece::Source(0..from.start),
        Piece::Text("FROM (SELECT * "),
        Piece::Source(from.start..end),
        Piece::Text(") AS "),
        Piece::Owned(crate::lex::quote_ident(&refer)),
        Piece::Source(end..parsed.sql.len()),
    ];
    let rewritten = splice(parsed, &pieces, &Params::new(params)).ok()?;
    let reparsed = Parsed::new(&rewritten.sql).ok()?;
    let mut read = derived_table::split(&reparsed, &rewritten.params, policy, catalog)?;
    read.origin = Origin::Windows;
    Some(read)
}

/// The names a part of the statement may read once its table is a subquery's rows.
#[derive(Clone, Copy)]
struct Names<'a> {
    /// The table's columns (what `SELECT *` gives).
    columns: &'a [&'a str],
    /// The outputs' aliases.
    aliases: &'a [&'a str],
    /// The name the statement reads the table by.
    refer: &'a str,
}

impl Names<'_> {
    /// Whether every name the statement reads outside its WHERE and subqueries is one.
    fn read_by_query(&self, q: &Query) -> bool {
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return false;
        };
        let mut exprs: Vec<&Expr> = Vec::new();
        for item in &sel.projection {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    exprs.push(e)
                }
                SelectItem::Wildcard(_) => {}
                _ => return false,
            }
        }
        if let GroupByExpr::Expressions(terms, _) = &sel.group_by {
            exprs.extend(terms);
        }
        exprs.extend(sel.having.iter());
        if let Some(order) = &q.order_by {
            let OrderByKind::Expressions(terms) = &order.kind else {
                return false;
            };
            exprs.extend(terms.iter().map(|t| &t.expr));
        }
        exprs.into_iter().all(|e| self.read_by(e))
    }

    /// Whether every name `e` reads outside its subqueries is one.
    fn read_by(&self, e: &Expr) -> bool {
        let mut ok = true;
        let _ = walk(
            e,
            &mut TopLevel::of_expr(&mut |x: &Expr| {
                ok &= match x {
                    Expr::Identifier(id) => self.known(&id.value),
                    Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                        [t, c] => t.value.eq_ignore_ascii_case(self.refer) && self.column(&c.value),
                        _ => false,
                    },
                    _ => true,
                };
            }),
        );
        ok
    }

    fn column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    fn known(&self, name: &str) -> bool {
        self.column(name) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}
