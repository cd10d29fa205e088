// The console page of the example Worker (`GET /`): the shard map (rows and bytes per shard,
// as bars, with the skew and the split in progress) and a query box that shows the plan
// (route, each shard's SQL, the merge) beside the result. The page itself holds no data: it
// asks for the D1PLUS_TOKEN secret and calls `GET /status`, `POST /explain` and `POST /query`
// with it, like any other client.

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>d1plus console</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  h2 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; }
  input, textarea, button { font: inherit; }
  textarea { width: 100%; min-height: 4.5rem; font-family: ui-monospace, monospace; }
  #params { width: 100%; font-family: ui-monospace, monospace; }
  .shard { display: grid; grid-template-columns: 5rem 1fr 20rem; gap: 0.5rem; align-items: center; margin: 2px 0; }
  .bar { background: #3b82f6; height: 1rem; min-width: 1px; }
  .side { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
  pre { background: #f4f4f5; padding: 0.5rem; overflow-x: auto; white-space: pre-wrap; }
  table { border-collapse: collapse; }
  td, th { border: 1px solid #d4d4d8; padding: 2px 6px; font-family: ui-monospace, monospace; }
  .error { color: #b91c1c; }
  .muted { color: #71717a; }
</style>
</head>
<body>
<h1>d1plus console</h1>
<form id="auth">
  <label>Token <input id="token" type="password" autocomplete="off" placeholder="the D1PLUS_TOKEN secret"></label>
  <button>Connect</button>
</form>
<h2>Shards</h2>
<div id="shards" class="muted">Connect with the token to see the shards.</div>
<p id="summary" class="muted"></p>
<h2>Query</h2>
<form id="query">
  <textarea id="sql" spellcheck="false">SELECT * FROM sqlite_schema</textarea>
  <input id="params" placeholder='parameters as a JSON array, e.g. ["acme", 1] (empty: none)'>
  <button>Run</button>
</form>
<div class="side">
  <div><h3>Plan</h3><pre id="plan" class="muted">(none yet)</pre></div>
  <div><h3>Result</h3><div id="result" class="muted">(none yet)</div><p id="meta" class="muted"></p></div>
</div>
<script>
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("d1plus-token") ?? "";
$("token").value = token;

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: "Bearer " + token, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const out = await res.json();
  if (!out.success) throw new Error(out.errors?.[0]?.message ?? ("HTTP " + res.status));
  return out.result;
}

function text(el, value, cls) {
  el.textContent = value;
  el.className = cls ?? "";
}

async function showShards() {
  try {
    const status = await call("GET", "/status");
    const totals = status.shards.map((s) => Object.values(s.rows).reduce((a, b) => a + b, 0));
    const max = Math.max(1, ...totals);
    const box = $("shards");
    box.replaceChildren();
    box.className = "";
    status.shards.forEach((s, i) => {
      const row = document.createElement("div");
      row.className = "shard";
      row.dataset.index = s.index;
      row.dataset.rows = totals[i];
      row.dataset.bytes = s.bytes;
      const label = document.createElement("span");
      label.textContent = "shard " + s.index;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = (100 * totals[i] / max) + "%";
      const info = document.createElement("span");
      const per = Object.entries(s.rows).map(([t, n]) => t + " " + n).join(", ");
      info.textContent = totals[i] + " rows" + (per ? " (" + per + ")" : "") + ", " + s.bytes + " bytes";
      row.append(label, bar, info);
      box.append(row);
    });
    const keys = Object.entries(status.top_keys)
      .map(([t, ks]) => t + ": " + ks.map(([k, n]) => k + " (" + n + ")").join(", "))
      .join("; ");
    text($("summary"), "skew (largest shard / mean) " + status.skew.toFixed(2) +
      "; split: " + (status.split ? "to " + (Array.isArray(status.split.to) ? status.split.to.length + " shards (" + status.split.to.join(", ") + ")" : status.split.to) + ", " + status.split.phase : "none in progress") +
      (keys ? "; top keys " + keys : ""), "muted");
  } catch (e) {
    text($("shards"), e.message, "error");
  }
}

function table(answer) {
  const t = document.createElement("table");
  const head = t.insertRow();
  for (const c of answer.columns) {
    const th = document.createElement("th");
    th.textContent = c;
    head.append(th);
  }
  for (const r of answer.rows) {
    const tr = t.insertRow();
    for (const v of r) tr.insertCell().textContent = v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v);
  }
  return t;
}

$("auth").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value;
  sessionStorage.setItem("d1plus-token", token);
  showShards();
});

$("query").addEventListener("submit", async (e) => {
  e.preventDefault();
  const sql = $("sql").value;
  let params;
  try {
    params = $("params").value.trim() ? JSON.parse($("params").value) : [];
  } catch (err) {
    text($("result"), "parameters: " + err.message, "error");
    return;
  }
  text($("plan"), "…", "muted");
  try {
    // Without parameter values, the plan of any values (parameters shown as ?N).
    const values = $("params").value.trim() ? params : undefined;
    text($("plan"), await call("POST", "/explain", { sql, params: values }));
  } catch (err) {
    text($("plan"), err.message, "error");
  }
  try {
    const [answer] = await call("POST", "/query", { sql, params, format: "rows" });
    const box = $("result");
    box.className = "";
    box.replaceChildren(answer.columns.length ? table(answer) : document.createTextNode(answer.meta.changes + " rows changed"));
    text($("meta"), answer.rows.length + " rows from shards " + (answer.meta.shards ?? []).join(", ") +
      " in " + Number(answer.meta.duration ?? 0).toFixed(2) + " ms", "muted");
    showShards();
  } catch (err) {
    text($("result"), err.message, "error");
    text($("meta"), "");
  }
});

if (token) showShards();
</script>
</body>
</html>
`;
