//! Planning a statement, against the physical limits: how long d1plus takes to turn SQL
//! text into a plan (parse + analyze + plan, no cache), next to sqlparser parsing the same
//! text alone and SQLite preparing it (`rusqlite::Connection::prepare` on a connection that
//! has the schema). Then where the time goes: d1plus's own lexing, the whole parse stage,
//! analyze, plan.
//!
//! And cached routing: `Database::plan` on a statement its plan cache already holds.
//!
//! Every way of handling a statement is a [`Contender`]: a name and a function that, given
//! the fixture and a case, returns the closure to time; adding one is one function and one
//! line in [`CONTENDERS`].

mod common;

use common::{fmt_time, geomean, ratio, verdict, Recorder};
use d1plus::analyze::analyze;
use d1plus::api::{Database, Options};
use d1plus::backend::sqlite::SqliteBackend;
use d1plus::catalog::Catalog;
use d1plus::parse::Parsed;
use d1plus::plan::{self, Context, PlanOptions};
use d1plus::policy::Policy;
use d1plus::value::Value;
use futures::executor::block_on;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use std::hint::black_box;
use std::rc::Rc;

/// Shards of the planning fixture (planning cost barely depends on it: only INSERT splits
/// and fan-outs build one batch per shard).
const SHARDS: usize = 8;

/// One representative D1 statement.
struct Case {
    name: &'static str,
    sql: &'static str,
    params: Vec<Value>,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn cases() -> Vec<Case> {
    let insert_params: Vec<Value> = (0..4)
        .flat_map(|t| common::event(t * 37, 1000 + t))
        .collect();
    vec![
        Case {
            name: "point_select",
            sql: "SELECT * FROM events WHERE tenantId = ? AND id = ?",
            params: vec![text("tenant-0001"), int(42)],
        },
        Case {
            name: "keyset_page",
            sql: "SELECT id, createdAt, kind, amount FROM events \
                  WHERE tenantId = ? AND (createdAt, id) < (?, ?) \
                  ORDER BY createdAt DESC, id DESC LIMIT 20",
            params: vec![text("tenant-0001"), int(1_700_003_000), int(50)],
        },
        Case {
            name: "insert_multi_tenant",
            sql: "INSERT INTO events (tenantId, id, userId, createdAt, kind, amount) \
                  VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
            params: insert_params,
        },
        Case {
            name: "upsert",
            sql: "INSERT INTO users (tenantId, id, name, planId) VALUES (?, ?, ?, ?) \
                  ON CONFLICT (tenantId, id) DO UPDATE SET name = excluded.name, planId = excluded.planId",
            params: vec![text("tenant-0001"), int(7), text("Ada"), int(2)],
        },
        Case {
            name: "join_colocated",
            sql: "SELECT e.id, e.kind, u.name FROM events AS e \
                  JOIN users AS u ON u.tenantId = e.tenantId AND u.id = e.userId \
                  WHERE e.tenantId = ? AND e.createdAt > ? ORDER BY e.createdAt DESC LIMIT 50",
            params: vec![text("tenant-0001"), int(1_700_000_000)],
        },
        Case {
            name: "join_reference",
            sql: "SELECT u.id, u.name, p.name AS plan, p.price FROM users AS u \
                  JOIN plans AS p ON p.id = u.planId WHERE u.tenantId = ?",
            params: vec![text("tenant-0001")],
        },
        Case {
            name: "aggregate_pinned",
            sql: "SELECT kind, count(*) AS n, sum(amount) AS total FROM events \
                  WHERE tenantId = ? GROUP BY kind ORDER BY n DESC",
            params: vec![text("tenant-0001")],
        },
        Case {
            name: "delete_by_key",
            sql: "DELETE FROM events WHERE tenantId = ? AND id = ?",
            params: vec![text("tenant-0001"), int(42)],
        },
        Case {
            name: "update_by_key",
            sql: "UPDATE events SET amount = amount + ?, kind = ? WHERE tenantId = ? AND id = ?",
            params: vec![Value::Real(1.5), text("refund"), text("tenant-0001"), int(42)],
        },
        Case {
            name: "in_list_keys",
            sql: "SELECT * FROM events WHERE tenantId IN (?, ?, ?, ?) AND id = ?",
            params: vec![
                text("tenant-0001"),
                text("tenant-0002"),
                text("tenant-0003"),
                text("tenant-0004"),
                int(1),
            ],
        },
        Case {
            name: "introspection",
            sql: "SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name",
            params: vec![],
        },
        Case {
            name: "unsharded_read",
            sql: "SELECT value FROM settings WHERE key = ?",
            params: vec![text("motd")],
        },
        Case {
            name: "fanout_top_n",
            sql: "SELECT tenantId, id, amount FROM events WHERE amount > ? \
                  ORDER BY amount DESC LIMIT 10",
            params: vec![Value::Real(9_000.0)],
        },
    ]
}

/// Everything the contenders need, built once.
struct Fixture {
    db: Database<SqliteBackend>,
    policy: Policy,
    catalog: Rc<Catalog>,
    /// One plain SQLite connection with the same schema, for `prepare`.
    sqlite: rusqlite::Connection,
}

impl Fixture {
    fn new() -> Fixture {
        let backend = SqliteBackend::in_memory(SHARDS).expect("in-memory shards");
        let db = block_on(Database::open(
            common::policy(SHARDS),
            backend,
            Options::default(),
        ))
        .expect("open");
        block_on(db.exec(common::SCHEMA)).expect("schema");
        let sqlite = rusqlite::Connection::open_in_memory().expect("sqlite");
        sqlite.execute_batch(common::SCHEMA).expect("schema");
        Fixture {
            policy: db.policy().clone(),
            catalog: db.catalog(),
            db,
            sqlite,
        }
    }

    fn cx(&self) -> Context<'_> {
        Context {
            policy: &self.policy,
            catalog: &self.catalog,
            options: PlanOptions::default(),
        }
    }
}

/// A way of handling a case's SQL text, timed per case.
struct Contender {
    /// Bench id prefix and the name in the summary.
    name: &'static str,
    /// Builds the closure to time (the setup it does is not timed).
    prepare: for<'a> fn(&'a Fixture, &'a Case) -> Box<dyn FnMut() + 'a>,
}

/// d1plus, cold: parse + analyze + plan with no cache, what `Database::plan` does on a
/// statement it has not seen. Called through the stage functions, so no cache is involved.
fn plan_cold<'a>(fx: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        let parsed = Parsed::new(case.sql).expect("parse");
        let analysis = analyze(&parsed, &fx.policy, &fx.catalog).expect("analyze");
        let plan = plan::plan(&parsed, &analysis, &case.params, None, fx.cx()).expect("plan");
        black_box(plan);
    })
}

/// The floor for any proxy that reads the SQL: sqlparser parsing the text, nothing else.
fn sqlparser_parse<'a>(_: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        let statements = Parser::parse_sql(&SQLiteDialect {}, case.sql).expect("sqlparser");
        black_box(statements);
    })
}

/// What SQLite itself spends to compile the statement (prepare + finalize, no cache).
fn rusqlite_prepare<'a>(fx: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        let stmt = fx.sqlite.prepare(case.sql).expect("prepare");
        black_box(&stmt);
    })
}

/// Stage profile: d1plus's own SQLite-faithful lexing (done before sqlparser runs).
fn stage_lex<'a>(_: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        black_box(d1plus::lex::significant(case.sql));
        black_box(d1plus::lex::split_statements(case.sql));
    })
}

/// Stage profile: the whole parse stage (`Parsed::new`: lexing, parameter numbering,
/// sqlparser).
fn stage_parse<'a>(_: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        black_box(Parsed::new(case.sql).expect("parse"));
    })
}

/// Stage profile: analyze alone, on a statement parsed once outside the loop.
fn stage_analyze<'a>(fx: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    let parsed = Parsed::new(case.sql).expect("parse");
    Box::new(move || {
        black_box(analyze(&parsed, &fx.policy, &fx.catalog).expect("analyze"));
    })
}

/// Stage profile: plan alone, on a statement parsed and analyzed outside the loop.
fn stage_plan<'a>(fx: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    let parsed = Parsed::new(case.sql).expect("parse");
    let analysis = analyze(&parsed, &fx.policy, &fx.catalog).expect("analyze");
    Box::new(move || {
        black_box(plan::plan(&parsed, &analysis, &case.params, None, fx.cx()).expect("plan"));
    })
}

/// The contenders, in the order they run and print.
const CONTENDERS: &[Contender] = &[
    Contender {
        name: "plan_cold",
        prepare: plan_cold,
    },
    Contender {
        name: CACHED_ROUTING,
        prepare: plan_cached,
    },
    Contender {
        name: "sqlparser_parse",
        prepare: sqlparser_parse,
    },
    Contender {
        name: "rusqlite_prepare",
        prepare: rusqlite_prepare,
    },
    Contender {
        name: "stage_lex",
        prepare: stage_lex,
    },
    Contender {
        name: "stage_parse",
        prepare: stage_parse,
    },
    Contender {
        name: "stage_analyze",
        prepare: stage_analyze,
    },
    Contender {
        name: "stage_plan",
        prepare: stage_plan,
    },
];

/// d1plus, cached: `Database::plan` on a statement its plan cache already holds (parsed and
/// analyzed once; only routing runs). The target is < 1 us.
fn plan_cached<'a>(fx: &'a Fixture, case: &'a Case) -> Box<dyn FnMut() + 'a> {
    fx.db.plan(case.sql, &case.params, None).expect("plan"); // fills the cache
    let (hits, _) = fx.db.cache_stats();
    fx.db.plan(case.sql, &case.params, None).expect("plan");
    assert_eq!(
        fx.db.cache_stats().0,
        hits + 1,
        "{}: the second plan should come from the cache",
        case.name
    );
    Box::new(move || {
        black_box(fx.db.plan(case.sql, &case.params, None).expect("plan"));
    })
}

/// The name of the cached-routing contender in the summary.
const CACHED_ROUTING: &str = "plan_cached";

fn main() {
    let mut c = common::criterion();
    let rec = Recorder::default();
    let fx = Fixture::new();
    let cases = cases();

    // Every case must plan: timing an error path would say nothing. Print the routes so the
    // numbers can be read against what was planned.
    println!("planning fixture: {SHARDS} shards; what each case plans to:");
    for case in &cases {
        let plan = fx
            .db
            .plan(case.sql, &case.params, None)
            .unwrap_or_else(|e| panic!("case {} does not plan: {e}", case.name));
        let route = plan.to_string();
        println!(
            "  {:<20} {} ({} batch{})",
            case.name,
            route.lines().next().unwrap_or_default(),
            plan.batches.len(),
            if plan.batches.len() == 1 { "" } else { "es" }
        );
        // SQLite must take it too.
        fx.sqlite
            .prepare(case.sql)
            .unwrap_or_else(|e| panic!("case {} does not prepare in SQLite: {e}", case.name));
    }

    // One group per case, contenders side by side: measured close together in time, so
    // the load of a shared machine drifts less between the numbers of one ratio.
    for case in &cases {
        let mut group = c.benchmark_group(case.name);
        for contender in CONTENDERS {
            let mut f = (contender.prepare)(&fx, case);
            rec.bench(&mut group, case.name, contender.name, &mut f);
        }
        group.finish();
    }
    c.final_summary();
    summary(&rec, &cases);
}

fn summary(rec: &Recorder, cases: &[Case]) {
    let get = |who: &str, case: &Case| rec.median(&format!("{}/{who}", case.name));
    println!();
    println!(
        "== planning: ratios (medians of {} samples)",
        common::SAMPLE_SIZE
    );
    let mut vs_parse = Vec::new();
    let mut vs_prepare = Vec::new();
    let mut cached_times = Vec::new();
    for who in ["plan_cold", CACHED_ROUTING] {
        for case in cases {
            let Some(t) = get(who, case) else { continue };
            let mut line = format!("{who}/{}: {}", case.name, fmt_time(t));
            let mut sep = " =";
            if let Some(p) = get("sqlparser_parse", case) {
                let r = ratio(t, p);
                line.push_str(&format!("{sep} {r:.2}x sqlparser parse"));
                sep = ",";
                if who == "plan_cold" {
                    vs_parse.push(r);
                }
            }
            if let Some(p) = get("rusqlite_prepare", case) {
                let r = ratio(t, p);
                line.push_str(&format!("{sep} {r:.2}x rusqlite prepare"));
                sep = ",";
                if who == "plan_cold" {
                    vs_prepare.push(r);
                }
            }
            if who == CACHED_ROUTING {
                cached_times.push((t, case.name));
                if let Some(cold) = get("plan_cold", case) {
                    line.push_str(&format!("{sep} {:.3}x plan_cold", ratio(t, cold)));
                }
            }
            println!("{line}");
        }
    }
    if let Some(g) = geomean(&vs_parse) {
        let worst = vs_parse.iter().copied().fold(0.0, f64::max);
        println!(
            "plan_cold over all cases: geometric mean {g:.2}x sqlparser parse (worst {worst:.2}x): {}",
            verdict(g, 1.5)
        );
    }
    if let Some(g) = geomean(&vs_prepare) {
        println!("plan_cold over all cases: geometric mean {g:.2}x rusqlite prepare");
    }
    match cached_times.iter().max() {
        None => println!("{CACHED_ROUTING}: not measured (target < 1 us)"),
        Some((worst, name)) => {
            let under = cached_times
                .iter()
                .filter(|(t, _)| t.as_secs_f64() < 1e-6)
                .count();
            println!(
                "{CACHED_ROUTING}: {under} of {} cases under 1 us; worst {} ({name}): {}",
                cached_times.len(),
                fmt_time(*worst),
                if worst.as_secs_f64() < 1e-6 {
                    "met (target < 1 us)".to_string()
                } else {
                    format!(
                        "MISSED (target < 1 us; {:.2}x over it)",
                        worst.as_secs_f64() / 1e-6
                    )
                }
            );
        }
    }

    println!();
    println!("== planning: where plan_cold's time goes (share of parse + analyze + plan)");
    for case in cases {
        let (Some(lex), Some(parse), Some(an), Some(pl)) = (
            get("stage_lex", case),
            get("stage_parse", case),
            get("stage_analyze", case),
            get("stage_plan", case),
        ) else {
            continue;
        };
        let total = (parse + an + pl).as_secs_f64();
        let pct = |d: std::time::Duration| 100.0 * d.as_secs_f64() / total;
        let sqlparser = get("sqlparser_parse", case);
        let mut line = format!(
            "{:<20} parse {} ({:.0}%; of which d1plus lexing {}), analyze {} ({:.0}%), plan {} ({:.0}%)",
            case.name,
            fmt_time(parse),
            pct(parse),
            fmt_time(lex),
            fmt_time(an),
            pct(an),
            fmt_time(pl),
            pct(pl)
        );
        if let Some(sp) = sqlparser {
            line.push_str(&format!(
                "; parse stage = {:.2}x sqlparser alone",
                ratio(parse, sp)
            ));
        }
        println!("{line}");
    }
}
