#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ (not committed) for the three targets:
# - plan_bytes, rewrite_prepares: one statement per file from grammar-tests/*.sql and
#   corpus/*.sql (split at `;` line ends, comment lines dropped), plus the committed seeds;
#   plan_bytes inputs get a header byte (see decode in common/mod.rs), rotating through a
#   few: no parameter pool, a pool of text keys, a hinted one, one that allows scatter writes;
# - grammar_oracle: the committed seeds plus random byte strings (every byte string is a
#   valid input of the grammar).
set -euo pipefail
cd "$(dirname "$0")"
python3 - <<'PY'
import glob, hashlib, os, random, shutil
stmts = []
for f in sorted(glob.glob("../grammar-tests/*.sql") + glob.glob("../corpus/*.sql")):
    text = open(f, encoding="utf-8").read()
    for part in text.split(";\n"):
        lines = [l for l in part.splitlines() if not l.strip().startswith("--")]
        sql = "\n".join(lines).strip()
        if sql:
            stmts.append(sql)

def put(target, data):
    d = f"corpus/{target}"
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)

headers = [b"@", b"\x02\x03\x21", b"\x13\x03\x05", b"\x09\x03", b"\x22\x03\x0b"]
for i, s in enumerate(stmts):
    put("plan_bytes", headers[i % len(headers)] + s.encode())
    put("rewrite_prepares", s.encode())
rng = random.Random(1)
for _ in range(200):
    put("grammar_oracle", bytes(rng.randrange(256) for _ in range(rng.randrange(8, 128))))
for target in ["plan_bytes", "rewrite_prepares", "grammar_oracle"]:
    os.makedirs(f"corpus/{target}", exist_ok=True)
    for f in glob.glob(f"seeds/{target}/*"):
        shutil.copy(f, f"corpus/{target}/")
print(f"{len(stmts)} statements")
PY
