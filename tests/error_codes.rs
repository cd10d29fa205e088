//! Error codes come from one place, `ErrorCode` in src/error.rs: the JavaScript and
//! TypeScript files are generated from it, and every code the JavaScript or the example
//! Worker throws is one of them. `D1PLUS_BLESS=1 cargo test --test error_codes` rewrites
//! the generated files.

use d1plus::error::{Error, ErrorCode};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn generated(path: &str, want: String) {
    let file = root().join(path);
    if std::env::var_os("D1PLUS_BLESS").is_some() {
        std::fs::write(&file, &want).unwrap();
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == want,
        "{path} is not what src/error.rs generates: run `D1PLUS_BLESS=1 cargo test --test error_codes`"
    );
}

#[test]
fn javascript_and_typescript_are_generated_from_the_enum() {
    generated("js/codes.js", ErrorCode::javascript_module());
    generated("js/codes.d.ts", ErrorCode::typescript_declarations());
}

#[test]
fn every_code_round_trips_through_its_text() {
    let mut seen = std::collections::HashSet::new();
    for &c in ErrorCode::ALL {
        assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
        assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        assert!(!c.describe().trim().is_empty(), "{c:?} has no doc");
        let e = Error::new(c, "something");
        assert_eq!(ErrorCode::of_message(&e.to_string()), Some(c));
    }
    assert_eq!(ErrorCode::parse("D1PLUS_NOPE"), None);
    assert_eq!(ErrorCode::of_message("no code here"), None);
}

/// Every `D1…_CODE` string the JavaScript throws is a declared code (a code invented in
/// one place only is how they drifted before).
#[test]
fn javascript_throws_only_declared_codes() {
    let mut unknown = Vec::new();
    for file in ["js/d1plus.js", "worker/index.js"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(at) = text[i..].find("\"D1") {
            let start = i + at + 1;
            let end = start
                + bytes[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                    .count();
            let word = &text[start..end];
            if bytes.get(end) == Some(&b'"')
                && word.contains('_')
                && ErrorCode::parse(word).is_none()
            {
                unknown.push(format!("{file}: {word}"));
            }
            i = end;
        }
    }
    assert!(unknown.is_empty(), "codes not in ErrorCode: {unknown:?}");
}
