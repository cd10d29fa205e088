//! What reads answer, remembered so that a read can share a D1 `batch()` with the schema
//! guard (see the parent module). D1 answers a batch's rows as objects keyed by column name:
//! the names of a read must be known to put its values back in order, and to name its
//! columns at all when it answers no rows.

use crate::backend::{ShardStatement, StatementOutput};
use crate::lex;
use ahash::AHashMap;

/// One read's column names, and whether they are confirmed: an answer with rows, in a
/// batch headed by a passing guard, showed them. A passing guard proves the shard's schema
/// is the catalog's, and a read's names follow from its text and the schema, so confirmed
/// names hold for every later batch whose guard passes on this catalog, empty answers too.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub(crate) columns: crate::value::Columns,
    pub(crate) confirmed: bool,
}

/// Reads' column names by SQL text, for one catalog version; a newer catalog forgets them
/// all. First learned from a read that ran alone beside a passing guard on its shard (two
/// calls, so a schema change between them is possible: unconfirmed until a shared batch
/// confirms them). Only names that survive D1's objects are kept ([`survives_objects`]).
/// Bounded: past [`KnownColumns::MAX`] reads it starts over.
#[derive(Debug, Default)]
pub(crate) struct KnownColumns {
    version: u64,
    by_sql: AHashMap<String, Known>,
}

impl KnownColumns {
    const MAX: usize = 512;

    pub(crate) fn get(&self, version: u64, sql: &str) -> Option<Known> {
        (self.version == version)
            .then(|| self.by_sql.get(sql).cloned())
            .flatten()
    }

    /// The names `sql` answered alone, on a shard whose guard passed beside it.
    pub(crate) fn learn(&mut self, version: u64, sql: &str, columns: &[String]) {
        if version < self.version {
            return; // a call that began before the catalog it knows was replaced
        }
        if version > self.version || self.by_sql.len() >= Self::MAX {
            self.by_sql.clear();
            self.version = version;
        }
        if !survives_objects(columns) {
            self.by_sql.remove(sql);
            return;
        }
        match self.by_sql.get(sql) {
            Some(k) if k.columns[..] == *columns => {}
            _ => {
                let columns = columns.into();
                let known = Known {
                    columns,
                    confirmed: false,
                };
                self.by_sql.insert(sql.to_owned(), known);
            }
        }
    }

    /// What a shared batch's answers told of its reads' names ([`restore`]): names shown by
    /// rows are confirmed; when other names came back (`None`), all are forgotten, so the
    /// next call runs them beside the guard and learns them again.
    pub(crate) fn judge(
        &mut self,
        version: u64,
        reads: &[ShardStatement],
        answers: Option<&[Answer]>,
    ) {
        if version != self.version {
            return;
        }
        match answers {
            Some(answers) => {
                for (s, a) in reads.iter().zip(answers) {
                    if let (Answer::Shown, Some(k)) = (a, self.by_sql.get_mut(&*s.sql)) {
                        k.confirmed = true;
                    }
                }
            }
            None => {
                for s in reads {
                    self.by_sql.remove(&*s.sql);
                }
            }
        }
    }
}

/// Whether rows keyed by these column names, as D1's `batch()` answers them, keep every
/// value and the columns' order: names distinct, none an array index (which an object
/// lists first), none `__proto__`.
fn survives_objects(columns: &[String]) -> bool {
    !columns.is_empty()
        && columns
            .iter()
            .enumerate()
            .all(|(i, c)| c != "__proto__" && !lex::is_array_index(c) && !columns[..i].contains(c))
}

/// What a read's answer in a shared batch told of its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Rows, with the known names.
    Shown,
    /// No rows; the confirmed names were put back.
    Restored,
    /// No rows, and the names are not confirmed: not to be trusted.
    Unknown,
}

/// Puts known names back on the empty answers of reads that shared a batch with the guard;
/// None when an answer with rows shows other names (or other widths) than the known ones.
pub(crate) fn restore(outs: &mut [StatementOutput], expected: &[Known]) -> Option<Vec<Answer>> {
    if outs.len() != expected.len() {
        return None;
    }
    let mut answers = Vec::with_capacity(outs.len());
    for (o, k) in outs.iter_mut().zip(expected) {
        let answer = if !o.rows.is_empty() {
            let same =
                o.columns[..] == k.columns[..] && o.rows.iter().all(|r| r.len() == k.columns.len());
            if !same {
                return None;
            }
            Answer::Shown
        } else if k.confirmed {
            o.columns = k.columns.clone();
            Answer::Restored
        } else {
            Answer::Unknown
        };
        answers.push(answer);
    }
    Some(answers)
}
