// The cold-start baseline of the miniflare benchmark (e2e/bench/run.mjs): the raw binding's
// point read of e2e/bench/worker.js in a Worker that does not load d1plus, so the startup
// and first request the d1plus module adds can be told apart from workerd's own.
export default {
  async fetch(request, env) {
    const r = await env.RAW.prepare("SELECT id, amount FROM events WHERE tenantId = ? AND id = ?").bind("t7", 7).all();
    return Response.json(r.results);
  },
};
