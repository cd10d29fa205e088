//! The clause layout of the outermost SELECT, found by a token scan at parenthesis depth
//! 0: where the projection, FROM, WHERE, GROUP BY, HAVING, WINDOW, ORDER BY and LIMIT
//! start and end in the original text. Rewrites splice at these positions.

use crate::lex::{Token, TokenKind};
use crate::parse::Parsed;
use std::ops::Range;

/// Byte ranges of the outermost SELECT's clauses (each includes its keyword, except the
/// projection, which is the item list alone).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SelectShape {
    /// Position right after `SELECT` (and `DISTINCT`/`ALL`).
    pub projection: Range<usize>,
    /// Each projection item's range (split at top-level commas).
    pub items: Vec<Range<usize>>,
    /// `FROM …` up to the next clause.
    pub from: Option<Range<usize>>,
    /// `WHERE …`.
    pub where_: Option<Range<usize>>,
    /// `GROUP BY …`.
    pub group_by: Option<Range<usize>>,
    /// `HAVING …`.
    pub having: Option<Range<usize>>,
    /// `ORDER BY …`.
    pub order_by: Option<Range<usize>>,
    /// Each ORDER BY term's range (without the ORDER BY keywords).
    pub order_terms: Vec<Range<usize>>,
    /// `LIMIT …` to the end of the statement.
    pub limit: Option<Range<usize>>,
    /// Whether other clauses (WINDOW, compound operators) appear at depth 0.
    pub unusual: bool,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Clause {
    Projection,
    From,
    Where,
    GroupBy,
    Having,
    Window,
    OrderBy,
    Limit,
    /// `UNION`, `INTERSECT` or `EXCEPT`: the first part's clauses end here.
    Compound,
}

/// Scans the outermost SELECT of `parsed` (after any WITH clause).
pub(crate) fn select_shape(parsed: &Parsed) -> Option<SelectShape> {
    let sql = &parsed.sql;
    let toks: &[Token] = &parsed.tokens;
    let start = outer_select(parsed)?;
    let mut i = start + 1;
    if toks
        .get(i)
        .is_some_and(|t| t.is_keyword(sql, "DISTINCT") || t.is_keyword(sql, "ALL"))
    {
        i += 1;
    }
    let end_of_sql = toks
        .iter()
        .rev()
        .find(|t| t.kind != TokenKind::Semicolon)
        .map(|t| t.end)
        .unwrap_or(sql.len());
    let mut shape = SelectShape::default();
    let mut marks: Vec<(Clause, usize, usize)> = vec![(
        Clause::Projection,
        i,
        toks.get(i).map(|t| t.start).unwrap_or(end_of_sql),
    )];
    let mut item_start = toks.get(i).map(|t| t.start).unwrap_or(end_of_sql);
    let mut order_term_start = None;
    let mut depth = 0i32;
    let mut current = Clause::Projection;
    let mut j = i;
    while j < toks.len() {
        let t = &toks[j];
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            TokenKind::Semicolon => break,
            _ => {}
        }
        if depth != 0 || t.kind == TokenKind::LParen || t.kind == TokenKind::RParen {
            j += 1;
            continue;
        }
        let clause = clause_at(sql, toks, j);
        if clause == Some(Clause::Compound) {
            shape.unusual = true;
        }
        match clause {
            Some(c) => {
                if current == Clause::Projection {
                    shape.items.push(item_start..toks[j - 1].end);
                }
                if current == Clause::OrderBy {
                    if let Some(s) = order_term_start.take() {
                        shape.order_terms.push(s..toks[j - 1].end);
                    }
                }
                if c == Clause::Window {
                    shape.unusual = true;
                }
                marks.push((c, j, t.start));
                current = c;
                if c == Clause::OrderBy {
                    j += 1; // skip BY
                    order_term_start = toks.get(j + 1).map(|t| t.start);
                }
            }
            None if t.kind == TokenKind::Comma && current == Clause::Projection => {
                shape.items.push(item_start..toks[j - 1].end);
                item_start = toks.get(j + 1).map(|t| t.start).unwrap_or(end_of_sql);
            }
            None if t.kind == TokenKind::Comma && current == Clause::OrderBy => {
                if let Some(s) = order_term_start {
                    shape.order_terms.push(s..toks[j - 1].end);
                }
                order_term_start = toks.get(j + 1).map(|t| t.start);
            }
            None => {}
        }
        j += 1;
    }
    let last_end = toks[..j].last().map(|t| t.end).unwrap_or(end_of_sql);
    if current == Clause::Projection {
        shape.items.push(item_start..last_end);
    }
    if current == Clause::OrderBy {
        if let Some(s) = order_term_start {
            shape.order_terms.push(s..last_end);
        }
    }
    set_clause_ranges(&mut shape, sql, &marks, last_end);
    // An empty projection item or ORDER BY term (`SELECT a, HAVING FROM t`, which
    // sqlparser reads differently): nothing here can be trusted to rewrite.
    let empty = |r: &Range<usize>| r.start >= r.end;
    if shape.items.iter().chain(&shape.order_terms).any(empty) {
        return None;
    }
    Some(shape)
}

/// The expression text of a projection item (without `AS alias`).
pub(crate) fn item_expr_range(parsed: &Parsed, item: &Range<usize>, aliased: bool) -> Range<usize> {
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

/// The token index of the outermost SELECT keyword (after any WITH clause).
fn outer_select(parsed: &Parsed) -> Option<usize> {
    let sql = &parsed.sql;
    let mut depth = 0i32;
    for (i, t) in parsed.tokens.iter().enumerate() {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(sql, "SELECT") => return Some(i),
            _ => {}
        }
    }
    None
}

/// The clause token `j` (at depth 0) opens, if any.
fn clause_at(sql: &str, toks: &[Token], j: usize) -> Option<Clause> {
    let t = &toks[j];
    let next_is_by = toks.get(j + 1).is_some_and(|n| n.is_keyword(sql, "BY"));
    // `IS [NOT] DISTINCT FROM` is an operator, not the FROM clause.
    let after_distinct = j > 0 && toks[j - 1].is_keyword(sql, "DISTINCT");
    if t.is_keyword(sql, "FROM") && !after_distinct {
        Some(Clause::From)
    } else if t.is_keyword(sql, "WHERE") {
        Some(Clause::Where)
    } else if t.is_keyword(sql, "GROUP") && next_is_by {
        Some(Clause::GroupBy)
    } else if t.is_keyword(sql, "HAVING") {
        Some(Clause::Having)
    } else if t.is_keyword(sql, "WINDOW") {
        Some(Clause::Window)
    } else if t.is_keyword(sql, "ORDER") && next_is_by {
        Some(Clause::OrderBy)
    } else if t.is_keyword(sql, "LIMIT") {
        Some(Clause::Limit)
    } else if t.is_keyword(sql, "UNION")
        || t.is_keyword(sql, "INTERSECT")
        || t.is_keyword(sql, "EXCEPT")
    {
        Some(Clause::Compound)
    } else {
        None
    }
}

/// Sets each clause's text range from where the clauses start (`marks`: clause, token,
/// byte offset), trailing whitespace trimmed.
fn set_clause_ranges(
    shape: &mut SelectShape,
    sql: &str,
    marks: &[(Clause, usize, usize)],
    last_end: usize,
) {
    for (k, &(clause, _, begin)) in marks.iter().enumerate() {
        let end = marks.get(k + 1).map(|m| m.2).unwrap_or(last_end);
        let trimmed = begin..begin + sql[begin..end].trim_end().len();
        match clause {
            Clause::Projection => shape.projection = trimmed,
            Clause::From => shape.from = Some(trimmed),
            Clause::Where => shape.where_ = Some(trimmed),
            Clause::GroupBy => shape.group_by = Some(trimmed),
            Clause::Having => shape.having = Some(trimmed),
            Clause::Window | Clause::Compound => {}
            Clause::OrderBy => shape.order_by = Some(trimmed),
            Clause::Limit => shape.limit = Some(trimmed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_clauses_at_depth_zero() {
        let sql = "WITH c AS (SELECT 1 FROM t ORDER BY 1) SELECT DISTINCT a, f(b, c) AS x, (SELECT 2 FROM u WHERE v) FROM t JOIN u ON (t.a = u.a) WHERE a > 1 GROUP BY a HAVING count(*) > 1 ORDER BY x DESC, 2 LIMIT 5 OFFSET ?";
        let p = Parsed::new(sql).unwrap();
        let s = select_shape(&p).unwrap();
        let text = |r: &Range<usize>| &sql[r.clone()];
        let items: Vec<&str> = s.items.iter().map(text).collect();
        assert_eq!(
            items,
            vec!["a", "f(b, c) AS x", "(SELECT 2 FROM u WHERE v)"]
        );
        assert_eq!(
            text(&s.from.clone().unwrap()),
            "FROM t JOIN u ON (t.a = u.a)"
        );
        assert_eq!(text(&s.where_.clone().unwrap()), "WHERE a > 1");
        assert_eq!(text(&s.group_by.clone().unwrap()), "GROUP BY a");
        assert_eq!(text(&s.having.clone().unwrap()), "HAVING count(*) > 1");
        assert_eq!(text(&s.order_by.clone().unwrap()), "ORDER BY x DESC, 2");
        let terms: Vec<&str> = s.order_terms.iter().map(text).collect();
        assert_eq!(terms, vec!["x DESC", "2"]);
        assert_eq!(text(&s.limit.clone().unwrap()), "LIMIT 5 OFFSET ?");
        assert!(!s.unusual);
    }

    #[test]
    fn a_compound_ends_the_first_parts_projection() {
        for (sql, first) in [
            ("SELECT a, ? UNION ALL SELECT b, c FROM t", vec!["a", "?"]),
            (
                "SELECT a, f(?) AS x FROM t EXCEPT SELECT 1, 2",
                vec!["a", "f(?) AS x"],
            ),
            (
                "SELECT (SELECT 1 UNION SELECT 2) INTERSECT SELECT 3",
                vec!["(SELECT 1 UNION SELECT 2)"],
            ),
        ] {
            let p = Parsed::new(sql).unwrap();
            let s = select_shape(&p).unwrap();
            let items: Vec<&str> = s.items.iter().map(|r| &sql[r.clone()]).collect();
            assert_eq!(items, first, "{sql}");
            assert!(s.unusual, "{sql}");
        }
    }
}
