//! Shared vocabulary over sqlparser's AST, below every stage: names, the shape of
//! conditions, aggregates, and literals read as SQLite reads them.

pub mod literal;
pub mod walk;

use sqlparser::ast::{
    BinaryOperator, Expr, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr,
};
use std::ops::ControlFlow;
use walk::{walk, Walk};

pub use literal::{parse_number_literal, KeyExpr};

/// The last part of a possibly qualified name (`main.t` -> `t`).
pub fn object_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(id)) => id.value.clone(),
        Some(ObjectNamePart::Function(f)) => f.name.value.clone(),
        None => String::new(),
    }
}

/// Whether a query body holds a query of its own (a subquery anywhere, a compound).
pub fn has_nested_query(body: &SetExpr) -> bool {
    holds_query(body) || !matches!(body, SetExpr::Select(_))
}

/// Whether SQLite gives `e`, as a result column of a subquery, an affinity or collation of
/// its own that a plain column reference or a plain expression would not have: CAST,
/// COLLATE or unary `+` at its head (`sqlite3ExprAffinity`, `sqlite3ExprCollSeq`), an
/// explicit COLLATE anywhere inside (SQLite passes it up through operators and function
/// arguments), or `likely()` and its kin (which it may see through).
pub fn carries_own_type(e: &Expr) -> bool {
    struct Finder(bool);
    impl Walk for Finder {
        fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            self.0 |= match e {
                Expr::Collate { .. } => true,
                Expr::Function(f) => matches!(
                    object_name(&f.name).to_ascii_lowercase().as_str(),
                    "likely" | "unlikely" | "likelihood"
                ),
                _ => false,
            };
            if self.0 {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let head = matches!(
        strip_nested(e),
        Expr::Cast { .. }
            | Expr::UnaryOp {
                op: sqlparser::ast::UnaryOperator::Plus,
                ..
            }
    );
    let mut f = Finder(false);
    let _ = walk(e, &mut f);
    head || f.0
}

/// The aliases of a SELECT's outputs (`AS name`), in order.
pub fn output_aliases(sel: &Select) -> Vec<&str> {
    sel.projection
        .iter()
        .filter_map(|i| match i {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether `node` (an expression, a query body) holds a query (a subquery anywhere inside).
pub fn holds_query<T: sqlparser::ast::Visit + ?Sized>(node: &T) -> bool {
    struct Finder;
    impl Walk for Finder {
        fn pre_query(&mut self, _q: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
    }
    walk(node, &mut Finder).is_break()
}

/// The column a plain or qualified column reference names (its last part), as SQLite
/// names an output that is one.
pub fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Identifier(id) => Some(&id.value),
        Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.as_str()),
        _ => None,
    }
}

/// Whether `e` calls a window function.
pub fn has_window(e: &Expr) -> bool {
    struct Finder(bool);
    impl Walk for Finder {
        fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            self.0 |= matches!(e, Expr::Function(f) if f.over.is_some());
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder(false);
    let _ = walk(e, &mut f);
    f.0
}

/// `e` without the parentheses around it.
pub fn strip_nested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

/// The conjuncts of `e` (`a AND (b AND c)` -> `a`, `b`, `c`).
pub fn split_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match strip_nested(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        other => out.push(other),
    }
}

/// The disjuncts of `e`.
pub fn split_or<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match strip_nested(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            split_or(left, out);
            split_or(right, out);
        }
        other => out.push(other),
    }
}

/// Aggregate functions of SQLite (with one argument for min/max).
pub fn is_aggregate(name: &str, argc: usize) -> bool {
    let n = name.to_ascii_lowercase();
    match n.as_str() {
        "min" | "max" => argc == 1,
        "count" | "sum" | "total" | "avg" | "group_concat" | "string_agg" | "json_group_array"
        | "json_group_object" | "jsonb_group_array" | "jsonb_group_object" | "median"
        | "percentile" | "percentile_cont" | "percentile_disc" => true,
        _ => false,
    }
}

/// Whether `e` holds an aggregate call of its own query (not one inside a subquery, nor a
/// window function).
pub fn has_aggregate(e: &Expr) -> bool {
    use sqlparser::ast::FunctionArguments;
    struct Finder(bool, usize);
    impl Walk for Finder {
        fn pre_query(&mut self, _q: &sqlparser::ast::Query) -> ControlFlow<()> {
            self.1 += 1;
            ControlFlow::Continue(())
        }
        fn post_query(&mut self, _q: &sqlparser::ast::Query) -> ControlFlow<()> {
            self.1 -= 1;
            ControlFlow::Continue(())
        }
        fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e {
                let argc = match &f.args {
                    FunctionArguments::List(l) => l.args.len(),
                    _ => 0,
                };
                if self.1 == 0 && f.over.is_none() && is_aggregate(&object_name(&f.name), argc) {
                    self.0 = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder(false, 0);
    let _ = walk(e, &mut f);
    f.0
}

/// `e` with each plain name (`x`, not `t.x`) for which `by` gives an expression replaced by
/// it, in parentheses: how an output's alias reads where SQLite resolves one.
pub fn replace_names(e: &Expr, by: &dyn Fn(&sqlparser::ast::Ident) -> Option<Expr>) -> Expr {
    let mut e = e.clone();
    let _ = walk::walk_exprs_mut(&mut e, &mut |x| {
        if let Expr::Identifier(id) = &*x {
            if let Some(replacement) = by(id) {
                *x = Expr::Nested(Box::new(replacement));
            }
        }
        ControlFlow::Continue(())
    });
    e
}
