//! Checks a read that fans out to several shards: what the row merge (ORDER BY, LIMIT,
//! DISTINCT) cannot answer exactly — aggregates, GROUP BY, compound selects — and what
//! cannot run per shard (window functions, LIMIT inside subqueries) is refused with a
//! clear error.

use crate::analyze::Analysis;
use crate::error::{Error, Result};
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::sql::KeyExpr;
use crate::value::Value;
use sqlparser::ast::Statement;

/// The refusal of a construct that cannot be answered exactly across shards.
pub(crate) fn refuse(construct: &str, a: &Analysis) -> Error {
    let (table, key) = a
        .refs
        .first()
        .map(|r| (r.table.as_str(), r.key_column.as_str()))
        .unwrap_or(("the sharded table", "its key"));
    Error::unsupported(
        format!("{construct} across shards is not supported: the statement reads {table} on several shards"),
        format!("pin one shard with `{key} = ?` in the WHERE clause or a shard hint"),
    )
}

/// The refusal when sqlparser and d1plus's SQLite-faithful token scan read a clause
/// differently (sqlparser tokenizes a few things unlike SQLite, e.g. `BY$k`): the rewrite
/// would be built on a misreading, so the statement is refused rather than merged.
pub(crate) fn parser_disagrees(clause: &str) -> Error {
    Error::unsupported(
        format!("this statement's {clause} clause reads differently to sqlparser than to SQLite, so d1plus cannot rewrite it for several shards"),
        "separate tokens with spaces and write the clause plainly, or pin one shard with the key or a hint",
    )
}

/// Refuses a multi-shard read that plain concatenation would answer wrongly.
pub(crate) fn check_fanout_read(
    parsed: &Parsed,
    a: &Analysis,
    params: &Params<'_>,
    catalog: &crate::catalog::Catalog,
) -> Result<()> {
    if let Some(h) = a.fanout_hazard() {
        return Err(refuse(&h, a));
    }
    // Every shard numbers the implicit rowid of a table without an INTEGER PRIMARY KEY
    // from 1: across shards `rowid` names several rows.
    let own_rowids = a.refs.iter().any(|r| {
        catalog
            .get(&r.table)
            .is_some_and(|t| t.rowid_alias.is_none())
    });
    if own_rowids {
        let sql = &parsed.sql;
        let names_rowid = parsed.tokens.iter().any(|t| {
            t.ident_name(sql).is_some_and(|n| {
                ["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|r| n.eq_ignore_ascii_case(r))
            })
        });
        if names_rowid {
            return Err(Error::unsupported(
                "the implicit rowid of a sharded table across shards: each shard numbers its own rows from 1, so a rowid names one row per shard",
                "declare an INTEGER PRIMARY KEY (d1plus gives it ids unique across shards), or pin one shard with the key",
            ));
        }
    }
    // A FROM subquery read like a table must keep all its rows on every shard.
    let numeric = |k: &KeyExpr| match super::key_value(k, params) {
        Ok(Value::Integer(i)) => Some(i as f64),
        Ok(Value::Real(r)) if r.fract() == 0.0 => Some(r),
        _ => None,
    };
    for d in &a.derived_limits {
        let unlimited = d
            .limit
            .as_ref()
            .is_none_or(|l| numeric(l).is_some_and(|n| n < 0.0));
        let no_offset = d.offset.as_ref().is_none_or(|o| numeric(o) == Some(0.0));
        if !(unlimited && no_offset) {
            return Err(refuse("LIMIT or OFFSET inside a subquery", a));
        }
    }
    if !matches!(&parsed.ast, Ok(Statement::Query(_))) {
        return Err(refuse("this statement", a));
    }
    Ok(())
}
