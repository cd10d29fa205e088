// The console page of the example Worker (`GET /`) in a real headless Chromium (Debian's
// chromium driven by playwright-core): the shard map shows each shard's rows as the shards
// hold them, and a query shows its plan beside its result.
//
// Needs a Chromium: CHROMIUM_PATH, or /usr/bin/chromium (`apt-get install chromium`). Without
// one the test is skipped, unless D1PLUS_REQUIRE_BROWSER is set (as `.ci/run` sets it).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { ROOT, SHARD_OF, perShard, postQuery, start, workerPath } from "./harness.mjs";

const toml = readFileSync(`${ROOT}/wrangler.toml`, "utf8");
const POLICY = toml.match(/D1PLUS_POLICY = '''([\s\S]*?)'''/)[1];
const TOKEN = "e2e-console-secret-0123456789";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const HAVE_BROWSER = existsSync(CHROMIUM);
if (!HAVE_BROWSER && process.env.D1PLUS_REQUIRE_BROWSER) {
  throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
}

let mf;
let url;
let browser;

async function sql(body) {
  const out = await postQuery(mf, TOKEN, body);
  assert.equal(out.success, true, JSON.stringify(out));
  return out.result;
}

before(async () => {
  if (!HAVE_BROWSER) return;
  mf = await start(workerPath("worker/index.js"), { D1PLUS_POLICY: POLICY, D1PLUS_TOKEN: TOKEN }, [], {
    host: "127.0.0.1",
    port: 0,
  });
  url = await mf.ready;
  await sql({
    sql: "CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, PRIMARY KEY (tenantId, id))",
  });
  const rows = [];
  for (let i = 0; i < 12; i++) rows.push(["acme", i, "click", i]);
  for (let i = 0; i < 5; i++) rows.push(["tenant-1", i, "view", 10 * i]);
  rows.push(["日本語", 1, "buy", 7]);
  await sql({ sql: `INSERT INTO events VALUES ${rows.map(() => "(?, ?, ?, ?)").join(", ")}`, params: rows.flat() });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // As the machine notes say: no sandbox as root, and no background traffic to a closed network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  await mf?.dispose();
});

test("the console draws the shard map and shows a query's plan beside its result", { skip: !HAVE_BROWSER && "no Chromium" }, async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(String(url));
  assert.equal(await page.title(), "d1plus console");
  // No token, no data.
  assert.match(await page.locator("#shards").innerText(), /Connect with the token/);

  await page.fill("#token", TOKEN);
  await page.click("#auth button");
  await page.locator(".shard").nth(3).waitFor();
  const drawn = await page.$$eval(".shard", (rows) => rows.map((r) => [Number(r.dataset.index), Number(r.dataset.rows)]));
  const held = (await perShard(mf, "SELECT count(*) AS n FROM events")).map((r, i) => [i, r[0].n]);
  assert.deepEqual(drawn, held, "the bars are each shard's rows");
  assert.equal(held[SHARD_OF.acme][1], 12);
  assert.match(await page.locator("#summary").innerText(), /skew .*; split: none in progress; top keys events: acme \(12\)/);

  // A fan-out aggregate: the plan (route, per-shard SQL, merge) beside the merged result.
  await page.fill("#sql", "SELECT tenantId, count(*) AS n, sum(amount) AS total FROM events GROUP BY tenantId ORDER BY n DESC");
  await page.click("#query button");
  await page.locator("#result table").waitFor();
  const plan = await page.locator("#plan").innerText();
  assert.match(plan, /^route: all shards/);
  assert.match(plan, /shards 0-3: SELECT/);
  assert.match(plan, /merge: /);
  const cells = await page.$$eval("#result tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(cells, [
    ["tenantId", "n", "total"],
    ["acme", "12", "66"],
    ["tenant-1", "5", "100"],
    ["日本語", "1", "7"],
  ]);

  // A keyed read with parameters: one shard, named in the plan and the result's line.
  await page.fill("#sql", "SELECT id FROM events WHERE tenantId = ? AND id < ? ORDER BY id");
  await page.fill("#params", '["tenant-1", 2]');
  await page.click("#query button");
  await page.waitForFunction(() => document.querySelectorAll("#result tr").length === 3);
  assert.match(await page.locator("#plan").innerText(), new RegExp(`^route: shard ${SHARD_OF["tenant-1"]}\\n`));
  assert.match(await page.locator("#meta").innerText(), new RegExp(`^2 rows from shards ${SHARD_OF["tenant-1"]} in `));

  // A mistake shows the error in place of the result.
  await page.fill("#params", "");
  await page.fill("#sql", "SELEC 1");
  await page.click("#query button");
  await page.locator("#result.error").waitFor();
  assert.match(await page.locator("#result").innerText(), /syntax error/);
  await page.screenshot({ path: `${ROOT}/e2e/dist/console.png`, fullPage: true });
  assert.deepEqual(problems, []);
});
