//! Errors, sorted by who is at fault. Every proxy error carries a stable [`ErrorCode`]
//! and, where the caller can do something about it, a remedy.

use serde::Serialize;
use std::fmt;

/// Stable error codes. The string form (`D1PLUS_…`) never changes once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The shard policy JSON is malformed or breaks a rule.
    InvalidPolicy,
    /// The SQL text could not be parsed.
    ParseError,
    /// A table the statement names does not exist.
    NoSuchTable,
    /// A column the statement names does not exist.
    NoSuchColumn,
    /// The number of bound parameters does not match the statement.
    ParamCount,
    /// A shard key value is NULL, a BLOB, or a non-integral REAL.
    InvalidShardKey,
    /// A write to a sharded table has no shard key and no hint.
    NoShardKey,
    /// A hint names a table that is not sharded, or disagrees with the key in the SQL.
    HintConflict,
    /// An UPDATE assigns to the shard key column.
    KeyUpdate,
    /// A statement would need data from several shards in one shard's query.
    CrossShard,
    /// Transaction control and database-level statements D1 does not allow.
    TransactionStatement,
    /// A construct d1plus cannot execute exactly across shards.
    Unsupported,
    /// A statement exceeds a D1 limit (bound parameters, SQL length) and cannot be split.
    LimitExceeded,
    /// The per-invocation query budget would be exceeded.
    QueryBudget,
    /// A batch that must be atomic spans several shards.
    CrossShardTransaction,
    /// A session bookmark d1plus did not make, or made for another shard count.
    InvalidBookmark,
    /// A value of a type D1 does not accept.
    TypeError,
    /// The column asked for is not in the result.
    ColumnNotFound,
    /// An error reported by a shard's database (SQLite or D1), passed through.
    Backend,
    /// Arithmetic overflow while merging (as SQLite's "integer overflow").
    IntegerOverflow,
    /// A d1plus bug: it should never happen.
    Internal,
}

impl ErrorCode {
    /// The stable string form, e.g. `D1PLUS_NO_SHARD_KEY`.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidPolicy => "D1PLUS_INVALID_POLICY",
            ParseError => "D1PLUS_PARSE_ERROR",
            NoSuchTable => "D1PLUS_NO_SUCH_TABLE",
            NoSuchColumn => "D1PLUS_NO_SUCH_COLUMN",
            ParamCount => "D1PLUS_PARAM_COUNT",
            InvalidShardKey => "D1PLUS_INVALID_SHARD_KEY",
            NoShardKey => "D1PLUS_NO_SHARD_KEY",
            HintConflict => "D1PLUS_HINT_CONFLICT",
            KeyUpdate => "D1PLUS_KEY_UPDATE",
            CrossShard => "D1PLUS_CROSS_SHARD",
            TransactionStatement => "D1PLUS_TRANSACTION_STATEMENT",
            Unsupported => "D1PLUS_UNSUPPORTED",
            LimitExceeded => "D1PLUS_LIMIT_EXCEEDED",
            QueryBudget => "D1PLUS_QUERY_BUDGET",
            CrossShardTransaction => "D1PLUS_CROSS_SHARD_TRANSACTION",
            InvalidBookmark => "D1PLUS_INVALID_BOOKMARK",
            TypeError => "D1_TYPE_ERROR",
            ColumnNotFound => "D1_COLUMN_NOTFOUND",
            Backend => "D1_ERROR",
            IntegerOverflow => "D1PLUS_INTEGER_OVERFLOW",
            Internal => "D1PLUS_INTERNAL",
        }
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
    #[error("{code}: {message}{}", remedy.as_deref().map(|r| format!(" Remedy: {r}")).unwrap_or_default())]
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
