//! Every `corpus/*.sql` file through the differential oracle (see corpus/README.md), over
//! 1, 2, 4, 8 and 64 shards.

mod common;

use common::{Harness, Outcome, SHARD_COUNTS};
use d1plus::lex::split_statements;
use d1plus::value::Value;
use std::path::Path;

fn run_file(path: &Path, default_policy: Option<&str>) {
    let text = std::fs::read_to_string(path).unwrap();
    let policy = text
        .lines()
        .find_map(|l| l.strip_prefix("-- policy: "))
        .map(str::to_string)
        .or_else(|| default_policy.map(str::to_string))
        .unwrap_or_else(|| panic!("{}: no `-- policy:` line", path.display()));
    let h = Harness::new(&policy, &SHARD_COUNTS);
    let mut prev_end = 0;
    for st in split_statements(&text) {
        let before = &text[prev_end..st.range.start];
        prev_end = st.range.end;
        let sql = &text[st.range.clone()];
        let directive = |name: &str| {
            before
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let params: Vec<Value> = directive("-- params:")
            .map(|p| serde_json::from_str(&p).unwrap())
            .unwrap_or_default();
        let ordered = before.lines().any(|l| l.trim() == "-- ordered");
        let ctx = format!("{}: {sql}", path.display());
        if let Some(code) = directive("-- expect:") {
            match h.run(sql, &params, None) {
                Outcome::Refused(e) => assert_eq!(e.code().as_str(), code, "{ctx}: {e}"),
                Outcome::Ok(_) => panic!("{ctx}: expected {code}"),
            }
            continue;
        }
        let first = sql
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if first == "SELECT" || first == "WITH" {
            match h.compare_with(sql, &params, ordered) {
                Ok(true) => {}
                Ok(false) => panic!("{ctx}: refused (mark it `-- expect:` if that is intended)"),
                Err(e) => panic!("{ctx}: {e}"),
            }
        } else if let Outcome::Refused(e) = h.run(sql, &params, None) {
            panic!("{ctx}: refused: {e}");
        }
    }
    h.check_invariants();
}

#[test]
fn corpus_files_match_the_oracle() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        run_file(&f, None);
    }
}

#[test]
fn generator_regressions_still_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/regressions");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .collect();
    let mut ran = 0;
    let setup = std::fs::read_to_string(dir.join("setup.sql")).unwrap_or_default();
    let policy = std::fs::read_to_string(dir.join("policy.json")).ok();
    for e in entries {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "sql")
            && p.file_name().is_some_and(|n| n != "setup.sql")
        {
            // Each reproducer runs after the generator's schema and data.
            let tmp = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(
                tmp.path(),
                format!("{setup}\n{}", std::fs::read_to_string(&p).unwrap()),
            )
            .unwrap();
            run_file(tmp.path(), policy.as_deref());
            ran += 1;
        }
    }
    assert!(ran > 0, "no reproducers in {}", dir.display());
}
