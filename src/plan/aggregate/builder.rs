//! The partial aggregates a shard computes and the coordinator expressions over them:
//! each aggregate call becomes partial columns and a SQL expression of the final step.

use super::partial::{group_keys, Only, Partial, Wrap};
use crate::analyze::{key_literal, Analysis};
use crate::error::{Error, Result};
use crate::lex::TokenKind;
use crate::merge::coordinator::{AmbiguityCheck, OVERFLOW_REMEDY, PARTIALS};
use crate::merge::{connection_function, BinOp, Collation, Direct, PostExpr, SumKind};
use crate::parse::Parsed;
use crate::plan::fanout::refuse;
use crate::plan::names::{declared_type_of, Scope};
use crate::plan::params::Params;
use crate::sql::{object_name, KeyExpr};
use crate::value::Value;
use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    UnaryOperator,
};
use std::ops::Range;

/// A column of distinct argument values (for DISTINCT aggregates).
pub(super) struct DistinctColumn {
    pub(super) text: String,
    pub(super) range: Range<usize>,
    pub(super) declaration: String,
}

pub(super) struct Builder<'a> {
    pub(super) parsed: &'a Parsed,
    pub(super) a: &'a Analysis,
    pub(super) scope: &'a Scope<'a>,
    pub(super) params: &'a Params<'a>,
    pub(super) group_exprs: Vec<Expr>,
    pub(super) partials: Vec<Partial>,
    /// The coordinator SQL of each aggregate, over partial columns.
    pub(super) aggs: Vec<String>,
    /// Each aggregate's direct combination, where it has one (over partial indices).
    pub(super) direct: Vec<Option<Direct>>,
    pub(super) agg_keys: Vec<String>,
    pub(super) distinct: Vec<DistinctColumn>,
    /// Coordinator checks that refuse an answer depending on row order.
    pub(super) checks: Vec<AmbiguityCheck>,
    /// The min() and max() aggregates met (one each for equal calls).
    pub(super) extremes: Vec<Extreme>,
    /// The columns met neither grouped nor aggregated.
    pub(super) bare: Vec<BareColumn>,
}

/// A min() or max() aggregate: which, its partial column, its collation's name (as the
/// coordinator's `__d1p_*` calls take it), and whether it is `DISTINCT`.
pub(super) struct Extreme {
    pub(super) kind: &'static str,
    pub(super) partial: String,
    pub(super) collation: &'static str,
    pub(super) distinct: bool,
}

/// A column neither grouped nor aggregated: its aggregate slot (its coordinator SQL is
/// written once every clause is read), its partial column, and its text (for the
/// refusal).
pub(super) struct BareColumn {
    pub(super) agg: usize,
    pub(super) partial: String,
    pub(super) text: String,
}

impl<'a> Builder<'a> {
    pub(super) fn new(
        parsed: &'a Parsed,
        a: &'a Analysis,
        scope: &'a Scope<'a>,
        params: &'a Params<'a>,
        group_exprs: Vec<Expr>,
    ) -> Builder<'a> {
        Builder {
            parsed,
            a,
            scope,
            params,
            group_exprs,
            partials: Vec::new(),
            aggs: Vec::new(),
            direct: Vec::new(),
            agg_keys: Vec::new(),
            distinct: Vec::new(),
            checks: Vec::new(),
            extremes: Vec::new(),
            bare: Vec::new(),
        }
    }
}

/// The partial table's column of partial `i`.
pub(super) fn partial_column(i: usize) -> String {
    format!("\"__d1p_a{}\"", i + 1)
}

pub(super) fn norm(sql: &str) -> String {
    crate::lex::significant(sql)
        .iter()
        .map(|t| t.text(sql).to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

impl<'a> Builder<'a> {
    /// The token index of a function call's name.
    pub(super) fn call_start(&self, f: &sqlparser::ast::Function) -> Option<usize> {
        let ident = match f.name.0.last()? {
            sqlparser::ast::ObjectNamePart::Identifier(id) => id,
            _ => return None,
        };
        let off = self.parsed.offset(ident.span.start)?;
        self.parsed
            .tokens
            .binary_search_by_key(&off, |t| t.start)
            .ok()
    }

    /// The source range of a function call's argument list (inside the parentheses), and
    /// of its FILTER condition, if any.
    pub(super) fn call_parts(
        &self,
        f: &sqlparser::ast::Function,
    ) -> Option<(Range<usize>, Option<Range<usize>>)> {
        let toks = &self.parsed.tokens;
        let sql = &self.parsed.sql;
        let open = self.call_start(f)? + 1;
        toks.get(open).filter(|t| t.kind == TokenKind::LParen)?;
        let close = self.parsed.closing_paren(open)?;
        let args = toks[open].end..toks[close].start;
        if f.filter.is_none() {
            return Some((args, None));
        }
        // `) FILTER ( WHERE cond )`
        let sig: Vec<usize> = (close + 1..toks.len())
            .filter(|&i| !toks[i].is_trivia())
            .take(3)
            .collect();
        let [kw, paren, wh] = sig[..] else {
            return None;
        };
        if !toks[kw].is_keyword(sql, "FILTER")
            || toks[paren].kind != TokenKind::LParen
            || !toks[wh].is_keyword(sql, "WHERE")
        {
            return None;
        }
        let end = self.parsed.closing_paren(paren)?;
        Some((args, Some(toks[wh].end..toks[end].start)))
    }

    /// The partial's column name (added once for equal partials).
    pub(super) fn add_partial(&mut self, p: Partial) -> String {
        partial_column(self.partial_index(p))
    }

    /// The partial's index among the partials (added once for equal partials).
    fn partial_index(&mut self, p: Partial) -> usize {
        let text = |r: &Option<Range<usize>>| r.as_ref().map(|r| norm(&self.parsed.sql[r.clone()]));
        match self.partials.iter().position(|q| {
            q.func == p.func
                && q.wrap == p.wrap
                && q.only == p.only
                && q.extra == p.extra
                && text(&q.arg) == text(&p.arg)
                && text(&q.filter) == text(&p.filter)
        }) {
            Some(i) => i,
            None => {
                self.partials.push(p);
                self.partials.len() - 1
            }
        }
    }

    pub(super) fn aggregate(&mut self, f: &sqlparser::ast::Function) -> Result<PostExpr> {
        let name = object_name(&f.name).to_ascii_lowercase();
        let FunctionArguments::List(list) = &f.args else {
            return Err(refuse(&format!("{name}() without arguments"), self.a));
        };
        if !f.within_group.is_empty() || !list.clauses.is_empty() {
            return Err(refuse(&format!("{name}() with ORDER BY inside"), self.a));
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let Some((inner, filter)) = self.call_parts(f) else {
            return Err(Error::internal(format!(
                "cannot find the arguments of {name}() in the text"
            )));
        };
        let sql = &self.parsed.sql;
        let arg_range = first_argument(sql, inner.clone());
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
        let key = format!(
            "{name}|{distinct}|{}|{}",
            norm(&sql[inner.clone()]),
            filter
                .as_ref()
                .map(|r| norm(&sql[r.clone()]))
                .unwrap_or_default()
        );
        if let Some(i) = self.agg_keys.iter().position(|k| *k == key) {
            return Ok(PostExpr::Agg(i));
        }
        let kind = match (name.as_str(), argc) {
            ("count", 0 | 1) => "count",
            ("sum", 1) => "sum",
            ("total", 1) => "total",
            ("avg", 1) => "avg",
            ("min", 1) => "min",
            ("max", 1) => "max",
            ("group_concat", 1 | 2) | ("string_agg", 2) => "group_concat",
            ("json_group_array", 1) => "json_group_array",
            _ => {
                return Err(refuse(
                    &format!("aggregate {name}() with {argc} argument(s)"),
                    self.a,
                ))
            }
        };
        let separator = if kind == "group_concat" {
            Some(self.separator(list.args.get(1))?)
        } else {
            None
        };
        if distinct && kind == "json_group_array" {
            // Shards would ship JSON values as plain text, which the coordinator would quote.
            return Err(refuse("json_group_array(DISTINCT …)", self.a));
        }
        let (combined, direct) = if distinct && !matches!(kind, "min" | "max") {
            if filter.is_some() {
                return Err(refuse(&format!("{name}(DISTINCT …) FILTER (…)"), self.a));
            }
            let (Some(r), Some(e)) = (arg_range, arg_expr) else {
                return Err(refuse("DISTINCT aggregate without an argument", self.a));
            };
            let combined = self.distinct_aggregate(&name, kind, r, e, separator.as_deref())?;
            (combined, None)
        } else {
            let call = Call {
                kind,
                arg: if star { None } else { arg_range },
                arg_expr,
                filter,
                separator,
                distinct,
            };
            self.partial_aggregate(call)?
        };
        self.aggs.push(combined);
        self.direct.push(direct);
        self.agg_keys.push(key);
        Ok(PostExpr::Agg(self.aggs.len() - 1))
    }

    /// `kind(DISTINCT x)` across shards: the shards send their distinct values of `x` (as
    /// a hidden partial column), and the final query aggregates them; with the checks that
    /// refuse what row order would decide.
    fn distinct_aggregate(
        &mut self,
        name: &str,
        kind: &str,
        arg: Range<usize>,
        e: &Expr,
        separator: Option<&str>,
    ) -> Result<String> {
        let collation = crate::plan::terms::expression_collation(e, self.scope, self.a)?;
        let order_sensitive = matches!(kind, "sum" | "group_concat");
        if order_sensitive && collation != Collation::Binary {
            return Err(Error::unsupported(
                format!("{name}(DISTINCT …) over a {} expression across shards: which of the equal spellings SQLite keeps depends on row order", collation.name()),
                "add COLLATE BINARY to the argument, or pin one shard with the key",
            ));
        }
        let column = self.distinct_column(arg, e, collation);
        if order_sensitive {
            let groups: String = group_keys(self.group_exprs.len())
                .iter()
                .map(|k| format!("{k}, "))
                .collect();
            self.checks.push(AmbiguityCheck::spelling(
                format!(
                    "SELECT 1 FROM {PARTIALS} GROUP BY {groups}{column} HAVING count(DISTINCT typeof({column}) || quote({column})) > 1"
                ),
                format!("{name}(DISTINCT …) across shards met equal values of different types or spellings (such as 1 and 1.0); which one SQLite keeps depends on row order"),
            ));
        }
        if matches!(kind, "sum" | "total" | "avg") {
            // As for sum(): integers whose running sum can leave 64 bits overflow (or
            // turn to floating point) at a point the order of the values decides.
            let keys = group_keys(self.group_exprs.len());
            let group_by = if keys.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", keys.join(", "))
            };
            self.checks.push(AmbiguityCheck {
                sql: format!(
                    "SELECT count(*) FROM {PARTIALS}{group_by} HAVING total(DISTINCT {column}) FILTER (WHERE typeof({column}) = 'integer' AND {column} > 0) > 9.2e18 OR total(DISTINCT {column}) FILTER (WHERE typeof({column}) = 'integer' AND {column} < 0) < -9.2e18"
                ),
                message: format!("{name}(DISTINCT …) across shards of integers whose positive or negative values add up past 2^63: whether and where SQLite's running sum overflows depends on the order it meets them"),
                remedy: OVERFLOW_REMEDY,
            });
        }
        Ok(if separator.is_some() {
            // SQLite refuses DISTINCT with a separator; the shards will say so.
            format!("group_concat(DISTINCT {column})")
        } else {
            format!("{kind}(DISTINCT {column})")
        })
    }

    /// An aggregate across shards from partial aggregates each shard computes: its
    /// coordinator SQL, and its direct combination where there is one (over partial
    /// indices).
    fn partial_aggregate(&mut self, call: Call<'_>) -> Result<(String, Option<Direct>)> {
        let Call {
            kind,
            arg,
            arg_expr,
            filter,
            separator,
            distinct,
        } = call;
        let part = |func, wrap, only| Partial {
            func,
            arg: arg.clone(),
            wrap,
            only,
            filter: filter.clone(),
            extra: String::new(),
        };
        Ok(match kind {
            "count" => {
                let i = self.partial_index(part("count", Wrap::Plain, Only::All));
                let c = partial_column(i);
                (format!("coalesce(sum({c}), 0)"), Some(Direct::Count(i)))
            }
            "sum" | "total" | "avg" => {
                let (sql, direct) = self.exact_sum(kind, &part);
                (sql, Some(direct))
            }
            "min" | "max" => {
                let c = match arg_expr {
                    Some(e) => crate::plan::terms::expression_collation(e, self.scope, self.a)?,
                    None => Collation::Binary,
                };
                let func = if kind == "min" { "min" } else { "max" };
                let m = self.add_partial(part(func, Wrap::Plain, Only::All));
                let sql = format!("__d1p_{kind}({m}, '{}')", c.name());
                self.extremes.push(Extreme {
                    kind: func,
                    partial: m,
                    collation: c.name(),
                    distinct,
                });
                (sql, None)
            }
            "json_group_array" => {
                let c = self.add_partial(part("json_group_array", Wrap::Plain, Only::All));
                // json() gives the text JSON's subtype, as json_group_array()'s own
                // result has: `json_object('k', json_group_array(x))` nests an array,
                // not a string.
                (format!("json(__d1p_json_arrays({c}))"), None)
            }
            _ => {
                let sep = separator.unwrap_or_else(|| ",".into());
                let mut p = part("group_concat", Wrap::Plain, Only::All);
                p.extra = format!(", {}", crate::lex::quote_text(&sep));
                let c = self.add_partial(p);
                (
                    format!("group_concat({c}, {})", crate::lex::quote_text(&sep)),
                    None,
                )
            }
        })
    }

    /// sum(), total() and avg() across shards, exactly as one SQLite would add the values:
    /// the coordinator's `__d1p_*` call, and the same call as a direct combination.
    fn exact_sum(
        &mut self,
        kind: &str,
        part: &dyn Fn(&'static str, Wrap, Only) -> Partial,
    ) -> (String, Direct) {
        // An exact decomposition of the values: integer parts (summed exactly in
        // halves), fractional parts, and values too large to split.
        let mut parts = vec![
            self.partial_index(part("sum", Wrap::IntHigh, Only::Finite)),
            self.partial_index(part("sum", Wrap::IntLow, Only::Finite)),
            self.partial_index(part("sum", Wrap::FracHigh, Only::Finite)),
            self.partial_index(part("sum", Wrap::FracLow, Only::Finite)),
            self.partial_index(part("total", Wrap::Residue, Only::Finite)),
            self.partial_index(part("total", Wrap::Plain, Only::Huge)),
        ];
        // SQLite's own compensated sum on the shard: the answer when one shard
        // holds the group's values (then it added them in the same order).
        let own = self.partial_index(part("total", Wrap::Plain, Only::All));
        let (kind, args) = match kind {
            "sum" => {
                // The integers exactly (in 32-bit halves: a shard's own sum()
                // could overflow where one database's would not); the other
                // values' sum() tells whether SQLite's sum stays an integer.
                let mut args = vec![
                    self.partial_index(part("sum", Wrap::Plain, Only::OtherStorage)),
                    self.partial_index(part("sum", Wrap::ShiftHigh, Only::IntegerStorage)),
                    self.partial_index(part("sum", Wrap::MaskLow, Only::IntegerStorage)),
                    self.partial_index(part("total", Wrap::Plain, Only::PositiveInteger)),
                    self.partial_index(part("total", Wrap::Plain, Only::NegativeInteger)),
                ];
                args.append(&mut parts);
                args.push(own);
                (SumKind::Sum, args)
            }
            _ => {
                // Integers whose running sum can leave 64 bits make SQLite
                // switch to floating point at a point the row order decides.
                parts.extend([
                    self.partial_index(part("count", Wrap::Plain, Only::All)),
                    self.partial_index(part("total", Wrap::Plain, Only::PositiveInteger)),
                    self.partial_index(part("total", Wrap::Plain, Only::NegativeInteger)),
                    own,
                ]);
                let kind = if kind == "total" {
                    SumKind::Total
                } else {
                    SumKind::Avg
                };
                (kind, parts)
            }
        };
        let columns: Vec<String> = args.iter().map(|&i| partial_column(i)).collect();
        let sql = format!("{}({})", kind.function().0, columns.join(", "));
        (sql, Direct::Sum(kind, args))
    }

    /// group_concat's separator: a text literal or bound text.
    pub(super) fn separator(&self, arg: Option<&FunctionArg>) -> Result<String> {
        match arg {
            None => Ok(",".to_string()),
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => {
                match key_literal(self.parsed, e) {
                    Some(KeyExpr::Literal(Value::Text(t))) => Ok(t),
                    Some(KeyExpr::Param(i)) => match self.params.value(i)? {
                        Value::Text(t) => Ok(t),
                        _ => Err(refuse("group_concat() with a non-text separator", self.a)),
                    },
                    _ => Err(refuse("group_concat() with a computed separator", self.a)),
                }
            }
            _ => Err(refuse("group_concat() with this separator", self.a)),
        }
    }

    /// The coordinator column holding the distinct values of `range` (one per expression).
    pub(super) fn distinct_column(
        &mut self,
        range: Range<usize>,
        e: &Expr,
        collation: Collation,
    ) -> String {
        let text = norm(&self.parsed.sql[range.clone()]);
        let i = match self.distinct.iter().position(|d| d.text == text) {
            Some(i) => i,
            None => {
                let ty = declared_type_of(self.scope.affinity(e));
                let declaration = format!("{ty} COLLATE {}", collation.name());
                self.distinct.push(DistinctColumn {
                    text,
                    range,
                    declaration,
                });
                self.distinct.len() - 1
            }
        };
        format!("\"__d1p_d{}\"", i + 1)
    }

    /// The GROUP BY term `e` is: written alike, or naming the same column of the same FROM
    /// item in another spelling (`SELECT i.tag … GROUP BY tag`).
    fn group_key(&self, e: &Expr) -> Option<usize> {
        if let Some(i) = self.group_exprs.iter().position(|g| g == e) {
            return Some(i);
        }
        let (source, column) = self.scope.source_column(e)?;
        self.group_exprs.iter().position(|g| {
            self.scope
                .source_column(g)
                .is_some_and(|(s, c)| s == source && std::ptr::eq(c, column))
        })
    }

    /// Converts an expression over groups into a post-merge expression.
    pub(super) fn post(&mut self, e: &Expr) -> Result<PostExpr> {
        if let Some(i) = self.group_key(e) {
            return Ok(PostExpr::GroupKey(i));
        }
        let boxed = |b: &mut Self, x: &Expr| b.post(x).map(Box::new);
        Ok(match e {
            Expr::Nested(inner) => self.post(inner)?,
            Expr::Function(f)
                if f.over.is_none()
                    && crate::sql::is_aggregate(&object_name(&f.name), fn_argc(f)) =>
            {
                self.aggregate(f)?
            }
            Expr::Function(f) if f.over.is_none() && f.filter.is_none() => self.post_function(f)?,
            Expr::Value(_)
            | Expr::UnaryOp {
                op: UnaryOperator::Minus,
                ..
            } if key_literal(self.parsed, e).is_some() => match key_literal(self.parsed, e) {
                Some(KeyExpr::Literal(v)) => PostExpr::Literal(v),
                Some(KeyExpr::Param(i)) => PostExpr::Literal(self.params.value(i)?),
                None => PostExpr::Literal(Value::Null),
            },
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Minus => PostExpr::Neg(boxed(self, expr)?),
                // `+x`: x without its affinity (SQLite drops it; the coordinator too).
                UnaryOperator::Plus => PostExpr::Plus(boxed(self, expr)?),
                UnaryOperator::Not => PostExpr::Not(boxed(self, expr)?),
                UnaryOperator::BitwiseNot => PostExpr::BitNot(boxed(self, expr)?),
                _ => return Err(refuse("this unary operator over merged groups", self.a)),
            },
            Expr::BinaryOp { left, op, right } => {
                let bop = binary_op(op, self.a)?;
                check_precedence(bop, left, right, self.a)?;
                PostExpr::Binary(bop, boxed(self, left)?, boxed(self, right)?)
            }
            Expr::IsNull(x) => PostExpr::IsNull(boxed(self, x)?, false),
            Expr::IsNotNull(x) => PostExpr::IsNull(boxed(self, x)?, true),
            Expr::IsNotDistinctFrom(x, y) => {
                check_precedence(BinOp::Is, x, y, self.a)?;
                PostExpr::Binary(BinOp::Is, boxed(self, x)?, boxed(self, y)?)
            }
            Expr::IsDistinctFrom(x, y) => {
                check_precedence(BinOp::IsNot, x, y, self.a)?;
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
            } => self.post_case(operand.as_deref(), conditions, else_result.as_deref())?,
            Expr::Cast {
                kind: sqlparser::ast::CastKind::Cast,
                expr,
                data_type,
                format: None,
                ..
            } => PostExpr::Cast(boxed(self, expr)?, data_type.to_string()),
            Expr::Collate { expr, collation } => {
                PostExpr::Collate(boxed(self, expr)?, object_name(collation))
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => self.bare_column(e)?,
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

    /// A scalar function over merged groups, evaluated by the coordinator.
    fn post_function(&mut self, f: &sqlparser::ast::Function) -> Result<PostExpr> {
        let name = object_name(&f.name).to_ascii_lowercase();
        let FunctionArguments::List(list) = &f.args else {
            return Err(refuse(&format!("{name}() over merged groups"), self.a));
        };
        if connection_function(&name)
            || list.duplicate_treatment.is_some()
            || !list.clauses.is_empty()
            || f.name.0.len() != 1
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
        Ok(PostExpr::Func(name, args))
    }

    /// `CASE` over merged groups.
    fn post_case(
        &mut self,
        operand: Option<&Expr>,
        conditions: &[sqlparser::ast::CaseWhen],
        else_result: Option<&Expr>,
    ) -> Result<PostExpr> {
        let op = operand.map(|o| self.post(o).map(Box::new)).transpose()?;
        let mut whens = Vec::new();
        for w in conditions {
            whens.push((self.post(&w.condition)?, self.post(&w.result)?));
        }
        let el = else_result
            .map(|x| self.post(x).map(Box::new))
            .transpose()?;
        Ok(PostExpr::Case(op, whens, el))
    }
}

pub(super) fn fn_argc(f: &sqlparser::ast::Function) -> usize {
    match &f.args {
        FunctionArguments::List(l) => l.args.len(),
        _ => 0,
    }
}

/// sqlparser's precedence differs from SQLite's for comparison chains (`1 = 2 < 3`: SQLite
/// binds `<` tighter than `=`); such a tree over merged groups is refused rather than
/// evaluated wrongly. (`||` and the bit operators read with SQLite's precedence: see
/// `parse::D1Dialect`.)
pub(super) fn check_precedence(op: BinOp, left: &Expr, right: &Expr, a: &Analysis) -> Result<()> {
    let comparison = |e: &Expr| {
        matches!(
            e,
            Expr::BinaryOp {
                op: BinaryOperator::Eq
                    | BinaryOperator::NotEq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq,
                ..
            } | Expr::IsDistinctFrom(..)
                | Expr::IsNotDistinctFrom(..)
        )
    };
    let me_comparison = matches!(
        op,
        BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::Is
            | BinOp::IsNot
    );
    if me_comparison && (comparison(left) || comparison(right)) {
        return Err(refuse(
            "an expression chaining comparison operators without parentheses",
            a,
        ));
    }
    Ok(())
}

/// One aggregate call, as [`Builder::partial_aggregate`] needs it.
struct Call<'e> {
    kind: &'static str,
    /// The first argument's text (None for `count(*)`).
    arg: Option<Range<usize>>,
    arg_expr: Option<&'e Expr>,
    filter: Option<Range<usize>>,
    separator: Option<String>,
    /// `kind(DISTINCT …)` (min() and max() only: other DISTINCT aggregates do not come here).
    distinct: bool,
}

/// The text range of a call's first argument within `inner` (the text between its
/// parentheses): past DISTINCT or ALL, up to a top-level comma.
fn first_argument(sql: &str, inner: Range<usize>) -> Option<Range<usize>> {
    // The first argument's text: skip DISTINCT or ALL, stop at a top-level comma.
    let toks = crate::lex::significant(&sql[inner.clone()]);
    let base = inner.start;
    let inner_text = &sql[inner.clone()];
    let first =
        usize::from(toks.first().is_some_and(|t| {
            t.is_keyword(inner_text, "DISTINCT") || t.is_keyword(inner_text, "ALL")
        }));
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
    match (
        toks.get(first),
        comma
            .map(|c| c.saturating_sub(1))
            .or(toks.len().checked_sub(1))
            .and_then(|l| toks.get(l)),
    ) {
        (Some(s), Some(e)) if e.end >= s.start => Some(base + s.start..base + e.end),
        _ => None,
    }
}

/// The coordinator's operator for a SQL binary operator over merged groups.
fn binary_op(op: &BinaryOperator, a: &Analysis) -> Result<BinOp> {
    Ok(match op {
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
        BinaryOperator::BitwiseAnd => BinOp::BitAnd,
        BinaryOperator::BitwiseOr => BinOp::BitOr,
        BinaryOperator::PGBitwiseShiftLeft => BinOp::Shl,
        BinaryOperator::PGBitwiseShiftRight => BinOp::Shr,
        _ => return Err(refuse(&format!("operator {op} over merged groups"), a)),
    })
}
