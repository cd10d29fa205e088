//! A tokenizer faithful to SQLite's own (`tokenize.c`), with byte spans.
//!
//! sqlparser's tokenizer is not SQLite's (it reads `0x1F` and `$name` differently), so the
//! text-level work of d1plus — splitting scripts into statements, numbering parameters the
//! way SQLite does, splicing edits into the original text, and the token-level fallback for
//! statements sqlparser cannot parse — runs on these tokens instead. Tokenizing never
//! fails: what SQLite would reject becomes an [`TokenKind::Illegal`] token.

use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Spaces, tabs, newlines.
    Space,
    /// `-- …` or `/* … */`.
    Comment,
    /// A bare word: a keyword or an unquoted identifier.
    Word,
    /// `"name"`, `` `name` `` or `[name]`.
    QuotedIdent,
    /// `'text'`.
    String,
    /// `x'0A1B'`.
    Blob,
    /// `42`, `0x1F`, `1.5e3`, `.5`.
    Number,
    /// `?`, `?NNN`, `:name`, `@name`, `$name`.
    Variable,
    /// `;`.
    Semicolon,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `.`.
    Dot,
    /// Any operator: `=`, `==`, `<>`, `||`, `->>`, `+`, ...
    Operator,
    /// Something SQLite's tokenizer rejects (unterminated string, stray character).
    Illegal,
}

/// One token: its kind and its byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Kind.
    pub kind: TokenKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Token {
    /// The token's byte range.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The token's text in `sql`.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        sql.get(self.start..self.end).unwrap_or("")
    }

    /// True for spaces and comments.
    pub fn is_trivia(&self) -> bool {
        matches!(self.kind, TokenKind::Space | TokenKind::Comment)
    }

    /// True when this is the bare word `kw` (case-insensitive).
    pub fn is_keyword(&self, sql: &str, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text(sql).eq_ignore_ascii_case(kw)
    }

    /// For identifiers (bare or quoted), the name they denote, with quotes removed and
    /// doubled quote characters collapsed.
    pub fn ident_name(&self, sql: &str) -> Option<String> {
        let t = self.text(sql);
        match self.kind {
            TokenKind::Word => Some(t.to_string()),
            TokenKind::QuotedIdent => Some(unquote(t)),
            // SQLite accepts a string literal where an identifier is expected.
            TokenKind::String => Some(unquote(t)),
            _ => None,
        }
    }
}

/// Removes the quotes of `"a""b"`, `` `a``b` ``, `[a]` or `'a''b'`.
pub fn unquote(t: &str) -> String {
    let Some(first) = t.chars().next() else {
        return String::new();
    };
    let inner = t.get(1..t.len().saturating_sub(1)).unwrap_or("");
    match first {
        '"' => inner.replace("\"\"", "\""),
        '`' => inner.replace("``", "`"),
        '\'' => inner.replace("''", "'"),
        '[' => inner.to_string(),
        _ => t.to_string(),
    }
}

/// `text` as an SQL string literal.
pub fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Quotes `name` as an identifier when it needs quoting.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain && !is_reserved(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn is_reserved(word: &str) -> bool {
    const RESERVED: &[&str] = &[
        "ALL",
        "AND",
        "AS",
        "BETWEEN",
        "BY",
        "CASE",
        "CHECK",
        "COLLATE",
        "CREATE",
        "DEFAULT",
        "DELETE",
        "DISTINCT",
        "DROP",
        "ELSE",
        "END",
        "ESCAPE",
        "EXCEPT",
        "EXISTS",
        "FROM",
        "GROUP",
        "HAVING",
        "IN",
        "INDEX",
        "INSERT",
        "INTERSECT",
        "INTO",
        "IS",
        "ISNULL",
        "JOIN",
        "LIMIT",
        "NOT",
        "NOTNULL",
        "NULL",
        "ON",
        "OR",
        "ORDER",
        "PRIMARY",
        "REFERENCES",
        "SELECT",
        "SET",
        "TABLE",
        "THEN",
        "TO",
        "UNION",
        "UNIQUE",
        "UPDATE",
        "USING",
        "VALUES",
        "WHEN",
        "WHERE",
        "WINDOW",
        "OFFSET",
        "KEY",
        "ROWID",
    ];
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_id_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// Tokenizes `sql` completely, trivia included. Never fails.
pub fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(sql.len() / 3 + 1);
    tokens.extend(tokens_of(sql));
    tokens
}

/// The tokens of `sql`, trivia included, as they are reached (for a caller that may stop
/// early).
pub fn tokens_of(sql: &str) -> impl Iterator<Item = Token> + '_ {
    let bytes = sql.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= bytes.len() {
            return None;
        }
        let (kind, len) = next_token(&bytes[i..]);
        // Never split a UTF-8 sequence: extend to the next char boundary.
        let mut end = i + len.max(1);
        while end < bytes.len() && !sql.is_char_boundary(end) {
            end += 1;
        }
        let token = Token {
            kind,
            start: i,
            end,
        };
        i = end;
        Some(token)
    })
}

/// The kind and byte length of the token at the start of `z` (non-empty).
fn next_token(z: &[u8]) -> (TokenKind, usize) {
    use TokenKind::*;
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    match z[0] {
        b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' => {
            let n = z
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r'))
                .count();
            (Space, n)
        }
        b'-' => {
            if at(1) == b'-' {
                let n = z.iter().position(|&b| b == b'\n').unwrap_or(z.len());
                (Comment, n)
            } else if at(1) == b'>' {
                (Operator, if at(2) == b'>' { 3 } else { 2 })
            } else {
                (Operator, 1)
            }
        }
        b'(' => (LParen, 1),
        b')' => (RParen, 1),
        b';' => (Semicolon, 1),
        b',' => (Comma, 1),
        b'+' | b'*' | b'%' | b'&' | b'~' => (Operator, 1),
        b'/' => {
            if at(1) == b'*' {
                let n = z[2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map(|p| p + 4)
                    .unwrap_or(z.len());
                (Comment, n)
            } else {
                (Operator, 1)
            }
        }
        b'=' => (Operator, if at(1) == b'=' { 2 } else { 1 }),
        b'<' => (
            Operator,
            if matches!(at(1), b'=' | b'>' | b'<') {
                2
            } else {
                1
            },
        ),
        b'>' => (Operator, if matches!(at(1), b'=' | b'>') { 2 } else { 1 }),
        b'!' => {
            if at(1) == b'=' {
                (Operator, 2)
            } else {
                (Illegal, 1)
            }
        }
        b'|' => (Operator, if at(1) == b'|' { 2 } else { 1 }),
        q @ (b'\'' | b'"' | b'`') => quoted(z, q),
        b'[' => match z.iter().position(|&b| b == b']') {
            Some(p) => (QuotedIdent, p + 1),
            None => (Illegal, z.len()),
        },
        b'.' => {
            if at(1).is_ascii_digit() {
                number(z)
            } else {
                (Dot, 1)
            }
        }
        b'0'..=b'9' => number(z),
        b'?' => {
            let n = z[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            (Variable, 1 + n)
        }
        b'$' | b'@' | b':' | b'#' => named_variable(z),
        b'x' | b'X' if at(1) == b'\'' => {
            let n = z[2..].iter().position(|&b| b == b'\'');
            match n {
                Some(n) if n % 2 == 0 && z[2..2 + n].iter().all(|b| b.is_ascii_hexdigit()) => {
                    (Blob, n + 3)
                }
                Some(n) => (Illegal, n + 3),
                None => (Illegal, z.len()),
            }
        }
        c if is_id_start(c) => {
            let n = z.iter().take_while(|&&b| is_id_char(b)).count();
            (Word, n)
        }
        _ => (Illegal, 1),
    }
}

/// A string (`'…'`) or quoted identifier (`"…"`, `` `…` ``): doubled quotes inside.
fn quoted(z: &[u8], q: u8) -> (TokenKind, usize) {
    use TokenKind::*;
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let mut i = 1;
    loop {
        match z.get(i) {
            None => return (Illegal, z.len()),
            Some(&c) if c == q => {
                if at(i + 1) == q {
                    i += 2;
                } else {
                    let kind = if q == b'\'' { String } else { QuotedIdent };
                    return (kind, i + 1);
                }
            }
            Some(_) => i += 1,
        }
    }
}

/// A named parameter: `:name`, `@name`, `#name`, `$name` (with `::` parts and a TCL-style
/// `(…)` suffix).
fn named_variable(z: &[u8]) -> (TokenKind, usize) {
    use TokenKind::*;
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let mut i = 1;
    loop {
        let c = at(i);
        if is_id_char(c) {
            i += 1;
        } else if z[0] == b'$' && c == b':' && at(i + 1) == b':' {
            i += 2;
        } else if z[0] == b'$' && c == b'(' && i > 1 {
            // TCL-style `$name(...)` suffix.
            match z[i..].iter().position(|&b| b == b')') {
                Some(p) => {
                    i += p + 1;
                    break;
                }
                None => return (Illegal, z.len()),
            }
        } else {
            break;
        }
    }
    if i == 1 {
        (Illegal, 1)
    } else {
        (Variable, i)
    }
}

fn number(z: &[u8]) -> (TokenKind, usize) {
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let mut i;
    if z[0] == b'0' && matches!(at(1), b'x' | b'X') && at(2).is_ascii_hexdigit() {
        i = 2;
        while at(i).is_ascii_hexdigit() {
            i += 1;
        }
    } else {
        i = 0;
        while at(i).is_ascii_digit() {
            i += 1;
        }
        if at(i) == b'.' {
            i += 1;
            while at(i).is_ascii_digit() {
                i += 1;
            }
        }
        if matches!(at(i), b'e' | b'E')
            && (at(i + 1).is_ascii_digit()
                || (matches!(at(i + 1), b'+' | b'-') && at(i + 2).is_ascii_digit()))
        {
            i += 2;
            while at(i).is_ascii_digit() {
                i += 1;
            }
        }
    }
    // `123abc` is one illegal token in SQLite.
    if is_id_char(at(i)) {
        while is_id_char(at(i)) {
            i += 1;
        }
        return (TokenKind::Illegal, i);
    }
    (TokenKind::Number, i)
}

/// The meaningful (non-trivia) tokens of `sql`.
pub fn significant(sql: &str) -> Vec<Token> {
    tokenize(sql)
        .into_iter()
        .filter(|t| !t.is_trivia())
        .collect()
}

/// One statement of a script: its text range, without the terminating `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// Byte range of the statement in the script (trimmed of surrounding trivia).
    pub range: Range<usize>,
}

/// Splits a script into statements at `;` tokens, the way `sqlite3_complete` does: a `;`
/// inside a string, a comment or a `CREATE TRIGGER … BEGIN … END` body does not end a
/// statement. Empty statements are dropped.
pub fn split_statements(sql: &str) -> Vec<ScriptStatement> {
    scan_statements(sql).0
}

/// Whether `sql` ends with a complete statement (its `;` outside strings, comments and
/// trigger bodies), as `sqlite3_complete` answers: what an interactive shell waits for
/// before it runs what was typed. Text with no statement is not complete.
pub fn is_complete(sql: &str) -> bool {
    let (statements, open) = scan_statements(sql);
    !statements.is_empty() && !open
}

/// The statements of a script, and whether its last one lacks its terminating `;`.
fn scan_statements(sql: &str) -> (Vec<ScriptStatement>, bool) {
    scan_tokens(sql, &tokenize(sql))
}

/// The number of statements in `sql`, given all its tokens (trivia included), counted as
/// [`split_statements`] splits.
pub fn count_statements(sql: &str, tokens: &[Token]) -> usize {
    scan_tokens(sql, tokens).0.len()
}

/// [`scan_statements`] over `sql`'s tokens (trivia included).
fn scan_tokens(sql: &str, tokens: &[Token]) -> (Vec<ScriptStatement>, bool) {
    let mut out = Vec::new();
    let mut first: Option<usize> = None; // index of the first significant token
    let mut last_end = 0;
    let mut trigger = TriggerState::None;
    let mut significant_seen = 0usize;
    for (idx, tok) in tokens.iter().enumerate() {
        if tok.is_trivia() {
            continue;
        }
        if tok.kind == TokenKind::Semicolon && !trigger.in_body() {
            if let Some(f) = first.take() {
                out.push(ScriptStatement {
                    range: tokens[f].start..last_end,
                });
            }
            trigger = TriggerState::None;
            significant_seen = 0;
            continue;
        }
        if first.is_none() {
            first = Some(idx);
        }
        significant_seen += 1;
        trigger = trigger.step(tok, sql, significant_seen);
        last_end = tok.end;
    }
    let open = first.is_some();
    if let Some(f) = first {
        out.push(ScriptStatement {
            range: tokens[f].start..last_end,
        });
    }
    (out, open)
}

/// Tracks whether we are inside a trigger body, where `;` separates the body's statements.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TriggerState {
    /// Not a CREATE TRIGGER statement (or not yet known).
    None,
    /// Saw `CREATE` as the first word.
    Create,
    /// `CREATE [TEMP] TRIGGER`, before `BEGIN`.
    Header,
    /// Inside `BEGIN … END`; the number counts open `CASE … END`s.
    Body(u32),
    /// After the body's `END`.
    Done,
    /// Some other statement.
    Other,
}

impl TriggerState {
    fn in_body(self) -> bool {
        matches!(self, TriggerState::Body(_))
    }

    fn step(self, tok: &Token, sql: &str, nth: usize) -> TriggerState {
        use TriggerState::*;
        let kw = |k: &str| tok.is_keyword(sql, k);
        match self {
            None if nth == 1 && kw("CREATE") => Create,
            None if nth == 1 && kw("EXPLAIN") => None,
            None if nth <= 4 && (kw("QUERY") || kw("PLAN")) => None,
            None => Other,
            Create if kw("TEMP") || kw("TEMPORARY") => Create,
            Create if kw("TRIGGER") => Header,
            Create => Other,
            Header if kw("BEGIN") => Body(0),
            Header => Header,
            Body(n) if kw("CASE") => Body(n + 1),
            Body(0) if kw("END") => Done,
            Body(n) if kw("END") => Body(n - 1),
            state => state,
        }
    }
}

/// Whether a statement only reads (D1 may run it alone with `raw()`): SELECT, VALUES, or a
/// WITH whose body is a SELECT. A write with RETURNING goes through `batch()` for its meta.
pub fn returns_rows_only(sql: &str) -> bool {
    let mut words = tokens_of(sql).filter(|t| !t.is_trivia());
    let Some(first) = words.next() else {
        return false;
    };
    if first.is_keyword(sql, "SELECT") || first.is_keyword(sql, "VALUES") {
        return true;
    }
    first.is_keyword(sql, "WITH") && !words.any(|t| is_row_write(sql, &t))
}

/// The keywords that start a statement writing rows.
const ROW_WRITES: [&str; 4] = ["INSERT", "UPDATE", "DELETE", "REPLACE"];

fn is_row_write(sql: &str, t: &Token) -> bool {
    ROW_WRITES.iter().any(|k| t.is_keyword(sql, k))
}

/// The first call, among a statement's significant `tokens`, of a function that reads the
/// connection's state rather than its arguments (`changes()`, `last_insert_rowid()`,
/// `total_changes()`), as written with its parentheses.
pub fn connection_state_call(sql: &str, tokens: &[Token]) -> Option<String> {
    const STATE: [&str; 3] = ["changes", "last_insert_rowid", "total_changes"];
    tokens.windows(2).find_map(|w| {
        let name = match w[0].kind {
            TokenKind::Word => w[0].text(sql).to_string(),
            TokenKind::QuotedIdent => unquote(w[0].text(sql)),
            _ => return None,
        };
        (w[1].kind == TokenKind::LParen && STATE.iter().any(|f| f.eq_ignore_ascii_case(&name)))
            .then(|| format!("{name}()"))
    })
}

/// Whether a statement writes rows (INSERT, UPDATE, DELETE or REPLACE, under WITH too):
/// what sets the connection's `changes()` and, for an INSERT, `last_insert_rowid()`.
pub fn writes_rows(sql: &str) -> bool {
    let mut words = tokens_of(sql).filter(|t| !t.is_trivia());
    let Some(first) = words.next() else {
        return false;
    };
    is_row_write(sql, &first)
        || (first.is_keyword(sql, "WITH") && words.any(|t| is_row_write(sql, &t)))
}

/// Whether a column name is a JavaScript array index ("0" to "4294967294" without
/// leading zeros): an object lists such keys first, whatever order they were set in.
pub fn is_array_index(key: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'))
        && key.parse::<u32>().is_ok_and(|n| n < u32::MAX)
}

/// Whether a statement changes the schema: it starts with CREATE, DROP or ALTER.
pub fn changes_schema(sql: &str) -> bool {
    tokens_of(sql).find(|t| !t.is_trivia()).is_some_and(|t| {
        ["CREATE", "DROP", "ALTER"]
            .iter()
            .any(|k| t.is_keyword(sql, k))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_changes_are_told_by_their_first_keyword() {
        assert!(changes_schema("  /* x */ create TABLE t (a)"));
        assert!(changes_schema("DROP INDEX i"));
        assert!(changes_schema("ALTER TABLE t ADD b"));
        assert!(!changes_schema("SELECT 'CREATE'"));
        assert!(!changes_schema("INSERT INTO t VALUES (1)"));
        assert!(!changes_schema(""));
    }

    fn kinds(sql: &str) -> Vec<(TokenKind, &str)> {
        significant(sql)
            .into_iter()
            .map(|t| (t.kind, t.text(sql)))
            .collect()
    }

    #[test]
    fn sqlite_token_shapes() {
        use TokenKind::*;
        assert_eq!(
            kinds("SELECT 0x1F, - -1, x'0a', 1.5e3, .5, ?2, :a, @b, $c::d(x)"),
            vec![
                (Word, "SELECT"),
                (Number, "0x1F"),
                (Comma, ","),
                (Operator, "-"),
                (Operator, "-"),
                (Number, "1"),
                (Comma, ","),
                (Blob, "x'0a'"),
                (Comma, ","),
                (Number, "1.5e3"),
                (Comma, ","),
                (Number, ".5"),
                (Comma, ","),
                (Variable, "?2"),
                (Comma, ","),
                (Variable, ":a"),
                (Comma, ","),
                (Variable, "@b"),
                (Comma, ","),
                (Variable, "$c::d(x)"),
            ]
        );
        assert_eq!(
            kinds(r#"a->>'$.x' || "q""x" [b c] `d``e`"#),
            vec![
                (Word, "a"),
                (Operator, "->>"),
                (String, "'$.x'"),
                (Operator, "||"),
                (QuotedIdent, r#""q""x""#),
                (QuotedIdent, "[b c]"),
                (QuotedIdent, "`d``e`"),
            ]
        );
        assert_eq!(kinds("'open")[0].0, Illegal);
        assert_eq!(kinds("12abc")[0].0, Illegal);
        assert_eq!(kinds("x'abc'")[0].0, Illegal);
    }

    #[test]
    fn identifiers_unquote() {
        let sql = r#""a""b" [c d] `e``f` 'g'"#;
        let names: Vec<_> = significant(sql)
            .iter()
            .filter_map(|t| t.ident_name(sql))
            .collect();
        assert_eq!(names, vec!["a\"b", "c d", "e`f", "g"]);
        assert_eq!(quote_ident("tenantId"), "tenantId");
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn completeness_is_what_sqlite3_complete_says() {
        for done in [
            "SELECT 1;",
            "SELECT 1; -- trailing comment",
            "SELECT ';'\n;",
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); END;",
            "SELECT 1; SELECT 2;",
        ] {
            assert!(is_complete(done), "{done}");
        }
        for open in [
            "",
            ";",
            "SELECT 1",
            "SELECT ';",
            "SELECT 1 /* ; */",
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1);",
            "SELECT 1; SELECT 2",
        ] {
            assert!(!is_complete(open), "{open}");
        }
    }

    #[test]
    fn splits_scripts_like_sqlite3_complete() {
        let sql = "CREATE TABLE t(a); -- c;\n INSERT INTO t VALUES (';');\n\
                   CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM t; END;\n\
                   /* ; */ ;; SELECT 1";
        let parts: Vec<_> = split_statements(sql)
            .into_iter()
            .map(|s| &sql[s.range])
            .collect();
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert_eq!(parts[1], "INSERT INTO t VALUES (';')");
        assert!(parts[2].starts_with("CREATE TRIGGER") && parts[2].ends_with("END"));
        assert_eq!(parts[3], "SELECT 1");
    }

    #[test]
    fn tokenizing_never_splits_utf8() {
        let sql = "SELECT 'é', \u{1F600}, §";
        for t in tokenize(sql) {
            assert!(sql.is_char_boundary(t.start) && sql.is_char_boundary(t.end));
        }
    }
}
