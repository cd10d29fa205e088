// Realtime in the example Worker (worker/index.js, js/realtime.js) on four local D1 shards:
// WebSocket clients of two tenants each see exactly their own tenant's committed writes, in
// commit order; a client that reconnects with its cursor misses nothing and sees nothing
// twice; subscriptions the app does not authorize (or any, without its hook) are refused.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { ROOT, SHARD_OF, postQuery, start, workerPath } from "./harness.mjs";

const toml = readFileSync(`${ROOT}/wrangler.toml`, "utf8");
const POLICY = toml.match(/D1PLUS_POLICY = '''([\s\S]*?)'''/)[1];
const TOKEN = "e2e-secret-0123456789";
const REALTIME_SECRET = "e2e-realtime-secret-0123456789";
const HUB = { durableObjects: { D1PLUS_REALTIME: "RealtimeHub" } };

let mf;

const tokenFor = (key) => createHmac("sha256", REALTIME_SECRET).update(key).digest("hex");

async function ok(body) {
  const out = await postQuery(mf, TOKEN, body);
  assert.equal(out.success, true, JSON.stringify(out));
  return out.result;
}

async function fails(body) {
  assert.equal((await postQuery(mf, TOKEN, body)).success, false);
}

/** A WebSocket client of `/realtime` that collects the hub's messages. */
async function connect(on, params) {
  const res = await on.dispatchFetch(`http://example/realtime?${new URLSearchParams(params)}`, {
    headers: { upgrade: "websocket" },
  });
  if (res.status !== 101) return { status: res.status, body: await res.json() };
  const ws = res.webSocket;
  const messages = [];
  const waiters = [];
  ws.addEventListener("message", (m) => {
    messages.push(JSON.parse(m.data));
    for (const w of waiters.splice(0)) w();
  });
  ws.accept();
  const client = {
    status: 101,
    ws,
    messages,
    events: () => messages.filter((m) => m.type === "event"),
    /** Waits until `pred(messages)` holds (or fails after a timeout, showing what came). */
    async until(pred, what, ms = 10000) {
      const deadline = Date.now() + ms;
      while (!pred(messages)) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
  };
  await client.until((m) => m.some((x) => x.type === "ready" || x.type === "error"), "ready");
  return client;
}

const tenantClient = (key, extra = {}) =>
  connect(mf, { table: "events", key, token: tokenFor(key), ...extra });

before(async () => {
  mf = await start(
    workerPath("worker/index.js"),
    {
      D1PLUS_POLICY: POLICY,
      D1PLUS_TOKEN: TOKEN,
      D1PLUS_REALTIME_SECRET: REALTIME_SECRET,
      D1PLUS_REALTIME_INTERVAL_MS: "50",
    },
    [],
    HUB,
  );
  await ok({
    sql: "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, PRIMARY KEY (tenantId, id))",
  });
});

after(async () => {
  await mf?.dispose();
});

/** What a tenant's stream must show for these writes: op, row key and amount, in order. */
const shape = (events) => events.map((e) => [e.op, (e.row ?? e.old).tenantId, (e.row ?? e.old).id, e.row?.amount ?? null]);

test("two tenants each see exactly their own committed writes, in order", async () => {
  assert.notEqual(SHARD_OF.acme, SHARD_OF["tenant-1"], "the tenants live on different shards");
  const acme = await tenantClient("acme");
  const other = await tenantClient("tenant-1");
  assert.equal(acme.status, 101);
  assert.match(acme.messages[0].cursor, /^rt4:/);

  // One multi-row insert across three shards, an upsert, an update, a failing batch (rolled
  // back: no event), a delete.
  // meta.changes counts the rows each statement changed, not the change log's rows that
  // the capture triggers write beside them (D1 itself would count those too).
  const changes = async (sql) => (await ok({ sql }))[0].meta.changes;
  assert.equal(
    await changes(
      "INSERT INTO events VALUES ('acme', 1, 'a', 10), ('tenant-1', 1, 'a', 20), ('日本語', 1, 'a', 30), ('acme', 2, 'a', 40)",
    ),
    4,
  );
  assert.equal(
    await changes(
      "INSERT INTO events VALUES ('acme', 1, 'b', 11) ON CONFLICT (tenantId, id) DO UPDATE SET amount = excluded.amount",
    ),
    1,
  );
  assert.equal(await changes("UPDATE events SET amount = 21 WHERE tenantId = 'tenant-1' AND id = 1"), 1);
  await fails({
    batch: [
      { sql: "INSERT INTO events VALUES ('acme', 3, 'rolled back', 99)" },
      { sql: "INSERT INTO events VALUES ('acme', 1, 'duplicate', 0)" },
    ],
  });
  await ok({ sql: "DELETE FROM events WHERE tenantId = 'acme' AND id = 2" });

  await acme.until((m) => m.filter((x) => x.type === "event").length >= 4, "acme's four events");
  await other.until((m) => m.filter((x) => x.type === "event").length >= 2, "tenant-1's two events");
  // Two more ticks: nothing else arrives (no other tenant's rows, no rolled-back insert).
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(shape(acme.events()), [
    ["insert", "acme", 1, 10],
    ["insert", "acme", 2, 40],
    ["update", "acme", 1, 11],
    ["delete", "acme", 2, null],
  ]);
  assert.deepEqual(shape(other.events()), [
    ["insert", "tenant-1", 1, 20],
    ["update", "tenant-1", 1, 21],
  ]);
  for (const e of acme.events()) assert.equal(e.shard, SHARD_OF.acme);
  assert.deepEqual(acme.events()[2].old, { tenantId: "acme", id: 1, kind: "a", amount: 10 });
  acme.ws.close();
  other.ws.close();
});

test("a client that reconnects with its cursor misses nothing and repeats nothing", async () => {
  const first = await tenantClient("acme");
  await ok({ sql: "INSERT INTO events VALUES ('acme', 10, 'x', 1)" });
  await first.until((m) => m.some((x) => x.type === "event"), "the first event");
  const last = first.events().at(-1).cursor;
  first.ws.close();

  // Written while no client is connected (and by several statements, one a batch).
  await ok({ sql: "UPDATE events SET amount = 2 WHERE tenantId = 'acme' AND id = 10" });
  await ok({
    batch: [
      { sql: "INSERT INTO events VALUES ('acme', 11, 'y', 3)" },
      { sql: "INSERT INTO events VALUES ('tenant-1', 11, 'y', 4)" },
    ],
  });
  await ok({ sql: "DELETE FROM events WHERE tenantId = 'acme' AND id = 10" });

  const again = await tenantClient("acme", { cursor: last });
  assert.equal(again.messages[0].cursor, last, "the stream resumes where the client was");
  await again.until((m) => m.filter((x) => x.type === "event").length >= 3, "the three missed events");
  await ok({ sql: "INSERT INTO events VALUES ('acme', 12, 'z', 5)" });
  await again.until((m) => m.filter((x) => x.type === "event").length >= 4, "the live event after them");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(shape(again.events()), [
    ["update", "acme", 10, 2],
    ["insert", "acme", 11, 3],
    ["delete", "acme", 10, null],
    ["insert", "acme", 12, 5],
  ]);
  again.ws.close();

  // A cursor that is not one is refused on the socket, with its code.
  const bad = await tenantClient("acme", { cursor: "rt4:nonsense" });
  assert.deepEqual(
    bad.messages.map((m) => [m.type, m.code]),
    [["error", "D1PLUS_INVALID_ARGUMENT"]],
  );
});

test("subscriptions the app does not authorize are refused", async () => {
  const noToken = await connect(mf, { table: "events", key: "acme" });
  assert.equal(noToken.status, 403);
  const otherTenants = await connect(mf, { table: "events", key: "acme", token: tokenFor("tenant-1") });
  assert.equal(otherTenants.status, 403);
  assert.equal(otherTenants.body.errors[0].code, "D1PLUS_UNAUTHORIZED");
  const everyRow = await connect(mf, { table: "events", token: tokenFor("acme") });
  assert.equal(everyRow.status, 403, "this app grants no stream of every tenant's rows");
  const notWs = await mf.dispatchFetch("http://example/realtime?table=events&key=acme");
  assert.equal(notWs.status, 426);

  // Without the app's secret the example gives no hook, and the library denies everything.
  const closed = await start(workerPath("worker/index.js"), { D1PLUS_POLICY: POLICY, D1PLUS_TOKEN: TOKEN }, [], HUB);
  try {
    const denied = await connect(closed, { table: "events", key: "acme", token: tokenFor("acme") });
    assert.equal(denied.status, 403);
    assert.match(denied.body.errors[0].message, /no authorize hook/);
  } finally {
    await closed.dispose();
  }
});
