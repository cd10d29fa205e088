//! Errors, sorted by who is at fault. Every proxy error carries a stable [`ErrorCode`]
//! and, where the caller can do something about it, a remedy.

use serde::Serialize;
use std::fmt;

/// Declares [`ErrorCode`] once: each variant with its stable string, from which come
/// `as_str`, parsing, serde, [`ErrorCode::ALL`] and the JavaScript and TypeScript files
/// `js/codes.js` and `js/codes.d.ts` (generated from it; `tests/error_codes.rs` fails when
/// they differ).
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        /// Stable error codes. The string form (`D1PLUS_…`) never changes once published.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable string form, e.g. `D1PLUS_NO_SHARD_KEY`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }

            /// The code of a stable string form.
            pub fn parse(text: &str) -> Option<ErrorCode> {
                match text {
                    $($text => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }

            /// Its documentation, one line (for the generated TypeScript).
            pub fn describe(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => concat!($($doc),*),)*
                }
            }
        }
    };
}

error_codes! {
    /// The shard policy JSON is malformed or breaks a rule.
    InvalidPolicy => "D1PLUS_INVALID_POLICY",
    /// A shard binding is missing, or is not a D1 database.
    InvalidBinding => "D1PLUS_INVALID_BINDING",
    /// An option has a value it cannot take (a query budget below 0, say).
    InvalidOption => "D1PLUS_INVALID_OPTION",
    /// A call's argument has the wrong shape (a statement of another database in batch()).
    InvalidArgument => "D1PLUS_INVALID_ARGUMENT",
    /// The SQL text could not be parsed.
    ParseError => "D1PLUS_PARSE_ERROR",
    /// A table the statement names does not exist.
    NoSuchTable => "D1PLUS_NO_SUCH_TABLE",
    /// A column the statement names does not exist.
    NoSuchColumn => "D1PLUS_NO_SUCH_COLUMN",
    /// The number of bound parameters does not match the statement.
    ParamCount => "D1PLUS_PARAM_COUNT",
    /// A shard key value is a BLOB, or a REAL where the key column holds integers.
    InvalidShardKey => "D1PLUS_INVALID_SHARD_KEY",
    /// A write to a sharded table has no shard key and no hint.
    NoShardKey => "D1PLUS_NO_SHARD_KEY",
    /// A hint names a table that is not sharded, or disagrees with the key in the SQL.
    HintConflict => "D1PLUS_HINT_CONFLICT",
    /// An UPDATE assigns to the shard key column.
    KeyUpdate => "D1PLUS_KEY_UPDATE",
    /// A statement would need data from several shards in one shard's query.
    CrossShard => "D1PLUS_CROSS_SHARD",
    /// Transaction control and database-level statements D1 does not allow.
    TransactionStatement => "D1PLUS_TRANSACTION_STATEMENT",
    /// A construct d1plus cannot execute exactly across shards.
    Unsupported => "D1PLUS_UNSUPPORTED",
    /// A statement exceeds a D1 limit (bound parameters, SQL length) and cannot be split.
    LimitExceeded => "D1PLUS_LIMIT_EXCEEDED",
    /// The per-invocation query budget would be exceeded.
    QueryBudget => "D1PLUS_QUERY_BUDGET",
    /// A batch that must be atomic spans several shards.
    CrossShardTransaction => "D1PLUS_CROSS_SHARD_TRANSACTION",
    /// A session bookmark d1plus did not make, or made for another shard count.
    InvalidBookmark => "D1PLUS_INVALID_BOOKMARK",
    /// The schema changed since the statement was planned (the schema guard failed);
    /// nothing ran. Running it again reads the new schema first.
    SchemaChanged => "D1PLUS_SCHEMA_CHANGED",
    /// A split moved the database to other bindings since this handle was made (its
    /// shards' layout records name another layout); nothing ran. The JavaScript API moves
    /// to the new bindings and runs the call again.
    LayoutChanged => "D1PLUS_LAYOUT_CHANGED",
    /// Arithmetic overflow while merging (as SQLite's "integer overflow").
    IntegerOverflow => "D1PLUS_INTEGER_OVERFLOW",
    /// A route that runs SQL was called without the secret it needs (or none is set).
    Unauthorized => "D1PLUS_UNAUTHORIZED",
    /// A migration failed on a shard (nothing of it was applied there); rerun to resume.
    MigrationFailed => "D1PLUS_MIGRATION_FAILED",
    /// Migration history was changed: an applied migration's file was edited or removed.
    MigrationHistory => "D1PLUS_MIGRATION_HISTORY",
    /// The shards' schemas or migration records differ (`d1plus check`).
    SchemaDrift => "D1PLUS_SCHEMA_DRIFT",
    /// The write reached a shard during a split's cutover (or a shard a split retired);
    /// nothing was written there. Retry: the pause is short.
    Retry => "D1PLUS_RETRY",
    /// A realtime cursor points before what the change log still holds (or was made before
    /// a split): start a new stream.
    CursorExpired => "D1PLUS_CURSOR_EXPIRED",
    /// A d1plus bug: it should never happen.
    Internal => "D1PLUS_INTERNAL",
    /// A value of a type D1 does not accept (D1's own code).
    TypeError => "D1_TYPE_ERROR",
    /// The column asked for is not in the result (D1's own code).
    ColumnNotFound => "D1_COLUMN_NOTFOUND",
    /// An error reported by a shard's database (SQLite or D1), passed through.
    Backend => "D1_ERROR",
    /// A statement of `exec()` failed on a shard (D1's own code for exec).
    ExecError => "D1_EXEC_ERROR",
}

/// What the triggers of a split (`crate::split`, `crate::reshard`) raise on a write to a
/// shard it is moving or has retired: shard errors carrying it become [`ErrorCode::Retry`].
pub const RETRY_MARKER: &str = "d1plus_retry";

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl ErrorCode {
    /// The code an error message starts with (`D1PLUS_NO_SHARD_KEY: …`), as d1plus writes
    /// them: what callers of APIs that carry errors as text (workers-rs) match on.
    pub fn of_message(message: &str) -> Option<ErrorCode> {
        ErrorCode::parse(message.split(':').next()?)
    }

    /// The JavaScript module `js/codes.js`: the codes as frozen constants.
    pub fn javascript_module() -> String {
        let mut out = String::from(
            "// Generated from src/error.rs (ErrorCode) by tests/error_codes.rs: do not edit.\n\n/** d1plus's stable error codes, by name. */\nexport const CODES = Object.freeze({\n",
        );
        for c in ErrorCode::ALL {
            out.push_str(&format!("  {:?}: {:?},\n", c, c.as_str()));
        }
        out.push_str("});\n");
        out
    }

    /// The TypeScript declarations `js/codes.d.ts`: the union of every code.
    pub fn typescript_declarations() -> String {
        let mut out = String::from(
            "// Generated from src/error.rs (ErrorCode) by tests/error_codes.rs: do not edit.\n\n/** A stable error code of d1plus (the `code` of its errors). */\nexport type D1PlusErrorCode =\n",
        );
        for c in ErrorCode::ALL {
            out.push_str(&format!(
                "  /** {} */\n  | {:?}\n",
                c.describe().trim(),
                c.as_str()
            ));
        }
        out.push_str(";\n\n/** The codes by name. */\nexport declare const CODES: Readonly<{\n");
        for c in ErrorCode::ALL {
            out.push_str(&format!("  {:?}: {:?};\n", c, c.as_str()));
        }
        out.push_str("}>;\n");
        out
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error d1plus returns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The proxy refuses the statement or the input: what is wrong, and what to do instead.
    #[error("{code}: {message}{}", remedy.as_deref().map(|r| format!("{} Remedy: {r}", if message.ends_with(['.', '!', '?', ':']) { "" } else { "." })).unwrap_or_default())]
    Proxy {
        /// Stable code.
        code: ErrorCode,
        /// What is wrong, naming the construct and the offending value.
        message: String,
        /// What the caller can do instead.
        remedy: Option<String>,
    },
    /// A shard's database reported an error; its text passes through unchanged.
    #[error("D1_ERROR: {message}{}", shard.map(|s| format!(" (shard {s})")).unwrap_or_default())]
    Backend {
        /// The shard that failed, when known.
        shard: Option<usize>,
        /// SQLite's (or D1's) error text, unchanged.
        message: String,
    },
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A proxy error whose message says where it happened (`row 3 of …: `); other
    /// errors as they are.
    pub fn prefixed(self, prefix: impl fmt::Display) -> Error {
        self.reworded(|message| format!("{prefix}: {message}"), |remedy| remedy)
    }

    /// A proxy error with its message and remedy rewritten; other errors as they are.
    pub fn reworded(
        self,
        message: impl FnOnce(String) -> String,
        remedy: impl FnOnce(Option<String>) -> Option<String>,
    ) -> Error {
        match self {
            Error::Proxy {
                code,
                message: m,
                remedy: r,
            } => Error::Proxy {
                code,
                message: message(m),
                remedy: remedy(r),
            },
            other => other,
        }
    }

    /// A proxy error without a remedy.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::Proxy {
            code,
            message: message.into(),
            remedy: None,
        }
    }

    /// A proxy error with a remedy.
    pub fn with_remedy(
        code: ErrorCode,
        message: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Error {
        Error::Proxy {
            code,
            message: message.into(),
            remedy: Some(remedy.into()),
        }
    }

    /// A shard's error as its database reported it: [`ErrorCode::Retry`] when a split's
    /// triggers refused the write (their text carries [`RETRY_MARKER`]), else a backend
    /// error with the text as it is.
    pub fn from_shard(shard: usize, message: String) -> Error {
        if message.contains(RETRY_MARKER) {
            return Error::with_remedy(
                ErrorCode::Retry,
                format!("shard {shard} is being split (or was moved by a split): nothing was written there"),
                "retry in a moment: the write pause of a split's cutover is short, and the next request reads the new layout",
            );
        }
        Error::backend(Some(shard), message)
    }

    /// An error from a shard's database.
    pub fn backend(shard: Option<usize>, message: impl Into<String>) -> Error {
        Error::Backend {
            shard,
            message: message.into(),
        }
    }

    /// A construct d1plus cannot run exactly across shards.
    pub fn unsupported(what: impl Into<String>, remedy: impl Into<String>) -> Error {
        Error::with_remedy(ErrorCode::Unsupported, what, remedy)
    }

    /// A d1plus bug.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Internal, message)
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Proxy { code, .. } => *code,
            Error::Backend { .. } => ErrorCode::Backend,
        }
    }
}

/// SQLite's own text of a rusqlite error, without rusqlite's decorations.
pub fn sqlite_message(error: rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        rusqlite::Error::SqliteFailure(code, None) => {
            rusqlite::ffi::code_to_str(code.extended_code).to_owned()
        }
        // rusqlite's Display appends the SQL and offset; SQLite's text is `msg` alone.
        rusqlite::Error::SqlInputError { msg, .. } => msg,
        rusqlite::Error::MultipleStatement => {
            "the SQL text holds more than one statement; send one statement at a time".to_owned()
        }
        other => other.to_string(),
    }
}
