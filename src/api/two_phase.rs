//! Reads in two phases (docs/ARCHITECTURE.md): a read the planner refuses because a part
//! of it reads sharded tables where no shard can answer alone runs that part first, as a
//! read of its own merged across shards, then the rest with its answer.

use super::{keep_original_names, Database};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::execute::QueryResult;
use crate::merge::coordinator;
use crate::plan::derived_table::Origin;
use crate::plan::{self, PlanOptions, ShardHint};
use crate::value::Value;

impl<B: Backend> Database<B> {
    /// A read refused because of its CTEs or a scalar subquery over sharded tables: runs it
    /// with each CTE replaced by its body (`plan::cte`), or computes each such subquery
    /// first, merged exactly across shards, then runs the read with the values in their
    /// place (`plan::subquery`), or reads its one FROM subquery first and runs the outer
    /// query over those rows on the coordinator (`plan::derived_table`), or does so with
    /// its table's rows when its window functions span shards (`plan::window_rows`). None
    /// when none applies.
    pub(super) async fn subqueries_first(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
        options: PlanOptions,
    ) -> Result<Option<QueryResult>> {
        let catalog = self.catalog();
        let prepared = self.prepare(sql, &catalog)?;
        let parsed = &prepared.parsed;
        // INSERT … SELECT: read, then write (see `plan::insert_two_phase`).
        if let (Some(split), None) = (plan::insert_two_phase::split(parsed, params), hint) {
            let read =
                Box::pin(self.query_with(&split.select.sql, &split.select.params, None, options))
                    .await?;
            let writes = split.writes(&read.rows)?;
            let mut result = QueryResult::default();
            result.meta.rows_read = read.meta.rows_read;
            result.meta.duration = read.meta.duration;
            for r in self.batch(&writes).await? {
                result.meta.then(r.meta);
            }
            return Ok(Some(result));
        }
        // DISTINCT over NOCASE/RTRIM columns, as the GROUP BY it equals (see
        // `plan::distinct_groups`); a refusal of that spelling leaves the original's.
        if let Some(grouped) = plan::distinct_groups::as_group_by(parsed, params) {
            match Box::pin(self.query_with(&grouped.sql, &grouped.params, hint, options)).await {
                Ok(mut result) => {
                    keep_original_names(&mut result, parsed, &catalog);
                    return Ok(Some(result));
                }
                Err(e @ Error::Backend { .. }) => return Err(e),
                Err(_) => {}
            }
        }
        // CTEs are read like the subqueries they are (see `plan::cte`).
        if let Some(inlined) = plan::cte::inline_ctes(parsed, params) {
            let mut result =
                Box::pin(self.query_with(&inlined.sql, &inlined.params, hint, options)).await?;
            keep_original_names(&mut result, parsed, &catalog);
            return Ok(Some(result));
        }
        let subs = plan::subquery::scalar_subqueries(parsed, params, &self.shared.policy, &catalog);
        if subs.is_empty() {
            let policy = &self.shared.policy;
            let read = plan::window_rows::rows_first(parsed, params, policy, &catalog);
            return match (read, hint) {
                (Some(read), None) => self.derived_read(&read, options).await.map(Some),
                _ => Ok(None),
            };
        }
        let mut values = Vec::with_capacity(subs.len());
        let mut rows_read = 0;
        for sub in &subs {
            let r = Box::pin(self.query_with(&sub.sql, &sub.params, None, options)).await?;
            rows_read += r.meta.rows_read;
            let mut computed = plan::subquery::Computed {
                range: sub.range.clone(),
                kind: sub.kind,
                rows: r.rows,
                columns: r.columns,
            };
            computed.check()?;
            values.push(computed);
        }
        let rewritten = plan::subquery::substitute(parsed, params, &values)?;
        let mut result =
            Box::pin(self.query_with(&rewritten.sql, &rewritten.params, hint, options)).await?;
        result.meta.rows_read += rows_read;
        keep_original_names(&mut result, parsed, &catalog);
        Ok(Some(result))
    }

    /// What `explain` shows for a read the planner refuses and [`Self::derived_read`]
    /// answers: its rows read first (their plan), then the query over them on the
    /// coordinator. None for other reads, and for reads with parameters (whose rows read
    /// first depend on the values).
    pub(super) fn explain_rows_first(
        &self,
        parsed: &crate::parse::Parsed,
    ) -> Result<Option<String>> {
        if parsed.params.count > 0 {
            return Ok(None);
        }
        let catalog = self.catalog();
        let policy = &self.shared.policy;
        let read = plan::window_rows::rows_first(parsed, &[], policy, &catalog);
        let Some(read) = read else {
            return Ok(None);
        };
        let first = self.explain_unbound(&read.inner.sql, None)?;
        let indented = first
            .lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        let what = match read.origin {
            Origin::Subquery => "its FROM subquery",
            Origin::Windows => "the rows its window functions read",
        };
        Ok(Some(format!(
            "two phases: {what} first (at most {} rows), then the rest on the coordinator\n\
             1. rows read first:\n{indented}\n\
             2. on the coordinator, over those rows ({}): {}\n",
            plan::derived_table::MAX_ROWS,
            coordinator::PARTIALS,
            read.outer_sql()
        )))
    }

    /// A read whose only FROM item is a subquery over sharded tables: the subquery merged
    /// across shards, then the outer query over its rows on the coordinator.
    async fn derived_read(
        &self,
        read: &plan::derived_table::DerivedRead,
        options: PlanOptions,
    ) -> Result<QueryResult> {
        // A failure inside a FROM subquery (`integer overflow`) is refused, not answered:
        // one database may never evaluate the rows that fail, as its planner can push the
        // outer WHERE into the subquery first. A table's rows read for its windows are the
        // statement's own WHERE, which one database evaluates alike.
        let inner = Box::pin(self.query_with(&read.inner.sql, &read.inner.params, None, options))
            .await
            .map_err(|e| match e {
                Error::Backend { message, .. } if read.origin == Origin::Subquery => Error::unsupported(
                    format!("a FROM subquery read first across shards failed ({message}), where one database may not evaluate the rows that fail"),
                    "filter inside the subquery, or pin one shard with the key",
                ),
                other => other,
            })?;
        let step = read
            .step(&inner.columns, inner.rows.len())
            .map_err(|e| read.in_statement_names(e))?;
        let mut names = Vec::new();
        let rows = coordinator::finish_named(&step, inner.rows, &mut names)
            .map_err(|e| read.in_statement_names(e))?;
        if let Some(own) = read.names.as_ref().filter(|n| n.len() == names.len()) {
            names.clone_from(own);
        }
        Ok(QueryResult {
            columns: names.into(),
            rows,
            meta: inner.meta,
        })
    }
}
