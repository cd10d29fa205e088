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
    key_carry, key_reason, key_value, Combine, Context, Plan, Reason, Route, Target, D1_MAX_PARAMS,
    D1_MAX_SQL_BYTES,
};
use super::{ShardBatch, ShardId, ShardStatement};
use crate::analyze::key_literal;
use crate::error::{Error, ErrorCode, Result};
use crate::lex::{quote_ident, TokenKind};
use crate::parse::Parsed;
use crate::placement;
use crate::plan::params::{Answer, IdOwner, Params, Probe};
use crate::sql::{object_name, KeyExpr};
use crate::value::{Affinity, Value};
use sqlparser::ast::{
    AssignmentTarget, OnConflictAction, OnInsert, SelectItem, SetExpr, Statement,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

pub(super) fn plan_insert(
    parsed: &Parsed,
    stmt: &Statement,
    table: &str,
    params: &Params<'_>,
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
    let keys = RowKeys::of(
        parsed,
        ins,
        &sharded.name,
        &sharded.key_column,
        params,
        hint,
        cx,
    )?;
    let tname = keys.table;
    let rows = match ins.source.as_deref().map(|q| q.body.as_ref()) {
        Some(SetExpr::Values(v)) => &v.rows,
        _ => {
            return Err(keys.no_key(format!(
                "INSERT INTO {tname} DEFAULT VALUES gives no value for shard key {}",
                keys.key
            )))
        }
    };
    let row_shards = rows
        .iter()
        .enumerate()
        .map(|(i, row)| keys.shard_of_row(i, row))
        .collect::<Result<Vec<ShardId>>>()?;
    check_upsert(ins.on.as_ref(), tname, keys.key)?;

    let row_ranges = row_ranges(parsed, rows.len())?;
    if row_ranges.is_empty() {
        return Err(keys.no_key(format!("INSERT INTO {tname} has no rows")));
    }
    let mut groups: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
    for (i, s) in row_shards.iter().enumerate() {
        groups.entry(*s).or_default().push(i);
    }
    let shards: BTreeSet<ShardId> = groups.keys().copied().collect();
    let reason = match hint {
        Some(h) => Reason::Hint {
            table: h.table.clone(),
            key: h.key.clone(),
        },
        None if shards.len() == 1 => {
            key_reason(tname, keys.key, keys.values(rows.iter().map(|r| &r[..]))?)
        }
        None => Reason::InsertRows {
            table: tname.to_string(),
        },
    };
    let route = Route {
        target: Target::from_set(shards.clone(), cx.shard_count()),
        reason,
    };
    let within_limits =
        parsed.params.count <= D1_MAX_PARAMS && parsed.sql.len() <= D1_MAX_SQL_BYTES;
    let auto_id = auto_id(ins, tname, cx);
    check_explicit_ids(parsed, ins, rows, &row_shards, params, tname, cx)?;
    if groups.len() == 1 && within_limits && auto_id.is_none() {
        // All rows on one shard: the original text goes there unchanged.
        let shard = *shards.iter().next().unwrap_or(&0);
        let statement = ShardStatement {
            sql: parsed.sql.as_str().into(),
            params: params.carry_all(),
        };
        return Ok(Plan::one(route, shard, statement));
    }
    let layout = Layout::new(
        parsed,
        params,
        &row_ranges,
        auto_id.as_ref(),
        cx.shard_count(),
        cx.catalog.get(rowid_ranges::FLOOR_TABLE).is_some(),
        ins.returning.as_deref(),
    )?;
    let (batches, order) = layout.batches(&groups)?;
    let combine = combine_rows(ins, tname, batches.len(), order)?;
    Ok(Plan::new(route, batches, combine))
}

/// An INTEGER PRIMARY KEY left out of the column list gets an id from the shard's range:
/// its (table, column).
fn auto_id(ins: &sqlparser::ast::Insert, tname: &str, cx: Context<'_>) -> Option<(String, String)> {
    match cx.catalog.get(tname) {
        Some(t) if !ins.columns.is_empty() => t.rowid_alias.and_then(|i| {
            let col = &t.columns[i].name;
            let listed = ins.columns.iter().any(|c| names_rowid(c, col));
            (!listed).then(|| (t.name.clone(), col.clone()))
        }),
        _ => None,
    }
}

/// How the shards' answers to a split INSERT combine: RETURNING rows back in the caller's
/// order (refused where a conflict may skip rows on some shard).
fn combine_rows(
    ins: &sqlparser::ast::Insert,
    tname: &str,
    shards: usize,
    order: RowOrder,
) -> Result<Combine> {
    if ins.returning.is_some() && shards > 1 && may_skip_rows(ins) {
        return Err(Error::with_remedy(
            ErrorCode::Unsupported,
            format!("INSERT {}… RETURNING into {tname} with rows on {shards} shards: the rows a conflict skips cannot be matched back to the caller's VALUES order", if ins.or.is_some() { "OR IGNORE " } else { "… ON CONFLICT " }),
            "insert the rows of one key per statement, or drop RETURNING and read the rows back",
        ));
    }
    Ok(if ins.returning.is_none() && shards == 1 {
        Combine::Single
    } else {
        Combine::InsertRows {
            rows: order,
            returning: ins.returning.is_some(),
        }
    })
}

/// For each shard batch, for each of its statements, the caller's row indexes it inserts.
type RowOrder = Vec<Vec<Vec<usize>>>;

/// What routes each row of an INSERT: where its key sits, and what a key must be.
struct RowKeys<'a> {
    parsed: &'a Parsed,
    params: &'a Params<'a>,
    hint: Option<&'a ResolvedHint>,
    cx: Context<'a>,
    table: &'a str,
    key: &'a str,
    affinity: Affinity,
    /// The key's position in each row (None: the column is left out).
    key_index: Option<usize>,
    /// The key is the INTEGER PRIMARY KEY (a rowid SQLite would pick on the shard).
    key_is_rowid: bool,
    key_not_null: bool,
    /// The value a left-out key column takes (its default).
    omitted_key: Option<Value>,
}

impl<'a> RowKeys<'a> {
    fn of(
        parsed: &'a Parsed,
        ins: &sqlparser::ast::Insert,
        table: &'a str,
        key: &'a str,
        params: &'a Params<'a>,
        hint: Option<&'a ResolvedHint>,
        cx: Context<'a>,
    ) -> Result<RowKeys<'a>> {
        let affinity = key_affinity(table, key, cx)?;
        let key_index = if ins.columns.is_empty() {
            let Some(t) = cx.catalog.get(table) else {
                return Err(Error::new(
                    ErrorCode::NoSuchTable,
                    format!("no such table: {table}"),
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
        let key_is_rowid = cx.catalog.get(table).is_some_and(|t| {
            t.rowid_alias
                .is_some_and(|i| t.columns[i].name.eq_ignore_ascii_case(key))
        });
        // A NULL key in a NOT NULL column fails on the home shard while the other rows
        // would be written elsewhere: refused before anything runs, with SQLite's reason.
        let key_not_null = cx
            .catalog
            .get(table)
            .and_then(|t| t.column(key))
            .is_some_and(|(_, c)| c.not_null);
        let mut keys = RowKeys {
            parsed,
            params,
            hint,
            cx,
            table,
            key,
            affinity,
            key_index,
            key_is_rowid,
            key_not_null,
            omitted_key: None,
        };
        if key_is_rowid && key_index.is_none() {
            return Err(keys.generated_key(1));
        }
        // A key column left out takes its default: no default is NULL, whose rows live on
        // the home shard; a literal default has its shard; anything else is unknown here.
        if key_index.is_none() {
            keys.omitted_key = Some(default_key(cx, table, key).ok_or_else(|| {
                keys.no_key(format!(
                    "INSERT INTO {table} does not set shard key column {key}, whose default is not a constant"
                ))
            })?);
        }
        Ok(keys)
    }

    fn no_key(&self, what: String) -> Error {
        Error::with_remedy(
            ErrorCode::NoShardKey,
            what,
            format!(
                "give {} in every row as a literal or a bound parameter",
                self.key
            ),
        )
    }

    fn null_key(&self, row: usize) -> Error {
        let (t, k) = (self.table, self.key);
        Error::with_remedy(
            ErrorCode::InvalidShardKey,
            format!("row {row} of the INSERT INTO {t}: the shard key is NULL, and {k} is declared NOT NULL (SQLite: NOT NULL constraint failed: {t}.{k})"),
            format!("give {k} a value in every row"),
        )
    }

    fn generated_key(&self, row: usize) -> Error {
        let (t, k) = (self.table, self.key);
        Error::with_remedy(
            ErrorCode::InvalidShardKey,
            format!("row {row} of the INSERT INTO {t}: the shard key {k} is an INTEGER PRIMARY KEY given no value, so SQLite would pick it on whichever shard runs the INSERT"),
            format!("give {k} a value in every row"),
        )
    }

    fn hint_conflict(&self, what: String) -> Error {
        Error::with_remedy(
            ErrorCode::HintConflict,
            what,
            "drop the hint: INSERT rows are routed by their own keys",
        )
    }

    /// The shard of row `i` (0-based), checked against the key rules and the hint.
    fn shard_of_row(&self, i: usize, row: &[sqlparser::ast::Expr]) -> Result<ShardId> {
        let (tname, key, affinity) = (self.table, self.key, self.affinity);
        let (Some(key_index), None) = (self.key_index, &self.omitted_key) else {
            return self.shard_of_default();
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
        let Some(k) = key_literal(self.parsed, expr) else {
            return Err(self.no_key(format!(
                "row {} of the INSERT INTO {tname} gives {key} as an expression, not a literal or parameter",
                i + 1
            )));
        };
        // NULL (or NaN, stored as NULL) in an INTEGER PRIMARY KEY makes SQLite pick the id.
        let nullish = match &k {
            KeyExpr::Literal(v) => v.is_null(),
            KeyExpr::Param(p) => self.params.null_or_nan(*p)?,
        };
        if self.key_is_rowid && nullish {
            return Err(self.generated_key(i + 1));
        }
        if self.key_not_null && nullish {
            return Err(self.null_key(i + 1));
        }
        let n = self.cx.shard_count();
        let placed = match &k {
            KeyExpr::Literal(v) => placement::shard_for_key(v, affinity, n).map(Some),
            KeyExpr::Param(p) => self.params.shard(*p, affinity, n),
        };
        let shard = match placed {
            Ok(Some(s)) => Ok(s),
            // No placement: the value itself says why (read only on the way to an error).
            Ok(None) => placement::shard_for_key(&key_value(&k, self.params)?, affinity, n),
            Err(e) => Err(e),
        }
        .map_err(|e| e.prefixed(format_args!("row {} of the INSERT INTO {tname}", i + 1)))?;
        if let Some(h) = self.hint {
            let v = key_value(&k, self.params)?;
            if !h.table.eq_ignore_ascii_case(tname)
                || placement::canonical_key(&h.key, affinity)?
                    != placement::canonical_key(&v, affinity)?
            {
                return Err(self.hint_conflict(format!(
                    "the shard hint {} = {} disagrees with row {} of the INSERT ({key} = {v})",
                    h.table,
                    h.key,
                    i + 1
                )));
            }
        }
        Ok(shard)
    }

    /// The shard of a row whose key column is left out: its default's.
    fn shard_of_default(&self) -> Result<ShardId> {
        let (tname, key, affinity) = (self.table, self.key, self.affinity);
        let v = self.omitted_key.clone().unwrap_or(Value::Null);
        if self.key_not_null && v.is_null() {
            return Err(self.no_key(format!(
                "INSERT INTO {tname} does not set shard key column {key}, which is NOT NULL without a default"
            )));
        }
        if let Some(h) = self.hint {
            let agrees = h.table.eq_ignore_ascii_case(tname)
                && placement::canonical_key(&v, affinity).ok()
                    == Some(placement::canonical_key(&h.key, affinity)?);
            if !agrees {
                return Err(self.hint_conflict(format!(
                    "the shard hint {} = {} disagrees with the default {key} ({v}) of the INSERT's rows",
                    h.table, h.key
                )));
            }
        }
        placement::shard_for_key(&v, affinity, self.cx.shard_count())
    }

    /// The key values of the rows (for the route's reason).
    fn values<'r>(
        &self,
        rows: impl Iterator<Item = &'r [sqlparser::ast::Expr]>,
    ) -> Result<Vec<Value>> {
        match (self.key_index, &self.omitted_key) {
            (Some(key_index), None) => rows
                .filter_map(|r| key_literal(self.parsed, r.get(key_index)?))
                .map(|k| key_carry(&k, self.params))
                .collect(),
            (_, default) => Ok(vec![default.clone().unwrap_or(Value::Null)]),
        }
    }
}

/// The text around an INSERT's rows, and how each shard's statements are spliced from it.
struct Layout<'a> {
    parsed: &'a Parsed,
    params: &'a Params<'a>,
    /// `INSERT INTO t (…) VALUES ` and what follows the last row.
    prefix: Range<usize>,
    suffix: Range<usize>,
    row_ranges: &'a [Range<usize>],
    /// Where the column list opens, when an id column is added to it.
    column_list_paren: Option<usize>,
    /// The INTEGER PRIMARY KEY (table, column) given ids from the shard's range.
    auto_id: Option<&'a (String, String)>,
    shard_count: usize,
    /// Generated ids stay above the floors a split left (`rowid_ranges::FLOOR_TABLE`).
    floor: bool,
    /// Where RETURNING items end that need their original name as an alias, and the alias.
    returning_aliases: Vec<(usize, String)>,
}

impl<'a> Layout<'a> {
    fn new(
        parsed: &'a Parsed,
        params: &'a Params<'a>,
        row_ranges: &'a [Range<usize>],
        auto_id: Option<&'a (String, String)>,
        shard_count: usize,
        floor: bool,
        returning: Option<&[SelectItem]>,
    ) -> Result<Layout<'a>> {
        let (Some(first), Some(last)) = (row_ranges.first(), row_ranges.last()) else {
            return Err(Error::internal("an INSERT split with no rows"));
        };
        let column_list_paren = match auto_id {
            Some(_) => Some(column_list_paren(parsed, first.start).ok_or_else(|| {
                Error::internal("INSERT with a column list but no `(` before VALUES")
            })?),
            None => None,
        };
        let suffix = last.end..parsed.sql.len();
        Ok(Layout {
            parsed,
            params,
            prefix: 0..first.start,
            returning_aliases: super::result_names::returning_aliases(
                parsed,
                &suffix,
                returning.unwrap_or(&[]),
            ),
            suffix,
            row_ranges,
            column_list_paren,
            auto_id,
            shard_count,
            floor,
        })
    }

    /// Each shard's batch (its rows, chunked within D1's limits), and for each statement
    /// the caller's row indexes it inserts.
    fn batches(
        &self,
        groups: &BTreeMap<ShardId, Vec<usize>>,
    ) -> Result<(Vec<ShardBatch>, RowOrder)> {
        let parsed = self.parsed;
        let fixed_params = params_in(parsed, &self.prefix) + params_in(parsed, &self.suffix);
        let aliases: usize = self.returning_aliases.iter().map(|(_, a)| a.len()).sum();
        let fixed_len = self.prefix.len() + self.suffix.len() + aliases;
        let mut batches = Vec::new();
        let mut order = Vec::new();
        for (shard, rows_of_shard) in groups {
            let mut statements = Vec::new();
            let mut statement_rows = Vec::new();
            for chunk in chunk_rows(
                parsed,
                rows_of_shard,
                self.row_ranges,
                fixed_params,
                fixed_len,
            )? {
                let s = self.statement(*shard, &chunk)?;
                statements.push(ShardStatement {
                    sql: s.sql.into(),
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
        Ok((batches, order))
    }

    /// One INSERT of `chunk`'s rows on `shard`.
    fn statement(&self, shard: ShardId, chunk: &[usize]) -> Result<super::splice::Spliced> {
        let ids: Vec<String> = match self.auto_id {
            Some((t, c)) => (0..chunk.len())
                .map(|k| rowid_ranges::id_expr(t, c, shard, self.shard_count, k, self.floor))
                .collect(),
            None => Vec::new(),
        };
        let id_column = self.auto_id.map(|(_, c)| format!("{}, ", quote_ident(c)));
        let mut pieces = match (&id_column, self.column_list_paren) {
            (Some(col), Some(p)) => vec![
                Piece::Source(0..p + 1),
                Piece::Text(col),
                Piece::Source(p + 1..self.prefix.end),
            ],
            _ => vec![Piece::Source(self.prefix.clone())],
        };
        for (n, &r) in chunk.iter().enumerate() {
            if n > 0 {
                pieces.push(Piece::Text(", "));
            }
            match ids.get(n) {
                Some(id) => {
                    let row = &self.row_ranges[r];
                    pieces.push(Piece::Text("("));
                    pieces.push(Piece::Text(id));
                    pieces.push(Piece::Text(", "));
                    pieces.push(Piece::Source(row.start + 1..row.end));
                }
                None => pieces.push(Piece::Source(self.row_ranges[r].clone())),
            }
        }
        let mut cursor = self.suffix.start;
        for (end, alias) in &self.returning_aliases {
            pieces.push(Piece::Source(cursor..*end));
            pieces.push(Piece::Text(alias));
            cursor = *end;
        }
        pieces.push(Piece::Source(cursor..self.suffix.end));
        splice(self.parsed, &pieces, self.params)
    }
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
    params: &Params<'_>,
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
        let owner = match &k {
            KeyExpr::Literal(v) => Probe::IdOwner(cx.shard_count()).answer(v),
            KeyExpr::Param(p) => Answer::Owner(params.id_owner(*p, cx.shard_count())?),
        };
        match owner {
            Answer::Owner(IdOwner::Null) => {
                return Err(Error::with_remedy(
                    ErrorCode::CrossShard,
                    format!("row {} of the INSERT INTO {tname} gives {id_column} NULL: SQLite would pick max({id_column}) + 1 of one shard, which another shard may hold", i + 1),
                    format!("leave {id_column} out of the column list (d1plus then gives an id unique across shards), or give an id"),
                ));
            }
            Answer::Owner(IdOwner::Generator(owner)) if owner.is_some_and(|g| g != Some(shard)) => {
                // The value itself is read only on the way to the error.
                let id = key_value(&k, params)?.with_affinity(crate::value::Affinity::Integer);
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
