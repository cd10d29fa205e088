-- SQLite's `x IS y` / `x IS NOT y` for any y (sqlparser reads only IS [NOT] NULL, TRUE,
-- FALSE, DISTINCT FROM): refused as unparseable before. They read as IS [NOT] DISTINCT FROM;
-- shards get the text as written, so unnamed columns keep SQLite's names.
INSERT INTO notes VALUES (NULL, 1, 'a'), ('ann', 2, NULL), ('bob', 3, 'c'), ('ann', 4, 'd');
-- params: [null]
SELECT owner, id FROM notes WHERE owner IS ?;
-- params: ["ann"]
SELECT owner, id, body FROM notes WHERE owner IS ?;
-- params: ["ann"]
SELECT id FROM notes WHERE owner IS NOT ? ORDER BY id;
-- ordered
SELECT id, body IS 'c', body IS NOT NULL, body IS NOT 'd' FROM notes ORDER BY id;
-- params: [null]
SELECT id, body IS ? FROM notes ORDER BY id;
SELECT tenantId, id FROM items WHERE price IS 1.5 OR qty IS '12';
SELECT tenantId, id FROM items WHERE tag IS (SELECT tag FROM tags WHERE label IS 'Beta');
SELECT i.id, n.id FROM items i JOIN notes n ON n.owner IS i.tenantId;
-- params: [3]
SELECT count(*) IS ?, sum(id) IS NOT 10 FROM notes;
SELECT owner, count(*) FROM notes GROUP BY owner HAVING count(*) IS 2;
SELECT tag, max(price) IS NULL, min(qty) IS 1 FROM items GROUP BY tag;
-- A chain of comparisons over merged groups is refused (with `<` SQLite binds `<` first,
-- where sqlparser reads left to right), IS among them; on one shard it runs as written.
-- expect: D1PLUS_UNSUPPORTED
SELECT count(*) IS 4 < 3 FROM notes;
-- expect: D1PLUS_UNSUPPORTED
SELECT count(*) IS 4 = 1 FROM notes;
-- params: ["ann"]
SELECT count(*) IS 2 < 3, count(*) IS (2 < 3) FROM notes WHERE owner = ?;
-- params: ["bob"]
UPDATE notes SET body = 'x' WHERE owner IS ? AND id IS 3;
-- params: [null]
DELETE FROM notes WHERE owner IS ?;
SELECT owner, id, body FROM notes;
