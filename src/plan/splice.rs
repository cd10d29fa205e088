//! Builds shard SQL by splicing pieces of the original text, never by printing the AST
//! (sqlparser's printer is not faithful to SQLite: `- -1` prints as `--1`, a comment).
//! Parameters inside the pieces are renumbered `1, 2, …` in order of first appearance, and
//! the values they bind are gathered in the same order. A `?` keeps its spelling (SQLite
//! gives it the next number, which is its new one), and when the pieces keep every
//! parameter in the original's order, every `?N` does too, since SQLite names an unnamed
//! result column by its text: `SELECT ? || name` must not come back as `?2 || name`. Named
//! parameters (`:a`, `@a`, `$a`) become `?N` (D1 takes only `?` and `?NNN`); the planners
//! name such columns themselves.

use crate::error::Result;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::value::Value;
use smallvec::SmallVec;
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

/// Whether the source ranges of `pieces` hold every parameter occurrence of the original
/// once, in the original's order.
fn keeps_every_parameter_in_order(parsed: &Parsed, pieces: &[Piece<'_>]) -> bool {
    let occ = &parsed.params.occurrences;
    let mut next = 0; // The occurrence the next source range must start from.
    for piece in pieces {
        if let Piece::Source(range) = piece {
            let first = occ.partition_point(|(o, _)| *o < range.start);
            let end = occ.partition_point(|(o, _)| *o < range.end);
            if end > first {
                if first != next {
                    return false;
                }
                next = end;
            }
        }
    }
    next == occ.len()
}

/// The pieces as one SQL text, its parameters renumbered in order of first appearance.
pub(crate) fn splice(
    parsed: &Parsed,
    pieces: &[Piece<'_>],
    params: &Params<'_>,
) -> Result<Spliced> {
    if keeps_every_parameter_in_order(parsed, pieces) {
        // The same parameter tokens in the same order: SQLite numbers them as in the
        // original, so the original's values bind as they are, and each parameter keeps
        // its spelling, a name its number.
        let sql = write(parsed, pieces, |text, index| {
            Ok((!text.starts_with('?')).then_some(index))
        })?;
        let params = (1..=parsed.params.count)
            .map(|i| params.carry(i))
            .collect::<Result<_>>()?;
        return Ok(Spliced { sql, params });
    }
    let mut bound = Vec::new();
    // Per parameter of the original (by its number): its new number, 0 until it has one.
    // Indexed, not searched: a statement may have thousands of parameters.
    let mut numbered: SmallVec<[usize; 16]> = SmallVec::from_elem(0, parsed.params.count + 1);
    let sql = write(parsed, pieces, |text, index| {
        let slot = numbered
            .get_mut(index)
            .ok_or_else(|| crate::error::Error::internal("a parameter beyond the count"))?;
        if *slot != 0 {
            return Ok(Some(*slot));
        }
        bound.push(params.carry(index)?);
        let n = bound.len();
        *slot = n;
        // A new `?` takes the next number, which is `n`.
        Ok((text != "?").then_some(n))
    })?;
    Ok(Spliced { sql, params: bound })
}

/// The pieces as one text, each parameter token of the source written as `number` says
/// for its text and its number in the original: `?N`, or as it is (None).
fn write(
    parsed: &Parsed,
    pieces: &[Piece<'_>],
    mut number: impl FnMut(&str, usize) -> Result<Option<usize>>,
) -> Result<String> {
    let sql = &parsed.sql;
    let occ = &parsed.params.occurrences;
    let mut out = String::with_capacity(sql.len());
    for piece in pieces {
        let range = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Owned(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Source(range) => range,
        };
        let mut cursor = range.start;
        let first = occ.partition_point(|(o, _)| *o < range.start);
        for &(offset, index) in occ[first..].iter().take_while(|(o, _)| *o < range.end) {
            let end = parsed.token_at(offset).map_or(offset, |t| t.end);
            if let Some(n) = number(&sql[offset..end], index)? {
                out.push_str(&sql[cursor..offset]);
                out.push('?');
                out.push_str(&n.to_string());
                cursor = end;
            }
        }
        out.push_str(&sql[cursor..range.end]);
    }
    Ok(out)
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
            "INSERT INTO t VALUES (?1, ?2) ON CONFLICT DO UPDATE SET x = ?2"
        );
        assert_eq!(s.params, vec![Value::Integer(3), Value::Text("a".into())]);
    }

    /// Spliced parameters bind in SQLite what they bind in the original; `?` keeps its
    /// spelling, `?N` too when every parameter stays in order, a name never (D1).
    #[test]
    fn parameters_bind_as_in_the_original_and_question_marks_stay() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        // The original, which of its parameter occurrences the splice takes (in that order,
        // one result column each), and the spliced text.
        let cases: [(&str, &[usize], &str); 9] = [
            // Every parameter, in the original's order: `?N` stays, a name takes its number.
            (
                "SELECT ?2, ?1, :a, ?",
                &[0, 1, 2, 3],
                "SELECT ?2, ?1, ?3, ?",
            ),
            ("SELECT ?3, ?3", &[0, 1], "SELECT ?3, ?3"),
            // Anonymous ones, the second moved in front (a hidden sort column).
            ("SELECT ?, ?", &[1, 0], "SELECT ?, ?"),
            ("SELECT ?, ?", &[1, 0, 1], "SELECT ?, ?, ?1"),
            // A name twice, and a number for it.
            (
                "SELECT :a, ?2, :a, ?1",
                &[1, 0, 2, 3],
                "SELECT ?1, ?2, ?2, ?2",
            ),
            // `?N` takes its new number.
            ("SELECT ?1, ?2, ?3", &[0, 2], "SELECT ?1, ?2"),
            ("SELECT $x, @y, ?", &[1, 2, 0], "SELECT ?1, ?, ?3"),
            ("SELECT ?3, ?", &[1], "SELECT ?"),
            ("SELECT ?2, ?2, :z", &[2, 1], "SELECT ?1, ?2"),
        ];
        for (sql, take, want) in cases {
            let p = Parsed::new(sql).unwrap();
            let values: Vec<Value> = (1..=p.params.count as i64).map(Value::Integer).collect();
            let occ = &p.params.occurrences;
            let mut pieces = vec![Piece::Text("SELECT ")];
            for (k, &i) in take.iter().enumerate() {
                if k > 0 {
                    pieces.push(Piece::Text(", "));
                }
                let end = p.token_at(occ[i].0).unwrap().end;
                pieces.push(Piece::Source(occ[i].0..end));
            }
            let s = splice(&p, &pieces, &Params::new(&values)).unwrap();
            assert_eq!(s.sql, want, "{sql}");
            let mut st = c.prepare(&s.sql).unwrap();
            assert_eq!(st.parameter_count(), s.params.len(), "{}", s.sql);
            let got: Vec<Value> = st
                .query_row(rusqlite::params_from_iter(s.params.iter()), |r| {
                    (0..take.len())
                        .map(|i| Ok(Value::from(r.get_ref(i)?)))
                        .collect()
                })
                .unwrap();
            let bound: Vec<Value> = take
                .iter()
                .map(|&i| Value::Integer(occ[i].1 as i64))
                .collect();
            assert_eq!(got, bound, "{sql} spliced as {}", s.sql);
        }
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
