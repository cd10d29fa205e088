#!/usr/bin/env bash
# The README's "run the example Worker locally" steps, as a new user runs them: `wrangler dev`
# with four local D1 shards, queried with curl. Needs js/pkg (js/build.sh) and e2e/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true CI=true
state=$(mktemp -d)
port=${D1PLUS_SMOKE_PORT:-8799}
token=smoke-secret-$(date +%s%N)
e2e/node_modules/.bin/wrangler dev --local --port "$port" --persist-to "$state" --var "D1PLUS_TOKEN:$token" \
  --var "D1PLUS_REALTIME_SECRET:$token-realtime" --var "D1PLUS_REALTIME_INTERVAL_MS:100" >"$state/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 1 60); do
  curl -s -o /dev/null "localhost:$port/query" && break
  sleep 1
done
q() { curl -s "localhost:$port/query" -H 'content-type: application/json' -H "authorization: Bearer $token" -d "$1"; }
# Without the secret, no SQL runs.
case "$(curl -s "localhost:$port/query" -d '{"sql": "SELECT 1"}')" in
  *D1PLUS_UNAUTHORIZED*) ;;
  *) echo "wrangler dev answered SQL without the secret"; exit 1 ;;
esac
q '{"sql": "CREATE TABLE events (tenantId TEXT, id INTEGER, kind TEXT, PRIMARY KEY (tenantId, id))"}' >/dev/null
q '{"sql": "INSERT INTO events VALUES (?, 1, ?), (?, 2, ?)", "params": ["acme", "click", "globex", "view"]}' >/dev/null
got=$(q '{"sql": "SELECT tenantId, count(*) AS n FROM events GROUP BY tenantId ORDER BY tenantId"}')
want='"results":[{"tenantId":"acme","n":1},{"tenantId":"globex","n":1}]'
case "$got" in
  *"$want"*) ;;
  *) echo "wrangler dev answered: $got"; tail -20 "$state/log"; exit 1 ;;
esac
# acme's row is on SHARD_2 (golden placement), read directly with wrangler d1 execute.
e2e/node_modules/.bin/wrangler d1 execute SHARD_2 --local --persist-to "$state" \
  --command "SELECT tenantId FROM events" 2>/dev/null | grep -q '"tenantId": "acme"'
# Realtime over a real WebSocket: acme's client (with the token the app would give it) sees
# acme's insert and not globex's.
(cd e2e && D1PLUS_SMOKE_PORT=$port D1PLUS_SMOKE_TOKEN=$token node --input-type=module -e '
import { createHmac } from "node:crypto";
// Node 22 has a global WebSocket; Node 20 has the same client in undici (a miniflare dependency).
const WebSocket = globalThis.WebSocket ?? (await import("undici")).WebSocket;
const port = process.env.D1PLUS_SMOKE_PORT, token = process.env.D1PLUS_SMOKE_TOKEN;
const hub = createHmac("sha256", `${token}-realtime`).update("acme").digest("hex");
const ws = new WebSocket(`ws://localhost:${port}/realtime?table=events&key=acme&token=${hub}`);
const fail = setTimeout(() => { console.error("no realtime event within 15 s"); process.exit(1); }, 15000);
const q = (sql) => fetch(`http://localhost:${port}/query`, { method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ sql }) });
ws.onmessage = async (m) => {
  const msg = JSON.parse(m.data);
  if (msg.type === "ready") {
    await q("INSERT INTO events VALUES (\x27globex\x27, 3, \x27x\x27)");
    await q("INSERT INTO events VALUES (\x27acme\x27, 3, \x27x\x27)");
  } else if (msg.type === "event") {
    if (msg.row.tenantId !== "acme" || msg.row.id !== 3) { console.error("unexpected", msg); process.exit(1); }
    clearTimeout(fail); ws.close(); process.exit(0);
  } else { console.error("hub said", msg); process.exit(1); }
};
ws.onerror = (e) => { console.error("websocket error", e.message); process.exit(1); };
')
# The CLI over the deployed Worker (--url), as a user reaches production: the token from
# D1PLUS_TOKEN, checked by the Worker.
cargo build -q --bin d1plus
cli=target/debug/d1plus
url="http://localhost:$port"
expect() { # expect WHAT GOT WANT
  case "$2" in
    *"$3"*) ;;
    *) echo "d1plus --url $1 answered: $2"; exit 1 ;;
  esac
}
expect query "$(D1PLUS_TOKEN=$token $cli query --url "$url" --format csv \
  "SELECT tenantId, count(*) AS n, 1 AS n FROM events GROUP BY tenantId ORDER BY tenantId")" \
  "tenantId,n,n
acme,2,1
globex,2,1"
expect query-hint "$(D1PLUS_TOKEN=$token $cli query --url "$url" --hint events=acme "SELECT count(*) AS here FROM events")" "shards [2]"
printf "INSERT INTO events VALUES ('initech', 1, 'cli');\nSELECT count(*) AS total FROM events;\n" >"$state/script.sql"
expect exec "$(D1PLUS_TOKEN=$token $cli exec --url "$url" "$state/script.sql")" "total
-----
5"
expect shell "$(printf '.mode line\nSELECT count(*) AS n FROM events\n  WHERE tenantId = '"'"'initech'"'"';\n.shards\n' | D1PLUS_TOKEN=$token $cli shell --url "$url")" "n = 1"
expect explain "$(D1PLUS_TOKEN=$token $cli explain --url "$url" "SELECT * FROM events WHERE tenantId = ?")" "route: the shard of ?1"
expect explain-values "$(D1PLUS_TOKEN=$token $cli explain --url "$url" --params '["acme"]' "SELECT * FROM events WHERE tenantId = ?")" "route: shard 2"
expect shell-explain "$(printf '.explain on\nSELECT count(*) AS n FROM events;\n' | D1PLUS_TOKEN=$token $cli shell --url "$url")" "route: all shards"
expect status "$(D1PLUS_TOKEN=$token $cli status --url "$url" --format json)" '"top_keys":{"events":[["acme",2],["globex",2],["initech",1]]}'
expect wrong-token "$(D1PLUS_TOKEN=wrong-token-0123456789 $cli query --url "$url" "SELECT 1" 2>&1 || true)" "D1PLUS_UNAUTHORIZED"
expect no-token "$(env -u D1PLUS_TOKEN $cli query --url "$url" "SELECT 1" 2>&1 || true)" "needs the Worker's token in the environment variable D1PLUS_TOKEN"
echo "wrangler dev smoke: ok"
