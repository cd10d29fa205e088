//! The D1-shaped surface: one logical [`Database`] over a [`Backend`] of shards.
//! `query` is `prepare().bind().all()`; `batch` and `exec` behave as D1's.

use crate::analyze::analyze;
use crate::backend::{Backend, ShardBatch, ShardId};
use crate::cache::{PlanCache, Prepared};
use crate::catalog::{self, Catalog};
use crate::error::{Error, ErrorCode, Result};
use crate::execute::{self, Budget, QueryResult};
use crate::lex;
use crate::parse::Parsed;
pub use crate::plan::output::Statement;
use crate::plan::template::Template;
use crate::plan::{self, ConnectionState, Context, Plan, PlanOptions, ShardHint};
use crate::policy::Policy;
use crate::value::Value;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

mod two_phase;

/// Options of a [`Database`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Planner options (scatter writes).
    pub plan: PlanOptions,
    /// Shard queries allowed for this database handle (None: unlimited). In a Worker, one
    /// handle lives for one invocation: 1000 on the paid plan, 50 on the free one.
    pub query_budget: Option<usize>,
    /// Compare every plan taken from the plan cache with a fresh one, and fail with an
    /// internal error when they differ (always on in debug builds; the differential
    /// tests turn it on in release builds too).
    pub verify_cached_plans: bool,
}

/// What `exec` returns: how many statements ran, and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecResult {
    /// Statements run.
    pub count: usize,
    /// Milliseconds.
    pub duration: f64,
}

/// Many shards, one logical SQLite database.
///
/// The policy, the schema catalog and the plan cache are shared by every handle made with
/// [`Database::attach`]: in a Worker, one set of them lives as long as the isolate, while
/// each request attaches its own shard bindings and query budget.
pub struct Database<B: Backend> {
    shared: Rc<Shared>,
    backend: B,
    budget: Budget,
    /// Whether the next shard call carries the schema guard (see [`Database::arm_schema_guard`]).
    guard_armed: Cell<bool>,
    /// The layout record (`crate::reshard`) this handle's bindings were chosen by, when
    /// the caller says: a catalog naming another makes every call fail with
    /// `D1PLUS_LAYOUT_CHANGED` before it reaches a shard.
    expected_layout: Option<Option<String>>,
}

/// What routing found for a call: a plan made for it, or a kept template of one.
enum Routed {
    Fresh(Box<Plan>),
    Cached(Rc<Prepared>, Rc<Template>),
}

/// What the handles of one logical database share.
struct Shared {
    policy: Policy,
    catalog: RefCell<Rc<Catalog>>,
    /// Catalog loads started and the newest one installed (see `reload_catalog`); none
    /// installed yet means the catalog has not been read.
    load_started: std::cell::Cell<u64>,
    installed: std::cell::Cell<u64>,
    /// The rows the catalog was built from, to tell a changed schema from the same one.
    schema_rows: RefCell<Vec<Vec<Value>>>,
    cache: RefCell<PlanCache>,
    /// Reads' column names, for the schema guard (see `guard::KnownColumns`).
    known_columns: RefCell<crate::guard::KnownColumns>,
    options: Options,
}

/// What commits with a statement: only what its own plan runs (alone, or in a `batch()` on
/// one shard, which that shard runs atomically), or a `batch()` over several shards, where
/// one shard's failure would leave the others committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commits {
    Alone,
    WithSpreadBatch,
}

impl<B: Backend> Database<B> {
    /// Opens the logical database: checks the backend has the policy's shard count and
    /// loads the schema catalog from the home shard.
    pub async fn open(policy: Policy, backend: B, options: Options) -> Result<Database<B>> {
        let db = Database::unloaded(policy, backend, options)?;
        db.reload_catalog().await?;
        Ok(db)
    }

    /// Like [`Database::open`], but reads the schema catalog only when the first statement
    /// runs (or [`Database::ensure_catalog`] is called), so creating it does no I/O.
    pub fn unloaded(policy: Policy, backend: B, options: Options) -> Result<Database<B>> {
        policy.validate()?;
        check_shard_count(&policy, &backend)?;
        let budget = Budget::new(options.query_budget);
        Ok(Database {
            shared: Rc::new(Shared {
                policy,
                catalog: RefCell::new(Rc::new(Catalog::default())),
                load_started: std::cell::Cell::new(0),
                installed: std::cell::Cell::new(0),
                schema_rows: RefCell::new(Vec::new()),
                cache: RefCell::new(PlanCache::default()),
                known_columns: RefCell::default(),
                options,
            }),
            backend,
            budget,
            guard_armed: Cell::new(false),
            expected_layout: None,
        })
    }

    /// A handle on the same logical database (policy, catalog, plan cache) over another
    /// backend with the same shards, e.g. a D1 session, or the bindings of one request. The
    /// new handle has a fresh query budget of `query_budget` shard statements.
    pub fn attach<B2: Backend>(
        &self,
        backend: B2,
        query_budget: Option<usize>,
    ) -> Result<Database<B2>> {
        self.attach_with_budget(backend, Budget::new(query_budget))
    }

    /// Like [`Database::attach`], with a budget of the caller's (e.g. one shared by every
    /// call of a request).
    pub fn attach_with_budget<B2: Backend>(
        &self,
        backend: B2,
        budget: Budget,
    ) -> Result<Database<B2>> {
        check_shard_count(&self.shared.policy, &backend)?;
        Ok(Database {
            shared: self.shared.clone(),
            backend,
            budget,
            guard_armed: Cell::new(false),
            expected_layout: self.expected_layout.clone(),
        })
    }

    /// Says which layout record (`crate::reshard::LayoutRecord::view_sql`, `None` for a
    /// database never split) this handle's bindings were chosen by: a call whose catalog
    /// names another fails with `D1PLUS_LAYOUT_CHANGED` having run nothing, instead of
    /// reading shards a split retired.
    pub fn expecting_layout(mut self, layout: Option<String>) -> Self {
        self.expected_layout = Some(layout);
        self
    }

    /// Reads the schema catalog from the home shard unless it has been read already; fails
    /// with `D1PLUS_LAYOUT_CHANGED` when the handle expects another layout than the
    /// catalog's (see [`Database::expecting_layout`]).
    pub async fn ensure_catalog(&self) -> Result<()> {
        if self.shared.installed.get() == 0 {
            self.reload_catalog().await?;
        }
        crate::guard::check_layout(self.expected_layout.as_ref(), &self.catalog())
    }

    /// Makes this handle's next shard call carry the schema guard (`crate::guard`): a
    /// request's first call in a Worker, instead of re-reading the schema before it. False
    /// when no catalog has been read yet (then read it: there is nothing to guard).
    ///
    /// A call whose guard fails returns `D1PLUS_SCHEMA_CHANGED` having changed nothing;
    /// reload the catalog ([`Database::reload_catalog`]) and run it again.
    pub fn arm_schema_guard(&self) -> bool {
        let loaded = self.shared.installed.get() > 0;
        self.guard_armed.set(loaded);
        loaded
    }

    /// Runs `call` as a request's first call: with the schema guard when a catalog has been
    /// read (no extra round trip), else after reading it; a call whose guard failed ran
    /// nothing, and runs once more after the new schema is read.
    pub async fn revalidating<'s, T>(
        &'s self,
        call: impl Fn() -> futures::future::LocalBoxFuture<'s, Result<T>>,
    ) -> Result<T> {
        if !self.arm_schema_guard() {
            self.reload_catalog().await?;
            return call().await;
        }
        let first = call().await;
        self.disarm_schema_guard();
        match first {
            Err(e) if e.code() == ErrorCode::SchemaChanged => {
                self.reload_catalog().await?;
                call().await
            }
            other => other,
        }
    }

    /// Drops a guard that no shard call took (a call refused before it reached a shard).
    pub fn disarm_schema_guard(&self) {
        self.guard_armed.set(false);
    }

    /// The backend with the schema guard on its next call, when armed.
    fn shards<'a>(&'a self, catalog: &'a Catalog) -> crate::guard::Guarded<'a> {
        crate::guard::Guarded {
            inner: &self.backend,
            catalog,
            armed: &self.guard_armed,
            layout: self.expected_layout.as_ref(),
            budget: &self.budget,
            known: &self.shared.known_columns,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.shared.policy
    }

    /// The options this database was opened with.
    pub fn options(&self) -> &Options {
        &self.shared.options
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The current schema catalog.
    pub fn catalog(&self) -> Rc<Catalog> {
        self.shared.catalog.borrow().clone()
    }

    /// Shard queries used so far from the budget.
    pub fn queries_used(&self) -> usize {
        self.budget.used()
    }

    /// Reloads the catalog from the home shard (one query).
    ///
    /// Loads may overlap (concurrent requests in one isolate): one that started before a
    /// newer one finished is dropped, so an old schema never replaces a newer one. A load
    /// that finds the schema unchanged keeps the catalog (and the cached plans).
    pub async fn reload_catalog(&self) -> Result<()> {
        let generation = self.shared.load_started.get() + 1;
        self.shared.load_started.set(generation);
        let batch = ShardBatch::one(0, catalog::LOAD_SQL.into(), Vec::new());
        let out = execute::run_batches(&self.backend, vec![batch], &self.budget).await?;
        let rows = match out.into_iter().next() {
            Some(Ok(mut o)) => o.pop().map(|o| o.rows).unwrap_or_default(),
            Some(Err(e)) => return Err(e),
            None => Vec::new(),
        };
        if generation <= self.shared.installed.get() {
            return Ok(());
        }
        let first = self.shared.installed.replace(generation) == 0;
        if !first && *self.shared.schema_rows.borrow() == rows {
            return Ok(());
        }
        let version = self.shared.catalog.borrow().version + 1;
        *self.shared.catalog.borrow_mut() = Rc::new(Catalog::from_rows(&rows, version));
        *self.shared.schema_rows.borrow_mut() = rows;
        Ok(())
    }

    /// Plans a statement without running it (what `explain` shows).
    pub fn plan(&self, sql: &str, params: &[Value], hint: Option<&ShardHint>) -> Result<Plan> {
        self.plan_with(sql, params, hint, self.shared.options.plan)
    }

    /// The plan of `sql` before its values are known, as `explain` shows it: parameters
    /// as `?N`, a route decided by a key parameter named by it (see
    /// `plan::template::describe_unbound`). With a hint, the hint decides the route.
    pub fn explain_unbound(&self, sql: &str, hint: Option<&ShardHint>) -> Result<String> {
        let catalog = self.catalog();
        let prepared = self.prepare(sql, &catalog)?;
        let cx = self.context(&catalog, self.shared.options.plan);
        match plan::template::describe_unbound(&prepared.parsed, &prepared.analysis, hint, cx) {
            Err(e)
                if hint.is_none()
                    && matches!(e.code(), ErrorCode::CrossShard | ErrorCode::Unsupported) =>
            {
                self.explain_rows_first(&prepared.parsed)?.ok_or(e)
            }
            other => other,
        }
    }

    fn plan_with(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Result<Plan> {
        let routed = self.route(sql, params, hint, options)?;
        self.plan_of(routed, params, options)
    }

    /// The plan routing found: made for the call, or its template's plan for `params`.
    fn plan_of(&self, routed: Routed, params: &[Value], options: PlanOptions) -> Result<Plan> {
        match routed {
            Routed::Fresh(plan) => Ok(*plan),
            Routed::Cached(prepared, template) => {
                self.instantiate(&prepared, &template, params, options)
            }
        }
    }

    /// What planning needs besides the statement, for `catalog` and `options`.
    fn context<'a>(&'a self, catalog: &'a Catalog, options: PlanOptions) -> Context<'a> {
        Context {
            policy: &self.shared.policy,
            catalog,
            options,
        }
    }

    /// Plans `sql`, or finds the kept template whose plan it is (see `plan::template`).
    fn route(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Result<Routed> {
        let catalog = self.catalog();
        let prepared = self.prepare(sql, &catalog)?;
        let cx = self.context(&catalog, options);
        let (parsed, analysis) = (&prepared.parsed, &prepared.analysis);
        // Templates hold for calls with the statement's parameter count (a call with another
        // count gets the planner's D1PLUS_PARAM_COUNT) and without a hint.
        if hint.is_some() || params.len() != parsed.params.count {
            return plan::plan(parsed, analysis, params, hint, cx)
                .map(|p| Routed::Fresh(Box::new(p)));
        }
        let cached = prepared.templates.borrow().find(params, options);
        if let Some(template) = cached {
            self.shared.cache.borrow_mut().template_hits += 1;
            return Ok(Routed::Cached(prepared, template));
        }
        let (plan, template) = plan::template::plan_and_template(parsed, analysis, params, cx)?;
        if let Some((reads, template)) = template {
            self.shared
                .cache
                .borrow_mut()
                .add_template(&prepared, options, reads, template);
        }
        Ok(Routed::Fresh(Box::new(plan)))
    }

    /// Whether a kept plan is checked against one made afresh before it runs: in debug
    /// builds, and with `verify_cached_plans`.
    fn verifies_cached_plans(&self) -> bool {
        cfg!(debug_assertions) || self.shared.options.verify_cached_plans
    }

    /// The plan a kept template gives for `params`; in debug builds (and with
    /// `verify_cached_plans`) checked against a plan made afresh.
    fn instantiate(
        &self,
        prepared: &Prepared,
        template: &Template,
        params: &[Value],
        options: PlanOptions,
    ) -> Result<Plan> {
        let plan = template.instantiate(params);
        if self.verifies_cached_plans() {
            let catalog = self.catalog();
            let cx = self.context(&catalog, options);
            let (parsed, analysis) = (&prepared.parsed, &prepared.analysis);
            // Compared as printed: a NaN parameter is not equal to itself.
            let fresh = plan::plan(parsed, analysis, params, None, cx);
            if format!("{fresh:?}") != format!("{:?}", Ok::<_, Error>(&plan)) {
                return Err(Error::internal(format!(
                    "a cached plan differs from a fresh one for {}: cached {plan:?}, fresh {fresh:?}",
                    parsed.sql
                )));
            }
            template.check_passthrough(&plan, params)?;
        }
        Ok(plan)
    }

    /// The parse and analysis of `sql`, from the plan cache when it holds a current one.
    fn prepare(&self, sql: &str, catalog: &Catalog) -> Result<Rc<Prepared>> {
        if let Some(p) = self.shared.cache.borrow_mut().get(sql, catalog.version) {
            return Ok(p);
        }
        let parsed = Parsed::new(sql)?;
        let analysis = analyze(&parsed, &self.shared.policy, catalog)?;
        let prepared = Rc::new(Prepared::new(parsed, analysis, catalog.version));
        self.shared.cache.borrow_mut().insert(prepared.clone());
        Ok(prepared)
    }

    /// What the plan cache holds and how often it answered.
    pub fn plan_cache_stats(&self) -> crate::cache::CacheStats {
        self.shared.cache.borrow().stats()
    }

    /// Plan-cache hits and misses so far.
    pub fn cache_stats(&self) -> (u64, u64) {
        let c = self.shared.cache.borrow();
        (c.hits, c.misses)
    }

    /// Plans, reloading the catalog once if a table is unknown (another client may have
    /// created it).
    async fn plan_fresh(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Result<Plan> {
        let routed = self.route_fresh(sql, params, hint, options).await?;
        self.plan_of(routed, params, options)
    }

    /// [`Database::route`] on a current catalog: reloaded once if a table is unknown.
    async fn route_fresh(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Result<Routed> {
        self.ensure_catalog().await?;
        match self.route(sql, params, hint, options) {
            Err(e) if e.code() == ErrorCode::NoSuchTable => {
                self.reload_catalog().await?;
                self.route(sql, params, hint, options)
            }
            other => other,
        }
    }

    /// [`Database::route_fresh`] without its awaits, when the catalog is read and knows
    /// the statement's tables (the usual case). None when it must be read first.
    fn route_loaded(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Option<Result<Routed>> {
        if self.shared.installed.get() == 0 {
            return None;
        }
        let layout = crate::guard::check_layout(self.expected_layout.as_ref(), &self.catalog());
        match layout.and_then(|()| self.route(sql, params, hint, options)) {
            Err(e) if e.code() == ErrorCode::NoSuchTable => None,
            other => Some(other),
        }
    }

    /// Runs one statement: `prepare(sql).bind(params).all()`.
    pub async fn query(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
    ) -> Result<QueryResult> {
        self.query_with(sql, params, hint, self.shared.options.plan)
            .await
    }

    /// Runs one statement with explicit planner options (e.g. allowing a scatter write).
    pub async fn query_with(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Result<QueryResult> {
        let routed = match self.route_loaded(sql, params, hint, options) {
            Some(routed) => routed,
            None => self.route_fresh(sql, params, hint, options).await,
        };
        let routed = match routed {
            Ok(routed) => routed,
            Err(e) if matches!(e.code(), ErrorCode::CrossShard | ErrorCode::Unsupported) => {
                // SQL that SQLite itself rejects gets SQLite's error, not a refusal.
                if let Some(rejected) = crate::validate::sqlite_rejects(&self.catalog(), sql) {
                    return Err(self.rejected(rejected));
                }
                return match Box::pin(self.subqueries_first(sql, params, hint, options)).await? {
                    Some(result) => Ok(result),
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if let Routed::Cached(prepared, template) = &routed {
            // One statement on one shard with the caller's values, changing no schema (so
            // nothing to validate first): it runs as it is, no plan built.
            if let Some((shard, shard_sql)) = template.passthrough() {
                if self.verifies_cached_plans() {
                    self.instantiate(prepared, template, params, options)?;
                }
                let catalog = self.catalog();
                let backend = self.shards(&catalog);
                return execute::execute_one(shard, shard_sql, params, &backend, &self.budget)
                    .await;
            }
        }
        let plan = self.plan_of(routed, params, options)?;
        self.validate_before_running(sql, &plan, Commits::Alone)?;
        let changes_schema = plan.changes_schema;
        let catalog = self.catalog();
        let result = execute::execute(plan, &self.shards(&catalog), &self.budget).await;
        if changes_schema {
            self.reload_catalog().await?;
            crate::capture::ensure(&self.backend, &self.shared.policy, &self.catalog()).await?;
        }
        result
    }

    /// Reads merged across shards answer from rewritten SQL, and writes to several shards
    /// could half-apply: SQLite must accept the original first (`validate`, maintenance aside).
    fn validate_before_running(&self, sql: &str, plan: &Plan, commits: Commits) -> Result<()> {
        let merged_read = matches!(
            plan.combine,
            plan::Combine::Rows(_) | plan::Combine::Aggregate { .. } | plan::Combine::Concat
        );
        let spread_write =
            (plan.batches.len() > 1 || commits == Commits::WithSpreadBatch) && !plan.changes_schema;
        if (merged_read || spread_write) && plan.route.reason != plan::Reason::Maintenance {
            if let Some(rejected) = crate::validate::sqlite_rejects_cached(&self.catalog(), sql) {
                return Err(self.rejected(rejected));
            }
        }
        Ok(())
    }

    /// SQLite's verdict on a statement, in the words this backend's shards would use.
    fn rejected(&self, r: crate::validate::Rejection) -> Error {
        Error::Backend {
            shard: None,
            message: self.backend.prepare_error(&r.message, r.offset),
        }
    }

    /// The options a batch's statements are planned with: a statement reading the
    /// connection's state is placed by the batch (`plan::batch`), not refused.
    fn batch_options(&self) -> PlanOptions {
        PlanOptions {
            connection_state: ConnectionState::PlacedByBatch,
            ..self.shared.options.plan
        }
    }

    /// Runs statements as D1's `batch()`: each shard's statements run as one atomic batch;
    /// results come back in the caller's order. A batch spanning several shards is atomic
    /// per shard only (see [`Database::batch_atomic`] for the strict form).
    pub async fn batch(&self, statements: &[Statement]) -> Result<Vec<QueryResult>> {
        let options = self.batch_options();
        let mut plans = Vec::with_capacity(statements.len());
        for s in statements {
            plans.push(
                self.plan_fresh(&s.sql, &s.params, s.hint.as_ref(), options)
                    .await?,
            );
        }
        plan::batch::place_connection_state(statements, &mut plans)?;
        if statements.len() > 1 && self.backend.batch_rows_by_name() {
            plan::batch::check_positional_merges(&plans)?;
        }
        // One backend batch per shard, statements in the caller's order.
        let mut merged: Vec<ShardBatch> = Vec::new();
        // For each plan, for each of its batches: (merged index, first statement, count).
        let mut places: Vec<Vec<(usize, usize, usize)>> = Vec::with_capacity(plans.len());
        for p in &plans {
            let mut place = Vec::new();
            for b in &p.batches {
                let idx = match merged.iter().position(|m| m.shard == b.shard) {
                    Some(i) => i,
                    None => {
                        merged.push(ShardBatch {
                            shard: b.shard,
                            statements: Vec::new(),
                        });
                        merged.len() - 1
                    }
                };
                let start = merged[idx].statements.len();
                merged[idx].statements.extend(b.statements.iter().cloned());
                place.push((idx, start, b.statements.len()));
            }
            places.push(place);
        }
        // Before any shard runs: a batch on several shards could half-apply.
        let commits = match merged.len() {
            0 | 1 => Commits::Alone,
            _ => Commits::WithSpreadBatch,
        };
        for (s, p) in statements.iter().zip(&plans) {
            self.validate_before_running(&s.sql, p, commits)?;
        }
        let shards: Vec<ShardId> = merged.iter().map(|b| b.shard).collect();
        let catalog = self.catalog();
        let outputs = execute::run_batches(&self.shards(&catalog), merged, &self.budget).await?;
        if let Some(Err(e)) = outputs.iter().find(|o| o.is_err()) {
            let committed: Vec<String> = outputs
                .iter()
                .zip(&shards)
                .filter(|(o, _)| o.is_ok())
                .map(|(_, s)| s.to_string())
                .collect();
            return Err(match e.clone() {
                Error::Backend { shard, message } if !committed.is_empty() => Error::Backend {
                    shard,
                    message: format!(
                        "{message} [d1plus: this batch spans shards; shard batches {} committed]",
                        committed.join(", ")
                    ),
                },
                other => other,
            });
        }
        let mut results = Vec::with_capacity(plans.len());
        for (p, place) in plans.iter().zip(&places) {
            let outs = place
                .iter()
                .map(|&(idx, start, n)| match &outputs[idx] {
                    Ok(o) => Ok(o[start..start + n].to_vec()),
                    Err(e) => Err(e.clone()),
                })
                .collect();
            results.push(execute::combine(p, outs)?);
        }
        if plans.iter().any(|p| p.changes_schema) {
            self.reload_catalog().await?;
            crate::capture::ensure(&self.backend, &self.shared.policy, &self.catalog()).await?;
        }
        Ok(results)
    }

    /// Like [`Database::batch`], but refuses a batch whose statements touch more than one
    /// shard, so it is all-or-nothing like a transaction.
    pub async fn batch_atomic(&self, statements: &[Statement]) -> Result<Vec<QueryResult>> {
        let mut shards = std::collections::BTreeSet::new();
        let options = self.batch_options();
        for s in statements {
            let p = self
                .plan_fresh(&s.sql, &s.params, s.hint.as_ref(), options)
                .await?;
            shards.extend(p.batches.iter().map(|b| b.shard));
        }
        if shards.len() > 1 {
            let list: Vec<String> = shards.iter().map(|s| s.to_string()).collect();
            return Err(Error::with_remedy(
                ErrorCode::CrossShardTransaction,
                format!("this transaction touches shards {}; D1 cannot commit across databases atomically", list.join(", ")),
                "keep a transaction's statements on one shard key, or use batch() and accept per-shard atomicity",
            ));
        }
        self.batch(statements).await
    }

    /// Runs a script of statements one after another, as D1's `exec()`. Stops at the first
    /// error, which names the statement's index and text.
    pub async fn exec(&self, script: &str) -> Result<ExecResult> {
        let mut count = 0;
        let mut duration = 0.0;
        for (i, st) in lex::split_statements(script).into_iter().enumerate() {
            let line = script[..st.range.start].matches('\n').count() + 1;
            let sql = &script[st.range];
            match self.query(sql, &[], None).await {
                Ok(r) => {
                    count += 1;
                    duration += r.meta.duration;
                }
                Err(e) => return Err(exec_error(e, i + 1, line, sql)),
            }
        }
        Ok(ExecResult { count, duration })
    }
}

/// A statement run in another spelling (CTEs inlined, subqueries replaced by their values)
/// keeps SQLite's names for the original: an unnamed output expression is named by its text.
fn keep_original_names(result: &mut QueryResult, parsed: &Parsed, catalog: &Catalog) {
    if let Some(names) = plan::subquery::column_names(parsed, catalog) {
        if names.len() == result.columns.len() {
            result.columns = names.into();
        }
    }
}

fn check_shard_count(policy: &Policy, backend: &dyn Backend) -> Result<()> {
    if backend.shard_count() != policy.shard_count() {
        return Err(Error::with_remedy(
            ErrorCode::InvalidPolicy,
            format!(
                "the policy asks for {} shards but the backend has {}",
                policy.shard_count(),
                backend.shard_count()
            ),
            "give the backend one database per shard",
        ));
    }
    Ok(())
}

/// An error of `exec()`'s statement `index`, starting on `line` of the script. SQLite's
/// errors read as D1 writes them (`Error in line 1: <statement>: <message>`; D1 runs one
/// statement per line).
fn exec_error(e: Error, index: usize, line: usize, sql: &str) -> Error {
    let short: String = sql.chars().take(200).collect();
    match e {
        Error::Backend { shard, message } => Error::Backend {
            shard,
            message: format!("Error in line {line}: {sql}: {message}"),
        },
        other => other.prefixed(format_args!("statement {index} ({short})")),
    }
}
