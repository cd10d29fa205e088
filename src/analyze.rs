//! Stage 2, analyze: what a statement is, which tables it touches, and which shard-key
//! values it pins, checked against the policy and the catalog. Pure: no parameter values,
//! no I/O; the result only depends on the SQL text, the policy and the catalog, so it can
//! be cached by SQL text.
//!
//! A key is pinned only by a plain `key = literal|param` (either side), `key IN (...)`,
//! `key IS NOT DISTINCT FROM v`, or an `OR` whose every branch pins the same key, found in
//! the top-level `AND` of a WHERE clause (or of an inner join's ON). Nothing else is
//! evaluated: sqlparser's precedence differs from SQLite's in places (`2 = 1 < 3`), so a
//! tree that is not exactly that shape pins nothing.

use crate::catalog::{Catalog, ObjectKind};
use crate::error::{Error, ErrorCode, Result};
use crate::lex::TokenKind;
use crate::parse::Parsed;
use crate::policy::{Policy, TableKind};
pub use crate::sql::KeyExpr;
use crate::sql::{has_nested_query, key_literal, object_name, split_and, split_or, strip_nested};
use crate::value::Value;
use serde::Serialize;
use sqlparser::ast::{
    self as ast, BinaryOperator, Expr, GroupByExpr, JoinConstraint, JoinOperator, LimitClause,
    ObjectName, Query, Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins, Visit,
    Visitor,
};
use std::ops::ControlFlow;

/// The values a key may take: the key is one of these (`key = v` is a one-element pin).
pub type Pin = Vec<KeyExpr>;

/// One reference to a sharded table somewhere in the statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardedRef {
    /// The table, as the policy names it.
    pub table: String,
    /// Its key column.
    pub key_column: String,
    /// Constraints on the key of the rows of this reference that matter.
    pub pins: Vec<Pin>,
    /// Constraints that also restrict the statement's output rows (top-level WHERE or
    /// inner-join ON of the outermost query; the target of an UPDATE/DELETE).
    pub output_pins: Vec<Pin>,
    /// In the outermost query's FROM (or the target of a write).
    pub top_level: bool,
    /// Which SELECT of a compound (`… UNION ALL …`) the reference belongs to (0 otherwise).
    pub branch: usize,
}

/// What kind of statement this is, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum StatementClass {
    /// SELECT, VALUES, WITH … SELECT.
    Read,
    /// INSERT / REPLACE.
    Insert {
        /// The target table.
        table: String,
        /// Whether the rows come from a SELECT rather than VALUES.
        from_select: bool,
    },
    /// UPDATE.
    Update {
        /// The target table.
        table: String,
    },
    /// DELETE.
    Delete {
        /// The target table.
        table: String,
    },
    /// CREATE / ALTER / DROP of tables, indexes, views, triggers.
    Ddl,
    /// A read of the schema (`sqlite_schema`, read PRAGMAs, `pragma_*` functions).
    Introspection,
    /// `PRAGMA name = value`: runs on every shard.
    PragmaWrite,
    /// `EXPLAIN [QUERY PLAN] stmt`.
    Explain,
    /// ANALYZE, REINDEX: every shard.
    Maintenance,
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ATTACH, DETACH, VACUUM.
    Transaction,
}

/// How the statement was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ReadBy {
    /// sqlparser's AST.
    Ast,
    /// A token scan, because sqlparser could not parse it (the parser's message).
    TokenScan(String),
}

/// The analysis of one statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Statement class.
    pub class: StatementClass,
    /// How it was read.
    pub read_by: ReadBy,
    /// Every reference to a sharded table.
    pub refs: Vec<ShardedRef>,
    /// Pairs of references whose keys are equated (co-located).
    pub links: Vec<(usize, usize)>,
    /// Unsharded tables mentioned (they live on the home shard).
    pub unsharded: Vec<String>,
    /// Reference tables mentioned (copied on every shard).
    pub reference: Vec<String>,
    /// Views whose definition reads a sharded table.
    pub sharded_views: Vec<String>,
    /// Constructs that cannot run across several shards (window functions, LIMIT in a
    /// subquery, ...), for the planner to refuse if the statement fans out.
    pub fanout_hazards: Vec<String>,
    /// Number of SELECTs in the outermost compound (1 for a plain SELECT).
    pub branches: usize,
    /// The LIMIT/OFFSET of FROM subqueries read as if their rows were the table's (see
    /// [`DerivedLimit`]): a fan-out needs each to be a no-op.
    pub derived_limits: Vec<DerivedLimit>,
}

/// A subquery in the outermost FROM that only filters and projects rows of its tables (no
/// DISTINCT, GROUP BY, aggregate, compound or window): its rows over all shards are the
/// union of its rows on each shard, so the outer query reads it like a sharded table, if
/// its LIMIT and OFFSET, known only with the parameters, drop nothing (`LIMIT -1 OFFSET 0`,
/// as Prisma writes `count()` and `aggregate()`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivedLimit {
    /// The LIMIT, if any.
    pub limit: Option<KeyExpr>,
    /// The OFFSET, if any.
    pub offset: Option<KeyExpr>,
}

impl Analysis {
    fn new(class: StatementClass, read_by: ReadBy) -> Analysis {
        Analysis {
            class,
            read_by,
            refs: Vec::new(),
            links: Vec::new(),
            unsharded: Vec::new(),
            reference: Vec::new(),
            sharded_views: Vec::new(),
            fanout_hazards: Vec::new(),
            branches: 1,
            derived_limits: Vec::new(),
        }
    }
}

/// Analyzes a parsed statement against the policy and catalog.
pub fn analyze(parsed: &Parsed, policy: &Policy, catalog: &Catalog) -> Result<Analysis> {
    match &parsed.ast {
        Ok(stmt) => analyze_ast(stmt, parsed, policy, catalog),
        Err(e) => Ok(analyze_tokens(parsed, policy, catalog, e.to_string())),
    }
}

fn analyze_ast(
    stmt: &Statement,
    parsed: &Parsed,
    policy: &Policy,
    catalog: &Catalog,
) -> Result<Analysis> {
    use StatementClass as C;
    let ast_class = |c| Analysis::new(c, ReadBy::Ast);
    let mut scopes = Scopes::new(parsed, policy, catalog);
    let mut analysis = match stmt {
        Statement::Query(_) => {
            let a = ast_class(C::Read);
            scopes.visit(stmt)?;
            if a.class == C::Read && scopes.only_schema_reads() {
                Analysis::new(C::Introspection, ReadBy::Ast)
            } else {
                a
            }
        }
        Statement::Insert(ins) => {
            let table = match &ins.table {
                ast::TableObject::TableName(n) => object_name(n),
                ast::TableObject::TableFunction(f) => object_name(&f.name),
                _ => return Err(Error::new(ErrorCode::ParseError, "INSERT without a table")),
            };
            let from_select = !matches!(
                ins.source.as_deref().map(|q| q.body.as_ref()),
                Some(SetExpr::Values(_)) | None
            );
            // INSERT … SELECT: the SELECT's rows are what gets written, as a read's rows
            // are its output; subqueries inside VALUES rows are nested.
            scopes.depth_offset = usize::from(!from_select);
            scopes.visit(stmt)?;
            scopes.note_table(&table);
            if policy.table_kind(&table) == TableKind::Sharded {
                // The visitor met the target too; its rows are routed by the insert split.
                scopes.registered += 1;
            }
            ast_class(C::Insert { table, from_select })
        }
        Statement::Update(up) => {
            let table = match &up.table.relation {
                TableFactor::Table { name, .. } => object_name(name),
                _ => return Err(Error::new(ErrorCode::ParseError, "UPDATE without a table")),
            };
            let mut from = vec![&up.table];
            if let Some(
                ast::UpdateTableFromKind::BeforeSet(f) | ast::UpdateTableFromKind::AfterSet(f),
            ) = &up.from
            {
                from.extend(f.iter());
            }
            scopes.push_write_frame(&from, up.selection.as_ref());
            // Subqueries of the write are nested: their keys do not route it.
            scopes.depth_offset = 1;
            scopes.visit(stmt)?;
            ast_class(C::Update { table })
        }
        Statement::Delete(del) => {
            let tables = match &del.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            let table = match tables.first().map(|t| &t.relation) {
                Some(TableFactor::Table { name, .. }) => object_name(name),
                _ => return Err(Error::new(ErrorCode::ParseError, "DELETE without a table")),
            };
            let mut from: Vec<&TableWithJoins> = tables.iter().collect();
            if let Some(using) = &del.using {
                from.extend(using.iter());
            }
            scopes.push_write_frame(&from, del.selection.as_ref());
            scopes.depth_offset = 1;
            scopes.visit(stmt)?;
            ast_class(C::Delete { table })
        }
        Statement::CreateTable(ct) => {
            if ct.query.is_some() {
                let target = object_name(&ct.name);
                if policy.table_kind(&target) != TableKind::Unsharded {
                    return Err(Error::with_remedy(
                        ErrorCode::Unsupported,
                        format!("CREATE TABLE {target} AS SELECT: {target} is a sharded or reference table"),
                        "create the table with a column list, then INSERT its rows",
                    ));
                }
                scopes.depth_offset = 1;
                scopes.visit(stmt)?;
                if !scopes.refs.is_empty() {
                    return Err(Error::with_remedy(
                        ErrorCode::CrossShard,
                        "CREATE TABLE … AS SELECT reads a sharded table",
                        "create the table with a column list, then INSERT its rows",
                    ));
                }
            }
            ast_class(C::Ddl)
        }
        Statement::CreateTrigger(_) => {
            check_trigger(parsed, policy)?;
            ast_class(C::Ddl)
        }
        Statement::CreateVirtualTable { .. }
        | Statement::CreateIndex(_)
        | Statement::CreateView { .. }
        | Statement::Drop { .. }
        | Statement::DropTrigger(_)
        | Statement::AlterTable(_) => ast_class(C::Ddl),
        Statement::Pragma { is_eq, .. } => {
            if *is_eq {
                ast_class(C::PragmaWrite)
            } else {
                ast_class(C::Introspection)
            }
        }
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::AttachDatabase { .. }
        | Statement::Vacuum(_) => ast_class(C::Transaction),
        Statement::Explain { .. } | Statement::ExplainTable { .. } => ast_class(C::Explain),
        Statement::Analyze(_) => ast_class(C::Maintenance),
        // Whatever else sqlparser accepts (it knows many dialects' statements) is read by
        // the token scan, which sends it home unless it names a sharded table.
        _ => {
            return Ok(analyze_tokens(
                parsed,
                policy,
                catalog,
                "statement kind handled by token scan".into(),
            ));
        }
    };
    scopes.finish(&mut analysis);
    Ok(analysis)
}

/// Routes text sqlparser cannot read by its first keyword and the names it mentions.
fn analyze_tokens(parsed: &Parsed, policy: &Policy, catalog: &Catalog, why: String) -> Analysis {
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
fn check_trigger(parsed: &Parsed, policy: &Policy) -> Result<()> {
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

fn push_unique(v: &mut Vec<String>, name: &str) {
    if !v.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        v.push(name.to_string());
    }
}

/// Whether a view reads a sharded table, directly or through other views.
fn view_reads_sharded(view: &crate::catalog::Table, policy: &Policy, catalog: &Catalog) -> bool {
    let mut pending = vec![view];
    let mut seen: Vec<String> = vec![view.name.to_ascii_lowercase()];
    while let Some(v) = pending.pop() {
        for n in v.mentioned_names() {
            if policy.table_kind(&n) == TableKind::Sharded {
                return true;
            }
            if let Some(inner) = catalog.get(&n).filter(|t| t.kind == ObjectKind::View) {
                let key = inner.name.to_ascii_lowercase();
                if !seen.contains(&key) {
                    seen.push(key);
                    pending.push(inner);
                }
            }
        }
    }
    false
}

/// One name visible in a FROM clause.
#[derive(Debug, Clone)]
struct Entry {
    /// The alias, or the table's own name.
    alias: String,
    /// The table name (for sharded tables, the policy's spelling).
    table: String,
    /// The sharded reference it stands for.
    node: Option<usize>,
}

/// Walks the AST with a stack of FROM scopes, so that column references resolve to the
/// innermost table that has them, as SQLite resolves them (correlated subqueries see the
/// outer query's tables).
struct Scopes<'a> {
    parsed: &'a Parsed,
    policy: &'a Policy,
    catalog: &'a Catalog,
    frames: Vec<Vec<Entry>>,
    /// For each frame: whether its FROM has an outer join (a key may be NULL-filled).
    frame_outer: Vec<bool>,
    /// References on the NULL-filled side of an outer join: `key IS NULL` on them holds
    /// for rows whose key is not NULL, so it pins nothing.
    null_filled: Vec<usize>,
    ctes: Vec<String>,
    query_depth: usize,
    /// Added to the query depth: 1 when the statement's own query is not the output
    /// (INSERT … SELECT, CREATE TABLE … AS).
    depth_offset: usize,
    refs: Vec<ShardedRef>,
    links: Vec<(usize, usize)>,
    unsharded: Vec<String>,
    reference: Vec<String>,
    sharded_views: Vec<String>,
    hazards: Vec<String>,
    schema_reads: usize,
    /// Sharded table names the visitor met anywhere, and how many of them were registered
    /// through a FROM scope (or as a write target): a sharded table met in a place this
    /// analysis does not model must not be overlooked.
    seen_sharded: usize,
    registered: usize,
    /// The current SELECT of the outermost compound (0, 1, … for each `UNION` branch).
    branch: usize,
    top_selects: usize,
    /// Transparent FROM subqueries of the outermost query (see [`DerivedLimit`]), by
    /// identity, and how many of them the visitor is inside: their SELECT is analyzed as
    /// top level (its tables and pins route the statement).
    transparent: Vec<*const Query>,
    lifted: usize,
    derived_limits: Vec<DerivedLimit>,
}

impl<'a> Scopes<'a> {
    fn new(parsed: &'a Parsed, policy: &'a Policy, catalog: &'a Catalog) -> Scopes<'a> {
        Scopes {
            parsed,
            policy,
            catalog,
            frames: Vec::new(),
            frame_outer: Vec::new(),
            null_filled: Vec::new(),
            ctes: Vec::new(),
            query_depth: 0,
            depth_offset: 0,
            refs: Vec::new(),
            links: Vec::new(),
            unsharded: Vec::new(),
            reference: Vec::new(),
            sharded_views: Vec::new(),
            hazards: Vec::new(),
            schema_reads: 0,
            seen_sharded: 0,
            registered: 0,
            branch: 0,
            top_selects: 0,
            transparent: Vec::new(),
            lifted: 0,
            derived_limits: Vec::new(),
        }
    }

    /// The nesting level of the current query: 1 for the statement's output query (and the
    /// transparent FROM subqueries lifted into it).
    fn level(&self) -> usize {
        (self.query_depth + self.depth_offset).saturating_sub(self.lifted)
    }

    fn is_transparent(&self, q: &Query) -> bool {
        self.transparent.iter().any(|p| std::ptr::eq(*p, q))
    }

    /// A SELECT whose only source is itself a subquery that only filters and projects,
    /// with no other nested query (a chain of CTEs read one through another).
    fn reads_transparent_subquery(&self, sel: &Select) -> bool {
        let [TableWithJoins {
            relation:
                TableFactor::Derived {
                    lateral: false,
                    subquery,
                    ..
                },
            joins,
        }] = sel.from.as_slice()
        else {
            return false;
        };
        let nested = |e: &Expr| {
            struct Finder;
            impl Visitor for Finder {
                type Break = ();
                fn pre_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
                    ControlFlow::Break(())
                }
            }
            e.visit(&mut Finder).is_break()
        };
        joins.is_empty()
            && !sel.projection.iter().any(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => nested(e),
                _ => false,
            })
            && !sel.selection.as_ref().is_some_and(nested)
            && self.transparent_limits(subquery).is_some()
    }

    /// The LIMIT/OFFSET of a FROM subquery that only filters and projects, or None.
    fn transparent_limits(&self, q: &Query) -> Option<DerivedLimit> {
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return None;
        };
        // No ORDER BY: SQLite carries a subquery's order to the outer query when it
        // flattens it, and a fan-out would lose it. No nested query at all: an aggregate
        // in one may aggregate over this query's rows (`(SELECT max(e.id))`).
        let plain = q.with.is_none()
            && q.order_by.is_none()
            && q.fetch.is_none()
            && (!has_nested_query(&q.body) || self.reads_transparent_subquery(sel))
            && matches!(sel.distinct, None | Some(sqlparser::ast::Distinct::All))
            && matches!(&sel.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
            && sel.having.is_none()
            && sel.named_window.is_empty()
            && sel.qualify.is_none()
            && sel.top.is_none()
            && sel.projection.iter().all(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    !crate::sql::has_aggregate(e)
                }
                _ => true,
            });
        if !plain {
            return None;
        }
        let known = |e: &Expr| key_literal(self.parsed, e);
        match &q.limit_clause {
            None => Some(DerivedLimit {
                limit: None,
                offset: None,
            }),
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => {
                let limit = match limit {
                    Some(e) => Some(known(e)?),
                    None => None,
                };
                let offset = match offset {
                    Some(o) => Some(known(&o.value)?),
                    None => None,
                };
                Some(DerivedLimit { limit, offset })
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => Some(DerivedLimit {
                limit: Some(known(limit)?),
                offset: Some(known(offset)?),
            }),
            Some(_) => None,
        }
    }

    fn visit(&mut self, stmt: &Statement) -> Result<()> {
        match stmt.visit(self) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(e) => Err(e),
        }
    }

    fn only_schema_reads(&self) -> bool {
        self.schema_reads > 0
            && self.refs.is_empty()
            && self.unsharded.is_empty()
            && self.reference.is_empty()
    }

    fn finish(mut self, a: &mut Analysis) {
        if self.seen_sharded > self.registered {
            // A sharded table somewhere we do not model: an unpinned reference of its own,
            // which makes a multi-shard plan impossible (refused) unless everything is pinned.
            let table = self
                .policy
                .sharding
                .tables
                .first()
                .map(|t| (t.name.clone(), t.key_column.clone()));
            if let Some((table, key_column)) = table {
                self.refs.push(ShardedRef {
                    table,
                    key_column,
                    pins: Vec::new(),
                    output_pins: Vec::new(),
                    top_level: false,
                    branch: 0,
                });
                self.hazards
                    .push("a sharded table in a position d1plus does not analyze".into());
            }
        }
        a.refs = self.refs;
        a.links = self.links;
        a.unsharded = self.unsharded;
        a.reference = self.reference;
        a.sharded_views = self.sharded_views;
        a.fanout_hazards = self.hazards;
        a.branches = self.top_selects.max(1);
        a.derived_limits = self.derived_limits;
    }

    /// Records a table name outside any FROM (an INSERT target).
    fn note_table(&mut self, table: &str) {
        match self.policy.table_kind(table) {
            TableKind::Reference => push_unique(&mut self.reference, table),
            TableKind::Unsharded => push_unique(&mut self.unsharded, table),
            // The INSERT target's rows are routed by the insert split, not by pins.
            TableKind::Sharded => {}
        }
    }

    /// Adds the tables of one FROM clause as a new frame; returns the ON conditions to
    /// scan, each with whether its join is inner (an inner join's ON filters the output and
    /// may pin keys; an outer join's ON only links).
    fn push_frame(&mut self, from: &[&TableWithJoins], top_level: bool) -> Vec<(Expr, bool)> {
        let mut frame = Vec::new();
        let mut ons = Vec::new();
        for twj in from {
            self.add_joined(twj, top_level, &mut frame, &mut ons);
        }
        self.frames.push(frame);
        let outer = from.iter().flat_map(|twj| &twj.joins).any(|j| {
            !matches!(
                j.join_operator,
                JoinOperator::Join(_) | JoinOperator::Inner(_) | JoinOperator::CrossJoin(_)
            )
        });
        self.frame_outer.push(outer);
        ons
    }

    fn add_joined(
        &mut self,
        twj: &TableWithJoins,
        top_level: bool,
        frame: &mut Vec<Entry>,
        ons: &mut Vec<(Expr, bool)>,
    ) {
        let first_ref = self.refs.len();
        self.add_factor(&twj.relation, top_level, frame, ons);
        for join in &twj.joins {
            let left_len = frame.len();
            let right_ref = self.refs.len();
            self.add_factor(&join.relation, top_level, frame, ons);
            let (left_refs, right_refs) = (first_ref..right_ref, right_ref..self.refs.len());
            match &join.join_operator {
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => {
                    self.null_filled.extend(right_refs)
                }
                JoinOperator::Right(_) | JoinOperator::RightOuter(_) => {
                    self.null_filled.extend(left_refs)
                }
                JoinOperator::FullOuter(_) => self.null_filled.extend(first_ref..self.refs.len()),
                _ => {}
            }
            // An outer join that preserves the rows of a side without a sharded table
            // would repeat those rows on every shard.
            let sharded = |entries: &[Entry]| entries.iter().any(|e| e.node.is_some());
            let (left, right) = (sharded(&frame[..left_len]), sharded(&frame[left_len..]));
            let hazard = match &join.join_operator {
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => !left && right,
                JoinOperator::Right(_) | JoinOperator::RightOuter(_) => left && !right,
                JoinOperator::FullOuter(_) => left != right,
                _ => false,
            };
            if hazard {
                self.hazards.push("an outer join that keeps the rows of a reference table when nothing matches on a shard".into());
            }
            let (constraint, inner) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c) => {
                    (Some(c), true)
                }
                JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => (Some(c), false),
                _ => (None, false),
            };
            match constraint {
                Some(JoinConstraint::On(e)) => ons.push((e.clone(), inner)),
                Some(JoinConstraint::Using(cols)) => {
                    let names: Vec<String> = cols.iter().map(object_name).collect();
                    self.link_same_named_keys(frame, left_len, |key| {
                        names.iter().any(|n| n.eq_ignore_ascii_case(key))
                    });
                }
                Some(JoinConstraint::Natural) => {
                    // NATURAL joins on every common column; the keys are linked when the
                    // left table has a column named like the right table's key.
                    let right: Vec<Entry> = frame[left_len..].to_vec();
                    let left: Vec<Entry> = frame[..left_len].to_vec();
                    let common = |key: &str| {
                        left.iter().any(|l| self.has_known_column(l, key))
                            && right.iter().any(|r| self.has_known_column(r, key))
                    };
                    let keys: Vec<String> = right
                        .iter()
                        .filter_map(|r| r.node.map(|n| self.refs[n].key_column.clone()))
                        .filter(|k| common(k))
                        .collect();
                    self.link_same_named_keys(frame, left_len, |key| {
                        keys.iter().any(|k| k.eq_ignore_ascii_case(key))
                    });
                }
                _ => {}
            }
        }
    }

    /// `USING (col)`: links the right table to the leftmost table that has `col`, when
    /// `col` is the shard key of both.
    fn link_same_named_keys(
        &mut self,
        frame: &[Entry],
        left_len: usize,
        is_join_column: impl Fn(&str) -> bool,
    ) {
        for r in &frame[left_len..] {
            let Some(rn) = r.node else { continue };
            let key = self.refs[rn].key_column.clone();
            if !is_join_column(&key) {
                continue;
            }
            if let Some(l) = frame[..left_len]
                .iter()
                .find(|l| self.has_known_column(l, &key))
            {
                if let Some(ln) = l.node {
                    if self.refs[ln].key_column.eq_ignore_ascii_case(&key) {
                        self.links.push((rn, ln));
                    }
                }
            }
        }
    }

    fn has_known_column(&self, entry: &Entry, column: &str) -> bool {
        entry
            .node
            .is_some_and(|n| self.refs[n].key_column.eq_ignore_ascii_case(column))
            || self
                .catalog
                .get(&entry.table)
                .is_some_and(|t| t.column(column).is_some())
    }

    fn add_factor(
        &mut self,
        factor: &TableFactor,
        top_level: bool,
        frame: &mut Vec<Entry>,
        ons: &mut Vec<(Expr, bool)>,
    ) {
        if let TableFactor::NestedJoin {
            table_with_joins, ..
        } = factor
        {
            self.add_joined(table_with_joins, top_level, frame, ons);
            return;
        }
        if let TableFactor::Derived { .. } = factor {
            // Made transparent (or not) by `pre_visit_select`, before its frame.
            return;
        }
        let TableFactor::Table {
            name, alias, args, ..
        } = factor
        else {
            return;
        };
        let table = object_name(name);
        let alias = alias
            .as_ref()
            .map(|a| a.name.value.clone())
            .unwrap_or_else(|| table.clone());
        if args.is_some() {
            // A table-valued function: json_each(?), pragma_table_info('t').
            if table.to_ascii_lowercase().starts_with("pragma_") {
                self.schema_reads += 1;
            }
            return;
        }
        if name.0.len() == 1 && self.ctes.iter().any(|c| c.eq_ignore_ascii_case(&table)) {
            return;
        }
        let lower = table.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "sqlite_schema" | "sqlite_master" | "sqlite_temp_schema" | "sqlite_temp_master"
        ) {
            self.schema_reads += 1;
            return;
        }
        let node = match self.policy.table_kind(&table) {
            TableKind::Sharded => self.policy.sharded_table(&table).map(|t| {
                self.registered += 1;
                self.refs.push(ShardedRef {
                    table: t.name.clone(),
                    key_column: t.key_column.clone(),
                    pins: Vec::new(),
                    output_pins: Vec::new(),
                    top_level,
                    branch: self.branch,
                });
                self.refs.len() - 1
            }),
            TableKind::Reference => {
                push_unique(&mut self.reference, &table);
                None
            }
            TableKind::Unsharded => {
                match self.catalog.get(&table) {
                    Some(t) if t.kind == ObjectKind::View => {
                        if view_reads_sharded(t, self.policy, self.catalog) {
                            push_unique(&mut self.sharded_views, &t.name);
                        } else {
                            push_unique(&mut self.unsharded, &table);
                        }
                    }
                    _ => push_unique(&mut self.unsharded, &table),
                }
                None
            }
        };
        frame.push(Entry { alias, table, node });
    }

    /// The frame for the target of an UPDATE or DELETE, whose WHERE pins the write.
    fn push_write_frame(&mut self, from: &[&TableWithJoins], selection: Option<&Expr>) {
        let ons = self.push_frame(from, true);
        for (on, inner) in &ons {
            self.scan_condition(on, *inner, true);
        }
        if let Some(w) = selection {
            self.scan_condition(w, true, true);
        }
    }

    /// Collects pins and links from the top-level AND of `cond`.
    fn scan_condition(&mut self, cond: &Expr, restricts_rows: bool, top_level: bool) {
        let mut conjuncts = Vec::new();
        split_and(cond, &mut conjuncts);
        for c in conjuncts {
            if let Some((a, b)) = self.key_link(c) {
                if a != b {
                    self.links.push((a, b));
                }
                continue;
            }
            if !restricts_rows {
                continue;
            }
            if let Some((node, pin)) = self.pin_of(c) {
                self.refs[node].pins.push(pin.clone());
                if top_level {
                    self.refs[node].output_pins.push(pin);
                }
            }
        }
    }

    /// `a.key = b.key` between two sharded references.
    fn key_link(&self, e: &Expr) -> Option<(usize, usize)> {
        match strip_nested(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            }
            | Expr::IsNotDistinctFrom(left, right) => {
                Some((self.key_column_ref(left)?, self.key_column_ref(right)?))
            }
            _ => None,
        }
    }

    /// The key values one conjunct pins, for one sharded reference.
    fn pin_of(&self, e: &Expr) -> Option<(usize, Pin)> {
        match strip_nested(e) {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            }
            | Expr::IsNotDistinctFrom(left, right) => {
                let is = matches!(strip_nested(e), Expr::IsNotDistinctFrom(..));
                let pinnable = |n: usize| !(is && self.null_filled.contains(&n));
                if let (Some(n), Some(v)) =
                    (self.key_column_ref(left), key_literal(self.parsed, right))
                {
                    return pinnable(n).then(|| (n, vec![v]));
                }
                if let (Some(n), Some(v)) =
                    (self.key_column_ref(right), key_literal(self.parsed, left))
                {
                    return pinnable(n).then(|| (n, vec![v]));
                }
                None
            }
            // NULL keys live on the home shard, unless an outer join NULL-filled the key.
            Expr::IsNull(inner) => {
                let n = self.key_column_ref(inner)?;
                (!self.null_filled.contains(&n)).then(|| (n, vec![KeyExpr::Literal(Value::Null)]))
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } => {
                let n = self.key_column_ref(expr)?;
                let values = list
                    .iter()
                    .map(|v| key_literal(self.parsed, v))
                    .collect::<Option<Vec<_>>>()?;
                Some((n, values))
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Or,
                right,
            } => {
                // Every branch must pin the same reference; the pin is the union.
                let mut branches = Vec::new();
                split_or(left, &mut branches);
                split_or(right, &mut branches);
                let mut node = None;
                let mut values = Vec::new();
                for b in branches {
                    let mut conj = Vec::new();
                    split_and(b, &mut conj);
                    let (n, mut vs) = conj.iter().find_map(|c| self.pin_of(c))?;
                    if node.is_some_and(|m| m != n) {
                        return None;
                    }
                    node = Some(n);
                    values.append(&mut vs);
                }
                Some((node?, values))
            }
            _ => None,
        }
    }

    /// A window whose PARTITION BY holds the key column of a sharded table of the innermost
    /// FROM (without outer joins, which could NULL-fill the key): each partition's rows
    /// live on one shard, so each shard computes the window exactly.
    fn partitioned_by_key(&self, over: Option<&ast::WindowType>) -> bool {
        let Some(ast::WindowType::WindowSpec(spec)) = over else {
            return false;
        };
        let (Some(frame), Some(false)) = (self.frames.last(), self.frame_outer.last()) else {
            return false;
        };
        spec.window_name.is_none()
            && spec.partition_by.iter().any(|e| {
                self.key_column_ref(e)
                    .is_some_and(|n| frame.iter().any(|en| en.node == Some(n)))
            })
    }

    /// If `e` names the key column of a sharded reference in scope, that reference.
    fn key_column_ref(&self, e: &Expr) -> Option<usize> {
        let (qualifier, column) = match strip_nested(e) {
            Expr::Identifier(id) => (None, &id.value),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => (
                Some(&parts[parts.len() - 2].value),
                &parts[parts.len() - 1].value,
            ),
            _ => return None,
        };
        for frame in self.frames.iter().rev() {
            let candidates: Vec<&Entry> = match qualifier {
                Some(q) => frame
                    .iter()
                    .filter(|en| en.alias.eq_ignore_ascii_case(q))
                    .collect(),
                None => frame
                    .iter()
                    .filter(|en| self.has_column(en, column))
                    .collect(),
            };
            match candidates.as_slice() {
                [] => continue,
                [one] => {
                    let node = one.node?;
                    return self.refs[node]
                        .key_column
                        .eq_ignore_ascii_case(column)
                        .then_some(node);
                }
                // Ambiguous: SQLite would reject it; pin nothing.
                _ => return None,
            }
        }
        None
    }

    fn has_column(&self, entry: &Entry, column: &str) -> bool {
        if let Some(node) = entry.node {
            if self.refs[node].key_column.eq_ignore_ascii_case(column) {
                return true;
            }
        }
        match self.catalog.get(&entry.table) {
            Some(t) => t.column(column).is_some(),
            // Unknown table (not created yet, or a CTE): assume it may have the column,
            // which makes an unqualified name ambiguous and pins nothing.
            None => true,
        }
    }
}

impl Visitor for Scopes<'_> {
    type Break = Error;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Error> {
        self.query_depth += 1;
        if self.is_transparent(query) {
            self.lifted += 1;
        }
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.push(cte.alias.name.value.clone());
            }
            if with.recursive {
                self.hazards.push("WITH RECURSIVE".into());
            }
        }
        let nested = self.level() > 1;
        if nested && query.limit_clause.is_some() {
            self.hazards
                .push("LIMIT or OFFSET inside a subquery".into());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<Error> {
        if self.is_transparent(query) {
            self.lifted -= 1;
        }
        self.query_depth = self.query_depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Error> {
        let top_level = self.level() == 1;
        // A lifted subquery's SELECT belongs to the branch of the SELECT it is read by.
        if self.query_depth + self.depth_offset == 1 {
            self.branch = self.top_selects;
            self.top_selects += 1;
        }
        // The only source of an outermost SELECT, a subquery that only filters and
        // projects, is read like the tables under it. Not when joined: an outer join
        // would repeat the other side's rows on every shard, and the analysis does not
        // link keys through a subquery's columns.
        if top_level {
            if let [TableWithJoins {
                relation:
                    TableFactor::Derived {
                        lateral: false,
                        subquery,
                        ..
                    },
                joins,
            }] = select.from.as_slice()
            {
                if joins.is_empty() {
                    if let Some(limits) = self.transparent_limits(subquery) {
                        self.transparent.push(&**subquery as *const Query);
                        self.derived_limits.push(limits);
                    }
                }
            }
        }
        let from: Vec<&TableWithJoins> = select.from.iter().collect();
        let ons = self.push_frame(&from, top_level);
        for (on, inner) in &ons {
            self.scan_condition(on, *inner, top_level && *inner);
        }
        if let Some(w) = &select.selection {
            self.scan_condition(w, true, top_level);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<Error> {
        if self.policy.table_kind(&object_name(relation)) == TableKind::Sharded {
            self.seen_sharded += 1;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<Error> {
        self.frames.pop();
        self.frame_outer.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Error> {
        if let Expr::Function(f) = expr {
            if f.over.is_some() && !self.partitioned_by_key(f.over.as_ref()) {
                self.hazards.push(format!(
                    "window function {}() OVER (...) not partitioned by the shard key",
                    object_name(&f.name)
                ));
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_json(
            r#"{"name":"t","capacity":{"mode":"manual","targetShardCount":4},
                "sharding":{"tables":[{"name":"events","keyColumn":"tenantId"},
                                      {"name":"users","keyColumn":"tenantId"}],
                            "reference":["plans"]}}"#,
        )
        .unwrap()
    }

    fn analyze_sql(sql: &str) -> Analysis {
        let p = Parsed::new(sql).unwrap();
        analyze(&p, &policy(), &Catalog::default()).unwrap()
    }

    #[test]
    fn pins_from_where() {
        let a = analyze_sql("SELECT * FROM events WHERE tenantId = 5 AND x > 1");
        assert_eq!(
            a.refs[0].output_pins,
            vec![vec![KeyExpr::Literal(Value::Integer(5))]]
        );
        let a = analyze_sql("SELECT * FROM events e WHERE (e.tenantId IN (?, 'b')) AND 1");
        assert_eq!(
            a.refs[0].output_pins,
            vec![vec![
                KeyExpr::Param(1),
                KeyExpr::Literal(Value::Text("b".into()))
            ]]
        );
        let a = analyze_sql("SELECT * FROM events WHERE tenantId = -0x10 OR (tenantId = :t AND y)");
        assert_eq!(
            a.refs[0].output_pins,
            vec![vec![
                KeyExpr::Literal(Value::Integer(-16)),
                KeyExpr::Param(1)
            ]]
        );
    }

    #[test]
    fn pins_nothing_from_other_shapes() {
        for sql in [
            "SELECT * FROM events WHERE tenantId > 5",
            "SELECT * FROM events WHERE tenantId = 5 OR x = 1",
            "SELECT * FROM events WHERE NOT tenantId = 5",
            "SELECT * FROM events WHERE +tenantId = 5",
            "SELECT * FROM events WHERE tenantId = 1 < 3",
            "SELECT * FROM events WHERE tenantId = 5 + x",
            "SELECT * FROM events WHERE tenantId = 5 + ?",
            "SELECT * FROM events WHERE tenantId = abs(-5)",
            "SELECT * FROM events WHERE tenantId = CAST('5' AS INTEGER)",
            "SELECT * FROM events WHERE tenantId = 5 COLLATE NOCASE",
        ] {
            let a = analyze_sql(sql);
            assert!(a.refs[0].output_pins.is_empty(), "{sql}: {:?}", a.refs[0]);
        }
    }

    #[test]
    fn pins_constant_expressions_by_their_value() {
        for (sql, want) in [
            (
                "SELECT * FROM events WHERE tenantId = 5 + 1",
                Value::Integer(6),
            ),
            (
                "SELECT * FROM events WHERE tenantId = - -1",
                Value::Integer(1),
            ),
            (
                "SELECT * FROM events WHERE tenantId = 1 << 63",
                Value::Integer(i64::MIN),
            ),
            (
                "SELECT * FROM events WHERE tenantId = -(1 << 63)",
                Value::Real(9.223372036854776e18),
            ),
            (
                "SELECT * FROM events WHERE tenantId = (-9223372036854775807 - 1)",
                Value::Integer(i64::MIN),
            ),
            // `||` binds tighter than `+`: ('a' || 1) + 1.
            (
                "SELECT * FROM events WHERE tenantId = 'a' || 1 + 1",
                Value::Integer(1),
            ),
            (
                "SELECT * FROM events WHERE tenantId = 7 / 2 % 2",
                Value::Integer(1),
            ),
        ] {
            let a = analyze_sql(sql);
            assert_eq!(
                a.refs[0].output_pins,
                vec![vec![KeyExpr::Literal(want)]],
                "{sql}"
            );
        }
    }

    #[test]
    fn links_co_located_joins_and_correlated_subqueries() {
        let a = analyze_sql(
            "SELECT * FROM events e JOIN users u ON u.tenantId = e.tenantId WHERE e.tenantId = 1",
        );
        assert_eq!(a.links, vec![(1, 0)]);
        let a = analyze_sql(
            "SELECT * FROM events e WHERE EXISTS (SELECT 1 FROM users u WHERE u.tenantId = e.tenantId)",
        );
        assert_eq!(a.links, vec![(1, 0)]);
        assert!(!a.refs[1].top_level);
        let a = analyze_sql("SELECT * FROM events LEFT JOIN users ON users.tenantId = 3");
        assert!(
            a.refs[1].output_pins.is_empty(),
            "LEFT JOIN ON does not filter output"
        );
    }

    #[test]
    fn classifies() {
        assert_eq!(analyze_sql("BEGIN").class, StatementClass::Transaction);
        assert_eq!(
            analyze_sql("PRAGMA table_info(events)").class,
            StatementClass::Introspection
        );
        assert_eq!(
            analyze_sql("PRAGMA foreign_keys = ON").class,
            StatementClass::PragmaWrite
        );
        assert_eq!(
            analyze_sql("SELECT name FROM sqlite_schema").class,
            StatementClass::Introspection
        );
        assert_eq!(
            analyze_sql("CREATE INDEX i ON events(x)").class,
            StatementClass::Ddl
        );
        let a = analyze_sql("SELECT * FROM plans JOIN other");
        assert_eq!(a.reference, vec!["plans"]);
        assert_eq!(a.unsharded, vec!["other"]);
    }
}
