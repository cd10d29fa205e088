#!/usr/bin/env python3
"""Import and split throughput against the physical limit, and a cutover's write pause.

A plain SQLite file with ROWS events (2,000 tenants, a 60-byte body each) is made with
the sqlite3 CLI. Then, each timed on the wall clock:
- `d1plus import DIR FILE` into 4 shards (rows/s);
- `d1plus split DIR --to 8` (rows copied/s; the split reports its write pause);
- the physical limit: the sqlite3 CLI copying the same rows from one file into a new one
  (`INSERT INTO new.events SELECT * FROM src.events` with the same index), which is what
  any copy of these rows between SQLite files costs at least.
- the write pause as a client sees it: a second split (8 -> 16) runs while a
  `d1plus query --format ndjson` process writes in a loop; the longest stretch of
  D1PLUS_RETRY answers is reported.

Usage: python3 scripts/bench_split.py [--rows N] [--bin target/release/d1plus]
(build first: cargo build --release). Needs the sqlite3 CLI on PATH.
"""

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time

SCHEMA = ("CREATE TABLE events (id INTEGER PRIMARY KEY, tenantId TEXT NOT NULL, "
          "kind TEXT, amount INTEGER, body TEXT);\n"
          "CREATE INDEX events_tenant ON events (tenantId);\n")
POLICY = {
    "name": "bench",
    "capacity": {"mode": "manual", "targetShardCount": 4},
    "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}]},
}


def sh(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def timed(args):
    start = time.perf_counter()
    out = sh(args)
    return time.perf_counter() - start, out.stdout + out.stderr


def make_source(path, rows):
    sql = SCHEMA + (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
        "INSERT INTO events SELECT i, 't' || (i %% 2000), 'kind' || (i %% 7), i * 3, "
        "printf('%%060d', i) FROM n;\n" % rows)
    sh(["sqlite3", path], input=sql)


def physical_copy(src, rows):
    dst = src + ".copy"
    start = time.perf_counter()
    sh(["sqlite3", dst], input=SCHEMA + "ATTACH '%s' AS src;\n"
       "INSERT INTO main.events SELECT * FROM src.events;\n" % src)
    elapsed = time.perf_counter() - start
    os.remove(dst)
    return elapsed


def pause_seen_by_a_writer(binary, db):
    """Runs a split while an ndjson process writes; the longest run of refusals (s)."""
    server = subprocess.Popen([binary, "query", db, "--format", "ndjson"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    done = threading.Event()
    result = {"longest": 0.0, "writes": 0, "refused": 0}

    def writer():
        i = 0
        refused_since = None
        while not done.is_set():
            i += 1
            req = {"sql": "INSERT INTO events (tenantId, kind, amount, body) VALUES (?, 'w', ?, 'x')",
                   "params": ["w%d" % (i % 50), i]}
            server.stdin.write(json.dumps(req) + "\n")
            server.stdin.flush()
            answer = json.loads(server.stdout.readline())
            now = time.perf_counter()
            if answer.get("success"):
                result["writes"] += 1
                if refused_since is not None:
                    result["longest"] = max(result["longest"], now - refused_since)
                refused_since = None
            elif answer.get("error", "").startswith("D1PLUS_RETRY"):
                result["refused"] += 1
                refused_since = refused_since or now
            else:
                raise SystemExit("write failed: %s" % answer)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.2)
    elapsed, out = timed([binary, "split", db, "--to", "16"])
    time.sleep(0.2)
    done.set()
    thread.join()
    server.stdin.close()
    server.wait()
    return elapsed, out, result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--bin", default="target/release/d1plus")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "source.sqlite")
        make_source(src, args.rows)
        policy = os.path.join(tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump(POLICY, f)
        db = os.path.join(tmp, "db")
        sh([args.bin, "init", db, "--policy", policy])
        t_import, _ = timed([args.bin, "import", db, src])
        t_split, out = timed([args.bin, "split", db, "--to", "8"])
        t_copy = physical_copy(src, args.rows)
        pause = [line for line in out.splitlines() if line.startswith("split ")]
        print("rows: %d" % args.rows)
        print("physical copy (sqlite3, one file to another): %.2f s, %.0f rows/s"
              % (t_copy, args.rows / t_copy))
        print("d1plus import into 4 shards: %.2f s, %.0f rows/s, %.2fx the physical copy's time"
              % (t_import, args.rows / t_import, t_import / t_copy))
        print("d1plus split 4 -> 8: %.2f s, %.0f rows/s, %.2fx the physical copy's time"
              % (t_split, args.rows / t_split, t_split / t_copy))
        print("  " + "; ".join(pause))
        t2, out2, seen = pause_seen_by_a_writer(args.bin, db)
        print("d1plus split 8 -> 16 under a writer: %.2f s; %s" % (
            t2, "; ".join(line for line in out2.splitlines() if line.startswith("split "))))
        print("  the writer: %d writes, %d refusals, longest refused stretch %.1f ms"
              % (seen["writes"], seen["refused"], seen["longest"] * 1000))


if __name__ == "__main__":
    main()
