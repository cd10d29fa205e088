#!/usr/bin/env python3
"""The shape of src/: the import graph between files and between stages, its direction
(LAYERS), file and function lengths. Exit 1 when there is a cycle, an upward import, or
something over its limit.

    python3 scripts/arch.py            # check (CI runs this)
    python3 scripts/arch.py --graph    # also print every file's imports
    python3 scripts/arch.py --strict   # long functions fail too

Rules (docs/ARCHITECTURE.md):
- no import cycle between files of src/, nor between stages (top-level modules: a
  file under src/plan/ belongs to stage `plan`);
- imports go down: every top-level module has a layer in LAYERS, and no file imports
  one of a higher layer (within a layer, only the cycle rule applies); the table in
  docs/ARCHITECTURE.md §1 must name the same modules;
- no file over 800 lines before its `#[cfg(test)]` module;
- no function over 100 lines.
A module's own `mod.rs` may re-export its children; a child importing its parent's
items (`super::X`) is an edge child -> mod.rs like any other.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
FILE_LIMIT = 800
FN_LIMIT = 100
# Entry points that sit above every stage: they may import anything, nothing imports them.
ROOTS = {"lib", "main"}
# The layers of src/, lowest first: a module may import its own layer and those below.
# Derived from the import graph; docs/ARCHITECTURE.md §1 explains each (and lists the same).
LAYERS = [
    ("vocabulary", {"error", "sqlite_fp", "lex", "value", "sql"}),
    ("inputs", {"policy", "placement", "catalog", "validate", "bookmark"}),
    # The engine of operators plans are made of: below plan, which builds its steps, and
    # below parse, as it never reads the SQL (the data flows plan -> execute -> merge).
    ("merge", {"merge"}),
    ("parse", {"parse"}),
    ("analyze", {"analyze"}),
    ("plan", {"plan"}),
    # Above plan only because it runs the batches `plan::output` hands over.
    ("backend", {"backend"}),
    ("execute", {"execute"}),
    ("api parts", {"cache", "capture", "guard"}),
    ("api", {"api"}),
    (
        "features",
        {"layout", "migrate", "realtime", "reshard", "schema", "slt", "split", "status", "table", "transfer"},
    ),
    ("bindings", {"js", "workers"}),
    # main.rs and the modules only the binary declares (`mod shell;` in main.rs).
    ("binary", ROOTS | {"demo", "grow", "remote", "render", "shell", "stream"}),
]
RANK = {m: (i, name) for i, (name, ms) in enumerate(LAYERS) for m in ms}
DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "ARCHITECTURE.md")


def modules():
    """Module path (tuple) -> file path, for every .rs file under src/."""
    out = {}
    for dirpath, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, SRC)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            out[tuple(rel)] = full
    return out


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def code_before_tests(text):
    m = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod tests", text, re.M)
    return text[: m.start()] if m else text


def resolve(mods, here, path):
    """The longest module prefix of `path` (a list of segments, relative to `here`)."""
    if not path:
        return None
    if path[0] == "crate":
        base, rest = (), path[1:]
    elif path[0] == "super":
        base, rest = here[:-1], path[1:]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif path[0] == "self":
        base, rest = here, path[1:]
    else:
        return None
    best = None
    for i in range(len(rest) + 1):
        cand = base + tuple(rest[:i])
        if cand in mods:
            best = cand
    return best


def use_paths(code):
    """Every `crate::…`/`super::…`/`self::…` path, with `use` groups expanded."""
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        paths.extend(expand(m.group(1).replace(" ", "").replace("\n", "")))
    for m in re.finditer(r"\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", code):
        paths.append(m.group(1).split("::"))
    return paths


def expand(tree, prefix=()):
    """`a::{b, c::{d}}` -> [[a, b], [a, c, d]]."""
    out = []
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(tree):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(tree[start:i])
            start = i + 1
    parts.append(tree[start:])
    for part in parts:
        if not part:
            continue
        brace = part.find("{")
        if brace >= 0 and part.endswith("}"):
            head = [s for s in part[:brace].split("::") if s]
            out.extend(expand(part[brace + 1 : -1], prefix + tuple(head)))
        else:
            segs = [s for s in part.split("::") if s]
            segs = [s.split("as")[0] if s.endswith("_") else s for s in segs]
            out.append(list(prefix) + segs)
    return out


def graph(mods):
    edges = {m: set() for m in mods}
    for mod, path in mods.items():
        code = code_before_tests(strip_comments(open(path, encoding="utf-8").read()))
        for p in use_paths(code):
            target = resolve(mods, mod, p)
            if target is None or target == mod:
                continue
            # A parent naming its own child (`mod x; pub use x::Y`) is containment.
            if target[: len(mod)] == mod:
                continue
            edges[mod].add(target)
    return edges


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def stage_edges(edges):
    out = {}
    for a, targets in edges.items():
        sa = a[0] if a else "lib"
        for b in targets:
            sb = b[0] if b else "lib"
            if sa != sb:
                out.setdefault(sa, set()).add(sb)
    return out


def upward_imports(edges):
    """Every import of a module from a higher layer, and every module without a layer."""
    show = lambda m: "::".join(m)
    out = [f"no layer for src/{m}: add it to LAYERS" for m in sorted({m[0] for m in edges} - set(RANK))]
    for a, targets in sorted(edges.items()):
        for b in sorted(targets):
            if a[0] in RANK and b[0] in RANK and RANK[a[0]][0] < RANK[b[0]][0]:
                out.append(f"upward import: {show(a)} ({RANK[a[0]][1]}) -> {show(b)} ({RANK[b[0]][1]})")
    return out


def documented_layers():
    """Problems where the layer table of docs/ARCHITECTURE.md differs from LAYERS."""
    rows = {}
    for line in open(DOC, encoding="utf-8"):
        cells = [c.strip() for c in line.split("|")[1:-1]]
        # | rank | layer | modules | … |
        if len(cells) >= 3 and cells[1] in dict(LAYERS):
            rows[cells[1]] = set(re.findall(r"`([a-z_0-9]+)/?`", cells[2]))
    out = [
        f"docs/ARCHITECTURE.md: layer {name} lists {sorted(rows.get(name, ()))}, LAYERS {sorted(ms)}"
        for name, ms in LAYERS
        if rows.get(name) != ms
    ]
    if list(rows) != [name for name, _ in LAYERS]:
        out.append(f"docs/ARCHITECTURE.md: layers in the order {list(rows)}, not as in LAYERS")
    return out


def long_functions(path):
    """(name, line, length) of every fn body longer than FN_LIMIT lines."""
    lines = open(path, encoding="utf-8").read().split("\n")
    code = code_before_tests("\n".join(lines)).split("\n")
    found = []
    fn_re = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+|async\s+|unsafe\s+)*fn\s+([A-Za-z0-9_]+)")
    i = 0
    while i < len(code):
        m = fn_re.match(code[i])
        if not m:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(code):
            s = strip_comments(code[j])
            if not started and ";" in s and "{" not in s:
                break
            for ch in s:
                if ch == "{":
                    depth += 1
                    started = True
                elif ch == "}":
                    depth -= 1
            if started and depth == 0:
                break
            j += 1
        length = j - i + 1
        if started and length > FN_LIMIT:
            found.append((m.group(1), i + 1, length))
        i += 1
    return found


def main():
    mods = modules()
    edges = graph(mods)
    show = lambda m: "::".join(m) or "lib"
    problems = []
    for comp in cycles(edges):
        problems.append("file cycle: " + " <-> ".join(show(m) for m in comp))
    stages = stage_edges({m: t for m, t in edges.items() if (m[0] if m else "lib") not in ROOTS})
    for comp in cycles(stages):
        detail = []
        for a in comp:
            for b in comp:
                if b in stages.get(a, ()):
                    via = sorted(
                        show(m) + " -> " + show(t)
                        for m, ts in edges.items()
                        for t in ts
                        if m and t and m[0] == a and t[0] == b
                    )
                    detail.append(f"  {a} -> {b}: " + ", ".join(via[:4]))
        problems.append("stage cycle: " + " <-> ".join(comp) + "\n" + "\n".join(detail))
    problems += upward_imports(edges) + documented_layers()
    for mod, path in sorted(mods.items()):
        text = open(path, encoding="utf-8").read()
        n = code_before_tests(text).count("\n")
        if n > FILE_LIMIT:
            problems.append(f"file over {FILE_LIMIT} lines: src/{os.path.relpath(path, SRC)} ({n})")
        for name, line, length in long_functions(path):
            problems.append(
                f"function over {FN_LIMIT} lines: src/{os.path.relpath(path, SRC)}:{line} {name} ({length})"
            )
    if "--graph" in sys.argv:
        for m in sorted(edges):
            print(f"{show(m)} -> {', '.join(show(t) for t in sorted(edges[m]))}")
    for p in problems:
        print(p)
    files = len(mods)
    long_fns = sum(p.startswith("function over") for p in problems)
    print(f"{files} files, {sum(len(t) for t in edges.values())} imports, {len(problems)} problems ({long_fns} long functions)")
    # Cycles and long files fail; long functions fail only with --strict while the last
    # ones are being split (they are listed above).
    failing = [p for p in problems if "--strict" in sys.argv or not p.startswith("function over")]
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
