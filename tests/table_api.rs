//! The Table API (src/table.rs) against the plain-SQLite oracle over 1 to 64 shards, with
//! skewed data (one tenant holds most rows, some shards hold none): every answer equals the
//! oracle's, pages concatenated equal the whole ordered list, and writes leave the same rows.

mod common;

use common::diff::{compare_tables, sqlite_query};
use common::{Harness, Rng, SHARD_COUNTS};
use d1plus::table::{self, TableAnswer, TableOp};
use d1plus::value::Value;
use futures::executor::block_on;

const POLICY: &str =
    r#"{"name": "t", "sharding": {"tables": [{"name": "posts", "keyColumn": "tenant"}]}}"#;
const DDL: &str = "CREATE TABLE posts (tenant TEXT NOT NULL, id INTEGER NOT NULL, status TEXT, views INTEGER, title TEXT, PRIMARY KEY (tenant, id))";

fn op(json: serde_json::Value) -> TableOp {
    serde_json::from_value(json).unwrap()
}

/// Loads skewed rows: "big" holds most of them; NULLs and ties in every column.
fn load(h: &Harness, rng: &mut Rng) {
    h.exec(DDL);
    let tenants = ["big", "big", "big", "big", "acme", "globex", "initech"];
    let statuses = [
        serde_json::json!("published"),
        serde_json::json!("draft"),
        serde_json::Value::Null,
    ];
    let rows: Vec<serde_json::Value> = (1..=120)
        .map(|id| {
            let views = if rng.chance(15) { serde_json::Value::Null } else { serde_json::json!(rng.below(40)) };
            let title = if rng.chance(10) { serde_json::Value::Null } else { serde_json::json!(format!("{}{}", ["a", "b", "ab"][rng.below(3) as usize], rng.below(5))) };
            serde_json::json!({"tenant": tenants[rng.below(7) as usize], "id": id, "status": statuses[rng.below(3) as usize], "views": views, "title": title})
        })
        .collect();
    for chunk in rows.chunks(25) {
        let insert = op(serde_json::json!({"op": "insert", "rows": chunk}));
        write_everywhere(h, &insert);
    }
}

/// Runs a write through the Table API on every shard count and its SQL on the oracle.
fn write_everywhere(h: &Harness, op: &TableOp) -> Vec<TableAnswer> {
    let st = table::statement(&h.shards[0].db.catalog(), "posts", op).unwrap();
    sqlite_query(&h.oracle, &st.sql, &st.params).unwrap();
    h.shards
        .iter()
        .map(|s| {
            block_on(s.db.table("posts").call(op)).unwrap_or_else(|e| panic!("{} shards: {e}", s.n))
        })
        .collect()
}

fn oracle_rows(h: &Harness, op: &TableOp) -> Vec<Vec<Value>> {
    let st = table::statement(&h.shards[0].db.catalog(), "posts", op).unwrap();
    sqlite_query(&h.oracle, &st.sql, &st.params).unwrap().1
}

#[test]
fn reads_match_the_oracle_on_every_shard_count() {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    load(&h, &mut Rng::from_env(3));
    let filters = [
        serde_json::json!(null),
        serde_json::json!({"status": "published"}),
        serde_json::json!({"views": {"gt": 10, "lte": 30}}),
        serde_json::json!({"views": {"isNull": true}}),
        serde_json::json!({"title": {"like": "a%"}, "status": {"ne": "draft"}}),
        serde_json::json!({"id": {"in": [1, 5, 9, 200]}}),
        serde_json::json!({"tenant": "acme"}),
        serde_json::json!({"status": null}),
        serde_json::json!({"id": {"in": []}}),
    ];
    for f in &filters {
        let count = op(serde_json::json!({"op": "count", "where": f}));
        let exists = op(serde_json::json!({"op": "exists", "where": f}));
        let want = oracle_rows(&h, &count)[0][0].clone();
        let want_exists = !oracle_rows(&h, &exists).is_empty();
        for s in &h.shards {
            let t = s.db.table("posts");
            assert_eq!(
                block_on(t.call(&count)).unwrap(),
                TableAnswer::Count(match want {
                    Value::Integer(n) => n,
                    _ => -1,
                }),
                "{} shards, {f}",
                s.n
            );
            assert_eq!(
                block_on(t.call(&exists)).unwrap(),
                TableAnswer::Bool(want_exists),
                "{} shards, {f}",
                s.n
            );
        }
    }
    // get by the whole key (one shard), and a key that does not exist.
    for key in [
        serde_json::json!({"tenant": "big", "id": 7}),
        serde_json::json!({"id": 8, "tenant": "acme"}),
        serde_json::json!({"tenant": "nobody", "id": 1}),
    ] {
        let get = op(serde_json::json!({"op": "get", "key": key}));
        let want = oracle_rows(&h, &get);
        for s in &h.shards {
            match block_on(s.db.table("posts").call(&get)).unwrap() {
                TableAnswer::Row(r) => {
                    assert_eq!(r.rows, want, "{} shards, get {key}", s.n);
                    if !want.is_empty() {
                        assert_eq!(
                            r.meta.shards.len(),
                            1,
                            "a get by the whole key reads one shard"
                        );
                    }
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn pages_concatenate_to_the_whole_ordered_list() {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    load(&h, &mut Rng::from_env(4));
    let orders = [
        serde_json::json!(null),
        serde_json::json!("views"),
        serde_json::json!("-views"),
        serde_json::json!(["status", "-title"]),
        serde_json::json!(["-tenant", "views"]),
    ];
    let filters = [
        serde_json::json!(null),
        serde_json::json!({"views": {"gte": 5}}),
        serde_json::json!({"tenant": "big"}),
    ];
    for order in &orders {
        for f in &filters {
            let mut all = serde_json::json!({"op": "list", "where": f, "limit": 1000});
            if !order.is_null() {
                all["orderBy"] = order.clone();
            }
            let want = oracle_rows(&h, &op(all.clone()));
            for s in &h.shards {
                for limit in [1, 7, 50] {
                    let mut got = Vec::new();
                    let mut cursor: Option<String> = None;
                    let mut pages = 0;
                    loop {
                        let mut req = all.clone();
                        req["limit"] = serde_json::json!(limit);
                        if let Some(c) = &cursor {
                            req["cursor"] = serde_json::json!(c);
                        }
                        let TableAnswer::Page { rows, cursor: next } =
                            block_on(s.db.table("posts").call(&op(req))).unwrap()
                        else {
                            panic!("list answers a page")
                        };
                        assert!(rows.rows.len() <= limit);
                        got.extend(rows.rows);
                        pages += 1;
                        assert!(pages <= want.len() + 1, "pages never end");
                        match next {
                            Some(c) => cursor = Some(c),
                            None => break,
                        }
                    }
                    assert_eq!(
                        got, want,
                        "{} shards, orderBy {order}, where {f}, limit {limit}",
                        s.n
                    );
                }
            }
        }
    }
}

#[test]
fn writes_leave_the_oracle_rows() {
    let h = Harness::new(POLICY, &SHARD_COUNTS);
    load(&h, &mut Rng::from_env(5));
    let update = op(
        serde_json::json!({"op": "update", "key": {"tenant": "big", "id": 3}, "patch": {"views": 1000, "title": "edited"}}),
    );
    for a in write_everywhere(&h, &update) {
        match a {
            TableAnswer::Row(r) if r.rows.len() <= 1 => {}
            other => panic!("{other:?}"),
        }
    }
    let delete = op(serde_json::json!({"op": "delete", "key": {"tenant": "acme", "id": 8}}));
    let answers = write_everywhere(&h, &delete);
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every shard count answers alike: {answers:?}"
    );
    let insert = op(
        serde_json::json!({"op": "insert", "rows": [{"tenant": "new", "id": 500, "status": "draft"}, {"tenant": "big", "id": 501, "status": null}]}),
    );
    for a in write_everywhere(&h, &insert) {
        let TableAnswer::Rows(r) = a else { panic!() };
        assert_eq!(r.rows.len(), 2);
        assert_eq!(
            r.rows[0][1],
            Value::Integer(500),
            "rows come back in the caller's order"
        );
    }
    let tables = vec!["posts".to_string()];
    for s in &h.shards {
        compare_tables(&s.db, &h.oracle, &tables).unwrap_or_else(|e| panic!("{e}"));
    }
    // An update or delete without the shard key is refused as raw SQL would be.
    let blind = op(serde_json::json!({"op": "count", "where": {"nope": 1}}));
    let e = block_on(h.shards[1].db.table("posts").call(&blind)).unwrap_err();
    assert!(e.to_string().contains("\"nope\""), "{e}");
}
