//! What planning hands to execution: statements as the caller gave them, and as each
//! shard receives them. The backends consume these types; they do not define them.

use super::ShardHint;
use crate::value::Value;
use serde::Serialize;
use std::sync::Arc;

/// One statement of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Statement {
    /// SQL text (one statement).
    pub sql: String,
    /// Bound parameters.
    #[serde(default)]
    pub params: Vec<Value>,
    /// Optional routing hint.
    #[serde(default, rename = "shard")]
    pub hint: Option<ShardHint>,
}

impl Statement {
    /// A statement without parameters.
    pub fn new(sql: impl Into<String>) -> Statement {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
            hint: None,
        }
    }

    /// The same statement with these parameters.
    pub fn bind(mut self, params: Vec<Value>) -> Statement {
        self.params = params;
        self
    }
}

/// A shard number, `0..shard_count`. Shard 0 is the home shard.
pub type ShardId = usize;

/// One statement as a shard receives it: SQL text and its positional parameters
/// (`?1` is `params[0]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardStatement {
    /// SQL text, exactly as sent to the shard (shared with the cached plan it came from).
    pub sql: Arc<str>,
    /// Bound parameters, in SQLite's numbering (`params[i]` binds `?{i+1}`).
    pub params: Vec<Value>,
}

/// Statements for one shard that run as one atomic batch (all or nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardBatch {
    /// The shard that runs them.
    pub shard: ShardId,
    /// The statements, in order.
    pub statements: Vec<ShardStatement>,
}

impl ShardBatch {
    /// A batch of one statement.
    pub fn one(shard: ShardId, sql: Arc<str>, params: Vec<Value>) -> ShardBatch {
        ShardBatch {
            shard,
            statements: vec![ShardStatement { sql, params }],
        }
    }
}
