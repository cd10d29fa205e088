//! Routing rules (docs/ARCHITECTURE.md §4): from an [`Analysis`] and the bound parameters to a
//! [`Route`], or a refusal that names the construct and the remedy.

use super::ShardId;
use super::{key_carry, key_reason, key_shard, key_value, Context, Reason, Route, Target};
use crate::analyze::{Analysis, Pin, ReadBy, ShardedRef};
use crate::error::{Error, ErrorCode, Result};
use crate::parse::Parsed;
use crate::placement;
use crate::plan::params::Params;
use crate::sql::object_name;
use crate::value::{Affinity, Value};
use serde::{Deserialize, Serialize};
use sqlparser::ast::{AssignmentTarget, Statement};
use std::collections::BTreeSet;

/// A caller's routing hint: "this statement concerns the rows of `table` whose key is
/// `key`" (the Layeron `shard` option).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardHint {
    /// A sharded table.
    pub table: String,
    /// Its key value.
    pub key: Value,
}

/// A hint checked against the policy, with its shard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedHint {
    pub table: String,
    pub key: Value,
    pub shard: ShardId,
}

pub(crate) fn resolve_hint(hint: &ShardHint, cx: Context<'_>) -> Result<ResolvedHint> {
    let Some(t) = cx.policy.sharded_table(&hint.table) else {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!(
                "the shard hint names table {:?}, which is not a sharded table",
                hint.table
            ),
            "name a table listed in sharding.tables of the policy",
        ));
    };
    let affinity = key_affinity(&t.name, &t.key_column, cx)?;
    // A hint names one key: NULL is not one (`key = NULL` matches no row).
    placement::canonical_key(&hint.key, affinity)?;
    let shard = placement::shard_for_key(&hint.key, affinity, cx.shard_count())?;
    Ok(ResolvedHint {
        table: t.name.clone(),
        key: hint.key.clone(),
        shard,
    })
}

/// The affinity of a sharded table's key column, from the catalog; the key column must
/// compare with BINARY collation for hashing to agree with equality.
pub(crate) fn key_affinity(table: &str, key_column: &str, cx: Context<'_>) -> Result<Affinity> {
    let Some(t) = cx.catalog.get(table) else {
        return Err(Error::with_remedy(
            ErrorCode::NoSuchTable,
            format!("no such table: {table}"),
            format!("create {table} first (CREATE TABLE runs on every shard)"),
        ));
    };
    let Some((_, col)) = t.column(key_column) else {
        return Err(Error::with_remedy(
            ErrorCode::InvalidPolicy,
            format!(
                "table {table} has no column {key_column}, which the policy names as its shard key"
            ),
            "fix sharding.tables[].keyColumn in the policy, or add the column",
        ));
    };
    if let Some(c) = &col.collation {
        if !c.eq_ignore_ascii_case("BINARY") {
            return Err(Error::with_remedy(
                ErrorCode::InvalidPolicy,
                format!("shard key {table}.{key_column} is declared COLLATE {c}; equal keys would hash differently"),
                "declare the key column with the default BINARY collation",
            ));
        }
    }
    Ok(col.affinity)
}

/// The shards a pin allows, after binding parameters.
fn pin_shards(
    r: &ShardedRef,
    pin: &Pin,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<(BTreeSet<ShardId>, Vec<Value>)> {
    let affinity = key_affinity(&r.table, &r.key_column, cx)?;
    let mut shards = BTreeSet::new();
    let mut values = Vec::new();
    for k in pin {
        // No stored row can have a key without a placement (a blob, 1.5 in an INTEGER
        // column): then `key = v` matches no row and adds no shard. NULL keys live on
        // the home shard (`key IS NULL`; `key = NULL` matches nothing there either).
        if let Some(s) = key_shard(k, params, affinity, cx.shard_count())? {
            shards.insert(s);
        }
        values.push(key_carry(k, params)?);
    }
    Ok((shards, values))
}

/// The shards the pins of one reference allow (intersection), or None when unpinned.
fn ref_shards(
    r: &ShardedRef,
    pins: &[Pin],
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<Option<(BTreeSet<ShardId>, Vec<Value>)>> {
    let mut acc: Option<(BTreeSet<ShardId>, Vec<Value>)> = None;
    for pin in pins {
        let (s, v) = pin_shards(r, pin, params, cx)?;
        acc = Some(match acc {
            None => (s, v),
            Some((prev, pv)) => (
                prev.intersection(&s).copied().collect(),
                if pv.len() <= v.len() { pv } else { v },
            ),
        });
    }
    Ok(acc)
}

/// Union-find classes of references whose keys are equated.
fn names(v: &[String]) -> String {
    v.join(", ")
}

/// Routes a read (and the table set of any statement): see the module docs of `analyze`.
pub(crate) fn route_read(
    a: &Analysis,
    params: &Params<'_>,
    hint: Option<&ResolvedHint>,
    cx: Context<'_>,
) -> Result<Route> {
    if a.refs.is_empty() && a.sharded_views.is_empty() {
        // Nothing sharded: a hint has nothing to disagree with, and the data lives home.
        let reason = if a.unsharded.is_empty() && !a.reference.is_empty() {
            Reason::ReferenceRead
        } else {
            Reason::Unsharded
        };
        return Ok(Route {
            target: Target::Home,
            reason,
        });
    }
    let first_sharded = a
        .refs
        .first()
        .map(|r| r.table.clone())
        .or_else(|| a.sharded_views.first().cloned())
        .unwrap_or_default();
    if !a.unsharded.is_empty() {
        return Err(Error::with_remedy(
            ErrorCode::CrossShard,
            format!(
                "the statement reads sharded table {first_sharded} together with unsharded table{} {} (which live{} only on the home shard)",
                if a.unsharded.len() == 1 { "" } else { "s" },
                names(&a.unsharded),
                if a.unsharded.len() == 1 { "s" } else { "" },
            ),
            format!("declare {} in sharding.reference (copied to every shard), or query the tables separately", names(&a.unsharded)),
        ));
    }
    if let Some(h) = hint {
        check_hint_agrees(a, h, params, cx)?;
        return Ok(Route {
            target: Target::One(h.shard),
            reason: Reason::Hint {
                table: h.table.clone(),
                key: h.key.clone(),
            },
        });
    }
    if let Some(view) = a.sharded_views.first() {
        return Err(Error::with_remedy(
            ErrorCode::CrossShard,
            format!("view {view} reads a sharded table; d1plus cannot see through views to route or merge them"),
            "query the underlying tables directly",
        ));
    }
    if let ReadBy::TokenScan(why) = &a.read_by {
        return Err(unparsed_error(&first_sharded, why));
    }
    if let Some(route) = single_shard(a, params, cx)? {
        return Ok(route);
    }
    co_located(a, params, cx)
}

/// 1. Every reference pinned to the same single shard: run it there.
fn single_shard(a: &Analysis, params: &Params<'_>, cx: Context<'_>) -> Result<Option<Route>> {
    let mut single: Option<(ShardId, &ShardedRef, Vec<Value>)> = None;
    let mut all_single = true;
    // Every reference's pins are resolved, whatever the others pin: an error in any of
    // them surfaces the same way whichever reference comes first.
    for r in &a.refs {
        match ref_shards(r, &r.pins, params, cx)? {
            Some((s, v)) if s.len() <= 1 => {
                let shard = s.into_iter().next().unwrap_or(0);
                match &single {
                    None => single = Some((shard, r, v)),
                    Some((prev, _, _)) if *prev == shard => {}
                    Some(_) => all_single = false,
                }
            }
            _ => all_single = false,
        }
    }
    Ok(single
        .filter(|_| all_single)
        .map(|(shard, r, values)| Route {
            target: Target::One(shard),
            reason: key_reason(&r.table, &r.key_column, values),
        }))
}

/// The shards one SELECT of a compound (or the one SELECT) needs, with the key values
/// that pinned them and the reference they pinned: None when its output is not pinned.
type BranchShards<'a> = Option<(BTreeSet<ShardId>, Vec<Value>, &'a ShardedRef)>;

/// 2. Otherwise, in each SELECT of a compound (or the one SELECT), the sharded references
///    must form one co-located class whose rows are the output's rows.
fn co_located(a: &Analysis, params: &Params<'_>, cx: Context<'_>) -> Result<Route> {
    let class = a.classes();
    let mut set: Option<BTreeSet<ShardId>> = None;
    let mut values = Vec::new();
    let mut keyed = &a.refs[0];
    let mut unpinned_branch = false;
    for branch in 0..a.branches {
        match branch_shards(a, branch, &class, params, cx)? {
            None => unpinned_branch = true,
            Some((s, v, r)) => {
                values = v;
                keyed = r;
                set = Some(set.map(|p| p.union(&s).copied().collect()).unwrap_or(s));
            }
        }
    }
    if unpinned_branch {
        set = None;
    }
    match set {
        Some(s) if s.is_empty() => Ok(Route {
            // The keys contradict each other: no row qualifies; any one shard answers that.
            target: Target::One(0),
            reason: key_reason(&keyed.table, &keyed.key_column, Vec::new()),
        }),
        Some(s) => Ok(Route {
            target: Target::from_set(s, cx.shard_count()),
            reason: key_reason(&keyed.table, &keyed.key_column, values),
        }),
        None => Ok(Route {
            target: Target::All,
            reason: Reason::NoKey {
                table: keyed.table.clone(),
            },
        }),
    }
}

/// One SELECT's references: refused unless co-located and read by the outer query;
/// then the shards its output pins allow.
fn branch_shards<'a>(
    a: &'a Analysis,
    branch: usize,
    class: &[usize],
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<BranchShards<'a>> {
    let refs: Vec<(usize, &ShardedRef)> = a
        .refs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.branch == branch)
        .collect();
    let Some(&(first_index, first)) = refs.first() else {
        return Err(Error::with_remedy(
            ErrorCode::Unsupported,
            format!("a compound SELECT whose part {} reads no sharded table would repeat that part's rows on every shard", branch + 1),
            "run that part separately, or pin one shard with the key or a hint",
        ));
    };
    if let Some((_, other)) = refs.iter().find(|(i, _)| class[*i] != class[first_index]) {
        return Err(not_co_located(first, other));
    }
    let top: Vec<&ShardedRef> = refs
        .iter()
        .map(|(_, r)| *r)
        .filter(|r| r.top_level)
        .collect();
    if top.is_empty() {
        return Err(Error::with_remedy(
            ErrorCode::CrossShard,
            format!("a subquery reads sharded table {} on every shard, but the outer query does not read a sharded table, so the shards' answers cannot be combined", first.table),
            format!("pin the subquery to one shard with {}.{} = ? or a hint", first.table, first.key_column),
        ));
    }
    let mut pinned: BranchShards<'a> = None;
    for r in top {
        if let Some((s, v)) = ref_shards(r, &r.output_pins, params, cx)? {
            let s = match pinned {
                None => s,
                Some((prev, _, _)) => prev.intersection(&s).copied().collect(),
            };
            pinned = Some((s, v, r));
        }
    }
    Ok(pinned)
}

/// Two sharded references of one SELECT that are not joined on their keys.
fn not_co_located(first: &ShardedRef, other: &ShardedRef) -> Error {
    if !other.top_level {
        return Error::with_remedy(
            ErrorCode::CrossShard,
            format!(
                "a subquery reads sharded table {} without being correlated on its shard key ({}.{} = {}.{}), so it would see only one shard's rows",
                other.table, other.table, other.key_column, first.table, first.key_column
            ),
            format!(
                "correlate the subquery on {} (a FROM subquery: show {} and group by it, then join on it), pin one shard with a key in WHERE or a hint, or declare {} as a reference table",
                other.key_column, other.key_column, other.table
            ),
        );
    }
    Error::with_remedy(
        ErrorCode::CrossShard,
        format!(
            "{} and {} are not joined on their shard keys ({}.{} = {}.{}), so matching rows may sit on different shards",
            first.table, other.table, first.table, first.key_column, other.table, other.key_column
        ),
        "join sharded tables on their key columns, pin one shard with a key in WHERE or a hint, or declare the smaller table as a reference table",
    )
}

fn check_hint_agrees(
    a: &Analysis,
    h: &ResolvedHint,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<()> {
    // The hint must name a key the SQL allows: compared as stored keys, not as shards, so
    // that the answer does not depend on the shard count.
    for r in a
        .refs
        .iter()
        .filter(|r| r.table.eq_ignore_ascii_case(&h.table))
    {
        let affinity = key_affinity(&r.table, &r.key_column, cx)?;
        let hinted = placement::canonical_key(&h.key, affinity)?;
        for pin in &r.pins {
            let values = pin
                .iter()
                .map(|k| key_value(k, params))
                .collect::<Result<Vec<Value>>>()?;
            // Every key the SQL allows must be the hinted one: a hint never narrows an IN list.
            let agrees = values
                .iter()
                .all(|v| placement::canonical_key(v, affinity).is_ok_and(|c| c == hinted));
            if !agrees {
                let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                return Err(Error::with_remedy(
                    ErrorCode::HintConflict,
                    format!(
                        "the shard hint {} = {} disagrees with the key the SQL gives ({}.{} = {})",
                        h.table,
                        h.key,
                        r.table,
                        r.key_column,
                        vs.join(" or ")
                    ),
                    "drop the hint (the key in the SQL routes the statement), or make them agree",
                ));
            }
        }
    }
    Ok(())
}

fn unparsed_error(table: &str, why: &str) -> Error {
    Error::with_remedy(
        ErrorCode::Unsupported,
        format!("d1plus cannot parse this statement ({why}) and it mentions sharded table {table}, so it cannot find the shard key"),
        format!("pass a shard hint {{ table: \"{table}\", key }} to run it on that key's shard"),
    )
}

pub(crate) fn unparsed_needs_hint(parsed: &Parsed, table: &str) -> Error {
    let why = match &parsed.ast {
        Err(e) => e.to_string(),
        Ok(_) => "statement shape".into(),
    };
    unparsed_error(table, &why)
}

/// Routes UPDATE / DELETE / INSERT into a non-sharded table.
pub(crate) fn route_write(
    a: &Analysis,
    table: &str,
    params: &Params<'_>,
    hint: Option<&ResolvedHint>,
    cx: Context<'_>,
) -> Result<Route> {
    use crate::policy::TableKind;
    match cx.policy.table_kind(table) {
        TableKind::Reference => {
            if !a.refs.is_empty() || !a.unsharded.is_empty() || !a.sharded_views.is_empty() {
                let other = a
                    .refs
                    .first()
                    .map(|r| r.table.clone())
                    .or_else(|| a.unsharded.first().cloned())
                    .or_else(|| a.sharded_views.first().cloned())
                    .unwrap_or_default();
                return Err(Error::with_remedy(
                    ErrorCode::CrossShard,
                    format!("a write to reference table {table} runs on every shard, but it reads {other}, which differs between shards"),
                    "compute the values first and write them as literals or parameters",
                ));
            }
            Ok(Route {
                target: Target::All,
                reason: Reason::ReferenceWrite,
            })
        }
        TableKind::Unsharded => {
            if !a.refs.is_empty() || !a.sharded_views.is_empty() {
                let other = a
                    .refs
                    .first()
                    .map(|r| r.table.clone())
                    .or_else(|| a.sharded_views.first().cloned())
                    .unwrap_or_default();
                return Err(Error::with_remedy(
                    ErrorCode::CrossShard,
                    format!("a write to unsharded table {table} runs on the home shard, but it reads sharded table {other}"),
                    "read the sharded rows first, then write the values",
                ));
            }
            Ok(Route {
                target: Target::Home,
                reason: Reason::Unsharded,
            })
        }
        TableKind::Sharded => {
            let route = route_read(a, params, hint, cx)?;
            match (&route.target, &route.reason) {
                (Target::All, Reason::NoKey { .. }) if !cx.options.allow_scatter_writes => {
                    let key = cx
                        .policy
                        .sharded_table(table)
                        .map(|t| t.key_column.clone())
                        .unwrap_or_default();
                    Err(Error::with_remedy(
                        ErrorCode::NoShardKey,
                        format!("this write to sharded table {table} has no shard key: its WHERE clause does not pin {key}"),
                        format!("add `{key} = ?` to the WHERE clause, pass a shard hint, or explicitly allow a scatter write to every shard"),
                    ))
                }
                (Target::All, Reason::NoKey { .. }) => Ok(Route {
                    target: Target::All,
                    reason: Reason::ScatterWrite {
                        table: table.to_string(),
                    },
                }),
                _ => Ok(route),
            }
        }
    }
}

/// INSERT … SELECT into a sharded table: only when one shard is pinned by a hint.
pub(crate) fn route_insert_select(
    a: &Analysis,
    table: &str,
    params: &Params<'_>,
    hint: Option<&ResolvedHint>,
    cx: Context<'_>,
) -> Result<Route> {
    if let ReadBy::TokenScan(why) = &a.read_by {
        if hint.is_none() {
            return Err(unparsed_error(table, why));
        }
    }
    match hint {
        Some(h) if h.table.eq_ignore_ascii_case(table) => {
            // The read must agree with the hint; the rows go to the hinted key's shard even
            // when they come from reference tables only (which any shard could read).
            route_read(a, params, Some(h), cx)?;
            Ok(Route {
                target: Target::One(h.shard),
                reason: Reason::Hint {
                    table: h.table.clone(),
                    key: h.key.clone(),
                },
            })
        }
        _ => Err(Error::with_remedy(
            ErrorCode::CrossShard,
            format!("INSERT … SELECT into sharded table {table}: d1plus cannot tell which shard each selected row belongs to"),
            format!("pass a shard hint {{ table: \"{table}\", key }} when every row has that key, or insert with VALUES"),
        )),
    }
}

/// An UPDATE may not assign the shard key: the row would have to move shards.
pub(crate) fn check_key_not_assigned(stmt: &Statement, table: &str, cx: Context<'_>) -> Result<()> {
    let Some(t) = cx.policy.sharded_table(table) else {
        return Ok(());
    };
    let Statement::Update(up) = stmt else {
        return Ok(());
    };
    for asg in &up.assignments {
        let cols: Vec<String> = match &asg.target {
            AssignmentTarget::ColumnName(n) => vec![object_name(n)],
            AssignmentTarget::Tuple(ns) => ns.iter().map(object_name).collect(),
        };
        if cols.iter().any(|c| c.eq_ignore_ascii_case(&t.key_column)) {
            return Err(key_update_error(&t.name, &t.key_column));
        }
    }
    Ok(())
}

pub(crate) fn key_update_error(table: &str, key: &str) -> Error {
    Error::with_remedy(
        ErrorCode::KeyUpdate,
        format!(
            "the statement sets shard key column {table}.{key}; a row cannot move to another shard"
        ),
        format!("delete the row and insert it again with the new {key}"),
    )
}

/// For statements read by the token scan: a sharded table's key column assigned after a
/// `SET` (`UPDATE … SET key =`, `ON CONFLICT DO UPDATE SET key =`) would move rows.
pub(crate) fn check_key_not_assigned_tokens(
    parsed: &Parsed,
    table: &str,
    cx: Context<'_>,
) -> Result<()> {
    let Some(t) = cx.policy.sharded_table(table) else {
        return Ok(());
    };
    let sql = &parsed.sql;
    let toks = &parsed.tokens;
    let key_column = t.key_column.as_str();
    let is_key = |i: usize| {
        toks.get(i)
            .and_then(|t| t.ident_name(sql))
            .is_some_and(|n| n.eq_ignore_ascii_case(&t.key_column))
            && toks
                .get(i + 1)
                .is_some_and(|o| o.kind == crate::lex::TokenKind::Operator && o.text(sql) == "=")
    };
    // Assignment targets: right after each SET, and after each comma of its list.
    let mut assigns_key = false;
    for (i, tok) in toks.iter().enumerate() {
        if !tok.is_keyword(sql, "SET") {
            continue;
        }
        let mut depth = 0i32;
        let mut expect_target = true;
        let mut in_tuple = false;
        for (j, t) in toks.iter().enumerate().skip(i + 1) {
            if in_tuple && depth == 1 {
                assigns_key |= t
                    .ident_name(sql)
                    .is_some_and(|n| n.eq_ignore_ascii_case(key_column));
            }
            match t.kind {
                // `SET (a, key) = (…)`: every name in the tuple is a target.
                crate::lex::TokenKind::LParen if expect_target && depth == 0 => {
                    depth += 1;
                    in_tuple = true;
                    expect_target = false;
                    continue;
                }
                crate::lex::TokenKind::RParen if in_tuple && depth == 1 => {
                    depth -= 1;
                    in_tuple = false;
                    continue;
                }
                crate::lex::TokenKind::LParen => depth += 1,
                crate::lex::TokenKind::RParen => depth -= 1,
                crate::lex::TokenKind::Comma if depth == 0 => {
                    expect_target = true;
                    continue;
                }
                _ => {}
            }
            if depth == 0
                && ["WHERE", "FROM", "RETURNING", "ORDER", "LIMIT", "ON"]
                    .iter()
                    .any(|k| t.is_keyword(sql, k))
            {
                break;
            }
            if expect_target && depth == 0 {
                assigns_key |= is_key(j);
                expect_target = false;
            }
        }
    }
    if assigns_key {
        return Err(key_update_error(&t.name, &t.key_column));
    }
    Ok(())
}
