// Realtime over WebSockets in a Worker: committed writes of the policy's realtime tables,
// pushed to clients by a Durable Object hub.
//
//   // the Worker's fetch: the app decides who may follow what (no hook: every request is denied)
//   if (url.pathname === "/realtime") return realtimeRoute(request, env, { authorize });
//   // and the hub class, bound as D1PLUS_REALTIME (wrangler.toml [durable_objects])
//   export { RealtimeHub } from "d1plus/realtime";
//
// A client opens `GET /realtime?table=docs&key=acme[&cursor=…]` as a WebSocket and receives
// JSON messages:
//   {"type": "ready", "cursor": "rt4:…"}           where the stream starts (resume from it)
//   {"type": "event", "cursor", "table", "op", "row", "old", "shard", "at"}
//   {"type": "error", "code", "message"}           then the hub closes the socket (4000)
// To resume after a disconnect, reconnect with the last `cursor` received: nothing missed,
// nothing repeated, or D1PLUS_CURSOR_EXPIRED when the log no longer reaches back that far.
//
// How events are fetched and pushed: one hub per subscription (same tables and key), named
// by it. While it has sockets, the hub's alarm reads the change log every `interval` ms
// (D1PLUS_REALTIME_INTERVAL_MS, default 250), in its own invocation with its own query
// budget: one D1 query per shard read, and a key's subscription reads only the key's shard.
// Worker requests never wait on it and never notify it; a write committed by any isolate or
// process is seen at the next tick. Sockets are accepted with the hibernation API, and each
// keeps its cursor in its attachment, so a hub evicted from memory resumes every client where
// it was. Sockets sharing a cursor are served by one read.

import { CODES, D1Database } from "./d1plus.js";

const SUBSCRIPTION_HEADER = "x-d1plus-subscription";
const DEFAULT_INTERVAL_MS = 250;
/** Reads per socket group in one tick (each reads up to 100 entries per shard). */
const READS_PER_TICK = 10;

function refuse(status, code, message) {
  return new Response(JSON.stringify({ success: false, errors: [{ code, message }] }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * The Worker's realtime route. `authorize(request, { tables, key }, env)` (sync or async) is
 * the app's decision: `true` lets the subscription through, anything else (or a throw) is a
 * 403. Without a hook every subscription is refused: a stream shows rows, so the app must say
 * who may see them. `key` is the shard key whose rows the client follows (null: every row,
 * for admin streams). `hub` names the Durable Object namespace binding.
 */
export async function realtimeRoute(request, env, { authorize, hub = "D1PLUS_REALTIME" } = {}) {
  if (request.method !== "GET" || (request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    return refuse(426, CODES.InvalidArgument, "open GET /realtime?table=…&key=… as a WebSocket");
  }
  const url = new URL(request.url);
  const tables = url.searchParams.getAll("table");
  const key = url.searchParams.get("key");
  const cursor = url.searchParams.get("cursor");
  if (typeof authorize !== "function") {
    return refuse(
      403,
      CODES.Unauthorized,
      "realtime subscriptions are denied: this Worker gives no authorize hook (realtimeRoute(request, env, { authorize }))",
    );
  }
  let allowed = false;
  try {
    allowed = (await authorize(request, { tables, key }, env)) === true;
  } catch {
    allowed = false;
  }
  if (!allowed) return refuse(403, CODES.Unauthorized, "this subscription is not authorized");
  const namespace = env[hub];
  if (!namespace || typeof namespace.idFromName !== "function") {
    return refuse(500, CODES.InvalidBinding, `no Durable Object binding ${hub} for the realtime hub`);
  }
  const name = JSON.stringify({ tables: [...tables].sort(), key });
  const stub = namespace.get(namespace.idFromName(name));
  return stub.fetch("https://hub/subscribe", {
    headers: { upgrade: "websocket", [SUBSCRIPTION_HEADER]: JSON.stringify({ tables, key, cursor }) },
  });
}

/**
 * The hub: a Durable Object class (bind it as D1PLUS_REALTIME). It reads the shards through
 * d1plus with `env.D1PLUS_POLICY` and the bindings `SHARD_0`, `SHARD_1`, … of its env.
 * Only the Worker reaches it (Durable Objects have no public address), and the Worker has
 * authorized the subscription it forwards.
 */
export class RealtimeHub {
  constructor(state, env) {
    this.state = state;
    this.env = env;
  }

  get #interval() {
    const ms = Number(this.env.D1PLUS_REALTIME_INTERVAL_MS);
    return Number.isFinite(ms) && ms >= 10 ? ms : DEFAULT_INTERVAL_MS;
  }

  #database() {
    return D1Database.fromEnv(this.env, this.env.D1PLUS_POLICY, "SHARD_", { queryBudget: null });
  }

  async fetch(request) {
    let subscription;
    try {
      subscription = JSON.parse(request.headers.get(SUBSCRIPTION_HEADER));
    } catch {
      subscription = null;
    }
    if (!subscription || (request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      return refuse(400, CODES.InvalidArgument, "the hub takes subscriptions forwarded by realtimeRoute");
    }
    const { tables, key } = subscription;
    let cursor = subscription.cursor;
    const [client, server] = Object.values(new WebSocketPair());
    this.state.acceptWebSocket(server);
    try {
      // Checks the subscription (tables, key) against the policy, and fixes where it starts.
      const answer = await this.#database().changes({ cursor: cursor ?? null, tables, key, limit: 1 });
      if (!cursor) cursor = answer.cursor;
    } catch (e) {
      this.#fail(server, e);
      return new Response(null, { status: 101, webSocket: client });
    }
    server.serializeAttachment({ tables, key, cursor });
    server.send(JSON.stringify({ type: "ready", cursor }));
    await this.#schedule(0);
    return new Response(null, { status: 101, webSocket: client });
  }

  async alarm() {
    await this.#tick();
    if (this.state.getWebSockets().length > 0) await this.#schedule(this.#interval);
  }

  async webSocketMessage(ws, message) {
    // Clients only listen; a ping gets a pong so they can tell the hub is there.
    if (message === "ping") ws.send(JSON.stringify({ type: "pong" }));
  }

  async webSocketClose(ws, code, reason) {
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  async #schedule(delay) {
    const at = Date.now() + delay;
    const current = await this.state.storage.getAlarm();
    if (current === null || current > at) await this.state.storage.setAlarm(at);
  }

  #fail(ws, e) {
    try {
      ws.send(JSON.stringify({ type: "error", code: e.code ?? CODES.Internal, message: e.message }));
      ws.close(4000, String(e.code ?? "error").slice(0, 100));
    } catch {
      // the client left already
    }
  }

  /** Reads what happened after each group of sockets' cursor and sends it to them. */
  async #tick() {
    const groups = new Map();
    for (const ws of this.state.getWebSockets()) {
      const a = ws.deserializeAttachment();
      if (!a?.cursor) continue;
      const id = JSON.stringify([a.cursor, a.tables, a.key]);
      if (!groups.has(id)) groups.set(id, { ...a, sockets: [] });
      groups.get(id).sockets.push(ws);
    }
    const db = this.#database();
    for (const group of groups.values()) {
      let cursor = group.cursor;
      for (let read = 0; read < READS_PER_TICK; read++) {
        let answer;
        try {
          answer = await db.changes({ cursor, tables: group.tables, key: group.key, limit: 100 });
        } catch (e) {
          // An expired cursor (or a split since): these clients must start a new stream.
          if (e.code === CODES.CursorExpired) group.sockets.forEach((ws) => this.#fail(ws, e));
          break;
        }
        for (const ws of group.sockets) {
          try {
            for (const event of answer.events) ws.send(JSON.stringify({ type: "event", ...event }));
            ws.serializeAttachment({ tables: group.tables, key: group.key, cursor: answer.cursor });
          } catch {
            // closed meanwhile
          }
        }
        if (answer.cursor === cursor) break;
        cursor = answer.cursor;
      }
    }
  }
}
