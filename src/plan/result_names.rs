//! SQLite's names for result columns where the shards' text differs from the original's.
//! SQLite names an unaliased result expression by its text, and a shard statement's text
//! may renumber a parameter (`?3 || name` becomes `?1 || name`, a name `:a` becomes `?1`):
//! a merged SELECT is named by the planner, a split INSERT's RETURNING item by an alias.

use super::names::Scope;
use super::select_shape::SelectShape;
use super::splice::params_in;
use crate::lex::TokenKind;
use crate::parse::Parsed;
use sqlparser::ast::{Expr, SelectItem};
use std::ops::Range;

/// The shards name an unnamed output expression by its text, where parameters are
/// renumbered (`id + $v` becomes `id + ?1`): SQLite's names come from the original. The
/// names of `select`'s output columns when a parameter is among them (`shape.items` are
/// its projection's items), else `None`: the shards' names are SQLite's.
pub(super) fn original_names(
    parsed: &Parsed,
    select: &sqlparser::ast::Select,
    shape: &SelectShape,
    scope: &Scope<'_>,
) -> Option<crate::value::Columns> {
    let has_wildcard = select.projection.iter().any(|i| {
        matches!(
            i,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    let (first, last) = (shape.items.first()?, shape.items.last()?);
    if has_wildcard
        || shape.items.len() != select.projection.len()
        || params_in(parsed, &(first.start..last.end)) == 0
    {
        return None;
    }
    let names = select
        .projection
        .iter()
        .zip(&shape.items)
        .map(|(item, range)| super::terms::column_name(parsed, item, range, scope));
    Some(names.collect::<Vec<_>>().into())
}

/// SQLite names an unaliased RETURNING expression by its text, where the shards' text has
/// parameters renumbered (`?3 || name` may come back as `?1 || name`): each such item with
/// a parameter gets its original text as an alias. The end of each such item in `suffix`
/// (the text after the last row), and ` AS "…"`.
pub(super) fn returning_aliases(
    parsed: &Parsed,
    suffix: &Range<usize>,
    items: &[SelectItem],
) -> Vec<(usize, String)> {
    let sql = &parsed.sql;
    let toks = parsed
        .tokens
        .iter()
        .filter(|t| t.start >= suffix.start && t.kind != TokenKind::Semicolon);
    let mut depth = 0i32;
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut item_start: Option<usize> = None;
    let mut last_end = 0;
    for t in toks {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0 && t.is_keyword(sql, "RETURNING") {
            ranges.clear();
            item_start = Some(t.end);
            continue;
        }
        if let Some(start) = item_start {
            if depth == 0 && t.kind == TokenKind::Comma {
                ranges.push(start..last_end);
                item_start = Some(t.end);
                continue;
            }
        }
        last_end = t.end;
    }
    if let Some(start) = item_start {
        ranges.push(start..last_end);
    }
    if ranges.len() != items.len() {
        return Vec::new();
    }
    items
        .iter()
        .zip(ranges)
        .filter(|(item, range)| {
            matches!(item, SelectItem::UnnamedExpr(e) if !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)))
                && params_in(parsed, range) > 0
        })
        .map(|(_, range)| {
            let text = sql[range.clone()].trim();
            (range.end, format!(" AS \"{}\"", text.replace('"', "\"\"")))
        })
        .collect()
}
