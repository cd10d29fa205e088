//! The shard policy (DESIGN section 2): which tables are sharded and by which key column,
//! which are reference tables, and how many shards there are. Same JSON shape as the
//! Layeron `db({...})` declaration, camelCase.

use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

/// The largest shard count.
pub const MAX_SHARDS: usize = 64;

/// A logical database's shard policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// The logical database's name.
    pub name: String,
    /// How many shards (absent: one fixed shard).
    #[serde(default)]
    pub capacity: Capacity,
    /// Sharded and reference tables (absent: none).
    #[serde(default)]
    pub sharding: Sharding,
}

/// How many shards the database has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "camelCase", deny_unknown_fields)]
pub enum Capacity {
    /// One shard.
    #[default]
    Fixed,
    /// A fixed number of shards chosen by the operator.
    #[serde(rename_all = "camelCase")]
    Manual {
        /// A power of two, 1..=64.
        target_shard_count: usize,
    },
    /// Starts at `targetShardCount` and may grow to `maxShardCount`.
    #[serde(rename_all = "camelCase")]
    Auto {
        /// A power of two, 1..=64, at most `max_shard_count`.
        target_shard_count: usize,
        /// A power of two, 1..=64.
        max_shard_count: usize,
    },
}

/// Which tables are sharded or copied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sharding {
    /// Sharded tables and their key columns.
    #[serde(default)]
    pub tables: Vec<ShardedTable>,
    /// Reference tables, copied on every shard.
    #[serde(default)]
    pub reference: Vec<String>,
}

/// A sharded table and its key column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShardedTable {
    /// Table name (matched case-insensitively).
    pub name: String,
    /// The shard key column.
    #[serde(default)]
    pub key_column: String,
}

/// Where a table's rows live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TableKind {
    /// Each row on the shard its key maps to.
    Sharded,
    /// Every row on every shard.
    Reference,
    /// Every row on the home shard (shard 0).
    Unsharded,
}

fn invalid(message: String) -> Error {
    Error::with_remedy(
        ErrorCode::InvalidPolicy,
        message,
        "fix the policy JSON (see the README's policy section)",
    )
}

fn check_count(field: &str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_SHARDS || !n.is_power_of_two() {
        return Err(invalid(format!(
            "{field} must be a power of two between 1 and {MAX_SHARDS}, got {n}"
        )));
    }
    Ok(())
}

impl Policy {
    /// Parses and validates a policy.
    pub fn from_json(json: &str) -> Result<Policy> {
        let policy: Policy = serde_json::from_str(json).map_err(|e| {
            let mut msg = e.to_string();
            if msg.contains("unknown variant") && msg.contains("mode")
                || msg.contains("expected one of `fixed`")
            {
                msg = format!("capacity.mode: {msg}");
            }
            invalid(format!("invalid policy JSON: {msg}"))
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// A one-shard policy with no sharded tables.
    pub fn single(name: &str) -> Policy {
        Policy {
            name: name.to_string(),
            capacity: Capacity::Fixed,
            sharding: Sharding::default(),
        }
    }

    /// Checks every rule; the error names the field, the rule and the value.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(invalid("name must not be empty".into()));
        }
        match self.capacity {
            Capacity::Fixed => {}
            Capacity::Manual { target_shard_count } => {
                check_count("capacity.targetShardCount", target_shard_count)?
            }
            Capacity::Auto {
                target_shard_count,
                max_shard_count,
            } => {
                check_count("capacity.targetShardCount", target_shard_count)?;
                check_count("capacity.maxShardCount", max_shard_count)?;
                if target_shard_count > max_shard_count {
                    return Err(invalid(format!(
                        "capacity.targetShardCount ({target_shard_count}) must not exceed capacity.maxShardCount ({max_shard_count})"
                    )));
                }
            }
        }
        for (i, t) in self.sharding.tables.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(invalid(format!(
                    "sharding.tables[{i}].name must not be empty"
                )));
            }
            if t.key_column.trim().is_empty() {
                return Err(invalid(format!(
                    "sharding.tables[{i}].keyColumn is missing or empty for table {:?}",
                    t.name
                )));
            }
            if self.sharding.tables[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&t.name))
            {
                return Err(invalid(format!(
                    "sharding.tables[{i}].name: table {:?} is listed twice",
                    t.name
                )));
            }
        }
        for (i, r) in self.sharding.reference.iter().enumerate() {
            if r.trim().is_empty() {
                return Err(invalid(format!(
                    "sharding.reference[{i}] must not be empty"
                )));
            }
            if self.sharding.reference[..i]
                .iter()
                .any(|o| o.eq_ignore_ascii_case(r))
            {
                return Err(invalid(format!(
                    "sharding.reference[{i}]: table {r:?} is listed twice"
                )));
            }
            if self.sharded_table(r).is_some() {
                return Err(invalid(format!(
                    "sharding.reference[{i}]: table {r:?} is also in sharding.tables; a table is either sharded or reference"
                )));
            }
        }
        Ok(())
    }

    /// The number of shards the database has now.
    pub fn shard_count(&self) -> usize {
        match self.capacity {
            Capacity::Fixed => 1,
            Capacity::Manual { target_shard_count }
            | Capacity::Auto {
                target_shard_count, ..
            } => target_shard_count,
        }
    }

    /// The sharded table named `name` (case-insensitive).
    pub fn sharded_table(&self, name: &str) -> Option<&ShardedTable> {
        self.sharding
            .tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Whether `name` is a reference table (case-insensitive).
    pub fn is_reference(&self, name: &str) -> bool {
        self.sharding
            .reference
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
    }

    /// Where the rows of table `name` live.
    pub fn table_kind(&self, name: &str) -> TableKind {
        if self.sharded_table(name).is_some() {
            TableKind::Sharded
        } else if self.is_reference(name) {
            TableKind::Reference
        } else {
            TableKind::Unsharded
        }
    }

    /// Pretty JSON, as stored in `DIR/policy.json`.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn parses_the_layeron_shape() {
        let p = Policy::from_json(
            r#"{ "name": "main",
                 "capacity": { "mode": "manual", "targetShardCount": 8 },
                 "sharding": { "tables": [ { "name": "events", "keyColumn": "tenantId" } ],
                               "reference": [ "plans" ] } }"#,
        )
        .unwrap();
        assert_eq!(p.shard_count(), 8);
        assert_eq!(p.table_kind("EVENTS"), TableKind::Sharded);
        assert_eq!(p.sharded_table("Events").unwrap().key_column, "tenantId");
        assert_eq!(p.table_kind("Plans"), TableKind::Reference);
        assert_eq!(p.table_kind("other"), TableKind::Unsharded);
        let back = Policy::from_json(&p.to_json_pretty()).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            Policy::from_json(r#"{"name":"x"}"#).unwrap().shard_count(),
            1
        );
        let auto = Policy::from_json(
            r#"{"name":"x","capacity":{"mode":"auto","targetShardCount":2,"maxShardCount":16}}"#,
        )
        .unwrap();
        assert_eq!(auto.shard_count(), 2);
    }

    #[rstest]
    #[case(r#"{"name":"x","capacity":{"mode":"elastic"}}"#, "mode")]
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual","targetShardCount":12}}"#,
        "capacity.targetShardCount must be a power of two between 1 and 64, got 12"
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual","targetShardCount":128}}"#,
        "got 128"
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual","targetShardCount":0}}"#,
        "got 0"
    )]
    #[case(r#"{"name":"x","capacity":{"mode":"manual"}}"#, "targetShardCount")]
    #[case(
        r#"{"name":"x","capacity":{"mode":"auto","targetShardCount":16,"maxShardCount":8}}"#,
        "capacity.targetShardCount (16) must not exceed capacity.maxShardCount (8)"
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"auto","targetShardCount":2,"maxShardCount":48}}"#,
        "capacity.maxShardCount"
    )]
    #[case(
        r#"{"name":"x","sharding":{"tables":[{"name":"","keyColumn":"k"}]}}"#,
        "sharding.tables[0].name"
    )]
    #[case(
        r#"{"name":"x","sharding":{"tables":[{"name":"t"}]}}"#,
        "sharding.tables[0].keyColumn"
    )]
    #[case(
        r#"{"name":"x","sharding":{"tables":[{"name":"t","keyColumn":" "}]}}"#,
        "keyColumn"
    )]
    #[case(r#"{"name":"x","sharding":{"tables":[{"name":"t","keyColumn":"k"},{"name":"T","keyColumn":"k"}]}}"#, "sharding.tables[1].name: table \"T\" is listed twice")]
    #[case(
        r#"{"name":"x","sharding":{"reference":["a","A"]}}"#,
        "sharding.reference[1]"
    )]
    #[case(
        r#"{"name":"x","sharding":{"tables":[{"name":"t","keyColumn":"k"}],"reference":["T"]}}"#,
        "either sharded or reference"
    )]
    #[case(r#"{"name":"","capacity":{"mode":"fixed"}}"#, "name must not be empty")]
    #[case(r#"{"name":"x","shards":4}"#, "unknown field `shards`")]
    #[case(
        r#"{"name":"x","sharding":{"tables":[{"name":"t","key":"k"}]}}"#,
        "unknown field `key`"
    )]
    #[case("not json", "invalid policy JSON")]
    fn invalid_policies_name_the_field_and_rule(#[case] json: &str, #[case] expected: &str) {
        let e = Policy::from_json(json).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPolicy);
        let msg = e.to_string();
        assert!(
            msg.contains(expected),
            "{msg:?} does not mention {expected:?}"
        );
    }
}
