//! Columns neither grouped nor aggregated in an outer query over rows read first (see
//! `derived_outer`): which ones it reads, so that each is checked to hold one value per
//! group (one database takes it from a row its order decides).

use crate::sql::is_aggregate;
use crate::sql::walk::{walk, Walk};
use crate::sql::{column_name, object_name, strip_nested};
use sqlparser::ast::{Expr, Function, FunctionArguments, OrderByKind, Query, Select, SelectItem};
use std::ops::ControlFlow;

/// Whether a call is one of SQLite's aggregates.
pub(super) fn aggregate(f: &Function) -> bool {
    let args = match &f.args {
        FunctionArguments::List(l) => l.args.len(),
        _ => 0,
    };
    f.over.is_none() && is_aggregate(&object_name(&f.name), args)
}

/// A column read outside every aggregate and every group key, in the outputs, HAVING or
/// ORDER BY (an ORDER BY output alias or ordinal is its output's).
pub(super) fn bare_columns(
    q: &Query,
    sel: &Select,
    keys: &[Expr],
    names: &[String],
) -> Option<Vec<Expr>> {
    let mut exprs: Vec<&Expr> = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => exprs.push(e),
            _ => return None,
        }
    }
    exprs.extend(sel.having.iter());
    let aliases = crate::sql::output_aliases(sel);
    if let Some(OrderByKind::Expressions(terms)) = q.order_by.as_ref().map(|o| &o.kind) {
        for t in terms {
            let e = strip_nested(&t.expr);
            let output = match e {
                Expr::Value(_) => true,
                Expr::Identifier(id) => aliases.iter().any(|a| a.eq_ignore_ascii_case(&id.value)),
                _ => false,
            };
            if !output {
                exprs.push(&t.expr);
            }
        }
    }
    // A name that is an output's alias and no column of the rows is that output (whose own
    // columns are checked there).
    let column = |n: &str| names.iter().any(|c| c.eq_ignore_ascii_case(n));
    let alias = |n: &str| aliases.iter().any(|a| a.eq_ignore_ascii_case(n)) && !column(n);
    let mut found: Vec<Expr> = Vec::new();
    for e in exprs {
        for c in bare_refs(e, keys) {
            let skip = matches!(&c, Expr::Identifier(id) if alias(&id.value));
            if !skip && !found.contains(&c) {
                found.push(c);
            }
        }
    }
    Some(found)
}

/// The column references `e` reads outside the group keys and aggregates.
fn bare_refs(e: &Expr, keys: &[Expr]) -> Vec<Expr> {
    let e = without_groups(e, keys);
    let mut found = Vec::new();
    let _ = walk(&e, &mut ColumnFinder(&mut |c: &Expr| found.push(c.clone())));
    found
}

/// Finds column references (plain or qualified names).
pub(super) struct ColumnFinder<'f>(pub(super) &'f mut dyn FnMut(&Expr));

impl Walk for ColumnFinder<'_> {
    fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            (self.0)(e);
        }
        ControlFlow::Continue(())
    }
}

/// The first column `e` reads outside the group keys and aggregates.
pub(super) fn bare(e: &Expr, keys: &[Expr]) -> Option<String> {
    bare_refs(e, keys)
        .first()
        .and_then(column_name)
        .map(str::to_string)
}

/// `e` with its group keys and aggregate calls replaced by NULL (inner expressions first):
/// any column left is bare.
fn without_groups(e: &Expr, keys: &[Expr]) -> Expr {
    let mut e = e.clone();
    let _ = crate::sql::walk::walk_exprs_mut(&mut e, &mut |x| {
        let covered =
            keys.iter().any(|k| k == &*x) || matches!(&*x, Expr::Function(f) if aggregate(f));
        if covered {
            *x = Expr::value(sqlparser::ast::Value::Null);
        }
        ControlFlow::Continue(())
    });
    e
}
