// Types of js/d1plus.js. They match @cloudflare/workers-types' D1 types, so a d1plus
// D1Database goes wherever a `D1Database` binding does (e2e/typecheck.ts checks this).

import type { D1PlusErrorCode } from "./codes.js";
export type { D1PlusErrorCode } from "./codes.js";
export { CODES } from "./codes.js";

/** What d1plus throws: D1's `Error("CODE: text")` with the stable code (and the failing shard). */
export interface D1PlusError extends Error {
  code: D1PlusErrorCode;
  shard?: number;
}

export type D1SessionConstraint = "first-primary" | "first-unconstrained";
/** One string carrying every shard's bookmark (`d1plus1:…`). */
export type D1SessionBookmark = string;

export interface D1Meta {
  duration: number;
  size_after: number;
  rows_read: number;
  rows_written: number;
  last_row_id: number;
  changed_db: boolean;
  changes: number;
  /** "d1plus" */
  served_by?: string;
  /** The shards that served the statement, ascending. */
  shards?: number[];
}

export interface D1Response {
  success: true;
  meta: D1Meta & Record<string, unknown>;
  error?: never;
}

export type D1Result<T = unknown> = D1Response & { results: T[] };

export interface D1ExecResult {
  count: number;
  duration: number;
}

/** A shard hint: the sharded table and its key value, or the key alone when the policy shards one table. */
export type ShardHint = { table: string; key: unknown } | string | number;

export interface SqlRequest {
  statement: string;
  params?: unknown[];
  shard?: ShardHint;
}

/** The Layeron-style shard policy (see docs/ARCHITECTURE.md §2). */
export interface ShardPolicy {
  name: string;
  capacity?: {
    mode: "fixed" | "manual" | "auto";
    targetShardCount?: number;
    maxShardCount?: number;
  };
  sharding?: {
    tables?: { name: string; keyColumn: string }[];
    reference?: string[];
  };
  /** Tables whose committed writes are streamed (README, "Realtime"). */
  realtime?: { tables: string[]; maxRows?: number; maxAgeSeconds?: number };
}

/** One committed change of a realtime table. */
export interface ChangeEvent<Row = Record<string, unknown>> {
  /** Where a stream resumes after this event. */
  cursor: string;
  table: string;
  op: "insert" | "update" | "delete";
  /** The row after the write (null for a delete); BLOBs as hex text. */
  row: Row | null;
  /** The row before (updates and deletes). */
  old: Row | null;
  shard: number;
  /** Commit time, milliseconds since 1970. */
  at: number;
}

export interface ChangesRequest {
  /** An event's cursor (or an earlier answer's); null or absent: from now. */
  cursor?: string | null;
  /** Realtime tables (default: all). */
  tables?: string[];
  /** Only the rows of this shard key (every table must be sharded). */
  key?: string | number | null;
  /** Log entries read per shard (default 100, at most 1000). */
  limit?: number;
}

export interface D1DatabaseOptions {
  /** Shard queries this handle may run (default 1000; 50 on the Workers free plan; null: no limit). */
  queryBudget?: number | null;
}

export declare const DEFAULT_QUERY_BUDGET: number;

export declare class D1PreparedStatement {
  readonly statement: string;
  readonly params: unknown[];
  bind(...values: unknown[]): D1PreparedStatement;
  first<T = unknown>(colName: string): Promise<T | null>;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  raw<T = unknown[]>(options: { columnNames: true }): Promise<[string[], ...T[]]>;
  raw<T = unknown[]>(options?: { columnNames?: false }): Promise<T[]>;
  /** d1plus: the answer as SQLite gave it (column order and repeated names kept). */
  answer(): Promise<Answer>;
}

/** A statement's answer as SQLite gave it, with `all()`'s meta. */
export interface Answer {
  columns: string[];
  rows: unknown[][];
  meta: D1Meta;
}

declare abstract class Queryable {
  prepare(query: string): D1PreparedStatement;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  /** d1plus: `batch()` with each answer as `answer()` gives it. */
  batchAnswers(statements: D1PreparedStatement[]): Promise<Answer[]>;
  /** `database.sql({ statement, params, shard })`, Layeron's Database API. */
  sql(request: SqlRequest): D1PreparedStatement;
}

export declare class D1DatabaseSession extends Queryable {
  getBookmark(): D1SessionBookmark | null;
}

export declare class D1Database extends Queryable {
  constructor(shards: unknown[], policy: ShardPolicy | string, options?: D1DatabaseOptions);
  /** The bindings `${prefix}0`, `${prefix}1`, … of `env` (prefix defaults to "SHARD_"). */
  static fromEnv(
    env: Record<string, unknown>,
    policy: ShardPolicy | string,
    prefix?: string,
    options?: D1DatabaseOptions,
  ): D1Database;
  readonly queriesUsed: number;
  exec(query: string): Promise<D1ExecResult>;
  /** Applies migrations on every shard, each shard atomically per migration; resumable. */
  migrate(migrations: { name: string; sql: string }[]): Promise<{ applied: number; already: number }>;
  /** Whether the shards agree on schema and migration records, and how they differ. */
  check(): Promise<{ agree: boolean; differences: string[] }>;
  withSession(constraintOrBookmark?: D1SessionBookmark | D1SessionConstraint): D1DatabaseSession;
  /** Realtime: the committed changes after a cursor, and the cursor after them. */
  changes<Row = Record<string, unknown>>(request?: ChangesRequest): Promise<{ events: ChangeEvent<Row>[]; cursor: string }>;
  /** The plan of a statement (without params: of any values, parameters as ?N). */
  explain(request: { statement: string; params?: unknown[] | null; shard?: unknown }): Promise<string>;
  /** Where the data is, as `d1plus status --format json` prints it. */
  status(): Promise<{
    shards: { index: number; file: string; rows: Record<string, number>; bytes: number }[];
    split: unknown;
    skew: number;
    top_keys: Record<string, [unknown, number][]>;
  }>;
  /** Refused: dump each shard's binding instead. */
  dump(): Promise<ArrayBuffer>;
}

/** A filter: `{ status: "published" }`, `{ views: { gt: 10 } }`, `{ id: { in: [1, 2] } }`. */
export type Filter<Row = Record<string, unknown>> = {
  [K in keyof Row]?:
    | Row[K]
    | null
    | {
        eq?: Row[K] | null;
        ne?: Row[K] | null;
        gt?: Row[K];
        gte?: Row[K];
        lt?: Row[K];
        lte?: Row[K];
        in?: Row[K][];
        like?: string;
        isNull?: boolean;
      };
};

/** A page of `list()`: pass `cursor` back for the next page (null after the last). */
export interface Page<Row> {
  rows: Row[];
  cursor: string | null;
}

export declare class TableApi<Row = Record<string, unknown>> {
  insert(row: Partial<Row>): Promise<Row>;
  insert(rows: Partial<Row>[]): Promise<Row[]>;
  get(key: unknown): Promise<Row | null>;
  update(key: unknown, patch: Partial<Row>): Promise<Row | null>;
  delete(key: unknown): Promise<boolean>;
  count(where?: Filter<Row>): Promise<number>;
  exists(where?: Filter<Row>): Promise<boolean>;
  /** `orderBy`: a column or columns, `"-col"` for descending; the primary key follows. */
  list(options?: {
    where?: Filter<Row>;
    orderBy?: (keyof Row & string) | `-${keyof Row & string}` | string[];
    limit?: number;
    cursor?: string | null;
  }): Promise<Page<Row>>;
}

export declare class DatabaseTransaction {
  sql(request: SqlRequest): D1PreparedStatement;
  add(statement: D1PreparedStatement): D1PreparedStatement;
}

export declare class Database {
  readonly d1: D1Database;
  sql(request: SqlRequest): D1PreparedStatement;
  statement(query: string): D1PreparedStatement;
  prepare(query: string): D1PreparedStatement;
  exec(script: string): Promise<D1ExecResult>;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  migrate(): Promise<{ applied: number; already: number }>;
  check(): Promise<{ agree: boolean; differences: string[] }>;
  /** The statements `fn` adds run as one atomic batch on one shard. */
  transaction(fn: (tx: DatabaseTransaction) => unknown | Promise<unknown>): Promise<D1Result[]>;
  table<Row = Record<string, unknown>>(name: string): TableApi<Row>;
  changes<Row = Record<string, unknown>>(request?: ChangesRequest): Promise<{ events: ChangeEvent<Row>[]; cursor: string }>;
}

/** A schema declared in code (see README, "Schema in code"). */
export interface SchemaDeclaration {
  tables: {
    name: string;
    columns: {
      name: string;
      type: string;
      notNull?: boolean;
      default?: number | string | boolean | null | { sql: string };
      collate?: string;
      primaryKey?: boolean;
    }[];
    primaryKey?: string[];
    indexes?: { name: string; columns: string[]; unique?: boolean }[];
  }[];
}

/** Options of one step of an online split (`splitStep`). */
export interface SplitStepOptions {
  /** The bindings' name prefix (default `SHARD_`): `${prefix}0`, `${prefix}1`, … form the pool. */
  prefix?: string;
  /** The shard count to end with (a power of two, at most 64); default: double once. */
  to?: number;
  /** Undo the split in progress (until its cutover commits). */
  abort?: boolean;
  /** Split as the policy's `"auto"` capacity says (a shard past its thresholds doubles the database). */
  auto?: boolean;
  /** Statements the step may send (default 400; an invocation allows 1000). */
  maxQueries?: number;
  /** Rows per copy chunk (default 200). */
  chunkRows?: number;
  /** How long a step that dies holds the split (milliseconds, default 300000). */
  leaseMs?: number;
}

/** Which bindings serve the database, shard by shard. */
export interface LayoutRecord {
  version: number;
  shards: string[];
}

/** What one step did, and where the split is. */
export interface SplitReport {
  layout: LayoutRecord;
  split: null | {
    from: string[];
    to: string[];
    version: number;
    target: number;
    phase: "prepare" | "copy" | "catch-up" | "cutover" | "cleanup";
  };
  /** True when the database has `to` shards (or an abort finished). */
  done: boolean;
  rows: number;
  changes: number;
  queries: number;
  note: string;
}

/**
 * One bounded, resumable step of an online split of the database `D1Database.fromEnv(env,
 * policy, prefix)` serves, onto the next bindings of `env`; call again until `done`.
 */
export declare function splitStep(
  env: Record<string, unknown>,
  policy: string | ShardPolicy,
  options?: SplitStepOptions,
): Promise<SplitReport>;

/** TypeScript row types of a declared schema (what `d1plus schema types` prints). */
export declare function rowTypes(schema: SchemaDeclaration): string;

export interface DatabaseConfig extends ShardPolicy {
  /** The initial schema, applied by `migrate()` as `0000_initial.sql`. */
  sql?: string;
  /** The initial schema declared in code (instead of `sql`). */
  schema?: SchemaDeclaration;
  migrations?: { name: string; sql: string }[];
  /** Bindings `${bindingPrefix}0`, … (default "SHARD_"). */
  bindingPrefix?: string;
  queryBudget?: number | null;
}

export declare class LogicalDatabase {
  readonly policy: ShardPolicy;
  connect(env: Record<string, unknown>, options?: D1DatabaseOptions & { bindingPrefix?: string }): Database;
}

/** Declares one logical database (Layeron's `db({...})`). */
export declare function db(config: DatabaseConfig): LogicalDatabase;
