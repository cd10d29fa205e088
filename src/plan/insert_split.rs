//! Rule `insert_split`: a multi-row `INSERT … VALUES` into a sharded table becomes one
//! INSERT per shard holding that shard's rows, each within D1's limits (100 bound
//! parameters, 100 KB of SQL; a shard's rows are split further when needed, all in that
//! shard's atomic batch). Every row must give its key as a literal or a parameter.
//!
//! ```sql
//! INSERT INTO events(tenantId, x) VALUES ('a', ?), ('b', ?) RETURNING id
//! -- shard 1: INSERT INTO events(tenantId, x) VALUES ('a', ?1) RETURNING id
//! -- shard 3: INSERT INTO events(tenantId, x) VALUES ('b', ?1) RETURNING id
//! ```

use super::route::{key_affinity, key_update_error, ResolvedHint};
use super::rowid_ranges;
use super::splice::{params_in, splice, Piece};
use super::{
    key_reason, key_value, Combine, Context, Plan, Reason, Route, Target, D1_MAX_PARAMS,
    D1_MAX_SQL_BYTES,
};
use super::{ShardBatch, ShardId, ShardStatement};
use crate::error::{Error, ErrorCode, Result};
use crate::lex::{quote_ident, TokenKind};
use crate::parse::Parsed;
use crate::placement;
use crate::sql::{key_literal, object_name};
use crate::value::Value;
use sqlparser::ast::{AssignmentTarget, OnConflictAction, OnInsert, SetExpr, Statement};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

pub(super) fn plan_insert(
    parsed: &Parsed,
    stmt: &Statement,
    table: &str,
    params: &[Value],
    hint: Option<&ResolvedHint>,
    cx: Context<'_>,
) -> Result<Plan> {
    let Statement::Insert(ins) = stmt else {
        return Err(Error::internal(
            "plan_insert on a statement that is not an INSERT",
        ));
    };
    let Some(sharded) = cx.policy.sharded_table(table) else {
        return Err(Error::internal(
            "plan_insert on a table that is not sharded",
        ));
    };
    let (tname, key) = (sharded.name.as_str(), sharded.key_column.as_str());
    let affinity = key_affinity(tname, key, cx)?;
    let no_key = |what: String| {
        Error::with_remedy(
            ErrorCode::NoShardKey,
            what,
            format!("give {key} in every row as a literal or a bound parameter"),
        )
    };
    let rows = match ins.source.as_deref().map(|q| q.body.as_ref()) {
        Some(SetExpr::Values(v)) => &v.rows,
        _ => {
            return Err(no_key(format!(
                "INSERT INTO {tname} DEFAULT VALUES gives no value for shard key {key}"
            )))
        }
    };
    // Where the key sits in each row.
    let key_index = if ins.columns.is_empty() {
        let Some(t) = cx.catalog.get(tname) else {
            return Err(Error::new(
                ErrorCode::NoSuchTable,
                format!("no such table: {tname}"),
            ));
        };
        t.insertable_columns()
            .position(|c| c.name.eq_ignore_ascii_case(key))
    } else {
        ins.columns
            .iter()
            .position(|c| object_name(c).eq_ignore_ascii_case(key))
    };
    // An INTEGER PRIMARY KEY given NULL (or left out) gets a rowid SQLite picks on the
    // shard, so its shard cannot be known before: the key must be given.
    let key_is_rowid = cx.catalog.get(tname).is_some_and(|t| {
        t.rowid_alias
            .is_some_and(|i| t.columns[i].name.eq_ignore_ascii_case(key))
    });
    // A NULL key in a NOT NULL column fails on the home shard while the other rows would
    // be written elsewhere: refused before anything runs, with SQLite's reason.
    let key_not_null = cx
        .catalog
        .get(tname)
        .and_then(|t| t.column(key))
        .is_some_and(|(_, c)| c.not_null);
    let null_key = |row: usize| {
        Error::with_remedy(
            ErrorCode::InvalidShardKey,
            format!("row {row} of the INSERT INTO {tname}: the shard key is NULL, and {key} is declared NOT NULL (SQLite: NOT NULL constraint failed: {tname}.{key})"),
            format!("give {key} a value in every row"),
        )
    };
    let generated_key = |row: usize| {
        Error::with_remedy(
            ErrorCode::InvalidShardKey,
            format!("row {row} of the INSERT INTO {tname}: the shard key {key} is an INTEGER PRIMARY KEY given no value, so SQLite would pick it on whichever shard runs the INSERT"),
            format!("give {key} a value in every row"),
        )
    };
    if key_is_rowid && key_index.is_none() {
        return Err(generated_key(1));
    }
    // A key column left out takes its default: no default is NULL, whose rows live on
    // the home shard; a literal default has its shard; anything else is unknown here.
    let omitted_key = match key_index {
        Some(_) => None,
        None => Some(default_key(cx, tname, key).ok_or_else(|| {
            no_key(format!(
                "INSERT INTO {tname} does not set shard key column {key}, whose default is not a constant"
            ))
        })?),
    };
    // Each row's shard.
    let mut row_shards = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let (Some(key_index), None) = (key_index, &omitted_key) else {
            let v = omitted_key.clone().unwrap_or(Value::Null);
            if key_not_null && v.is_null() {
                return Err(no_key(format!(
                    "INSERT INTO {tname} does not set shard key column {key}, which is NOT NULL without a default"
                )));
            }
            if let Some(h) = hint {
                let agrees = h.table.eq_ignore_ascii_case(tname)
                    && placement::canonical_key(&v, affinity).ok()
                        == Some(placement::canonical_key(&h.key, affinity)?);
                if !agrees {
                    return Err(Error::with_remedy(
                        ErrorCode::HintConflict,
                        format!("the shard hint {} = {} disagrees with the default {key} ({v}) of the INSERT's rows", h.table, h.key),
                        "drop the hint: INSERT rows are routed by their own keys",
                    ));
                }
            }
            row_shards.push(placement::shard_for_key(&v, affinity, cx.shard_count())?);
            continue;
        };
        let Some(expr) = row.get(key_index) else {
            return Err(Error::new(
                ErrorCode::ParseError,
                format!(
                    "row {} of the INSERT has {} values, so it gives no {key}",
                    i + 1,
                    row.len()
                ),
            ));
        };
        let Some(k) = key_literal(parsed, expr) else {
            return Err(no_key(format!(
                "row {} of the INSERT INTO {tname} gives {key} as an expression, not a literal or parameter",
                i + 1
            )));
        };
        let v = key_value(&k, params)?;
        if key_is_rowid && v.is_null() {
            return Err(generated_key(i + 1));
        }
        if key_not_null && (v.is_null() || matches!(v, Value::Real(r) if r.is_nan())) {
            return Err(null_key(i + 1));
        }
        let shard =
            placement::shard_for_key(&v, affinity, cx.shard_count()).map_err(|e| match e {
                Error::Proxy {
                    code,
                    message,
                    remedy,
                } => Error::Proxy {
                    code,
                    message: format!("row {} of the INSERT INTO {tname}: {message}", i + 1),
                    remedy,
                },
                other => other,
            })?;
        if let Some(h) = hint {
            if !h.table.eq_ignore_ascii_case(tname)
                || placement::canonical_key(&h.key, affinity)?
                    != placement::canonical_key(&v, affinity)?
            {
                return Err(Error::with_remedy(
                    ErrorCode::HintConflict,
                    format!(
                        "the shard hint {} = {} disagrees with row {} of the INSERT ({key} = {v})",
                        h.table,
                        h.key,
                        i + 1
                    ),
                    "drop the hint: INSERT rows are routed by their own keys",
                ));
            }
        }
        row_shards.push(shard);
    }
    check_upsert(ins.on.as_ref(), tname, key)?;

    let row_ranges = row_ranges(parsed, rows.len())?;
    let (Some(first), Some(last)) = (row_ranges.first(), row_ranges.last()) else {
        return Err(no_key(format!("INSERT INTO {tname} has no rows")));
    };
    let prefix = 0..first.start;
    let suffix = last.end..parsed.sql.len();
    let mut groups: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
    for (i, s) in row_shards.iter().enumerate() {
        groups.entry(*s).or_default().push(i);
    }
    let shards: BTreeSet<ShardId> = groups.keys().copied().collect();
    let values: Vec<Value> = match (key_index, &omitted_key) {
        (Some(key_index), None) => rows
            .iter()
            .filter_map(|r| key_literal(parsed, r.get(key_index)?))
            .map(|k| key_value(&k, params))
            .collect::<Result<_>>()?,
        (_, default) => vec![default.clone().unwrap_or(Value::Null)],
    };
    let reason = match hint {
        Some(h) => Reason::Hint {
            table: h.table.clone(),
            key: h.key.clone(),
        },
        None if shards.len() == 1 => key_reason(tname, key, values),
        None => Reason::InsertRows {
            table: tname.to_string(),
        },
    };
    let target = Target::from_set(shards.clone(), cx.shard_count());
    let within_limits =
        parsed.params.count <= D1_MAX_PARAMS && parsed.sql.len() <= D1_MAX_SQL_BYTES;
    // An INTEGER PRIMARY KEY left out of the column list gets an id from the shard's range.
    let auto_id = match cx.catalog.get(tname) {
        Some(t) if !ins.columns.is_empty() => t.rowid_alias.and_then(|i| {
            let col = &t.columns[i].name;
            let listed = ins.columns.iter().any(|c| names_rowid(c, col));
            (!listed).then(|| (t.name.clone(), col.clone()))
        }),
        _ => None,
    };
    check_explicit_ids(parsed, ins, rows, &row_shards, params, tname, cx)?;
    let column_list_paren = match &auto_id {
        Some(_) => Some(column_list_paren(parsed, first.start).ok_or_else(|| {
            Error::internal("INSERT with a column list but no `(` before VALUES")
        })?),
        None => None,
    };
    if groups.len() == 1 && within_limits && auto_id.is_none() {
        // All rows on one shard: the original text goes there unchanged.
        let shard = *shards.iter().next().unwrap_or(&0);
        return Ok(Plan {
            route: Route { target, reason },
            batches: vec![ShardBatch {
                shard,
                statements: vec![ShardStatement {
                    sql: parsed.sql.clone(),
                    params: params.to_vec(),
                }],
            }],
            combine: Combine::Single,
            changes_schema: false,
        });
    }
    let fixed_params = params_in(parsed, &prefix) + params_in(parsed, &suffix);
    let fixed_len = prefix.len() + suffix.len();
    let mut batches = Vec::new();
    let mut order = Vec::new();
    for (shard, rows_of_shard) in &groups {
        let mut statements = Vec::new();
        let mut statement_rows = Vec::new();
        for chunk in chunk_rows(parsed, rows_of_shard, &row_ranges, fixed_params, fixed_len)? {
            let ids: Vec<String> = match &auto_id {
                Some((t, c)) => (0..chunk.len())
                    .map(|k| rowid_ranges::id_expr(t, c, *shard, cx.shard_count(), k))
                    .collect(),
                None => Vec::new(),
            };
            let id_column = auto_id
                .as_ref()
                .map(|(_, c)| format!("{}, ", quote_ident(c)));
            let mut pieces = match (&id_column, column_list_paren) {
                (Some(col), Some(p)) => vec![
                    Piece::Source(0..p + 1),
                    Piece::Text(col),
                    Piece::Source(p + 1..prefix.end),
                ],
                _ => vec![Piece::Source(prefix.clone())],
            };
            for (n, &r) in chunk.iter().enumerate() {
                if n > 0 {
                    pieces.push(Piece::Text(", "));
                }
                match ids.get(n) {
                    Some(id) => {
                        let row = &row_ranges[r];
                        pieces.push(Piece::Text("("));
                        pieces.push(Piece::Text(id));
                        pieces.push(Piece::Text(", "));
                        pieces.push(Piece::Source(row.start + 1..row.end));
                    }
                    None => pieces.push(Piece::Source(row_ranges[r].clone())),
                }
            }
            pieces.push(Piece::Source(suffix.clone()));
            let s = splice(parsed, &pieces, params)?;
            statements.push(ShardStatement {
                sql: s.sql,
                params: s.params,
            });
            statement_rows.push(chunk);
        }
        batches.push(ShardBatch {
            shard: *shard,
            statements,
        });
        order.push(statement_rows);
    }
    if ins.returning.is_some() && batches.len() > 1 && may_skip_rows(ins) {
        return Err(Error::with_remedy(
            ErrorCode::Unsupported,
            format!("INSERT {}… RETURNING into {tname} with rows on {} shards: the rows a conflict skips cannot be matched back to the caller's VALUES order", if ins.or.is_some() { "OR IGNORE " } else { "… ON CONFLICT " }, batches.len()),
            "insert the rows of one key per statement, or drop RETURNING and read the rows back",
        ));
    }
    let combine = if ins.returning.is_none() && batches.len() == 1 {
        Combine::Single
    } else {
        Combine::InsertRows {
            rows: order,
            returning: ins.returning.is_some(),
        }
    };
    Ok(Plan {
        route: Route { target, reason },
        batches,
        combine,
        changes_schema: false,
    })
}

/// Byte offset of the `(` opening the INSERT's column list (the first top-level `(`
/// before the rows).
fn column_list_paren(parsed: &Parsed, rows_start: usize) -> Option<usize> {
    let sql = &parsed.sql;
    let into = parsed
        .tokens
        .iter()
        .position(|t| t.is_keyword(sql, "INTO"))?;
    parsed.tokens[into..]
        .iter()
        .take_while(|t| t.start < rows_start)
        .find(|t| t.kind == TokenKind::LParen)
        .map(|t| t.start)
}

/// `ON CONFLICT … DO UPDATE SET key = …` would move the row: refused.
fn check_upsert(on: Option<&OnInsert>, table: &str, key: &str) -> Result<()> {
    let Some(OnInsert::OnConflict(c)) = on else {
        return Ok(());
    };
    if let OnConflictAction::DoUpdate(u) = &c.action {
        for a in &u.assignments {
            let touches = match &a.target {
                AssignmentTarget::ColumnName(n) => object_name(n).eq_ignore_ascii_case(key),
                AssignmentTarget::Tuple(ns) => {
                    ns.iter().any(|n| object_name(n).eq_ignore_ascii_case(key))
                }
            };
            if touches {
                return Err(key_update_error(table, key));
            }
        }
    }
    Ok(())
}

/// The byte range of each `( … )` row after the top-level VALUES keyword.
fn row_ranges(parsed: &Parsed, expected: usize) -> Result<Vec<Range<usize>>> {
    let sql = &parsed.sql;
    let toks = &parsed.tokens;
    let mut depth = 0i32;
    let mut start = None;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            _ if depth == 0 && t.is_keyword(sql, "VALUES") => {
                start = Some(i + 1);
                break;
            }
            _ => {}
        }
    }
    let mut ranges = Vec::with_capacity(expected);
    let mut i = start.unwrap_or(toks.len());
    while let Some(open) = toks.get(i).filter(|t| t.kind == TokenKind::LParen) {
        let mut depth = 0;
        let mut j = i;
        let close = loop {
            let Some(t) = toks.get(j) else { break None };
            match t.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        break Some(j);
                    }
                }
                _ => {}
            }
            j += 1;
        };
        let Some(close) = close else { break };
        ranges.push(open.start..toks[close].end);
        i = close + 1;
        if toks.get(i).map(|t| t.kind) == Some(TokenKind::Comma) {
            i += 1;
        } else {
            break;
        }
    }
    if ranges.len() != expected {
        // sqlparser also reads MySQL's `VALUE (…)`, which SQLite rejects.
        return Err(Error::with_remedy(
            ErrorCode::ParseError,
            format!("cannot find the {expected} row(s) of this INSERT after a VALUES keyword"),
            "spell it VALUES, as SQLite does",
        ));
    }
    Ok(ranges)
}

/// Groups one shard's rows into statements that respect D1's limits.
fn chunk_rows(
    parsed: &Parsed,
    rows: &[usize],
    ranges: &[Range<usize>],
    fixed_params: usize,
    fixed_len: usize,
) -> Result<Vec<Vec<usize>>> {
    let mut chunks = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let (mut n_params, mut len) = (fixed_params, fixed_len);
    for &r in rows {
        let p = params_in(parsed, &ranges[r]);
        // Renumbered parameters (`?100`) can be longer than the original `?`.
        let l = ranges[r].len() + 2 + p * 4;
        if fixed_params + p > D1_MAX_PARAMS || fixed_len + l > D1_MAX_SQL_BYTES {
            return Err(Error::with_remedy(
                ErrorCode::LimitExceeded,
                format!(
                    "row {} of the INSERT needs {} bound parameters and {} bytes of SQL; D1 allows {D1_MAX_PARAMS} and {D1_MAX_SQL_BYTES} per statement",
                    r + 1,
                    fixed_params + p,
                    fixed_len + l
                ),
                "insert fewer columns per statement, or pass large values as fewer parameters",
            ));
        }
        if !current.is_empty() && (n_params + p > D1_MAX_PARAMS || len + l > D1_MAX_SQL_BYTES) {
            chunks.push(std::mem::take(&mut current));
            n_params = fixed_params;
            len = fixed_len;
        }
        current.push(r);
        n_params += p;
        len += l;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    Ok(chunks)
}

/// The value an INSERT gives a key column it leaves out: NULL without a DEFAULT, the
/// default's value when it is a literal, None when it is an expression.
fn default_key(cx: Context<'_>, table: &str, key: &str) -> Option<Value> {
    let (_, column) = cx.catalog.get(table)?.column(key)?;
    let Some(text) = column.default.as_deref() else {
        return Some(Value::Null);
    };
    let parsed = Parsed::new(&format!("SELECT {text}")).ok()?;
    let Ok(Statement::Query(q)) = &parsed.ast else {
        return None;
    };
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    match sel.projection.as_slice() {
        [sqlparser::ast::SelectItem::UnnamedExpr(e)] => match key_literal(&parsed, e)? {
            crate::sql::KeyExpr::Literal(v) => Some(v),
            crate::sql::KeyExpr::Param(_) => None,
        },
        _ => None,
    }
}

/// Ids given explicitly to a table whose INTEGER PRIMARY KEY d1plus generates: NULL would
/// let SQLite pick `max(rowid) + 1` of one shard (another shard may hold it), and an id in
/// the half of a range where another shard generates ids could be generated there again
/// (see `rowid_ranges`). Ids in the lower halves (imports, ids chosen by the app) go
/// anywhere; an id a shard generated goes back to that shard.
fn check_explicit_ids<R: std::ops::Deref<Target = Vec<sqlparser::ast::Expr>>>(
    parsed: &Parsed,
    ins: &sqlparser::ast::Insert,
    rows: &[R],
    row_shards: &[ShardId],
    params: &[Value],
    tname: &str,
    cx: Context<'_>,
) -> Result<()> {
    let Some(t) = cx.catalog.get(tname) else {
        return Ok(());
    };
    let Some(alias) = t.rowid_alias else {
        return Ok(());
    };
    let id_column = &t.columns[alias].name;
    let index = if ins.columns.is_empty() {
        t.insertable_columns()
            .position(|c| c.name.eq_ignore_ascii_case(id_column))
    } else {
        ins.columns.iter().position(|c| names_rowid(c, id_column))
    };
    let Some(index) = index else {
        return Ok(());
    };
    for (i, (row, &shard)) in rows.iter().zip(row_shards).enumerate() {
        let Some(k) = row.get(index).and_then(|e| key_literal(parsed, e)) else {
            continue;
        };
        let id = key_value(&k, params)?.with_affinity(crate::value::Affinity::Integer);
        match id {
            Value::Null => {
                return Err(Error::with_remedy(
                    ErrorCode::CrossShard,
                    format!("row {} of the INSERT INTO {tname} gives {id_column} NULL: SQLite would pick max({id_column}) + 1 of one shard, which another shard may hold", i + 1),
                    format!("leave {id_column} out of the column list (d1plus then gives an id unique across shards), or give an id"),
                ));
            }
            Value::Integer(id) => {
                let owner = super::rowid_ranges::generator_of(id, cx.shard_count());
                if owner.is_some_and(|g| g != Some(shard)) {
                    let whose = match owner.flatten() {
                        Some(g) => format!("the ids shard {g} generates, but the row belongs on shard {shard}: shard {g}"),
                        None => "ids reserved for shards a split will add: such a shard".into(),
                    };
                    return Err(Error::with_remedy(
                        ErrorCode::CrossShard,
                        format!("row {} of the INSERT INTO {tname} gives {id_column} = {id}, in {whose} could generate it again", i + 1),
                        format!("give an id of the lower half of a 2^47 range (below 70368744177664 for small ids), or leave {id_column} out"),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a conflict may skip a row without an error (so RETURNING gives fewer rows):
/// `OR IGNORE`, `ON CONFLICT DO NOTHING`, `ON CONFLICT DO UPDATE … WHERE`.
fn may_skip_rows(ins: &sqlparser::ast::Insert) -> bool {
    use sqlparser::ast::SqliteOnConflict;
    if matches!(ins.or, Some(SqliteOnConflict::Ignore)) {
        return true;
    }
    match &ins.on {
        Some(OnInsert::OnConflict(c)) => match &c.action {
            OnConflictAction::DoNothing => true,
            OnConflictAction::DoUpdate(u) => u.selection.is_some(),
        },
        _ => false,
    }
}

/// Whether an INSERT's column names the rowid: its INTEGER PRIMARY KEY `id_column`, or
/// `rowid`, `oid`, `_rowid_`.
fn names_rowid(column: &sqlparser::ast::ObjectName, id_column: &str) -> bool {
    let c = object_name(column);
    c.eq_ignore_ascii_case(id_column)
        || ["rowid", "oid", "_rowid_"]
            .iter()
            .any(|r| c.eq_ignore_ascii_case(r))
}
