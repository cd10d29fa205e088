//! Expressions over merged groups (`max(x) - min(x)`, `round(avg(x), 2)`,
//! `HAVING count(*) > 2`), as a tree the planner builds from the statement and renders as
//! SQL for the coordinator, which evaluates it with SQLite's own semantics. Nothing here
//! evaluates anything.

use crate::value::Value;
use serde::Serialize;
use std::fmt::Write;

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `||`
    Concat,
    /// `=` / `==`
    Eq,
    /// `<>` / `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `IS` / `IS NOT DISTINCT FROM`
    Is,
    /// `IS NOT` / `IS DISTINCT FROM`
    IsNot,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
}

impl BinOp {
    fn sql(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Concat => "||",
            Eq => "=",
            Ne => "<>",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Is => "IS",
            IsNot => "IS NOT",
            And => "AND",
            Or => "OR",
            BitAnd => "&",
            BitOr => "|",
            Shl => "<<",
            Shr => ">>",
        }
    }
}

/// An expression over a merged row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum PostExpr {
    /// A constant (bound as a parameter: it has no affinity, as a literal has none).
    Literal(Value),
    /// The i-th group key column of the partial table.
    GroupKey(usize),
    /// The i-th aggregate, combined from its partials.
    Agg(usize),
    /// `-x`
    Neg(Box<PostExpr>),
    /// `+x`
    Plus(Box<PostExpr>),
    /// `NOT x`
    Not(Box<PostExpr>),
    /// `~x`
    BitNot(Box<PostExpr>),
    /// `a op b`
    Binary(BinOp, Box<PostExpr>, Box<PostExpr>),
    /// `x IS [NOT] NULL`
    IsNull(Box<PostExpr>, bool),
    /// `x [NOT] BETWEEN lo AND hi`
    Between(Box<PostExpr>, Box<PostExpr>, Box<PostExpr>, bool),
    /// `x [NOT] IN (list)`
    InList(Box<PostExpr>, Vec<PostExpr>, bool),
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`
    Case(
        Option<Box<PostExpr>>,
        Vec<(PostExpr, PostExpr)>,
        Option<Box<PostExpr>>,
    ),
    /// `CAST(x AS type)`, with the type as written.
    Cast(Box<PostExpr>, String),
    /// `x COLLATE name`.
    Collate(Box<PostExpr>, String),
    /// A scalar function call (lower-case name).
    Func(String, Vec<PostExpr>),
}

/// Scalar functions that read the connection's state rather than their arguments: they
/// would answer for the coordinator, not for the shards.
pub fn connection_function(name: &str) -> bool {
    matches!(
        name,
        "changes" | "last_insert_rowid" | "total_changes" | "sqlite_offset"
    )
}

/// Where rendering writes parameters and how it names aggregates.
pub struct Render<'a> {
    /// The SQL of each combined aggregate.
    pub aggs: &'a [String],
    /// Parameters, numbered from 1 in the order they are added.
    pub params: &'a mut Vec<Value>,
}

impl PostExpr {
    /// Writes the expression as SQL over the partial table, fully parenthesized.
    pub fn render(&self, out: &mut String, r: &mut Render<'_>) {
        let bin = |out: &mut String, r: &mut Render<'_>, a: &PostExpr, op: &str, b: &PostExpr| {
            out.push('(');
            a.render(out, r);
            let _ = write!(out, " {op} ");
            b.render(out, r);
            out.push(')');
        };
        match self {
            PostExpr::Literal(v) => {
                r.params.push(v.clone());
                let _ = write!(out, "?{}", r.params.len());
            }
            PostExpr::GroupKey(i) => {
                let _ = write!(out, "\"__d1p_g{}\"", i + 1);
            }
            PostExpr::Agg(i) => match r.aggs.get(*i) {
                Some(sql) => out.push_str(sql),
                None => out.push_str("NULL"),
            },
            PostExpr::Neg(x) => unary(out, r, "-", x),
            PostExpr::Plus(x) => unary(out, r, "+", x),
            PostExpr::Not(x) => unary(out, r, "NOT ", x),
            PostExpr::BitNot(x) => unary(out, r, "~", x),
            PostExpr::Binary(op, a, b) => bin(out, r, a, op.sql(), b),
            PostExpr::IsNull(x, negated) => {
                out.push('(');
                x.render(out, r);
                out.push_str(if *negated {
                    " IS NOT NULL)"
                } else {
                    " IS NULL)"
                });
            }
            PostExpr::Between(x, lo, hi, negated) => {
                out.push('(');
                x.render(out, r);
                out.push_str(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                });
                lo.render(out, r);
                out.push_str(" AND ");
                hi.render(out, r);
                out.push(')');
            }
            PostExpr::InList(x, items, negated) => {
                out.push('(');
                x.render(out, r);
                out.push_str(if *negated { " NOT IN (" } else { " IN (" });
                list(out, r, items);
                out.push_str("))");
            }
            PostExpr::Case(operand, whens, otherwise) => {
                out.push_str("(CASE");
                if let Some(o) = operand {
                    out.push(' ');
                    o.render(out, r);
                }
                for (w, t) in whens {
                    out.push_str(" WHEN ");
                    w.render(out, r);
                    out.push_str(" THEN ");
                    t.render(out, r);
                }
                if let Some(e) = otherwise {
                    out.push_str(" ELSE ");
                    e.render(out, r);
                }
                out.push_str(" END)");
            }
            PostExpr::Cast(x, ty) => {
                out.push_str("CAST(");
                x.render(out, r);
                let _ = write!(out, " AS {ty})");
            }
            PostExpr::Collate(x, name) => {
                out.push('(');
                x.render(out, r);
                let _ = write!(out, " COLLATE \"{}\")", name.replace('"', "\"\""));
            }
            PostExpr::Func(name, args) => {
                if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    out.push_str(name);
                    out.push('(');
                } else {
                    let _ = write!(out, "\"{}\"(", name.replace('"', "\"\""));
                }
                list(out, r, args);
                out.push(')');
            }
        }
    }
}

fn unary(out: &mut String, r: &mut Render<'_>, op: &str, x: &PostExpr) {
    out.push('(');
    out.push_str(op);
    x.render(out, r);
    out.push(')');
}

fn list(out: &mut String, r: &mut Render<'_>, items: &[PostExpr]) {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        e.render(out, r);
    }
}
