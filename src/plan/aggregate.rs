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

use super::fanout::refuse;
use super::select_shape::SelectShape;
use super::splice::{splice, Piece, Spliced};
use super::Context;
use crate::analyze::{key_literal, object_name, Analysis, KeyExpr};
use crate::error::{Error, Result};
use crate::lex::TokenKind;
use crate::merge::{AggKind, AggSpec, AggregateMerge, BinOp, Collation, GroupOrder, PostExpr};
use crate::parse::Parsed;
use crate::value::{Affinity, Value};
use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, LimitClause, OrderByKind, Query, Select, SelectItem, UnaryOperator,
};
use std::ops::Range;

/// A planned aggregate fan-out: shard SQL, the merge, and the output column names.
pub(crate) struct PlannedAggregate {
    pub shard_sql: Spliced,
    pub merge: AggregateMerge,
    pub columns: Vec<String>,
}

/// Whether this SELECT needs the aggregate merge.
pub(crate) fn is_aggregate(select: &Select, q: &Query) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(e, _) => !e.is_empty(),
    };
    let mut exprs: Vec<&Expr> = Vec::new();
    for item in &select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            exprs.push(e);
        }
    }
    if let Some(h) = &select.having {
        exprs.push(h);
    }
    if let Some(ob) = &q.order_by {
        if let OrderByKind::Expressions(terms) = &ob.kind {
            exprs.extend(terms.iter().map(|t| &t.expr));
        }
    }
    grouped || select.having.is_some() || exprs.iter().any(|e| super::fanout::has_aggregate(e))
}

/// One partial column a shard computes.
struct Partial {
    /// Function name sent to the shard.
    func: &'static str,
    /// Argument source range (None: `*`).
    arg: Option<Range<usize>>,
    /// Extra literal text after the argument (`, ' | '` for group_concat).
    extra: String,
}

struct Builder<'a> {
    parsed: &'a Parsed,
    a: &'a Analysis,
    cx: Context<'a>,
    params: &'a [Value],
    group_exprs: Vec<Expr>,
    group_affinity: Vec<Option<Affinity>>,
    partials: Vec<Partial>,
    aggs: Vec<AggSpec>,
    agg_keys: Vec<String>,
    distinct_arg: Option<(String, Range<usize>)>,
}

fn norm(sql: &str) -> String {
    crate::lex::significant(sql)
        .iter()
        .map(|t| t.text(sql).to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

impl<'a> Builder<'a> {
    /// The source range of a function call's argument list (inside the parentheses).
    fn call_args(&self, f: &sqlparser::ast::Function) -> Option<Range<usize>> {
        let ident = match f.name.0.last()? {
            sqlparser::ast::ObjectNamePart::Identifier(id) => id,
            _ => return None,
        };
        let off = self.parsed.offset(ident.span.start)?;
        let toks = &self.parsed.tokens;
        let i = toks.binary_search_by_key(&off, |t| t.start).ok()?;
        let open = toks.get(i + 1).filter(|t| t.kind == TokenKind::LParen)?;
        let mut depth = 0;
        for t in &toks[i + 1..] {
            match t.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(open.end..t.start);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn add_partial(
        &mut self,
        func: &'static str,
        arg: Option<Range<usize>>,
        extra: String,
    ) -> usize {
        let text = |r: &Option<Range<usize>>| r.as_ref().map(|r| norm(&self.parsed.sql[r.clone()]));
        if let Some(i) = self
            .partials
            .iter()
            .position(|p| p.func == func && p.extra == extra && text(&p.arg) == text(&arg))
        {
            return i;
        }
        self.partials.push(Partial { func, arg, extra });
        self.partials.len() - 1
    }

    fn aggregate(&mut self, f: &sqlparser::ast::Function) -> Result<PostExpr> {
        let name = object_name(&f.name).to_ascii_lowercase();
        let FunctionArguments::List(list) = &f.args else {
            return Err(refuse(&format!("{name}() without arguments"), self.a));
        };
        if f.filter.is_some() || !f.within_group.is_empty() || !list.clauses.is_empty() {
            return Err(refuse(
                &format!("{name}() with FILTER or ORDER BY inside"),
                self.a,
            ));
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let Some(inner) = self.call_args(f) else {
            return Err(Error::internal(format!(
                "cannot find the arguments of {name}() in the text"
            )));
        };
        let sql = &self.parsed.sql;
        // The first argument's text: skip DISTINCT, stop at a top-level comma.
        let toks = crate::lex::significant(&sql[inner.clone()]);
        let base = inner.start;
        let inner_text = &sql[inner.clone()];
        let mut first = toks.iter().position(|_| true).unwrap_or(0);
        if toks
            .first()
            .is_some_and(|t| t.is_keyword(inner_text, "DISTINCT"))
        {
            first = 1;
        }
        let mut depth = 0;
        let mut comma = None;
        for (i, t) in toks.iter().enumerate().skip(first) {
            match t.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => depth -= 1,
                TokenKind::Comma if depth == 0 => {
                    comma = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let arg_range = match (
            toks.get(first),
            comma
                .map(|c| c.saturating_sub(1))
                .or(toks.len().checked_sub(1))
                .and_then(|l| toks.get(l)),
        ) {
            (Some(s), Some(e)) if e.end >= s.start => Some(base + s.start..base + e.end),
            _ => None,
        };
        let star = list.args.len() == 1
            && matches!(
                list.args[0],
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard)
            );
        let argc = list.args.len();
        let arg_expr = match list.args.first() {
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => Some(e),
            _ => None,
        };
        let (kind, funcs): (AggKind, Vec<&'static str>) = match (name.as_str(), argc) {
            ("count", 0) => (AggKind::Count, vec!["count"]),
            ("count", 1) => (AggKind::Count, vec!["count"]),
            ("sum", 1) => (AggKind::Sum, vec!["sum"]),
            ("total", 1) => (AggKind::Total, vec!["total"]),
            ("avg", 1) => (AggKind::Avg, vec!["sum", "count"]),
            ("min", 1) | ("max", 1) => {
                let c = match arg_expr {
                    Some(e) => super::select_merge::expression_collation(e, self.a, self.cx)?,
                    None => Collation::Binary,
                };
                if c != Collation::Binary {
                    // 'Cherry' and 'cherry' tie under NOCASE; which one SQLite returns
                    // depends on the order it meets them.
                    return Err(Error::unsupported(
                        format!("{name}() over a {} expression across shards is not supported: which of the equal spellings SQLite returns depends on row order", format!("{c:?}").to_uppercase()),
                        "add COLLATE BINARY to the argument, or pin one shard with the key",
                    ));
                }
                if name == "min" {
                    (AggKind::Min(c), vec!["min"])
                } else {
                    (AggKind::Max(c), vec!["max"])
                }
            }
            ("group_concat", 1 | 2) | ("string_agg", 2) => {
                let sep = match list.args.get(1) {
                    None => ",".to_string(),
                    Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => {
                        match key_literal(self.parsed, e) {
                            Some(KeyExpr::Literal(Value::Text(t))) => t,
                            Some(KeyExpr::Param(i)) => match self.params.get(i.wrapping_sub(1)) {
                                Some(Value::Text(t)) => t.clone(),
                                _ => {
                                    return Err(refuse(
                                        "group_concat() with a non-text separator",
                                        self.a,
                                    ))
                                }
                            },
                            _ => {
                                return Err(refuse(
                                    "group_concat() with a computed separator",
                                    self.a,
                                ))
                            }
                        }
                    }
                    _ => return Err(refuse("group_concat() with this separator", self.a)),
                };
                (AggKind::GroupConcat(sep), vec!["group_concat"])
            }
            _ => {
                return Err(refuse(
                    &format!("aggregate {name}() with {argc} argument(s)"),
                    self.a,
                ))
            }
        };
        let key = format!("{name}|{distinct}|{}", norm(&sql[inner.clone()]));
        if let Some(i) = self.agg_keys.iter().position(|k| *k == key) {
            return Ok(PostExpr::Agg(i));
        }
        let distinct = distinct && !matches!(kind, AggKind::Min(_) | AggKind::Max(_));
        let partials = if distinct {
            let Some(r) = arg_range.clone() else {
                return Err(refuse("DISTINCT aggregate without an argument", self.a));
            };
            let text = norm(&sql[r.clone()]);
            match &self.distinct_arg {
                Some((t, _)) if *t != text => {
                    return Err(refuse(
                        "DISTINCT aggregates over different expressions",
                        self.a,
                    ))
                }
                Some(_) => {}
                None => self.distinct_arg = Some((text, r)),
            }
            Vec::new()
        } else {
            let extra = match &kind {
                AggKind::GroupConcat(sep) => format!(", '{}'", sep.replace('\'', "''")),
                _ => String::new(),
            };
            funcs
                .into_iter()
                .map(|func| {
                    self.add_partial(
                        func,
                        if star { None } else { arg_range.clone() },
                        extra.clone(),
                    )
                })
                .collect()
        };
        self.aggs.push(AggSpec {
            kind,
            distinct,
            partials,
        });
        self.agg_keys.push(key);
        Ok(PostExpr::Agg(self.aggs.len() - 1))
    }

    /// Converts an expression over groups into a post-merge expression.
    fn post(&mut self, e: &Expr) -> Result<PostExpr> {
        if let Some(i) = self.group_exprs.iter().position(|g| g == e) {
            return Ok(PostExpr::GroupKey(i, self.group_affinity[i]));
        }
        let boxed = |b: &mut Self, x: &Expr| b.post(x).map(Box::new);
        Ok(match e {
            Expr::Nested(inner) => self.post(inner)?,
            Expr::Function(f)
                if f.over.is_none()
                    && super::fanout::is_aggregate(&object_name(&f.name), fn_argc(f)) =>
            {
                self.aggregate(f)?
            }
            Expr::Function(f) if f.over.is_none() => {
                let name = object_name(&f.name).to_ascii_lowercase();
                let FunctionArguments::List(list) = &f.args else {
                    return Err(refuse(&format!("{name}() over merged groups"), self.a));
                };
                if !crate::merge::supported_function(&name, list.args.len())
                    || list.duplicate_treatment.is_some()
                {
                    return Err(refuse(
                        &format!("function {name}() over merged groups"),
                        self.a,
                    ));
                }
                let mut args = Vec::new();
                for arg in &list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(self.post(x)?),
                        _ => return Err(refuse(&format!("{name}() arguments"), self.a)),
                    }
                }
                PostExpr::Func(name, args)
            }
            Expr::Value(_)
            | Expr::UnaryOp {
                op: UnaryOperator::Minus,
                ..
            } if key_literal(self.parsed, e).is_some() => match key_literal(self.parsed, e) {
                Some(KeyExpr::Literal(v)) => PostExpr::Literal(v),
                Some(KeyExpr::Param(i)) => PostExpr::Literal(
                    self.params
                        .get(i.wrapping_sub(1))
                        .cloned()
                        .unwrap_or(Value::Null),
                ),
                None => PostExpr::Literal(Value::Null),
            },
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Minus => PostExpr::Neg(boxed(self, expr)?),
                UnaryOperator::Plus => self.post(expr)?,
                UnaryOperator::Not => PostExpr::Not(boxed(self, expr)?),
                UnaryOperator::BitwiseNot => PostExpr::BitNot(boxed(self, expr)?),
                _ => return Err(refuse("this unary operator over merged groups", self.a)),
            },
            Expr::BinaryOp { left, op, right } => {
                let bop = match op {
                    BinaryOperator::Plus => BinOp::Add,
                    BinaryOperator::Minus => BinOp::Sub,
                    BinaryOperator::Multiply => BinOp::Mul,
                    BinaryOperator::Divide => BinOp::Div,
                    BinaryOperator::Modulo => BinOp::Rem,
                    BinaryOperator::StringConcat => BinOp::Concat,
                    BinaryOperator::Eq => BinOp::Eq,
                    BinaryOperator::NotEq => BinOp::Ne,
                    BinaryOperator::Lt => BinOp::Lt,
                    BinaryOperator::LtEq => BinOp::Le,
                    BinaryOperator::Gt => BinOp::Gt,
                    BinaryOperator::GtEq => BinOp::Ge,
                    BinaryOperator::And => BinOp::And,
                    BinaryOperator::Or => BinOp::Or,
                    _ => return Err(refuse(&format!("operator {op} over merged groups"), self.a)),
                };
                check_precedence(bop, left, right, self.a)?;
                PostExpr::Binary(bop, boxed(self, left)?, boxed(self, right)?)
            }
            Expr::IsNull(x) => PostExpr::IsNull(boxed(self, x)?, false),
            Expr::IsNotNull(x) => PostExpr::IsNull(boxed(self, x)?, true),
            Expr::IsNotDistinctFrom(x, y) => {
                PostExpr::Binary(BinOp::Is, boxed(self, x)?, boxed(self, y)?)
            }
            Expr::IsDistinctFrom(x, y) => {
                PostExpr::Binary(BinOp::IsNot, boxed(self, x)?, boxed(self, y)?)
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => PostExpr::Between(
                boxed(self, expr)?,
                boxed(self, low)?,
                boxed(self, high)?,
                *negated,
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items = list
                    .iter()
                    .map(|x| self.post(x))
                    .collect::<Result<Vec<_>>>()?;
                PostExpr::InList(boxed(self, expr)?, items, *negated)
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let op = operand
                    .as_deref()
                    .map(|o| self.post(o).map(Box::new))
                    .transpose()?;
                let mut whens = Vec::new();
                for w in conditions {
                    whens.push((self.post(&w.condition)?, self.post(&w.result)?));
                }
                let el = else_result
                    .as_deref()
                    .map(|x| self.post(x).map(Box::new))
                    .transpose()?;
                PostExpr::Case(op, whens, el)
            }
            Expr::Cast {
                expr, data_type, ..
            } => PostExpr::Cast(
                boxed(self, expr)?,
                Affinity::from_declared_type(&data_type.to_string()),
            ),
            Expr::Identifier(id) => {
                return Err(refuse(
                    &format!("column {} that is neither grouped nor aggregated", id.value),
                    self.a,
                ))
            }
            Expr::CompoundIdentifier(p) => {
                let name: Vec<String> = p.iter().map(|i| i.value.clone()).collect();
                return Err(refuse(
                    &format!(
                        "column {} that is neither grouped nor aggregated",
                        name.join(".")
                    ),
                    self.a,
                ));
            }
            other => {
                let text = other.to_string();
                let short: String = text.chars().take(60).collect();
                return Err(refuse(
                    &format!("expression `{short}` over merged groups"),
                    self.a,
                ));
            }
        })
    }
}

fn fn_argc(f: &sqlparser::ast::Function) -> usize {
    match &f.args {
        FunctionArguments::List(l) => l.args.len(),
        _ => 0,
    }
}

/// sqlparser's precedence differs from SQLite's for `||`, comparison chains and the bit
/// operators; a tree where that could matter is refused rather than evaluated wrongly.
fn check_precedence(op: BinOp, left: &Expr, right: &Expr, a: &Analysis) -> Result<()> {
    let class = |e: &Expr| match e {
        Expr::BinaryOp { op, .. } => Some(match op {
            BinaryOperator::StringConcat => 0,
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => 1,
            BinaryOperator::And | BinaryOperator::Or => 2,
            _ => 3,
        }),
        _ => None,
    };
    let me = match op {
        BinOp::Concat => 0,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 1,
        BinOp::And | BinOp::Or => 2,
        _ => 3,
    };
    for child in [left, right] {
        if let Some(c) = class(child) {
            let hazard = match me {
                0 => c != 0,
                1 => c == 1 || c == 0,
                3 => c == 0,
                _ => false,
            };
            if hazard {
                return Err(refuse(
                    "an expression mixing `||` or comparison operators without parentheses",
                    a,
                ));
            }
        }
    }
    Ok(())
}

/// The expression text of a projection item (without `AS alias`).
fn item_expr_range(parsed: &Parsed, item: &Range<usize>, aliased: bool) -> Range<usize> {
    if !aliased {
        return item.clone();
    }
    let sql = &parsed.sql;
    let toks: Vec<_> = parsed
        .tokens
        .iter()
        .filter(|t| t.start >= item.start && t.end <= item.end)
        .collect();
    let n = toks.len();
    let cut = if n >= 2 && toks[n - 2].is_keyword(sql, "AS") {
        n - 2
    } else {
        n.saturating_sub(1)
    };
    match toks.get(cut.wrapping_sub(1)) {
        Some(last) if cut > 0 => item.start..last.end,
        _ => item.clone(),
    }
}

/// The name SQLite gives a result column: the alias, a column's declared name (however
/// the query spells it), or the expression's text.
fn column_name(
    parsed: &Parsed,
    item: &SelectItem,
    range: &Range<usize>,
    a: &Analysis,
    cx: Context<'_>,
) -> String {
    let declared = |spelled: &str| -> String {
        let tables = a
            .refs
            .iter()
            .filter(|r| r.top_level)
            .map(|r| r.table.as_str())
            .chain(a.reference.iter().map(String::as_str))
            .chain(a.unsharded.iter().map(String::as_str));
        let mut names = tables.filter_map(|t| {
            cx.catalog
                .get(t)?
                .column(spelled)
                .map(|(_, c)| c.name.clone())
        });
        match (names.next(), names.next()) {
            // One table has it, or all that have it spell it alike.
            (Some(name), None) => name,
            (Some(name), Some(other)) if name == other && names.all(|n| n == name) => name,
            _ => spelled.to_string(),
        }
    };
    match item {
        SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
        SelectItem::UnnamedExpr(Expr::Identifier(id)) => declared(&id.value),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => {
            p.last().map(|i| declared(&i.value)).unwrap_or_default()
        }
        _ => parsed.sql[range.clone()].to_string(),
    }
}

/// Plans an aggregate SELECT that fans out.
pub(crate) fn plan_aggregate(
    parsed: &Parsed,
    q: &Query,
    select: &Select,
    shape: &SelectShape,
    params: &[Value],
    a: &Analysis,
    cx: Context<'_>,
) -> Result<PlannedAggregate> {
    if !matches!(select.distinct, None | Some(sqlparser::ast::Distinct::All)) {
        return Err(refuse("SELECT DISTINCT with aggregates", a));
    }
    if select.projection.iter().any(|i| {
        !matches!(
            i,
            SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
        )
    }) {
        return Err(refuse("`*` in an aggregate query", a));
    }
    let sql = &parsed.sql;
    let items: Vec<Range<usize>> = shape.items.clone();
    let item_exprs: Vec<&Expr> = select
        .projection
        .iter()
        .filter_map(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect();
    let aliases: Vec<Option<String>> = select
        .projection
        .iter()
        .map(|i| match i {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect();

    // GROUP BY terms: resolved to expressions (ordinals and aliases name output items).
    let group_terms: Vec<Expr> = match &select.group_by {
        GroupByExpr::Expressions(e, mods) if mods.is_empty() => e.clone(),
        GroupByExpr::Expressions(..) => return Err(refuse("GROUP BY modifiers", a)),
        GroupByExpr::All(_) => return Err(refuse("GROUP BY ALL", a)),
    };
    let group_ranges = shape
        .group_by
        .as_ref()
        .map(|g| split_terms(parsed, g, "BY"))
        .unwrap_or_default();
    if group_ranges.len() != group_terms.len() {
        return Err(super::fanout::parser_disagrees("GROUP BY"));
    }
    let mut group_exprs = Vec::new();
    let mut group_texts = Vec::new();
    let mut group_affinity = Vec::new();
    for (term, range) in group_terms.iter().zip(&group_ranges) {
        let resolved = match term {
            Expr::Value(_) => match key_literal(parsed, term) {
                Some(KeyExpr::Literal(Value::Integer(n)))
                    if n >= 1 && (n as usize) <= item_exprs.len() =>
                {
                    Some(n as usize - 1)
                }
                _ => return Err(refuse("GROUP BY a constant", a)),
            },
            Expr::Identifier(id) => aliases.iter().position(|al| {
                al.as_deref()
                    .is_some_and(|al| al.eq_ignore_ascii_case(&id.value))
            }),
            _ => None,
        };
        let (expr, text) = match resolved {
            Some(i) => (
                item_exprs[i].clone(),
                item_expr_range(parsed, &items[i], aliases[i].is_some()),
            ),
            None => (term.clone(), range.clone()),
        };
        let collation = super::select_merge::expression_collation(&expr, a, cx)?;
        if collation != Collation::Binary {
            return Err(Error::unsupported(
                format!("GROUP BY a {} expression across shards is not supported: which spelling of each group SQLite returns depends on row order", format!("{collation:?}").to_uppercase()),
                "add COLLATE BINARY to the grouping, or pin one shard with the key",
            ));
        }
        group_affinity.push(column_affinity(&expr, a, cx));
        group_exprs.push(expr);
        group_texts.push(text);
    }

    let mut b = Builder {
        parsed,
        a,
        cx,
        params,
        group_exprs,
        group_affinity,
        partials: Vec::new(),
        aggs: Vec::new(),
        agg_keys: Vec::new(),
        distinct_arg: None,
    };
    let output = item_exprs
        .iter()
        .map(|e| b.post(e))
        .collect::<Result<Vec<_>>>()?;
    let having = select.having.as_ref().map(|h| b.post(h)).transpose()?;
    let mut order = Vec::new();
    {
        for t in super::select_merge::order_terms(q, a)? {
            let (inner, explicit) = super::select_merge::split_collate(&t.expr, a)?;
            let by_output = match inner {
                Expr::Value(_) => match key_literal(parsed, inner) {
                    Some(KeyExpr::Literal(Value::Integer(n)))
                        if n >= 1 && (n as usize) <= output.len() =>
                    {
                        Some(n as usize - 1)
                    }
                    _ => return Err(refuse("ORDER BY a constant", a)),
                },
                Expr::Identifier(id) => aliases.iter().position(|al| {
                    al.as_deref()
                        .is_some_and(|al| al.eq_ignore_ascii_case(&id.value))
                }),
                _ => None,
            };
            let (expr, source) = match by_output {
                Some(i) => (output[i].clone(), item_exprs[i]),
                None => (b.post(inner)?, inner),
            };
            let collation = match explicit {
                Some(c) => c,
                None => super::select_merge::expression_collation(source, a, cx)?,
            };
            order.push(GroupOrder {
                expr,
                descending: matches!(t.options.sort, Some(sqlparser::ast::OrderBySort::Desc)),
                nulls_first: t.options.nulls_first,
                collation,
            });
        }
    }
    let (limit, offset) =
        super::select_merge::limit_offset(parsed, q.limit_clause.as_ref(), params, a)?;
    let _: Option<&LimitClause> = None;

    // The shard query: group keys, [distinct argument], partials; FROM … WHERE; GROUP BY.
    let g = b.group_exprs.len();
    let distinct_column = b.distinct_arg.as_ref().map(|_| g);
    let first_partial = g + usize::from(distinct_column.is_some());
    let mut aggs = b.aggs;
    for agg in &mut aggs {
        for p in &mut agg.partials {
            *p += first_partial;
        }
    }
    let select_kw_end = parsed.sql[..shape.projection.start].trim_end().len();
    let from = shape
        .from
        .clone()
        .ok_or_else(|| refuse("an aggregate without FROM", a))?;
    let body_end = shape.where_.as_ref().map(|w| w.end).unwrap_or(from.end);
    let mut names: Vec<String> = Vec::new();
    for i in 0..g {
        names.push(format!(" AS \"__d1p_g{}\"", i + 1));
    }
    for i in 0..b.partials.len() {
        names.push(format!(" AS \"__d1p_a{}\"", i + 1));
    }
    let mut pieces: Vec<Piece<'_>> = vec![Piece::Source(0..select_kw_end), Piece::Text(" ")];
    let mut first = true;
    let mut sep = |pieces: &mut Vec<Piece<'_>>| {
        if !first {
            pieces.push(Piece::Text(", "));
        }
        first = false;
    };
    for (i, t) in group_texts.iter().enumerate() {
        sep(&mut pieces);
        pieces.push(Piece::Source(t.clone()));
        pieces.push(Piece::Text(&names[i]));
    }
    if let Some((_, r)) = &b.distinct_arg {
        sep(&mut pieces);
        pieces.push(Piece::Source(r.clone()));
        pieces.push(Piece::Text(" AS \"__d1p_d\""));
    }
    for (i, p) in b.partials.iter().enumerate() {
        sep(&mut pieces);
        pieces.push(Piece::Text(p.func));
        pieces.push(Piece::Text("("));
        match &p.arg {
            Some(r) => pieces.push(Piece::Source(r.clone())),
            None => pieces.push(Piece::Text("*")),
        }
        if !p.extra.is_empty() {
            pieces.push(Piece::Text(&p.extra));
        }
        pieces.push(Piece::Text(")"));
        pieces.push(Piece::Text(&names[g + i]));
    }
    if first {
        // Only DISTINCT aggregates and no group keys: still a valid projection.
        pieces.push(Piece::Text("1"));
    }
    pieces.push(Piece::Text(" "));
    pieces.push(Piece::Source(from.start..body_end));
    // Group by the projected aliases: a constant key (`count(DISTINCT 83)`) would read as
    // an ordinal in GROUP BY.
    let mut grouping: Vec<String> = (0..g).map(|i| format!("\"__d1p_g{}\"", i + 1)).collect();
    if b.distinct_arg.is_some() {
        grouping.push("\"__d1p_d\"".to_string());
    }
    let group_clause = format!(" GROUP BY {}", grouping.join(", "));
    if !grouping.is_empty() {
        pieces.push(Piece::Text(&group_clause));
    }
    let shard_sql = splice(parsed, &pieces, params);
    let columns = select
        .projection
        .iter()
        .zip(&items)
        .map(|(i, r)| column_name(parsed, i, r, a, cx))
        .collect();
    let _ = sql;
    Ok(PlannedAggregate {
        shard_sql,
        merge: AggregateMerge {
            group_keys: g,
            distinct_column,
            aggs,
            single_group: g == 0,
            having,
            output,
            order,
            offset,
            limit,
        },
        columns,
    })
}

/// The affinity of a plain column (for comparisons after the merge).
fn column_affinity(e: &Expr, a: &Analysis, cx: Context<'_>) -> Option<Affinity> {
    let name = match e {
        Expr::Identifier(id) => &id.value,
        Expr::CompoundIdentifier(p) => &p.last()?.value,
        _ => return None,
    };
    let tables = a
        .refs
        .iter()
        .map(|r| r.table.as_str())
        .chain(a.reference.iter().map(|s| s.as_str()));
    for t in tables {
        if let Some((_, c)) = cx.catalog.get(t).and_then(|t| t.column(name)) {
            return Some(c.affinity);
        }
    }
    None
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
