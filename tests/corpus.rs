//! Every `corpus/*.sql` file through the differential oracle (see corpus/README.md), over
//! 1, 2, 4, 8 and 64 shards.

mod common;

use common::{Harness, Outcome, SHARD_COUNTS};
use d1plus::lex::split_statements;
use d1plus::slt::{bind_literals, literal_choice};
use d1plus::value::Value;
use std::path::Path;

fn run_file(path: &Path, default_policy: Option<&str>) {
    // Which literals run bound: the same on every run with the same D1PLUS_SEED.
    let seed: u64 = std::env::var("D1PLUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
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
        // The same statement with some literals as parameters (reads: as well; writes:
        // instead, half of them), when it has none of its own.
        let bound = (params.is_empty()
            && !d1plus::lex::tokens_of(sql).any(|t| t.kind == d1plus::lex::TokenKind::Variable))
        .then(|| bind_literals(sql, literal_choice(sql, seed)))
        .filter(|(_, values)| !values.is_empty());
        if first == "SELECT" || first == "WITH" {
            match h.compare_with(sql, &params, ordered) {
                Ok(true) => {}
                Ok(false) => panic!("{ctx}: refused (mark it `-- expect:` if that is intended)"),
                Err(e) => panic!("{ctx}: {e}"),
            }
            if let Some((sql, values)) = &bound {
                if let Err(e) = h.compare_with(sql, values, ordered) {
                    panic!("{ctx}\nwith parameters {values:?}: {sql}\n{e}");
                }
            }
        } else {
            let (sql, params) = match &bound {
                Some((bound_sql, values))
                    if matches!(first.as_str(), "INSERT" | "REPLACE" | "UPDATE" | "DELETE")
                        && literal_choice(sql, seed) & 2 != 0 =>
                {
                    (bound_sql.as_str(), values.clone())
                }
                _ => (sql, params),
            };
            let mut outcome = h.run(sql, &params, None);
            if let (Outcome::Refused(e), Some(_)) = (&outcome, &bound) {
                // A key given as an expression over parameters is refused (a gap): the
                // literal statement, which is not, runs instead. Nothing ran yet.
                assert_ne!(e.code(), d1plus::error::ErrorCode::Internal, "{ctx}: {e}");
                outcome = h.run(&text[st.range.clone()], &[], None);
            }
            if let Outcome::Refused(e) = outcome {
                panic!("{ctx}: refused: {e}\n(as run: {sql} {params:?})");
            }
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
