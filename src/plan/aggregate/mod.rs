//! Rule `aggregate_split`: a SELECT with aggregates or GROUP BY that fans out becomes, on
//! each shard, a query of group keys and partial aggregates (AVG split into SUM and COUNT;
//! the argument of DISTINCT aggregates added to the grouping so each shard sends its
//! distinct values); HAVING, the projection, ORDER BY and LIMIT run after the merge.
//!
//! ```sql
//! SELECT kind, round(avg(amount), 2) AS a FROM events GROUP BY kind HAVING count(*) > 2 ORDER BY a DESC
//! -- each shard:
//! SELECT kind AS "__d1p_g1", sum(amount) AS "__d1p_a1", count(amount) AS "__d1p_a2",
//!        count(*) AS "__d1p_a3" FROM events GROUP BY kind
//! ```

mod bare;
mod builder;
mod final_query;
mod partial;
mod shard_query;

use super::fanout::refuse;
use super::names::{declared_type_of, ordinal, ordinal_out_of_range, Scope};
use super::select_shape::SelectShape;
use super::splice::Spliced;
use super::terms::column_name;
use super::Context;
use crate::analyze::Analysis;
use crate::error::Result;
use crate::lex::TokenKind;
use crate::merge::{AggregateMerge, Direct, FinalStep, PostExpr};
use crate::parse::Parsed;
use crate::plan::params::Params;
use builder::Builder;
use final_query::{FinalQuery, OrderBy};
use shard_query::shard_query;
use sqlparser::ast::{Expr, GroupByExpr, Query, Select, SelectItem};
use std::ops::Range;

/// A planned aggregate fan-out: shard SQL, the merge, and the output column names.
pub(crate) struct PlannedAggregate {
    pub shard_sql: Spliced,
    pub merge: AggregateMerge,
    pub columns: Vec<String>,
}

/// Whether every group of this aggregate SELECT lives whole on one shard: its GROUP BY
/// holds the shard key of a sharded table of the FROM (a plain column, an ordinal or an
/// output alias naming it), that table is not on the NULL-filled side of an outer join,
/// and the fan-out already required every sharded table read to be joined on its key.
/// Then each shard's answer is final for its groups (bare columns, DISTINCT aggregates
/// and HAVING included) and the merge only concatenates, orders and pages, like a plain
/// SELECT's.
pub(crate) fn groups_live_on_one_shard(parsed: &Parsed, select: &Select, cx: Context<'_>) -> bool {
    let GroupByExpr::Expressions(keys, modifiers) = &select.group_by else {
        return false;
    };
    if keys.is_empty() || !modifiers.is_empty() {
        return false;
    }
    let scope = super::names::Scope::of(select, cx.catalog);
    let item_expr = |i: usize| match select.projection.get(i) {
        Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => Some(e),
        _ => None,
    };
    keys.iter().any(|k| {
        let e = if let Some(n) = super::names::ordinal(parsed, k) {
            match usize::try_from(n - 1).ok().and_then(item_expr) {
                Some(e) => e,
                None => return false,
            }
        } else {
            k
        };
        // An output alias names its expression unless a FROM column has that name.
        let e = match e {
            Expr::Identifier(id) if scope.column(e).is_none() => select
                .projection
                .iter()
                .find_map(|i| match i {
                    SelectItem::ExprWithAlias { expr, alias }
                        if alias.value.eq_ignore_ascii_case(&id.value) =>
                    {
                        Some(expr)
                    }
                    _ => None,
                })
                .unwrap_or(e),
            _ => e,
        };
        let Some((table, column)) = scope.table_column(e) else {
            return false;
        };
        cx.policy
            .sharded_table(&table.name)
            .is_some_and(|t| t.key_column.eq_ignore_ascii_case(&column.name))
            && !outer_joined(select, &table.name)
    })
}

/// Whether rows of `table` may be NULL-filled by an outer join of the FROM: it is the
/// right side of a LEFT join, or any side of a RIGHT or FULL join. Conservative: any
/// outer join counts unless `table` is the first FROM item and the joins are LEFT only.
fn outer_joined(select: &Select, table: &str) -> bool {
    use sqlparser::ast::JoinOperator as J;
    let inner = |op: &J| {
        matches!(
            op,
            J::Join(_) | J::Inner(_) | J::CrossJoin(_) | J::StraightJoin(_)
        )
    };
    let left = |op: &J| matches!(op, J::Left(_) | J::LeftOuter(_));
    let joins: Vec<&sqlparser::ast::Join> = select.from.iter().flat_map(|t| &t.joins).collect();
    if joins.iter().all(|j| inner(&j.join_operator)) {
        return false;
    }
    let first_is_table = match select.from.first().map(|t| &t.relation) {
        Some(sqlparser::ast::TableFactor::Table { name, .. }) => {
            crate::sql::object_name(name).eq_ignore_ascii_case(table)
        }
        _ => false,
    };
    let mentions = std::iter::once(select.from.first().map(|t| &t.relation))
        .flatten()
        .chain(joins.iter().map(|j| &j.relation))
        .filter(|f| matches!(f, sqlparser::ast::TableFactor::Table { name, .. } if crate::sql::object_name(name).eq_ignore_ascii_case(table)))
        .count();
    !(select.from.len() == 1
        && first_is_table
        && mentions == 1
        && joins
            .iter()
            .all(|j| inner(&j.join_operator) || left(&j.join_operator)))
}

/// Plans an aggregate SELECT that fans out.
pub(crate) fn plan_aggregate(
    parsed: &Parsed,
    q: &Query,
    select: &Select,
    shape: &SelectShape,
    params: &Params<'_>,
    a: &Analysis,
    cx: Context<'_>,
) -> Result<PlannedAggregate> {
    let distinct = match &select.distinct {
        None | Some(sqlparser::ast::Distinct::All) => false,
        Some(sqlparser::ast::Distinct::Distinct) => true,
        Some(_) => return Err(refuse("SELECT DISTINCT ON", a)),
    };
    let scope = Scope::of(select, cx.catalog);
    let outputs = Outputs::of(parsed, select, shape, &scope, a)?;
    let groups = Groups::resolve(parsed, select, shape, &outputs, &scope, a)?;
    let mut b = Builder::new(parsed, a, &scope, params, groups.exprs.clone());
    let output = outputs
        .exprs
        .iter()
        .map(|e| b.post(e))
        .collect::<Result<Vec<_>>>()?;
    let having = select
        .having
        .as_ref()
        .map(|h| b.post(&outputs.resolve_aliases(h, &scope)))
        .transpose()?;
    // ORDER BY terms: an output ordinal (kept as one), or an expression over groups.
    let terms = super::terms::order_terms(q, a)?;
    let mut order = Vec::new();
    for (t, term) in terms.iter().enumerate() {
        let inner = match &term.expr {
            Expr::Collate { expr, .. } => expr.as_ref(),
            e => e,
        };
        // In an expression, a name that is no FROM column may name an output (`ORDER BY
        // m IS NULL` after `max(x) AS m`), as in HAVING.
        let by = match outputs.item_named(parsed, &scope, inner, Clause::OrderBy, t)? {
            Some(i) => OrderBy::Output(i),
            None => OrderBy::Expr(b.post(&outputs.resolve_aliases(inner, &scope))?),
        };
        order.push((by, term));
    }
    // DISTINCT runs in the coordinator over the final rows, as SQLite runs it after
    // grouping. Ordering by something not in the output would pick one of the rows a
    // duplicate stands for, in an order the shards decide.
    let is_output = |(by, _): &(OrderBy, _)| match by {
        OrderBy::Output(_) => true,
        OrderBy::Expr(e) => output.contains(e),
    };
    if distinct && !order.iter().all(is_output) {
        return Err(refuse(
            "SELECT DISTINCT with aggregates ordered by a term that is not an output column",
            a,
        ));
    }
    b.finish_bare_columns()?;
    let (limit, offset) = super::terms::limit_offset(parsed, q.limit_clause.as_ref(), params, a)?;
    let aggs = std::mem::take(&mut b.aggs);
    let finals = FinalQuery {
        distinct,
        output: &output,
        groups: groups.exprs.len(),
        having: having.as_ref(),
        order: &order,
        limit,
        offset,
    };
    let (final_sql, final_params) = finals.render(&aggs);
    let shard = shard_query(parsed, select, shape, distinct, &groups, &mut b)?;
    let direct = (finals.is_bare() && !shard.grouped && b.checks.is_empty())
        .then(|| direct_outputs(&output, &b.direct, &shard.columns))
        .flatten();
    Ok(PlannedAggregate {
        shard_sql: shard.sql,
        merge: AggregateMerge {
            step: FinalStep {
                columns: shard.columns,
                sql: final_sql,
                params: final_params,
                ambiguity_checks: b.checks,
            },
            direct,
        },
        columns: outputs.names,
    })
}

/// The direct combination of each output item, over the partial row's columns, when every
/// item is a bare aggregate that has one.
fn direct_outputs(
    output: &[PostExpr],
    direct: &[Option<Direct>],
    columns: &[String],
) -> Option<Vec<Direct>> {
    let position = |i: usize| {
        let name = builder::partial_column(i);
        columns.iter().position(|c| *c == name)
    };
    output
        .iter()
        .map(|e| match e {
            PostExpr::Agg(i) => match direct.get(*i)?.as_ref()? {
                Direct::Count(c) => Some(Direct::Count(position(*c)?)),
                Direct::Sum(kind, args) => {
                    let args = args.iter().map(|&c| position(c)).collect::<Option<_>>()?;
                    Some(Direct::Sum(*kind, args))
                }
            },
            _ => None,
        })
        .collect()
}

/// The clause a term is read in: an alias names an output item in ORDER BY even where a
/// column of that name exists, in GROUP BY only where none does (SQLite's rule).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clause {
    GroupBy,
    OrderBy,
}

impl Clause {
    fn name(self) -> &'static str {
        match self {
            Clause::GroupBy => "GROUP BY",
            Clause::OrderBy => "ORDER BY",
        }
    }
}

/// The output items of the SELECT: their expressions, source ranges, aliases and names.
struct Outputs<'q> {
    exprs: Vec<&'q Expr>,
    ranges: Vec<Range<usize>>,
    aliases: Vec<Option<String>>,
    names: Vec<String>,
}

impl<'q> Outputs<'q> {
    /// `e` with each plain name that is no column of the FROM items but an output's alias
    /// replaced by that output's expression: how SQLite resolves a name in HAVING and
    /// inside an ORDER BY expression (a column first, else a result alias; `HAVING c > 1`
    /// after `count(*) AS c`). A name some FROM item may have stays a column (SQLite would
    /// read it as one, or call it ambiguous).
    fn resolve_aliases(&self, e: &Expr, scope: &Scope<'_>) -> Expr {
        crate::sql::replace_names(e, &|id| {
            let alias = self.aliases.iter().position(|a| {
                a.as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(&id.value))
            });
            alias
                .filter(|_| !scope.may_name_a_column(&id.value))
                .map(|i| self.exprs[i].clone())
        })
    }

    fn of(
        parsed: &Parsed,
        select: &'q Select,
        shape: &SelectShape,
        scope: &Scope<'_>,
        a: &Analysis,
    ) -> Result<Outputs<'q>> {
        let mut out = Outputs {
            exprs: Vec::new(),
            ranges: shape.items.clone(),
            aliases: Vec::new(),
            names: Vec::new(),
        };
        for (item, range) in select.projection.iter().zip(&shape.items) {
            let (expr, alias) = match item {
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
                _ => return Err(refuse("`*` in an aggregate query", a)),
            };
            out.exprs.push(expr);
            out.aliases.push(alias);
            out.names.push(column_name(parsed, item, range, scope));
        }
        Ok(out)
    }

    /// The output item a GROUP BY or ORDER BY term names: an ordinal, or an alias (see
    /// [`Clause`]).
    fn item_named(
        &self,
        parsed: &Parsed,
        scope: &Scope<'_>,
        e: &Expr,
        clause: Clause,
        t: usize,
    ) -> Result<Option<usize>> {
        if let Expr::Identifier(id) = e {
            if clause == Clause::GroupBy && scope.column(e).is_some() {
                return Ok(None);
            }
            return Ok(self.aliases.iter().position(|al| {
                al.as_deref()
                    .is_some_and(|al| al.eq_ignore_ascii_case(&id.value))
            }));
        }
        match ordinal(parsed, e) {
            Some(n) if n >= 1 && (n as usize) <= self.exprs.len() => Ok(Some(n as usize - 1)),
            Some(_) => Err(ordinal_out_of_range(clause.name(), t + 1, self.exprs.len())),
            None => Ok(None),
        }
    }
}

/// The GROUP BY terms, resolved to expressions (ordinals and aliases name output items),
/// with their source text and the partial table's declaration of each key column.
struct Groups {
    exprs: Vec<Expr>,
    texts: Vec<Range<usize>>,
    declarations: Vec<String>,
}

impl Groups {
    fn resolve(
        parsed: &Parsed,
        select: &Select,
        shape: &SelectShape,
        outputs: &Outputs<'_>,
        scope: &Scope<'_>,
        a: &Analysis,
    ) -> Result<Groups> {
        let terms: &[Expr] = match &select.group_by {
            GroupByExpr::Expressions(e, mods) if mods.is_empty() => e,
            GroupByExpr::Expressions(..) => return Err(refuse("GROUP BY modifiers", a)),
            GroupByExpr::All(_) => return Err(refuse("GROUP BY ALL", a)),
        };
        let ranges = shape
            .group_by
            .as_ref()
            .map(|g| split_terms(parsed, g, "BY"))
            .unwrap_or_default();
        if ranges.len() != terms.len() {
            return Err(super::fanout::parser_disagrees("GROUP BY"));
        }
        let mut groups = Groups {
            exprs: Vec::new(),
            texts: Vec::new(),
            declarations: Vec::new(),
        };
        for (t, (term, range)) in terms.iter().zip(&ranges).enumerate() {
            let (expr, text) = match outputs.item_named(parsed, scope, term, Clause::GroupBy, t)? {
                Some(i) => (
                    outputs.exprs[i].clone(),
                    super::select_shape::item_expr_range(
                        parsed,
                        &outputs.ranges[i],
                        outputs.aliases[i].is_some(),
                    ),
                ),
                None => (term.clone(), range.clone()),
            };
            // The coordinator groups under the key's collation; which spelling of a group
            // SQLite shows is checked when the rows are in (see `shard_query`).
            let collation = super::terms::expression_collation(&expr, scope, a)?;
            groups.declarations.push(format!(
                "\"__d1p_g{}\" {} COLLATE {}",
                groups.exprs.len() + 1,
                declared_type_of(scope.affinity(&expr)),
                collation.name()
            ));
            groups.exprs.push(expr);
            groups.texts.push(text);
        }
        Ok(groups)
    }
}

/// Splits a clause (`GROUP BY a, f(b, c)`) into its terms' ranges, after `keyword`.
fn split_terms(parsed: &Parsed, clause: &Range<usize>, keyword: &str) -> Vec<Range<usize>> {
    let sql = &parsed.sql;
    let toks: Vec<_> = parsed
        .tokens
        .iter()
        .filter(|t| t.start >= clause.start && t.end <= clause.end)
        .collect();
    let Some(kw) = toks.iter().position(|t| t.is_keyword(sql, keyword)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start: Option<usize> = None;
    let mut last_end = 0;
    for t in &toks[kw + 1..] {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            TokenKind::Comma if depth == 0 => {
                if let Some(s) = start.take() {
                    out.push(s..last_end);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(t.start);
        last_end = t.end;
    }
    if let Some(s) = start {
        out.push(s..last_end);
    }
    out
}
