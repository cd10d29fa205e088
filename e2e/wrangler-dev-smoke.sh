#!/usr/bin/env bash
# The README's "run the example Worker locally" steps, as a new user runs them: `wrangler dev`
# with four local D1 shards, queried with curl. Needs js/pkg (js/build.sh) and e2e/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true CI=true
state=$(mktemp -d)
port=${D1PLUS_SMOKE_PORT:-8799}
token=smoke-secret-$(date +%s%N)
e2e/node_modules/.bin/wrangler dev --local --port "$port" --persist-to "$state" --var "D1PLUS_TOKEN:$token" >"$state/log" 2>&1 &
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
echo "wrangler dev smoke: ok"
