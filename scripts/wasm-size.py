#!/usr/bin/env python3
"""What a wasm file is made of, by crate: code bytes per crate from the name section
(a twiggy-like `top`, with no tool to install). Use it on the cargo output, before
wasm-bindgen removes the names:

    python3 scripts/wasm-size.py target/wasm32-unknown-unknown/wasm-release/d1plus_js.wasm
"""
import re
import sys
from collections import Counter


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def sections(data):
    i = 8
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        yield sid, data[i : i + size]
        i += size


def crate_of(name):
    """The crate a function belongs to (for a trait impl, the implementing type's crate), with
    sqlparser's AST visitor and printer impls counted apart."""
    m = re.match(r"_ZN\d+_\$LT\$(?:\$RF\$)?(?:mut\$u20\$)?(\w+?)\.\.", name)
    if m:
        crate = m.group(1)
        if crate == "sqlparser" and "visitor..Visit" in name:
            return "sqlparser (Visit impls)"
        if crate == "sqlparser" and "fmt..Display" in name:
            return "sqlparser (Display impls)"
        return crate
    m = re.match(r"_ZN(\d+)(\w+)", name)
    if m:
        n = int(m.group(1))
        return m.group(2)[:n]
    m = re.match(r"<?(?:&|\*const |\*mut )?([a-zA-Z_][a-zA-Z0-9_]*)::", name)
    return m.group(1) if m else "(other)"


def main(path):
    data = open(path, "rb").read()
    imports = 0
    bodies = []
    names = {}
    sizes = Counter()
    for sid, body in sections(data):
        sizes[sid] += len(body)
        if sid == 2:  # imports: count function imports (they shift function indices)
            n, i = leb(body, 0)
            for _ in range(n):
                for _ in range(2):
                    ln, i = leb(body, i)
                    i += ln
                kind = body[i]
                i += 1
                if kind == 0:
                    _, i = leb(body, i)
                    imports += 1
                elif kind == 1:
                    i += 1
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 2:
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 3:
                    i += 2
        elif sid == 10:
            n, i = leb(body, 0)
            for _ in range(n):
                size, i = leb(body, i)
                bodies.append(size)
                i += size
        elif sid == 0:
            ln, i = leb(body, 0)
            if body[i : i + ln] == b"name":
                i += ln
                while i < len(body):
                    sub = body[i]
                    size, i = leb(body, i + 1)
                    end = i + size
                    if sub == 1:
                        n, j = leb(body, i)
                        for _ in range(n):
                            idx, j = leb(body, j)
                            ln2, j = leb(body, j)
                            names[idx] = body[j : j + ln2].decode("utf-8", "replace")
                            j += ln2
                    i = end
    total = len(data)
    code = sizes[10]
    print(f"{path}: {total} bytes; code {code}, data {sizes[11]}, custom {sizes[0]}")
    by_crate = Counter()
    for k, size in enumerate(bodies):
        by_crate[crate_of(names.get(imports + k, ""))] += size
    print(f"{'crate':<28}{'code bytes':>12}{'% of code':>11}")
    for crate, size in by_crate.most_common(15):
        print(f"{crate:<28}{size:>12}{100 * size / code:>10.1f}%")


if __name__ == "__main__":
    main(sys.argv[1])
