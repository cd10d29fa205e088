//! A FROM subquery over sharded tables under an outer query that reads nothing else
//! (`SELECT count(*) FROM (SELECT DISTINCT kind FROM events)`, `SELECT avg(n) FROM (SELECT
//! count(*) AS n FROM events GROUP BY tenantId)`, a `WITH` whose body is such a read).
//! No shard can run the outer query: each would see only its own rows of the subquery.
//!
//! So the subquery runs first, as a read of its own merged exactly across shards, and the
//! outer query runs on the coordinator (the merge's in-memory SQLite) over its rows. They
//! go into a table whose columns carry what the subquery's columns mean to SQLite: the
//! affinity and collation of each result expression (`sqlite3ExprAffinity`,
//! `sqlite3ExprCollSeq`), so the outer WHERE, ORDER BY, GROUP BY, joins of values and
//! functions read them exactly as one database reads the subquery. Inserting a value into
//! a column of the affinity it was read under changes nothing (SQLite applied that affinity
//! when the value was stored, or the expression made it of that type).
//!
//! Taken only where that is provable: one FROM item and no join; a subquery that is one
//! SELECT (no compound, whose column affinities SQLite leaves to the planner), without
//! LIMIT/OFFSET (which rows it keeps among ties is one database's choice), whose columns are
//! named once each and are column references, CASTs, COLLATE, unary `+` or expressions
//! without affinity and without an explicit COLLATE inside; an outer query that names no
//! table and no connection-state function. Anything else keeps the planner's refusal. At
//! most [`MAX_ROWS`] rows are read.

use super::derived_outer::order_checks;
pub(crate) use super::derived_outer::Origin;
use super::names::{declared_type_of, Scope};
use super::splice::{splice, Piece, Spliced};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::merge::connection_function;
use crate::merge::coordinator::{FinalStep, PARTIALS};
use crate::merge::Collation;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::policy::{Policy, TableKind};
use crate::sql::object_name;
use crate::sql::walk::{walk, Walk};
use crate::value::{Affinity, Value};
use sqlparser::ast::{
    CastKind, Expr, ObjectName, Query, Select, SelectItem, SetExpr, Statement, TableFactor,
    TableWithJoins, UnaryOperator,
};
use std::ops::ControlFlow;

/// Most rows a FROM subquery read first may give (they are held in memory and copied into
/// the coordinator).
pub(crate) const MAX_ROWS: usize = 100_000;

/// A read whose only FROM item is a subquery over sharded tables.
#[derive(Debug)]
pub(crate) struct DerivedRead {
    /// The subquery, run first, with at most [`MAX_ROWS`] + 1 rows asked for.
    pub inner: Spliced,
    /// The outer query, its FROM item now [`PARTIALS`], and its parameters.
    outer: Spliced,
    /// What each of the subquery's columns means to SQLite, in order.
    types: Vec<ColumnType>,
    /// What the subquery stands for in the statement, as refusals name it.
    pub origin: Origin,
    /// The statement's column names, where the outer query's text is not the statement's
    /// (`join_rows` rewrites its column references).
    pub names: Option<Vec<String>>,
    /// The outer query's names for columns the statement wrote otherwise, with the
    /// statement's text for each (`d1p_0` for `u.name`), for refusals to name.
    pub renamed: Vec<(String, String)>,
}

/// A subquery column's affinity and collation.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ColumnType {
    affinity: Option<Affinity>,
    collation: Collation,
}

impl DerivedRead {
    /// A refusal as the statement writes its names (see [`DerivedRead::renamed`]).
    pub(crate) fn in_statement_names(&self, e: Error) -> Error {
        if self.renamed.is_empty() {
            return e;
        }
        // Longest first: `d1p_10` before `d1p_1`.
        let mut order: Vec<&(String, String)> = self.renamed.iter().collect();
        order.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        let rename = |text: String| {
            order
                .iter()
                .fold(text, |t, (from, to)| t.replace(from.as_str(), to))
        };
        e.reworded(rename, |remedy| remedy.map(rename))
    }

    /// The outer query, over [`PARTIALS`].
    pub(crate) fn outer_sql(&self) -> &str {
        &self.outer.sql
    }

    /// The coordinator's step over the subquery's rows, whose result columns are `names`.
    /// Refused when the subquery gives more rows than [`MAX_ROWS`], or names two columns
    /// alike (SQLite would rename one `name:1`).
    pub(crate) fn step(&self, names: &[String], rows: usize) -> Result<FinalStep> {
        if rows > MAX_ROWS {
            return Err(match self.origin {
                Origin::Subquery => Error::unsupported(
                    format!("a FROM subquery across shards gives more than {MAX_ROWS} rows, which d1plus reads first and gives the outer query on the coordinator"),
                    "aggregate or filter inside the subquery, or pin one shard with the key",
                ),
                Origin::Windows => Error::unsupported(
                    format!("window functions across shards over more than {MAX_ROWS} rows, which d1plus reads first and computes the windows over on the coordinator"),
                    "filter the rows in WHERE, partition the window by the shard key, or pin one shard with the key",
                ),
            });
        }
        if names.len() != self.types.len() {
            return Err(Error::internal(format!(
                "a FROM subquery answered {} columns where {} were planned",
                names.len(),
                self.types.len()
            )));
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].iter().any(|m| m.eq_ignore_ascii_case(n)) {
                return Err(Error::unsupported(
                    format!("a FROM subquery across shards with two columns named {n}"),
                    "give its columns distinct names with AS",
                ));
            }
        }
        let columns = names
            .iter()
            .zip(&self.types)
            .map(|(name, t)| {
                format!(
                    "{} {} COLLATE {}",
                    crate::lex::quote_ident(name),
                    declared_type_of(t.affinity),
                    t.collation.name()
                )
            })
            .collect();
        Ok(FinalStep {
            columns,
            sql: self.outer.sql.clone(),
            params: self.outer.params.clone(),
            ambiguity_checks: order_checks(
                &self.outer.sql,
                &self.outer.params,
                names,
                self.origin,
            )?,
        })
    }
}

/// The read split into its FROM subquery and the outer query over it, when it has that
/// shape (see the module's documentation); None otherwise.
pub(crate) fn split(
    parsed: &Parsed,
    params: &[Value],
    policy: &Policy,
    catalog: &Catalog,
) -> Option<DerivedRead> {
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let SetExpr::Select(outer) = q.body.as_ref() else {
        return None;
    };
    let [TableWithJoins {
        relation:
            TableFactor::Derived {
                lateral: false,
                subquery,
                alias,
                sample: None,
            },
        joins,
    }] = outer.from.as_slice()
    else {
        return None;
    };
    if q.with.is_some()
        || !joins.is_empty()
        || alias.as_ref().is_some_and(|a| !a.columns.is_empty())
    {
        return None;
    }
    let types = column_types(subquery, policy, catalog)?;
    let range = super::subquery::parenthesized(parsed, subquery)?;
    let params = &Params::new(params);
    // The subquery as written, ORDER BY included: one database may or may not evaluate
    // it (its planner decides), so an error there is refused, never answered around.
    let body = range.start + 1..range.end - 1;
    let pieces = [Piece::Source(body)];
    let mut inner = splice(parsed, &pieces, params).ok()?;
    inner.sql.push_str(&format!(" LIMIT {}", MAX_ROWS + 1));
    let pieces = [
        Piece::Source(0..range.start),
        Piece::Text(PARTIALS),
        Piece::Source(range.end..parsed.sql.len()),
    ];
    let outer_sql = splice(parsed, &pieces, params).ok()?;
    reads_only_partials(&outer_sql.sql).then_some(DerivedRead {
        inner,
        outer: outer_sql,
        types,
        origin: Origin::Subquery,
        names: None,
        renamed: Vec::new(),
    })
}

/// Each column of the subquery's result, when every one is known (see the module's
/// documentation); None when the subquery reads no sharded table.
fn column_types(q: &Query, policy: &Policy, catalog: &Catalog) -> Option<Vec<ColumnType>> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    if q.with.is_some()
        || q.limit_clause.is_some()
        || !reads_sharded(q, policy)
        || picks_a_row(select)
    {
        return None;
    }
    let scope = Scope::of(select, catalog);
    let mut types = Vec::with_capacity(select.projection.len());
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                types.push(expression_type(e, &scope)?)
            }
            SelectItem::Wildcard(_) => types.extend(star_types(select, None, catalog)?),
            SelectItem::QualifiedWildcard(kind, _) => {
                let sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                    return None;
                };
                types.extend(star_types(select, Some(name), catalog)?)
            }
            _ => return None,
        }
    }
    Some(types)
}

/// The columns `*` (or `t.*`) gives over the FROM items of `select`: those of its one
/// table (or of the table `t` names) as declared, hidden ones left out.
fn star_types(
    select: &Select,
    qualifier: Option<&ObjectName>,
    catalog: &Catalog,
) -> Option<Vec<ColumnType>> {
    let factors: Vec<&TableFactor> = select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
        .collect();
    let table = match (qualifier, factors.as_slice()) {
        (None, [TableFactor::Table { name, .. }]) => catalog.get(&object_name(name))?,
        (Some(q), _) => {
            let wanted = object_name(q);
            let name = factors.iter().find_map(|f| match f {
                TableFactor::Table { name, alias, .. } => {
                    let refer = alias
                        .as_ref()
                        .map_or_else(|| object_name(name), |a| a.name.value.clone());
                    refer
                        .eq_ignore_ascii_case(&wanted)
                        .then(|| object_name(name))
                }
                _ => None,
            })?;
            catalog.get(&name)?
        }
        _ => return None,
    };
    table
        .star_columns()
        .map(|c| {
            Some(ColumnType {
                affinity: Some(column_affinity(c)?),
                collation: column_collation(c)?,
            })
        })
        .collect()
}

/// A column's affinity, unless its declared type is `ANY` (a STRICT table's, which
/// converts nothing: refused rather than guessed).
fn column_affinity(c: &crate::catalog::Column) -> Option<Affinity> {
    (!c.declared_type.trim().eq_ignore_ascii_case("ANY")).then_some(c.affinity)
}

fn column_collation(c: &crate::catalog::Column) -> Option<Collation> {
    match c.collation.as_deref() {
        None => Some(Collation::Binary),
        Some(name) => Collation::from_name(name),
    }
}

/// What a result expression means to SQLite as a subquery's column. A column reference
/// has its column's affinity and collation; COLLATE sets the collation and keeps its
/// operand's affinity; CAST sets the affinity and passes the collation through; unary `+`
/// drops the affinity and passes the collation through; other expressions have neither,
/// unless an explicit COLLATE inside would give them one (refused). None where SQLite's
/// answer is not certain here (an unresolved name, a subquery, `likely()` and its kin).
fn expression_type(e: &Expr, scope: &Scope<'_>) -> Option<ColumnType> {
    match e {
        Expr::Nested(inner) => expression_type(inner, scope),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
            let c = scope.column(e)?;
            Some(ColumnType {
                affinity: Some(column_affinity(c)?),
                collation: column_collation(c)?,
            })
        }
        Expr::Collate { expr, collation } => Some(ColumnType {
            affinity: expression_type(expr, scope)?.affinity,
            collation: Collation::from_name(&object_name(collation))?,
        }),
        Expr::Cast {
            kind: CastKind::Cast,
            expr,
            data_type,
            format: None,
        } => Some(ColumnType {
            affinity: Some(Affinity::from_declared_type(&data_type.to_string())),
            collation: expression_type(expr, scope)?.collation,
        }),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => Some(ColumnType {
            affinity: None,
            collation: expression_type(expr, scope)?.collation,
        }),
        Expr::Subquery(_) => None,
        other => (!crate::sql::carries_own_type(other)).then_some(ColumnType {
            affinity: None,
            collation: Collation::Binary,
        }),
    }
}

/// Whether an aggregate query shows a column beside min() or max() that is neither grouped
/// nor aggregated: SQLite takes it from the row holding the extreme, and among tied rows
/// which one depends on the plan it runs the subquery with, which inside the statement may
/// not be the plan of the subquery alone.
fn picks_a_row(sel: &Select) -> bool {
    struct MinMax(bool);
    impl Walk for MinMax {
        fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            // The aggregates (max(a, b) is a scalar function).
            if let Expr::Function(f) = e {
                let name = object_name(&f.name);
                self.0 |= super::derived_bare::aggregate(f)
                    && (name.eq_ignore_ascii_case("min") || name.eq_ignore_ascii_case("max"));
            }
            ControlFlow::Continue(())
        }
    }
    let mut minmax = MinMax(false);
    for item in &sel.projection {
        let _ = walk(item, &mut minmax);
    }
    if !minmax.0 {
        return false;
    }
    let keys: &[Expr] = match &sel.group_by {
        sqlparser::ast::GroupByExpr::Expressions(keys, _) => keys,
        _ => return true,
    };
    sel.projection.iter().any(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            super::derived_bare::bare(e, keys).is_some()
        }
        _ => true,
    })
}

/// Whether a query reads a sharded table anywhere.
fn reads_sharded(q: &Query, policy: &Policy) -> bool {
    struct Finder<'p>(&'p Policy, bool);
    impl Walk for Finder<'_> {
        fn pre_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
            if self.0.table_kind(&object_name(r)) == TableKind::Sharded {
                self.1 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder(policy, false);
    let _ = walk(q, &mut f);
    f.1
}

/// Whether the outer query, its subquery replaced, names no table but the partial table
/// and calls nothing that reads the connection (the coordinator's is not a shard's).
fn reads_only_partials(sql: &str) -> bool {
    let Ok(parsed) = Parsed::new(sql) else {
        return false;
    };
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return false;
    };
    struct Finder(bool);
    impl Walk for Finder {
        fn pre_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
            self.0 |= !object_name(r).eq_ignore_ascii_case(PARTIALS) || r.0.len() != 1;
            ControlFlow::Continue(())
        }
        fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e {
                self.0 |= connection_function(&object_name(&f.name).to_ascii_lowercase());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder(false);
    let _ = walk(q.as_ref(), &mut f);
    !f.0
}
