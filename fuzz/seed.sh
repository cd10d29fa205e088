#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with one statement per file from grammar-tests/ and corpus/
# (fuzz/corpus is not committed; fuzz/seeds/ is the curated, committed part).
set -euo pipefail
cd "$(dirname "$0")"
python3 - <<'PY'
import glob, hashlib, os
stmts = []
for f in sorted(glob.glob("../grammar-tests/*.sql") + glob.glob("../corpus/*.sql")):
    text = open(f, encoding="utf-8").read()
    for part in text.split(";\n"):
        lines = [l for l in part.splitlines() if not l.strip().startswith("--")]
        sql = "\n".join(lines).strip()
        if sql:
            stmts.append(sql)
for target, prefix in [("plan_bytes", b"\x02\x03\x21"), ("rewrite_prepares", b""), ("grammar_oracle", None)]:
    d = f"corpus/{target}"
    os.makedirs(d, exist_ok=True)
    if prefix is None:
        continue
    for s in stmts:
        data = prefix + s.encode()
        open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)
print(f"{len(stmts)} statements")
PY
