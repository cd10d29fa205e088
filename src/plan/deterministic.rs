//! Writes to reference tables run on every copy, so they must give every copy the same
//! values: the check that refuses volatile functions and clock reads in them.

use super::Context;
use crate::error::{Error, ErrorCode, Result};
use crate::parse::Parsed;
use crate::plan::params::Params;
use crate::value::Value;

/// A write to a reference table runs on every copy, so it must give every copy the same
/// values: no volatile function (`random()`, `changes()`, …), no date and time function
/// that reads the clock (no arguments, `'now'`, or an argument that may hold `'now'`), no
/// `CURRENT_TIMESTAMP`, and no column left out whose DEFAULT is one of those.
pub(crate) fn check_deterministic(
    parsed: &Parsed,
    table: &str,
    params: &Params<'_>,
    cx: Context<'_>,
) -> Result<()> {
    let refuse = |what: String| {
        Error::with_remedy(
            ErrorCode::Unsupported,
            format!("a write to reference table {table} uses {what}, which would give each shard's copy a different value"),
            "compute the value in the application and bind it as a parameter",
        )
    };
    let toks: Vec<&crate::lex::Token> = parsed.tokens.iter().filter(|t| !t.is_trivia()).collect();
    let bound = |t: &crate::lex::Token| {
        parsed
            .params
            .index_at(t.start)
            .and_then(|i| params.value(i).ok())
    };
    if let Some(what) = volatile_in(&parsed.sql, &toks, &bound) {
        return Err(refuse(what));
    }
    // Columns an INSERT leaves to their DEFAULT.
    if let Ok(sqlparser::ast::Statement::Insert(ins)) = &parsed.ast {
        if let Some(t) = cx.catalog.get(table) {
            let default_values = ins.source.is_none();
            for c in &t.columns {
                let listed = !default_values
                    && (ins.columns.is_empty()
                        || ins
                            .columns
                            .iter()
                            .any(|n| crate::sql::object_name(n).eq_ignore_ascii_case(&c.name)));
                let Some(default) = c.default.as_deref().filter(|_| !listed) else {
                    continue;
                };
                let dt = crate::lex::significant(default);
                let dt: Vec<&crate::lex::Token> = dt.iter().collect();
                if let Some(what) = volatile_in(default, &dt, &|_| None) {
                    return Err(refuse(format!("column {}'s DEFAULT {what}", c.name)));
                }
            }
        }
    }
    Ok(())
}

/// The arguments of a call whose `(` starts `toks`, split at top-level commas, up to the
/// matching `)` (empty arguments left out).
fn call_arguments<'t>(toks: &[&'t crate::lex::Token]) -> Vec<Vec<&'t crate::lex::Token>> {
    use crate::lex::TokenKind as K;
    let mut depth = 0;
    let mut args: Vec<Vec<&crate::lex::Token>> = vec![Vec::new()];
    for a in toks {
        match a.kind {
            K::LParen => depth += 1,
            K::RParen => depth -= 1,
            K::Comma if depth == 1 => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            break;
        }
        if !(a.kind == K::LParen && depth == 1) {
            if let Some(last) = args.last_mut() {
                last.push(*a);
            }
        }
    }
    args.retain(|a| !a.is_empty());
    args
}

/// The first volatile construct among the tokens of `sql`, if any.
fn volatile_in(
    sql: &str,
    toks: &[&crate::lex::Token],
    bound: &dyn Fn(&crate::lex::Token) -> Option<Value>,
) -> Option<String> {
    use crate::lex::TokenKind as K;
    const VOLATILE: &[&str] = &[
        "random",
        "randomblob",
        "last_insert_rowid",
        "changes",
        "total_changes",
    ];
    const CLOCK: &[&str] = &[
        "date",
        "time",
        "datetime",
        "julianday",
        "unixepoch",
        "strftime",
        "timediff",
    ];
    const NOW: &[&str] = &["current_timestamp", "current_date", "current_time"];
    // SQLite reads the clock for the time values 'now', 'subsec' and 'subsecond'.
    let is_now = |v: &str| {
        ["now", "subsec", "subsecond"]
            .iter()
            .any(|n| v.trim().eq_ignore_ascii_case(n))
    };
    for (i, t) in toks.iter().enumerate() {
        if t.kind != K::Word {
            continue;
        }
        let name = t.text(sql);
        if NOW.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Some(name.to_string());
        }
        let call = toks.get(i + 1).is_some_and(|n| n.kind == K::LParen);
        if !call {
            continue;
        }
        if VOLATILE.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Some(format!("{name}()"));
        }
        if !CLOCK.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        let args = call_arguments(&toks[i + 1..]);
        // Which arguments are time values (the others are formats and modifiers).
        let time_values: &[usize] = if name.eq_ignore_ascii_case("strftime") {
            &[1]
        } else if name.eq_ignore_ascii_case("timediff") {
            &[0, 1]
        } else {
            &[0]
        };
        let reads_clock = time_values.iter().any(|&v| match args.get(v) {
            // An omitted time value is 'now'.
            None => true,
            Some(arg) => arg.iter().enumerate().any(|(j, a)| match a.kind {
                K::String => is_now(&crate::lex::unquote(a.text(sql))),
                K::Variable => match bound(a) {
                    Some(Value::Text(v)) => is_now(&v),
                    _ => false,
                },
                // A column may hold 'now'; a nested call is checked on its own.
                K::QuotedIdent => true,
                K::Word => {
                    let nested = arg.get(j + 1).is_some_and(|n| n.kind == K::LParen);
                    !nested
                        && !["NULL", "TRUE", "FALSE", "AS", "CAST", "COLLATE"]
                            .iter()
                            .any(|k| a.is_keyword(sql, k))
                }
                _ => false,
            }),
        });
        if reads_clock {
            return Some(format!("{name}() reading the clock"));
        }
    }
    None
}
