//! `SELECT DISTINCT` over a NOCASE or RTRIM column across shards (issue 10). DISTINCT keeps
//! one spelling of each set of equal values (`'Apple'` or `'apple'`), whichever SQLite
//! meets first, which no merge of shards can reproduce. The same rows, when each set has
//! one spelling, are `SELECT … GROUP BY 1, 2, …`: grouping compares under the same
//! collations, and the GROUP BY path checks at run time that every group met one spelling
//! (and one type), refusing otherwise. So a refused DISTINCT read is run as that GROUP BY.

use super::select_shape::select_shape;
use super::splice::{splice, Piece, Spliced};
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::value::Value;
use sqlparser::ast::{Distinct, SelectItem, SetExpr, Statement};

/// The GROUP BY spelling of a plain `SELECT DISTINCT` (no aggregates, no `*`, no GROUP BY,
/// HAVING, WINDOW or compound), or None.
pub(crate) fn as_group_by(parsed: &Parsed, params: &[Value]) -> Option<Spliced> {
    let params = &Params::new(params);
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    // A window function cannot be a group key (SQLite: "misuse of window function").
    let plain_items = sel.projection.iter().all(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            !crate::sql::has_window(e)
        }
        _ => false,
    });
    if sel.distinct != Some(Distinct::Distinct)
        || q.with.is_some()
        || !plain_items
        || super::terms::is_aggregate(sel, q)
    {
        return None;
    }
    let shape = select_shape(parsed)?;
    if shape.unusual || shape.group_by.is_some() || shape.having.is_some() {
        return None;
    }
    let from = shape.from.clone()?;
    let body_end = shape.where_.as_ref().map_or(from.end, |w| w.end);
    let ordinals: Vec<String> = (1..=shape.items.len()).map(|i| i.to_string()).collect();
    let group_by = format!(" GROUP BY {} ", ordinals.join(", "));
    let rest = shape
        .order_by
        .as_ref()
        .or(shape.limit.as_ref())
        .map_or(parsed.sql.len(), |r| r.start);
    let items_start = shape.items.first()?.start;
    let pieces = [
        Piece::Text("SELECT "),
        Piece::Source(items_start..body_end),
        Piece::Owned(group_by),
        Piece::Source(rest.max(body_end)..parsed.sql.len()),
    ];
    splice(parsed, &pieces, params).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_distinct_as_group_by_ordinals() {
        let g = |sql: &str| as_group_by(&Parsed::new(sql).unwrap(), &[]).map(|s| s.sql);
        assert_eq!(
            g("SELECT DISTINCT name, upper(tag) AS t FROM items WHERE id > 2 ORDER BY 1 LIMIT 3").as_deref(),
            Some("SELECT name, upper(tag) AS t FROM items WHERE id > 2 GROUP BY 1, 2 ORDER BY 1 LIMIT 3")
        );
        assert_eq!(
            g("SELECT DISTINCT name FROM items").as_deref(),
            Some("SELECT name FROM items GROUP BY 1 ")
        );
        for sql in [
            "SELECT name FROM items",
            "SELECT DISTINCT * FROM items",
            "SELECT DISTINCT count(*) FROM items",
            "SELECT DISTINCT name FROM items GROUP BY name",
            "SELECT DISTINCT name FROM items UNION SELECT 1",
            "WITH x AS (SELECT 1) SELECT DISTINCT name FROM items",
        ] {
            assert_eq!(g(sql), None, "{sql}");
        }
    }
}
