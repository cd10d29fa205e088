#!/usr/bin/env python3
"""`d1plus query DIR --format ndjson` against the sqlite3 CLI on point reads.

The same 40,000 events (500 tenants) go into an 8-shard d1plus directory and into one
plain SQLite file. The same N point reads (`SELECT * FROM events WHERE tenantId = ? AND
id = ?`, random existing rows) are sent to d1plus as ndjson requests with parameters on
stdin, and to `sqlite3 -json one.sqlite` as SQL text with literals on stdin. Each side runs
RUNS times; the medians of the wall-clock times are compared. Both answer every read with
one JSON result; the answers are checked to hold the same rows.

Usage: python3 scripts/bench_ndjson.py [--reads N] [--runs R] [--bin target/release/d1plus]
(build first: cargo build --release). Needs the sqlite3 CLI on PATH.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time

TENANTS, PER_TENANT = 500, 80
POLICY = {
    "name": "bench",
    "capacity": {"mode": "manual", "targetShardCount": 8},
    "sharding": {"tables": [{"name": "events", "keyColumn": "tenantId"}]},
}
SCHEMA = ("CREATE TABLE events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, "
          "amount REAL, createdAt INTEGER, PRIMARY KEY (tenantId, id));")


def rows():
    rng = random.Random(7)
    for t in range(TENANTS):
        for i in range(PER_TENANT):
            yield (f"tenant-{t:04}", i, rng.choice(["a", "b", "c"]), round(rng.random() * 1e4, 2),
                   1_700_000_000 + rng.randrange(10**6))


def insert_script():
    out, batch = [SCHEMA], []
    for r in rows():
        batch.append("('%s', %d, '%s', %r, %d)" % r)
        if len(batch) == 200:
            out.append("INSERT INTO events VALUES " + ", ".join(batch) + ";")
            batch = []
    if batch:
        out.append("INSERT INTO events VALUES " + ", ".join(batch) + ";")
    return "\n".join(out) + "\n"


def timed(cmd, stdin_bytes):
    start = time.perf_counter()
    p = subprocess.run(cmd, input=stdin_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - start, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default="target/release/d1plus")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="d1plus-ndjson-")
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        json.dump(POLICY, f)
    db = os.path.join(tmp, "db")
    subprocess.run([a.bin, "init", db, "--policy", policy], check=True, stdout=subprocess.DEVNULL)
    script = insert_script()
    script_path = os.path.join(tmp, "load.sql")
    with open(script_path, "w") as f:
        f.write(script)
    subprocess.run([a.bin, "exec", db, script_path], check=True, stdout=subprocess.DEVNULL)
    one = os.path.join(tmp, "one.sqlite")
    subprocess.run(["sqlite3", one], input=script.encode(), check=True)

    rng = random.Random(11)
    picks = [(f"tenant-{rng.randrange(TENANTS):04}", rng.randrange(PER_TENANT)) for _ in range(a.reads)]
    sql = "SELECT * FROM events WHERE tenantId = ? AND id = ?"
    ndjson = "".join(json.dumps({"sql": sql, "params": [t, i]}) + "\n" for t, i in picks).encode()
    text = "".join(f"SELECT * FROM events WHERE tenantId = '{t}' AND id = {i};\n" for t, i in picks).encode()

    d_times, s_times = [], []
    for _ in range(a.runs):
        t, d_out = timed([a.bin, "query", db, "--format", "ndjson"], ndjson)
        d_times.append(t)
        t, s_out = timed(["sqlite3", "-json", one], text)
        s_times.append(t)
    d_rows = [json.loads(l)["results"] for l in d_out.decode().splitlines()]
    # sqlite3 -json prints one array per statement, possibly over several lines.
    s_rows = list(json.JSONDecoder().raw_decode(x)[0] for x in s_out.decode().replace("]\n[", "]\x00[").split("\x00"))
    assert len(d_rows) == a.reads and len(s_rows) == a.reads, (len(d_rows), len(s_rows))
    assert d_rows == s_rows, "the answers differ"
    d, s = statistics.median(d_times), statistics.median(s_times)
    print(f"ndjson point reads: {a.reads} reads, median of {a.runs} runs")
    print(f"  d1plus query --format ndjson, 8 shards: {d:.3f} s ({d / a.reads * 1e6:.1f} us/read)")
    print(f"  sqlite3 -json, one file:                {s:.3f} s ({s / a.reads * 1e6:.1f} us/read)")
    print(f"  ratio d1plus / sqlite3: {d / s:.2f}x (target <= 0.75x)")


if __name__ == "__main__":
    main()
