//! The shard policy (docs/ARCHITECTURE.md §2): which tables are sharded and by which key column,
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
    /// Tables whose committed writes are streamed (see `crate::realtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime: Option<RealtimePolicy>,
}

/// How many shards the database has.
///
/// Read through a private flat struct (`CapacityJson`) so that each mode accepts exactly
/// its own fields: with a plain internally tagged enum, serde silently ignores
/// `targetShardCount` under `"mode": "fixed"`, and an operator who wrote 4 shards would
/// get 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "camelCase", try_from = "CapacityJson")]
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
        /// `d1plus split --auto` doubles when a shard's file passes this many bytes
        /// (default [`DEFAULT_SPLIT_AT_BYTES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        split_at_bytes: Option<u64>,
        /// … or when a shard holds more rows of sharded tables than this (default: no
        /// row threshold).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        split_at_rows: Option<u64>,
    },
}

/// The size at which `auto` capacity splits a shard: half of D1's 10 GB per database, so
/// both halves of a split have room to grow.
pub const DEFAULT_SPLIT_AT_BYTES: u64 = 5_000_000_000;

/// The `capacity` object as written, before its mode decides which fields belong.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CapacityJson {
    mode: String,
    #[serde(default)]
    target_shard_count: Option<usize>,
    #[serde(default)]
    max_shard_count: Option<usize>,
    #[serde(default)]
    split_at_bytes: Option<u64>,
    #[serde(default)]
    split_at_rows: Option<u64>,
}

impl TryFrom<CapacityJson> for Capacity {
    type Error = String;

    /// Checks which fields the mode takes; the counts' ranges are checked by
    /// [`Policy::validate`], which also covers policies built in code.
    fn try_from(c: CapacityJson) -> Result<Capacity, String> {
        let required = |field: &str, v: Option<usize>| {
            v.ok_or_else(|| {
                format!(
                    "capacity.{field} is required when capacity.mode is {:?}",
                    c.mode
                )
            })
        };
        let thresholds = |allowed: &str| -> Result<(), String> {
            for (field, v) in [
                ("splitAtBytes", c.split_at_bytes),
                ("splitAtRows", c.split_at_rows),
            ] {
                if let Some(n) = v {
                    return Err(format!(
                        "capacity.{field} is not allowed when capacity.mode is {:?} ({allowed}), got {n}",
                        c.mode
                    ));
                }
            }
            Ok(())
        };
        let refuse = |field: &str, v: Option<usize>, allowed: &str| match v {
            Some(n) => Err(format!(
                "capacity.{field} is not allowed when capacity.mode is {:?} ({allowed}), got {n}",
                c.mode
            )),
            None => Ok(()),
        };
        match c.mode.as_str() {
            "fixed" => {
                let why = "always 1 shard; use \"manual\" to choose a count";
                refuse("targetShardCount", c.target_shard_count, why)?;
                refuse("maxShardCount", c.max_shard_count, why)?;
                thresholds("only \"auto\" splits by itself")?;
                Ok(Capacity::Fixed)
            }
            "manual" => {
                refuse(
                    "maxShardCount",
                    c.max_shard_count,
                    "only \"auto\" grows; use \"auto\" for a maximum",
                )?;
                thresholds("only \"auto\" splits by itself")?;
                Ok(Capacity::Manual {
                    target_shard_count: required("targetShardCount", c.target_shard_count)?,
                })
            }
            "auto" => Ok(Capacity::Auto {
                target_shard_count: required("targetShardCount", c.target_shard_count)?,
                max_shard_count: required("maxShardCount", c.max_shard_count)?,
                split_at_bytes: c.split_at_bytes,
                split_at_rows: c.split_at_rows,
            }),
            other => Err(format!(
                "capacity.mode must be one of \"fixed\", \"manual\" or \"auto\", got {other:?}"
            )),
        }
    }
}

/// Realtime log entries kept per shard when the policy does not say.
pub const DEFAULT_MAX_ROWS: u64 = 100_000;
/// How long realtime log entries are kept when the policy does not say: 7 days.
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 7 * 24 * 3600;

/// The policy's `realtime` object (see `crate::realtime`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RealtimePolicy {
    /// The tables whose writes are streamed.
    pub tables: Vec<String>,
    /// Log entries kept per shard (default [`DEFAULT_MAX_ROWS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
    /// Seconds entries are kept (default [`DEFAULT_MAX_AGE_SECONDS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
}

impl RealtimePolicy {
    /// Checks the names (non-empty, each once) and the retention (above 0).
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (i, t) in self.tables.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(format!("realtime.tables[{i}] must not be empty"));
            }
            if self.tables[..i].iter().any(|o| o.eq_ignore_ascii_case(t)) {
                return Err(format!("realtime.tables[{i}]: table {t:?} is listed twice"));
            }
        }
        if self.max_rows == Some(0) || self.max_age_seconds == Some(0) {
            return Err("realtime.maxRows and realtime.maxAgeSeconds must be above 0".into());
        }
        Ok(())
    }

    /// Log entries kept per shard.
    pub fn max_rows(&self) -> u64 {
        self.max_rows.unwrap_or(DEFAULT_MAX_ROWS)
    }
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

/// A JSON mistake in a policy in the policy's own terms: the field's path
/// (`sharding.tables[0].keyColumn`), what it must be and what it is, and where.
fn json_mistake(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let at = if inner.line() > 0 {
        format!(" (line {}, column {})", inner.line(), inner.column())
    } else {
        String::new()
    };
    let text = inner.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(t, _)| t);
    let path = e.path().to_string();
    let field = if path == "." {
        "the policy".to_string()
    } else {
        path
    };
    if inner.is_syntax() || inner.is_eof() {
        return format!("the policy is not valid JSON: {text}{at}");
    }
    if let Some(rest) = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
    {
        if let Some((got, want)) = rest.split_once(", expected ") {
            return format!(
                "{field} must be {}, not {}{at}",
                json_kind(want),
                json_kind(got)
            );
        }
    }
    if let Some(name) = text
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        let whole = if field == "the policy" {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
        return format!("{whole} is missing{at}");
    }
    if let Some(rest) = text.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        // The path already ends with the unknown field.
        let name = name.trim_end_matches('`');
        let whole = if field == "the policy" {
            name.to_string()
        } else {
            field
        };
        return format!("{whole} is not a policy field (expected {expected}){at}");
    }
    // The policy's own checks already name their field.
    if text.contains(field.as_str()) || field == "the policy" {
        format!("{text}{at}")
    } else {
        format!("{field}: {text}{at}")
    }
}

/// serde's names for JSON kinds and Rust types, as a policy author knows them.
fn json_kind(serde: &str) -> String {
    let s = serde.trim();
    match s {
        "a sequence" | "sequence" => "an array".into(),
        "a map" | "map" => "an object".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "boolean" => "true or false".into(),
        "unit value" | "null" => "null".into(),
        _ => {
            if let Some(v) = s
                .strip_prefix("integer `")
                .or_else(|| s.strip_prefix("floating point `"))
            {
                return v.trim_end_matches('`').to_string();
            }
            if let Some(v) = s.strip_prefix("string ") {
                return format!("the string {v}");
            }
            if let Some(v) = s.strip_prefix("boolean `") {
                return v.trim_end_matches('`').to_string();
            }
            if s.starts_with("struct ") {
                return "an object".into();
            }
            s.to_string()
        }
    }
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
        // '{', written so that brace-counting tools stay balanced.
        if !json.trim_start().starts_with('\u{7b}') {
            return Err(invalid(
                "the policy must be a JSON object: {\"name\": …, \"capacity\": …, \"sharding\": …}"
                    .into(),
            ));
        }
        let mut de = serde_json::Deserializer::from_str(json);
        let policy: Policy =
            serde_path_to_error::deserialize(&mut de).map_err(|e| invalid(json_mistake(&e)))?;
        de.end().map_err(|e| {
            invalid(format!(
                "the policy is not valid JSON: {e}: remove what follows the policy object"
            ))
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
            realtime: None,
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
                split_at_bytes,
                split_at_rows,
            } => {
                if split_at_bytes == Some(0) || split_at_rows == Some(0) {
                    return Err(invalid(
                        "capacity.splitAtBytes and capacity.splitAtRows must be above 0".into(),
                    ));
                }
                check_count("capacity.targetShardCount", target_shard_count)?;
                check_count("capacity.maxShardCount", max_shard_count)?;
                if target_shard_count > max_shard_count {
                    return Err(invalid(format!(
                        "capacity.targetShardCount ({target_shard_count}) must not exceed capacity.maxShardCount ({max_shard_count})"
                    )));
                }
            }
        }
        if let Some(rt) = &self.realtime {
            rt.validate().map_err(invalid)?;
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

    /// This policy with `shard_count` shards (what a split writes back to `policy.json`, or a
    /// Worker's layout record says).
    pub fn with_shard_count(&self, shard_count: usize) -> Policy {
        let mut p = self.clone();
        p.capacity = match p.capacity {
            Capacity::Auto {
                max_shard_count,
                split_at_bytes,
                split_at_rows,
                ..
            } => Capacity::Auto {
                target_shard_count: shard_count,
                max_shard_count: max_shard_count.max(shard_count),
                split_at_bytes,
                split_at_rows,
            },
            Capacity::Fixed if shard_count == 1 => Capacity::Fixed,
            _ => Capacity::Manual {
                target_shard_count: shard_count,
            },
        };
        p
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
    #[test]
    fn json_mistakes_name_the_field_in_the_policy_terms() {
        for (json, says) in [
            (
                r#"{"name": "x", "sharding": {"tables": "events"}}"#,
                "sharding.tables must be an array, not the string \"events\" (line 1, column 45)",
            ),
            (
                r#"{"name": "x", "capacity": {"mode": "manual", "targetShardCount": -1}}"#,
                "capacity.targetShardCount must be a whole number, 0 or more, not -1",
            ),
            (
                r#"{"name": "x", "capacity": {"mode": "manual", "targetShardCount": "4"}}"#,
                "not the string \"4\"",
            ),
            (r#"{"name": 5}"#, "name must be a string, not 5"),
            (
                r#"{"name": "x", "sharding": {"tables": [5]}}"#,
                "sharding.tables[0] must be an object, not 5",
            ),
            (
                r#"{"name": "x", "sharding": {"tables": [{"name": "e", "keyColumn": "k", "key": 1}]}}"#,
                "sharding.tables[0].key is not a policy field",
            ),
            (r#"{"capacity": {"mode": "fixed"}}"#, "name is missing"),
            (
                r#"{"name": "x", "realtime": {"tables": "docs"}}"#,
                "realtime.tables must be an array",
            ),
            (r#"[1]"#, "the policy must be a JSON object"),
            (r#"{"name": "x""#, "the policy is not valid JSON"),
            (
                r#"{"name": "x"} {}"#,
                "remove what follows the policy object",
            ),
        ] {
            let e = Policy::from_json(json).unwrap_err().to_string();
            assert!(e.contains(says), "{json}: {e}");
            for serde_word in [
                "sequence",
                "usize",
                "u64",
                "struct",
                "a map",
                "invalid type",
            ] {
                assert!(!e.contains(serde_word), "{json}: {e}");
            }
        }
    }

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
        for p in [Policy::single("s"), auto_policy()] {
            assert_eq!(Policy::from_json(&p.to_json_pretty()).unwrap(), p);
        }
        assert!(Policy::single("s")
            .to_json_pretty()
            .contains(r#""mode": "fixed""#));
        let auto = Policy::from_json(
            r#"{"name":"x","capacity":{"mode":"auto","targetShardCount":2,"maxShardCount":16}}"#,
        )
        .unwrap();
        assert_eq!(auto.shard_count(), 2);
    }

    fn auto_policy() -> Policy {
        Policy {
            name: "a".into(),
            capacity: Capacity::Auto {
                target_shard_count: 4,
                max_shard_count: 64,
                split_at_bytes: Some(1 << 20),
                split_at_rows: None,
            },
            sharding: Sharding {
                tables: vec![ShardedTable {
                    name: "t".into(),
                    key_column: "k".into(),
                }],
                reference: vec!["r".into()],
            },
            realtime: Some(RealtimePolicy {
                tables: vec!["t".into()],
                max_rows: Some(10),
                max_age_seconds: None,
            }),
        }
    }

    /// Policies built in code get the same checks as parsed ones.
    #[test]
    fn validate_checks_policies_built_in_code() {
        let mut p = auto_policy();
        assert!(p.validate().is_ok());
        p.capacity = Capacity::Manual {
            target_shard_count: 3,
        };
        let e = p.validate().unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPolicy);
        assert!(e.to_string().contains("capacity.targetShardCount"), "{e}");
    }

    #[rstest]
    #[case(
        r#"{"name":"x","capacity":{"mode":"elastic"}}"#,
        r#"capacity.mode must be one of "fixed", "manual" or "auto", got "elastic""#
    )]
    #[case(
        r#"{"name":"x","capacity":{"targetShardCount":8}}"#,
        "capacity.mode is missing"
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"fixed","targetShardCount":4}}"#,
        r#"capacity.targetShardCount is not allowed when capacity.mode is "fixed""#
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual","targetShardCount":4,"maxShardCount":8}}"#,
        r#"capacity.maxShardCount is not allowed when capacity.mode is "manual""#
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"auto","targetShardCount":4}}"#,
        r#"capacity.maxShardCount is required when capacity.mode is "auto""#
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual","targetShardCount":8,"shards":1}}"#,
        "capacity.shards is not a policy field"
    )]
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual","targetShardCount":-1}}"#,
        "capacity.targetShardCount must be a whole number, 0 or more, not -1"
    )]
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
    #[case(
        r#"{"name":"x","capacity":{"mode":"manual"}}"#,
        r#"capacity.targetShardCount is required when capacity.mode is "manual""#
    )]
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
    #[case(r#"{"name":"x","shards":4}"#, "shards is not a policy field")]
    #[case(
        r#"{"name":"x","sharding":{"tables":[{"name":"t","key":"k"}]}}"#,
        "sharding.tables[0].key is not a policy field"
    )]
    #[case("not json", "the policy must be a JSON object")]
    #[case(
        "{\n  \"name\": \"x\",\n  \"bogus\": 1\n}",
        "bogus is not a policy field"
    )]
    #[case("{\n  \"name\": \"x\",\n  \"bogus\": 1\n}", "(line 3, column 9)")]
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
