//! The session bookmark d1plus hands out: one string carrying every shard's D1 bookmark
//! (`d1plus1:` then each shard's, `encodeURIComponent`-escaped, comma separated; an empty
//! part for a shard that has none yet). Made and read here only: the JavaScript API and
//! the workers-rs API both call these.

use crate::error::{Error, ErrorCode, Result};

/// The per-shard constraints of a session made from `None`, a constraint, or a bookmark.
/// A part that is not valid percent-escaped UTF-8 makes the bookmark invalid.
pub fn session_parts(constraint_or_bookmark: Option<&str>, shards: usize) -> Result<Vec<String>> {
    // A blank constraint is none, as D1 reads it.
    match constraint_or_bookmark
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => Ok(vec!["first-unconstrained".to_string(); shards]),
        Some(c @ ("first-primary" | "first-unconstrained")) => Ok(vec![c.to_string(); shards]),
        Some(b) => match b.strip_prefix(PREFIX) {
            Some(rest) => {
                let parts = rest
                    .split(',')
                    .map(|p| {
                        if p.is_empty() {
                            Ok("first-unconstrained".to_string())
                        } else {
                            percent_decode(p).ok_or_else(|| {
                                Error::new(
                                    ErrorCode::InvalidBookmark,
                                    format!("the bookmark part {p:?} is not percent-escaped UTF-8"),
                                )
                            })
                        }
                    })
                    .collect::<Result<Vec<String>>>()?;
                if parts.len() != shards {
                    return Err(Error::new(
                        ErrorCode::InvalidBookmark,
                        format!(
                            "the bookmark carries {} shards' bookmarks, this database has {shards}",
                            parts.len()
                        ),
                    ));
                }
                Ok(parts)
            }
            None => Err(Error::new(
                ErrorCode::InvalidBookmark,
                format!("{b:?} is neither a session constraint nor a d1plus bookmark ({PREFIX}…)"),
            )),
        },
    }
}

/// What every d1plus bookmark starts with.
pub const PREFIX: &str = "d1plus1:";

/// One bookmark from each shard's (the same text js/d1plus.js makes).
pub fn compose(marks: &[Option<String>]) -> Option<String> {
    if marks.iter().all(Option::is_none) {
        return None;
    }
    let parts: Vec<String> = marks
        .iter()
        .map(|m| m.as_deref().map(percent_encode).unwrap_or_default())
        .collect();
    Some(format!("{PREFIX}{}", parts.join(",")))
}

/// `encodeURIComponent`'s escaping.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `decodeURIComponent`: None where it throws (a `%` not followed by two hex digits, or
/// bytes that are not UTF-8).
fn percent_decode(s: &str) -> Option<String> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_per_shard() {
        let marks = vec![
            Some("0000-a,b%".to_string()),
            None,
            Some("ü".to_string()),
            None,
        ];
        let b = compose(&marks).unwrap();
        assert_eq!(b, "d1plus1:0000-a%2Cb%25,,%C3%BC,");
        assert_eq!(
            session_parts(Some(&b), 4).unwrap(),
            [
                "0000-a,b%",
                "first-unconstrained",
                "ü",
                "first-unconstrained"
            ]
        );
        assert_eq!(compose(&[None, None]), None);
    }

    #[test]
    fn refuses_what_it_did_not_make() {
        let code = |s: &str, n| session_parts(Some(s), n).unwrap_err().code();
        assert_eq!(code("d1plus1:a,b", 4), ErrorCode::InvalidBookmark);
        assert_eq!(code("00000000-00000004", 4), ErrorCode::InvalidBookmark);
        // What decodeURIComponent throws on: a lone `%`, bad hex, bytes that are not UTF-8.
        assert_eq!(code("d1plus1:%", 1), ErrorCode::InvalidBookmark);
        assert_eq!(code("d1plus1:%zz", 1), ErrorCode::InvalidBookmark);
        assert_eq!(code("d1plus1:%C3", 1), ErrorCode::InvalidBookmark);
    }

    #[test]
    fn constraints_and_blanks() {
        assert_eq!(session_parts(None, 2).unwrap(), ["first-unconstrained"; 2]);
        assert_eq!(
            session_parts(Some("  "), 2).unwrap(),
            ["first-unconstrained"; 2]
        );
        assert_eq!(
            session_parts(Some(" first-primary "), 2).unwrap(),
            ["first-primary"; 2]
        );
    }
}
