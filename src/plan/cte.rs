//! Non-recursive common table expressions are read like the subqueries they are (issue 10):
//! `WITH c AS (body) SELECT … FROM c` means `SELECT … FROM (body) AS c` in SQLite (a CTE
//! named once or many times is evaluated as if written in place; `MATERIALIZED` only
//! changes how), so a read the planner refuses with its CTEs is planned again with each
//! reference replaced by its body, where fan-out reads of derived tables and subqueries
//! computed first apply. Column lists (`c(a, b)`), `WITH RECURSIVE` and a name a nested
//! WITH defines again are left alone.

use super::splice::{splice, Piece, Spliced};
use crate::lex::{quote_ident, TokenKind};
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::sql::walk::{walk, Walk};
use crate::value::Value;
use sqlparser::ast::{ObjectNamePart, Query, Statement, TableFactor};
use std::ops::{ControlFlow, Range};

/// The table references of a statement named like one of its CTEs: (token range, which
/// CTE, whether aliased); a WITH nested deeper makes the rewrite give up.
struct Refs<'p> {
    parsed: &'p Parsed,
    names: &'p [String],
    found: Vec<(Range<usize>, usize, bool)>,
    nested_with: bool,
    depth: usize,
}
impl Walk for Refs<'_> {
    fn pre_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.depth += 1;
        if self.depth > 1 && q.with.is_some() {
            self.nested_with = true;
        }
        ControlFlow::Continue(())
    }
    fn post_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
    fn pre_table_factor(&mut self, f: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = f {
            if let [ObjectNamePart::Identifier(id)] = name.0.as_slice() {
                let lower = id.value.to_ascii_lowercase();
                if let Some(i) = self.names.iter().position(|n| *n == lower) {
                    let start = self.parsed.offset(id.span.start);
                    let tok = start.and_then(|s| self.parsed.token_at(s));
                    match tok {
                        Some(t) => self.found.push((t.range(), i, alias.is_some())),
                        None => self.nested_with = true,
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The statement with every CTE reference replaced by the CTE's body, or None.
pub(crate) fn inline_ctes(parsed: &Parsed, params: &[Value]) -> Option<Spliced> {
    let params = &Params::new(params);
    // sqlparser does not read `AS [NOT] MATERIALIZED`, a hint to the query planner: blank
    // it out (offsets stay) and read the statement again.
    let blanked;
    let parsed = match &parsed.ast {
        Ok(_) => parsed,
        Err(_) => {
            blanked = without_materialized(parsed)?;
            &blanked
        }
    };
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let with = q.with.as_ref()?;
    if with.recursive || with.cte_tables.is_empty() {
        return None;
    }
    let toks = &parsed.tokens;
    let mut names = Vec::new();
    let mut spelled = Vec::new();
    let mut bodies: Vec<Range<usize>> = Vec::new();
    for cte in &with.cte_tables {
        if !cte.alias.columns.is_empty() {
            return None;
        }
        let at = parsed.offset(cte.alias.name.span.start)?;
        let name_tok = toks.binary_search_by_key(&at, |t| t.start).ok()?;
        let open = name_tok
            + toks[name_tok..]
                .iter()
                .position(|t| t.kind == TokenKind::LParen)?;
        let close = parsed.closing_paren(open)?;
        names.push(cte.alias.name.value.to_ascii_lowercase());
        spelled.push(cte.alias.name.value.clone());
        bodies.push(toks[open].end..toks[close].start);
    }
    let main_start = bodies.last()?.end + 1;
    // Every table reference named like a CTE, by where it sits.
    let mut refs = Refs {
        parsed,
        names: &names,
        found: Vec::new(),
        nested_with: false,
        depth: 0,
    };
    let _ = walk(q.as_ref(), &mut refs);
    if refs.nested_with {
        return None;
    }
    let mut found = refs.found;
    found.sort_by_key(|(r, _, _)| r.start);
    // A CTE may name only CTEs before it (otherwise it would be recursive).
    for (r, target, _) in &found {
        if let Some(container) = bodies.iter().position(|b| b.contains(&r.start)) {
            if *target >= container {
                return None;
            }
        }
    }
    let mut pieces = Vec::new();
    let main = main_start..parsed.sql.len();
    emit(&main, &found, &bodies, &spelled, &mut pieces, 0)?;
    splice(parsed, &pieces, params).ok()
}

/// The pieces of `range` with each CTE reference inside it replaced by `(body) AS name`.
fn emit(
    range: &Range<usize>,
    found: &[(Range<usize>, usize, bool)],
    bodies: &[Range<usize>],
    names: &[String],
    pieces: &mut Vec<Piece<'static>>,
    depth: usize,
) -> Option<()> {
    if depth > bodies.len() {
        return None;
    }
    let mut cursor = range.start;
    for (r, target, aliased) in found.iter().filter(|(r, _, _)| range.contains(&r.start)) {
        pieces.push(Piece::Source(cursor..r.start));
        pieces.push(Piece::Text("("));
        emit(&bodies[*target], found, bodies, names, pieces, depth + 1)?;
        pieces.push(if *aliased {
            Piece::Text(")")
        } else {
            Piece::Owned(format!(") AS {}", quote_ident(&names[*target])))
        });
        cursor = r.end;
    }
    pieces.push(Piece::Source(cursor..range.end));
    Some(())
}

/// `parsed` with each `[NOT] MATERIALIZED` after `AS` replaced by spaces, or None.
fn without_materialized(parsed: &Parsed) -> Option<Parsed> {
    let sql = &parsed.sql;
    let toks: Vec<&crate::lex::Token> = parsed.tokens.iter().filter(|t| !t.is_trivia()).collect();
    let mut text = sql.clone();
    let mut any = false;
    for (i, t) in toks.iter().enumerate() {
        if !t.is_keyword(sql, "MATERIALIZED") {
            continue;
        }
        let before = |k: usize| i.checked_sub(k).map(|j| toks[j]);
        let start = match (before(1), before(2)) {
            (Some(n), Some(a)) if n.is_keyword(sql, "NOT") && a.is_keyword(sql, "AS") => n.start,
            (Some(a), _) if a.is_keyword(sql, "AS") => t.start,
            _ => continue,
        };
        text.replace_range(start..t.end, &" ".repeat(t.end - start));
        any = true;
    }
    if !any {
        return None;
    }
    Parsed::new(&text).ok().filter(|p| p.ast.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(sql: &str) -> Option<String> {
        let p = Parsed::new(sql).unwrap();
        let n = p.params.count;
        inline_ctes(&p, &vec![Value::Integer(7); n]).map(|s| s.sql)
    }

    #[test]
    fn references_become_subqueries() {
        assert_eq!(
            inline("WITH c AS (SELECT a FROM t WHERE k = ?) SELECT * FROM c JOIN c AS d ON c.a = d.a").as_deref(),
            // One parameter, bound once: its second copy names its number.
            Some(" SELECT * FROM (SELECT a FROM t WHERE k = ?) AS c JOIN (SELECT a FROM t WHERE k = ?1) AS d ON c.a = d.a")
        );
        assert_eq!(
            inline("WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT (SELECT count(*) FROM b) FROM b").as_deref(),
            Some(" SELECT (SELECT count(*) FROM (SELECT x FROM (SELECT 1 AS x) AS a) AS b) FROM (SELECT x FROM (SELECT 1 AS x) AS a) AS b")
        );
        assert_eq!(
            inline("WITH \"Rows\" AS (SELECT id FROM t) SELECT count(*) FROM \"Rows\"").as_deref(),
            Some(" SELECT count(*) FROM (SELECT id FROM t) AS Rows")
        );
        assert_eq!(
            inline("WITH c AS NOT MATERIALIZED (SELECT 1 AS x), d AS MATERIALIZED (SELECT 2) SELECT * FROM c, d").as_deref(),
            Some(" SELECT * FROM (SELECT 1 AS x) AS c, (SELECT 2) AS d")
        );
        assert_eq!(inline("WITH c(x) AS (SELECT 1) SELECT x FROM c"), None);
        assert_eq!(
            inline("WITH RECURSIVE c AS (SELECT 1) SELECT * FROM c"),
            None
        );
        assert_eq!(
            inline("WITH b AS (SELECT * FROM a), a AS (SELECT 1) SELECT * FROM b"),
            None
        );
    }
}
