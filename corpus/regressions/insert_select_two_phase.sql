-- INSERT … SELECT reading sharded tables where no shard can run it alone: the SELECT runs
-- first (merged exactly), then its rows are written with bound parameters (sqllogictest
-- index/: `INSERT INTO tab1 SELECT * FROM tab0` into a reference table, 10,000 records
-- of each file skipped behind it).
CREATE TABLE rollup (tag TEXT PRIMARY KEY, n INTEGER, total REAL, names TEXT);
INSERT INTO rollup SELECT tag, count(*), total(price), NULL FROM items WHERE tag IS NOT NULL GROUP BY tag;
SELECT * FROM rollup ORDER BY tag;
INSERT OR REPLACE INTO rollup (tag, n) SELECT tag || '!', max(id) FROM items GROUP BY tag ORDER BY 2 DESC LIMIT 2;
SELECT * FROM rollup ORDER BY tag;
-- Into the reference table, every copy alike (values keep their storage class: 12 as text).
-- params: [6]
INSERT INTO tags (tag, label) SELECT DISTINCT tenantId, qty FROM items WHERE id < ?;
SELECT * FROM tags ORDER BY tag;
-- Into a sharded table whose key comes from another column: rows change shard.
INSERT INTO notes SELECT tag, id, name FROM items WHERE tag IS NOT NULL;
SELECT * FROM notes ORDER BY owner, id;
SELECT owner, count(*) FROM notes GROUP BY owner;
-- Nothing selected: nothing written.
INSERT INTO rollup SELECT tag, 0, 0, '' FROM items WHERE 0;
SELECT count(*) FROM rollup;
-- SQLite's own error for a column count that does not fit (the harness compares it).
INSERT INTO rollup SELECT tag FROM items;
