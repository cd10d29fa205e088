//! Aggregate merge: each shard computes partial aggregates per group; the merge combines
//! them per group (COUNT sums, SUM sums with SQLite's overflow error, AVG divides the
//! summed SUM by the summed COUNT, MIN/MAX compare, GROUP_CONCAT joins), dedupes the
//! values of DISTINCT aggregates across shards, then applies HAVING, the projection,
//! ORDER BY and LIMIT/OFFSET over the merged groups.

use super::compare::{compare, Collation, EqKey};
use super::expr::PostExpr;
use super::Row;
use crate::error::{Error, Result};
use crate::value::Value;
use ahash::AHashMap;
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

/// What an aggregate computes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AggKind {
    /// `count(*)` / `count(x)`: shards send counts.
    Count,
    /// `sum(x)`: shards send sums.
    Sum,
    /// `total(x)`: shards send totals.
    Total,
    /// `avg(x)`: shards send `sum(x)` and `count(x)`.
    Avg,
    /// `min(x)`.
    Min(Collation),
    /// `max(x)`.
    Max(Collation),
    /// `group_concat(x [, sep])`: shards send their concatenations.
    GroupConcat(String),
}

/// One aggregate of the query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggSpec {
    /// What it computes.
    pub kind: AggKind,
    /// `agg(DISTINCT x)`: computed from the distinct values of the distinct column.
    pub distinct: bool,
    /// Shard-row columns holding its partials (two for AVG: sum, count), unless distinct.
    pub partials: Vec<usize>,
}

/// One ORDER BY term over merged groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupOrder {
    /// The value to sort on.
    pub expr: PostExpr,
    /// DESC.
    pub descending: bool,
    /// Explicit NULLS FIRST / LAST.
    pub nulls_first: Option<bool>,
    /// Collation.
    pub collation: Collation,
}

/// How grouped / aggregated rows of several shards merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateMerge {
    /// Shard-row columns `0..group_keys` are the group key values.
    pub group_keys: usize,
    /// The shard-row column holding the argument of the DISTINCT aggregates, if any.
    pub distinct_column: Option<usize>,
    /// The aggregates.
    pub aggs: Vec<AggSpec>,
    /// No GROUP BY: exactly one output row, even over no rows.
    pub single_group: bool,
    /// HAVING, over group keys and aggregates.
    pub having: Option<PostExpr>,
    /// The output columns.
    pub output: Vec<PostExpr>,
    /// ORDER BY over the merged groups.
    pub order: Vec<GroupOrder>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: Option<u64>,
}

impl fmt::Display for AggregateMerge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let aggs: Vec<String> = self
            .aggs
            .iter()
            .map(|a| {
                let d = if a.distinct { "DISTINCT " } else { "" };
                if a.distinct {
                    let name = match &a.kind {
                        AggKind::Count => "count",
                        AggKind::Sum => "sum",
                        AggKind::Total => "total",
                        AggKind::Avg => "avg",
                        AggKind::GroupConcat(_) => "group_concat",
                        AggKind::Min(_) => "min",
                        AggKind::Max(_) => "max",
                    };
                    return format!("{name}(DISTINCT …) over the deduped values");
                }
                match &a.kind {
                    AggKind::Count => format!("count({d}…): sum of shard counts"),
                    AggKind::Sum => format!("sum({d}…): sum of shard sums"),
                    AggKind::Total => format!("total({d}…): sum of shard totals"),
                    AggKind::Avg => format!("avg({d}…): shard sums / shard counts"),
                    AggKind::Min(_) => "min(…) of shard minimums".to_string(),
                    AggKind::Max(_) => "max(…) of shard maximums".to_string(),
                    AggKind::GroupConcat(_) => format!("group_concat({d}…): join shard strings"),
                }
            })
            .collect();
        let mut steps = vec![if self.single_group {
            "combine into one row".to_string()
        } else {
            format!(
                "group by {} key column{}",
                self.group_keys,
                if self.group_keys == 1 { "" } else { "s" }
            )
        }];
        if self.distinct_column.is_some() {
            steps.push("dedupe DISTINCT values across shards".into());
        }
        steps.push(aggs.join(", "));
        if self.having.is_some() {
            steps.push("filter HAVING".into());
        }
        steps.push("compute the output expressions".into());
        if !self.order.is_empty() {
            steps.push(format!(
                "sort on {} term{}",
                self.order.len(),
                if self.order.len() == 1 { "" } else { "s" }
            ));
        }
        if self.offset > 0 {
            steps.push(format!("skip {}", self.offset));
        }
        if let Some(n) = self.limit {
            steps.push(format!("stop after {n}"));
        }
        f.write_str(&steps.join("; "))
    }
}

/// The running state of one aggregate for one group.
#[derive(Debug, Clone)]
enum Acc {
    Count(i64),
    Sum {
        int: i64,
        real: f64,
        any_real: bool,
        seen: bool,
    },
    Total(f64),
    Avg {
        sum_int: i128,
        sum_real: f64,
        any_real: bool,
        count: i64,
    },
    Best(Option<Value>),
    Concat(Option<String>),
}

/// SQLite's own error for an integer SUM that overflows.
fn overflow() -> Error {
    Error::backend(None, "integer overflow")
}

impl Acc {
    fn new(kind: &AggKind) -> Acc {
        match kind {
            AggKind::Count => Acc::Count(0),
            AggKind::Sum => Acc::Sum {
                int: 0,
                real: 0.0,
                any_real: false,
                seen: false,
            },
            AggKind::Total => Acc::Total(0.0),
            AggKind::Avg => Acc::Avg {
                sum_int: 0,
                sum_real: 0.0,
                any_real: false,
                count: 0,
            },
            AggKind::Min(_) | AggKind::Max(_) => Acc::Best(None),
            AggKind::GroupConcat(_) => Acc::Concat(None),
        }
    }

    /// Adds one shard partial (or, for DISTINCT aggregates, one distinct value with
    /// `count` = 1).
    fn add(&mut self, kind: &AggKind, v: &Value, count: Option<&Value>) -> Result<()> {
        match (self, v) {
            (Acc::Count(n), Value::Integer(c)) => *n += c,
            (Acc::Count(_), _) => {}
            (_, Value::Null) => {}
            (
                Acc::Sum {
                    int,
                    real,
                    any_real,
                    seen,
                },
                v,
            ) => {
                *seen = true;
                // As SQLite's sum(): text that reads as an integer adds as an integer.
                let numeric = match v {
                    Value::Text(t) => {
                        crate::value::parse_numeric_text(t).unwrap_or(Value::Real(0.0))
                    }
                    Value::Blob(_) => Value::Real(0.0),
                    other => other.clone(),
                };
                match &numeric {
                    Value::Integer(i) if !*any_real => {
                        *int = int.checked_add(*i).ok_or_else(overflow)?
                    }
                    Value::Integer(i) => *real += *i as f64,
                    other => {
                        if !*any_real {
                            *any_real = true;
                            *real = *int as f64;
                        }
                        *real += num(other);
                    }
                }
            }
            (Acc::Total(t), v) => *t += num(v),
            (
                Acc::Avg {
                    sum_int,
                    sum_real,
                    any_real,
                    count: n,
                },
                v,
            ) => {
                match v {
                    Value::Integer(i) => *sum_int += *i as i128,
                    other => {
                        *any_real = true;
                        *sum_real += num(other);
                    }
                }
                *n += match count {
                    Some(Value::Integer(c)) => *c,
                    Some(_) => 0,
                    None => 1,
                };
            }
            (Acc::Best(best), v) => {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let (AggKind::Min(c) | AggKind::Max(c)) = kind else {
                            return Ok(());
                        };
                        let o = compare(v, b, *c);
                        if o == Ordering::Equal && v != b {
                            // `0` and `0.0`, or `'A'` and `'a'` under NOCASE: SQLite keeps
                            // the one it meets first, which depends on row order.
                            return Err(Error::unsupported(
                                format!("min()/max() across shards met equal values of different types or spellings ({} {b} and {} {v}); which one SQLite keeps depends on row order", b.type_name(), v.type_name()),
                                "CAST the column to one type (or COLLATE BINARY), or pin one shard with the key",
                            ));
                        }
                        matches!(
                            (kind, o),
                            (AggKind::Min(_), Ordering::Less)
                                | (AggKind::Max(_), Ordering::Greater)
                        )
                    }
                };
                if better {
                    *best = Some(v.clone());
                }
            }
            (Acc::Concat(s), v) => {
                let AggKind::GroupConcat(sep) = kind else {
                    return Ok(());
                };
                let piece = match v {
                    Value::Text(t) => t.clone(),
                    Value::Real(r) => crate::value::format_real(*r),
                    Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.to_string(),
                };
                match s {
                    None => *s = Some(piece),
                    Some(acc) => {
                        acc.push_str(sep);
                        acc.push_str(&piece);
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&self) -> Value {
        match self {
            Acc::Count(n) => Value::Integer(*n),
            Acc::Sum { seen: false, .. } => Value::Null,
            Acc::Sum {
                real,
                any_real: true,
                ..
            } => Value::Real(*real),
            Acc::Sum { int, .. } => Value::Integer(*int),
            Acc::Total(t) => Value::Real(*t),
            Acc::Avg { count: 0, .. } => Value::Null,
            Acc::Avg {
                sum_int,
                sum_real,
                count,
                ..
            } => Value::Real((*sum_int as f64 + *sum_real) / *count as f64),
            Acc::Best(b) => b.clone().unwrap_or(Value::Null),
            Acc::Concat(s) => s.clone().map(Value::Text).unwrap_or(Value::Null),
        }
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Integer(i) => *i as f64,
        Value::Real(r) => *r,
        Value::Text(t) => t.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

struct Group {
    keys: Row,
    accs: Vec<Acc>,
    distinct: Vec<Value>,
    distinct_seen: AHashMap<EqKey, Value>,
}

/// Merges grouped partial rows of all shards into the final rows.
pub fn merge_aggregates(spec: &AggregateMerge, shards: Vec<Vec<Row>>) -> Result<Vec<Row>> {
    let mut index: AHashMap<Vec<EqKey>, usize> = AHashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let new_group = |keys: Row| Group {
        keys,
        accs: spec.aggs.iter().map(|a| Acc::new(&a.kind)).collect(),
        distinct: Vec::new(),
        distinct_seen: AHashMap::new(),
    };
    for row in shards.into_iter().flatten() {
        let keys: Row = row
            .get(..spec.group_keys)
            .map(|k| k.to_vec())
            .unwrap_or_default();
        let eq: Vec<EqKey> = keys.iter().map(EqKey::of).collect();
        let g = match index.get(&eq) {
            Some(&g) => {
                if let Some(e) = super::mixed_types("GROUP BY", &groups[g].keys, &keys) {
                    return Err(e);
                }
                g
            }
            None => {
                groups.push(new_group(keys));
                index.insert(eq, groups.len() - 1);
                groups.len() - 1
            }
        };
        let group = &mut groups[g];
        for (acc, agg) in group.accs.iter_mut().zip(&spec.aggs) {
            if agg.distinct {
                continue;
            }
            let v = agg
                .partials
                .first()
                .and_then(|&i| row.get(i))
                .unwrap_or(&Value::Null);
            let count = agg.partials.get(1).and_then(|&i| row.get(i));
            acc.add(&agg.kind, v, count)?;
        }
        if let Some(d) = spec.distinct_column {
            let v = row.get(d).cloned().unwrap_or(Value::Null);
            if !v.is_null() {
                match group.distinct_seen.entry(EqKey::of(&v)) {
                    std::collections::hash_map::Entry::Occupied(kept) => {
                        if let Some(e) = super::mixed_types(
                            "an aggregate's DISTINCT",
                            std::slice::from_ref(kept.get()),
                            std::slice::from_ref(&v),
                        ) {
                            return Err(e);
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(v.clone());
                        group.distinct.push(v);
                    }
                }
            }
        }
    }
    if spec.single_group && groups.is_empty() {
        groups.push(new_group(Vec::new()));
    }
    if !spec.single_group {
        // Groups come out in key order, as SQLite's sorter gives them.
        groups.sort_by(|a, b| {
            a.keys
                .iter()
                .zip(&b.keys)
                .map(|(x, y)| compare(x, y, Collation::Binary))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let mut out: Vec<(Vec<Value>, Row)> = Vec::with_capacity(groups.len());
    for mut g in groups {
        for (acc, agg) in g.accs.iter_mut().zip(&spec.aggs) {
            if agg.distinct {
                for v in &g.distinct {
                    let one = Value::Integer(1);
                    match agg.kind {
                        AggKind::Count => acc.add(&agg.kind, &one, None)?,
                        _ => acc.add(&agg.kind, v, Some(&one))?,
                    }
                }
            }
        }
        let aggs: Vec<Value> = g.accs.iter().map(Acc::finish).collect();
        if let Some(h) = &spec.having {
            let keep = h.eval(&g.keys, &aggs)?;
            let truthy = match keep {
                Value::Null => false,
                Value::Integer(i) => i != 0,
                Value::Real(r) => r != 0.0,
                Value::Text(t) => t.trim().parse::<f64>().map(|n| n != 0.0).unwrap_or(false),
                Value::Blob(_) => false,
            };
            if !truthy {
                continue;
            }
        }
        let row = spec
            .output
            .iter()
            .map(|e| e.eval(&g.keys, &aggs))
            .collect::<Result<Row>>()?;
        let sort = spec
            .order
            .iter()
            .map(|o| o.expr.eval(&g.keys, &aggs))
            .collect::<Result<Vec<_>>>()?;
        out.push((sort, row));
    }
    if !spec.order.is_empty() {
        out.sort_by(|(a, _), (b, _)| {
            a.iter()
                .zip(b)
                .zip(&spec.order)
                .map(|((x, y), o)| {
                    super::compare_term(x, y, o.descending, o.nulls_first, o.collation)
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let rows = out
        .into_iter()
        .map(|(_, r)| r)
        .skip(usize::try_from(spec.offset).unwrap_or(usize::MAX));
    Ok(match spec.limit {
        Some(n) => rows
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .collect(),
        None => rows.collect(),
    })
}
