// Generated from src/error.rs (ErrorCode) by tests/error_codes.rs: do not edit.

/** A stable error code of d1plus (the `code` of its errors). */
export type D1PlusErrorCode =
  /** The shard policy JSON is malformed or breaks a rule. */
  | "D1PLUS_INVALID_POLICY"
  /** A shard binding is missing, or is not a D1 database. */
  | "D1PLUS_INVALID_BINDING"
  /** An option has a value it cannot take (a query budget below 0, say). */
  | "D1PLUS_INVALID_OPTION"
  /** A call's argument has the wrong shape (a statement of another database in batch()). */
  | "D1PLUS_INVALID_ARGUMENT"
  /** The SQL text could not be parsed. */
  | "D1PLUS_PARSE_ERROR"
  /** A table the statement names does not exist. */
  | "D1PLUS_NO_SUCH_TABLE"
  /** A column the statement names does not exist. */
  | "D1PLUS_NO_SUCH_COLUMN"
  /** The number of bound parameters does not match the statement. */
  | "D1PLUS_PARAM_COUNT"
  /** A shard key value is a BLOB, or a REAL where the key column holds integers. */
  | "D1PLUS_INVALID_SHARD_KEY"
  /** A write to a sharded table has no shard key and no hint. */
  | "D1PLUS_NO_SHARD_KEY"
  /** A hint names a table that is not sharded, or disagrees with the key in the SQL. */
  | "D1PLUS_HINT_CONFLICT"
  /** An UPDATE assigns to the shard key column. */
  | "D1PLUS_KEY_UPDATE"
  /** A statement would need data from several shards in one shard's query. */
  | "D1PLUS_CROSS_SHARD"
  /** Transaction control and database-level statements D1 does not allow. */
  | "D1PLUS_TRANSACTION_STATEMENT"
  /** A construct d1plus cannot execute exactly across shards. */
  | "D1PLUS_UNSUPPORTED"
  /** A statement exceeds a D1 limit (bound parameters, SQL length) and cannot be split. */
  | "D1PLUS_LIMIT_EXCEEDED"
  /** The per-invocation query budget would be exceeded. */
  | "D1PLUS_QUERY_BUDGET"
  /** A batch that must be atomic spans several shards. */
  | "D1PLUS_CROSS_SHARD_TRANSACTION"
  /** A session bookmark d1plus did not make, or made for another shard count. */
  | "D1PLUS_INVALID_BOOKMARK"
  /** The schema changed since the statement was planned (the schema guard failed); nothing ran. Running it again reads the new schema first. */
  | "D1PLUS_SCHEMA_CHANGED"
  /** A split moved the database to other bindings since this handle was made (its shards' layout records name another layout); nothing ran. The JavaScript API moves to the new bindings and runs the call again. */
  | "D1PLUS_LAYOUT_CHANGED"
  /** Arithmetic overflow while merging (as SQLite's "integer overflow"). */
  | "D1PLUS_INTEGER_OVERFLOW"
  /** A route that runs SQL was called without the secret it needs (or none is set). */
  | "D1PLUS_UNAUTHORIZED"
  /** A migration failed on a shard (nothing of it was applied there); rerun to resume. */
  | "D1PLUS_MIGRATION_FAILED"
  /** Migration history was changed: an applied migration's file was edited or removed. */
  | "D1PLUS_MIGRATION_HISTORY"
  /** The shards' schemas or migration records differ (`d1plus check`). */
  | "D1PLUS_SCHEMA_DRIFT"
  /** The write reached a shard during a split's cutover (or a shard a split retired); nothing was written there. Retry: the pause is short. */
  | "D1PLUS_RETRY"
  /** A realtime cursor points before what the change log still holds (or was made before a split): start a new stream. */
  | "D1PLUS_CURSOR_EXPIRED"
  /** A d1plus bug: it should never happen. */
  | "D1PLUS_INTERNAL"
  /** A value of a type D1 does not accept (D1's own code). */
  | "D1_TYPE_ERROR"
  /** The column asked for is not in the result (D1's own code). */
  | "D1_COLUMN_NOTFOUND"
  /** An error reported by a shard's database (SQLite or D1), passed through. */
  | "D1_ERROR"
  /** A statement of `exec()` failed on a shard (D1's own code for exec). */
  | "D1_EXEC_ERROR"
;

/** The codes by name. */
export declare const CODES: Readonly<{
  InvalidPolicy: "D1PLUS_INVALID_POLICY";
  InvalidBinding: "D1PLUS_INVALID_BINDING";
  InvalidOption: "D1PLUS_INVALID_OPTION";
  InvalidArgument: "D1PLUS_INVALID_ARGUMENT";
  ParseError: "D1PLUS_PARSE_ERROR";
  NoSuchTable: "D1PLUS_NO_SUCH_TABLE";
  NoSuchColumn: "D1PLUS_NO_SUCH_COLUMN";
  ParamCount: "D1PLUS_PARAM_COUNT";
  InvalidShardKey: "D1PLUS_INVALID_SHARD_KEY";
  NoShardKey: "D1PLUS_NO_SHARD_KEY";
  HintConflict: "D1PLUS_HINT_CONFLICT";
  KeyUpdate: "D1PLUS_KEY_UPDATE";
  CrossShard: "D1PLUS_CROSS_SHARD";
  TransactionStatement: "D1PLUS_TRANSACTION_STATEMENT";
  Unsupported: "D1PLUS_UNSUPPORTED";
  LimitExceeded: "D1PLUS_LIMIT_EXCEEDED";
  QueryBudget: "D1PLUS_QUERY_BUDGET";
  CrossShardTransaction: "D1PLUS_CROSS_SHARD_TRANSACTION";
  InvalidBookmark: "D1PLUS_INVALID_BOOKMARK";
  SchemaChanged: "D1PLUS_SCHEMA_CHANGED";
  LayoutChanged: "D1PLUS_LAYOUT_CHANGED";
  IntegerOverflow: "D1PLUS_INTEGER_OVERFLOW";
  Unauthorized: "D1PLUS_UNAUTHORIZED";
  MigrationFailed: "D1PLUS_MIGRATION_FAILED";
  MigrationHistory: "D1PLUS_MIGRATION_HISTORY";
  SchemaDrift: "D1PLUS_SCHEMA_DRIFT";
  Retry: "D1PLUS_RETRY";
  CursorExpired: "D1PLUS_CURSOR_EXPIRED";
  Internal: "D1PLUS_INTERNAL";
  TypeError: "D1_TYPE_ERROR";
  ColumnNotFound: "D1_COLUMN_NOTFOUND";
  Backend: "D1_ERROR";
  ExecError: "D1_EXEC_ERROR";
}>;
