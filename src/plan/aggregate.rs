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
use super::names::{declared_type_of, ordinal, ordinal_out_of_range, Scope};
use super::select_shape::SelectShape;
use super::splice::{splice, Piece, Spliced};
use super::terms::column_name;
use super::Context;
use crate::analyze::Analysis;
use crate::error::{Error, Result};
use crate::lex::TokenKind;
use crate::merge::coordinator::PARTIALS;
use crate::merge::{
    connection_function, AggregateMerge, BinOp, Collation, FinalStep, PostExpr, Render,
};
use crate::parse::Parsed;
use crate::sql::{key_literal, object_name, KeyExpr};
use crate::value::Value;
use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, Query, Select, SelectItem, UnaryOperator,
};
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

/// How a partial aggregate's argument is wrapped on the shard (`$` is the argument).
/// Sums of REALs are shipped as an exact decomposition of each value: the integer part
/// (summed exactly, in 32-bit halves that never overflow), the fraction's first 53 bits
/// as an integer (likewise), and the residue below them, so no shard rounds a partial sum.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wrap {
    Plain,
    /// The high 32 bits of an integer (exact: sums of them cannot overflow).
    ShiftHigh,
    /// Its low 32 bits.
    MaskLow,
    IntHigh,
    IntLow,
    FracHigh,
    FracLow,
    Residue,
}

impl Wrap {
    fn template(self) -> &'static str {
        match self {
            Wrap::Plain => "$",
            Wrap::ShiftHigh => "($) >> 32",
            Wrap::MaskLow => "($) & 4294967295",
            Wrap::IntHigh => "CAST(($) AS INTEGER) >> 32",
            Wrap::IntLow => "CAST(($) AS INTEGER) & 4294967295",
            Wrap::FracHigh => {
                "CAST((($) - CAST(($) AS INTEGER)) * 9007199254740992.0 AS INTEGER) >> 32"
            }
            Wrap::FracLow => {
                "CAST((($) - CAST(($) AS INTEGER)) * 9007199254740992.0 AS INTEGER) & 4294967295"
            }
            Wrap::Residue => {
                "(($) - CAST(($) AS INTEGER)) - CAST((($) - CAST(($) AS INTEGER)) * 9007199254740992.0 AS INTEGER) / 9007199254740992.0"
            }
        }
    }
}

/// Pieces of `template` with each `$` replaced by the source range `arg`.
fn expand<'p>(template: &'static str, arg: &Range<usize>) -> Vec<Piece<'p>> {
    let mut out = Vec::new();
    for (i, text) in template.split('$').enumerate() {
        if i > 0 {
            out.push(Piece::Source(arg.clone()));
        }
        if !text.is_empty() {
            out.push(Piece::Text(text));
        }
    }
    out
}

/// A condition a partial counts rows under, besides the aggregate's own FILTER.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    All,
    /// Values within the range an integer part can be taken of.
    Finite,
    /// Values past it.
    Huge,
    /// Values stored as integers.
    IntegerStorage,
    /// Values stored as anything else but NULL (text, reals, blobs).
    OtherStorage,
    /// Positive integers.
    PositiveInteger,
    /// Negative integers.
    NegativeInteger,
}

/// One partial column a shard computes: `func(wrap(arg)[extra]) [FILTER (WHERE …)]`.
struct Partial {
    func: &'static str,
    /// Argument source range (None: `*`).
    arg: Option<Range<usize>>,
    wrap: Wrap,
    only: Only,
    /// The aggregate's own FILTER condition, as source.
    filter: Option<Range<usize>>,
    /// Literal text after the argument (`, ' | '` for group_concat).
    extra: String,
}

/// A column of distinct argument values (for DISTINCT aggregates).
struct DistinctColumn {
    text: String,
    range: Range<usize>,
    declaration: String,
}

struct Builder<'a> {
    parsed: &'a Parsed,
    a: &'a Analysis,
    scope: &'a Scope<'a>,
    params: &'a [Value],
    group_exprs: Vec<Expr>,
    partials: Vec<Partial>,
    /// The coordinator SQL of each aggregate, over partial columns.
    aggs: Vec<String>,
    agg_keys: Vec<String>,
    distinct: Vec<DistinctColumn>,
    /// Coordinator checks that refuse an answer depending on row order.
    checks: Vec<(String, String)>,
}

fn norm(sql: &str) -> String {
    crate::lex::significant(sql)
        .iter()
        .map(|t| t.text(sql).to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The partial table's group key columns, `"__d1p_g1"` … `"__d1p_g{n}"`, quoted.
fn group_keys(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("\"__d1p_g{i}\"")).collect()
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl<'a> Builder<'a> {
    /// The token index of a function call's name.
    fn call_start(&self, f: &sqlparser::ast::Function) -> Option<usize> {
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
    fn call_parts(
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

    fn add_partial(&mut self, p: Partial) -> String {
        let text = |r: &Option<Range<usize>>| r.as_ref().map(|r| norm(&self.parsed.sql[r.clone()]));
        let i = match self.partials.iter().position(|q| {
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
        };
        format!("\"__d1p_a{}\"", i + 1)
    }

    fn aggregate(&mut self, f: &sqlparser::ast::Function) -> Result<PostExpr> {
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
        // The first argument's text: skip DISTINCT or ALL, stop at a top-level comma.
        let toks = crate::lex::significant(&sql[inner.clone()]);
        let base = inner.start;
        let inner_text = &sql[inner.clone()];
        let first = usize::from(toks.first().is_some_and(|t| {
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
            ("count", 0 | 1) | ("sum" | "total" | "avg", 1) => name.as_str(),
            ("min" | "max", 1) => name.as_str(),
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
        let combined = if distinct && !matches!(kind, "min" | "max") {
            if filter.is_some() {
                return Err(refuse(&format!("{name}(DISTINCT …) FILTER (…)"), self.a));
            }
            let (Some(r), Some(e)) = (arg_range.clone(), arg_expr) else {
                return Err(refuse("DISTINCT aggregate without an argument", self.a));
            };
            let collation = super::terms::expression_collation(e, self.scope, self.a)?;
            let order_sensitive = matches!(kind, "sum" | "group_concat");
            if order_sensitive && collation != Collation::Binary {
                return Err(Error::unsupported(
                    format!("{name}(DISTINCT …) over a {} expression across shards: which of the equal spellings SQLite keeps depends on row order", format!("{collation:?}").to_uppercase()),
                    "add COLLATE BINARY to the argument, or pin one shard with the key",
                ));
            }
            let column = self.distinct_column(r, e, collation);
            if order_sensitive {
                let groups: String = group_keys(self.group_exprs.len())
                    .iter()
                    .map(|k| format!("{k}, "))
                    .collect();
                self.checks.push((
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
                self.checks.push((
                    format!(
                        "SELECT count(*) FROM {PARTIALS}{group_by} HAVING total(DISTINCT {column}) FILTER (WHERE typeof({column}) = 'integer' AND {column} > 0) > 9.2e18 OR total(DISTINCT {column}) FILTER (WHERE typeof({column}) = 'integer' AND {column} < 0) < -9.2e18"
                    ),
                    format!("{name}(DISTINCT …) across shards of integers whose positive or negative values add up past 2^63: whether and where SQLite's running sum overflows depends on the order it meets them"),
                ));
            }
            match separator {
                // SQLite refuses DISTINCT with a separator; the shards will say so.
                Some(_) => format!("group_concat(DISTINCT {column})"),
                None => format!("{kind}(DISTINCT {column})"),
            }
        } else {
            let arg = if star { None } else { arg_range.clone() };
            let part = |func, wrap, only| Partial {
                func,
                arg: arg.clone(),
                wrap,
                only,
                filter: filter.clone(),
                extra: String::new(),
            };
            match kind {
                "count" => {
                    let c = self.add_partial(part("count", Wrap::Plain, Only::All));
                    format!("coalesce(sum({c}), 0)")
                }
                "sum" | "total" | "avg" => {
                    // An exact decomposition of the values: integer parts (summed exactly in
                    // halves), fractional parts, and values too large to split.
                    let hi = self.add_partial(part("sum", Wrap::IntHigh, Only::Finite));
                    let lo = self.add_partial(part("sum", Wrap::IntLow, Only::Finite));
                    let fhi = self.add_partial(part("sum", Wrap::FracHigh, Only::Finite));
                    let flo = self.add_partial(part("sum", Wrap::FracLow, Only::Finite));
                    let res = self.add_partial(part("total", Wrap::Residue, Only::Finite));
                    let huge = self.add_partial(part("total", Wrap::Plain, Only::Huge));
                    let parts = format!("{hi}, {lo}, {fhi}, {flo}, {res}, {huge}");
                    // SQLite's own compensated sum on the shard: the answer when one shard
                    // holds the group's values (then it added them in the same order).
                    let own = self.add_partial(part("total", Wrap::Plain, Only::All));
                    match kind {
                        "sum" => {
                            // The integers exactly (in 32-bit halves: a shard's own sum()
                            // could overflow where one database's would not); the other
                            // values' sum() tells whether SQLite's sum stays an integer.
                            let other =
                                self.add_partial(part("sum", Wrap::Plain, Only::OtherStorage));
                            let ih = self.add_partial(part(
                                "sum",
                                Wrap::ShiftHigh,
                                Only::IntegerStorage,
                            ));
                            let il =
                                self.add_partial(part("sum", Wrap::MaskLow, Only::IntegerStorage));
                            let p =
                                self.add_partial(part("total", Wrap::Plain, Only::PositiveInteger));
                            let n =
                                self.add_partial(part("total", Wrap::Plain, Only::NegativeInteger));
                            format!("__d1p_sum({other}, {ih}, {il}, {p}, {n}, {parts}, {own})")
                        }
                        _ => {
                            // Integers whose running sum can leave 64 bits make SQLite
                            // switch to floating point at a point the row order decides.
                            let n = self.add_partial(part("count", Wrap::Plain, Only::All));
                            let pi =
                                self.add_partial(part("total", Wrap::Plain, Only::PositiveInteger));
                            let ni =
                                self.add_partial(part("total", Wrap::Plain, Only::NegativeInteger));
                            let f = if kind == "total" {
                                "__d1p_total"
                            } else {
                                "__d1p_avg"
                            };
                            format!("{f}({parts}, {n}, {pi}, {ni}, {own})")
                        }
                    }
                }
                "min" | "max" => {
                    let c = match arg_expr {
                        Some(e) => super::terms::expression_collation(e, self.scope, self.a)?,
                        None => Collation::Binary,
                    };
                    let func = if kind == "min" { "min" } else { "max" };
                    let m = self.add_partial(part(func, Wrap::Plain, Only::All));
                    let cname = format!("{c:?}").to_uppercase();
                    format!("__d1p_{kind}({m}, '{cname}')")
                }
                "json_group_array" => {
                    let c = self.add_partial(part("json_group_array", Wrap::Plain, Only::All));
                    // json() gives the text JSON's subtype, as json_group_array()'s own
                    // result has: `json_object('k', json_group_array(x))` nests an array,
                    // not a string.
                    format!("json(__d1p_json_arrays({c}))")
                }
                _ => {
                    let sep = separator.unwrap_or_else(|| ",".into());
                    let mut p = part("group_concat", Wrap::Plain, Only::All);
                    p.extra = format!(", {}", sql_string(&sep));
                    let c = self.add_partial(p);
                    format!("group_concat({c}, {})", sql_string(&sep))
                }
            }
        };
        self.aggs.push(combined);
        self.agg_keys.push(key);
        Ok(PostExpr::Agg(self.aggs.len() - 1))
    }

    /// group_concat's separator: a text literal or bound text.
    fn separator(&self, arg: Option<&FunctionArg>) -> Result<String> {
        match arg {
            None => Ok(",".to_string()),
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => {
                match key_literal(self.parsed, e) {
                    Some(KeyExpr::Literal(Value::Text(t))) => Ok(t),
                    Some(KeyExpr::Param(i)) => match self.params.get(i.wrapping_sub(1)) {
                        Some(Value::Text(t)) => Ok(t.clone()),
                        _ => Err(refuse("group_concat() with a non-text separator", self.a)),
                    },
                    _ => Err(refuse("group_concat() with a computed separator", self.a)),
                }
            }
            _ => Err(refuse("group_concat() with this separator", self.a)),
        }
    }

    /// The coordinator column holding the distinct values of `range` (one per expression).
    fn distinct_column(&mut self, range: Range<usize>, e: &Expr, collation: Collation) -> String {
        let text = norm(&self.parsed.sql[range.clone()]);
        let i = match self.distinct.iter().position(|d| d.text == text) {
            Some(i) => i,
            None => {
                let ty = declared_type_of(self.scope.affinity(e));
                let declaration =
                    format!("{ty} COLLATE {}", format!("{collation:?}").to_uppercase());
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

    /// Converts an expression over groups into a post-merge expression.
    fn post(&mut self, e: &Expr) -> Result<PostExpr> {
        if let Some(i) = self.group_exprs.iter().position(|g| g == e) {
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
            Expr::Function(f) if f.over.is_none() && f.filter.is_none() => {
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
                PostExpr::Func(name, args)
            }
            Expr::Value(_)
            | Expr::UnaryOp {
                op: UnaryOperator::Minus,
                ..
            } if key_literal(self.parsed, e).is_some() => match key_literal(self.parsed, e) {
                Some(KeyExpr::Literal(v)) => PostExpr::Literal(v),
                Some(KeyExpr::Param(i)) => {
                    PostExpr::Literal(self.params.get(i.wrapping_sub(1)).cloned().ok_or_else(
                        || Error::internal(format!("parameter ?{i} is out of range")),
                    )?)
                }
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
                    BinaryOperator::BitwiseAnd => BinOp::BitAnd,
                    BinaryOperator::BitwiseOr => BinOp::BitOr,
                    BinaryOperator::PGBitwiseShiftLeft => BinOp::Shl,
                    BinaryOperator::PGBitwiseShiftRight => BinOp::Shr,
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
                kind: sqlparser::ast::CastKind::Cast,
                expr,
                data_type,
                format: None,
                ..
            } => PostExpr::Cast(boxed(self, expr)?, data_type.to_string()),
            Expr::Collate { expr, collation } => {
                PostExpr::Collate(boxed(self, expr)?, object_name(collation))
            }
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

/// sqlparser's precedence differs from SQLite's for comparison chains (`1 = 2 < 3`: SQLite
/// binds `<` tighter than `=`); such a tree over merged groups is refused rather than
/// evaluated wrongly. (`||` and the bit operators read with SQLite's precedence: see
/// `parse::D1Dialect`.)
fn check_precedence(op: BinOp, left: &Expr, right: &Expr, a: &Analysis) -> Result<()> {
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
            }
        )
    };
    let me_comparison = matches!(
        op,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
    );
    if me_comparison && (comparison(left) || comparison(right)) {
        return Err(refuse(
            "an expression chaining comparison operators without parentheses",
            a,
        ));
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
    let distinct = match &select.distinct {
        None | Some(sqlparser::ast::Distinct::All) => false,
        Some(sqlparser::ast::Distinct::Distinct) => true,
        Some(_) => return Err(refuse("SELECT DISTINCT ON", a)),
    };
    if select.projection.iter().any(|i| {
        !matches!(
            i,
            SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
        )
    }) {
        return Err(refuse("`*` in an aggregate query", a));
    }
    let scope = Scope::of(select, cx.catalog);
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
    // The output item a GROUP BY or ORDER BY term names: an ordinal, or an alias, which
    // SQLite prefers to a column of that name in ORDER BY but not in GROUP BY.
    let output_item = |e: &Expr, clause: &str, t: usize| -> Result<Option<usize>> {
        if let Expr::Identifier(id) = e {
            if clause == "GROUP BY" && scope.column(e).is_some() {
                return Ok(None);
            }
            return Ok(aliases.iter().position(|al| {
                al.as_deref()
                    .is_some_and(|al| al.eq_ignore_ascii_case(&id.value))
            }));
        }
        match ordinal(parsed, e) {
            Some(n) if n >= 1 && (n as usize) <= item_exprs.len() => Ok(Some(n as usize - 1)),
            Some(_) => Err(ordinal_out_of_range(clause, t + 1, item_exprs.len())),
            None => Ok(None),
        }
    };

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
    let mut columns_decl = Vec::new();
    for (t, (term, range)) in group_terms.iter().zip(&group_ranges).enumerate() {
        let resolved = output_item(term, "GROUP BY", t)?;
        let (expr, text) = match resolved {
            Some(i) => (
                item_exprs[i].clone(),
                item_expr_range(parsed, &items[i], aliases[i].is_some()),
            ),
            None => (term.clone(), range.clone()),
        };
        // The coordinator groups under the key's collation; which spelling of a group
        // SQLite shows is checked when the rows are in (see the ambiguity check below).
        let collation = super::terms::expression_collation(&expr, &scope, a)?;
        columns_decl.push(format!(
            "\"__d1p_g{}\" {} COLLATE {}",
            group_exprs.len() + 1,
            declared_type_of(scope.affinity(&expr)),
            format!("{collation:?}").to_uppercase()
        ));
        group_exprs.push(expr);
        group_texts.push(text);
    }

    let mut b = Builder {
        parsed,
        a,
        scope: &scope,
        params,
        group_exprs,
        partials: Vec::new(),
        aggs: Vec::new(),
        agg_keys: Vec::new(),
        distinct: Vec::new(),
        checks: Vec::new(),
    };
    let output = item_exprs
        .iter()
        .map(|e| b.post(e))
        .collect::<Result<Vec<_>>>()?;
    let having = select.having.as_ref().map(|h| b.post(h)).transpose()?;
    // ORDER BY terms: an output ordinal (kept as one), or an expression over groups.
    let mut order: Vec<(
        Option<usize>,
        Option<PostExpr>,
        &sqlparser::ast::OrderByExpr,
    )> = Vec::new();
    for (t, term) in super::terms::order_terms(q, a)?.iter().enumerate() {
        let inner = match &term.expr {
            Expr::Collate { expr, .. } => expr.as_ref(),
            e => e,
        };
        match output_item(inner, "ORDER BY", t)? {
            Some(i) => order.push((Some(i), None, term)),
            None => order.push((None, Some(b.post(inner)?), term)),
        }
    }
    let (limit, offset) = super::terms::limit_offset(parsed, q.limit_clause.as_ref(), params, a)?;

    // The coordinator's query over the partial rows.
    let g = b.group_exprs.len();
    let aggs = std::mem::take(&mut b.aggs);
    let mut final_params = Vec::new();
    let mut r = Render {
        aggs: &aggs,
        params: &mut final_params,
    };
    // DISTINCT runs in the coordinator over the final rows, as SQLite runs it after
    // grouping. Ordering by something not in the output would pick one of the rows a
    // duplicate stands for, in an order the shards decide.
    let is_output = |(column, expr, _): &(Option<usize>, Option<PostExpr>, _)| {
        column.is_some() || expr.as_ref().is_some_and(|e| output.contains(e))
    };
    if distinct && !order.iter().all(is_output) {
        return Err(refuse(
            "SELECT DISTINCT with aggregates ordered by a term that is not an output column",
            a,
        ));
    }
    let mut final_sql = String::from(if distinct {
        "SELECT DISTINCT "
    } else {
        "SELECT "
    });
    for (i, e) in output.iter().enumerate() {
        if i > 0 {
            final_sql.push_str(", ");
        }
        e.render(&mut final_sql, &mut r);
    }
    final_sql.push_str(" FROM ");
    final_sql.push_str(PARTIALS);
    if g > 0 {
        let keys = group_keys(g);
        final_sql.push_str(" GROUP BY ");
        final_sql.push_str(&keys.join(", "));
    }
    if let Some(h) = &having {
        final_sql.push_str(" HAVING ");
        h.render(&mut final_sql, &mut r);
    }
    for (i, (column, expr, term)) in order.iter().enumerate() {
        final_sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
        match (column, expr) {
            (Some(c), _) => final_sql.push_str(&(c + 1).to_string()),
            (None, Some(e)) => e.render(&mut final_sql, &mut r),
            (None, None) => {}
        }
        if let Expr::Collate { collation, .. } = &term.expr {
            final_sql.push_str(&format!(
                " COLLATE \"{}\"",
                object_name(collation).replace('"', "\"\"")
            ));
        }
        if matches!(term.options.sort, Some(sqlparser::ast::OrderBySort::Desc)) {
            final_sql.push_str(" DESC");
        }
        match term.options.nulls_first {
            Some(true) => final_sql.push_str(" NULLS FIRST"),
            Some(false) => final_sql.push_str(" NULLS LAST"),
            None => {}
        }
    }
    if limit.is_some() || offset > 0 {
        let clamp = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
        r.params
            .push(limit.map(clamp).unwrap_or(Value::Integer(-1)));
        let l = r.params.len();
        r.params.push(clamp(offset));
        final_sql.push_str(&format!(" LIMIT ?{l} OFFSET ?{}", l + 1));
    }

    // The shard query: group keys, distinct arguments, partials; FROM … WHERE; GROUP BY.
    // The shards group without the outer DISTINCT: it applies to the final rows only.
    let select_kw_end = if distinct {
        parsed
            .offset(select.select_token.0.span.end)
            .ok_or_else(|| refuse("SELECT DISTINCT whose SELECT keyword cannot be located", a))?
    } else {
        parsed.sql[..shape.projection.start].trim_end().len()
    };
    let from = shape
        .from
        .clone()
        .ok_or_else(|| refuse("an aggregate without FROM", a))?;
    let body_end = shape.where_.as_ref().map(|w| w.end).unwrap_or(from.end);
    let mut pieces: Vec<Piece<'_>> = vec![Piece::Source(0..select_kw_end), Piece::Text(" ")];
    let own = |t: String| Piece::Owned(t);
    let mut items_out: Vec<Vec<Piece<'_>>> = Vec::new();
    for (i, t) in group_texts.iter().enumerate() {
        items_out.push(vec![
            Piece::Source(t.clone()),
            own(format!(" AS \"__d1p_g{}\"", i + 1)),
        ]);
    }
    for (i, d) in b.distinct.iter().enumerate() {
        items_out.push(vec![
            Piece::Source(d.range.clone()),
            own(format!(" AS \"__d1p_d{}\"", i + 1)),
        ]);
        columns_decl.push(format!("\"__d1p_d{}\" {}", i + 1, d.declaration));
    }
    for (i, p) in b.partials.iter().enumerate() {
        let mut call = vec![own(format!("{}(", p.func))];
        match &p.arg {
            None => call.push(Piece::Text("*")),
            Some(r) => call.extend(expand(p.wrap.template(), r)),
        }
        call.push(own(format!("{})", p.extra)));
        let only: Option<Vec<Piece<'_>>> = match (&p.arg, p.only) {
            (Some(r), Only::Finite) => Some(expand("(($) + 0.0) BETWEEN -9.2e18 AND 9.2e18", r)),
            (Some(r), Only::Huge) => Some(expand("NOT (($) + 0.0) BETWEEN -9.2e18 AND 9.2e18", r)),
            (Some(r), Only::IntegerStorage) => Some(expand("typeof($) = 'integer'", r)),
            (Some(r), Only::OtherStorage) => {
                Some(expand("typeof($) NOT IN ('integer', 'null')", r))
            }
            (Some(r), Only::PositiveInteger) => {
                Some(expand("typeof($) = 'integer' AND ($) > 0", r))
            }
            (Some(r), Only::NegativeInteger) => {
                Some(expand("typeof($) = 'integer' AND ($) < 0", r))
            }
            _ => None,
        };
        if p.filter.is_some() || only.is_some() {
            call.push(Piece::Text(" FILTER (WHERE "));
            if let Some(f) = &p.filter {
                call.extend([Piece::Text("("), Piece::Source(f.clone()), Piece::Text(")")]);
                if only.is_some() {
                    call.push(Piece::Text(" AND "));
                }
            }
            call.extend(only.into_iter().flatten());
            call.push(Piece::Text(")"));
        }
        call.push(own(format!(" AS \"__d1p_a{}\"", i + 1)));
        items_out.push(call);
        columns_decl.push(format!("\"__d1p_a{}\"", i + 1));
    }
    // Equal group keys of different types or spellings (1 and 1.0; 'A' and 'a' under
    // NOCASE) are one group, shown as the value SQLite meets first: within a shard, or
    // across shards, that choice is the row order's.
    for (i, t) in group_texts.iter().enumerate() {
        items_out.push(vec![
            Piece::Text("count(DISTINCT quote("),
            Piece::Source(t.clone()),
            own(format!(")) AS \"__d1p_t{}\"", i + 1)),
        ]);
        columns_decl.push(format!("\"__d1p_t{}\"", i + 1));
    }
    if g > 0 {
        let keys = group_keys(g);
        let mixed: Vec<String> = (1..=g)
            .map(|i| {
                format!("max(\"__d1p_t{i}\") > 1 OR count(DISTINCT quote(\"__d1p_g{i}\")) > 1")
            })
            .collect();
        b.checks.push((
            format!(
                "SELECT 1 FROM {PARTIALS} GROUP BY {} HAVING {}",
                keys.join(", "),
                mixed.join(" OR ")
            ),
            "GROUP BY across shards met equal keys of different types or spellings (such as 1 and 1.0, or 'A' and 'a' under NOCASE); which one SQLite shows depends on row order".into(),
        ));
    }
    if items_out.is_empty() {
        // Only DISTINCT aggregates and no group keys: still a valid projection.
        items_out.push(vec![Piece::Text("1")]);
    }
    for (i, item) in items_out.into_iter().enumerate() {
        if i > 0 {
            pieces.push(Piece::Text(", "));
        }
        pieces.extend(item);
    }
    // Group by the projected aliases: a constant key (`count(DISTINCT 83)`) would read as
    // an ordinal in GROUP BY. Distinct values also by type, so `1` and `1.0` both arrive.
    let mut grouping = group_keys(g);
    for i in 0..b.distinct.len() {
        grouping.push(format!("\"__d1p_d{}\"", i + 1));
        grouping.push(format!("typeof(\"__d1p_d{}\")", i + 1));
    }
    pieces.push(Piece::Text(" "));
    pieces.push(Piece::Source(from.start..body_end));
    if !grouping.is_empty() {
        pieces.push(own(format!(" GROUP BY {}", grouping.join(", "))));
    }
    let shard_sql = splice(parsed, &pieces, params);
    let columns = select
        .projection
        .iter()
        .zip(&items)
        .map(|(i, r)| column_name(parsed, i, r, &scope))
        .collect();
    Ok(PlannedAggregate {
        shard_sql,
        merge: AggregateMerge {
            step: FinalStep {
                columns: columns_decl,
                sql: final_sql,
                params: final_params,
                ambiguity_checks: b.checks,
            },
        },
        columns,
    })
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
