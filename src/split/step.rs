//! One doubling step: capture, copy, catch up, cutover (see the module docs of `split`).

use super::*;

/// One doubling step.
pub(super) struct Step<'a> {
    dir: &'a Path,
    layout: Layout,
    state: SplitState,
    tables: Vec<CopyTable>,
    /// The app's schema, from the home shard.
    schema: AppSchema,
    report: StepReport,
}

impl<'a> Step<'a> {
    pub(super) fn new(dir: &'a Path, policy: &Policy, layout: Layout) -> Result<Step<'a>> {
        let state = layout
            .split
            .clone()
            .ok_or_else(|| Error::internal("a split step without a split in the layout"))?;
        let home = dir.join(&layout.files[0]);
        let conn = open(&home)?;
        let tables = copy_tables(&conn, &home, policy)?;
        let schema = app_schema(&conn, &home)?;
        let report = StepReport {
            from: layout.shard_count,
            to: layout.shard_count * 2,
            ..StepReport::default()
        };
        Ok(Step {
            dir,
            layout,
            state,
            tables,
            schema,
            report,
        })
    }

    fn old(&self, i: usize) -> PathBuf {
        self.dir.join(&self.layout.files[i])
    }

    fn new_file(&self, s: usize) -> PathBuf {
        self.dir.join(&self.state.files[s])
    }

    pub(super) fn run(
        mut self,
        options: &SplitOptions,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<StepReport> {
        let started = Instant::now();
        let n = self.layout.shard_count;
        if self.state.phase == Phase::Copy {
            for i in 0..n {
                let src = open(&self.old(i))?;
                install_capture(&src, &self.old(i), &self.tables)?;
                for s in [2 * i, 2 * i + 1] {
                    self.copy(i, s, options, ticks, progress)?;
                }
            }
            // Twice: the first pass replays what the copy took long to reach; the second
            // leaves the cutover only what arrived meanwhile.
            for _ in 0..2 {
                for i in 0..n {
                    for s in [2 * i, 2 * i + 1] {
                        self.catch_up(
                            i,
                            s,
                            options.catch_up_batch,
                            options.cutover_backlog,
                            ticks,
                            progress,
                        )?;
                    }
                }
            }
            ticks.tick()?;
            self.state.phase = Phase::Cutover;
            self.layout.split = Some(self.state.clone());
            self.layout.write(self.dir)?;
        }
        self.cutover(options, ticks, progress)?;
        self.report.elapsed = started.elapsed();
        progress(&self.progress("done", n.saturating_sub(1)));
        Ok(self.report)
    }

    fn progress(&self, stage: &'static str, shard: usize) -> Progress {
        Progress {
            from: self.report.from,
            to: self.report.to,
            stage,
            shard,
            rows: self.report.rows,
            changes: self.report.changes,
        }
    }

    /// Opens new file `s` (the copy of old shard `i`) with the old file attached as `src`,
    /// creating its schema first if the file has none yet (a file left by a process killed
    /// while creating it is started again).
    fn target(&self, i: usize, s: usize) -> Result<Connection> {
        let path = self.new_file(s);
        if path.exists() && !has_table(&open(&path)?, &path, CAUGHT)? {
            remove_file(&path)?;
        }
        let conn = open_or_create(&path)?;
        let err = |e| file_error(&path, e);
        // Until the new file is final, nothing but the split writes it: WAL with NORMAL
        // sync commits each chunk without an fsync, and a power loss can only lose the last
        // chunks (with the progress they recorded), never corrupt it.
        if !is_final(&conn, &path)? {
            conn.pragma_update(Some("main"), "journal_mode", "WAL")
                .map_err(err)?;
            conn.pragma_update(Some("main"), "synchronous", "NORMAL")
                .map_err(err)?;
        }
        conn.execute("ATTACH ?1 AS src", [self.old(i).to_string_lossy()])
            .map_err(err)?;
        conn.execute_batch("PRAGMA src.cache_size = -65536")
            .map_err(err)?;
        conn.create_scalar_function(
            "d1plus_shard",
            3,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |cx| {
                let affinity = match cx.get_raw(1).as_str().unwrap_or_default() {
                    "integer" => Affinity::Integer,
                    "text" => Affinity::Text,
                    "real" => Affinity::Real,
                    "numeric" => Affinity::Numeric,
                    _ => Affinity::Blob,
                };
                let count = cx.get::<i64>(2)?.clamp(1, 64) as usize;
                let shard = match (cx.get_raw(0), affinity) {
                    // The common keys, without copying them.
                    (ValueRef::Text(bytes), Affinity::Text | Affinity::Blob) => {
                        Ok(placement::shard_for_bytes(bytes, count))
                    }
                    (ValueRef::Integer(i), _) => {
                        placement::shard_for_key(&Value::Integer(i), affinity, count)
                    }
                    (raw, _) => placement::shard_for_key(&Value::from(raw), affinity, count),
                };
                // A key no shard can hold stays where it is (the even half).
                Ok(shard.map_or(-1, |s| s as i64))
            },
        )
        .map_err(err)?;
        if !has_table(&conn, &path, CAUGHT)? {
            self.create_schema(&conn, &path)?;
        }
        Ok(conn)
    }

    fn create_schema(&self, conn: &Connection, path: &Path) -> Result<()> {
        let mut sql = String::from("BEGIN;\n");
        for stmt in &self.schema.objects {
            sql.push_str(stmt);
            sql.push_str(";\n");
        }
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {} (tbl TEXT PRIMARY KEY, floor INTEGER NOT NULL);\n",
            rowid_ranges::FLOOR_TABLE
        ));
        sql.push_str(&format!(
            "CREATE TABLE {COPY} (tbl TEXT PRIMARY KEY, after INTEGER, done INTEGER NOT NULL DEFAULT 0);\n\
             CREATE TABLE {CAUGHT} (seq INTEGER NOT NULL, final INTEGER NOT NULL DEFAULT 0);\n\
             INSERT INTO {CAUGHT} VALUES (0, 0);\n"
        ));
        for t in &self.tables {
            sql.push_str(&format!(
                "INSERT INTO {COPY} (tbl) VALUES ({});\n",
                literal(&t.name)
            ));
        }
        sql.push_str("COMMIT;");
        run_script(conn, path, &sql)
    }

    /// The statement that copies the rows of `src.t` matching `rows` (SQL over them) that
    /// belong on new shard `s`, as they are now.
    fn copy_rows(&self, t: &CopyTable, s: usize, rows: &str) -> String {
        format!(
            "INSERT OR REPLACE INTO main.{name} ({rowid}, {cols}) SELECT {rowid}, {cols} FROM src.{name} WHERE {rows} AND {}",
            self.belongs(t, s),
            name = quote_ident(&t.name),
            rowid = t.rowid,
            cols = t.columns.join(", ")
        )
    }

    /// Whether the rows of `t` belong on new shard `s`, as SQL over `src.t`.
    fn belongs(&self, t: &CopyTable, s: usize) -> String {
        let even = s % 2 == 0;
        match (t.spread, &t.key) {
            (Spread::Key(_, affinity), Some(key)) => {
                let aff = format!("{affinity:?}").to_ascii_lowercase();
                let shard = format!("d1plus_shard({key}, '{aff}', {})", self.report.to);
                // The even half takes every row that is not the odd half's, so a row
                // stays on some shard whatever its key.
                if even {
                    format!("{shard} <> {}", s + 1)
                } else {
                    format!("{shard} = {s}")
                }
            }
            (Spread::Both, _) => "1".into(),
            _ if even => "1".into(),
            _ => "0".into(),
        }
    }

    /// Copies old shard `i`'s rows to new shard `s`, chunk by chunk.
    fn copy(
        &mut self,
        i: usize,
        s: usize,
        options: &SplitOptions,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let conn = self.target(i, s)?;
        let path = self.new_file(s);
        let err = |e| file_error(&path, e);
        for t in self.tables.clone() {
            loop {
                let (after, done): (Option<i64>, bool) = conn
                    .query_row(
                        &format!("SELECT after, done FROM {COPY} WHERE tbl = ?1"),
                        [&t.name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(err)?
                    .unwrap_or((None, true));
                if done {
                    break;
                }
                ticks.tick()?;
                let (name, rowid) = (quote_ident(&t.name), &t.rowid);
                let after = after.unwrap_or(i64::MIN);
                let tx = Tx::begin(&conn, &path)?;
                let bound: Option<i64> = conn
                    .query_row(
                        &format!("SELECT max({rowid}) FROM (SELECT {rowid} FROM src.{name} WHERE {rowid} > ?1 ORDER BY {rowid} LIMIT ?2)"),
                        rusqlite::params![after, options.chunk_rows as i64],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                let copied = match bound {
                    Some(bound) => conn
                        .execute(
                            &self.copy_rows(&t, s, &format!("{rowid} > ?1 AND {rowid} <= ?2")),
                            [after, bound],
                        )
                        .map_err(err)?,
                    None => 0,
                };
                conn.execute(
                    &format!("UPDATE {COPY} SET after = ?1, done = ?2 WHERE tbl = ?3"),
                    rusqlite::params![bound, bound.is_none(), t.name],
                )
                .map_err(err)?;
                tx.commit()?;
                self.report.rows += copied as u64;
                progress(&self.progress("copy", i));
            }
        }
        // Every row is in: build the indexes (each once, also when resumed).
        for (name, sql) in &self.schema.indexes {
            if !has_object(&conn, &path, name)? {
                ticks.tick()?;
                conn.execute_batch(sql).map_err(err)?;
            }
        }
        Ok(())
    }

    /// Replays old shard `i`'s change log on new shard `s` until at most `leave` entries
    /// are left (0: all of them).
    fn catch_up(
        &mut self,
        i: usize,
        s: usize,
        batch: usize,
        leave: usize,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let conn = self.target(i, s)?;
        let path = self.new_file(s);
        let err = |e| file_error(&path, e);
        loop {
            let caught: i64 = conn
                .query_row(&format!("SELECT seq FROM {CAUGHT}"), [], |r| r.get(0))
                .map_err(err)?;
            let left: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM src.{LOG} WHERE seq > ?1"),
                    [caught],
                    |r| r.get(0),
                )
                .map_err(err)?;
            if left == 0 || left as usize <= leave {
                return Ok(());
            }
            ticks.tick()?;
            let tx = Tx::begin(&conn, &path)?;
            let entries: Vec<(i64, String, i64)> = {
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT seq, tbl, rid FROM src.{LOG} WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))
                    .map_err(err)?;
                let rows = stmt
                    .query_map([caught, batch as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(err)?;
                rows
            };
            let mut touched: Vec<(String, i64)> =
                entries.iter().map(|(_, t, r)| (t.clone(), *r)).collect();
            touched.sort();
            touched.dedup();
            // Every touched row goes first, then each comes back as it is now: the rows
            // this transaction leaves are the old file's at one instant.
            for (tname, rid) in &touched {
                if let Some(t) = self.tables.iter().find(|t| &t.name == tname) {
                    conn.execute(
                        &format!(
                            "DELETE FROM main.{} WHERE {} = ?1",
                            quote_ident(&t.name),
                            t.rowid
                        ),
                        [rid],
                    )
                    .map_err(err)?;
                }
            }
            for (tname, rid) in &touched {
                if let Some(t) = self.tables.iter().find(|t| &t.name == tname) {
                    conn.execute(&self.copy_rows(t, s, &format!("{} = ?1", t.rowid)), [rid])
                        .map_err(err)?;
                }
            }
            let last = entries.last().map_or(caught, |e| e.0);
            conn.execute(&format!("UPDATE {CAUGHT} SET seq = ?1"), [last])
                .map_err(err)?;
            tx.commit()?;
            self.report.changes += entries.len() as u64;
            progress(&self.progress("catch-up", i));
        }
    }

    fn cutover(
        &mut self,
        options: &SplitOptions,
        ticks: &mut Ticks,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let n = self.layout.shard_count;
        let paused = Instant::now();
        for i in 0..n {
            let src = open(&self.old(i))?;
            install_pause(&src, &self.old(i), &self.tables)?;
        }
        progress(&self.progress("cutover", 0));
        for i in 0..n {
            for s in [2 * i, 2 * i + 1] {
                self.catch_up(i, s, options.catch_up_batch, 0, ticks, progress)?;
            }
            ticks.tick()?;
            if let Err(e) = self.finish_pair(i) {
                // Writes go on in the old layout while the operator looks (or aborts).
                self.resume_writes()?;
                return Err(e);
            }
        }
        ticks.tick()?;
        let mut layout = self.layout.clone();
        layout.version += 1;
        layout.shard_count = self.report.to;
        layout.files = self.state.files.clone();
        layout.split = (self.state.to > self.report.to).then(|| SplitState {
            to: self.state.to,
            files: (0..2 * self.report.to)
                .map(|s| layout::split_file_name(s, 2 * self.report.to))
                .collect(),
            phase: Phase::Copy,
        });
        // The commit point: from here on every process reads and writes the new files.
        layout.write(self.dir)?;
        self.report.write_pause = paused.elapsed();
        Ok(())
    }

    /// Drops the pause triggers from the old files and goes back to the copy phase.
    fn resume_writes(&mut self) -> Result<()> {
        for i in 0..self.layout.shard_count {
            let path = self.old(i);
            let conn = open(&path)?;
            let mut sql = String::from("BEGIN IMMEDIATE;\n");
            for t in &self.tables {
                for op in ["insert", "update", "delete"] {
                    sql.push_str(&format!(
                        "DROP TRIGGER IF EXISTS {};\n",
                        trigger_name("pause", op, &t.name)
                    ));
                }
            }
            sql.push_str("COMMIT;");
            run_script(&conn, &path, &sql)?;
        }
        self.state.phase = Phase::Copy;
        self.layout.split = Some(self.state.clone());
        self.layout.write(self.dir)
    }

    /// Checks new shards `2i` and `2i + 1` against old shard `i` (with writes paused and
    /// the log replayed) and makes them final: the app's triggers, the id floors, the
    /// sequence table. Idempotent: a file already final is left alone.
    fn finish_pair(&mut self, i: usize) -> Result<()> {
        let even = self.target(i, 2 * i)?;
        let odd = self.target(i, 2 * i + 1)?;
        self.verify(i, &even, &odd)?;
        for (s, conn) in [(2 * i, &even), (2 * i + 1, &odd)] {
            let path = self.new_file(s);
            let err = |e| file_error(&path, e);
            if is_final(conn, &path)? {
                continue;
            }
            let tx = Tx::begin(conn, &path)?;
            if has_table(conn, &path, "sqlite_sequence")? {
                conn.execute_batch(
                    "DELETE FROM main.sqlite_sequence; INSERT INTO main.sqlite_sequence SELECT * FROM src.sqlite_sequence",
                )
                .map_err(err)?;
            }
            if s % 2 == 0 {
                self.floors(i, conn, &path)?;
            }
            for t in &self.schema.triggers {
                conn.execute_batch(t).map_err(err)?;
            }
            conn.execute_batch(&format!("DROP TABLE {COPY}; UPDATE {CAUGHT} SET final = 1"))
                .map_err(err)?;
            tx.commit()?;
            // Like every shard file: a rollback journal (this checkpoints and syncs it).
            conn.pragma_update(Some("main"), "journal_mode", "DELETE")
                .map_err(err)?;
        }
        Ok(())
    }

    /// Every table's rows: old = even + odd for sharded tables, old = each for the others
    /// on both, old = even for unsharded ones; and the same schema.
    fn verify(&self, i: usize, even: &Connection, odd: &Connection) -> Result<()> {
        let count = |conn: &Connection, schema: &str, t: &str| -> Result<i64> {
            conn.query_row(
                &format!("SELECT count(*) FROM {schema}.{}", quote_ident(t)),
                [],
                |r| r.get(0),
            )
            .map_err(|e| Error::internal(sqlite_message(e)))
        };
        // The floors are the split's own writes (see `floors`).
        for t in self
            .tables
            .iter()
            .filter(|t| t.name != rowid_ranges::FLOOR_TABLE)
        {
            let old = count(even, "src", &t.name)?;
            let (e, o) = (count(even, "main", &t.name)?, count(odd, "main", &t.name)?);
            let ok = match t.spread {
                Spread::Key(..) => e + o == old,
                Spread::Both => e == old && o == old,
                Spread::Even => e == old && o == 0,
            };
            if !ok {
                return Err(Error::with_remedy(
                    ErrorCode::Internal,
                    format!(
                        "the split's copy of {} differs from shard {i}: {old} rows there, {e} and {o} in the new shards {} and {}",
                        t.name,
                        2 * i,
                        2 * i + 1
                    ),
                    "run `d1plus split DIR --abort` (the old shards are intact) and report this",
                ));
            }
        }
        let (old, mut new) = (app_schema_of(even, "src")?, app_schema_of(even, "main")?);
        if !is_final(even, Path::new(""))? {
            new.triggers = self.schema.triggers.clone();
        }
        if old.sorted() != new.sorted() {
            return Err(Error::with_remedy(
                ErrorCode::Retry,
                format!("the schema of shard {i} changed during the split"),
                "run `d1plus split DIR --abort`, then split again",
            ));
        }
        Ok(())
    }

    /// Leaves new shard `2i` a floor above the ids old shard `i` generated (some of those
    /// rows may now be on `2i + 1`).
    fn floors(&self, i: usize, conn: &Connection, path: &Path) -> Result<()> {
        let start = rowid_ranges::range_start(i, self.layout.shard_count);
        let (low, high) = (start + rowid_ranges::GENERATED, start + rowid_ranges::RANGE);
        for t in self
            .tables
            .iter()
            .filter(|t| t.id_alias && matches!(t.spread, Spread::Key(..)))
        {
            conn.execute(
                &format!(
                    "INSERT INTO {floor} (tbl, floor) SELECT ?1, m FROM (SELECT max({rowid}) AS m FROM src.{name} \
                     WHERE {rowid} >= ?2 AND {rowid} < ?3) WHERE m IS NOT NULL \
                     ON CONFLICT (tbl) DO UPDATE SET floor = max(floor, excluded.floor)",
                    floor = rowid_ranges::FLOOR_TABLE,
                    rowid = t.rowid,
                    name = quote_ident(&t.name),
                ),
                rusqlite::params![t.name, low, high],
            )
            .map_err(|e| file_error(path, e))?;
        }
        Ok(())
    }
}

/// An open transaction, rolled back unless committed.
pub(super) struct Tx<'c> {
    conn: &'c Connection,
    path: &'c Path,
    open: bool,
}

impl<'c> Tx<'c> {
    /// A deferred transaction: the new file is written, the attached old file only read
    /// (holding its shared lock no longer than the transaction).
    fn begin(conn: &'c Connection, path: &'c Path) -> Result<Tx<'c>> {
        conn.execute_batch("BEGIN")
            .map_err(|e| file_error(path, e))?;
        Ok(Tx {
            conn,
            path,
            open: true,
        })
    }

    fn commit(mut self) -> Result<()> {
        self.open = false;
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| file_error(self.path, e))
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report from a rollback on the way out of an error.
            let _rolled_back = self.conn.execute_batch("ROLLBACK");
        }
    }
}
