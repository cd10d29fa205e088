//! Scopes and name resolution: a stack of FROM frames walked with sqlparser's visitor, so
//! that column references resolve to the innermost table that has them, as in SQLite.

use super::{push_unique, view_reads_sharded};
use super::{Analysis, DerivedLimit, ShardedRef};
use crate::catalog::{Catalog, ObjectKind};
use crate::error::{Error, Result};
use crate::parse::Parsed;
use crate::policy::{Policy, TableKind};
use crate::sql::object_name;
use crate::sql::walk::{walk, Walk};
use sqlparser::ast::{
    Expr, JoinConstraint, JoinOperator, ObjectName, Query, Select, Statement, TableFactor,
    TableWithJoins,
};
use std::ops::ControlFlow;

/// What a condition's key equalities tell about the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// It decides nothing about which rows exist (an outer join's ON keeps the preserved
    /// side's rows whatever it says): it only links references joined on their keys.
    LinksOnly,
    /// It filters the rows a subquery reads: key pins for the reference.
    Rows,
    /// It filters the rows the statement outputs: key pins that also route the statement.
    Output,
}

impl Reach {
    /// The reach of a condition that filters rows of a FROM clause at `level`.
    pub(super) fn filter(level: Level) -> Reach {
        match level {
            Level::Outermost => Reach::Output,
            Level::Subquery => Reach::Rows,
        }
    }

    /// The reach of a join's ON condition.
    pub(super) fn on(on: OnRole, level: Level) -> Reach {
        match on {
            OnRole::Filters => Reach::filter(level),
            OnRole::Matches => Reach::LinksOnly,
        }
    }
}

/// Where a FROM clause is: the outermost query's (or a write's target), whose rows are the
/// statement's output, or a subquery's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Outermost,
    Subquery,
}

/// What a join's ON condition does: an inner join's filters the joined rows; an outer
/// join's only matches rows (the preserved side keeps its rows when nothing matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnRole {
    Filters,
    Matches,
}

/// One name visible in a FROM clause.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The alias, or the table's own name.
    pub(super) alias: String,
    /// The table name (for sharded tables, the policy's spelling).
    pub(super) table: String,
    /// The sharded reference it stands for.
    pub(super) node: Option<usize>,
    /// Its columns.
    pub(super) columns: Columns,
}

/// The columns of a FROM item.
#[derive(Debug, Clone)]
pub(super) enum Columns {
    /// Those the catalog has for its table (any, for a table it does not have).
    OfTable,
    /// A keyed subquery's (`analyze::keyed`).
    Named(Vec<String>),
    /// A keyed subquery's, some of whose names are not known here.
    Unknown,
}

/// A keyed FROM subquery (`analyze::keyed`) waiting for the walk to reach its own FROM,
/// where the reference its key column reads is registered and linked to the subquery's.
#[derive(Debug)]
pub(super) struct PendingKeyed {
    /// The subquery, by identity.
    pub(super) query: *const Query,
    /// The reference that stands for the subquery's rows in the query reading it.
    pub(super) node: usize,
    /// The name the subquery's key table is referred to by inside it.
    pub(super) inner: String,
}

/// Walks the AST with a stack of FROM scopes, so that column references resolve to the
/// innermost table that has them, as SQLite resolves them (correlated subqueries see the
/// outer query's tables).
pub(super) struct Scopes<'a> {
    pub(super) parsed: &'a Parsed,
    pub(super) policy: &'a Policy,
    pub(super) catalog: &'a Catalog,
    pub(super) frames: Vec<Vec<Entry>>,
    /// For each frame: whether its FROM has an outer join (a key may be NULL-filled).
    pub(super) frame_outer: Vec<bool>,
    /// References on the NULL-filled side of an outer join: `key IS NULL` on them holds
    /// for rows whose key is not NULL, so it pins nothing.
    pub(super) null_filled: Vec<usize>,
    pub(super) ctes: Vec<String>,
    pub(super) query_depth: usize,
    /// Added to the query depth: 1 when the statement's own query is not the output
    /// (INSERT … SELECT, CREATE TABLE … AS).
    pub(super) depth_offset: usize,
    pub(super) refs: Vec<ShardedRef>,
    pub(super) links: Vec<(usize, usize)>,
    pub(super) unsharded: Vec<String>,
    pub(super) reference: Vec<String>,
    pub(super) sharded_views: Vec<String>,
    pub(super) hazards: Vec<String>,
    pub(super) schema_reads: usize,
    /// Sharded table names the visitor met anywhere, and how many of them were registered
    /// through a FROM scope (or as a write target): a sharded table met in a place this
    /// analysis does not model must not be overlooked.
    pub(super) seen_sharded: usize,
    pub(super) registered: usize,
    /// The current SELECT of the outermost compound (0, 1, … for each `UNION` branch).
    pub(super) branch: usize,
    pub(super) top_selects: usize,
    /// Transparent FROM subqueries of the outermost query (see [`DerivedLimit`]), by
    /// identity, and how many of them the visitor is inside: their SELECT is analyzed as
    /// top level (its tables and pins route the statement).
    pub(super) transparent: Vec<*const Query>,
    pub(super) lifted: usize,
    pub(super) derived_limits: Vec<DerivedLimit>,
    /// Keyed FROM subqueries whose own FROM the walk has not reached yet.
    pub(super) pending_keyed: Vec<PendingKeyed>,
    /// The queries the visitor is inside, innermost last.
    queries: Vec<Visiting>,
    pub(super) nested_hazards: Vec<(String, std::ops::Range<usize>)>,
    /// The error that stopped the walk (see [`Scopes::visit`]).
    failed: Option<Error>,
}

impl<'a> Scopes<'a> {
    pub(super) fn new(parsed: &'a Parsed, policy: &'a Policy, catalog: &'a Catalog) -> Scopes<'a> {
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
            pending_keyed: Vec::new(),
            queries: Vec::new(),
            nested_hazards: Vec::new(),
            failed: None,
        }
    }

    /// The nesting level of the current query: 1 for the statement's output query (and the
    /// transparent FROM subqueries lifted into it).
    pub(super) fn level(&self) -> usize {
        (self.query_depth + self.depth_offset).saturating_sub(self.lifted)
    }

    pub(super) fn visit(&mut self, stmt: &Statement) -> Result<()> {
        let _ = walk(stmt, self);
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A hook's outcome for the walk: an error is kept and stops it.
    fn stop(&mut self, outcome: ControlFlow<Error>) -> ControlFlow<()> {
        match outcome {
            ControlFlow::Continue(()) => ControlFlow::Continue(()),
            ControlFlow::Break(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    pub(super) fn only_schema_reads(&self) -> bool {
        self.schema_reads > 0
            && self.refs.is_empty()
            && self.unsharded.is_empty()
            && self.reference.is_empty()
    }

    pub(super) fn finish(mut self, a: &mut Analysis) {
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
        a.nested_hazards = self.nested_hazards;
    }

    /// Records a table name outside any FROM (an INSERT target).
    pub(super) fn note_table(&mut self, table: &str) {
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
    pub(super) fn push_frame(
        &mut self,
        from: &[&TableWithJoins],
        level: Level,
    ) -> Vec<(Expr, OnRole)> {
        let mut frame = Vec::new();
        let mut ons = Vec::new();
        for twj in from {
            self.add_joined(twj, level, &mut frame, &mut ons);
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

    pub(super) fn add_joined(
        &mut self,
        twj: &TableWithJoins,
        level: Level,
        frame: &mut Vec<Entry>,
        ons: &mut Vec<(Expr, OnRole)>,
    ) {
        let first_ref = self.refs.len();
        self.add_factor(&twj.relation, level, frame, ons);
        for join in &twj.joins {
            let left_len = frame.len();
            let right_ref = self.refs.len();
            self.add_factor(&join.relation, level, frame, ons);
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
            let (constraint, role) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c) => {
                    (Some(c), OnRole::Filters)
                }
                JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => (Some(c), OnRole::Matches),
                _ => (None, OnRole::Matches),
            };
            match constraint {
                Some(JoinConstraint::On(e)) => ons.push((e.clone(), role)),
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
    pub(super) fn link_same_named_keys(
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

    pub(super) fn has_known_column(&self, entry: &Entry, column: &str) -> bool {
        match &entry.columns {
            Columns::Named(names) => return names.iter().any(|n| n.eq_ignore_ascii_case(column)),
            Columns::Unknown => return false,
            Columns::OfTable => {}
        }
        entry
            .node
            .is_some_and(|n| self.refs[n].key_column.eq_ignore_ascii_case(column))
            || self
                .catalog
                .get(&entry.table)
                .is_some_and(|t| t.column(column).is_some())
    }

    pub(super) fn add_factor(
        &mut self,
        factor: &TableFactor,
        level: Level,
        frame: &mut Vec<Entry>,
        ons: &mut Vec<(Expr, OnRole)>,
    ) {
        if let TableFactor::NestedJoin {
            table_with_joins, ..
        } = factor
        {
            self.add_joined(table_with_joins, level, frame, ons);
            return;
        }
        if let TableFactor::Derived {
            lateral,
            subquery,
            alias,
            ..
        } = factor
        {
            // Made transparent (or not) by `pre_visit_select`, before its frame; else, a
            // keyed subquery is read like a sharded table (`analyze::keyed`).
            if !lateral {
                frame.extend(self.keyed_subquery(subquery, alias.as_ref(), level));
            }
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
                    top_level: level == Level::Outermost,
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
        frame.push(Entry {
            alias,
            table,
            node,
            columns: Columns::OfTable,
        });
    }

    /// The frame for the target of an UPDATE or DELETE, whose WHERE pins the write.
    pub(super) fn push_write_frame(&mut self, from: &[&TableWithJoins], selection: Option<&Expr>) {
        let ons = self.push_frame(from, Level::Outermost);
        for (on, role) in &ons {
            self.scan_condition(on, Reach::on(*role, Level::Outermost));
        }
        if let Some(w) = selection {
            self.scan_condition(w, Reach::Output);
        }
    }
}

impl Walk for Scopes<'_> {
    fn pre_query(&mut self, q: &Query) -> ControlFlow<()> {
        let outcome = self.pre_visit_query(q);
        self.stop(outcome)
    }
    fn post_query(&mut self, q: &Query) -> ControlFlow<()> {
        let outcome = self.post_visit_query(q);
        self.stop(outcome)
    }
    fn pre_select(&mut self, s: &Select) -> ControlFlow<()> {
        let outcome = self.pre_visit_select(s);
        self.stop(outcome)
    }
    fn post_select(&mut self, s: &Select) -> ControlFlow<()> {
        let outcome = self.post_visit_select(s);
        self.stop(outcome)
    }
    fn pre_relation(&mut self, r: &ObjectName) -> ControlFlow<()> {
        let outcome = self.pre_visit_relation(r);
        self.stop(outcome)
    }
    fn pre_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        let outcome = self.pre_visit_expr(e);
        self.stop(outcome)
    }
}

/// A query the visitor is inside.
struct Visiting {
    /// The query, by identity.
    query: *const Query,
    /// Nested in the statement's output query.
    nested: bool,
    /// Where its references start in `Scopes::refs`.
    first_ref: usize,
    /// What in it cannot run across several shards unless it is co-located with the
    /// outer query.
    hazards: Vec<String>,
}

/// The walk's hooks (see [`Walk`]), which stop it with an error.
impl Scopes<'_> {
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
        let mut visiting = Visiting {
            query,
            nested,
            first_ref: self.refs.len(),
            hazards: Vec::new(),
        };
        if nested && (query.limit_clause.is_some() || query.fetch.is_some()) {
            visiting
                .hazards
                .push("LIMIT or OFFSET inside a subquery".into());
        }
        self.queries.push(visiting);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<Error> {
        if let Some(done) = self.queries.pop() {
            let inside = done.first_ref..self.refs.len();
            self.nested_hazards
                .extend(done.hazards.into_iter().map(|h| (h, inside.clone())));
        }
        if self.is_transparent(query) {
            self.lifted -= 1;
        }
        self.query_depth = self.query_depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Error> {
        let level = match self.level() {
            1 => Level::Outermost,
            _ => Level::Subquery,
        };
        // A lifted subquery's SELECT belongs to the branch of the SELECT it is read by.
        if self.query_depth + self.depth_offset == 1 {
            self.branch = self.top_selects;
            self.top_selects += 1;
        }
        // The only source of an outermost SELECT, a subquery that only filters and
        // projects, is read like the tables under it. Not when joined: an outer join
        // would repeat the other side's rows on every shard, and the analysis does not
        // link keys through a subquery's columns.
        if level == Level::Outermost {
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
        let ons = self.push_frame(&from, level);
        for (on, role) in &ons {
            self.scan_condition(on, Reach::on(*role, level));
        }
        if let Some(query) = self.queries.last().map(|v| v.query) {
            self.link_keyed(query);
        }
        if let Some(w) = &select.selection {
            self.scan_condition(w, Reach::filter(level));
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
                let hazard = format!(
                    "window function {}() OVER (...) not partitioned by the shard key",
                    object_name(&f.name)
                );
                match self.queries.last_mut() {
                    // Over a nested query's rows: see `Analysis::nested_hazards`.
                    Some(q) if q.nested => q.hazards.push(hazard),
                    _ => self.hazards.push(hazard),
                }
            }
        }
        ControlFlow::Continue(())
    }
}
