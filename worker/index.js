// The example Worker: four D1 databases (SHARD_0..SHARD_3 in wrangler.toml) served as one
// through d1plus, behind the D1 HTTP query API's shape:
//
//   POST /query  {"sql": "...", "params": [...], "shard": {...}?}  or  {"batch": [{sql, params}, ...]}
//   -> {"success": true, "errors": [], "messages": [], "result": [{results, success, meta}, ...]}
//
// Sessions: send the bookmark of an earlier answer in the `x-d1plus-bookmark` header; every
// answer carries the session's new bookmark in the same header.
import { D1Database } from "../js/d1plus.js";
import { CODES } from "../js/codes.js";

function answer(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function failure(status, message, code) {
  return answer({ success: false, errors: [{ code, message }], messages: [], result: [] }, status);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/query") return failure(404, "not found: POST /query", 7404);
    if (request.method !== "POST") return failure(405, "use POST /query", 7405);
    let body;
    try {
      body = await request.json();
    } catch (e) {
      return failure(400, `the body is not JSON: ${e.message}`, 7400);
    }
    const list = Array.isArray(body?.batch) ? body.batch : [body];
    if (list.length === 0 || list.some((s) => typeof s?.sql !== "string")) {
      return failure(400, 'expected {"sql": "...", "params": [...]} or {"batch": [...]}', 7400);
    }
    try {
      const db = D1Database.fromEnv(env, env.D1PLUS_POLICY);
      const bookmark = request.headers.get("x-d1plus-bookmark");
      const session = db.withSession(bookmark ?? "first-unconstrained");
      const statements = list.map((s) =>
        session.sql({ statement: s.sql, params: s.params ?? [], shard: s.shard ?? undefined }),
      );
      const result =
        statements.length === 1 && !body.batch ? [await statements[0].all()] : await session.batch(statements);
      const headers = {};
      const next = session.getBookmark();
      if (next) headers["x-d1plus-bookmark"] = next;
      return answer({ success: true, errors: [], messages: [], result }, 200, headers);
    } catch (e) {
      return failure(400, e.message, e.code ?? CODES.Internal);
    }
  },
};
