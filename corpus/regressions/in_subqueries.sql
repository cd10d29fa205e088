-- Uncorrelated IN and EXISTS subqueries over sharded tables run first (sqllogictest
-- evidence/in1: `1 IN (SELECT * FROM t1)` was refused), then the statement runs with the
-- distinct values as a list, when the list compares as the subquery does.
SELECT * FROM tags WHERE tag IN (SELECT tag FROM items);
SELECT * FROM tags WHERE tag NOT IN (SELECT tag FROM items);
SELECT * FROM tags WHERE tag NOT IN (SELECT tag FROM items WHERE tag IS NOT NULL);
SELECT * FROM tags WHERE tag IN (SELECT tag FROM items WHERE 0);
SELECT 1 IN (SELECT id FROM items), 9 IN (SELECT id FROM items), NULL IN (SELECT id FROM items);
SELECT 'a' IN (SELECT tag FROM items), NULL NOT IN (SELECT tag FROM items WHERE 0);
SELECT id FROM items WHERE tenantId IN (SELECT owner FROM notes) ORDER BY id;
SELECT count(*) FROM items WHERE id IN (SELECT id FROM notes) OR tag IN (SELECT tag FROM items WHERE qty > 3);
-- `label` (BINARY) against NOCASE `name`: the left column's collation decides.
INSERT INTO items VALUES ('zed', 50, 'alpha', 1, 1, 'c'), ('zed', 51, 'BETA', 1, 1, 'c');
SELECT * FROM tags WHERE label IN (SELECT name FROM items);
SELECT * FROM tags WHERE label COLLATE NOCASE IN (SELECT name FROM items);
SELECT name FROM items WHERE name IN (SELECT label FROM tags) ORDER BY id;
SELECT tag FROM tags WHERE EXISTS (SELECT 1 FROM items WHERE qty > 3);
SELECT tag FROM tags WHERE NOT EXISTS (SELECT 1 FROM items WHERE qty > 300);
SELECT tag, EXISTS (SELECT * FROM items WHERE price > 1000) FROM tags;
-- The subquery's NOCASE would compare an expression without collation: not as a list.
-- expect: D1PLUS_CROSS_SHARD
SELECT * FROM tags WHERE lower(label) IN (SELECT name FROM items);
-- A number on the left meeting a TEXT column: SQLite compares '1' with the column's text.
-- expect: D1PLUS_CROSS_SHARD
SELECT * FROM tags WHERE 1 IN (SELECT tenantId FROM items);
