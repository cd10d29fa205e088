//! One visitor type for every walk of the AST. sqlparser's traversal is generic over the
//! visitor, so each visitor type compiled another copy of it: seven of them were about
//! 320 KB of the Worker's module, and each copy a first request touches is compiled again
//! then. d1plus's walks implement [`Walk`] and go through [`walk`], whose one visitor
//! forwards to them through a `dyn`; expressions rewritten in place go through
//! [`walk_exprs_mut`].

use sqlparser::ast::{
    Expr, ObjectName, Query, Select, TableFactor, Visit, VisitMut, Visitor, VisitorMut,
};
use std::ops::ControlFlow;

/// What a walk does at the nodes it cares about; a `Break` stops the walk.
pub trait Walk {
    /// Before a query (the statement's own, a subquery, a CTE's body).
    fn pre_query(&mut self, _q: &Query) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// After a query.
    fn post_query(&mut self, _q: &Query) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Before a SELECT.
    fn pre_select(&mut self, _s: &Select) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// After a SELECT.
    fn post_select(&mut self, _s: &Select) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Before a table name read or written.
    fn pre_relation(&mut self, _r: &ObjectName) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Before a FROM item.
    fn pre_table_factor(&mut self, _f: &TableFactor) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Before an expression (and before the expressions inside it).
    fn pre_expr(&mut self, _e: &Expr) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// The one visitor: each hook forwards to the walk.
struct Forward<'w>(&'w mut dyn Walk);

impl Visitor for Forward<'_> {
    type Break = ();
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.0.pre_query(q)
    }
    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.0.post_query(q)
    }
    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        self.0.pre_select(s)
    }
    fn post_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        self.0.post_select(s)
    }
    fn pre_visit_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
        self.0.pre_relation(r)
    }
    fn pre_visit_table_factor(&mut self, f: &TableFactor) -> ControlFlow<()> {
        self.0.pre_table_factor(f)
    }
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        self.0.pre_expr(e)
    }
}

/// Walks `node` (a statement, a query, a query body, an expression) with `w`.
pub fn walk<T: Visit + ?Sized>(node: &T, w: &mut dyn Walk) -> ControlFlow<()> {
    node.visit(&mut Forward(w))
}

/// The one rewriting visitor: `f` sees each expression after those inside it.
struct ForwardMut<'f>(&'f mut dyn FnMut(&mut Expr) -> ControlFlow<()>);

impl VisitorMut for ForwardMut<'_> {
    type Break = ();
    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        (self.0)(e)
    }
}

/// Calls `f` on each expression of `node`, inner ones first; it may rewrite them.
pub fn walk_exprs_mut<T: VisitMut + ?Sized>(
    node: &mut T,
    f: &mut dyn FnMut(&mut Expr) -> ControlFlow<()>,
) -> ControlFlow<()> {
    node.visit(&mut ForwardMut(f))
}

/// Whether the statement calls a window function outside its subqueries.
pub fn calls_window(q: &Query) -> bool {
    let mut found = false;
    let _ = walk(
        q,
        &mut TopLevel::of_query(&mut |e: &Expr| {
            found |= matches!(e, Expr::Function(f) if f.over.is_some());
        }),
    );
    found
}

/// Calls `f` on each expression outside nested queries.
pub struct TopLevel<'f> {
    f: &'f mut dyn FnMut(&Expr),
    /// Queries entered.
    depth: usize,
    /// The depth of the expressions wanted.
    wanted: usize,
}

impl<'f> TopLevel<'f> {
    /// For a walk of a query: its own expressions.
    pub fn of_query(f: &'f mut dyn FnMut(&Expr)) -> Self {
        TopLevel {
            f,
            depth: 0,
            wanted: 1,
        }
    }

    /// For a walk of an expression: those outside its subqueries.
    pub fn of_expr(f: &'f mut dyn FnMut(&Expr)) -> Self {
        TopLevel {
            f,
            depth: 0,
            wanted: 0,
        }
    }
}

impl Walk for TopLevel<'_> {
    fn pre_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }
    fn post_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
    fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth == self.wanted {
            (self.f)(e);
        }
        ControlFlow::Continue(())
    }
}
