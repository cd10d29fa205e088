//! Two phases for `INSERT INTO t … SELECT …` that reads sharded tables when no shard can
//! run it alone (issue 10): a rollup into a reference or unsharded table, or a copy into a
//! sharded table whose rows change shard. The SELECT runs first, merged exactly across
//! shards like any read; its rows are then written as `INSERT … VALUES` statements with
//! bound parameters (exact values, at most [`D1_MAX_PARAMS`] per statement), routed like
//! any INSERT and sent as one batch, so each shard applies its part atomically. The two
//! phases are not one snapshot, and a write spanning shards is atomic per shard only.
//!
//! Taken when the INSERT has no `ON CONFLICT` (an upsert's text after the SELECT cannot
//! follow VALUES as written) and no `RETURNING`.

use super::output::Statement;
use super::splice::{splice, Piece, Spliced};
use super::D1_MAX_PARAMS;
use crate::error::{Error, Result};
use crate::lex::TokenKind;
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::value::Value;

/// Most rows an INSERT … SELECT computed first may write.
pub(crate) const MAX_ROWS: usize = 100_000;

/// An `INSERT … SELECT` split in two: the INSERT's head and the SELECT to read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InsertSelect {
    /// `INSERT [OR …] INTO t [(columns)]`, parameters renumbered.
    pub head: Spliced,
    /// The SELECT, parameters renumbered from 1.
    pub select: Spliced,
}

/// The two halves of a plain `INSERT … SELECT`, or None for any other statement.
pub(crate) fn split(parsed: &Parsed, params: &[Value]) -> Option<InsertSelect> {
    let params = &Params::new(params);
    let Ok(sqlparser::ast::Statement::Insert(insert)) = &parsed.ast else {
        return None;
    };
    let source = insert.source.as_ref()?;
    let reads_rows = matches!(
        source.body.as_ref(),
        sqlparser::ast::SetExpr::Select(_) | sqlparser::ast::SetExpr::SetOperation { .. }
    );
    if !reads_rows || insert.on.is_some() || insert.returning.is_some() {
        return None;
    }
    // The SELECT starts at the first SELECT or WITH outside parentheses (the column list).
    let sql = &parsed.sql;
    let mut depth = 0usize;
    let start = parsed.tokens.iter().find_map(|t| {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 && (t.is_keyword(sql, "SELECT") || t.is_keyword(sql, "WITH")) => {
                return Some(t.start)
            }
            _ => {}
        }
        None
    })?;
    let end = sql.trim_end().trim_end_matches(';').trim_end().len();
    Some(InsertSelect {
        head: splice(parsed, &[Piece::Source(0..start)], params).ok()?,
        select: splice(parsed, &[Piece::Source(start..end)], params).ok()?,
    })
}

impl InsertSelect {
    /// The INSERT … VALUES statements writing `rows`, each within D1's bound-parameter
    /// limit (the head's own parameters included).
    pub(crate) fn writes(&self, rows: &[Vec<Value>]) -> Result<Vec<Statement>> {
        if rows.len() > MAX_ROWS {
            return Err(Error::unsupported(
                format!("INSERT … SELECT over sharded tables computes its rows first, and this one gives more than {MAX_ROWS}"),
                "copy the rows in ranges (WHERE on the key or the id), one INSERT … SELECT each",
            ));
        }
        let width = rows.first().map_or(0, Vec::len).max(1);
        let room = D1_MAX_PARAMS.saturating_sub(self.head.params.len());
        if width > room {
            return Err(Error::unsupported(
                format!("INSERT … SELECT over sharded tables of {width} columns: its rows are written back with bound parameters, at most {D1_MAX_PARAMS} per statement"),
                "select fewer columns per statement",
            ));
        }
        let per_statement = room / width;
        let head = self.head.sql.trim_end();
        Ok(rows
            .chunks(per_statement)
            .map(|chunk| {
                let mut sql = format!("{head} VALUES ");
                let mut params = self.head.params.clone();
                for (i, row) in chunk.iter().enumerate() {
                    sql.push_str(if i == 0 { "(" } else { ", (" });
                    for (j, v) in row.iter().enumerate() {
                        params.push(v.clone());
                        sql.push_str(&format!(
                            "{}?{}",
                            if j == 0 { "" } else { ", " },
                            params.len()
                        ));
                    }
                    sql.push(')');
                }
                Statement::new(sql).bind(params)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_head_from_the_select_and_writes_within_the_parameter_limit() {
        let sql = "INSERT OR REPLACE INTO totals (tag, n) SELECT tag, count(*) FROM items WHERE qty > ? GROUP BY tag;";
        let p = Parsed::new(sql).unwrap();
        let s = split(&p, &[Value::Integer(3)]).unwrap();
        assert_eq!(s.head.sql, "INSERT OR REPLACE INTO totals (tag, n) ");
        assert_eq!(
            s.select.sql,
            "SELECT tag, count(*) FROM items WHERE qty > ? GROUP BY tag"
        );
        assert_eq!(s.select.params, vec![Value::Integer(3)]);
        let rows: Vec<Vec<Value>> = (0..120)
            .map(|i| vec![Value::Text(format!("t{i}")), Value::Integer(i)])
            .collect();
        let w = s.writes(&rows).unwrap();
        assert_eq!(w.len(), 3, "50 rows of 2 per statement");
        assert_eq!(w[0].params.len(), 100);
        assert_eq!(w[2].params.len(), 40);
        assert!(w[0]
            .sql
            .starts_with("INSERT OR REPLACE INTO totals (tag, n) VALUES (?1, ?2), (?3, ?4)"));
        assert_eq!(w[2].params[39], Value::Integer(119));
        // Upserts and RETURNING keep their one-phase handling.
        for sql in [
            "INSERT INTO t SELECT * FROM items WHERE 1 ON CONFLICT DO NOTHING",
            "INSERT INTO t SELECT * FROM items RETURNING *",
            "INSERT INTO t VALUES (1)",
            "SELECT 1",
        ] {
            assert!(split(&Parsed::new(sql).unwrap(), &[]).is_none(), "{sql}");
        }
    }
}
