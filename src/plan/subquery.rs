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

use super::splice::{splice, Piece};
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
        found: Vec<Range<usize>>,
    }
    impl Visitor for Finder<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Subquery(q) = expr {
                if let Some(r) = parenthesized(self.parsed, q) {
                    if !self
                        .found
                        .iter()
                        .any(|f| f.start <= r.start && r.end <= f.end)
                    {
                        self.found.push(r);
                    }
                }
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
    found.sort_by_key(|r| r.start);
    found
        .into_iter()
        .filter_map(|outer| {
            let inner = outer.start + 1..outer.end - 1;
            let text = &parsed.sql[inner.clone()];
            let sub = Parsed::new(text).ok()?;
            qualifies(&sub, policy, catalog).then_some(())?;
            let s = splice(parsed, &[Piece::Source(inner)], params);
            Some(ScalarSubquery {
                sql: s.sql,
                params: s.params,
                range: outer,
            })
        })
        .collect()
}

/// The statement with each subquery replaced by its value, parameters renumbered.
pub(crate) fn substitute(
    parsed: &Parsed,
    params: &[Value],
    subs: &[(Range<usize>, Value)],
) -> super::splice::Spliced {
    let mut pieces = Vec::with_capacity(subs.len() * 2 + 1);
    let mut cursor = 0;
    for (range, value) in subs {
        pieces.push(Piece::Source(cursor..range.start));
        pieces.push(Piece::Owned(format!("({})", literal(value))));
        cursor = range.end;
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

/// An SQL literal that reads back as exactly `v` (reals in round-trip form).
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_finite() => {
            let s = format!("{r:?}");
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Real(r) if *r > 0.0 => "9e999".into(),
        Value::Real(_) => "-9e999".into(),
        Value::Text(t) if !t.contains('\0') => format!("'{}'", t.replace('\'', "''")),
        Value::Text(t) => {
            let hex: String = t.bytes().map(|b| format!("{b:02X}")).collect();
            format!("CAST(X'{hex}' AS TEXT)")
        }
        Value::Blob(b) => {
            let hex: String = b.iter().map(|b| format!("{b:02X}")).collect();
            format!("X'{hex}'")
        }
    }
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
    let mut depth = 0;
    for t in &toks[open..] {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(toks[open].start..t.end);
                }
            }
            _ => {}
        }
    }
    None
}

/// One row, one column, reads a sharded table, and names nothing outside itself.
fn qualifies(sub: &Parsed, policy: &Policy, catalog: &Catalog) -> bool {
    let Ok(sqlparser::ast::Statement::Query(q)) = &sub.ast else {
        return false;
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return false;
    };
    let one_item = matches!(
        sel.projection.as_slice(),
        [SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }]
    );
    let ungrouped =
        matches!(&sel.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty());
    if !one_item
        || !ungrouped
        || q.limit_clause.is_some()
        || q.with.is_some()
        || !super::aggregate::is_aggregate(sel, q)
    {
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
            self.qualifiers.push(name.to_ascii_lowercase());
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, f: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
            use sqlparser::ast::TableFactor as F;
            if let F::Table { alias: Some(a), .. } | F::Derived { alias: Some(a), .. } = f {
                self.qualifiers.push(a.name.value.to_ascii_lowercase());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_read_back_exactly() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        for v in [
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Integer(42),
            Value::Real(0.1 + 0.2),
            Value::Real(-1e300),
            Value::Real(3.0),
            Value::Real(f64::INFINITY),
            Value::Text("it's".into()),
            Value::Text("a\0b".into()),
            Value::Blob(vec![0, 255]),
        ] {
            let got: Value = c
                .query_row(&format!("SELECT ({})", literal(&v)), [], |r| {
                    Ok(Value::from(r.get_ref(0)?))
                })
                .unwrap();
            assert_eq!(got, v, "{}", literal(&v));
        }
    }
}
