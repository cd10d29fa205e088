//! The phases of one doubling (see the module above). Each returns whether the step may go
//! on (the phase finished with budget left), and commits its progress as it goes.

use super::sql::{self, Spread, TableSpec};
use super::*;

/// Whether a replay stops when the step's statement budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// It stops (catching up before the cutover: the next step goes on).
    Kept,
    /// It runs to the end (the cutover's drain, while writes wait).
    Ignored,
}

/// A row read by [`TableSpec::row_columns`]: `rid, kt, kv, tup` at `at`.
struct RowRead<'r> {
    rid: &'r str,
    kt: &'r Value,
    kv: &'r Value,
    tup: &'r str,
}

fn row_at(row: &[Value], at: usize) -> Option<RowRead<'_>> {
    match (row.get(at), row.get(at + 3)) {
        (Some(Value::Text(rid)), Some(Value::Text(tup))) => Some(RowRead {
            rid,
            kt: row.get(at + 1)?,
            kv: row.get(at + 2)?,
            tup,
        }),
        _ => None,
    }
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Integer(i)) => *i,
        Some(Value::Real(r)) => *r as i64,
        Some(Value::Text(t)) => t.parse().unwrap_or(0),
        _ => 0,
    }
}

impl Run<'_> {
    pub(super) fn old_shard(&self, state: &SplitState, i: usize) -> Result<usize> {
        self.at(&state.from[i])
    }

    pub(super) fn fresh_shard(&self, state: &SplitState, j: usize) -> Result<usize> {
        self.at(&state.to[j])
    }

    /// Capture on the old shards; the new shards emptied and given the schema.
    pub(super) async fn prepare(
        &mut self,
        tables: &[TableSpec],
        app: &Rows,
        state: &mut SplitState,
    ) -> Result<bool> {
        let mut batches = Vec::new();
        for i in 0..state.from.len() {
            batches.push((self.old_shard(state, i)?, sql::capture(tables)));
        }
        self.call(batches).await?;
        // Whatever an aborted split left on the new bindings goes first.
        let mut reads = Vec::new();
        for j in 0..state.to.len() {
            reads.push((
                self.fresh_shard(state, j)?,
                vec!["SELECT type AS kind, name AS name FROM sqlite_schema WHERE type IN ('table', 'view', 'trigger') \
                      AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'"
                    .to_string()],
            ));
        }
        let found = self.call(reads).await?;
        let mut batches = Vec::new();
        for (j, answer) in found.into_iter().enumerate() {
            let mut statements = Vec::new();
            let leftovers = answer.into_iter().next().unwrap_or_default();
            for kind in ["trigger", "view", "table"] {
                for row in &leftovers {
                    if let [Value::Text(k), Value::Text(name)] = row.as_slice() {
                        if k == kind {
                            statements.push(format!(
                                "DROP {} IF EXISTS {}",
                                kind.to_ascii_uppercase(),
                                crate::lex::quote_ident(name)
                            ));
                        }
                    }
                }
            }
            for row in app {
                if let [Value::Text(kind), _, Value::Text(sql)] = row.as_slice() {
                    if kind != "trigger" {
                        statements.push(sql.clone());
                    }
                }
            }
            statements.extend(sql::progress_tables());
            batches.push((self.fresh_shard(state, j)?, statements));
        }
        self.call(batches).await?;
        state.phase = Phase::Copy;
        self.save(state).await?;
        Ok(true)
    }

    /// Copies rows in chunks while the budget lasts.
    pub(super) async fn copy(
        &mut self,
        tables: &[TableSpec],
        state: &mut SplitState,
    ) -> Result<bool> {
        let to = state.to.len();
        let mut reads = Vec::new();
        for j in 0..to {
            reads.push((
                self.fresh_shard(state, j)?,
                vec![format!(
                    "SELECT tbl AS tbl, last AS last, done AS done FROM {COPY}"
                )],
            ));
        }
        // (new shard, table) -> (last rowid copied, done)
        let mut progress: Vec<ahash::AHashMap<String, (Option<String>, bool)>> = Vec::new();
        for answer in self.call(reads).await? {
            let rows = answer.into_iter().next().unwrap_or_default();
            progress.push(
                rows.into_iter()
                    .filter_map(|r| match r.as_slice() {
                        [Value::Text(t), last, done] => Some((
                            t.clone(),
                            (
                                match last {
                                    Value::Text(l) => Some(l.clone()),
                                    _ => None,
                                },
                                int(Some(done)) != 0,
                            ),
                        )),
                        _ => None,
                    })
                    .collect(),
            );
        }
        for i in 0..state.from.len() {
            for t in tables {
                loop {
                    let pair = [&progress[2 * i], &progress[2 * i + 1]];
                    let states: Vec<(Option<String>, bool)> = pair
                        .iter()
                        .map(|p| p.get(&t.name).cloned().unwrap_or((None, false)))
                        .collect();
                    if states.iter().all(|(_, done)| *done) {
                        break;
                    }
                    if !self.room(8) {
                        return Ok(false);
                    }
                    // Both halves read from the one behind (a redone chunk is idempotent).
                    let after = if states.iter().any(|(l, _)| l.is_none()) {
                        None
                    } else {
                        states
                            .iter()
                            .filter_map(|(l, _)| l.clone())
                            .min_by_key(|l| l.parse::<i64>().unwrap_or(i64::MIN))
                    };
                    let (last, done) = self.copy_chunk(t, state, i, after).await?;
                    for h in 0..2 {
                        progress[2 * i + h].insert(t.name.clone(), (last.clone(), done));
                    }
                }
            }
        }
        state.phase = Phase::CatchUp;
        self.save(state).await?;
        Ok(true)
    }

    /// Copies the rows of old shard `i`'s table `t` after `after` (one chunk) to its
    /// halves, each half's insert committed with its progress: `(last rowid, done)`.
    async fn copy_chunk(
        &mut self,
        t: &TableSpec,
        state: &SplitState,
        i: usize,
        after: Option<String>,
    ) -> Result<(Option<String>, bool)> {
        let rows = self
            .read(
                self.old_shard(state, i)?,
                t.chunk_sql(after.as_deref(), self.chunk),
            )
            .await?;
        let done = rows.len() < self.chunk;
        let mut halves: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
        let mut last = after;
        for row in &rows {
            let r = row_at(row, 0).ok_or_else(|| {
                Error::internal(format!("table {}: an unreadable chunk row", t.name))
            })?;
            for (h, goes) in t
                .halves(i, state.to.len(), r.kt, r.kv)?
                .into_iter()
                .enumerate()
            {
                if goes {
                    halves[h].push(r.tup);
                }
            }
            last = Some(r.rid.to_string());
        }
        let mut batches = Vec::new();
        for (h, tuples) in halves.iter().enumerate() {
            let mut statements = t.inserts(tuples)?;
            statements.push(format!(
                "INSERT INTO {COPY} (tbl, last, done) VALUES ({}, {}, {}) \
                 ON CONFLICT (tbl) DO UPDATE SET last = excluded.last, done = excluded.done",
                literal(&t.name),
                last.as_deref().map_or("NULL".to_string(), literal),
                done as i64
            ));
            batches.push((self.fresh_shard(state, 2 * i + h)?, statements));
        }
        self.call(batches).await?;
        self.rows += rows.len() as u64;
        Ok((last, done))
    }

    /// Replays the logs; moves to the cutover once the backlog is small.
    pub(super) async fn catch_up_phase(
        &mut self,
        tables: &[TableSpec],
        state: &mut SplitState,
    ) -> Result<bool> {
        match self
            .catch_up(tables, state, self.backlog, Budget::Kept)
            .await?
        {
            Some(_) => {
                state.phase = Phase::Cutover;
                self.save(state).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Replays each old shard's log into its halves until no shard has more than
    /// `backlog` entries left: `Some(entries left)`, or `None` when the step's budget ran
    /// out (when it is kept).
    async fn catch_up(
        &mut self,
        tables: &[TableSpec],
        state: &SplitState,
        backlog: i64,
        budget: Budget,
    ) -> Result<Option<i64>> {
        let mut left_total = 0;
        for i in 0..state.from.len() {
            let (even, odd) = (
                self.fresh_shard(state, 2 * i)?,
                self.fresh_shard(state, 2 * i + 1)?,
            );
            let caught = self
                .call(vec![
                    (
                        even,
                        vec![format!(
                            "SELECT coalesce((SELECT seq FROM {CAUGHT} WHERE id = 1), 0) AS seq"
                        )],
                    ),
                    (
                        odd,
                        vec![format!(
                            "SELECT coalesce((SELECT seq FROM {CAUGHT} WHERE id = 1), 0) AS seq"
                        )],
                    ),
                ])
                .await?;
            let mut from = caught
                .iter()
                .map(|a| int(a.first().and_then(|r| r.first()).and_then(|r| r.first())))
                .min()
                .unwrap_or(0);
            loop {
                if budget == Budget::Kept && !self.room(tables.len() + 12) {
                    return Ok(None);
                }
                // The cutover's drain reads in larger batches: writes wait on it.
                let read = match budget {
                    Budget::Kept => self.chunk,
                    Budget::Ignored => self.chunk.max(500),
                };
                let upto = from + read as i64;
                let mut statements = vec![
                    // Entries both halves applied go, all but the last: the log's newest
                    // seq must stay, or SQLite would number the next write from 1 again
                    // (an INTEGER PRIMARY KEY continues from the largest one present).
                    format!("DELETE FROM {LOG} WHERE seq < {from}"),
                    format!("SELECT coalesce(max(seq), 0) AS m FROM {LOG}"),
                ];
                statements.extend(tables.iter().map(|t| t.log_sql(from, upto)));
                let answer = self
                    .call(vec![(self.old_shard(state, i)?, statements)])
                    .await?
                    .pop()
                    .unwrap_or_default();
                let newest = int(answer
                    .get(1)
                    .and_then(|r| r.first())
                    .and_then(|r| r.first()));
                let upto = upto.min(newest).max(from);
                let mut writes: [Vec<String>; 2] = [Vec::new(), Vec::new()];
                let mut entries = 0u64;
                for (t, rows) in tables.iter().zip(answer.iter().skip(2)) {
                    let (applied, statements) = replay(t, rows, i, state.to.len())?;
                    entries += applied;
                    for h in 0..2 {
                        writes[h].extend(statements[h].iter().cloned());
                    }
                }
                let mut batches = Vec::new();
                for (h, mut statements) in writes.into_iter().enumerate() {
                    statements.push(format!(
                        "INSERT INTO {CAUGHT} (id, seq) VALUES (1, {upto}) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq"
                    ));
                    batches.push((if h == 0 { even } else { odd }, statements));
                }
                self.call(batches).await?;
                self.changes += entries;
                from = upto;
                let left = newest - from;
                if left <= backlog {
                    left_total += left;
                    break;
                }
            }
        }
        Ok(Some(left_total))
    }

    /// Pause, drain, check, finalize the new shards, retire the old ones (commit).
    pub(super) async fn cutover(
        &mut self,
        tables: &[TableSpec],
        app: &Rows,
        state: &mut SplitState,
    ) -> Result<bool> {
        let new_view = state.new_layout().view_sql();
        let n = state.from.len();
        // Pause, one drain read and write per old shard, check, finalize, retire.
        let needed = n * sql::pause(tables).len() + n * (tables.len() + 8) + 8 * state.to.len() + 8;
        if !self.room(needed) {
            return Ok(false);
        }
        let old0 = self.old_shard(state, 0)?;
        if !self.committed(state).await? {
            if !state.paused {
                let mut batches = Vec::new();
                for i in 0..state.from.len() {
                    batches.push((self.old_shard(state, i)?, sql::pause(tables)));
                }
                self.call(batches).await?;
                state.paused = true;
                self.save(state).await?;
            }
            // Writes wait from here: the drain runs to the end, whatever the step's budget.
            if self
                .catch_up(tables, state, 0, Budget::Ignored)
                .await?
                .is_none()
            {
                return Ok(false);
            }
            if let Err(e) = self.verify(tables, state).await {
                // Writes resume on the old layout; the next step catches up and tries again.
                let mut batches = Vec::new();
                for i in 0..state.from.len() {
                    batches.push((
                        self.old_shard(state, i)?,
                        sql::drop_triggers(tables, &["pause"]),
                    ));
                }
                self.call(batches).await?;
                state.phase = Phase::CatchUp;
                state.paused = false;
                self.save(state).await?;
                return Err(e);
            }
            self.finalize(tables, app, state, &new_view).await?;
            // Retire: every old shard but 0, then 0 (the commit point).
            let mut batches = Vec::new();
            for i in 1..state.from.len() {
                batches.push((self.old_shard(state, i)?, retire(&new_view)));
            }
            self.call(batches).await?;
            let mut commit = retire(&new_view);
            if old0 == 0 {
                state.phase = Phase::Cleanup;
                commit.push(state.save_sql());
            }
            self.call(vec![(old0, commit)]).await?;
        }
        state.phase = Phase::Cleanup;
        let mut home = vec![state.save_sql()];
        if old0 != 0 {
            home.splice(0..0, retire(&new_view));
        }
        self.call(vec![(0, home)]).await?;
        Ok(true)
    }

    /// Every table's rows: each old shard's equal its halves'.
    async fn verify(&mut self, tables: &[TableSpec], state: &SplitState) -> Result<()> {
        let count = tables
            .iter()
            .map(|t| {
                format!(
                    "(SELECT count(*) FROM {})",
                    crate::lex::quote_ident(&t.name)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut reads = Vec::new();
        for name in state.from.iter().chain(&state.to) {
            reads.push((
                self.at(name)?,
                vec![format!("SELECT json_array({count}) AS counts")],
            ));
        }
        let answers = self.call(reads).await?;
        let counts: Vec<Vec<i64>> = answers
            .iter()
            .map(
                |a| match a.first().and_then(|r| r.first()).and_then(|r| r.first()) {
                    Some(Value::Text(json)) => serde_json::from_str(json).unwrap_or_default(),
                    _ => Vec::new(),
                },
            )
            .collect();
        let n = state.from.len();
        for i in 0..n {
            for (k, t) in tables.iter().enumerate() {
                let (old, even, odd) = (
                    counts[i].get(k),
                    counts[n + 2 * i].get(k),
                    counts[n + 2 * i + 1].get(k),
                );
                let (Some(&old), Some(&even), Some(&odd)) = (old, even, odd) else {
                    return Err(Error::internal("the split's row counts are unreadable"));
                };
                let fits = match t.spread {
                    Spread::Key(..) => old == even + odd,
                    Spread::Both => old == even && old == odd,
                    Spread::Even => old == even && odd == 0,
                };
                if !fits {
                    return Err(Error::with_remedy(
                        ErrorCode::Retry,
                        format!(
                            "the split's copy of table {} does not match: old shard {i} has {old} rows, its halves {even} and {odd}; writes resume on the old layout",
                            t.name
                        ),
                        "run the split again: it catches up and checks again",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The new shards made final: the app's triggers, the id floors, the layout record.
    async fn finalize(
        &mut self,
        tables: &[TableSpec],
        app: &Rows,
        state: &SplitState,
        view: &str,
    ) -> Result<()> {
        let n = state.from.len();
        let has_floors = app.iter().any(|row| {
            matches!(row.get(1), Some(Value::Text(name)) if name.eq_ignore_ascii_case(rowid_ranges::FLOOR_TABLE))
        });
        // AUTOINCREMENT tables keep counting from where the old shard was (never reusing
        // the id of a row deleted before the split), as SQLite's sqlite_sequence says.
        let sequences = app.iter().any(|row| {
            matches!(row.get(2), Some(Value::Text(sql)) if sql.to_ascii_uppercase().contains("AUTOINCREMENT"))
        });
        let mut reads = Vec::new();
        for i in 0..n {
            let mut statements = vec![floor_sql(tables, i, n, has_floors)];
            if sequences {
                statements.push("SELECT name AS name, seq AS seq FROM sqlite_sequence".to_string());
            }
            reads.push((self.old_shard(state, i)?, statements));
        }
        let floors = self.call(reads).await?;
        let mut reads = Vec::new();
        for j in 0..state.to.len() {
            reads.push((self.fresh_shard(state, j)?, vec![LAYOUT_SQL.to_string()]));
        }
        let finished: Vec<bool> = self
            .call(reads)
            .await?
            .iter()
            .map(|a| matches!(a.first().and_then(|r| r.first()).and_then(|r| r.first()), Some(Value::Text(v)) if v == view))
            .collect();
        let mut batches = Vec::new();
        for j in 0..state.to.len() {
            let mut statements: Vec<String> = app
                .iter()
                .filter_map(|row| match row.as_slice() {
                    [Value::Text(kind), _, Value::Text(sql)] if kind == "trigger" => {
                        Some(sql.clone())
                    }
                    _ => None,
                })
                .collect();
            if j % 2 == 0 {
                for row in floors[j / 2].first().into_iter().flatten() {
                    if let [Value::Text(tbl), m] = row.as_slice() {
                        statements.push(format!(
                            "INSERT INTO {f} (tbl, floor) VALUES ({}, {}) ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor)",
                            literal(tbl),
                            int(Some(m)),
                            f = rowid_ranges::FLOOR_TABLE
                        ));
                    }
                }
            }
            for row in floors[j / 2].get(1).into_iter().flatten() {
                if let [Value::Text(name), seq] = row.as_slice() {
                    statements.push(format!(
                        "DELETE FROM sqlite_sequence WHERE name = {}",
                        literal(name)
                    ));
                    statements.push(format!(
                        "INSERT INTO sqlite_sequence (name, seq) SELECT {}, max({}, (SELECT coalesce(max(rowid), 0) FROM {}))",
                        literal(name),
                        int(Some(seq)),
                        crate::lex::quote_ident(name),
                    ));
                }
            }
            statements.push(format!("DROP VIEW IF EXISTS {LAYOUT_VIEW}"));
            statements.push(view.to_string());
            // A shard made final by an earlier, interrupted cutover already has its
            // triggers: it is left as it is.
            if !finished[j] {
                batches.push((self.fresh_shard(state, j)?, statements));
            }
        }
        self.call(batches).await?;
        Ok(())
    }

    /// After the commit: the capture triggers, logs and progress tables go.
    pub(super) async fn cleanup(
        &mut self,
        tables: &[TableSpec],
        state: &SplitState,
    ) -> Result<bool> {
        let needed = state.from.len() * (6 * tables.len() + 1) + 2 * state.to.len() + 1;
        if !self.room(needed) {
            return Ok(false);
        }
        let mut batches = Vec::new();
        for i in 0..state.from.len() {
            let mut statements = sql::drop_triggers(tables, &["log", "collide"]);
            statements.push(format!("DROP TABLE IF EXISTS {LOG}"));
            batches.push((self.old_shard(state, i)?, statements));
        }
        for j in 0..state.to.len() {
            batches.push((
                self.fresh_shard(state, j)?,
                vec![
                    format!("DROP TABLE IF EXISTS {COPY}"),
                    format!("DROP TABLE IF EXISTS {CAUGHT}"),
                ],
            ));
        }
        self.call(batches).await?;
        self.call(vec![(0, vec![format!("DELETE FROM {STATE}")])])
            .await?;
        Ok(true)
    }

    /// Whether the doubling has committed: old shard 0 holds the new layout record.
    async fn committed(&mut self, state: &SplitState) -> Result<bool> {
        let old0 = self.old_shard(state, 0)?;
        let record = self.read(old0, LAYOUT_SQL.to_string()).await?;
        Ok(matches!(
            record.first().and_then(|r| r.first()),
            Some(Value::Text(v)) if *v == state.new_layout().view_sql()
        ))
    }

    /// Undoes the split in progress, before its commit.
    pub(super) async fn abort(
        &mut self,
        policy: &Policy,
        layout: LayoutRecord,
        state: SplitState,
    ) -> Result<StepReport> {
        if state.phase == Phase::Cleanup || self.committed(&state).await? {
            return Err(Error::with_remedy(
                ErrorCode::InvalidArgument,
                "the split has passed its cutover: the new layout serves, and there is nothing to abort",
                "split is only undone before the cutover commits",
            ));
        }
        let (tables, _) = self.tables(policy, &state).await?;
        let mut batches = Vec::new();
        for i in 0..state.from.len() {
            let mut statements = sql::drop_triggers(&tables, &["pause", "log", "collide"]);
            statements.push(format!("DROP TABLE IF EXISTS {LOG}"));
            batches.push((self.old_shard(&state, i)?, statements));
        }
        self.call(batches).await?;
        self.call(vec![(0, vec![format!("DELETE FROM {STATE}")])])
            .await?;
        Ok(self.report_done(layout, "the split was aborted; the old layout serves"))
    }
}

/// The statements that retire an old shard: the new layout record.
fn retire(view: &str) -> Vec<String> {
    vec![
        format!("DROP VIEW IF EXISTS {LAYOUT_VIEW}"),
        view.to_string(),
    ]
}

/// The id floors old shard `i` of `n` leaves its even half: the largest id its range
/// generated (some of those rows move to the odd half), and the floors it had itself.
fn floor_sql(tables: &[TableSpec], i: usize, n: usize, has_floors: bool) -> String {
    let start = rowid_ranges::range_start(i, n);
    let (low, high) = (start + rowid_ranges::GENERATED, start + rowid_ranges::RANGE);
    let mut parts: Vec<String> = tables
        .iter()
        .filter(|t| t.id_alias && matches!(t.spread, Spread::Key(..)))
        .map(|t| {
            format!(
                "SELECT {} AS tbl, max({r}) AS m FROM {} WHERE {r} >= {low} AND {r} < {high}",
                literal(&t.name),
                crate::lex::quote_ident(&t.name),
                r = t.rowid
            )
        })
        .collect();
    if has_floors {
        parts.push(format!(
            "SELECT tbl, floor FROM {}",
            rowid_ranges::FLOOR_TABLE
        ));
    }
    if parts.is_empty() {
        return "SELECT NULL AS tbl, NULL AS m WHERE 0".to_string();
    }
    format!(
        "SELECT tbl AS tbl, max(m) AS m FROM ({}) WHERE m IS NOT NULL GROUP BY tbl",
        parts.join(" UNION ALL ")
    )
}

/// The writes that bring each half up to date with a table's log entries: `(entries,
/// [even, odd])`.
fn replay(t: &TableSpec, rows: &Rows, old: usize, to: usize) -> Result<(u64, [Vec<String>; 2])> {
    let mut latest: ahash::AHashMap<&str, &Vec<Value>> = ahash::AHashMap::new();
    for row in rows {
        if let Some(Value::Text(rid)) = row.get(1) {
            latest.insert(rid, row);
        }
    }
    let mut inserts: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    let mut deletes: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    for (rid, row) in &latest {
        let present = int(row.get(2)) != 0;
        let goes = match row_at(row, 3) {
            Some(r) if present => {
                let halves = t.halves(old, to, r.kt, r.kv)?;
                for h in 0..2 {
                    if halves[h] {
                        inserts[h].push(r.tup);
                    }
                }
                halves
            }
            _ => [false, false],
        };
        for h in 0..2 {
            if !goes[h] {
                deletes[h].push(rid);
            }
        }
    }
    let mut out: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for h in 0..2 {
        out[h].extend(t.deletes(&deletes[h]));
        out[h].extend(t.inserts(&inserts[h])?);
    }
    Ok((rows.len() as u64, out))
}
