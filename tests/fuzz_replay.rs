//! Replays the committed fuzz inputs (fuzz/seeds/ and fuzz/regressions/) through the same
//! checks as the fuzz targets, as an ordinary test: CI needs no nightly toolchain for it.

#[path = "../fuzz/common.rs"]
mod common;

use std::path::Path;

fn inputs(dir: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn plan_bytes_seeds_and_regressions_never_panic() {
    let db = common::database();
    let all: Vec<Vec<u8>> = [
        inputs("fuzz/seeds/plan_bytes"),
        inputs("fuzz/regressions/plan_bytes"),
    ]
    .concat();
    assert!(!all.is_empty(), "the committed seeds are missing");
    for data in &all {
        common::check_plan(&db, data);
    }
}

#[test]
fn rewritten_statements_of_the_seeds_prepare() {
    let db = common::database();
    let all: Vec<Vec<u8>> = [
        inputs("fuzz/seeds/rewrite_prepares"),
        inputs("fuzz/regressions/rewrite_prepares"),
    ]
    .concat();
    assert!(!all.is_empty(), "the committed seeds are missing");
    for data in &all {
        common::check_rewrite_prepares(&db, &String::from_utf8_lossy(data));
    }
}

/// Inputs shaped like the ones that hurt parsers: deep nesting, long lists, odd tokens.
/// (A 20,000-item IN list once took 20 s: locating each literal rescanned its line.)
#[test]
fn hostile_inputs_give_errors_not_panics() {
    let db = common::database();
    let deep = format!(
        "SELECT {}1{} FROM events",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let minus = format!("SELECT {}1 FROM events", "- ".repeat(10000));
    let wide = format!(
        "SELECT * FROM events WHERE tenantId IN ({})",
        vec!["'a'"; 20000].join(", ")
    );
    let case = format!("SELECT {} FROM events", "CASE WHEN 1 THEN ".repeat(3000));
    let long = "x".repeat(2 << 20);
    for sql in [
        deep,
        minus,
        wide,
        case,
        long,
        "\u{0}".into(),
        "'".into(),
        "SELECT ?99999".into(),
        ";;;".into(),
    ] {
        let _ = db.plan(&sql, &[], None);
    }
}
