//! The online split over backend calls: how a Worker doubles its D1 shards while it
//! serves (docs/ARCHITECTURE.md §7b). `crate::split` is the native split over files;
//! this one has no files, no ATTACH and no SQL functions, only statements sent to
//! bindings, so it advances in [`step`]s that each fit one invocation's limits, and keeps
//! every bit of its progress in the databases themselves. A step that fails, or an
//! invocation that dies, leaves a state the next step resumes.
//!
//! The bindings form a pool, named in index order (`SHARD_0`, `SHARD_1`, …); the pool's
//! first binding is the **home**: it holds the split's state (`_d1plus_split_state`) and
//! always the newest layout record. A **layout record** is a view on a database,
//! `_d1plus_split_layout`, whose text names the bindings that serve the database, shard by
//! shard, and the layout's version. Before the first split there is none, and the
//! policy's shard count of bindings from `SHARD_0` serve.
//!
//! One doubling, `n` old shards to `2n` new (fresh, empty) bindings, old shard `i`
//! becoming new shards `2i` and `2i + 1`:
//!
//! 1. **Prepare.** Capture triggers on every table of each old shard log each changed
//!    rowid in `_d1plus_split_log`, in the write's own transaction (and, before an INSERT
//!    or UPDATE, the rows its values collide with on a UNIQUE index). Each new shard is
//!    emptied and gets the schema (not the app's triggers) and progress tables.
//! 2. **Copy.** Old rows in rowid chunks, read as SQL literals (`quote()`, exact for every
//!    storage class) and inserted into the half the placement rule names; each chunk's
//!    insert commits with the copy's progress on that new shard.
//! 3. **Catch up.** The log is replayed: each logged row is read *as it is now* on the old
//!    shard and written to (or deleted from) each half, so no older copy overwrites a
//!    newer change and no deleted row comes back; how far it got commits with the rows.
//! 4. **Cutover.** Pause triggers make every write to an old shard fail with
//!    `D1PLUS_RETRY`; the log is drained; every table's rows are counted (old = even +
//!    odd); the new shards get the app's triggers, the id floors and the new layout
//!    record. Then the old shards are **retired**, shard 0 last: each gets the new layout
//!    record too (its pause triggers stay). Retiring old shard 0 is the commit point.
//! 5. **Cleanup.** The capture triggers and logs go; the home's state is cleared.
//!
//! What clients see (`crate::guard`): every request's first call checks, in the same D1
//! call, that its shard's layout record is the one its plan was made for. A request on
//! the old layout that meets a retired shard reloads the catalog from its shard 0; until
//! the commit it finds the old layout and tries again (reads wait, a few D1 calls at
//! most), after it the new one, and moves to the new bindings. Nobody learns the new
//! layout before the commit, and every old shard is frozen (paused) from before the first
//! retirement, so a read never sees a mix; writes on the old layout fail on the pause or
//! on the guard, never on the wrong shard.

use crate::backend::{Backend, ShardBatch, ShardStatement, StatementOutput};
use crate::catalog::{Catalog, LAYOUT_SQL, LOAD_SQL};
use crate::error::{Error, ErrorCode, Result};
use crate::plan::rowid_ranges;
use crate::policy::Policy;
use crate::value::Value;
use serde::{Deserialize, Serialize};

mod auto;
mod follow;
pub(crate) mod sql;

pub use auto::{decide, AutoDecision};

use sql::{literal, TableSpec};

/// The layout record's view.
pub const LAYOUT_VIEW: &str = "_d1plus_split_layout";
/// On the home: the split in progress.
const STATE: &str = "_d1plus_split_state";
/// On the home: which step is running (one at a time), and until when at most.
const LEASE: &str = "_d1plus_split_lease";
/// On each old shard during a split: the change log.
const LOG: &str = "_d1plus_split_log";
/// On each new shard: how far each table's copy got.
const COPY: &str = "_d1plus_split_copy";
/// On each new shard: how far the log replay got.
const CAUGHT: &str = "_d1plus_split_caught";

/// Which bindings serve the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutRecord {
    /// Bumped by each doubling; 0 before the first.
    pub version: u64,
    /// Binding names, shard by shard.
    pub shards: Vec<String>,
}

impl LayoutRecord {
    /// The layout before any split: the first `n` bindings of the pool.
    pub fn initial(names: &[String], n: usize) -> LayoutRecord {
        LayoutRecord {
            version: 0,
            shards: names.iter().take(n).cloned().collect(),
        }
    }

    /// The view that records it on a database.
    pub fn view_sql(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!(
            "CREATE VIEW {LAYOUT_VIEW} AS SELECT {} AS layout",
            literal(&json)
        )
    }

    /// Reads a record back from its view's text.
    pub fn from_view_sql(sql: &str) -> Option<LayoutRecord> {
        let start = sql.find('\'')?;
        let end = sql.rfind('\'')?;
        let json = sql.get(start + 1..end)?.replace("''", "'");
        serde_json::from_str(&json).ok()
    }
}

/// What a step is asked to do.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepRequest {
    /// The pool's binding names in index order: the backend's shard `k` is `names[k]`.
    pub names: Vec<String>,
    /// The shard count to end with (a power of two, at most 64); absent: finish the split
    /// in progress, or double once.
    #[serde(default)]
    pub to: Option<usize>,
    /// Undo the split in progress (before its commit).
    #[serde(default)]
    pub abort: bool,
    /// Split as the policy's `"auto"` capacity says (`crate::reshard::decide`), when no
    /// split is in progress: doubles once if a shard passes its thresholds.
    #[serde(default)]
    pub auto: bool,
    /// Statements this step may send (an invocation allows 1000 queries).
    #[serde(default = "default_max_queries")]
    pub max_queries: usize,
    /// Rows per copy chunk, and change-log entries per replay read.
    #[serde(default = "default_chunk_rows")]
    pub chunk_rows: usize,
    /// The cutover starts when no old shard has more change-log entries left than this.
    #[serde(default = "default_cutover_backlog")]
    pub cutover_backlog: usize,
    /// How long a step's lease on the split lasts if the step dies without giving it
    /// back (milliseconds): until then no other step runs.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

fn default_max_queries() -> usize {
    400
}

fn default_chunk_rows() -> usize {
    200
}

fn default_cutover_backlog() -> usize {
    200
}

fn default_lease_ms() -> u64 {
    300_000
}

/// The split in progress, as the home keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitState {
    /// The old shards' bindings.
    pub from: Vec<String>,
    /// The new shards' bindings.
    pub to: Vec<String>,
    /// The new layout's version.
    pub version: u64,
    /// The shard count the split ends with (several doublings).
    pub target: usize,
    /// Where this doubling is.
    pub phase: Phase,
    /// Whether the cutover's pause triggers are on the old shards.
    #[serde(default)]
    pub paused: bool,
}

impl SplitState {
    /// The layout the doubling ends with.
    pub fn new_layout(&self) -> LayoutRecord {
        LayoutRecord {
            version: self.version,
            shards: self.to.clone(),
        }
    }

    /// The statement that records this state on the home.
    fn save_sql(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!(
            "INSERT INTO {STATE} (id, state) VALUES (1, {}) ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            literal(&json)
        )
    }
}

/// The stages of one doubling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Installing capture, emptying and preparing the new shards.
    Prepare,
    /// Copying rows.
    Copy,
    /// Replaying the change log.
    CatchUp,
    /// Writes paused: draining, checking, finalizing, retiring.
    Cutover,
    /// Committed: dropping the split's triggers and logs.
    Cleanup,
}

/// What a step did and where the split is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// The layout serving after the step.
    pub layout: LayoutRecord,
    /// The split in progress, if any.
    pub split: Option<SplitState>,
    /// True when nothing is left to do (the target reached, or an abort finished).
    pub done: bool,
    /// Rows copied by this step.
    pub rows: u64,
    /// Log entries replayed by this step.
    pub changes: u64,
    /// Statements this step sent.
    pub queries: usize,
    /// What happened, in a sentence.
    pub note: String,
}

/// Runs one bounded step of the split `request` asks for over `backend`, whose shard
/// `k` is the binding `request.names[k]`.
pub async fn step(
    backend: &dyn Backend,
    policy: &Policy,
    request: &StepRequest,
) -> Result<StepReport> {
    if request.names.len() != backend.shard_count() || request.names.is_empty() {
        return Err(Error::internal("the pool's names and bindings differ"));
    }
    let mut run = Run {
        backend,
        names: &request.names,
        used: 0,
        fresh: 0,
        max: request.max_queries.max(20),
        chunk: request.chunk_rows.clamp(1, 10_000),
        backlog: request.cutover_backlog as i64,
        lease: None,
        lease_ms: request.lease_ms,
        rows: 0,
        changes: 0,
    };
    let (layout, state) = run.read_home(policy).await?;
    let answer = run.act(policy, request, layout, state).await;
    run.release().await;
    answer
}

/// The time on the database's clock, in milliseconds.
const NOW: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

impl Run<'_> {
    /// Gives the lease back (a lease not given back ends by itself).
    async fn release(&mut self) {
        if let Some(holder) = self.lease.take() {
            let sql = format!(
                "UPDATE {LEASE} SET until = 0 WHERE holder = {}",
                literal(&holder)
            );
            // A failed release only delays the next step until the lease ends.
            let _ignored = self.call(vec![(0, vec![sql])]).await;
        }
    }

    /// What the step does once it holds the lease.
    async fn act(
        &mut self,
        policy: &Policy,
        request: &StepRequest,
        layout: LayoutRecord,
        state: Option<SplitState>,
    ) -> Result<StepReport> {
        let Some(state) = state else {
            if request.abort {
                return Ok(self.report_done(layout, "no split is in progress"));
            }
            let n = layout.shards.len();
            let target = if request.auto {
                let sizes = self.sizes(policy, &layout).await?;
                let decision = decide(policy, &sizes)?;
                match decision.to {
                    Some(to) => to,
                    None => return Ok(self.report_done(layout, &decision.reason)),
                }
            } else {
                request.to.unwrap_or(2 * n)
            };
            check_target(target, n)?;
            if target == n {
                return Ok(self.report_done(layout, "the database already has that many shards"));
            }
            let state = self.begin(&layout, target).await?;
            return self.advance(policy, layout, state).await;
        };
        if request.abort {
            return self.abort(policy, layout, state).await;
        }
        if let Some(to) = request.to {
            if to != state.target {
                return Err(Error::with_remedy(
                    ErrorCode::InvalidArgument,
                    format!(
                        "a split to {} shards is in progress; it cannot be changed to {to}",
                        state.target
                    ),
                    "let it finish (call again without `to`), or abort it first",
                ));
            }
        }
        self.advance(policy, layout, state).await
    }
}

/// The `k` binding names after `name` (`SHARD_5` -> `SHARD_6`, …).
fn following(name: &str, k: usize) -> Vec<String> {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let number: usize = name[stem.len()..].parse().unwrap_or(0);
    (1..=k).map(|d| format!("{stem}{}", number + d)).collect()
}

fn check_target(target: usize, current: usize) -> Result<()> {
    if !target.is_power_of_two() || target > 64 || target < current {
        return Err(Error::with_remedy(
            ErrorCode::InvalidArgument,
            format!("cannot split {current} shards to {target}"),
            "give a power of two, at least the current shard count and at most 64",
        ));
    }
    Ok(())
}

/// One step's calls and counters.
struct Run<'a> {
    backend: &'a dyn Backend,
    names: &'a [String],
    used: usize,
    /// What a step uses before any phase's work (reading the home and the tables).
    fresh: usize,
    max: usize,
    chunk: usize,
    backlog: i64,
    /// The lease this step holds on the home (see [`LEASE`]), and how long one lasts.
    lease: Option<String>,
    lease_ms: u64,
    rows: u64,
    changes: u64,
}

/// A statement's answer rows.
type Rows = Vec<Vec<Value>>;

impl Run<'_> {
    /// The report of a step after which the split needs more steps.
    fn report_more(
        &self,
        layout: LayoutRecord,
        split: Option<SplitState>,
        note: &str,
    ) -> StepReport {
        StepReport {
            layout,
            split,
            done: false,
            rows: self.rows,
            changes: self.changes,
            queries: self.used,
            note: note.to_string(),
        }
    }

    /// The report of a step after which there is nothing left to do (no split in progress).
    fn report_done(&self, layout: LayoutRecord, note: &str) -> StepReport {
        StepReport {
            done: true,
            ..self.report_more(layout, None, note)
        }
    }

    /// The pool index of a binding.
    fn at(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            Error::with_remedy(
                ErrorCode::InvalidBinding,
                format!("the split needs the D1 binding {name}, which this Worker does not have"),
                "declare it in wrangler.toml ([[d1_databases]] binding = …) and deploy again",
            )
        })
    }

    /// Whether `n` more statements fit in this step. A phase whose statements alone are
    /// more than a step allows still runs when it is the step's first work (else it never
    /// would): the budget is the caller's guess at the invocation's limit, not a promise.
    fn room(&self, n: usize) -> bool {
        self.used + n <= self.max || self.used <= self.fresh
    }

    /// Runs batches (`(pool index, statements)`), each atomically; the first failure fails
    /// the call.
    async fn call(&mut self, batches: Vec<(usize, Vec<String>)>) -> Result<Vec<Vec<Rows>>> {
        let batches: Vec<ShardBatch> = batches
            .into_iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(shard, statements)| ShardBatch {
                shard,
                statements: statements
                    .into_iter()
                    .map(|sql| ShardStatement {
                        sql: sql.into(),
                        params: Vec::new(),
                    })
                    .collect(),
            })
            .collect();
        self.used += batches.iter().map(|b| b.statements.len()).sum::<usize>();
        let answers = self.backend.run(batches).await;
        answers
            .into_iter()
            .map(|a| a.map(|outs: Vec<StatementOutput>| outs.into_iter().map(|o| o.rows).collect()))
            .collect()
    }

    /// One statement on one binding: its rows.
    async fn read(&mut self, shard: usize, sql: String) -> Result<Rows> {
        let mut out = self.call(vec![(shard, vec![sql])]).await?;
        Ok(out.pop().and_then(|mut o| o.pop()).unwrap_or_default())
    }

    /// The layout serving now and the split in progress, from the home.
    async fn read_home(&mut self, policy: &Policy) -> Result<(LayoutRecord, Option<SplitState>)> {
        let rows = self
            .call(vec![(
                0,
                vec![
                    format!("CREATE TABLE IF NOT EXISTS {STATE} (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)"),
                    format!("CREATE TABLE IF NOT EXISTS {LEASE} (id INTEGER PRIMARY KEY CHECK (id = 1), until INTEGER NOT NULL, holder TEXT NOT NULL)"),
                    format!("INSERT INTO {LEASE} (id, until, holder) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING"),
                    format!(
                        "UPDATE {LEASE} SET until = {NOW} + {}, holder = lower(hex(randomblob(8))) \
                         WHERE id = 1 AND until < {NOW} RETURNING holder AS holder",
                        self.lease_ms
                    ),
                    format!("SELECT ({LAYOUT_SQL}) AS layout, (SELECT state FROM {STATE} WHERE id = 1) AS state"),
                ],
            )])
            .await?;
        let mut answers = rows.into_iter().next().unwrap_or_default();
        let row = answers.pop().and_then(|mut r| r.pop()).unwrap_or_default();
        match answers.pop().and_then(|mut r| r.pop()).as_deref() {
            Some([Value::Text(holder)]) => self.lease = Some(holder.clone()),
            _ => {
                return Err(Error::with_remedy(
                    ErrorCode::Retry,
                    "another step of this split is running (or died within its lease, 5 minutes by default); this one did nothing",
                    "run one step at a time: call again when the other has answered",
                ))
            }
        }
        let layout = match row.first() {
            Some(Value::Text(sql)) => LayoutRecord::from_view_sql(sql)
                .ok_or_else(|| Error::internal(format!("unreadable layout record: {sql}")))?,
            _ => {
                let n = policy.shard_count();
                if self.names.len() < n {
                    return Err(Error::with_remedy(
                        ErrorCode::InvalidBinding,
                        format!(
                            "the policy has {n} shards but the pool has {} bindings",
                            self.names.len()
                        ),
                        "declare every shard's binding in wrangler.toml",
                    ));
                }
                LayoutRecord::initial(self.names, n)
            }
        };
        let state = match row.get(1) {
            Some(Value::Text(json)) => Some(
                serde_json::from_str(json)
                    .map_err(|e| Error::internal(format!("unreadable split state: {e}")))?,
            ),
            _ => None,
        };
        Ok((layout, state))
    }

    async fn save(&mut self, state: &SplitState) -> Result<()> {
        self.call(vec![(0, vec![state.save_sql()])]).await?;
        Ok(())
    }

    /// Starts a doubling of `layout`: the next `2n` bindings of the pool.
    async fn begin(&mut self, layout: &LayoutRecord, target: usize) -> Result<SplitState> {
        let n = layout.shards.len();
        let last = layout
            .shards
            .iter()
            .map(|s| self.at(s))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .max()
            .unwrap_or(0);
        let to: Vec<String> = (1..=2 * n)
            .map(|k| {
                self.names.get(last + k).cloned().ok_or_else(|| {
                    let wanted = following(&self.names[last], 2 * n);
                    Error::with_remedy(
                        ErrorCode::InvalidBinding,
                        format!(
                            "splitting {n} shards needs {} more D1 bindings after {} ({} … {}), and this Worker has {}",
                            2 * n,
                            self.names[last],
                            wanted.first().map_or("", String::as_str),
                            wanted.last().map_or("", String::as_str),
                            self.names.len() - last - 1
                        ),
                        "declare the new shards' databases in wrangler.toml ([[d1_databases]]), numbered on from the last",
                    )
                })
            })
            .collect::<Result<_>>()?;
        let state = SplitState {
            from: layout.shards.clone(),
            to,
            version: layout.version + 1,
            target,
            phase: Phase::Prepare,
            paused: false,
        };
        self.save(&state).await?;
        Ok(state)
    }

    /// The tables to copy, read from old shard 0 (two statements).
    async fn tables(
        &mut self,
        policy: &Policy,
        state: &SplitState,
    ) -> Result<(Vec<TableSpec>, Rows)> {
        let old0 = self.at(&state.from[0])?;
        let schema = self.read(old0, LOAD_SQL.to_string()).await?;
        let catalog = Catalog::from_rows(&schema, 0);
        let objects = self
            .call(vec![(
                old0,
                vec![
                    sql::UNIQUE_SQL.to_string(),
                    format!(
                        "SELECT type AS kind, name AS name, sql AS sql FROM sqlite_schema WHERE sql IS NOT NULL \
                         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' \
                         AND name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\' ORDER BY rowid"
                    ),
                ],
            )])
            .await?;
        let mut objects = objects.into_iter().next().unwrap_or_default();
        let app = objects.pop().unwrap_or_default();
        let unique = objects.pop().unwrap_or_default();
        Ok((sql::table_specs(&catalog, policy, &unique)?, app))
    }

    /// Runs the doubling's phases until the budget is spent or the split is done.
    async fn advance(
        &mut self,
        policy: &Policy,
        layout: LayoutRecord,
        mut state: SplitState,
    ) -> Result<StepReport> {
        let (tables, app) = self.tables(policy, &state).await?;
        if matches!(state.phase, Phase::Copy | Phase::CatchUp | Phase::Cutover) {
            self.follow_schema(&tables, &app, &mut state).await?;
        }
        self.fresh = self.used;
        loop {
            let more = match state.phase {
                Phase::Prepare => self.prepare(&tables, &app, &mut state).await?,
                Phase::Copy => self.copy(&tables, &mut state).await?,
                Phase::CatchUp => self.catch_up_phase(&tables, &mut state).await?,
                Phase::Cutover => self.cutover(&tables, &app, &mut state).await?,
                Phase::Cleanup if !self.cleanup(&tables, &state).await? => false,
                Phase::Cleanup => {
                    let layout = state.new_layout();
                    let note = format!("split to {} shards", state.to.len());
                    return Ok(if layout.shards.len() >= state.target {
                        self.report_done(layout, &note)
                    } else {
                        self.report_more(layout, None, &note)
                    });
                }
            };
            if !more {
                let note = format!("{:?}", state.phase).to_ascii_lowercase();
                return Ok(self.report_more(layout, Some(state), &note));
            }
        }
    }
}

mod phases;
