-- sqllogictest evidence/slt_lang_aggfunc (2026-12-02): `1<<63` could not be parsed (sqlparser's
-- SQLite dialect has no shift operators), so a write naming a sharded table was refused.
-- `&`, `|`, `<<`, `>>` bind equally, left to right; `||` binds tighter than `*`.
INSERT INTO items VALUES ('acme', 1 << 4, 'shift', 1 | 2 << 3, 1 << 62, 'a');
INSERT INTO items VALUES ('globex', 17, 'wrap', 1 << 63, -1 >> 1, 'b');
SELECT id, price, qty >> 60, qty & 7 | 8, 2 * 3 || 4, 1 | 2 << 3 FROM items ORDER BY id;
SELECT sum(qty >> 1), max(id << 58), min(qty & 3 | id) FROM items;
-- Overflow whichever order the rows come in: SQLite's own error.
SELECT sum(id << 59) FROM items WHERE id >= 16;
SELECT sum(id << 59) FROM items WHERE id < 7;
-- Positive and negative terms past 2^63: whether one database overflows depends on row order.
-- expect: D1PLUS_UNSUPPORTED
SELECT sum(id << 59) FROM items;
-- Over merged groups: `||` and the bit operators read with SQLite's precedence, so such
-- expressions are no longer refused (comparison chains still are).
SELECT tag, count(*) || '/' || sum(id) * 2, sum(id) | 1 << 2, 'n' || max(id) + 1 FROM items GROUP BY tag;
-- expect: D1PLUS_UNSUPPORTED
SELECT tag, count(*) = 1 < 2 FROM items GROUP BY tag;
