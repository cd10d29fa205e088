//! Shard-key values read from the original text as SQLite reads them: literals and
//! parameters, and constant expressions of literals evaluated by SQLite.

use crate::lex::{self, Token, TokenKind};
use crate::parse::Parsed;
use crate::sql::{parse_number_literal, strip_nested, KeyExpr};
use crate::value::Value;
use sqlparser::ast::{Expr, UnaryOperator};

/// A literal or parameter, read from the original text (not from sqlparser's value,
/// which misreads `0x1F`), or a constant expression of literals and operators
/// (`1 << 63`, `'t' || 1`), evaluated by SQLite. Such an expression has no affinity, as
/// a literal has none, so it compares with a key column as its value does.
pub fn key_literal(parsed: &Parsed, e: &Expr) -> Option<KeyExpr> {
    simple_literal(parsed, e).or_else(|| constant_expression(parsed, e))
}

fn simple_literal(parsed: &Parsed, e: &Expr) -> Option<KeyExpr> {
    match strip_nested(e) {
        Expr::Value(v) => literal_at(parsed, v.span.start),
        Expr::UnaryOp {
            op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
            expr,
        } => match (op, strip_nested(expr)) {
            (UnaryOperator::Minus, Expr::Value(v)) => negated_literal_at(parsed, v.span.start),
            (_, Expr::Value(v)) => literal_at(parsed, v.span.start),
            _ => None,
        },
        _ => None,
    }
}

/// Longest constant expression evaluated for a key (its text).
const MAX_CONSTANT_BYTES: usize = 256;

fn constant_expression(parsed: &Parsed, e: &Expr) -> Option<KeyExpr> {
    fn operators_over_literals(e: &Expr) -> bool {
        match e {
            Expr::Nested(inner) => operators_over_literals(inner),
            Expr::Value(v) => !matches!(v.value, sqlparser::ast::Value::Placeholder(_)),
            Expr::UnaryOp { expr, .. } => operators_over_literals(expr),
            Expr::BinaryOp { left, op, right } => {
                use sqlparser::ast::BinaryOperator as B;
                matches!(
                    op,
                    B::Plus
                        | B::Minus
                        | B::Multiply
                        | B::Divide
                        | B::Modulo
                        | B::StringConcat
                        | B::BitwiseAnd
                        | B::BitwiseOr
                        | B::PGBitwiseShiftLeft
                        | B::PGBitwiseShiftRight
                ) && operators_over_literals(left)
                    && operators_over_literals(right)
            }
            _ => false,
        }
    }
    let e = strip_nested(e);
    if !matches!(e, Expr::BinaryOp { .. } | Expr::UnaryOp { .. }) || !operators_over_literals(e) {
        return None;
    }
    // sqlparser's spans leave out unary operators and parentheses: widen the text by
    // them until it reads back as the same tree (or give up).
    let span = sqlparser::ast::Spanned::span(e);
    let (mut start, mut end) = (parsed.offset(span.start)?, parsed.offset(span.end)?);
    let want = e.to_string();
    let tokens = &parsed.tokens;
    let text = loop {
        let text = parsed.sql.get(start..end)?;
        if text.len() > MAX_CONSTANT_BYTES {
            return None;
        }
        if crate::parse::parse_expression(text).is_some_and(|t| t.to_string() == want) {
            break text;
        }
        let opens = text.matches('(').count();
        let closes = text.matches(')').count();
        let before = tokens.iter().rev().find(|t| t.end <= start);
        let after = tokens.iter().find(|t| t.start >= end);
        match (before, after) {
            (_, Some(t)) if opens > closes && t.kind == TokenKind::RParen => end = t.end,
            (Some(t), _)
                if t.kind == TokenKind::LParen
                    || (t.kind == TokenKind::Operator
                        && matches!(t.text(&parsed.sql), "-" | "+" | "~"))
                    || t.is_keyword(&parsed.sql, "NOT") =>
            {
                start = t.start
            }
            _ => return None,
        }
    };
    // The text must be the expression and nothing else: no parameter, and no word (a
    // column or function name) that the tree did not show.
    let only_literals = lex::significant(text).iter().all(|t| match t.kind {
        TokenKind::Word => ["NULL", "TRUE", "FALSE", "NOT"]
            .iter()
            .any(|w| t.is_keyword(text, w)),
        TokenKind::Variable => false,
        _ => true,
    });
    if !only_literals {
        return None;
    }
    crate::validate::constant(text).map(KeyExpr::Literal)
}

/// The literal or parameter at `loc`.
fn literal_at(parsed: &Parsed, loc: sqlparser::tokenizer::Location) -> Option<KeyExpr> {
    let offset = parsed.offset(loc)?;
    let tok = parsed.token_at(offset)?;
    if tok.kind == TokenKind::Variable {
        return parsed.params.index_at(offset).map(KeyExpr::Param);
    }
    token_value(&parsed.sql, tok).map(KeyExpr::Literal)
}

/// The literal at `loc` under a unary minus. A parameter is not one: `-?` is an
/// expression, whose value is not the parameter's.
fn negated_literal_at(parsed: &Parsed, loc: sqlparser::tokenizer::Location) -> Option<KeyExpr> {
    let tok = parsed.token_at(parsed.offset(loc)?)?;
    match token_value(&parsed.sql, tok)? {
        Value::Integer(i) => Some(KeyExpr::Literal(
            i.checked_neg()
                .map(Value::Integer)
                .unwrap_or(Value::Real(-(i as f64))),
        )),
        // SQLite reads `-9223372036854775808` as the smallest integer, not as a REAL.
        Value::Real(_) if tok.text(&parsed.sql) == "9223372036854775808" => {
            Some(KeyExpr::Literal(Value::Integer(i64::MIN)))
        }
        Value::Real(r) => Some(KeyExpr::Literal(Value::Real(-r))),
        _ => None,
    }
}

/// The value of a literal token (number, string, blob, NULL, TRUE, FALSE).
fn token_value(sql: &str, tok: &Token) -> Option<Value> {
    let text = tok.text(sql);
    Some(match tok.kind {
        TokenKind::Number => parse_number_literal(text)?,
        TokenKind::String => Value::Text(lex::unquote(text)),
        TokenKind::Blob => Value::Blob(
            (2..text.len().saturating_sub(1))
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
                .collect(),
        ),
        TokenKind::Word if text.eq_ignore_ascii_case("NULL") => Value::Null,
        TokenKind::Word if text.eq_ignore_ascii_case("TRUE") => Value::Integer(1),
        TokenKind::Word if text.eq_ignore_ascii_case("FALSE") => Value::Integer(0),
        _ => return None,
    })
}
