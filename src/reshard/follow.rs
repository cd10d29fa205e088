//! Schema changes during a split: tables, views and indexes made or dropped on the old
//! shards are followed on the new ones.

use super::sql::{self, TableSpec};
use super::*;

impl Run<'_> {
    /// Tables, views and indexes created or dropped on the old shards since the split
    /// began: the new shards follow, capture covers the new tables, and the copy runs again
    /// for them (the tables already copied are marked done). One read when nothing changed.
    pub(super) async fn follow_schema(
        &mut self,
        tables: &[TableSpec],
        app: &Rows,
        state: &mut SplitState,
    ) -> Result<()> {
        let new0 = self.fresh_shard(state, 0)?;
        let found = self
            .read(
                new0,
                "SELECT type AS kind, name AS name FROM sqlite_schema WHERE type IN ('table', 'view', 'index') \
                 AND sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' \
                 AND name NOT LIKE '\\_d1plus\\_split%' ESCAPE '\\'"
                    .to_string(),
            )
            .await?;
        let name_of = |row: &Vec<Value>| match row.get(1) {
            Some(Value::Text(n)) => n.to_ascii_lowercase(),
            _ => String::new(),
        };
        let wanted: Vec<&Vec<Value>> = app
            .iter()
            .filter(|r| !matches!(r.first(), Some(Value::Text(k)) if k == "trigger"))
            .collect();
        let have: Vec<String> = found.iter().map(name_of).collect();
        let want: Vec<String> = wanted.iter().map(|r| name_of(r)).collect();
        let floor = rowid_ranges::FLOOR_TABLE.to_ascii_lowercase();
        let mut statements = Vec::new();
        for kind in ["view", "index", "table"] {
            for row in &found {
                let name = name_of(row);
                if matches!(row.first(), Some(Value::Text(k)) if k == kind)
                    && !want.contains(&name)
                    && name != floor
                {
                    statements.push(format!(
                        "DROP {} IF EXISTS {}",
                        kind.to_ascii_uppercase(),
                        crate::lex::quote_ident(&name)
                    ));
                }
            }
        }
        let mut new_table = false;
        for row in &wanted {
            if let [Value::Text(kind), _, Value::Text(sql)] = row.as_slice() {
                if !have.contains(&name_of(row)) {
                    new_table |= kind == "table";
                    statements.push(sql.clone());
                }
            }
        }
        if statements.is_empty() {
            return Ok(());
        }
        let mut batches = Vec::new();
        for i in 0..state.from.len() {
            let mut capture = sql::drop_triggers(tables, &["pause"]);
            capture.extend(sql::capture(tables));
            batches.push((self.old_shard(state, i)?, capture));
        }
        self.call(batches).await?;
        let mut batches = Vec::new();
        for j in 0..state.to.len() {
            batches.push((self.fresh_shard(state, j)?, statements.clone()));
        }
        self.call(batches).await?;
        if new_table || state.phase == Phase::Cutover {
            state.phase = Phase::Copy;
        }
        // The pause triggers went with the capture's reinstall.
        state.paused = false;
        self.save(state).await?;
        Ok(())
    }
}
