//! Stage 5, merge: combine the rows of several shards into exactly what one SQLite database
//! holding all rows would return. Pure functions over rows; the plan says what to do.

mod aggregate;
mod compare;
pub mod coordinator;
mod explain;
mod expr;
mod sum;

pub use aggregate::{merge_aggregates, AggregateMerge};
pub use compare::{compare, compare_term, sqlite_eq, Collation, EqKey};
pub use coordinator::FinalStep;
pub use expr::{connection_function, BinOp, PostExpr, Render};
pub use sum::{direct_row, Direct, SumKind};

use crate::error::{Error, Result};
use crate::value::Value;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A row as a shard returned it.
pub type Row = Vec<Value>;

/// Which column of a shard row an ORDER BY term sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OrderColumn {
    /// An output column (0-based).
    Output(usize),
    /// The n-th hidden column, added after the output columns (0-based).
    Hidden(usize),
}

/// One ORDER BY term, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderTerm {
    /// The column it sorts on.
    pub column: OrderColumn,
    /// DESC.
    pub descending: bool,
    /// Explicit NULLS FIRST (true) / NULLS LAST (false); None: SQLite's default (NULLs
    /// first ascending, last descending).
    pub nulls_first: Option<bool>,
    /// Collation.
    pub collation: Collation,
}

/// How the rows of several shards merge when no aggregation is involved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowMerge {
    /// ORDER BY terms; every shard's rows arrive sorted by them.
    pub order: Vec<OrderTerm>,
    /// Number of hidden columns at the end of each shard row, stripped after the merge.
    pub hidden: usize,
    /// Remove duplicate rows (SQLite equality: `1 = 1.0`).
    pub distinct: bool,
    /// Rows to skip after merging.
    pub offset: u64,
    /// Rows to return at most (None: all).
    pub limit: Option<u64>,
    /// The width of every shard row (visible and hidden columns), when the statement
    /// names its columns (no `*`).
    pub width: Option<usize>,
    /// The result's column names, when the shards' names differ from SQLite's for the
    /// original text (a parameter renumbered inside an unnamed output expression).
    pub columns: Option<crate::value::Columns>,
}

impl RowMerge {
    /// The merge that only concatenates shard rows.
    pub fn concat() -> RowMerge {
        RowMerge {
            order: Vec::new(),
            hidden: 0,
            distinct: false,
            offset: 0,
            limit: None,
            width: None,
            columns: None,
        }
    }
}

/// Equal values of different storage classes (`2` and `2.0`) where SQLite keeps one of
/// them: which one depends on the order rows are met, which the merge cannot reproduce.
pub(crate) fn mixed_types(construct: &str, kept: &[Value], other: &[Value]) -> Option<Error> {
    let (a, b) = kept
        .iter()
        .zip(other)
        .find(|(a, b)| a.type_name() != b.type_name())?;
    Some(Error::unsupported(
        format!("{construct} across shards met equal values of different types ({} {a} and {} {b}); which one SQLite keeps depends on row order", a.type_name(), b.type_name()),
        "CAST the column to one type, or pin one shard with the key",
    ))
}

/// Orders two rows by the ORDER BY terms (columns already resolved to indexes).
fn compare_rows(a: &[Value], b: &[Value], keys: &[(usize, &OrderTerm)]) -> Ordering {
    keys.iter()
        .map(|&(i, t)| {
            let (x, y) = (
                a.get(i).unwrap_or(&Value::Null),
                b.get(i).unwrap_or(&Value::Null),
            );
            compare_term(x, y, t.descending, t.nulls_first, t.collation)
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// The head of one shard's stream in the k-way merge heap.
struct Head<'k> {
    row: Row,
    shard: usize,
    keys: &'k [(usize, &'k OrderTerm)],
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head<'_> {}
impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head<'_> {
    /// Reversed: BinaryHeap is a max-heap and we pop the smallest; ties go to the lower shard.
    fn cmp(&self, other: &Self) -> Ordering {
        compare_rows(&self.row, &other.row, self.keys)
            .then(self.shard.cmp(&other.shard))
            .reverse()
    }
}

/// Merges per-shard rows (each shard's rows already sorted by `spec.order`): a streaming
/// k-way merge that skips `offset` rows, stops after `limit`, drops duplicates when asked,
/// and strips hidden columns. It reads no more rows than it returns plus the offset
/// (plus duplicates skipped).
pub fn merge_rows(spec: &RowMerge, shards: Vec<Vec<Row>>) -> Result<Vec<Row>> {
    let width = spec
        .width
        .unwrap_or_else(|| shards.iter().flatten().map(|r| r.len()).next().unwrap_or(0));
    let visible = width.saturating_sub(spec.hidden);
    let keys: Vec<(usize, &OrderTerm)> = spec
        .order
        .iter()
        .map(|t| {
            let i = match t.column {
                OrderColumn::Output(i) => i,
                OrderColumn::Hidden(h) => visible + h,
            };
            (i, t)
        })
        .collect();
    // Every shard row must have the statement's columns. D1 hands batch rows back as
    // objects, where two columns of one name become one: refuse rather than merge on the
    // wrong column.
    if shards.iter().flatten().any(|r| r.len() != width)
        || keys.iter().any(|(i, _)| *i >= width && width > 0)
    {
        return Err(Error::with_remedy(
            crate::error::ErrorCode::Unsupported,
            "shards answered rows of different widths, or without the sort columns (two result columns of one name in a D1 batch?)",
            "give each result column its own name (AS …)",
        ));
    }
    let limit = spec.limit.unwrap_or(u64::MAX);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut out = Emitter {
        spec,
        visible,
        limit,
        skipped: 0,
        seen: ahash::AHashMap::new(),
        ambiguous: None,
        rows: Vec::new(),
    };
    if keys.is_empty() {
        'outer: for rows in shards {
            for row in rows {
                if !out.emit(row) {
                    break 'outer;
                }
            }
        }
        return out.finish();
    }
    let mut iters: Vec<std::vec::IntoIter<Row>> =
        shards.into_iter().map(|s| s.into_iter()).collect();
    let mut heap = BinaryHeap::with_capacity(iters.len());
    for (shard, it) in iters.iter_mut().enumerate() {
        if let Some(row) = it.next() {
            heap.push(Head {
                row,
                shard,
                keys: &keys,
            });
        }
    }
    let mut last: Option<Row> = None;
    while let Some(Head { row, shard, .. }) = heap.pop() {
        if let Some(next) = iters[shard].next() {
            heap.push(Head {
                row: next,
                shard,
                keys: &keys,
            });
        }
        if spec.distinct {
            last = Some(row.clone());
        }
        if !out.emit(row) {
            break;
        }
    }
    // Stopped at the LIMIT: a duplicate of a returned row of another type (`4` and `4.0`)
    // can only still be waiting among the rows that sort equal to the last one.
    if let (Some(last), None) = (last, &out.ambiguous) {
        while let Some(Head { row, shard, .. }) = heap.pop() {
            if compare_rows(&row, &last, &keys) != Ordering::Equal {
                break;
            }
            out.check_unseen(row)?;
            if let Some(next) = iters[shard].next() {
                heap.push(Head {
                    row: next,
                    shard,
                    keys: &keys,
                });
            }
        }
    }
    out.finish()
}

/// The output side of [`merge_rows`]: OFFSET, LIMIT, DISTINCT and hidden columns.
struct Emitter<'s> {
    spec: &'s RowMerge,
    visible: usize,
    limit: u64,
    skipped: u64,
    /// DISTINCT: the first row kept for each key.
    seen: ahash::AHashMap<Vec<EqKey>, Row>,
    /// DISTINCT met equal rows of different types (which one SQLite keeps is order's).
    ambiguous: Option<Error>,
    rows: Vec<Row>,
}

impl Emitter<'_> {
    /// Takes the next row in merge order; false once no more rows are wanted.
    fn emit(&mut self, mut row: Row) -> bool {
        if self.rows.len() as u64 >= self.limit {
            return false;
        }
        row.truncate(self.visible);
        if self.spec.distinct {
            match self.seen.entry(row.iter().map(EqKey::of).collect()) {
                std::collections::hash_map::Entry::Occupied(kept) => {
                    if let Some(e) = mixed_types("DISTINCT or UNION", kept.get(), &row) {
                        self.ambiguous.get_or_insert(e);
                        return false;
                    }
                    return true;
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(row.clone());
                }
            }
        }
        if self.skipped < self.spec.offset {
            self.skipped += 1;
            return true;
        }
        self.rows.push(row);
        (self.rows.len() as u64) < self.limit
    }

    /// A row past the LIMIT must not be a different-typed duplicate of a kept one.
    fn check_unseen(&self, mut row: Row) -> Result<()> {
        row.truncate(self.visible);
        if let Some(kept) = self
            .seen
            .get(&row.iter().map(EqKey::of).collect::<Vec<_>>())
        {
            if let Some(e) = mixed_types("DISTINCT or UNION", kept, &row) {
                return Err(e);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Row>> {
        match self.ambiguous {
            Some(e) => Err(e),
            None => Ok(self.rows),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(v: i64) -> Value {
        Value::Integer(v)
    }

    #[test]
    fn rows_narrower_than_the_statement_are_refused() {
        // D1's batch() merges two columns of one name: the row is one value short.
        let spec = RowMerge {
            order: vec![OrderTerm {
                column: OrderColumn::Output(1),
                descending: false,
                nulls_first: None,
                collation: Collation::Binary,
            }],
            hidden: 0,
            distinct: false,
            offset: 0,
            limit: None,
            width: Some(3),
            columns: None,
        };
        let e =
            merge_rows(&spec, vec![vec![vec![i(1), i(2)]], vec![vec![i(3), i(4)]]]).unwrap_err();
        assert_eq!(e.code(), crate::error::ErrorCode::Unsupported);
        let ok = merge_rows(
            &spec,
            vec![vec![vec![i(1), i(9), i(0)]], vec![vec![i(3), i(4), i(0)]]],
        );
        assert_eq!(
            ok.unwrap(),
            vec![vec![i(3), i(4), i(0)], vec![i(1), i(9), i(0)]]
        );
    }

    #[test]
    fn kway_merge_with_offset_limit_and_hidden_columns() {
        let spec = RowMerge {
            order: vec![OrderTerm {
                column: OrderColumn::Hidden(0),
                descending: true,
                nulls_first: None,
                collation: Collation::Binary,
            }],
            hidden: 1,
            distinct: false,
            offset: 1,
            limit: Some(3),
            width: None,
            columns: None,
        };
        let shards = vec![
            vec![vec![i(1), i(9)], vec![i(2), i(5)], vec![i(3), Value::Null]],
            vec![],
            vec![vec![i(4), i(8)], vec![i(5), i(5)]],
        ];
        let out = merge_rows(&spec, shards).unwrap();
        assert_eq!(out, vec![vec![i(4)], vec![i(2)], vec![i(5)]]);
    }

    #[test]
    fn equal_values_of_different_types_are_not_guessed() {
        // Shard 0 kept 2, shard 1 kept 2.0: SQLite would keep whichever it met first.
        let spec = RowMerge {
            order: vec![],
            hidden: 0,
            distinct: true,
            offset: 0,
            limit: None,
            width: None,
            columns: None,
        };
        let e =
            merge_rows(&spec, vec![vec![vec![i(2)]], vec![vec![Value::Real(2.0)]]]).unwrap_err();
        assert!(
            e.to_string()
                .contains("equal values of different types (integer 2 and real 2.0)"),
            "{e}"
        );
    }

    #[test]
    fn distinct_uses_sqlite_equality() {
        let spec = RowMerge {
            order: vec![],
            hidden: 0,
            distinct: true,
            offset: 0,
            limit: None,
            width: None,
            columns: None,
        };
        let out = merge_rows(
            &spec,
            vec![
                vec![vec![i(1)], vec![Value::Null]],
                vec![vec![i(1)], vec![Value::Null], vec![Value::Real(1.5)]],
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            vec![vec![i(1)], vec![Value::Null], vec![Value::Real(1.5)]]
        );
    }
}
