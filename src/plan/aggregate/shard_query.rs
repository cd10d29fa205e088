//! The shard query of an aggregate fan-out: group keys, distinct arguments, partial
//! aggregates and spelling counts, over the original FROM … WHERE.

use super::builder::Builder;
use super::partial::group_keys;
use super::Groups;
use crate::error::Result;
use crate::merge::coordinator::{AmbiguityCheck, PARTIALS};
use crate::parse::Parsed;
use crate::plan::fanout::refuse;
use crate::plan::select_shape::SelectShape;
use crate::plan::splice::{splice, Piece, Spliced};
use sqlparser::ast::Select;

/// The shard query and the partial table's column declarations.
pub(super) struct ShardQuery {
    pub(super) sql: Spliced,
    pub(super) columns: Vec<String>,
    /// Whether it groups (by keys or distinct values): else each shard answers one row.
    pub(super) grouped: bool,
}

/// The shard query: group keys, distinct arguments, partials, spelling counts; FROM …
/// WHERE; GROUP BY. The shards group without the outer DISTINCT: it applies to the final
/// rows only.
pub(super) fn shard_query(
    parsed: &Parsed,
    select: &Select,
    shape: &SelectShape,
    distinct: bool,
    groups: &Groups,
    b: &mut Builder<'_>,
) -> Result<ShardQuery> {
    let a = b.a;
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
    let mut columns = groups.declarations.clone();
    let own = |t: String| Piece::Owned(t);
    let mut items_out: Vec<Vec<Piece<'_>>> = Vec::new();
    for (i, t) in groups.texts.iter().enumerate() {
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
        columns.push(format!("\"__d1p_d{}\" {}", i + 1, d.declaration));
    }
    for (i, p) in b.partials.iter().enumerate() {
        let mut call = p.pieces();
        call.push(own(format!(" AS \"__d1p_a{}\"", i + 1)));
        items_out.push(call);
        columns.push(format!("\"__d1p_a{}\"", i + 1));
    }
    // Equal group keys of different types or spellings (1 and 1.0; 'A' and 'a' under
    // NOCASE) are one group, shown as the value SQLite meets first: within a shard, or
    // across shards, that choice is the row order's.
    let g = groups.texts.len();
    for (i, t) in groups.texts.iter().enumerate() {
        items_out.push(vec![
            Piece::Text("count(DISTINCT quote("),
            Piece::Source(t.clone()),
            own(format!(")) AS \"__d1p_t{}\"", i + 1)),
        ]);
        columns.push(format!("\"__d1p_t{}\"", i + 1));
    }
    if g > 0 {
        let mixed: Vec<String> = (1..=g)
            .map(|i| {
                format!("max(\"__d1p_t{i}\") > 1 OR count(DISTINCT quote(\"__d1p_g{i}\")) > 1")
            })
            .collect();
        b.checks.push(AmbiguityCheck::spelling(
            format!(
                "SELECT 1 FROM {PARTIALS} GROUP BY {} HAVING {}",
                group_keys(g).join(", "),
                mixed.join(" OR ")
            ),
            "GROUP BY across shards met equal keys of different types or spellings (such as 1 and 1.0, or 'A' and 'a' under NOCASE); which one SQLite shows depends on row order".into(),
        ));
    }
    if items_out.is_empty() {
        // Only DISTINCT aggregates and no group keys: still a valid projection.
        items_out.push(vec![Piece::Text("1")]);
    }
    let mut pieces: Vec<Piece<'_>> = vec![Piece::Source(0..select_kw_end), Piece::Text(" ")];
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
    let grouped = !grouping.is_empty();
    if grouped {
        pieces.push(own(format!(" GROUP BY {}", grouping.join(", "))));
    }
    Ok(ShardQuery {
        sql: splice(parsed, &pieces, b.params)?,
        columns,
        grouped,
    })
}
