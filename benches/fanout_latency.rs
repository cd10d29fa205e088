//! Fan-out latency under simulated network delay: a read with no shard key over 1 to 64
//! shards, on a backend that waits a fixed 5 ms per shard call (a D1 round trip) and runs at
//! most 6 calls at once (a Worker holds at most 6 connections). The ideal is
//! `ceil(N / 6) x 5 ms`; the ratio to it is what d1plus adds (planning, threads, combining).
//!
//! Sleeps overshoot, and on an idle VM by a lot (on the machine of BENCHMARKS.md a 5 ms
//! sleep on an otherwise idle machine wakes after about 8 ms more often than not), so two
//! more figures are printed:
//! `bare/N` runs the same bounded threads and sleeps with no d1plus at all (the floor this
//! machine's scheduler and timers allow), and `d1plus_own` is, from the same iterations as
//! `d1plus/N`, the time spent outside the backend's `run` (planning, executing, combining):
//! `ideal + d1plus_own` is the latency d1plus would give with exact sleeps.

mod common;

use common::{fmt_time, ratio, verdict, DataSize, Recorder};
use criterion::SamplingMode;
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::backend::{Backend, ShardBatch, StatementOutput};
use d1plus::error::Error;
use d1plus::value::Value;
use futures::executor::block_on;
use futures::future::LocalBoxFuture;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one shard call costs on the network.
const DELAY: Duration = Duration::from_millis(5);
/// Connections a Worker may hold at once.
const CONCURRENCY: usize = 6;
const SHARD_COUNTS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// Local in-memory SQLite shards behind a fixed delay per shard call, at most
/// `concurrency` calls at once, like D1 from a Worker.
struct DelayBackend {
    inner: SqliteBackend,
    delay: Duration,
    concurrency: usize,
    /// Nanoseconds spent inside `run` so far (sleeps, their OS lateness, threads, SQLite):
    /// a query's time minus this is what d1plus itself spent.
    inside_ns: AtomicU64,
}

type Answer = Result<Vec<StatementOutput>, Error>;

impl DelayBackend {
    /// One shard call on a worker thread (its own executor: the caller's is on another
    /// thread).
    fn run_one(&self, batch: ShardBatch) -> Answer {
        std::thread::sleep(self.delay);
        block_on(self.inner.run(vec![batch]))
            .pop()
            .unwrap_or_else(|| Err(Error::internal("the inner backend gave no answer")))
    }
}

impl Backend for DelayBackend {
    fn shard_count(&self) -> usize {
        self.inner.shard_count()
    }

    fn run(&self, batches: Vec<ShardBatch>) -> LocalBoxFuture<'_, Vec<Answer>> {
        Box::pin(async move {
            let start = Instant::now();
            let answers = if batches.len() <= 1 {
                // A lone call runs inline, as the native backend does.
                std::thread::sleep(self.delay);
                self.inner.run(batches).await
            } else {
                bounded(batches.len(), self.concurrency, |i| {
                    self.run_one(batches[i].clone())
                })
            };
            let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.inside_ns.fetch_add(ns, Ordering::Relaxed);
            answers
        })
    }
}

/// Runs `work(i)` for every `i` in `0..n` on at most `limit` scoped threads, each thread
/// taking the next index not yet started. Answers come back in index order.
fn bounded<T: Send>(n: usize, limit: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..limit.min(n))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        done.push((i, work(i)));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            for (i, answer) in handle.join().expect("worker thread") {
                out[i] = Some(answer);
            }
        }
    });
    out.into_iter()
        .map(|a| a.expect("every index done"))
        .collect()
}

/// The ideal latency of a fan-out to `n` shards: full waves of `CONCURRENCY` calls.
fn ideal(n: usize) -> Duration {
    DELAY * n.div_ceil(CONCURRENCY) as u32
}

const SQL: &str = "SELECT * FROM events WHERE amount > ?";

fn main() {
    let mut c = common::criterion();
    let rec = Recorder::default();
    let params = [Value::Real(9_000.0)];

    let mut dbs = Vec::new();
    for n in SHARD_COUNTS {
        let backend = DelayBackend {
            inner: SqliteBackend::in_memory(n).expect("in-memory shards"),
            delay: DELAY,
            concurrency: CONCURRENCY,
            inside_ns: AtomicU64::new(0),
        };
        let db = block_on(Database::open(
            common::policy(n),
            backend,
            Options::default(),
        ))
        .expect("open");
        common::load(
            &db,
            DataSize {
                tenants: 256,
                events_per_tenant: 4,
            },
        );
        let plan = db.plan(SQL, &params, None).expect("plan");
        assert_eq!(plan.batches.len(), n, "the query should reach every shard");
        dbs.push((n, db));
    }
    println!(
        "fan-out latency: {SQL} over N shards, {} per shard call, at most {CONCURRENCY} at once",
        fmt_time(DELAY)
    );

    let mut group = c.benchmark_group("fanout_delay");
    group.sampling_mode(SamplingMode::Flat);
    for (n, db) in &dbs {
        // Timed by hand to record, from the same iterations, the time spent outside the
        // backend (d1plus's own work), which the OS's sleep lateness cannot blur.
        let total_key = format!("fanout_delay/{n}/d1plus");
        let own_key = format!("fanout_delay/{n}/d1plus_own");
        group.bench_function(format!("{n}/d1plus"), |b| {
            b.iter_custom(|iters| {
                let inside_before = db.backend().inside_ns.load(Ordering::Relaxed);
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(block_on(db.query(SQL, &params, None)).expect("query"));
                }
                let elapsed = start.elapsed();
                let inside = db.backend().inside_ns.load(Ordering::Relaxed) - inside_before;
                rec.push(&total_key, iters, elapsed);
                rec.push(
                    &own_key,
                    iters,
                    elapsed.saturating_sub(Duration::from_nanos(inside)),
                );
                elapsed
            })
        });
        let n = *n;
        rec.bench(&mut group, "fanout_delay", &format!("{n}/bare"), || {
            bounded(n, CONCURRENCY, |_| std::thread::sleep(DELAY))
        });
    }
    group.finish();
    c.final_summary();

    println!();
    println!(
        "== fan-out latency: ratios to the ideal ceil(N/{CONCURRENCY}) x {} (medians of {} samples)",
        fmt_time(DELAY),
        common::SAMPLE_SIZE
    );
    let mut worst: Option<f64> = None;
    let mut worst_own: Option<f64> = None;
    for n in SHARD_COUNTS {
        let Some(t) = rec.median(&format!("fanout_delay/{n}/d1plus")) else {
            continue;
        };
        let r = ratio(t, ideal(n));
        worst = Some(worst.map_or(r, |w: f64| w.max(r)));
        let mut line = format!(
            "fanout_delay/{n:>2} shards: {} = {r:.3}x ideal ({})",
            fmt_time(t),
            fmt_time(ideal(n))
        );
        if let Some(b) = rec.median(&format!("fanout_delay/{n}/bare")) {
            line.push_str(&format!(
                "; bare threads + sleeps {} = {:.3}x ideal",
                fmt_time(b),
                ratio(b, ideal(n)),
            ));
        }
        if let Some(own) = rec.median(&format!("fanout_delay/{n}/d1plus_own")) {
            let exact = ratio(ideal(n) + own, ideal(n));
            worst_own = Some(worst_own.map_or(exact, |w: f64| w.max(exact)));
            line.push_str(&format!(
                "; d1plus's own work {} -> {exact:.4}x ideal with exact sleeps",
                fmt_time(own)
            ));
        }
        println!("{line}");
    }
    if let Some(w) = worst {
        println!(
            "fanout_delay worst ratio to ideal, as measured: {w:.3}x: {}",
            verdict(w, 1.1)
        );
    }
    if let Some(w) = worst_own {
        println!(
            "fanout_delay worst ratio to ideal, d1plus's own work only: {w:.4}x: {}",
            verdict(w, 1.1)
        );
    }
}
