//! The sum family across shards: how `__d1p_sum`, `__d1p_total` and `__d1p_avg` combine
//! the partials each shard computes (an exact decomposition of its values) into what one
//! SQLite database would answer. The coordinator registers [`SumOf`] as its aggregate
//! functions; [`direct_row`] runs the same combination without SQLite for a final step
//! made only of counts and sums ([`Direct`]).

use super::Row;
use crate::error::ErrorCode;
use crate::value::Value;
use rusqlite::functions::{Aggregate, Context};
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde::Serialize;

/// A refusal from one of the coordinator's functions crosses SQLite as the error's text:
/// the code, what and the remedy, separated by U+0001.
pub(super) const SEPARATOR: char = '\u{1}';

pub(super) fn refusal(what: &str, remedy: &str) -> rusqlite::Error {
    let code = ErrorCode::Unsupported;
    rusqlite::Error::UserFunctionError(format!("{code}{SEPARATOR}{what}{SEPARATOR}{remedy}").into())
}

/// Which of SQLite's sum-family aggregates a `__d1p_*` function combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SumKind {
    /// `sum()`: an integer while every value is one, NULL for none.
    Sum,
    /// `total()`: always a REAL.
    Total,
    /// `avg()`.
    Avg,
}

impl SumKind {
    /// The coordinator function that combines its partials, and how many it takes.
    pub fn function(self) -> (&'static str, usize) {
        match self {
            SumKind::Sum => ("__d1p_sum", 12),
            SumKind::Total => ("__d1p_total", 10),
            SumKind::Avg => ("__d1p_avg", 10),
        }
    }
}

/// SQLite's Kahan-Babuska-Neumaier step (`kahanBabuskaNeumaierStep` in func.c).
fn kbn(sum: &mut f64, err: &mut f64, r: f64) {
    let s = *sum;
    let t = s + r;
    if s.abs() > r.abs() {
        *err += (s - t) + r;
    } else {
        *err += (r - t) + s;
    }
    *sum = t;
}

/// The running combination of sum-family partials.
pub(super) struct SumState {
    /// sum(): every shard's sum() so far is an integer; their exact total.
    integer: bool,
    exact: i128,
    /// The positive or negative integers alone add up past 2^63 (set by `finalize` from
    /// the totals below: partial rows are shards, or groups within a shard).
    order_dependent: bool,
    /// The totals of the positive and of the negative integers, over every partial row.
    positives: f64,
    negatives: f64,
    /// Any non-NULL value at all.
    seen: bool,
    /// The values' integer parts and the first 53 bits of their fractions, exactly, in
    /// units of 2^-53.
    fixed: i128,
    /// Their fractional parts and the values too large to split, compensated.
    rsum: f64,
    rerr: f64,
    /// avg(): the number of values.
    count: i64,
    /// Partial rows (shard groups) that held values, and the last one's own total().
    contributors: u32,
    own: f64,
    /// Every value so far is integral and within ±9.2e18 (then `fixed` is exact).
    integral: bool,
}

impl Default for SumState {
    fn default() -> SumState {
        SumState {
            integer: true,
            exact: 0,
            order_dependent: false,
            positives: 0.0,
            negatives: 0.0,
            seen: false,
            fixed: 0,
            rsum: 0.0,
            rerr: 0.0,
            count: 0,
            contributors: 0,
            own: 0.0,
            integral: true,
        }
    }
}

impl SumState {
    /// Adds a shard's decomposition: halves of the integer parts, halves of the fractions'
    /// first 53 bits, total of the residues below them, total of the values too large to
    /// split.
    fn add_parts(&mut self, parts: [ValueRef<'_>; 6]) {
        let halves = |h: ValueRef<'_>, l: ValueRef<'_>| -> i128 {
            ((int_of(h).unwrap_or(0) as i128) << 32) + int_of(l).unwrap_or(0) as i128
        };
        let integer = halves(parts[0], parts[1]);
        let fraction = halves(parts[2], parts[3]);
        self.integral &= fraction == 0 && real_of(parts[4]) == 0.0 && real_of(parts[5]) == 0.0;
        self.fixed = self
            .fixed
            .saturating_add(integer.saturating_mul(1 << 53))
            .saturating_add(fraction);
        kbn(&mut self.rsum, &mut self.rerr, real_of(parts[4]));
        kbn(&mut self.rsum, &mut self.rerr, real_of(parts[5]));
    }

    /// The REAL sum: SQLite's own when one shard held every value (it added them in the
    /// same order one database would), else the exact sum rounded once.
    fn real_sum(&self) -> f64 {
        if self.contributors == 1 {
            self.own
        } else {
            self.real()
        }
    }

    /// What SQLite answers when its integer accumulator may leave 64 bits at a point the
    /// row order decides: it then converts the running sum to a double (an error of at most
    /// 512 for a sum below 2^63) and carries on with compensated summation. When every
    /// such error rounds to the same result, that is the answer; otherwise None.
    fn order_free(&self, finish: impl Fn(i128) -> f64) -> Option<f64> {
        if !self.integral {
            return None;
        }
        const SLACK: i128 = 512;
        let exact = self.fixed >> 53;
        let (lo, hi) = (finish(exact - SLACK), finish(exact + SLACK));
        (lo.to_bits() == hi.to_bits()).then_some(lo)
    }

    /// The sum of the values, rounded once as nearly as compensated summation can.
    fn real(&self) -> f64 {
        const UNIT: f64 = 1.0 / 9_007_199_254_740_992.0;
        let hi = self.fixed as f64;
        let rest = if hi.is_finite() {
            self.fixed - hi as i128
        } else {
            0
        };
        let (mut sum, mut err) = (hi * UNIT, 0.0);
        kbn(&mut sum, &mut err, rest as f64 * UNIT);
        kbn(&mut sum, &mut err, self.rsum);
        kbn(&mut sum, &mut err, self.rerr);
        if err.is_finite() {
            sum + err
        } else {
            sum
        }
    }
}

pub(super) struct SumOf(pub(super) SumKind);

fn int_of(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        _ => None,
    }
}

fn real_of(v: ValueRef<'_>) -> f64 {
    match v {
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(r) => r,
        _ => 0.0,
    }
}

/// Safely below 2^63 as a REAL bound on a sum of positive (or negative) parts.
const SAFE: f64 = 9.2e18;

impl Aggregate<SumState, SqlValue> for SumOf {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<SumState> {
        Ok(SumState::default())
    }

    fn step(&self, ctx: &mut Context<'_>, s: &mut SumState) -> rusqlite::Result<()> {
        let ctx = &*ctx;
        self.add(s, ctx.len(), |i| ctx.get_raw(i));
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, s: Option<SumState>) -> rusqlite::Result<SqlValue> {
        self.result(s.unwrap_or_default())
    }
}

impl SumOf {
    /// Adds one partial row: `arg(i)` is the function's argument `i` of `len`.
    fn add<'v>(&self, s: &mut SumState, len: usize, arg: impl Fn(usize) -> ValueRef<'v>) {
        // Arguments: sum: sum(x) of the values not stored as integers, the sums of the
        // integers' high and low 32 bits, the totals of positives and of negatives, then the
        // decomposition (six partials), the shard's own total(x); total and avg: the
        // decomposition, count(x), the totals of positive and of negative integers, the
        // shard's own total(x).
        let first = match self.0 {
            SumKind::Sum => 5,
            _ => 0,
        };
        match self.0 {
            SumKind::Sum => {
                let other = arg(0);
                let (high, low) = (arg(1), arg(2));
                if matches!(other, ValueRef::Null) && matches!(high, ValueRef::Null) {
                    return;
                }
                s.seen = true;
                // SQLite's sum() stays an integer while every value reads as an integer
                // (text such as '10' does): then the other values' sum is one too.
                match other {
                    ValueRef::Null => {}
                    ValueRef::Integer(i) => s.exact += i as i128,
                    _ => s.integer = false,
                }
                let (h, l) = (int_of(high).unwrap_or(0), int_of(low).unwrap_or(0));
                s.exact += ((h as i128) << 32) + l as i128;
                s.positives += real_of(arg(3));
                s.negatives += real_of(arg(4));
            }
            SumKind::Avg => {
                let n = int_of(arg(6)).unwrap_or(0);
                s.count = s.count.saturating_add(n);
                s.seen |= n > 0;
            }
            SumKind::Total => s.seen = true,
        }
        if !matches!(self.0, SumKind::Sum) {
            s.positives += real_of(arg(7));
            s.negatives += real_of(arg(8));
        }
        let held = match self.0 {
            SumKind::Sum => true,
            _ => int_of(arg(6)).unwrap_or(0) > 0,
        };
        if held {
            s.contributors += 1;
            s.own = real_of(arg(len - 1));
        }
        s.add_parts(std::array::from_fn(|i| arg(first + i)));
    }

    /// The combined value.
    fn result(&self, mut s: SumState) -> rusqlite::Result<SqlValue> {
        // Past these bounds some order of the rows overflows and some does not. The totals
        // are of every partial row: a shard's values may arrive split by the shard's own
        // groups (a DISTINCT argument beside the sum), each part below the bound.
        s.order_dependent = s.positives > SAFE || s.negatives < -SAFE;
        match self.0 {
            SumKind::Sum if !s.seen => Ok(SqlValue::Null),
            // An integer overflow ends in an error unless a non-integer value comes after
            // it: with both kinds, the row order decides.
            SumKind::Sum if !s.integer && s.order_dependent && s.contributors > 1 => {
                match s.order_free(|e| e as f64) {
                    Some(v) => Ok(SqlValue::Real(v)),
                    None => Err(refusal(
                        "sum() across shards of integers whose positive or negative values add up past 2^63, mixed with other values: whether SQLite's sum overflows depends on row order",
                        "sum REALs (total(CAST(x AS REAL))), or pin one shard with the key",
                    )),
                }
            }
            SumKind::Sum if !s.integer => Ok(SqlValue::Real(s.real_sum())),
            SumKind::Sum => match i64::try_from(s.exact) {
                Err(_) => Err(rusqlite::Error::UserFunctionError("integer overflow".into())),
                Ok(_) if s.order_dependent => Err(refusal(
                    "sum() across shards whose positive or negative values add up past 2^63: whether SQLite's running total overflows depends on row order",
                    "sum REALs (total(CAST(x AS REAL))), or pin one shard with the key",
                )),
                Ok(i) => Ok(SqlValue::Integer(i)),
            },
            SumKind::Total | SumKind::Avg if s.order_dependent && s.contributors > 1 => {
                let count = s.count.max(1) as f64;
                let answer = match self.0 {
                    SumKind::Avg if s.count == 0 => return Ok(SqlValue::Null),
                    SumKind::Avg => s.order_free(|e| e as f64 / count),
                    _ => s.order_free(|e| e as f64),
                };
                match answer {
                    Some(v) => Ok(SqlValue::Real(v)),
                    None => Err(refusal(
                        "total() or avg() across shards of integers whose positive or negative values add up past 2^63: where SQLite's sum leaves exact integers, and so its last digits, depend on row order",
                        "CAST the values to REAL, or pin one shard with the key",
                    )),
                }
            }
            SumKind::Total => Ok(SqlValue::Real(s.real_sum())),
            SumKind::Avg if s.count == 0 => Ok(SqlValue::Null),
            SumKind::Avg => Ok(SqlValue::Real(s.real_sum() / s.count as f64)),
        }
    }
}

/// An aggregate of a final step that [`direct_row`] combines without SQLite, over the
/// partial row's columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Direct {
    /// `count()`: the coordinator's `coalesce(sum(c), 0)` of the shards' counts in column `c`.
    Count(usize),
    /// `sum()`, `total()` or `avg()`: the `__d1p_*` function over these columns, in its
    /// argument order.
    Sum(SumKind, Vec<usize>),
}

/// The one row a final step of bare counts and sums answers (it neither groups nor has
/// HAVING, ORDER BY, LIMIT or DISTINCT: the planner sets [`Direct`] only then), combined
/// here exactly as the coordinator's SQL would combine it. None where the coordinator
/// must answer: a count past 64 bits, a refusal, anything unexpected (its error is the
/// one to give).
pub fn direct_row(outputs: &[Direct], rows: &[Row]) -> Option<Row> {
    outputs.iter().map(|d| direct_value(d, rows)).collect()
}

fn direct_value(d: &Direct, rows: &[Row]) -> Option<Value> {
    match d {
        Direct::Count(c) => {
            let mut n: i64 = 0;
            for row in rows {
                match row.get(*c)? {
                    Value::Integer(k) => n = n.checked_add(*k)?,
                    _ => return None,
                }
            }
            Some(Value::Integer(n))
        }
        Direct::Sum(kind, args) => {
            let f = SumOf(*kind);
            let mut s = SumState::default();
            for row in rows {
                if args.iter().any(|&c| c >= row.len()) {
                    return None;
                }
                f.add(&mut s, args.len(), |i| row[args[i]].as_value_ref());
            }
            f.result(s).ok().map(|v| Value::from(ValueRef::from(&v)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::coordinator::{finish, FinalStep, PARTIALS};

    /// The coordinator step computing these outputs over `width` bare partial columns.
    fn step(outputs: &[Direct], width: usize) -> FinalStep {
        let col = |c: &usize| format!("\"__d1p_a{}\"", c + 1);
        let items: Vec<String> = outputs
            .iter()
            .map(|d| match d {
                Direct::Count(c) => format!("coalesce(sum({}), 0)", col(c)),
                Direct::Sum(kind, args) => {
                    let (f, _) = kind.function();
                    let args: Vec<String> = args.iter().map(col).collect();
                    format!("{f}({})", args.join(", "))
                }
            })
            .collect();
        FinalStep {
            columns: (0..width).map(|c| col(&c)).collect(),
            sql: format!("SELECT {} FROM {PARTIALS}", items.join(", ")),
            params: Vec::new(),
            ambiguity_checks: Vec::new(),
        }
    }

    #[test]
    fn direct_rows_are_the_coordinators_or_none() {
        let outputs = vec![
            Direct::Count(0),
            Direct::Sum(SumKind::Sum, (1..13).collect()),
            Direct::Sum(SumKind::Total, (1..11).collect()),
            Direct::Sum(SumKind::Avg, (3..13).collect()),
        ];
        let step = step(&outputs, 13);
        let pool = [
            Value::Null,
            Value::Integer(0),
            Value::Integer(7),
            Value::Integer(-3),
            Value::Integer(1 << 40),
            Value::Integer(i64::MAX),
            Value::Integer(i64::MIN),
            Value::Real(0.5),
            Value::Real(-2.25),
            Value::Real(9.3e18),
            Value::Real(1e300),
            Value::Text("10".into()),
            Value::Text("x".into()),
            Value::Blob(vec![1]),
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut direct, mut fallback) = (0, 0);
        for round in 0..3000 {
            let rows: Vec<Row> = (0..next(5))
                .map(|_| {
                    (0..13)
                        .map(|c| match (round % 3, c) {
                            // Realistic: counts are integers, parts mostly small numbers.
                            (0, 0) => Value::Integer(next(100) as i64),
                            (0, _) => pool[next(4)].clone(),
                            _ => pool[next(pool.len())].clone(),
                        })
                        .collect()
                })
                .collect();
            let expected = finish(&step, rows.clone());
            match direct_row(&outputs, &rows) {
                Some(row) => {
                    direct += 1;
                    assert_eq!(
                        Ok(vec![row]),
                        expected.map_err(|e| e.to_string()),
                        "{rows:?}"
                    );
                }
                None => fallback += 1,
            }
        }
        assert!(
            direct > 1000 && fallback > 100,
            "{direct} direct, {fallback} not"
        );
    }

    #[test]
    fn a_count_past_64_bits_or_a_refusal_is_left_to_the_coordinator() {
        let count = [Direct::Count(0)];
        let big = vec![vec![Value::Integer(i64::MAX)], vec![Value::Integer(1)]];
        assert_eq!(direct_row(&count, &big), None);
        assert!(finish(&step(&count, 1), big).is_err());
        assert_eq!(direct_row(&count, &[]), Some(vec![Value::Integer(0)]));
        // No partial rows: SQLite's empty sum and avg are NULL, total is 0.0.
        let sums = [
            Direct::Sum(SumKind::Sum, (0..12).collect()),
            Direct::Sum(SumKind::Total, (0..10).collect()),
            Direct::Sum(SumKind::Avg, (0..10).collect()),
        ];
        assert_eq!(
            direct_row(&sums, &[]),
            Some(vec![Value::Null, Value::Real(0.0), Value::Null])
        );
        // A row narrower than the columns planned.
        assert_eq!(direct_row(&sums, &[vec![Value::Integer(1)]]), None);
    }
}
