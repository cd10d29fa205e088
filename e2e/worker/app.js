// A test Worker whose data code (Drizzle, Kysely, Prisma, plain D1 calls) is written against D1 and left unchanged: the only d1plus
// line is how `db` is made (`D1Database.fromEnv` instead of `env.DB`). Each path runs one
// scenario and answers what it saw, as JSON, for e2e/tests/orm.test.mjs to check.
import { D1Database, db as declare, rowTypes } from "../../js/d1plus.js";
import { drizzle } from "drizzle-orm/d1";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { Kysely } from "kysely";
import { D1Dialect } from "kysely-d1";
import { PrismaD1 } from "@prisma/adapter-d1";
import { PrismaClient } from "../prisma/generated/client.ts";

const events = sqliteTable(
  "events",
  {
    tenantId: text("tenantId").notNull(),
    id: integer("id").notNull(),
    kind: text("kind"),
    amount: integer("amount"),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

const CREATE = `CREATE TABLE IF NOT EXISTS events (
  tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER,
  PRIMARY KEY (tenantId, id))`;

async function drizzleScenario(db) {
  const d = drizzle(db);
  const seen = {};
  await d.run(sql.raw(CREATE));
  // Multi-row insert across tenants (split per shard by d1plus).
  await d.insert(events).values([
    { tenantId: "acme", id: 1, kind: "click", amount: 10 },
    { tenantId: "tenant-1", id: 2, kind: "view", amount: 20 },
    { tenantId: "日本語", id: 3, kind: "click", amount: 30 },
    { tenantId: "ümlaut", id: 4, kind: "buy", amount: 40 },
    { tenantId: "acme", id: 5, kind: "buy", amount: 50 },
  ]);
  await d.insert(events).values({ tenantId: "tenant-1", id: 6, kind: "buy", amount: 60 });
  seen.acme = await d
    .select()
    .from(events)
    .where(eq(events.tenantId, "acme"))
    .orderBy(desc(events.amount))
    .limit(1);
  // Fan-out read: ORDER BY + LIMIT/OFFSET merged across shards.
  seen.page = await d.select({ id: events.id }).from(events).orderBy(asc(events.amount)).limit(3).offset(1);
  seen.updated = await d
    .update(events)
    .set({ kind: "refund" })
    .where(and(eq(events.tenantId, "acme"), eq(events.id, 5)))
    .returning({ id: events.id, kind: events.kind });
  const del = await d.delete(events).where(and(eq(events.tenantId, "tenant-1"), eq(events.id, 2)));
  seen.deleted = del.meta.changes;
  const [inserted, selected] = await d.batch([
    d.insert(events).values({ tenantId: "ümlaut", id: 7, kind: "view", amount: 70 }),
    d.select({ id: events.id }).from(events).where(eq(events.tenantId, "ümlaut")).orderBy(events.id),
  ]);
  seen.batch = { changes: inserted.meta.changes, selected };
  // .all() and .values() on raw SQL go through D1's all() and raw().
  seen.totals = await d.all(
    sql`SELECT tenantId, count(*) AS n, sum(amount) AS total FROM events GROUP BY tenantId ORDER BY tenantId`,
  );
  seen.values = await d.values(sql`SELECT id, kind FROM events WHERE tenantId = ${"acme"} ORDER BY id`);
  seen.count = (await d.get(sql`SELECT count(*) AS n FROM events`)).n;
  return seen;
}

async function kyselyScenario(db) {
  const k = new Kysely({ dialect: new D1Dialect({ database: db }) });
  const seen = {};
  await k.schema
    .createTable("orders")
    .ifNotExists()
    .addColumn("tenantId", "text", (c) => c.notNull())
    .addColumn("id", "integer", (c) => c.notNull())
    .addColumn("total", "integer")
    .addPrimaryKeyConstraint("orders_pk", ["tenantId", "id"])
    .execute();
  await k
    .insertInto("orders")
    .values([
      { tenantId: "acme", id: 1, total: 5 },
      { tenantId: "tenant-1", id: 2, total: 7 },
      { tenantId: "ümlaut", id: 3, total: 9 },
      { tenantId: "日本語", id: 4, total: 11 },
    ])
    .execute();
  const one = await k.insertInto("orders").values({ tenantId: "acme", id: 5, total: 13 }).executeTakeFirst();
  seen.insertRows = Number(one.numInsertedOrUpdatedRows);
  seen.acme = await k.selectFrom("orders").selectAll().where("tenantId", "=", "acme").orderBy("id").execute();
  seen.top = await k.selectFrom("orders").select(["tenantId", "total"]).orderBy("total", "desc").limit(2).execute();
  const up = await k.updateTable("orders").set({ total: 100 }).where("tenantId", "=", "tenant-1").where("id", "=", 2).executeTakeFirst();
  seen.updated = Number(up.numUpdatedRows);
  const del = await k.deleteFrom("orders").where("tenantId", "=", "日本語").executeTakeFirst();
  seen.deleted = Number(del.numDeletedRows);
  seen.sum = await k
    .selectFrom("orders")
    .select((eb) => [eb.fn.count("id").as("n"), eb.fn.sum("total").as("total")])
    .executeTakeFirst();
  return seen;
}

async function prismaScenario(db) {
  // Prisma's migrations need its schema engine (not installable offline here): the table
  // is made with plain SQL, as `prisma migrate diff --script` would print it.
  await db.exec(
    'CREATE TABLE IF NOT EXISTS "porders" ("tenantId" TEXT NOT NULL, "id" INTEGER NOT NULL, "item" TEXT, "qty" INTEGER NOT NULL DEFAULT 1, PRIMARY KEY ("tenantId", "id"))',
  );
  const prisma = new PrismaClient({ adapter: new PrismaD1(db) });
  const seen = {};
  seen.created = await prisma.order.create({ data: { tenantId: "acme", id: 1, item: "anvil" } });
  seen.createMany = await prisma.order.createMany({
    data: [
      { tenantId: "tenant-1", id: 2, item: "rope", qty: 3 },
      { tenantId: "ümlaut", id: 3, item: "glue", qty: 2 },
      { tenantId: "acme", id: 4, item: "rocket", qty: 5 },
    ],
  });
  seen.acme = await prisma.order.findMany({ where: { tenantId: "acme" }, orderBy: { id: "asc" } });
  seen.top = await prisma.order.findMany({ orderBy: { qty: "desc" }, take: 2, select: { id: true, qty: true } });
  seen.unique = await prisma.order.findUnique({ where: { tenantId_id: { tenantId: "tenant-1", id: 2 } } });
  seen.updated = await prisma.order.update({
    where: { tenantId_id: { tenantId: "acme", id: 4 } },
    data: { qty: { increment: 1 } },
  });
  seen.deleted = await prisma.order.deleteMany({ where: { tenantId: "ümlaut" } });
  seen.count = await prisma.order.count();
  seen.sum = await prisma.order.aggregate({ _sum: { qty: true } });
  return seen;
}

// D1's own surface: binding rules, first(), raw(), run(), exec(), errors.
async function surfaceScenario(db, env) {
  const seen = {};
  const catchMessage = async (f) => {
    try {
      await f();
      return null;
    } catch (e) {
      return { message: e.message, code: e.code ?? null, isError: e instanceof Error };
    }
  };
  seen.exec = await db.exec(
    "CREATE TABLE IF NOT EXISTS notes (tenantId TEXT NOT NULL, id INTEGER NOT NULL, body TEXT, data BLOB, PRIMARY KEY (tenantId, id));\nINSERT INTO notes VALUES ('acme', 1, 'hello', NULL)",
  );
  const ins = db.prepare("INSERT INTO notes VALUES (?, ?, ?, ?)");
  seen.run = await ins.bind("acme", 2, true, new Uint8Array([1, 2, 255])).run();
  seen.typeErrors = {
    undefined: await catchMessage(() => ins.bind("acme", 3, undefined, null)),
    bigint: await catchMessage(() => ins.bind("acme", 3, 5n, null)),
    object: await catchMessage(() => ins.bind("acme", 3, { a: 1 }, null)),
  };
  const q = db.prepare("SELECT id, body, data FROM notes WHERE tenantId = ? ORDER BY id");
  seen.first = await q.bind("acme").first();
  seen.firstCol = await q.bind("acme").first("body");
  seen.firstNone = await q.bind("nobody").first();
  seen.firstMissing = await catchMessage(() => q.bind("acme").first("nope"));
  seen.raw = await q.bind("acme").raw();
  seen.rawNames = await q.bind("acme").raw({ columnNames: true });
  seen.rawEmpty = await q.bind("nobody").raw({ columnNames: true });
  seen.all = await q.bind("acme").all();
  seen.sqlApi = await db.sql({ statement: "SELECT count(*) AS n FROM notes", params: [], shard: { table: "notes", key: "acme" } }).first();
  // A number bound as a TEXT key is stored as D1 stores it ('42.0'), on that key's shard.
  await db.prepare("INSERT INTO notes (tenantId, id) VALUES (?, ?)").bind(42, 1).run();
  seen.numericKey = await db.prepare("SELECT tenantId, typeof(tenantId) AS t FROM notes WHERE tenantId = ?").bind(42).all();
  seen.numericKeyFanOut = await db.prepare("SELECT count(*) AS n FROM notes WHERE tenantId LIKE '42%'").first("n");
  seen.sqliteError = await catchMessage(() => ins.bind("acme", 1, "dup", null).run());
  seen.proxyError = await catchMessage(() => db.prepare("UPDATE notes SET body = 'x'").run());
  seen.syntaxError = await catchMessage(() => db.prepare("SELEC nothing").all());
  // Deep nesting parses within the Worker's stack. Past d1plus's nesting limit the statement
  // is routed by the token scan (it names no table: the home shard), never a trap.
  const nest = (n) => `SELECT ${"(".repeat(n)}1${")".repeat(n)} AS v`;
  seen.nested = await db.prepare(nest(30)).first("v");
  seen.tooDeep = await db.prepare(nest(5000)).first("v");
  const sum = (n) => `SELECT ${Array(n).fill("1").join(" + ")} AS v`;
  seen.deepExpr = await catchMessage(() => db.prepare(sum(900)).first("v"));
  seen.tooLong = await catchMessage(() => db.prepare(sum(2000)).first("v"));
  // A query budget refuses a fan-out before it would exceed it, and runs nothing.
  // The request's first call re-reads the schema (1 query), then fans out (4).
  const small = D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: 6 });
  await small.prepare("SELECT count(*) FROM notes").all();
  seen.budgetUsed = small.queriesUsed;
  seen.budget = await catchMessage(() => small.prepare("SELECT count(*) FROM notes").all());
  seen.budgetAfter = small.queriesUsed;
  seen.budgetKeyed = await small.prepare("SELECT count(*) AS n FROM notes WHERE tenantId = 'acme'").first("n");
  // Concurrent calls draw on one budget: of three 4-shard fan-outs with 7 queries left, one runs.
  const shared = D1Database.fromEnv(env, POLICY, "SHARD_", { queryBudget: 9 });
  await shared.prepare("SELECT 1").all(); // the schema read and one home query
  const settled = await Promise.allSettled([1, 2, 3].map(() => shared.prepare("SELECT count(*) FROM notes").all()));
  seen.concurrentBudget = {
    ran: settled.filter((s) => s.status === "fulfilled").length,
    refused: settled.filter((s) => s.status === "rejected").map((s) => s.reason.code),
    used: shared.queriesUsed,
  };
  // D1 accepts statements prepared on the database in a session's batch, and a blank
  // constraint; typed arrays bind their elements; errors carry a cause.
  const fromParent = db.prepare("SELECT count(*) AS n FROM notes WHERE tenantId = ?").bind("acme");
  seen.sessionBatch = (await db.withSession(null).batch([fromParent]))[0].results;
  seen.blankSession = db.withSession("  ").getBookmark();
  seen.typedArray = await db.prepare("SELECT hex(?) AS h").bind(new Uint8Array([1, 2, 255])).first("h");
  seen.cause = await (async () => {
    try {
      await ins.bind("acme", 1, "dup", null).run();
    } catch (e) {
      return e.cause?.message ?? null;
    }
  })();
  seen.execError = await catchMessage(() => db.exec("INSERT INTO notes VALUES ('acme', 1, 'dup', NULL)"));
  const session = db.withSession("first-primary");
  await session.prepare("SELECT count(*) FROM notes").all();
  seen.bookmark = session.getBookmark();
  seen.constructorName = db.constructor.name;
  return seen;
}

// The same D1 calls on a raw local D1 binding and on d1plus over 1 and 4 shards: what D1
// itself answers is the expectation (e2e/tests/differential.test.mjs compares them).
const DIFF_POLICY = (n) => ({
  name: `diff${n}`,
  capacity: { mode: "manual", targetShardCount: n },
  sharding: { tables: [{ name: "diff", keyColumn: "tenantId" }], reference: ["kinds"] },
});

async function d1Calls(db) {
  const seen = [];
  // What must agree: results, success, and meta's changes and changed_db (last_row_id
  // where the row's id is given: d1plus generates ids from per-shard ranges otherwise).
  const result = (r, withRowId) => ({
    results: r.results,
    success: r.success,
    changes: r.meta.changes,
    changed_db: r.meta.changed_db,
    ...(withRowId ? { last_row_id: r.meta.last_row_id } : {}),
  });
  const note = async (label, f) => {
    try {
      seen.push([label, await f()]);
    } catch (e) {
      seen.push([label, { error: e.message, isError: e instanceof Error }]);
    }
  };
  await note("exec", async () => (await db.exec(
    "CREATE TABLE diff (tenantId TEXT NOT NULL, id INTEGER NOT NULL, v, PRIMARY KEY (tenantId, id));\nCREATE TABLE kinds (k INTEGER PRIMARY KEY, name TEXT)",
  )).count);
  const insert = db.prepare("INSERT INTO diff VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?), (?, ?, ?), (?, ?, ?)");
  await note("insert several tenants", async () => result(await insert.bind(
    "acme", 1, 10, "tenant-1", 2, 2.5, "日本語", 3, "text", "ümlaut", 4, new Uint8Array([0, 255]), "acme", 5, null,
  ).run()));
  await note("insert one, id given", async () => result(await db.prepare("INSERT INTO kinds VALUES (?, ?)").bind(7, "seven").run(), true));
  await note("insert reference rows", async () => result(await db.prepare("INSERT INTO kinds (k, name) VALUES (8, 'eight'), (9, NULL)").run(), true));
  await note("insert booleans", async () => result(await db.prepare("INSERT INTO diff VALUES (?, ?, ?)").bind("acme", 6, true).run()));
  const byTenant = db.prepare("SELECT id, v FROM diff WHERE tenantId = ? ORDER BY id");
  await note("all", async () => result(await byTenant.bind("acme").all()));
  await note("first", () => byTenant.bind("acme").first());
  await note("first column", () => byTenant.bind("acme").first("v"));
  await note("first no row", () => byTenant.bind("nobody").first());
  await note("first missing column", () => byTenant.bind("acme").first("nope"));
  await note("raw", () => byTenant.bind("acme").raw());
  await note("raw with names", () => byTenant.bind("acme").raw({ columnNames: true }));
  await note("raw no rows with names", () => byTenant.bind("nobody").raw({ columnNames: true }));
  await note("run a select", async () => result(await byTenant.bind("acme").run()));
  // Numbers JSON and JavaScript carry only approximately or not as integers: read back
  // through the multi-row path (one JSON text per shard answer) and the one-row path.
  await note("insert big numbers", async () => result(await db.prepare(
    "INSERT INTO diff VALUES ('big', 7, 1152921504606846976), ('big', 8, 1e300), ('big', 9, 0.1 + 0.2), ('big', 10, 3.0)",
  ).run()));
  // Values every shard's answer carries back to wasm in one buffer (texts long and short,
  // ASCII or not, with NUL and astral characters; empty text and blob; the smallest double).
  await note("insert wire values", async () => result(await db.prepare(
    "INSERT INTO diff VALUES ('tenant-1', 11, ?), ('日本語', 12, ?), ('acme', 13, ?), ('ümlaut', 14, ?), ('big', 15, ?), ('tenant-1', 16, ?), ('acme', 17, ?)",
  ).bind("Grüße aus Köln, ✓ ".repeat(4), "emoji 😀 and a\u0000b", "", new Uint8Array([]), 5e-324, -0, "x".repeat(40)).run()));
  await note("types", () => db.prepare("SELECT id, v, typeof(v) AS t FROM diff ORDER BY id").all().then((r) => r.results));
  // The same values read back through batch() (rows as objects), tenant by tenant.
  await note("batch reads values", async () => (await db.batch(
    ["acme", "tenant-1", "日本語", "ümlaut", "big"].map((t) => db.prepare("SELECT id, v, typeof(v) AS t FROM diff WHERE tenantId = ? ORDER BY id").bind(t)),
  )).map((r) => r.results));
  // Column names objects treat specially: repeated, integer-like, __proto__.
  await note("names as keys", async () => {
    const r = await db.prepare('SELECT id AS b, v AS a, id + 1 AS b, 4 AS "10", 5 AS "__proto__" FROM diff WHERE tenantId = ? ORDER BY id').bind("acme").all();
    return r.results.map((o) => [Object.keys(o), Object.values(o), Object.getPrototypeOf(o) === Object.prototype]);
  });
  await note("fan-out order and page", async () => result(await db.prepare("SELECT tenantId, id FROM diff ORDER BY id DESC LIMIT 3 OFFSET 1").all()));
  await note("fan-out aggregate", async () => result(await db.prepare(
    "SELECT count(*) AS n, sum(id) AS s, avg(id) AS a, min(tenantId) AS lo, max(id) AS hi, group_concat(DISTINCT typeof(v)) IS NOT NULL AS g FROM diff",
  ).all()));
  await note("fan-out group", async () => result(await db.prepare(
    "SELECT k.name, count(*) AS n, sum(d.id) AS s FROM diff d JOIN kinds k ON k.k = d.id + 6 GROUP BY k.name ORDER BY k.name",
  ).all()));
  await note("window across shards", async () => result(await db.prepare(
    "SELECT tenantId, id, rank() OVER (ORDER BY id DESC) AS r, row_number() OVER (ORDER BY id, tenantId) AS rn FROM diff WHERE id > ? ORDER BY rn",
  ).bind(0).all()));
  await note("FROM subquery keyed like its table", async () => result(await db.prepare(
    "SELECT count(*) AS n, max(c) AS m, sum(c) AS s FROM (SELECT tenantId, count(*) AS c FROM diff GROUP BY tenantId)",
  ).all()));
  await note("FROM subquery read first", async () => result(await db.prepare(
    "SELECT count(*) AS n, max(c) AS m, sum(c) AS s FROM (SELECT typeof(v) AS t, count(*) AS c FROM diff GROUP BY typeof(v))",
  ).all()));
  await note("keyed subquery joined", async () => result(await db.prepare(
    "SELECT d.tenantId, d.id, c.n FROM diff d JOIN (SELECT tenantId, count(*) AS n FROM diff GROUP BY tenantId) AS c ON c.tenantId = d.tenantId ORDER BY d.tenantId, d.id",
  ).all()));
  await note("window over a join", async () => result(await db.prepare(
    "SELECT d.id, k.name, rank() OVER (ORDER BY k.name) AS r FROM diff d JOIN kinds k ON k.k = d.id + 6 ORDER BY d.tenantId, d.id",
  ).all()));
  await note("join reference", async () => result(await db.prepare(
    "SELECT d.id, k.name FROM diff d JOIN kinds k ON k.k = d.id + 6 WHERE d.tenantId = ? ORDER BY d.id",
  ).bind("acme").all()));
  await note("update", async () => result(await db.prepare("UPDATE diff SET v = v + 1 WHERE tenantId = ? AND id = ?").bind("acme", 1).run()));
  await note("delete", async () => result(await db.prepare("DELETE FROM diff WHERE tenantId = ?").bind("ümlaut").run()));
  await note("update no row", async () => result(await db.prepare("UPDATE diff SET v = 0 WHERE tenantId = ? AND id = ?").bind("nobody", 1).run()));
  await note("batch", async () => (await db.batch([
    db.prepare("INSERT INTO diff VALUES (?, ?, ?)").bind("tenant-1", 20, "b"),
    db.prepare("SELECT count(*) AS n FROM diff WHERE tenantId = ?").bind("tenant-1"),
    db.prepare("UPDATE kinds SET name = upper(name) WHERE k = 7"),
  ])).map((r) => result(r)));
  await note("batch that fails rolls back", async () => {
    try {
      await db.batch([
        db.prepare("INSERT INTO diff VALUES ('tenant-1', 30, 'kept?')"),
        db.prepare("INSERT INTO diff VALUES ('tenant-1', 2, 'duplicate')"),
      ]);
      return "no error";
    } catch (e) {
      return { error: e.message, after: await db.prepare("SELECT count(*) AS n FROM diff WHERE id = 30").first("n") };
    }
  });
  await note("syntax error", () => db.prepare("SELEKT * FROM diff").all());
  await note("no such table", () => db.prepare("SELECT * FROM nope").all());
  await note("no such column", () => db.prepare("SELECT nope FROM diff WHERE tenantId = 'acme'").all());
  await note("constraint", () => db.prepare("INSERT INTO kinds VALUES (7, 'again')").run());
  await note("datatype mismatch", () => db.prepare("INSERT INTO kinds VALUES ('x', 'y')").run());
  await note("exec error", () => db.exec("INSERT INTO kinds VALUES (7, 'again')"));
  await note("final rows", () => db.prepare("SELECT * FROM diff ORDER BY tenantId, id").raw());
  await note("final reference", () => db.prepare("SELECT * FROM kinds ORDER BY k").raw());
  return seen;
}

async function differentialScenario(_db, env) {
  return {
    raw: await d1Calls(env.RAW),
    one: await d1Calls(D1Database.fromEnv(env, DIFF_POLICY(1), "ONE_")),
    four: await d1Calls(D1Database.fromEnv(env, DIFF_POLICY(4), "FOUR_")),
  };
}

// Eight fake D1 bindings that answer after a delay and count calls in flight: a fan-out
// over them may hold at most 6 at once (a Worker's limit on simultaneous connections).
async function concurrencyScenario() {
  let inFlight = 0;
  let most = 0;
  const calls = [];
  const later = (value) =>
    new Promise((resolve) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        resolve(value);
      }, 20);
    });
  // Once t is made, the catalog's load (sqlite_schema joined with each table's columns)
  // finds it.
  let made = false;
  const create = "CREATE TABLE t (k TEXT PRIMARY KEY, v)";
  const catalog = () => [
    ["type", "name", "sql", "name", "type", "pk", "hidden", "dflt_value", "notnull"],
    ...(made ? [["table", "t", create, "k", "TEXT", 1, 0, null, 0], ["table", "t", create, "v", "", 0, 0, null, 0]] : []),
  ];
  const fake = (shard) => {
    const statement = (sql) => ({
      bind: () => statement(sql),
      raw: () => (calls.push([shard, sql]), later(sql.includes("pragma_table_xinfo") ? catalog() : sql === "SELECT k FROM t" ? [["k"]] : [[]])),
      sql,
    });
    return {
      prepare: statement,
      batch: (list) => {
        calls.push([shard, list.map((s) => s.sql).join("; ")]);
        made ||= list.some((s) => s.sql === create);
        return later(list.map(() => ({ results: [], meta: { changes: 0 } })));
      },
    };
  };
  const policy = { name: "eight", capacity: { mode: "manual", targetShardCount: 8 }, sharding: { tables: [{ name: "t", keyColumn: "k" }] } };
  const shards = [0, 1, 2, 3, 4, 5, 6, 7].map(fake);
  const db = new D1Database(shards, policy);
  await db.prepare(create).run();
  const ddl = calls.filter(([, sql]) => sql.startsWith("CREATE TABLE t"));
  const ddlMost = most;
  // A read over every shard (one readAll call in the engine).
  most = 0;
  calls.length = 0;
  const rows = (await db.prepare("SELECT k FROM t").all()).results;
  const reads = calls.map(([shard]) => shard).sort();
  const readMost = most;
  // The same read as a new handle's first call: the schema guard rides with it (the
  // first time as a read of its own, once the read's names are known in one shard's
  // batch() with it, the seven others in one readAll call), 6 at once in all.
  await new D1Database(shards, policy).prepare("SELECT k FROM t").all();
  most = 0;
  calls.length = 0;
  const fresh = new D1Database(shards, policy);
  const freshRows = (await fresh.prepare("SELECT k FROM t").all()).results;
  const guarded = calls.filter(([, sql]) => sql.includes("__d1p_guard") && sql.includes("; SELECT k FROM t")).length;
  const freshReads = [...new Set(calls.map(([shard]) => shard))].sort();
  return {
    most: ddlMost,
    shards: ddl.map(([shard]) => shard).sort(),
    readMost,
    reads,
    rows,
    fresh: { most, guarded, reads: freshReads, rows: freshRows },
  };
}

// Two requests around a schema change made elsewhere (another isolate, a migration):
// the second one's catalog must be the new one.
async function movesBefore(db) {
  await db.exec("CREATE TABLE IF NOT EXISTS moves (tenantId TEXT, id INTEGER)");
  await db.prepare("INSERT INTO moves VALUES ('acme', 1)").run();
  return { n: await db.prepare("SELECT count(*) AS n FROM moves").first("n") };
}

async function movesAfter(db) {
  // The table now reads (id, tenantId): the key is the second value.
  await db.prepare("INSERT INTO moves VALUES (7, 'acme')").run();
  return { n: await db.prepare("SELECT count(*) AS n FROM moves WHERE tenantId = 'acme'").first("n") };
}

const POLICY = {
  name: "e2e",
  capacity: { mode: "manual", targetShardCount: 4 },
  sharding: {
    tables: [
      { name: "events", keyColumn: "tenantId" },
      { name: "orders", keyColumn: "tenantId" },
      { name: "notes", keyColumn: "tenantId" },
      { name: "porders", keyColumn: "tenantId" },
      { name: "moves", keyColumn: "tenantId" },
    ],
  },
};

// One small app on the Database API (db(), migrations, Table API, a transaction, raw SQL);
// e2e/tests/database.test.mjs runs it on 1 shard and on 4 and compares the answers.
const BLOG_SCHEMA = {
  tables: [
    {
      name: "posts",
      columns: [
        { name: "author", type: "TEXT", notNull: true },
        { name: "id", type: "INTEGER", notNull: true },
        { name: "title", type: "TEXT" },
        { name: "status", type: "TEXT" },
        { name: "views", type: "INTEGER" },
      ],
      primaryKey: ["author", "id"],
      indexes: [{ name: "posts_views", columns: ["views"] }],
    },
    { name: "tags", columns: [{ name: "name", type: "TEXT", primaryKey: true }] },
  ],
};

const blog = (shards, prefix) =>
  declare({
    name: "blog",
    capacity: shards === 1 ? { mode: "fixed" } : { mode: "manual", targetShardCount: shards },
    sharding: { tables: [{ name: "posts", keyColumn: "author" }], reference: ["tags"] },
    schema: BLOG_SCHEMA,
    migrations: [{ name: "0001_post_tag.sql", sql: "ALTER TABLE posts ADD COLUMN tag TEXT" }],
    bindingPrefix: prefix,
  });

async function blogApp(env, shards, prefix) {
  const database = blog(shards, prefix).connect(env);
  const out = {};
  out.migrate = await database.migrate();
  out.again = await database.migrate();
  out.check = await database.check();
  out.types = rowTypes(BLOG_SCHEMA);
  const posts = database.table("posts");
  const authors = ["ann", "bob", "cy", "dee", "eve"];
  const rows = [];
  for (let i = 1; i <= 40; i++) {
    rows.push({ author: authors[i % 5], id: i, title: `post ${i}`, status: i % 3 ? "published" : "draft",
      views: i % 7 === 0 ? null : (i * 37) % 50, tag: i % 2 ? "rust" : null });
  }
  out.inserted = (await posts.insert(rows)).length;
  out.one = await posts.insert({ author: "ann", id: 100, title: "solo", status: "draft", views: 1 });
  out.get = await posts.get({ author: "bob", id: 6 });
  out.missing = await posts.get({ author: "bob", id: 999 });
  out.updated = await posts.update({ author: "cy", id: 2 }, { views: 500, status: "published" });
  out.deleted = await posts.delete({ author: "dee", id: 3 });
  out.count = await posts.count({ status: "published", views: { gt: 10 } });
  out.exists = await posts.exists({ title: { like: "post 3%" } });
  out.none = await posts.exists({ author: { in: [] } });
  out.pages = [];
  let cursor = null;
  do {
    const page = await posts.list({ where: { views: { isNull: false } }, orderBy: ["-views", "title"], limit: 6, cursor });
    out.pages.push(page.rows.map((r) => [r.author, r.id, r.views]));
    cursor = page.cursor;
  } while (cursor);
  out.transaction = (await database.transaction(async (tx) => {
    tx.sql({ statement: "UPDATE posts SET views = views + 1 WHERE author = ? AND id = ?", params: ["eve", 4] });
    tx.add(database.statement("INSERT INTO posts (author, id, title) VALUES (?, ?, ?)").bind("eve", 200, "tx"));
  })).map((r) => r.meta.changes);
  try {
    await database.transaction((tx) => {
      tx.sql({ statement: "INSERT INTO posts (author, id) VALUES ('ann', 300)" });
      tx.sql({ statement: "INSERT INTO posts (author, id) VALUES ('bob', 301)" });
    });
    out.crossShard = "ran";
  } catch (e) {
    out.crossShard = e.code;
  }
  out.raw = await database.sql({ statement: "SELECT status, count(*) AS n, sum(views) AS v FROM posts GROUP BY status ORDER BY status" }).all()
    .then((r) => r.results);
  try {
    await posts.count({ tittle: "x" });
  } catch (e) {
    out.badField = [e.code, e.message.includes('"tittle"')];
  }
  return out;
}

async function databaseScenario(_db, env) {
  return { one: await blogApp(env, 1, "ONE_"), four: await blogApp(env, 4, "FOUR_") };
}

export default {
  async fetch(request, env) {
    const db = D1Database.fromEnv(env, POLICY);
    const scenario = { "/drizzle": drizzleScenario, "/kysely": kyselyScenario, "/prisma": prismaScenario,
      "/concurrency": concurrencyScenario,
      "/moves-before": movesBefore,
      "/moves-after": movesAfter, "/surface": surfaceScenario, "/differential": differentialScenario,
      "/database": databaseScenario }[
      new URL(request.url).pathname
    ];
    if (!scenario) return new Response("no such scenario", { status: 404 });
    try {
      return Response.json({ ok: await scenario(db, env), queries: db.queriesUsed });
    } catch (e) {
      return Response.json({ error: { message: e.message, stack: e.stack, cause: String(e.cause?.message ?? "") } });
    }
  },
};
