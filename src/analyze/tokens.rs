//! What a token scan can tell about text sqlparser cannot read (its first keyword and the
//! names it mentions), and the check of CREATE TRIGGER bodies.

use super::{push_unique, view_reads_sharded};
use super::{Analysis, ReadBy, ShardedRef, StatementClass};
use crate::catalog::{Catalog, ObjectKind};
use crate::error::{Error, ErrorCode, Result};
use crate::lex::TokenKind;
use crate::parse::Parsed;
use crate::policy::{Policy, TableKind};

/// Routes text sqlparser cannot read by its first keyword and the names it mentions.
pub(super) fn analyze_tokens(
    parsed: &Parsed,
    policy: &Policy,
    catalog: &Catalog,
    why: String,
) -> Analysis {
    use StatementClass as C;
    let sql = &parsed.sql;
    let first = parsed.first_keyword();
    let mentioned: Vec<String> = parsed
        .tokens
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
        .filter_map(|t| t.ident_name(sql))
        .collect();
    let write_target = || {
        // INSERT [OR x] INTO t / REPLACE INTO t / UPDATE [OR x] t / DELETE FROM t
        let toks = &parsed.tokens;
        let pos = toks.iter().position(|t| {
            t.is_keyword(sql, "INTO") || t.is_keyword(sql, "FROM") || t.is_keyword(sql, "UPDATE")
        })?;
        let mut i = pos + 1;
        if toks.get(pos)?.is_keyword(sql, "UPDATE") && toks.get(i)?.is_keyword(sql, "OR") {
            i += 2;
        }
        // Skip a schema qualifier.
        if toks.get(i + 1).map(|t| t.kind) == Some(TokenKind::Dot) {
            i += 2;
        }
        toks.get(i)?.ident_name(sql)
    };
    let class = match first.as_str() {
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "ATTACH" | "DETACH"
        | "VACUUM" => C::Transaction,
        "CREATE" | "DROP" | "ALTER" => C::Ddl,
        "REINDEX" | "ANALYZE" => C::Maintenance,
        "EXPLAIN" => C::Explain,
        "PRAGMA" => {
            let has_eq = parsed
                .tokens
                .iter()
                .any(|t| t.kind == TokenKind::Operator && t.text(sql) == "=");
            if has_eq {
                C::PragmaWrite
            } else {
                C::Introspection
            }
        }
        "INSERT" | "REPLACE" => C::Insert {
            table: write_target().unwrap_or_default(),
            from_select: true,
        },
        "UPDATE" => C::Update {
            table: write_target().unwrap_or_default(),
        },
        "DELETE" => C::Delete {
            table: write_target().unwrap_or_default(),
        },
        _ => C::Read,
    };
    let mut a = Analysis::new(class, ReadBy::TokenScan(why));
    if matches!(
        a.class,
        C::Read | C::Insert { .. } | C::Update { .. } | C::Delete { .. }
    ) {
        for name in &mentioned {
            match policy.table_kind(name) {
                TableKind::Sharded => {
                    if !a.refs.iter().any(|r| r.table.eq_ignore_ascii_case(name)) {
                        if let Some(t) = policy.sharded_table(name) {
                            a.refs.push(ShardedRef {
                                table: t.name.clone(),
                                key_column: t.key_column.clone(),
                                pins: Vec::new(),
                                output_pins: Vec::new(),
                                top_level: true,
                                branch: 0,
                            });
                        }
                    }
                }
                TableKind::Reference => push_unique(&mut a.reference, name),
                TableKind::Unsharded => {
                    if let Some(t) = catalog.get(name) {
                        if t.kind == ObjectKind::View && view_reads_sharded(t, policy, catalog) {
                            push_unique(&mut a.sharded_views, &t.name);
                        }
                    }
                }
            }
        }
    }
    a
}

/// A trigger runs on the shard where its table's row changed, so its body may only write
/// tables whose rows live there too: a trigger on an unsharded table writes unsharded
/// tables, one on a reference table writes reference tables (the same change on every
/// copy), one on a sharded table writes sharded tables (rows of the same key).
pub(super) fn check_trigger(parsed: &Parsed, policy: &Policy) -> Result<()> {
    let sql = &parsed.sql;
    let toks = &parsed.tokens;
    let Some(begin) = toks.iter().position(|t| t.is_keyword(sql, "BEGIN")) else {
        return Ok(());
    };
    let Some(on) = toks[..begin].iter().position(|t| t.is_keyword(sql, "ON")) else {
        return Ok(());
    };
    let name_at = |i: usize| {
        // Skip a schema qualifier (`main.t`).
        let i = if toks.get(i + 1).map(|t| t.kind) == Some(TokenKind::Dot) {
            i + 2
        } else {
            i
        };
        toks.get(i).and_then(|t| t.ident_name(sql))
    };
    let Some(table) = name_at(on + 1) else {
        return Ok(());
    };
    let kind = policy.table_kind(&table);
    for (i, t) in toks.iter().enumerate().skip(begin + 1) {
        let target = if t.is_keyword(sql, "INTO")
            || (t.is_keyword(sql, "FROM") && i > 0 && toks[i - 1].is_keyword(sql, "DELETE"))
        {
            name_at(i + 1)
        } else if t.is_keyword(sql, "UPDATE") {
            let j = if toks.get(i + 1).is_some_and(|n| n.is_keyword(sql, "OR")) {
                i + 3
            } else {
                i + 1
            };
            name_at(j)
        } else {
            None
        };
        if let Some(target) = target {
            let tk = policy.table_kind(&target);
            if tk != kind {
                let describe = |k: TableKind| match k {
                    TableKind::Sharded => "sharded",
                    TableKind::Reference => "reference",
                    TableKind::Unsharded => "unsharded",
                };
                return Err(Error::with_remedy(
                    ErrorCode::CrossShard,
                    format!(
                        "trigger on {} table {table} writes {} table {target}: it would run on the wrong shard(s)",
                        describe(kind),
                        describe(tk)
                    ),
                    "write the other table from the application, in the same batch()",
                ));
            }
        }
    }
    Ok(())
}
