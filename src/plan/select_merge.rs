//! Rules for a SELECT without aggregates that fans out to several shards:
//!
//! 1. `order_by_hidden_columns`: ORDER BY terms that are not output columns are added to
//!    each shard's projection as hidden columns (`, expr AS "__d1p_o1"`), stripped after
//!    the merge.
//! 2. `limit_pushdown`: `LIMIT n OFFSET m` (or `LIMIT m, n`) becomes `LIMIT n+m` on each
//!    shard; the merge skips `m` rows and stops after `n`.
//!
//! The shards' rows arrive sorted by the ORDER BY; the merge is a streaming k-way merge
//! with SQLite's ordering. DISTINCT is applied per shard and again after the merge.
//!
//! ```sql
//! SELECT id, title FROM docs ORDER BY updatedAt DESC LIMIT 10 OFFSET 20
//! -- each shard:
//! SELECT id, title, updatedAt AS "__d1p_o1" FROM docs ORDER BY updatedAt DESC LIMIT 30
//! ```

use super::fanout::refuse;
use super::names::Scope;
use super::select_shape::{select_shape, SelectShape};
use super::splice::{splice, Piece, Spliced};
use super::terms::{expression_collation, limit_offset, order_terms, shard_limit, split_collate};
use super::Context;
use crate::analyze::Analysis;
use crate::error::{Error, Result};
use crate::lex;
use crate::merge::{Collation, OrderColumn, OrderTerm, RowMerge};
use crate::parse::Parsed;
use crate::plan::params::Params;

use sqlparser::ast::{Expr, Query, SelectItem, SetExpr};

/// A fan-out plain SELECT: the shard SQL and the merge.
pub(crate) struct PlannedSelect {
    pub shard_sql: Spliced,
    pub merge: RowMerge,
}

/// Plans a multi-shard plain SELECT, or refuses it.
pub(crate) fn plan_select(
    parsed: &Parsed,
    q: &Query,
    params: &Params<'_>,
    a: &Analysis,
    cx: Context<'_>,
) -> Result<PlannedSelect> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return plan_compound(parsed, q, params, a, cx);
    };
    let Some(shape) = select_shape(parsed) else {
        return Err(refuse("this SELECT", a));
    };
    if shape.unusual {
        return Err(refuse("a WINDOW clause or compound SELECT", a));
    }
    let sql = &parsed.sql;
    let scope = Scope::of(select, cx.catalog);
    let distinct = !matches!(select.distinct, None | Some(sqlparser::ast::Distinct::All));
    if distinct {
        check_distinct_binary(select, a, cx)?;
    }
    if shape.items.len() != select.projection.len() {
        return Err(super::fanout::parser_disagrees("projection"));
    }
    let has_wildcard = select.projection.iter().any(|i| {
        matches!(
            i,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });

    let parts = SelectParts {
        parsed,
        select,
        shape: &shape,
        scope: &scope,
        a,
        distinct,
        has_wildcard,
    };
    let (order, hidden) = merge_order(&parts, q)?;

    let (limit, offset) = limit_offset(parsed, q.limit_clause.as_ref(), params, a)?;
    let columns = super::result_names::original_names(parsed, select, &shape, &scope);

    // Per-shard SQL: hidden columns after the projection, LIMIT n+m instead of the limit.
    // A hidden column is spliced from the source like the rest, so its parameters are
    // renumbered and bound too (`id % ?` copied as text took the first value).
    let mut pieces = vec![Piece::Source(0..shape.projection.end)];
    for (i, column) in hidden.iter().enumerate() {
        pieces.push(Piece::Text(", "));
        pieces.extend(column.iter().cloned());
        pieces.push(Piece::Owned(format!(" AS \"__d1p_o{}\"", i + 1)));
    }
    let shard_limit = shard_limit(limit, offset);
    match &shape.limit {
        Some(l) => {
            let before = sql[..l.start].trim_end().len().max(shape.projection.end);
            pieces.push(Piece::Source(shape.projection.end..before));
            if let Some(sl) = &shard_limit {
                pieces.push(Piece::Text(sl));
            }
            pieces.push(Piece::Source(l.end..sql.len()));
        }
        None => pieces.push(Piece::Source(shape.projection.end..sql.len())),
    }
    let merge = RowMerge {
        order,
        hidden: hidden.len(),
        distinct,
        offset,
        limit,
        width: (!has_wildcard).then_some(select.projection.len() + hidden.len()),
        columns,
    };
    Ok(PlannedSelect {
        shard_sql: splice(parsed, &pieces, params)?,
        merge,
    })
}

/// What planning one SELECT's merge looks at.
struct SelectParts<'s> {
    parsed: &'s Parsed,
    select: &'s sqlparser::ast::Select,
    shape: &'s super::select_shape::SelectShape,
    scope: &'s Scope<'s>,
    a: &'s Analysis,
    distinct: bool,
    has_wildcard: bool,
}

/// The merge's ORDER BY: each term an output column or a hidden column computed after the
/// projection (the hidden columns' text, as pieces of the source).
fn merge_order(
    p: &SelectParts<'_>,
    q: &Query,
) -> Result<(Vec<OrderTerm>, Vec<Vec<Piece<'static>>>)> {
    let terms = order_terms(q, p.a)?;
    let sql = &p.parsed.sql;
    let mut order = Vec::new();
    let mut hidden: Vec<Vec<Piece<'static>>> = Vec::new();
    if terms.len() != p.shape.order_terms.len() {
        return Err(super::fanout::parser_disagrees("ORDER BY"));
    }
    for (t, (term, range)) in terms.iter().zip(&p.shape.order_terms).enumerate() {
        let (expr, collation) = split_collate(&term.expr, p.a)?;
        let expr_text = expr_text_of_term(sql, range);
        if let Some(n) = super::names::ordinal(p.parsed, expr) {
            if !p.has_wildcard && (n < 1 || n as usize > p.select.projection.len()) {
                return Err(super::names::ordinal_out_of_range(
                    "ORDER BY",
                    t + 1,
                    p.select.projection.len(),
                ));
            }
        }
        let column = match output_column(
            p.parsed,
            p.select,
            p.shape,
            expr,
            &expr_text,
            p.has_wildcard,
        )? {
            Some(c) => OrderColumn::Output(c),
            None => {
                if p.distinct {
                    return Err(refuse(
                        "DISTINCT with ORDER BY on an expression that is not in the result",
                        p.a,
                    ));
                }
                hidden.push(hidden_column(
                    p,
                    range.start..range.start + expr_text.len(),
                )?);
                OrderColumn::Hidden(hidden.len() - 1)
            }
        };
        let collation = match collation {
            Some(c) => c,
            None => {
                // An output column sorts with its expression's collation.
                let resolved;
                let effective = match column {
                    OrderColumn::Output(i) if !p.has_wildcard => match p.select.projection.get(i) {
                        Some(SelectItem::UnnamedExpr(e))
                        | Some(SelectItem::ExprWithAlias { expr: e, .. }) => e,
                        _ => expr,
                    },
                    // A hidden column sorts as the expression it computes, aliases read.
                    OrderColumn::Hidden(_) => {
                        resolved = resolve_aliases(p, expr);
                        &resolved
                    }
                    _ => expr,
                };
                expression_collation(effective, p.scope, p.a)?
            }
        };
        let descending = matches!(term.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
        order.push(OrderTerm {
            column,
            descending,
            nulls_first: term.options.nulls_first,
            collation,
        });
    }
    Ok((order, hidden))
}

/// The output an alias names in an ORDER BY expression, as SQLite resolves a plain name
/// there: a FROM column first, else the alias of an output (`ORDER BY n IS NULL, n` after
/// `coalesce(a, b) AS n`). Refused when a FROM subquery, whose columns are not known
/// here, might have a column of that name.
fn aliased_output(p: &SelectParts<'_>, name: &str) -> Result<Option<usize>> {
    let Some(i) = p.select.projection.iter().position(|item| {
        matches!(item, SelectItem::ExprWithAlias { alias, .. } if alias.value.eq_ignore_ascii_case(name))
    }) else {
        return Ok(None);
    };
    match p.scope.has_column_named(name) {
        Some(false) => Ok(Some(i)),
        Some(true) => Ok(None),
        None => Err(refuse(
            "ORDER BY an expression over an output alias beside a FROM subquery",
            p.a,
        )),
    }
}

/// The ORDER BY term `expr` with each alias it names replaced by that output's expression.
fn resolve_aliases(p: &SelectParts<'_>, expr: &Expr) -> Expr {
    crate::sql::replace_names(expr, &|id| {
        let output = aliased_output(p, &id.value).ok().flatten();
        match output.and_then(|i| p.select.projection.get(i)) {
            Some(SelectItem::ExprWithAlias { expr, .. }) => Some(expr.clone()),
            _ => None,
        }
    })
}

/// A hidden column's text: the ORDER BY term (`term`, a range of the source), computed in
/// the projection, where output aliases are not visible: each plain name that is an
/// output's alias (see [`aliased_output`]) becomes that output's expression, in
/// parentheses, spliced from the source like the rest, so its parameters are bound too.
fn hidden_column(p: &SelectParts<'_>, term: std::ops::Range<usize>) -> Result<Vec<Piece<'static>>> {
    use crate::lex::TokenKind as K;
    let sql = &p.parsed.sql;
    let toks: Vec<&lex::Token> = p
        .parsed
        .tokens
        .iter()
        .filter(|t| t.start >= term.start && t.end <= term.end)
        .collect();
    let mut pieces = Vec::new();
    let mut at = term.start;
    for (k, t) in toks.iter().enumerate() {
        if !matches!(t.kind, K::Word | K::QuotedIdent) {
            continue;
        }
        // A qualified name, a qualifier, or a function's name is no alias.
        let dot = |t: Option<&&lex::Token>| t.is_some_and(|t| t.text(sql) == ".");
        let called = toks.get(k + 1).is_some_and(|n| n.kind == K::LParen);
        if dot(k.checked_sub(1).and_then(|j| toks.get(j))) || dot(toks.get(k + 1)) || called {
            continue;
        }
        let Some(name) = t.ident_name(sql) else {
            continue;
        };
        let Some(i) = aliased_output(p, &name)? else {
            continue;
        };
        let Some(item) = p.shape.items.get(i) else {
            return Err(super::fanout::parser_disagrees("the projection"));
        };
        pieces.push(Piece::Source(at..t.start));
        pieces.push(Piece::Text("("));
        pieces.push(Piece::Source(super::select_shape::item_expr_range(
            p.parsed, item, true,
        )));
        pieces.push(Piece::Text(")"));
        at = t.end;
    }
    pieces.push(Piece::Source(at..term.end));
    Ok(pieces)
}

/// The text of an ORDER BY term without its COLLATE / ASC / DESC / NULLS suffixes.
fn expr_text_of_term(sql: &str, range: &std::ops::Range<usize>) -> String {
    let text = &sql[range.clone()];
    let toks = lex::significant(text);
    let mut end = toks.len();
    // Strip trailing NULLS FIRST|LAST, ASC|DESC, COLLATE name (in that order from the end).
    if end >= 2 && toks[end - 2].is_keyword(text, "NULLS") {
        end -= 2;
    }
    if end >= 1 && (toks[end - 1].is_keyword(text, "ASC") || toks[end - 1].is_keyword(text, "DESC"))
    {
        end -= 1;
    }
    if end >= 2 && toks[end - 2].is_keyword(text, "COLLATE") {
        end -= 2;
    }
    match toks.get(end.wrapping_sub(1)) {
        Some(last) if end > 0 => text[..last.end].to_string(),
        _ => text.to_string(),
    }
}

/// Which output column an ORDER BY term names, as SQLite resolves it: an integer ordinal,
/// an output alias, or an expression identical to an output expression.
fn output_column(
    parsed: &Parsed,
    select: &sqlparser::ast::Select,
    shape: &SelectShape,
    expr: &Expr,
    expr_text: &str,
    has_wildcard: bool,
) -> Result<Option<usize>> {
    // Ordinal.
    if let Some(n) = super::names::ordinal(parsed, expr) {
        {
            if has_wildcard {
                // `*` expands on the shard; the shard checks the range.
                return Ok(Some((n.max(1) - 1) as usize));
            }
            if n >= 1 && n as usize <= select.projection.len() {
                return Ok(Some(n as usize - 1));
            }
            // Out of range: each shard reports SQLite's own error.
            return Ok(None);
        }
    }
    if has_wildcard {
        // Output positions are only known after `*` expands: sort on a hidden copy.
        return Ok(None);
    }
    // Alias.
    if let Expr::Identifier(id) = expr {
        for (i, item) in select.projection.iter().enumerate() {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                if alias.value.eq_ignore_ascii_case(&id.value) {
                    return Ok(Some(i));
                }
            }
        }
    }
    // Same expression text (ignoring case and spacing).
    let norm = |s: &str| -> String {
        lex::significant(s)
            .iter()
            .map(|t| t.text(s).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let want = norm(expr_text);
    for (i, item) in select.projection.iter().enumerate() {
        if let SelectItem::UnnamedExpr(_) = item {
            if norm(&parsed.sql[shape.items[i].clone()]) == want {
                return Ok(Some(i));
            }
        }
    }
    Ok(None)
}

/// DISTINCT over a column with a non-BINARY collation keeps one spelling of each group
/// (`'Apple'` or `'apple'`), whichever SQLite meets first: across shards that choice
/// cannot be reproduced, so it is refused.
fn check_distinct_binary(
    select: &sqlparser::ast::Select,
    a: &Analysis,
    cx: Context<'_>,
) -> Result<()> {
    let scope = Scope::of(select, cx.catalog);
    for item in &select.projection {
        let collation = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                expression_collation(e, &scope, a)?
            }
            // `*`: any column of the tables it expands to.
            _ => scope.any_declared_collation().unwrap_or(Collation::Binary),
        };
        if collation != Collation::Binary {
            return Err(Error::unsupported(
                format!("DISTINCT over a {} column across shards is not supported: which spelling of equal values SQLite keeps depends on row order", collation.name()),
                "add COLLATE BINARY to the column, use GROUP BY with min() or max(), or pin one shard with the key",
            ));
        }
    }
    Ok(())
}

/// The SELECTs of a `UNION [ALL]` compound, and whether it is UNION ALL; other compounds
/// are refused.
fn union_parts<'q>(
    q: &'q Query,
    a: &Analysis,
    cx: Context<'_>,
) -> Result<(Vec<&'q sqlparser::ast::Select>, bool)> {
    use sqlparser::ast::{SetOperator, SetQuantifier};
    let mut parts: Vec<&sqlparser::ast::Select> = Vec::new();
    let mut quantifiers = Vec::new();
    fn walk<'q>(
        e: &'q SetExpr,
        parts: &mut Vec<&'q sqlparser::ast::Select>,
        quantifiers: &mut Vec<(SetOperator, SetQuantifier)>,
    ) -> bool {
        match e {
            SetExpr::Select(s) => {
                parts.push(s);
                true
            }
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                quantifiers.push((*op, *set_quantifier));
                walk(left, parts, quantifiers) && walk(right, parts, quantifiers)
            }
            _ => false,
        }
    }
    if !walk(q.body.as_ref(), &mut parts, &mut quantifiers) {
        return Err(refuse(
            "a compound SELECT with parenthesized or VALUES parts",
            a,
        ));
    }
    if quantifiers.iter().any(|(op, _)| *op != SetOperator::Union) {
        return Err(refuse("INTERSECT or EXCEPT", a));
    }
    let all = |q: &SetQuantifier| matches!(q, SetQuantifier::All);
    let union_all = quantifiers.iter().all(|(_, q)| all(q));
    if !union_all && quantifiers.iter().any(|(_, q)| all(q)) {
        return Err(refuse("a compound SELECT mixing UNION and UNION ALL", a));
    }
    for p in &parts {
        if super::terms::is_aggregate(p, q) {
            return Err(refuse("aggregates inside a compound SELECT", a));
        }
        if union_all && !matches!(p.distinct, None | Some(sqlparser::ast::Distinct::All)) {
            return Err(refuse("SELECT DISTINCT inside UNION ALL", a));
        }
        if !union_all {
            check_distinct_binary(p, a, cx)?;
        }
    }
    Ok((parts, union_all))
}

/// The merge's ORDER BY of a compound: every term names an output column of the first part.
fn compound_order(
    parsed: &Parsed,
    q: &Query,
    first: &sqlparser::ast::Select,
    a: &Analysis,
    cx: Context<'_>,
) -> Result<Vec<OrderTerm>> {
    let mut order = Vec::new();
    for (i, t) in order_terms(q, a)?.iter().enumerate() {
        let (expr, explicit) = split_collate(&t.expr, a)?;
        let ordinal = super::names::ordinal(parsed, expr);
        let width = first.projection.len();
        let star = first.projection.iter().any(|item| {
            matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        });
        if let Some(n) = ordinal {
            if !star && (n < 1 || n as usize > width) {
                return Err(super::names::ordinal_out_of_range("ORDER BY", i + 1, width));
            }
        }
        let column = match expr {
            _ if ordinal.is_some() => ordinal.filter(|n| *n >= 1).map(|n| n as usize - 1),
            Expr::Identifier(id) => first.projection.iter().position(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => {
                    alias.value.eq_ignore_ascii_case(&id.value)
                }
                SelectItem::UnnamedExpr(Expr::Identifier(c)) => {
                    c.value.eq_ignore_ascii_case(&id.value)
                }
                SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => p
                    .last()
                    .is_some_and(|c| c.value.eq_ignore_ascii_case(&id.value)),
                _ => false,
            }),
            _ => None,
        };
        let Some(column) = column else {
            return Err(refuse(
                "ORDER BY of a compound SELECT on something other than an output column",
                a,
            ));
        };
        let collation = match explicit {
            Some(c) => c,
            None => match first.projection.get(column) {
                Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => {
                    expression_collation(e, &Scope::of(first, cx.catalog), a)?
                }
                _ => Collation::Binary,
            },
        };
        order.push(OrderTerm {
            column: OrderColumn::Output(column),
            descending: matches!(t.options.sort, Some(sqlparser::ast::OrderBySort::Desc)),
            nulls_first: t.options.nulls_first,
            collation,
        });
    }
    Ok(order)
}

/// Where a compound's trailing LIMIT starts: after the last compound operator, at depth 0.
fn trailing_limit(parsed: &Parsed) -> Option<usize> {
    let sql = &parsed.sql;
    let mut depth = 0;
    let mut last_op = 0;
    let mut limit_start = None;
    for (i, t) in parsed.tokens.iter().enumerate() {
        match t.kind {
            crate::lex::TokenKind::LParen => depth += 1,
            crate::lex::TokenKind::RParen => depth -= 1,
            _ if depth == 0
                && (t.is_keyword(sql, "UNION")
                    || t.is_keyword(sql, "INTERSECT")
                    || t.is_keyword(sql, "EXCEPT")) =>
            {
                last_op = i
            }
            _ if depth == 0 && i > last_op && last_op > 0 && t.is_keyword(sql, "LIMIT") => {
                limit_start = Some(t.start)
            }
            _ => {}
        }
    }
    limit_start
}

/// Rule `compound_merge`: `A UNION ALL B …` (or all-`UNION`) fans out as it is; each shard
/// answers the whole compound over its rows, the merge concatenates (UNION: dedupes) and
/// applies the final ORDER BY / LIMIT, whose terms name output columns. INTERSECT and
/// EXCEPT, mixed UNION / UNION ALL, and aggregates inside the parts are refused.
pub(crate) fn plan_compound(
    parsed: &Parsed,
    q: &Query,
    params: &Params<'_>,
    a: &Analysis,
    cx: Context<'_>,
) -> Result<PlannedSelect> {
    let (parts, union_all) = union_parts(q, a, cx)?;
    let order = compound_order(parsed, q, parts[0], a, cx)?;
    let (limit, offset) = limit_offset(parsed, q.limit_clause.as_ref(), params, a)?;
    let sql = &parsed.sql;
    let limit_start = trailing_limit(parsed);
    let shard_limit = shard_limit(limit, offset);
    let end = parsed
        .tokens
        .iter()
        .rev()
        .find(|t| t.kind != crate::lex::TokenKind::Semicolon)
        .map(|t| t.end)
        .unwrap_or(sql.len());
    let mut pieces = Vec::new();
    match limit_start {
        Some(l) => {
            pieces.push(Piece::Source(0..sql[..l].trim_end().len()));
            if let Some(sl) = &shard_limit {
                pieces.push(Piece::Text(sl));
            }
        }
        None => pieces.push(Piece::Source(0..end)),
    }
    // The names are the first part's, as in SQLite.
    let columns = select_shape(parsed).and_then(|shape| {
        super::result_names::original_names(
            parsed,
            parts[0],
            &shape,
            &Scope::of(parts[0], cx.catalog),
        )
    });
    let merge = RowMerge {
        order,
        hidden: 0,
        distinct: !union_all,
        offset,
        limit,
        width: None,
        columns,
    };
    Ok(PlannedSelect {
        shard_sql: splice(parsed, &pieces, params)?,
        merge,
    })
}
