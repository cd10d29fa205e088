//! Literals as SQLite reads them: a shard-key value as written, numeric literals. Reading
//! one out of a parsed statement is analyze's (`analyze::key_literal`): it needs the parse
//! and, for constant expressions, SQLite.

use crate::value::Value;
use serde::Serialize;

/// A shard-key value as written in the SQL: a literal, or a parameter number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum KeyExpr {
    /// A literal value (`42`, `'acme'`, `-1`, `0x10`).
    Literal(Value),
    /// The 1-based parameter number of `?`, `?NNN` or a named parameter.
    Param(usize),
}

/// A numeric literal as SQLite reads it: decimal integers (REAL when they overflow),
/// hexadecimal integers (two's complement, at most 16 digits), and reals.
pub fn parse_number_literal(text: &str) -> Option<Value> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.len() > 16 {
            return None;
        }
        return u64::from_str_radix(hex, 16)
            .ok()
            .map(|u| Value::Integer(u as i64));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            text.parse::<i64>()
                .map(Value::Integer)
                .unwrap_or_else(|_| Value::Real(text.parse::<f64>().unwrap_or(f64::INFINITY))),
        );
    }
    text.parse::<f64>().ok().map(Value::Real)
}
