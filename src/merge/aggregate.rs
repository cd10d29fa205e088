//! Aggregate merge: each shard computes partial aggregates per group (and, for DISTINCT
//! aggregates, per distinct value); the coordinator SQLite combines them per group and
//! applies HAVING, the output expressions, ORDER BY and LIMIT/OFFSET (see
//! [`super::coordinator`]).

use super::coordinator::{finish, FinalStep};
use super::Row;
use crate::error::Result;
use serde::Serialize;
use std::fmt;

/// How grouped / aggregated rows of several shards merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateMerge {
    /// The final step over the partial rows.
    pub step: FinalStep,
}

impl fmt::Display for AggregateMerge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.step.fmt(f)
    }
}

/// Merges grouped partial rows of all shards into the final rows.
pub fn merge_aggregates(spec: &AggregateMerge, shards: Vec<Vec<Row>>) -> Result<Vec<Row>> {
    finish(&spec.step, shards.into_iter().flatten().collect())
}
