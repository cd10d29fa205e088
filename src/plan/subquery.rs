//! Two phases where one database has one (issue 10): an uncorrelated scalar subquery over
//! sharded tables (`x / (SELECT count(*) FROM t)`, `WHERE a = (SELECT max(a) FROM t)`)
//! cannot run inside each shard's query, since each shard would see only its own rows.
//! Its value does not depend on the outer row, so d1plus computes it first, as a query of
//! its own merged exactly across shards, and runs the statement with the value in its
//! place. The two phases are not one snapshot (neither are the shards of a fan-out).
//!
//! Scalar subqueries qualify with exactly one row and one column: an aggregate without
//! GROUP BY or LIMIT. Its value has no affinity and no collation in SQLite (an aggregate
//! is a function), so a literal in its place compares exactly as the subquery did.
//!
//! `x [NOT] IN (SELECT y …)` becomes `x [NOT] IN (v1, v2, …)` with the subquery's distinct
//! values, where the list compares as the subquery did: SQLite compares `x` with a
//! subquery's `y` under the affinity of both (`sqlite3CompareAffinity`) and a list's
//! literals under `x`'s alone, so the rewrite is taken only when those agree (see
//! [`in_list_is_exact`]); the same for collations. At most [`MAX_IN_VALUES`] values.
//! `[NOT] EXISTS (SELECT …)` becomes `EXISTS (SELECT 1)` or `EXISTS (SELECT 1 WHERE 0)`.

use super::names::Scope;
use super::splice::{splice, Piece};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lex::TokenKind;
use crate::merge::Collation;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::policy::{Policy, TableKind};
use crate::sql::walk::{walk, Walk};
use crate::sql::{object_name, strip_nested};
use crate::value::{Affinity, Value};
use sqlparser::ast::{Expr, GroupByExpr, ObjectName, Query, SelectItem, SetExpr};
use std::ops::{ControlFlow, Range};

/// Most distinct values an `IN (SELECT …)` computed first may give (the statement with
/// them inlined must stay within D1's statement size).
pub(crate) const MAX_IN_VALUES: usize = 1000;

/// What a subquery computed first stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubqueryKind {
    /// A scalar `( SELECT … )`: its one value.
    Scalar,
    /// A FROM item: its one row becomes a row of literals.
    Derived,
    /// The right side of `IN`: the list of its distinct values.
    InList,
    /// The operand of `EXISTS`: whether it has a row.
    Exists,
}

/// A subquery d1plus can compute before the statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScalarSubquery {
    /// The subquery's text (without its parentheses), parameters renumbered from `?1`.
    pub sql: String,
    /// The values it binds.
    pub params: Vec<Value>,
    /// The byte range of `( … )` in the statement.
    pub range: Range<usize>,
    /// What it stands for.
    pub kind: SubqueryKind,
}

/// The subqueries a SELECT may compute first, at any depth, with what each stands for.
struct Finder<'p, 'c> {
    parsed: &'p Parsed,
    catalog: &'c Catalog,
    /// The FROM items of the SELECTs enclosing the expression being visited.
    scopes: Vec<Scope<'c>>,
    found: Vec<(Range<usize>, SubqueryKind)>,
}
impl Finder<'_, '_> {
    fn add(&mut self, q: &sqlparser::ast::Query, kind: SubqueryKind) {
        if let Some(r) = parenthesized(self.parsed, q) {
            self.found.push((r, kind));
        }
    }
}
impl Walk for Finder<'_, '_> {
    fn pre_select(&mut self, s: &sqlparser::ast::Select) -> ControlFlow<()> {
        self.scopes.push(Scope::of(s, self.catalog));
        ControlFlow::Continue(())
    }
    fn post_select(&mut self, _: &sqlparser::ast::Select) -> ControlFlow<()> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }
    fn pre_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Subquery(q) => self.add(q, SubqueryKind::Scalar),
            Expr::Exists { subquery, .. } => self.add(subquery, SubqueryKind::Exists),
            Expr::InSubquery { expr, subquery, .. } => {
                let exact = self
                    .scopes
                    .last()
                    .is_some_and(|outer| in_list_is_exact(outer, expr, subquery, self.catalog));
                if exact {
                    self.add(subquery, SubqueryKind::InList);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
    fn pre_table_factor(&mut self, f: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
        if let sqlparser::ast::TableFactor::Derived {
            lateral: false,
            subquery,
            ..
        } = f
        {
            self.add(subquery, SubqueryKind::Derived);
        }
        ControlFlow::Continue(())
    }
}

/// The uncorrelated subqueries over sharded tables of a SELECT that can be computed first
/// (one-row scalars and FROM items, IN lists, EXISTS), not nested in one another, in text
/// order.
pub(crate) fn scalar_subqueries(
    parsed: &Parsed,
    params: &[Value],
    policy: &Policy,
    catalog: &Catalog,
) -> Vec<ScalarSubquery> {
    let params = &Params::new(params);
    let Ok(sqlparser::ast::Statement::Query(q)) = &parsed.ast else {
        return Vec::new();
    };
    let mut finder = Finder {
        parsed,
        catalog,
        scopes: Vec::new(),
        found: Vec::new(),
    };
    let _ = walk(q, &mut finder);
    let mut found = finder.found;
    found.sort_by_key(|(r, _)| r.start);
    // Outermost first: a subquery inside one computed first goes with it; one inside a
    // subquery that cannot be (correlated) may still be.
    let mut taken: Vec<Range<usize>> = Vec::new();
    found
        .into_iter()
        .filter_map(|(outer, kind)| {
            if taken
                .iter()
                .any(|t| t.start <= outer.start && outer.end <= t.end)
            {
                return None;
            }
            let inner = outer.start + 1..outer.end - 1;
            let text = &parsed.sql[inner.clone()];
            let sub = Parsed::new(text).ok()?;
            qualifies(&sub, kind, policy, catalog).then_some(())?;
            let mut s = splice(parsed, &[Piece::Source(inner)], params).ok()?;
            let unlimited = matches!(&sub.ast, Ok(sqlparser::ast::Statement::Query(q)) if q.limit_clause.is_none());
            if kind == SubqueryKind::Exists && unlimited {
                // Whether it has a row: one is enough.
                s.sql.push_str(" LIMIT 1");
            }
            taken.push(outer.clone());
            Some(ScalarSubquery {
                sql: s.sql,
                params: s.params,
                range: outer,
                kind,
            })
        })
        .collect()
}

/// Whether `lhs IN (SELECT y …)` compares as `lhs IN (<y's values as literals>)` does.
/// SQLite compares with the subquery under `sqlite3CompareAffinity(y, lhs)` and with a
/// list under `lhs`'s affinity alone; collation: an explicit COLLATE on `y` wins over
/// `lhs`'s column collation, and `y`'s column collation counts when `lhs` has none.
fn in_list_is_exact(
    outer: &Scope<'_>,
    lhs: &Expr,
    subquery: &sqlparser::ast::Query,
    catalog: &Catalog,
) -> bool {
    let SetExpr::Select(sel) = subquery.body.as_ref() else {
        return false;
    };
    let inner = Scope::of(sel, catalog);
    let y = match sel.projection.as_slice() {
        [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] => Some(e.clone()),
        // `SELECT *` of one table with one column.
        [SelectItem::Wildcard(_)] => match sel.from.as_slice() {
            [sqlparser::ast::TableWithJoins {
                relation: sqlparser::ast::TableFactor::Table { name, .. },
                joins,
            }] if joins.is_empty() => catalog
                .get(&object_name(name))
                .filter(|t| t.columns.len() == 1)
                .map(|t| Expr::Identifier(sqlparser::ast::Ident::new(t.columns[0].name.clone()))),
            _ => None,
        },
        _ => None,
    };
    let Some(y) = y else {
        return false;
    };
    let numeric = |a: Option<Affinity>| {
        matches!(
            a,
            Some(Affinity::Integer | Affinity::Real | Affinity::Numeric)
        )
    };
    let (lhs_affinity, y_affinity) = (outer.affinity(lhs), inner.affinity(&y));
    // A literal on the left without affinity: `y`'s affinity changes it only when it is
    // text meeting a numeric `y` (or a number meeting a TEXT `y`).
    let literal = match lhs {
        Expr::Value(v) => Some(&v.value),
        _ => None,
    };
    let affinity_agrees = match lhs_affinity {
        Some(Affinity::Integer | Affinity::Real | Affinity::Numeric) => true,
        Some(Affinity::Text | Affinity::Blob) => !numeric(y_affinity),
        None => match (literal, y_affinity) {
            (_, None | Some(Affinity::Blob)) => true,
            (Some(sqlparser::ast::Value::Null), _) => true,
            (Some(sqlparser::ast::Value::Number(..)), a) => numeric(a),
            (Some(sqlparser::ast::Value::SingleQuotedString(_)), a) => a == Some(Affinity::Text),
            _ => false,
        },
    };
    let explicit = |e: &Expr| matches!(strip_nested(e), Expr::Collate { .. });
    let lhs_has_collation = explicit(lhs) || outer.column(lhs).is_some();
    let collation_agrees =
        !explicit(&y) && (lhs_has_collation || inner.declared_collation(&y) == Collation::Binary);
    affinity_agrees && collation_agrees
}

/// A computed subquery: its range, what it stands for, its rows and column names.
pub(crate) struct Computed {
    /// The byte range of `( … )` in the statement.
    pub range: Range<usize>,
    /// What it stands for.
    pub kind: SubqueryKind,
    /// Its result's column names.
    pub columns: crate::value::Columns,
    /// Its rows (at most one for a scalar or FROM item; one for EXISTS when it has any).
    pub rows: Vec<Vec<Value>>,
}

impl Computed {
    /// Checks what the statement can hold: one row for a scalar, at most
    /// [`MAX_IN_VALUES`] distinct values for an IN list.
    pub(crate) fn check(&mut self) -> Result<()> {
        if self.kind == SubqueryKind::InList {
            let mut seen = Vec::new();
            for row in self.rows.drain(..) {
                let v = row.into_iter().next().unwrap_or(Value::Null);
                if !seen.contains(&v) {
                    seen.push(v);
                }
                if seen.len() > MAX_IN_VALUES {
                    return Err(Error::unsupported(
                        format!("an IN subquery over sharded tables gives more than {MAX_IN_VALUES} distinct values, which d1plus computes first and writes into the statement"),
                        "join the tables on the shard key instead, or pin the query to one shard with the key",
                    ));
                }
            }
            self.rows = seen.into_iter().map(|v| vec![v]).collect();
        }
        Ok(())
    }
}

/// The statement with each subquery replaced by its value (a scalar) or by a SELECT of
/// literals under the same column names (a FROM item), parameters renumbered.
pub(crate) fn substitute(
    parsed: &Parsed,
    params: &[Value],
    subs: &[Computed],
) -> Result<super::splice::Spliced> {
    let params = &Params::new(params);
    let mut pieces = Vec::with_capacity(subs.len() * 2 + 1);
    let mut cursor = 0;
    for c in subs {
        pieces.push(Piece::Source(cursor..c.range.start));
        let row = c.rows.first();
        let text = match c.kind {
            SubqueryKind::Derived => {
                let items: Vec<String> = c
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let v = row.and_then(|r| r.get(i)).unwrap_or(&Value::Null);
                        format!("{} AS {}", v.sql_literal(), crate::lex::quote_ident(name))
                    })
                    .collect();
                // No row: the same columns, no rows.
                let filter = if row.is_some() { "" } else { " WHERE 0" };
                format!("(SELECT {}{filter})", items.join(", "))
            }
            SubqueryKind::Scalar => {
                let v = row.and_then(|r| r.first()).unwrap_or(&Value::Null);
                format!("({})", v.sql_literal())
            }
            SubqueryKind::InList => {
                let values: Vec<String> = c
                    .rows
                    .iter()
                    .map(|r| r.first().unwrap_or(&Value::Null).sql_literal())
                    .collect();
                format!("({})", values.join(", "))
            }
            SubqueryKind::Exists if row.is_some() => "(SELECT 1)".to_string(),
            SubqueryKind::Exists => "(SELECT 1 WHERE 0)".to_string(),
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
    let scope = super::names::Scope::of(sel, catalog).with_ctes(q.with.as_ref(), catalog);
    sel.projection
        .iter()
        .zip(&shape.items)
        .map(|(item, range)| match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => None,
            _ => Some(super::terms::column_name(parsed, item, range, &scope)),
        })
        .collect()
}

/// How many columns a subquery may give: a scalar's one, a FROM subquery's any number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Columns {
    One,
    Any,
}

/// At most one row of values without affinity or collation (one value for a scalar): an
/// aggregate without GROUP BY, or columns of such a subquery read alone (`SELECT c FROM
/// (SELECT count(*) AS c …)`). A bare column, CAST or COLLATE as a value would carry an
/// affinity or collation that a literal in its place would not.
fn one_plain_row(q: &sqlparser::ast::Query, columns: Columns) -> bool {
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
        || (columns == Columns::One && exprs.len() != 1)
        || !ungrouped
        || q.limit_clause.is_some()
        || q.with.is_some()
    {
        return false;
    }
    let aggregate = super::terms::is_aggregate(sel, q);
    exprs.iter().all(|expr| {
        match strip_nested(expr) {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                // A column of the only FROM item, a subquery giving one plain row.
                let [sqlparser::ast::TableWithJoins {
                    relation: sqlparser::ast::TableFactor::Derived { subquery, .. },
                    joins,
                }] = sel.from.as_slice()
                else {
                    return false;
                };
                !aggregate && joins.is_empty() && one_plain_row(subquery, Columns::Any)
            }
            Expr::Cast { .. } | Expr::Collate { .. } => false,
            _ => aggregate,
        }
    })
}

/// The `( … )` around a subquery's SELECT, as a byte range.
pub(super) fn parenthesized(parsed: &Parsed, q: &sqlparser::ast::Query) -> Option<Range<usize>> {
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

/// Every table and alias a subquery names, at any depth, and their columns. Each name is
/// visible in the query that declares it and the queries nested in it (and a FROM
/// subquery's in the query it is a FROM item of): a table of a subquery in an expression
/// does not name a column of the query around it.
struct Names<'c> {
    catalog: &'c Catalog,
    policy: &'c Policy,
    /// The queries being walked, innermost last, by number.
    path: Vec<usize>,
    queries: usize,
    /// (FROM subquery, the query it is a FROM item of), and whether the next query entered
    /// is a FROM subquery.
    derived: Vec<(usize, usize)>,
    next_derived: bool,
    /// (query, name) of each FROM item's alias (or table name) and each column.
    qualifiers: Vec<(usize, String)>,
    columns: Vec<(usize, String)>,
    sharded: bool,
    /// Each column reference, with its qualifier and the queries it sits in.
    refs: Vec<(Option<String>, String, Vec<usize>)>,
}
impl Names<'_> {
    fn here(&self) -> usize {
        self.path.last().copied().unwrap_or(0)
    }
}
impl Walk for Names<'_> {
    fn pre_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.queries += 1;
        if std::mem::take(&mut self.next_derived) {
            self.derived.push((self.queries, self.here()));
        }
        self.path.push(self.queries);
        ControlFlow::Continue(())
    }
    fn post_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.path.pop();
        ControlFlow::Continue(())
    }
    fn pre_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let name = object_name(relation);
        self.sharded |= self.policy.table_kind(&name) == TableKind::Sharded;
        if let Some(t) = self.catalog.get(&name) {
            let here = self.here();
            self.columns.extend(
                t.columns
                    .iter()
                    .map(|c| (here, c.name.to_ascii_lowercase())),
            );
        }
        ControlFlow::Continue(())
    }
    fn pre_table_factor(&mut self, f: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
        use sqlparser::ast::TableFactor as F;
        // A FROM item is named by its alias, or by its table's name without one.
        self.next_derived = matches!(f, F::Derived { .. });
        let name = match f {
            F::Table { alias: Some(a), .. } | F::Derived { alias: Some(a), .. } => {
                a.name.value.to_ascii_lowercase()
            }
            F::Table {
                name, alias: None, ..
            } => object_name(name).to_ascii_lowercase(),
            _ => return ControlFlow::Continue(()),
        };
        let here = self.here();
        self.qualifiers.push((here, name));
        ControlFlow::Continue(())
    }
    fn pre_select(&mut self, s: &sqlparser::ast::Select) -> ControlFlow<()> {
        let here = self.here();
        for i in &s.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = i {
                self.columns.push((here, alias.value.to_ascii_lowercase()));
            }
        }
        ControlFlow::Continue(())
    }
    fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        let (qualifier, column) = match e {
            Expr::Identifier(id) => (None, id.value.to_ascii_lowercase()),
            Expr::CompoundIdentifier(p) if p.len() >= 2 => (
                Some(p[p.len() - 2].value.to_ascii_lowercase()),
                p[p.len() - 1].value.to_ascii_lowercase(),
            ),
            _ => return ControlFlow::Continue(()),
        };
        self.refs.push((qualifier, column, self.path.clone()));
        ControlFlow::Continue(())
    }
}

/// Reads a sharded table, names nothing outside itself, and gives what its place needs
/// (one plain row for a scalar or FROM item).
fn qualifies(sub: &Parsed, kind: SubqueryKind, policy: &Policy, catalog: &Catalog) -> bool {
    let Ok(sqlparser::ast::Statement::Query(q)) = &sub.ast else {
        return false;
    };
    let shape = match kind {
        SubqueryKind::Scalar => one_plain_row(q, Columns::One),
        SubqueryKind::Derived => one_plain_row(q, Columns::Any),
        SubqueryKind::InList | SubqueryKind::Exists => true,
    };
    if !shape {
        return false;
    }
    let mut names = Names {
        catalog,
        policy,
        path: Vec::new(),
        queries: 0,
        derived: Vec::new(),
        next_derived: false,
        qualifiers: Vec::new(),
        columns: Vec::new(),
        sharded: false,
        refs: Vec::new(),
    };
    let _ = walk(q, &mut names);
    // A name the subquery's own tables do not have where it is written may be the outer
    // query's: correlated.
    let in_scope = |mut query: usize, path: &[usize]| loop {
        if path.contains(&query) {
            return true;
        }
        match names.derived.iter().find(|(d, _)| *d == query) {
            Some((_, parent)) => query = *parent,
            None => return false,
        }
    };
    let visible = |declared: &[(usize, String)], name: &str, path: &[usize]| {
        declared
            .iter()
            .any(|(query, n)| n == name && in_scope(*query, path))
    };
    names.sharded
        && names
            .refs
            .iter()
            .all(|(qualifier, column, path)| match qualifier {
                Some(q) => visible(&names.qualifiers, q, path),
                None => visible(&names.columns, column, path),
            })
}
