// The example Worker: four D1 databases (SHARD_0..SHARD_3 in wrangler.toml) served as one
// through d1plus, behind the D1 HTTP query API's shape:
//
//   POST /query  (Authorization: Bearer <the D1PLUS_TOKEN secret>)
//                {"sql": "...", "params": [...], "shard": {...}?}  or  {"batch": [{sql, params}, ...]}
//                (add "format": "rows" for results as {columns, rows, meta})
//   -> {"success": true, "errors": [], "messages": [], "result": [{results, success, meta}, ...]}
//   GET  /status (the same secret) -> {"success": true, "result": {shards, split, skew, top_keys}}
//   POST /explain (the same secret) {"sql", "params"?, "shard"?} -> {"success": true, "result": "<plan>"}
//   GET  /       the console page: the shard map and a query box with the plan beside the result
//
// Sessions: send the bookmark of an earlier answer in the `x-d1plus-bookmark` header; every
// answer carries the session's new bookmark in the same header.
//
// Admin (Authorization: Bearer <the D1PLUS_ADMIN_TOKEN secret>; without that secret the
// routes do not exist):
//   POST /admin/migrate  {"migrations": [{"name": "0001_init.sql", "sql": "..."}, ...]}
//                        -> {"success": true, "result": {"applied": n, "already": m}}
//   POST /admin/split    {"to": 8}, {"auto": true} or {"abort": true} -> one step of an online split:
//                        {"result": {"layout", "split", "done", "rows", "changes", "queries"}}
//   GET  /admin/check    -> {"success": true, "result": {"agree": bool, "differences": [...]}}
//
// Realtime (js/realtime.js): `GET /realtime?table=events&key=<tenantId>&token=<token>` opened
// as a WebSocket streams that tenant's committed writes, through the RealtimeHub Durable
// Object. Who may follow what is the app's decision (`authorize` below): this example takes
// a token the app gives each tenant, hex(HMAC-SHA256(D1PLUS_REALTIME_SECRET, key)). Without
// that secret it gives no hook, and every subscription is refused.
import { D1Database, splitStep } from "../js/d1plus.js";
import { CODES } from "../js/codes.js";
import { realtimeRoute } from "../js/realtime.js";
import { CONSOLE_HTML } from "./console.js";

export { RealtimeHub } from "../js/realtime.js";

function answer(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function failure(status, message, code) {
  return answer({ success: false, errors: [{ code, message }], messages: [], result: [] }, status);
}

// Answers what `work` resolves to, or its error (with its code) as a 400.
async function answering(work) {
  try {
    return answer({ success: true, errors: [], messages: [], result: await work() });
  } catch (e) {
    return failure(400, e.message, e.code ?? CODES.Internal);
  }
}

// Whether `a` and `b` are the same text, taking as long whatever their first difference.
function sameSecret(a, b) {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

// The admin routes: migrations and the schema check against the shards, each behind its own
// secret. Without D1PLUS_ADMIN_TOKEN they answer 404, as routes that do not exist.
async function admin(request, env, url) {
  const secret = env.D1PLUS_ADMIN_TOKEN;
  if (typeof secret !== "string" || secret.length < 16) return failure(404, "not found", CODES.InvalidArgument);
  const auth = request.headers.get("authorization") ?? "";
  if (!auth.startsWith("Bearer ") || !sameSecret(auth.slice("Bearer ".length), secret)) {
    return failure(401, "send the D1PLUS_ADMIN_TOKEN secret as `Authorization: Bearer <token>`", CODES.Unauthorized);
  }
  try {
    // Migrations touch every shard once per migration: no per-request query limit.
    const db = D1Database.fromEnv(env, env.D1PLUS_POLICY, "SHARD_", { queryBudget: null });
    if (url.pathname === "/admin/check" && request.method === "GET") {
      return answer({ success: true, errors: [], messages: [], result: await db.check() });
    }
    if (url.pathname === "/admin/migrate" && request.method === "POST") {
      const body = await request.json().catch(() => null);
      const result = await db.migrate(body?.migrations);
      return answer({ success: true, errors: [], messages: [], result });
    }
    if (url.pathname === "/admin/split" && request.method === "POST") {
      // One bounded step of an online split; call again until `done` (or let an alarm).
      const body = await request.json().catch(() => ({}));
      const result = await splitStep(env, env.D1PLUS_POLICY, {
        to: body?.to,
        abort: body?.abort === true,
        auto: body?.auto === true,
        maxQueries: body?.maxQueries,
        chunkRows: body?.chunkRows,
      });
      return answer({ success: true, errors: [], messages: [], result });
    }
    return failure(404, "not found: POST /admin/migrate, POST /admin/split, GET /admin/check", CODES.InvalidArgument);
  } catch (e) {
    return failure(400, e.message, e.code ?? CODES.Internal);
  }
}

/** The token that lets a client follow `key`'s rows: hex(HMAC-SHA256(secret, key)). */
async function realtimeToken(secret, key) {
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(key));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// The app's decision for realtime: one tenant's rows, for the holder of that tenant's token.
async function authorizeTenant(request, { key }, env) {
  if (key === null) return false;
  const token = new URL(request.url).searchParams.get("token") ?? "";
  return sameSecret(token, await realtimeToken(env.D1PLUS_REALTIME_SECRET, key));
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/admin/")) return admin(request, env, url);
    if (url.pathname === "/realtime") {
      const secret = env.D1PLUS_REALTIME_SECRET;
      const authorize = typeof secret === "string" && secret.length >= 16 ? authorizeTenant : undefined;
      return realtimeRoute(request, env, { authorize });
    }
    const route = `${request.method} ${url.pathname}`;
    // The console page holds no data: it asks for the token and calls the routes below.
    if (route === "GET /") {
      return new Response(CONSOLE_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (route !== "POST /query" && route !== "GET /status" && route !== "POST /explain") {
      return failure(404, "not found: GET /, POST /query, POST /explain, GET /status", CODES.InvalidArgument);
    }
    // Every route that runs SQL needs the secret: no secret configured, no route.
    if (typeof env.D1PLUS_TOKEN !== "string" || env.D1PLUS_TOKEN.length < 16) {
      return failure(
        503,
        "this Worker has no D1PLUS_TOKEN secret (at least 16 characters), so it serves no SQL: set one with `wrangler secret put D1PLUS_TOKEN` (locally, in .dev.vars)",
        CODES.Unauthorized,
      );
    }
    const auth = request.headers.get("authorization") ?? "";
    if (!auth.startsWith("Bearer ") || !sameSecret(auth.slice("Bearer ".length), env.D1PLUS_TOKEN)) {
      return failure(401, "send the D1PLUS_TOKEN secret as `Authorization: Bearer <token>`", CODES.Unauthorized);
    }
    if (route === "GET /status") {
      return answering(() => D1Database.fromEnv(env, env.D1PLUS_POLICY).status());
    }
    let body;
    try {
      body = await request.json();
    } catch (e) {
      return failure(400, `the body is not JSON: ${e.message}`, CODES.InvalidArgument);
    }
    if (route === "POST /explain") {
      return answering(() =>
        D1Database.fromEnv(env, env.D1PLUS_POLICY).explain({ statement: body?.sql, params: body?.params, shard: body?.shard }),
      );
    }
    const list = Array.isArray(body?.batch) ? body.batch : [body];
    if (list.length === 0 || list.some((s) => typeof s?.sql !== "string")) {
      return failure(400, 'expected {"sql": "...", "params": [...]} or {"batch": [...]}', CODES.InvalidArgument);
    }
    try {
      const db = D1Database.fromEnv(env, env.D1PLUS_POLICY);
      const bookmark = request.headers.get("x-d1plus-bookmark");
      const session = db.withSession(bookmark ?? "first-unconstrained");
      const statements = list.map((s) =>
        session.sql({ statement: s.sql, params: s.params ?? [], shard: s.shard ?? undefined }),
      );
      // `"format": "rows"` (what `d1plus … --url` asks for): each result as
      // `{ columns, rows, meta }`, keeping SQLite's column order and repeated names.
      const rows = body.format === "rows";
      const one = statements.length === 1 && !body.batch;
      const result = rows
        ? one
          ? [await statements[0].answer()]
          : await session.batchAnswers(statements)
        : one
          ? [await statements[0].all()]
          : await session.batch(statements);
      const headers = {};
      const next = session.getBookmark();
      if (next) headers["x-d1plus-bookmark"] = next;
      return answer({ success: true, errors: [], messages: [], result }, 200, headers);
    } catch (e) {
      return failure(400, e.message, e.code ?? CODES.Internal);
    }
  },
};
