//! A hint scopes a statement to one key, never just to a shard (docs/ARCHITECTURE.md §4, issue 10):
//! the shard a hint picks also holds other keys' rows, so a hinted statement that reads or
//! changes a sharded table without pinning the hinted key itself is rewritten to see only
//! that key's rows, or refused.
//!
//! Reads go through common table expressions that shadow each sharded table by name
//! (`WITH "t" AS (SELECT * FROM main."t" WHERE "k" = 'acme') …`): SQLite resolves every
//! unqualified table name in the statement, subqueries included, to the CTE, and
//! `main."t"` inside it to the table. The target of an UPDATE or DELETE is always the
//! table itself, so it gets the key predicate in its WHERE clause. What a CTE cannot
//! shadow is refused: a schema-qualified name (`main.t`), and views (their bodies resolve
//! names in the schema).

use super::route::{key_affinity, ResolvedHint};
use super::Context;
use crate::analyze::{Analysis, StatementClass};
use crate::error::{Error, ErrorCode, Result};
use crate::lex::{quote_ident, Token, TokenKind};
use crate::parse::Parsed;
use crate::placement;
use crate::plan::params::Params;
use crate::value::Value;

/// The statement text a hinted statement runs as: the original when every sharded table
/// it touches is already pinned to the hinted key by the SQL, else the scoped rewrite.
pub(crate) fn scoped_sql(
    parsed: &Parsed,
    a: &Analysis,
    h: &ResolvedHint,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<Option<String>> {
    if let Some(view) = a.sharded_views.first() {
        return Err(Error::with_remedy(
            ErrorCode::HintConflict,
            format!(
                "a shard hint cannot scope view {view} to the key {}: the view reads sharded tables whole, so it would show other keys' rows",
                super::display_value(&h.key)
            ),
            "query the view's tables directly under the hint, or pin the key in the view's WHERE clause",
        ));
    }
    // The sharded tables some reference of which the SQL does not pin to the hinted key.
    let mut tables: Vec<(&str, &str)> = Vec::new();
    for r in &a.refs {
        if tables.iter().any(|(t, _)| t.eq_ignore_ascii_case(&r.table)) {
            continue;
        }
        if !pinned_to_hint(r, h, params, cx)? {
            tables.push((&r.table, &r.key_column));
        }
    }
    if tables.is_empty() {
        return Ok(None);
    }
    let mut literals = Vec::with_capacity(tables.len());
    for (table, key) in &tables {
        let affinity = key_affinity(table, key, cx)?;
        literals.push(key_literal(&h.key.with_affinity(affinity), table)?);
    }
    let sql = &parsed.sql;
    // Empty statements before the statement (`;SELECT …`) are SQLite's to skip; the
    // scoping CTE goes after them, or the `;` would end the statement it heads.
    let toks: Vec<&Token> = parsed
        .tokens
        .iter()
        .filter(|t| !t.is_trivia())
        .skip_while(|t| t.kind == TokenKind::Semicolon)
        .collect();
    refuse_qualified(sql, &toks, &tables)?;

    let ctes: Vec<String> = tables
        .iter()
        .zip(&literals)
        .map(|((table, key), lit)| {
            let t = quote_ident(table);
            format!(
                "{t} AS (SELECT * FROM main.{t} WHERE {} = {lit})",
                quote_ident(key)
            )
        })
        .collect();
    let ctes = ctes.join(", ");
    // Insertions, as (offset, text), applied in order.
    let mut edits: Vec<(usize, String)> = Vec::new();
    let first = toks
        .first()
        .ok_or_else(|| Error::internal("an empty hinted statement"))?;
    if first.is_keyword(sql, "WITH") {
        let after = match toks.get(1) {
            Some(t) if t.is_keyword(sql, "RECURSIVE") => t.end,
            _ => first.end,
        };
        edits.push((after, format!(" {ctes},")));
    } else {
        edits.push((first.start, format!("WITH {ctes} ")));
    }
    if let StatementClass::Update { table } | StatementClass::Delete { table } = &a.class {
        if table.is_empty() {
            return Err(Error::with_remedy(
                ErrorCode::HintConflict,
                "d1plus cannot find the target table of this hinted write, so it cannot scope it to the hinted key",
                "pin the key in the WHERE clause",
            ));
        }
        if let Some(i) = tables
            .iter()
            .position(|(t, _)| t.eq_ignore_ascii_case(table))
        {
            let (t, key) = tables[i];
            target_predicate(sql, &toks, t, key, &literals[i], &mut edits)?;
        }
    }
    edits.sort_by_key(|(at, _)| *at);
    let mut out = String::with_capacity(sql.len() + ctes.len() + 64);
    let mut cursor = 0;
    for (at, text) in edits {
        out.push_str(&sql[cursor..at]);
        out.push_str(&text);
        cursor = at;
    }
    out.push_str(&sql[cursor..]);
    Ok(Some(out))
}

/// Whether some constraint of the SQL already holds this reference to the hinted key
/// (every value it allows is the hinted key).
fn pinned_to_hint(
    r: &crate::analyze::ShardedRef,
    h: &ResolvedHint,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<bool> {
    if r.pins.is_empty() {
        return Ok(false);
    }
    let affinity = key_affinity(&r.table, &r.key_column, cx)?;
    let Ok(hinted) = placement::canonical_key(&h.key, affinity) else {
        return Ok(false);
    };
    Ok(r.pins.iter().any(|pin| {
        !pin.is_empty()
            && pin.iter().all(|k| {
                super::key_value(k, params)
                    .and_then(|v| placement::canonical_key(&v, affinity))
                    .is_ok_and(|c| c == hinted)
            })
    }))
}

/// The hinted key as an SQL literal of the value the key column stores.
fn key_literal(v: &Value, table: &str) -> Result<String> {
    match v {
        Value::Integer(_) | Value::Text(_) => Ok(v.sql_literal()),
        other => Err(Error::with_remedy(
            ErrorCode::InvalidShardKey,
            format!(
                "the shard hint's key {} is not an integer or text key of {table}",
                super::display_value(other)
            ),
            "hint an integer or text key",
        )),
    }
}

/// `main.t` / `temp.t` is not shadowed by a CTE named `t`: refused rather than read whole.
fn refuse_qualified(sql: &str, toks: &[&Token], tables: &[(&str, &str)]) -> Result<()> {
    for w in toks.windows(3) {
        if w[1].kind != TokenKind::Dot || w[0].ident_name(sql).is_none() {
            continue;
        }
        if let Some(name) = w[2].ident_name(sql) {
            // `t.col` has the table before the dot; `x.t` names a table in schema x,
            // unless a second dot follows (`x.t.col`, also schema-qualified).
            if let Some((t, _)) = tables.iter().find(|(t, _)| t.eq_ignore_ascii_case(&name)) {
                return Err(Error::with_remedy(
                    ErrorCode::HintConflict,
                    format!(
                        "a shard hint cannot scope the schema-qualified table {}.{t} to one key",
                        w[0].text(sql)
                    ),
                    format!("write {t} without its schema name"),
                ));
            }
        }
    }
    Ok(())
}

/// The token index of a write's target table, and how the statement names it (its alias,
/// or the table).
fn write_target(sql: &str, toks: &[&Token], table: &str) -> Result<(usize, String)> {
    // The statement proper starts after a leading WITH clause (whose CTEs are parenthesized).
    let mut depth = 0i32;
    let mut verb = None;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            _ if depth == 0 && (t.is_keyword(sql, "UPDATE") || t.is_keyword(sql, "DELETE")) => {
                verb = Some(i);
                break;
            }
            _ => {}
        }
    }
    let verb = verb.ok_or_else(|| Error::internal("no UPDATE or DELETE keyword"))?;
    // The target: the first name after the verb (after FROM, OR <conflict>).
    let mut i = verb + 1;
    while let Some(t) = toks.get(i) {
        let skip = [
            "FROM", "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL", "IGNORE",
        ]
        .iter()
        .any(|k| t.is_keyword(sql, k));
        if !skip {
            break;
        }
        i += 1;
    }
    let target = i;
    // Its alias: `AS x`, or a bare name that is not the next clause's keyword.
    let mut qualifier = quote_ident(table);
    let after = toks.get(target + 1);
    if let Some(t) = after {
        let alias_at = if t.is_keyword(sql, "AS") {
            Some(target + 2)
        } else if t.ident_name(sql).is_some()
            && ![
                "SET",
                "INDEXED",
                "NOT",
                "WHERE",
                "RETURNING",
                "ORDER",
                "LIMIT",
            ]
            .iter()
            .any(|k| t.is_keyword(sql, k))
        {
            Some(target + 1)
        } else {
            None
        };
        if let Some(name) = alias_at
            .and_then(|j| toks.get(j))
            .and_then(|t| t.ident_name(sql))
        {
            qualifier = quote_ident(&name);
        }
    }
    Ok((target, qualifier))
}

/// Adds `<target>.<key> = <literal>` to the WHERE clause of the UPDATE or DELETE.
fn target_predicate(
    sql: &str,
    toks: &[&Token],
    table: &str,
    key: &str,
    literal: &str,
    edits: &mut Vec<(usize, String)>,
) -> Result<()> {
    let (target, qualifier) = write_target(sql, toks, table)?;
    let predicate = format!("{qualifier}.{} = {literal}", quote_ident(key));
    // The WHERE clause at depth 0, and where it ends.
    let mut depth = 0i32;
    let mut where_at = None;
    let mut end = toks
        .last()
        .map(|t| {
            if t.kind == TokenKind::Semicolon {
                t.start
            } else {
                t.end
            }
        })
        .unwrap_or(sql.len());
    for t in &toks[target..] {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            _ if depth != 0 => {}
            _ if where_at.is_none() && t.is_keyword(sql, "WHERE") => where_at = Some(t.end),
            _ if ["RETURNING", "ORDER", "LIMIT"]
                .iter()
                .any(|k| t.is_keyword(sql, k)) =>
            {
                end = t.start;
                break;
            }
            _ => {}
        }
    }
    match where_at {
        Some(w) => {
            edits.push((w, " (".into()));
            edits.push((end, format!(") AND {predicate} ")));
        }
        None => edits.push((end, format!(" WHERE {predicate} "))),
    }
    Ok(())
}
