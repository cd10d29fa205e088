//! Parameter values as the planner sees them, and what the plan learned from them.
//!
//! A plan depends on most parameters only by carrying them to the shards. A few it reads:
//! a key's shard, whether a key is NULL, a LIMIT it folds into the merge. Every such read
//! goes through [`Params::probe`] (or a helper over it), which answers with a projection of
//! the value ([`Answer`]) and records the question and the answer. Planning is a pure
//! function of the statement, the catalog, the options and those answers, so a plan made
//! for one set of values holds for any other set that gives the same answers, with the
//! carried values put in their slots: that is what [`super::template`] caches.
//!
//! The rule that keeps this sound: planning code decides only on answers. A value it
//! carries ([`Params::carry`], [`Params::carry_all`]) goes into the output and is never
//! looked at; the cache's own checks (a template must reproduce the plan it was made
//! from, and debug builds compare every cached plan with a fresh one) catch a slip.

use crate::error::{Error, Result};
use crate::placement;
use crate::plan::ShardId;
use crate::value::{Affinity, Value};
use std::cell::{Cell, RefCell};

/// A question the planner asks about a parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Probe {
    /// The value itself (a LIMIT folded into the merge, a value inlined into a merge
    /// expression, a hint compared with the SQL's key).
    Exact,
    /// The shard a key is placed on, under this key affinity and shard count (`None` when
    /// it has no placement: a blob, `1.5` in an INTEGER key).
    Shard(Affinity, usize),
    /// Whether the value is NULL or a NaN (which SQLite stores as NULL).
    NullOrNan,
    /// Which shard generates an explicit INTEGER PRIMARY KEY value (see `rowid_ranges`).
    IdOwner(usize),
}

/// The answer to a [`Probe`]: all the plan may depend on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Answer {
    /// [`Probe::Exact`]: the value, compared by storage class and bits (`0.0` is not `-0.0`).
    Exact(Strict),
    /// [`Probe::Shard`].
    Shard(Option<ShardId>),
    /// [`Probe::NullOrNan`].
    Bool(bool),
    /// [`Probe::IdOwner`].
    Owner(IdOwner),
}

/// Who generates an explicit id (see [`Probe::IdOwner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IdOwner {
    /// The id is NULL after INTEGER affinity.
    Null,
    /// The id is not an integer after INTEGER affinity (SQLite will refuse it).
    NotInteger,
    /// `rowid_ranges::generator_of`: `None` for ids no shard generates, `Some(None)` for
    /// ids reserved for shards a split will add, `Some(Some(s))` for shard `s`'s ids.
    Generator(Option<Option<ShardId>>),
}

/// A value compared exactly: storage class and bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Strict {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
    Blob(Vec<u8>),
}

impl Strict {
    fn of(v: &Value) -> Strict {
        match v {
            Value::Null => Strict::Null,
            Value::Integer(i) => Strict::Integer(*i),
            Value::Real(r) => Strict::Real(r.to_bits()),
            Value::Text(t) => Strict::Text(t.clone()),
            Value::Blob(b) => Strict::Blob(b.clone()),
        }
    }
}

impl Probe {
    /// The answer for `v`: the one place each question is answered, while planning and
    /// when a cached plan is looked up.
    pub(crate) fn answer(self, v: &Value) -> Answer {
        match self {
            Probe::Exact => Answer::Exact(Strict::of(v)),
            Probe::Shard(affinity, n) => {
                Answer::Shard(placement::shard_for_key(v, affinity, n).ok())
            }
            Probe::NullOrNan => {
                Answer::Bool(v.is_null() || matches!(v, Value::Real(r) if r.is_nan()))
            }
            Probe::IdOwner(n) => Answer::Owner(match v.with_affinity(Affinity::Integer) {
                Value::Null => IdOwner::Null,
                Value::Integer(id) => IdOwner::Generator(super::rowid_ranges::generator_of(id, n)),
                _ => IdOwner::NotInteger,
            }),
        }
    }
}

/// One question asked while planning: parameter `?index` (1-based), the probe, the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Read {
    pub index: usize,
    pub probe: Probe,
    pub answer: Answer,
}

/// The bound values of a statement being planned, with the log of what planning read.
#[derive(Debug)]
pub(crate) struct Params<'a> {
    values: &'a [Value],
    log: RefCell<Vec<Read>>,
    /// When a template is being made: the reads of the plan it must reproduce. Answers
    /// come from there (the values at their places are stand-ins).
    replay: Option<&'a [Read]>,
    /// The replayed run asked something else than the run it replays.
    diverged: Cell<bool>,
}

impl<'a> Params<'a> {
    /// Values read for real.
    pub(crate) fn new(values: &'a [Value]) -> Params<'a> {
        Params {
            values,
            log: RefCell::new(Vec::new()),
            replay: None,
            diverged: Cell::new(false),
        }
    }

    /// Stand-in values whose answers come from `reads` (see [`super::template`]).
    pub(crate) fn replaying(values: &'a [Value], reads: &'a [Read]) -> Params<'a> {
        Params {
            replay: Some(reads),
            ..Params::new(values)
        }
    }

    /// Number of bound values.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The reads so far, in order.
    pub(crate) fn into_reads(self) -> Vec<Read> {
        self.log.into_inner()
    }

    /// Whether a replayed run asked what the replayed one asked, in the same order.
    pub(crate) fn replay_matched(&self) -> bool {
        !self.diverged.get()
            && self
                .replay
                .is_some_and(|r| r.len() == self.log.borrow().len())
    }

    fn slot(&self, index: usize) -> Result<&'a Value> {
        self.values.get(index.wrapping_sub(1)).ok_or_else(|| {
            Error::internal(format!(
                "parameter ?{index} read, but {} are bound (the count was checked before planning)",
                self.values.len()
            ))
        })
    }

    /// Asks `probe` of `?index` and records it.
    pub(crate) fn probe(&self, index: usize, probe: Probe) -> Result<Answer> {
        let v = self.slot(index)?;
        let mut log = self.log.borrow_mut();
        let answer = match self.replay.and_then(|r| r.get(log.len())) {
            Some(r) if r.index == index && r.probe == probe => r.answer.clone(),
            Some(_) | None if self.replay.is_some() => {
                self.diverged.set(true);
                probe.answer(v)
            }
            _ => probe.answer(v),
        };
        log.push(Read {
            index,
            probe,
            answer: answer.clone(),
        });
        Ok(answer)
    }

    /// The value of `?index`, which the plan then depends on exactly.
    pub(crate) fn value(&self, index: usize) -> Result<Value> {
        self.probe(index, Probe::Exact)?;
        self.slot(index).cloned()
    }

    /// The shard key `?index` is placed on: `Ok(None)` when it has no placement.
    pub(crate) fn shard(
        &self,
        index: usize,
        affinity: Affinity,
        shard_count: usize,
    ) -> Result<Option<ShardId>> {
        match self.probe(index, Probe::Shard(affinity, shard_count))? {
            Answer::Shard(s) => Ok(s),
            other => Err(mismatched(other)),
        }
    }

    /// Whether `?index` is NULL or NaN.
    pub(crate) fn null_or_nan(&self, index: usize) -> Result<bool> {
        match self.probe(index, Probe::NullOrNan)? {
            Answer::Bool(b) => Ok(b),
            other => Err(mismatched(other)),
        }
    }

    /// Who generates the explicit id in `?index`.
    pub(crate) fn id_owner(&self, index: usize, shard_count: usize) -> Result<IdOwner> {
        match self.probe(index, Probe::IdOwner(shard_count))? {
            Answer::Owner(o) => Ok(o),
            other => Err(mismatched(other)),
        }
    }

    /// The value of `?index`, carried into the output and never decided on.
    pub(crate) fn carry(&self, index: usize) -> Result<Value> {
        self.slot(index).cloned()
    }

    /// Every value, carried into the output.
    pub(crate) fn carry_all(&self) -> Vec<Value> {
        self.values.to_vec()
    }
}

fn mismatched(a: Answer) -> Error {
    Error::internal(format!(
        "a parameter probe got an answer of another kind: {a:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_logged_in_order_and_carries_are_not() {
        let values = [Value::Integer(7), Value::Text("a".into())];
        let p = Params::new(&values);
        assert_eq!(p.carry(2).unwrap(), Value::Text("a".into()));
        assert!(!p.null_or_nan(1).unwrap());
        assert_eq!(p.value(2).unwrap(), Value::Text("a".into()));
        assert!(p.value(3).is_err(), "out of range is an internal error");
        let reads = p.into_reads();
        assert_eq!(reads.len(), 2);
        assert_eq!((reads[0].index, reads[0].probe), (1, Probe::NullOrNan));
        assert_eq!(reads[1].answer, Answer::Exact(Strict::Text("a".into())));
    }

    #[test]
    fn a_replay_answers_from_the_log_and_notices_divergence() {
        let real = [Value::Integer(7)];
        let p = Params::new(&real);
        let shard = p.shard(1, Affinity::Integer, 8).unwrap();
        let reads = p.into_reads();
        let stand_in = [Value::Text("stand-in".into())];
        let r = Params::replaying(&stand_in, &reads);
        assert_eq!(r.shard(1, Affinity::Integer, 8).unwrap(), shard);
        assert!(r.replay_matched());
        let r = Params::replaying(&stand_in, &reads);
        r.null_or_nan(1).unwrap();
        assert!(!r.replay_matched(), "asked another question");
    }

    #[test]
    fn exact_answers_tell_zero_from_negative_zero_and_types_apart() {
        let a = Probe::Exact.answer(&Value::Real(0.0));
        assert_ne!(a, Probe::Exact.answer(&Value::Real(-0.0)));
        assert_ne!(
            Probe::Exact.answer(&Value::Integer(1)),
            Probe::Exact.answer(&Value::Real(1.0))
        );
        assert_eq!(
            Probe::IdOwner(8).answer(&Value::Text("abc".into())),
            Answer::Owner(IdOwner::NotInteger)
        );
    }
}
