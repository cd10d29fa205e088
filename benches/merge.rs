//! Merge throughput: how fast the merge engine combines what 8 shards returned, in rows per
//! second, next to the floor (moving the same rows with no merging: a plain concatenation)
//! and next to what one SQLite database holding all the rows spends to answer the whole
//! query (so the merge's share of a fan-out can be judged).
//!
//! The shard rows are real: each query is planned by d1plus, its per-shard SQL (with any
//! rewrite: hidden sort columns, LIMIT n+m, partial aggregates) runs on 8 in-memory shards,
//! and only the merge is timed.

mod common;

use common::{fmt_time, query_direct, ratio, DataSize, Recorder};
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::backend::Backend;
use d1plus::merge::{merge_aggregates, merge_rows, Row, RowMerge};
use d1plus::plan::Combine;
use futures::executor::block_on;

const SHARDS: usize = 8;

/// 80,000 events over 1,000 tenants: about 10,000 rows per shard.
const SIZE: DataSize = DataSize {
    tenants: 1000,
    events_per_tenant: 80,
};

struct Case {
    name: &'static str,
    sql: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "order_by_all",
        sql: "SELECT tenantId, id, amount FROM events ORDER BY amount DESC, tenantId, id",
    },
    Case {
        name: "order_by_deep_page",
        sql: "SELECT tenantId, id, amount FROM events ORDER BY createdAt, tenantId, id \
              LIMIT 100 OFFSET 2000",
    },
    Case {
        name: "group_by_1000",
        sql: "SELECT userId, count(*) AS n, sum(amount), avg(amount), max(createdAt) \
              FROM events GROUP BY userId",
    },
    Case {
        name: "count_sum_avg",
        sql: "SELECT count(*), sum(amount), avg(amount) FROM events",
    },
    Case {
        name: "count_distinct",
        sql: "SELECT kind, count(DISTINCT userId) FROM events GROUP BY kind",
    },
];

/// What one case merges: the plan's merge, and the rows each shard returned.
enum Merge {
    Rows(RowMerge),
    Aggregate(d1plus::merge::AggregateMerge),
}

fn run_merge(merge: &Merge, shards: Vec<Vec<Row>>) -> Vec<Row> {
    match merge {
        Merge::Rows(spec) => merge_rows(spec, shards).expect("merge rows"),
        Merge::Aggregate(spec) => merge_aggregates(spec, shards).expect("merge aggregates"),
    }
}

fn main() {
    let mut c = common::criterion();
    let rec = Recorder::default();
    let db = block_on(Database::open(
        common::policy(SHARDS),
        SqliteBackend::in_memory(SHARDS).expect("in-memory shards"),
        Options::default(),
    ))
    .expect("open");
    common::load(&db, SIZE);
    let mut one = rusqlite::Connection::open_in_memory().expect("one database");
    common::load_plain(&mut one, SIZE);

    println!(
        "merge fixture: {} events over {} tenants on {SHARDS} in-memory shards",
        SIZE.tenants * SIZE.events_per_tenant,
        SIZE.tenants
    );
    let mut prepared = Vec::new();
    for case in CASES {
        let plan = db.plan(case.sql, &[], None).expect("plan");
        let merge = match &plan.combine {
            Combine::Rows(spec) => Merge::Rows(spec.clone()),
            Combine::Aggregate { merge, .. } => Merge::Aggregate(merge.clone()),
            other => panic!("{}: expected a merge, planned {other:?}", case.name),
        };
        let shards: Vec<Vec<Row>> = block_on(db.backend().run(plan.batches.clone()))
            .into_iter()
            .map(|out| {
                out.expect("shard batch")
                    .into_iter()
                    .flat_map(|o| o.rows)
                    .collect()
            })
            .collect();
        // The merge must give what one database gives (same order where ORDER BY is total).
        let merged = run_merge(&merge, shards.clone());
        let (_, mut expected) = query_direct(&one, case.sql, &[]);
        let mut got = merged.clone();
        if !case.sql.contains("ORDER BY") {
            got.sort_by_key(|r| format!("{r:?}"));
            expected.sort_by_key(|r| format!("{r:?}"));
        }
        common::assert_same_rows(case.name, &got, &expected);
        let rows_in: usize = shards.iter().map(Vec::len).sum();
        println!(
            "  {:<20} {rows_in} shard rows in, {} rows out",
            case.name,
            merged.len()
        );
        prepared.push((case, merge, shards, rows_in));
    }

    let mut group = c.benchmark_group("merge");
    for (case, merge, shards, _) in &prepared {
        rec.bench_with_input(
            &mut group,
            "merge",
            &format!("{}/merge", case.name),
            || shards.clone(),
            |rows| run_merge(merge, rows),
        );
        rec.bench_with_input(
            &mut group,
            "merge",
            &format!("{}/concat_floor", case.name),
            || shards.clone(),
            |rows| merge_rows(&RowMerge::concat(), rows).expect("concat"),
        );
        rec.bench(
            &mut group,
            "merge",
            &format!("{}/rusqlite_one", case.name),
            || query_direct(&one, case.sql, &[]),
        );
    }
    group.finish();
    c.final_summary();

    println!();
    println!(
        "== merge throughput: ratios (medians of {} samples)",
        common::SAMPLE_SIZE
    );
    for (case, _, _, rows_in) in &prepared {
        let get = |who: &str| rec.median(&format!("merge/{}/{who}", case.name));
        let Some(t) = get("merge") else { continue };
        let per_row = t.as_secs_f64() / (*rows_in).max(1) as f64;
        let mut line = format!(
            "merge/{}: {} for {rows_in} shard rows = {:.0} ns/row ({:.1} M rows/s)",
            case.name,
            fmt_time(t),
            per_row * 1e9,
            1e-6 / per_row
        );
        if let Some(f) = get("concat_floor") {
            line.push_str(&format!(", {:.2}x concatenation", ratio(t, f)));
        }
        if let Some(s) = get("rusqlite_one") {
            line.push_str(&format!(
                ", {:.2}x one SQLite answering the whole query ({})",
                ratio(t, s),
                fmt_time(s)
            ));
        }
        println!("{line}");
    }
}
