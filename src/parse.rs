//! Stage 1, parse: SQL text to tokens, SQLite parameter numbering and (when sqlparser can
//! read it) an AST. Parsing never fails outright: text sqlparser cannot read keeps its
//! tokens, and routing falls back to a token scan (see `analyze`).

use crate::error::{Error, ErrorCode, Result};
use crate::lex::{self, Token, TokenKind};
use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token as SqlToken};

/// Longest SQL text d1plus accepts (D1 itself allows 100 KB per statement).
pub const MAX_SQL_BYTES: usize = 1 << 20;
/// Deepest expression nesting sqlparser may recurse into before refusing.
pub const MAX_NESTING: usize = 64;
/// SQLite's highest parameter number (`SQLITE_MAX_VARIABLE_NUMBER`).
pub const MAX_PARAM_INDEX: usize = 32766;

/// One statement, parsed.
#[derive(Debug)]
pub struct Parsed {
    /// The original text.
    pub sql: String,
    /// Significant tokens (no spaces or comments).
    pub tokens: Vec<Token>,
    /// Parameter numbering.
    pub params: Params,
    /// The AST, or why sqlparser could not read the text.
    pub ast: std::result::Result<Statement, ParserError>,
    source_map: SourceMap,
}

/// How SQLite numbers the parameters of a statement: `?` takes the next number, `?NNN`
/// takes NNN, and a named parameter (`:a`, `@a`, `$a`) takes the next number the first
/// time it appears and the same number afterwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// Number of values the statement binds (the highest parameter number).
    pub count: usize,
    /// For each variable token, in text order: its byte offset and its 1-based number.
    pub occurrences: Vec<(usize, usize)>,
    /// Named parameters and their numbers.
    pub names: Vec<(String, usize)>,
}

impl Params {
    /// Numbers the variable tokens of `sql` as SQLite does.
    pub fn number(sql: &str, tokens: &[Token]) -> Result<Params> {
        let mut p = Params::default();
        // A virtual table's module arguments are text handed to the module, not SQL:
        // SQLite numbers no parameter in them (`USING fts5(ti@tle, body)`).
        let is_vtab = tokens.len() > 2
            && tokens[0].is_keyword(sql, "CREATE")
            && tokens[1].is_keyword(sql, "VIRTUAL");
        let module_args = if is_vtab {
            tokens
                .iter()
                .position(|t| t.is_keyword(sql, "USING"))
                .and_then(|u| {
                    tokens[u..]
                        .iter()
                        .position(|t| t.kind == TokenKind::LParen)
                        .map(|l| u + l)
                })
                .map(|l| tokens[l].start)
        } else {
            None
        };
        for t in tokens
            .iter()
            .filter(|t| t.kind == TokenKind::Variable)
            .filter(|t| module_args.is_none_or(|at| t.start < at))
        {
            let text = t.text(sql);
            let index = if text == "?" {
                p.count + 1
            } else if let Some(digits) = text.strip_prefix('?') {
                match digits.parse::<usize>() {
                    Ok(n) if (1..=MAX_PARAM_INDEX).contains(&n) => n,
                    _ => {
                        return Err(Error::new(
                            ErrorCode::ParseError,
                            format!(
                                "variable number must be between ?1 and ?{MAX_PARAM_INDEX}: {text}"
                            ),
                        ))
                    }
                }
            } else if let Some((_, n)) = p.names.iter().find(|(name, _)| name == text) {
                *n
            } else {
                p.names.push((text.to_string(), p.count + 1));
                p.count + 1
            };
            p.count = p.count.max(index);
            p.occurrences.push((t.start, index));
        }
        Ok(p)
    }

    /// The number of the variable token starting at byte `offset`.
    pub fn index_at(&self, offset: usize) -> Option<usize> {
        self.occurrences
            .binary_search_by_key(&offset, |(o, _)| *o)
            .ok()
            .map(|i| self.occurrences[i].1)
    }
}

/// Converts sqlparser's (line, column) locations (columns count characters) into byte
/// offsets in constant time: ASCII lines map directly; other lines keep a table of their
/// characters' byte offsets.
#[derive(Debug, Clone)]
struct SourceMap {
    /// Per line: its first byte, and the byte offset of each character when the line is
    /// not ASCII.
    lines: Vec<(usize, Option<Vec<usize>>)>,
}

impl SourceMap {
    fn new(sql: &str) -> SourceMap {
        let mut lines = Vec::new();
        let mut start = 0;
        for line in sql.split_inclusive('\n') {
            let chars =
                (!line.is_ascii()).then(|| line.char_indices().map(|(i, _)| start + i).collect());
            lines.push((start, chars));
            start += line.len();
        }
        if lines.is_empty() || sql.ends_with('\n') {
            lines.push((start, None));
        }
        SourceMap { lines }
    }

    fn offset(&self, sql: &str, loc: Location) -> Option<usize> {
        let (line_start, chars) = self.lines.get((loc.line as usize).checked_sub(1)?)?;
        let col = (loc.column as usize).checked_sub(1)?;
        let offset = match chars {
            None => line_start + col,
            Some(chars) => match chars.get(col) {
                Some(&o) => o,
                None => line_start + sql.get(*line_start..)?.split_inclusive('\n').next()?.len(),
            },
        };
        (offset <= sql.len()).then_some(offset)
    }
}

impl Parsed {
    /// Parses one statement. Errors only for input no SQLite would take either: too long,
    /// more than one statement, bad parameter numbers.
    pub fn new(sql: &str) -> Result<Parsed> {
        if sql.len() > MAX_SQL_BYTES {
            return Err(Error::with_remedy(
                ErrorCode::LimitExceeded,
                format!(
                    "statement is {} bytes long; the limit is {MAX_SQL_BYTES}",
                    sql.len()
                ),
                "split the statement",
            ));
        }
        // SQLite ends a statement at a NUL byte; text after it would be routed by d1plus but
        // never run by the shard (`DELETE FROM t /*\0*/ WHERE key = 1` deletes every row).
        if let Some(at) = sql.find('\0') {
            return Err(Error::with_remedy(
                ErrorCode::ParseError,
                format!("the SQL text holds a NUL byte at offset {at}; SQLite would ignore everything after it"),
                "remove the NUL byte",
            ));
        }
        // One tokenization: the statements are counted on every token, then the trivia
        // (spaces, comments) dropped.
        let mut tokens = lex::tokenize(sql);
        let statements = lex::count_statements(sql, &tokens);
        tokens.retain(|t| !t.is_trivia());
        if statements == 0 {
            return Err(Error::new(
                ErrorCode::ParseError,
                "empty statement: no SQL to run",
            ));
        }
        if statements > 1 {
            return Err(Error::with_remedy(
                ErrorCode::ParseError,
                "prepare() takes one statement, but the SQL text holds several",
                "use exec() for scripts, or batch() with one prepared statement each",
            ));
        }
        let run = longest_operator_run(sql, &tokens);
        if run > MAX_OPERATOR_RUN {
            return Err(Error::with_remedy(
                ErrorCode::LimitExceeded,
                format!("an expression chains {run} operators; SQLite refuses expression trees deeper than 1000 (D1: 100)"),
                "use IN (…) for long lists of alternatives, or split the expression",
            ));
        }
        if let Some(bad) = tokens.iter().find(|t| t.kind == TokenKind::Illegal) {
            return Err(Error::new(
                ErrorCode::ParseError,
                format!("unrecognized token: \"{}\"", bad.text(sql)),
            ));
        }
        let params = Params::number(sql, &tokens)?;
        let ast = parse_one(sql);
        Ok(Parsed {
            sql: sql.to_string(),
            tokens,
            params,
            ast,
            source_map: SourceMap::new(sql),
        })
    }

    /// Byte offset of a sqlparser location in [`Parsed::sql`].
    pub fn offset(&self, loc: Location) -> Option<usize> {
        self.source_map.offset(&self.sql, loc)
    }

    /// The token starting at byte `offset`.
    pub fn token_at(&self, offset: usize) -> Option<&Token> {
        self.tokens
            .binary_search_by_key(&offset, |t| t.start)
            .ok()
            .map(|i| &self.tokens[i])
    }

    /// The token index of the parenthesis closing the `(` at token index `open`.
    pub fn closing_paren(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.tokens.iter().enumerate().skip(open) {
            match t.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The first keyword, upper-cased (`SELECT`, `WITH`, `PRAGMA`, ...).
    pub fn first_keyword(&self) -> String {
        self.tokens
            .first()
            .map(|t| t.text(&self.sql).to_ascii_uppercase())
            .unwrap_or_default()
    }
}

/// Operators one expression may chain (see [`longest_operator_run`]). SQLite refuses
/// expression trees deeper than 1000 (D1 than 100), so nothing SQLite runs is refused, and
/// no tree deep enough to exhaust a (wasm) stack is ever built.
pub const MAX_OPERATOR_RUN: usize = 1000;

/// The most operators between two separators (`,`, a parenthesis, a clause keyword): an
/// upper bound on how deep a chain like `1 + 1 + …` or `a = 1 OR a = 2 OR …` nests.
fn longest_operator_run(sql: &str, tokens: &[lex::Token]) -> usize {
    const OPERATOR_WORDS: [&str; 12] = [
        "AND", "OR", "NOT", "IS", "IN", "LIKE", "GLOB", "REGEXP", "MATCH", "BETWEEN", "COLLATE",
        "ESCAPE",
    ];
    // Words that start a list element or a clause: what follows them is a new expression.
    const SEPARATOR_WORDS: [&str; 22] = [
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "HAVING",
        "ORDER",
        "LIMIT",
        "OFFSET",
        "ON",
        "USING",
        "SET",
        "VALUES",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "JOIN",
        "RETURNING",
        "UNION",
        "INTERSECT",
        "EXCEPT",
    ];
    /// The word's class: 1 an operator, 2 a separator, 0 neither (no word of either list
    /// is longer than 9 bytes, so longer ones are compared with none).
    fn class(word: &str) -> u8 {
        if word.len() > 9 {
            return 0;
        }
        let mut upper = [0u8; 9];
        let upper = &mut upper[..word.len()];
        upper.copy_from_slice(word.as_bytes());
        upper.make_ascii_uppercase();
        let is = |list: &[&str]| list.iter().any(|w| w.as_bytes() == &*upper);
        if is(&OPERATOR_WORDS) {
            1
        } else if is(&SEPARATOR_WORDS) {
            2
        } else {
            0
        }
    }
    let mut longest = 0;
    let mut run = 0;
    for t in tokens {
        match t.kind {
            TokenKind::Operator => run += 1,
            TokenKind::Word => match class(t.text(sql)) {
                1 => run += 1,
                2 => run = 0,
                _ => {}
            },
            TokenKind::Comma | TokenKind::LParen | TokenKind::RParen | TokenKind::Semicolon => {
                run = 0
            }
            _ => {}
        }
        longest = longest.max(run);
    }
    longest
}

/// sqlparser's SQLite dialect with what SQLite itself reads and the dialect leaves out: the
/// shift operators `<<` and `>>`, and SQLite's precedence for the bitwise operators (`&`,
/// `|`, `<<` and `>>` bind equally, left to right) and for `||` (tighter than `*`).
/// sqlparser's own `dialect_of!(… is SQLiteDialect)` checks still see SQLite.
///
/// It also reads a plain name in an expression (`tenantId = ?`) straight away: sqlparser
/// first tries every word there as a type name (`DATE '2020-01-01'`) and builds an error
/// message when it is not one, which is most of what a column costs to parse
/// (see [`D1Dialect::plain_prefix`]).
#[derive(Debug, Clone, Copy)]
struct D1Dialect {
    sqlite: SQLiteDialect,
    /// Plain names read without the type-name attempt (off only to test that it changes
    /// nothing).
    plain_names: bool,
}

impl Default for D1Dialect {
    fn default() -> D1Dialect {
        D1Dialect {
            sqlite: SQLiteDialect {},
            plain_names: true,
        }
    }
}

impl D1Dialect {
    /// The dialect with sqlparser's own prefix parsing (no [`D1Dialect::plain_prefix`]),
    /// which the direct reading is checked against.
    fn sqlparser_prefixes() -> D1Dialect {
        D1Dialect {
            plain_names: false,
            ..D1Dialect::default()
        }
    }

    /// Below `+`/`-` (30) and above comparisons (20), as in SQLite's grammar.
    const BITWISE: u8 = 22;
    /// Above `*`, `/` and `%` (40).
    const CONCAT: u8 = 45;

    /// A parameter or a literal number, string or blob; or a name that is no keyword of
    /// sqlparser's (quoted or not), followed by a token that ends it as a plain name: read
    /// as sqlparser's own prefix parsing reads it once its attempts fail (a type name, a
    /// keyword's special form, a function call, a `_charset'…'` string, a lambda). The
    /// name is read as `Expr::Identifier`; a `.` after it is read by sqlparser as usual
    /// (`a.b`). sqlparser's attempts count one level of
    /// nesting more, so a name at the nesting limit reads here where sqlparser's own path
    /// would stop with `RecursionLimitExceeded` (a deeper statement is still refused).
    fn plain_prefix(
        &self,
        parser: &mut Parser,
    ) -> Option<std::result::Result<sqlparser::ast::Expr, ParserError>> {
        use sqlparser::keywords::Keyword;
        if !self.plain_names
            || self.sqlite.supports_lambda_functions()
            || self.sqlite.supports_geometric_types()
            || self.sqlite.supports_xml_expressions()
        {
            return None;
        }
        let word = match &parser.peek_token_ref().token {
            SqlToken::Word(word) => word,
            // A value: sqlparser reads it with `parse_value` once the type-name attempt
            // fails.
            SqlToken::Placeholder(_)
            | SqlToken::Number(..)
            | SqlToken::SingleQuotedString(_)
            | SqlToken::HexStringLiteral(_) => {
                return Some(parser.parse_value().map(sqlparser::ast::Expr::Value))
            }
            _ => return None,
        };
        if word.keyword != Keyword::NoKeyword {
            return None;
        }
        // Only tokens after which sqlparser's attempts all fail at once; anything else
        // (`(`, strings, `[`, `::`, `->`) goes the long way.
        let ends = matches!(
            parser.peek_nth_token_ref(1).token,
            SqlToken::EOF
                | SqlToken::Comma
                | SqlToken::RParen
                | SqlToken::SemiColon
                | SqlToken::Period
                | SqlToken::Eq
                | SqlToken::DoubleEq
                | SqlToken::Neq
                | SqlToken::Lt
                | SqlToken::Gt
                | SqlToken::LtEq
                | SqlToken::GtEq
                | SqlToken::Plus
                | SqlToken::Minus
                | SqlToken::Mul
                | SqlToken::Div
                | SqlToken::Mod
                | SqlToken::StringConcat
                | SqlToken::Word(_)
        );
        if !ends {
            return None;
        }
        let name = word.clone();
        let span = parser.peek_token_ref().span;
        parser.advance_token();
        Some(Ok(sqlparser::ast::Expr::Identifier(name.into_ident(span))))
    }

    /// SQLite's `x IS y` and `x IS NOT y` for any `y`, where sqlparser reads only `IS [NOT]`
    /// followed by NULL, TRUE, FALSE, DISTINCT FROM and other dialects' predicates (`JSON`,
    /// `NORMALIZED`, `UNKNOWN`, which in SQLite are names). They mean `IS [NOT] DISTINCT FROM`
    /// and read as such. Their right side binds like `=`'s (SQLite ranks them together), so
    /// `a IS b = c` reads `(a IS b) = c`; a chain with `<` reads as sqlparser reads `a = b < c`
    /// (see `plan::aggregate::builder::check_precedence`).
    fn sqlite_is(
        &self,
        parser: &mut Parser,
        left: &sqlparser::ast::Expr,
    ) -> Option<std::result::Result<sqlparser::ast::Expr, ParserError>> {
        use sqlparser::keywords::Keyword;
        let keyword = |t: &sqlparser::tokenizer::TokenWithSpan| match &t.token {
            SqlToken::Word(w) => Some(w.keyword),
            _ => None,
        };
        if keyword(parser.peek_token_ref()) != Some(Keyword::IS) {
            return None;
        }
        let negated = keyword(parser.peek_nth_token_ref(1)) == Some(Keyword::NOT);
        let operand = keyword(parser.peek_nth_token_ref(1 + usize::from(negated)));
        if matches!(
            operand,
            Some(Keyword::NULL | Keyword::TRUE | Keyword::FALSE | Keyword::DISTINCT)
        ) {
            return None;
        }
        parser.advance_token();
        if negated {
            parser.advance_token();
        }
        let precedence = self.prec_value(sqlparser::dialect::Precedence::Eq);
        let right = match parser.parse_subexpr(precedence) {
            Ok(right) => Box::new(right),
            Err(e) => return Some(Err(e)),
        };
        let left = Box::new(left.clone());
        Some(Ok(if negated {
            sqlparser::ast::Expr::IsDistinctFrom(left, right)
        } else {
            sqlparser::ast::Expr::IsNotDistinctFrom(left, right)
        }))
    }
}

impl Dialect for D1Dialect {
    fn dialect(&self) -> std::any::TypeId {
        std::any::TypeId::of::<SQLiteDialect>()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.sqlite.is_delimited_identifier_start(ch)
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.sqlite.identifier_quote_style(identifier)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.sqlite.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.sqlite.is_identifier_part(ch)
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        self.sqlite.supports_filter_during_aggregation()
    }
    fn supports_start_transaction_modifier(&self) -> bool {
        self.sqlite.supports_start_transaction_modifier()
    }
    fn parse_statement(
        &self,
        parser: &mut Parser,
    ) -> Option<std::result::Result<Statement, ParserError>> {
        self.sqlite.parse_statement(parser)
    }
    fn parse_prefix(
        &self,
        parser: &mut Parser,
    ) -> Option<std::result::Result<sqlparser::ast::Expr, ParserError>> {
        self.plain_prefix(parser)
    }
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &sqlparser::ast::Expr,
        precedence: u8,
    ) -> Option<std::result::Result<sqlparser::ast::Expr, ParserError>> {
        if let Some(is) = self.sqlite_is(parser, expr) {
            return Some(is);
        }
        self.sqlite.parse_infix(parser, expr, precedence)
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<std::result::Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            SqlToken::Pipe | SqlToken::Ampersand | SqlToken::ShiftLeft | SqlToken::ShiftRight => {
                Some(Ok(Self::BITWISE))
            }
            SqlToken::StringConcat => Some(Ok(Self::CONCAT)),
            _ => None,
        }
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        true
    }
    fn supports_in_empty_list(&self) -> bool {
        self.sqlite.supports_in_empty_list()
    }
    fn supports_limit_comma(&self) -> bool {
        self.sqlite.supports_limit_comma()
    }
    fn supports_asc_desc_in_column_definition(&self) -> bool {
        self.sqlite.supports_asc_desc_in_column_definition()
    }
    fn supports_dollar_placeholder(&self) -> bool {
        self.sqlite.supports_dollar_placeholder()
    }
    fn supports_notnull_operator(&self) -> bool {
        self.sqlite.supports_notnull_operator()
    }
    fn supports_comma_separated_trim(&self) -> bool {
        self.sqlite.supports_comma_separated_trim()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.sqlite.supports_numeric_literal_underscores()
    }
}

/// One expression read alone (as d1plus reads statements), or None when the text is not
/// exactly one expression.
pub(crate) fn parse_expression(text: &str) -> Option<sqlparser::ast::Expr> {
    let dialect = D1Dialect::default();
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(text)
        .ok()?;
    let expr = parser.parse_expr().ok()?;
    (parser.peek_token_ref().token == sqlparser::tokenizer::Token::EOF).then_some(expr)
}

/// Whether `sql` parses to the same tree (spans included), or fails with the same error,
/// with and without the dialect's direct reading of plain names and values (see
/// `D1Dialect::plain_prefix`): for the fuzz targets, which check it on every input.
#[doc(hidden)]
pub fn plain_prefix_agrees(sql: &str) -> bool {
    let slow = parse_one_with(sql, D1Dialect::sqlparser_prefixes());
    // sqlparser's type-name attempt takes one more level of nesting, so near the limit only
    // its own path runs out of levels (the direct path goes on, to a tree or another error).
    matches!(slow, Err(ParserError::RecursionLimitExceeded))
        || format!("{:?}", parse_one(sql)) == format!("{slow:?}")
}

fn parse_one(sql: &str) -> std::result::Result<Statement, ParserError> {
    parse_one_with(sql, D1Dialect::default())
}

fn parse_one_with(sql: &str, dialect: D1Dialect) -> std::result::Result<Statement, ParserError> {
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(sql)?;
    let mut statements = parser.parse_statements()?;
    // sqlparser stops at an END keyword (the end of a BEGIN … END block) and leaves the
    // rest unread, where SQLite may read END as an alias (`FROM users END ORDER BY id`):
    // an AST that covers less than the statement must not be planned from.
    let rest = parser.peek_token();
    if rest.token != sqlparser::tokenizer::Token::EOF {
        return Err(ParserError::ParserError(format!(
            "{} at {} is left unread",
            rest.token, rest.span.start
        )));
    }
    if statements.len() == 1 {
        statements
            .pop()
            .ok_or_else(|| ParserError::ParserError("no statement".into()))
    } else {
        Err(ParserError::ParserError(format!(
            "expected one statement, found {}",
            statements.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parameters_like_sqlite() {
        let p = Parsed::new("SELECT ?, :a, ?5, ?, :a, @b, ?").unwrap();
        let numbers: Vec<usize> = p.params.occurrences.iter().map(|(_, n)| *n).collect();
        assert_eq!(numbers, vec![1, 2, 5, 6, 2, 7, 8]);
        assert_eq!(p.params.count, 8);
        // Module arguments are the module's text, not SQL.
        let p = Parsed::new("CREATE VIRTUAL TABLE docs USING fts5(ti@tle, :body)").unwrap();
        assert_eq!(p.params.count, 0);
        assert!(Parsed::new("SELECT ?0").is_err());
        assert!(Parsed::new("SELECT ?40000").is_err());
    }

    #[test]
    fn plain_names_read_as_sqlparser_reads_them() {
        // Every statement of the grammar tests and the corpus, and shapes around names,
        // parse to the same tree (spans included) with and without the plain-name path.
        let slow = D1Dialect::sqlparser_prefixes();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts: Vec<String> = [
            "SELECT a, b c, \"odd \"\"name\"\"\" AS d, [e], `f`, g.h, i.* FROM t WHERE j = ? AND k <> 1 OR l IS NOT NULL",
            "SELECT x FROM t ORDER BY y DESC, z COLLATE NOCASE LIMIT n",
            "SELECT f(a), _x'00', a -> '$.b', a ->> 'c', a::text, a[1], a || b, -a, a % b FROM t",
            "SELECT CASE a WHEN b THEN c ELSE d END, cast(a AS INTEGER), a BETWEEN b AND c, a NOT IN (b, c)",
            "SELECT date, time, name, key, value, data, type FROM t WHERE date = '2020-01-01' AND x = DATE '2020'",
            "UPDATE t SET a = b + 1 WHERE c = d RETURNING e, f",
            "CREATE TABLE t (a INTEGER DEFAULT b, c TEXT CHECK (c <> d))",
            "SELECT a FROM t GROUP BY b HAVING count(c) > d",
            "SELECT a",
            "SELECT a.",
            "SELECT a b c",
            "SELECT ?, ?1, :a, @b, $c, 1, 1.5e3, 0x1F, 'x' 'y', x'00', X'0A', -1, - ?, (?), ?.a",
            "INSERT INTO t VALUES (?, 'a', 2, x'ff', NULL), (:a, @b, $c, -3, ?5)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for dir in ["grammar-tests", "corpus", "corpus/regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "sql") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    texts.extend(
                        crate::lex::split_statements(&text)
                            .into_iter()
                            .map(|st| text[st.range].to_string()),
                    );
                }
            }
        }
        // With the sqllogictest files (`.ci/run` sets the variable): their statements too.
        if let Ok(dir) = std::env::var("D1PLUS_SLT_DIR") {
            let mut files = vec![std::path::PathBuf::from(dir)];
            while let Some(path) = files.pop() {
                if path.is_dir() {
                    files.extend(
                        std::fs::read_dir(&path)
                            .unwrap()
                            .flatten()
                            .map(|e| e.path()),
                    );
                } else if path.extension().is_some_and(|x| x == "test") {
                    texts.extend(crate::slt::sql_of(&std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        assert!(texts.len() > 400, "{} statements", texts.len());
        for sql in &texts {
            let fast = format!("{:?}", parse_one(sql));
            let slow = format!("{:?}", parse_one_with(sql, slow));
            assert_eq!(fast, slow, "{sql}");
        }
        // At the nesting limit the type-name attempt is one level too many: sqlparser's own
        // path runs out of levels one parenthesis before the direct path does.
        let deepest = |dialect: D1Dialect| {
            (1..=MAX_NESTING)
                .take_while(|&k| {
                    let sql = format!("SELECT {}a{}", "(".repeat(k), ")".repeat(k));
                    parse_one_with(&sql, dialect).is_ok()
                })
                .last()
                .unwrap_or(0)
        };
        let (direct, own) = (deepest(D1Dialect::default()), deepest(slow));
        assert_eq!(direct, own + 1, "{direct} {own}");
        let deep = format!("SELECT {}a{}", "(".repeat(direct), ")".repeat(direct));
        assert!(parse_one(&deep).is_ok() && plain_prefix_agrees(&deep));
    }

    #[test]
    fn one_statement_only() {
        assert!(Parsed::new("SELECT 1; SELECT 2").is_err());
        assert!(Parsed::new("SELECT 1;").is_ok());
        assert!(Parsed::new("  -- nothing\n").is_err());
        // Chains deeper than SQLite runs are refused before a tree is built.
        let chain = |n: usize, op: &str| format!("SELECT {}", vec!["1"; n].join(op));
        assert!(Parsed::new(&chain(1001, " + ")).is_ok());
        let e = Parsed::new(&chain(1002, " + ")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::LimitExceeded, "{e}");
        assert!(Parsed::new(&chain(200_000, "+")).is_err());
        let ors = |n: usize| format!("SELECT * FROM t WHERE {}", vec!["a = 1"; n].join(" OR "));
        assert!(Parsed::new(&ors(500)).is_ok());
        assert!(Parsed::new(&ors(600)).is_err());
        // Operator and clause words in any case; a clause word starts a new run.
        let lower = format!("SELECT * FROM t WHERE {}", vec!["a = 1"; 600].join(" oR "));
        assert!(Parsed::new(&lower).is_err());
        let sums = vec!["a"; 700].join(" + ");
        assert!(Parsed::new(&format!("SELECT {sums} fRoM t wHeRe {sums}")).is_ok());
        assert!(Parsed::new(&format!("SELECT {sums} + {sums} FROM t")).is_err());
        assert!(Parsed::new(&format!("SELECT {}", vec!["a"; 5000].join(" || "))).is_err());
        assert!(Parsed::new(&format!("SELECT {}", vec!["a + 1"; 5000].join(", "))).is_ok());
        // sqlparser stops at END; what it leaves unread must not be lost.
        let p = Parsed::new("SELECT id FROM users END ORDER BY id").unwrap();
        assert!(p.ast.is_err(), "{:?}", p.ast);
        let e = Parsed::new("DELETE FROM t /*\0*/ WHERE k = 1").unwrap_err();
        assert!(e.to_string().contains("NUL byte"), "{e}");
    }

    #[test]
    fn reads_sqlite_operators_with_sqlite_precedence() {
        use sqlparser::ast::{BinaryOperator, Expr, SelectItem, SetExpr};
        let top_operator = |sql: &str| {
            let p = Parsed::new(sql).unwrap();
            let Ok(Statement::Query(q)) = &p.ast else {
                panic!("{sql}: {:?}", p.ast)
            };
            let SetExpr::Select(s) = q.body.as_ref() else {
                panic!("{sql}")
            };
            let SelectItem::UnnamedExpr(Expr::BinaryOp { op, .. }) = &s.projection[0] else {
                panic!("{sql}: {:?}", s.projection)
            };
            assert_eq!(p.ast.as_ref().unwrap().to_string(), sql);
            op.clone()
        };
        // Equal precedence, left to right: the last operator is the top of the tree.
        assert_eq!(
            top_operator("SELECT 1 | 2 << 3"),
            BinaryOperator::PGBitwiseShiftLeft
        );
        assert_eq!(top_operator("SELECT 1 << 2 | 3"), BinaryOperator::BitwiseOr);
        assert_eq!(
            top_operator("SELECT 8 & 2 >> 1"),
            BinaryOperator::PGBitwiseShiftRight
        );
        assert_eq!(
            top_operator("SELECT 1 + 2 << 3"),
            BinaryOperator::PGBitwiseShiftLeft
        );
        assert_eq!(top_operator("SELECT 2 * 3 || 4"), BinaryOperator::Multiply);
        assert_eq!(top_operator("SELECT 1 << 2 = 4"), BinaryOperator::Eq);
    }

    #[test]
    fn maps_parser_locations_to_bytes() {
        let sql = "SELECT 'é',\n  x FROM t";
        let p = Parsed::new(sql).unwrap();
        let off = p.offset(Location { line: 2, column: 3 }).unwrap();
        assert_eq!(&sql[off..off + 1], "x");
        let sql = "SELECT 'é', y, '日本' || z";
        let p = Parsed::new(sql).unwrap();
        let off = p
            .offset(Location {
                line: 1,
                column: 13,
            })
            .unwrap();
        assert_eq!(&sql[off..off + 1], "y");
        let off = p
            .offset(Location {
                line: 1,
                column: 24,
            })
            .unwrap();
        assert_eq!(&sql[off..off + 1], "z");
    }
}
