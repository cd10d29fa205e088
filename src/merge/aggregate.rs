//! Aggregate merge: each shard computes partial aggregates per group (and, for DISTINCT
//! aggregates, per distinct value); the coordinator SQLite combines them per group and
//! applies HAVING, the output expressions, ORDER BY and LIMIT/OFFSET (see
//! [`super::coordinator`]). A final step of bare counts and sums over one row per shard
//! combines them without SQLite ([`super::sum::direct_row`]), with the same functions.

use super::coordinator::{finish, FinalStep};
use super::sum::{direct_row, Direct};
use super::Row;
use crate::error::Result;
use serde::Serialize;
use std::fmt;

/// How grouped / aggregated rows of several shards merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateMerge {
    /// The final step over the partial rows.
    pub step: FinalStep,
    /// When the step's output is only counts and sums, over one partial row per shard:
    /// each output's combination, computed without the coordinator SQLite.
    pub direct: Option<Vec<Direct>>,
}

impl fmt::Display for AggregateMerge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.step.fmt(f)?;
        if self.direct.is_some() {
            write!(
                f,
                "\n  combined directly: the output's functions, without SQLite"
            )?;
        }
        Ok(())
    }
}

/// Merges grouped partial rows of all shards into the final rows.
pub fn merge_aggregates(spec: &AggregateMerge, shards: Vec<Vec<Row>>) -> Result<Vec<Row>> {
    let rows: Vec<Row> = shards.into_iter().flatten().collect();
    if let Some(row) = spec.direct.as_deref().and_then(|d| direct_row(d, &rows)) {
        return Ok(vec![row]);
    }
    finish(&spec.step, rows)
}
