//! Builds shard SQL by splicing pieces of the original text, never by printing the AST
//! (sqlparser's printer is not faithful to SQLite: `- -1` prints as `--1`, a comment).
//! Parameters inside the pieces are renumbered `?1, ?2, …` in order of appearance, and
//! the values they bind are gathered in the same order.

use crate::error::Result;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::value::Value;
use std::ops::Range;

/// A piece of shard SQL.
#[derive(Debug, Clone)]
pub(crate) enum Piece<'a> {
    /// A byte range of the original text.
    Source(Range<usize>),
    /// Literal text of our own (a separator, a keyword).
    Text(&'a str),
    /// Text of our own, made for this statement (an alias, a partial's call).
    Owned(String),
}

/// SQL text and the parameters it binds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spliced {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Number of parameter occurrences inside `range` of the original text.
pub(crate) fn params_in(parsed: &Parsed, range: &Range<usize>) -> usize {
    let occ = &parsed.params.occurrences;
    let lo = occ.partition_point(|(o, _)| *o < range.start);
    let hi = occ.partition_point(|(o, _)| *o < range.end);
    hi - lo
}

/// The pieces as one SQL text, its parameters renumbered in order of appearance.
pub(crate) fn splice(
    parsed: &Parsed,
    pieces: &[Piece<'_>],
    params: &Params<'_>,
) -> Result<Spliced> {
    let sql = &parsed.sql;
    let mut out = String::with_capacity(sql.len());
    let mut bound = Vec::new();
    let occ = &parsed.params.occurrences;
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Owned(t) => out.push_str(t),
            Piece::Source(range) => {
                let mut cursor = range.start;
                let first = occ.partition_point(|(o, _)| *o < range.start);
                for &(offset, index) in occ[first..].iter().take_while(|(o, _)| *o < range.end) {
                    let end = parsed.token_at(offset).map(|t| t.end).unwrap_or(offset);
                    out.push_str(&sql[cursor..offset]);
                    bound.push(params.carry(index)?);
                    out.push('?');
                    out.push_str(&bound.len().to_string());
                    cursor = end;
                }
                out.push_str(&sql[cursor..range.end]);
            }
        }
    }
    Ok(Spliced {
        sql: out,
        params: bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_parameters_in_order() {
        let sql = "INSERT INTO t VALUES (?, :a), (?3, :a) ON CONFLICT DO UPDATE SET x = :a";
        let p = Parsed::new(sql).unwrap();
        let params = vec![
            Value::Integer(1),
            Value::Text("a".into()),
            Value::Integer(3),
        ];
        // Second row only, then the suffix.
        let row2 = sql.find("(?3").unwrap()..sql.find(" ON").unwrap();
        let pieces = [
            Piece::Source(0..sql.find('(').unwrap()),
            Piece::Source(row2),
            Piece::Source(sql.find(" ON").unwrap()..sql.len()),
        ];
        // A parameter out of range is a d1plus bug, reported, never bound as NULL.
        let short = splice(&p, &pieces, &Params::new(&params[..1])).unwrap_err();
        assert_eq!(short.code(), crate::error::ErrorCode::Internal, "{short}");
        let s = splice(&p, &pieces, &Params::new(&params)).unwrap();
        assert_eq!(
            s.sql,
            "INSERT INTO t VALUES (?1, ?2) ON CONFLICT DO UPDATE SET x = ?3"
        );
        assert_eq!(
            s.params,
            vec![
                Value::Integer(3),
                Value::Text("a".into()),
                Value::Text("a".into())
            ]
        );
    }

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
                .query_row(&format!("SELECT ({})", v.sql_literal()), [], |r| {
                    Ok(Value::from(r.get_ref(0)?))
                })
                .unwrap();
            assert_eq!(got, v, "{}", v.sql_literal());
        }
        // A NaN reads back as what SQLite stores when one is bound: NULL.
        let nan = Value::Real(f64::NAN);
        let bound: Value = c
            .query_row("SELECT ?1", [&nan], |r| Ok(Value::from(r.get_ref(0)?)))
            .unwrap();
        let literal: Value = c
            .query_row(&format!("SELECT ({})", nan.sql_literal()), [], |r| {
                Ok(Value::from(r.get_ref(0)?))
            })
            .unwrap();
        assert_eq!((bound, literal), (Value::Null, Value::Null));
    }
}
