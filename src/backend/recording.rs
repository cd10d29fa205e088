//! A backend that records what each shard received, for unit tests of execution and for
//! snapshots: wrap any [`Backend`] in a [`RecordingBackend`], or use [`NullBackend`] to
//! record without a database at all.
//!
//! ```text
//! shard 0: CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)
//! shard 3: INSERT INTO t VALUES (?1, ?2) [params: 1, 'x']
//! shard 5 (1/2): UPDATE t SET v = 'y' WHERE id = 9
//! shard 5 (2/2): DELETE FROM t WHERE id = 10
//! ```

use super::{Backend, ShardBatch, StatementOutput};
use crate::error::Error;
use crate::value::Value;
use futures::future::LocalBoxFuture;
use std::cell::RefCell;
use std::fmt::Write as _;

/// Wraps a backend and keeps a transcript of every batch it is asked to run, in order.
#[derive(Debug)]
pub struct RecordingBackend<B> {
    inner: B,
    transcript: RefCell<Vec<ShardBatch>>,
}

impl<B: Backend> RecordingBackend<B> {
    /// Records everything sent to `inner`, then lets `inner` run it.
    pub fn new(inner: B) -> Self {
        RecordingBackend {
            inner,
            transcript: RefCell::new(Vec::new()),
        }
    }

    /// Every batch received so far, in the order received.
    pub fn transcript(&self) -> Vec<ShardBatch> {
        self.transcript.borrow().clone()
    }

    /// The transcript as text, one line per statement (see [`format_transcript`]).
    pub fn transcript_text(&self) -> String {
        format_transcript(&self.transcript.borrow())
    }

    /// Forgets the transcript so far.
    pub fn clear(&self) {
        self.transcript.borrow_mut().clear();
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Unwraps the backend, dropping the transcript.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Backend> Backend for RecordingBackend<B> {
    fn shard_count(&self) -> usize {
        self.inner.shard_count()
    }

    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, Error>>> {
        // Recorded when the call is made, not when the future is polled: the transcript
        // is what was asked of the backend, in the order asked.
        self.transcript.borrow_mut().extend(batches.iter().cloned());
        self.inner.run(batches)
    }

    fn batch_rows_by_name(&self) -> bool {
        self.inner.batch_rows_by_name()
    }

    fn prepare_error(&self, message: &str, offset: Option<usize>) -> String {
        self.inner.prepare_error(message, offset)
    }
}

/// A backend with no database: every statement succeeds with no columns, no rows and
/// zero counters. For recording what the planner sends without running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullBackend {
    /// Number of shards it pretends to serve.
    pub shard_count: usize,
}

impl NullBackend {
    /// A backend pretending to serve `shard_count` shards.
    pub fn new(shard_count: usize) -> Self {
        NullBackend { shard_count }
    }
}

impl Backend for NullBackend {
    fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// A batch for a shard this backend does not have is an error, as it would be on a
    /// real backend, so planner tests catch out-of-range shards.
    fn run(
        &self,
        batches: Vec<ShardBatch>,
    ) -> LocalBoxFuture<'_, Vec<Result<Vec<StatementOutput>, Error>>> {
        let results = batches
            .iter()
            .map(|batch| {
                if batch.shard < self.shard_count {
                    Ok(vec![StatementOutput::default(); batch.statements.len()])
                } else {
                    Err(Error::internal(format!(
                        "shard {} does not exist: this backend has {} shards",
                        batch.shard, self.shard_count
                    )))
                }
            })
            .collect();
        Box::pin(std::future::ready(results))
    }
}

/// Prints batches one statement per line: `shard 3: SQL [params: 1, 'x']`. The parameter
/// list is left out when there are none; statements of a batch with several are numbered
/// `shard 3 (1/2): ...` so batch boundaries show; an empty batch prints
/// `shard 3: (empty batch)`. Parameters print as SQL literals, so their storage class is
/// visible (`1`, `1.0`, `'1'`, `x'01'`, `NULL`). SQL text is printed as received.
pub fn format_transcript(batches: &[ShardBatch]) -> String {
    let mut out = String::new();
    for batch in batches {
        let n = batch.statements.len();
        if n == 0 {
            let _ = writeln!(out, "shard {}: (empty batch)", batch.shard);
        }
        for (i, statement) in batch.statements.iter().enumerate() {
            if n == 1 {
                let _ = write!(out, "shard {}: {}", batch.shard, statement.sql);
            } else {
                let _ = write!(
                    out,
                    "shard {} ({}/{n}): {}",
                    batch.shard,
                    i + 1,
                    statement.sql
                );
            }
            if !statement.params.is_empty() {
                out.push_str(" [params: ");
                for (j, param) in statement.params.iter().enumerate() {
                    if j > 0 {
                        out.push_str(", ");
                    }
                    push_literal(&mut out, param);
                }
                out.push(']');
            }
            out.push('\n');
        }
    }
    out
}

/// A value as an SQL literal: text quoted with `'` doubled, everything else as
/// [`Value`]'s `Display` prints it (reals keep their `.0`, blobs are `x'..'`).
fn push_literal(out: &mut String, value: &Value) {
    match value {
        Value::Text(t) => {
            out.push('\'');
            out.push_str(&t.replace('\'', "''"));
            out.push('\'');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ShardStatement;
    use futures::executor::block_on;

    fn stmt(sql: &str, params: Vec<Value>) -> ShardStatement {
        ShardStatement {
            sql: sql.into(),
            params,
        }
    }

    #[test]
    fn records_batches_in_order() {
        let backend = RecordingBackend::new(NullBackend::new(8));
        assert_eq!(backend.shard_count(), 8);
        let first = vec![
            ShardBatch {
                shard: 3,
                statements: vec![stmt(
                    "INSERT INTO t VALUES (?1, ?2)",
                    vec![Value::Integer(1), Value::Text("it's".into())],
                )],
            },
            ShardBatch {
                shard: 0,
                statements: vec![stmt("SELECT 1", vec![])],
            },
        ];
        let results = block_on(backend.run(first.clone()));
        assert_eq!(results.len(), 2);
        assert_eq!(results[0], Ok(vec![StatementOutput::default()]));
        let second = vec![ShardBatch {
            shard: 5,
            statements: vec![
                stmt(
                    "UPDATE t SET v = ?1",
                    vec![Value::Real(1.0), Value::Blob(vec![1, 255])],
                ),
                stmt("DELETE FROM t WHERE v IS ?1", vec![Value::Null]),
            ],
        }];
        let results = block_on(backend.run(second.clone()));
        assert_eq!(results[0].as_ref().map(Vec::len), Ok(2));

        let mut all = first;
        all.extend(second);
        assert_eq!(backend.transcript(), all);
        assert_eq!(
            backend.transcript_text(),
            "shard 3: INSERT INTO t VALUES (?1, ?2) [params: 1, 'it''s']\n\
             shard 0: SELECT 1\n\
             shard 5 (1/2): UPDATE t SET v = ?1 [params: 1.0, x'01ff']\n\
             shard 5 (2/2): DELETE FROM t WHERE v IS ?1 [params: NULL]\n"
        );

        backend.clear();
        assert!(backend.transcript().is_empty());
        assert_eq!(backend.transcript_text(), "");
        assert_eq!(backend.inner(), &NullBackend::new(8));
    }

    #[test]
    fn null_backend_refuses_missing_shards() {
        let backend = NullBackend::new(2);
        let results = block_on(backend.run(vec![
            ShardBatch {
                shard: 2,
                statements: vec![stmt("SELECT 1", vec![])],
            },
            ShardBatch {
                shard: 1,
                statements: vec![],
            },
        ]));
        assert!(results[0].is_err());
        assert_eq!(results[1], Ok(vec![]));
        assert_eq!(
            format_transcript(&[ShardBatch {
                shard: 1,
                statements: vec![]
            }]),
            "shard 1: (empty batch)\n"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn records_around_a_real_backend() {
        use crate::backend::sqlite::SqliteBackend;
        let backend = RecordingBackend::new(SqliteBackend::in_memory(2).unwrap());
        let results = block_on(backend.run(vec![ShardBatch {
            shard: 1,
            statements: vec![stmt("SELECT ?1 + 1 AS n", vec![Value::Integer(41)])],
        }]));
        let outputs = results.into_iter().next().unwrap().unwrap();
        assert_eq!(outputs[0].rows, vec![vec![Value::Integer(42)]]);
        assert_eq!(
            backend.transcript_text(),
            "shard 1: SELECT ?1 + 1 AS n [params: 41]\n"
        );
    }
}
