-- sqllogictest random/aggregates: SELECT DISTINCT over an aggregate query (726 records of
-- four files) was refused; DISTINCT now runs in the coordinator after the final grouping.
SELECT DISTINCT 22 + - 77 * - COUNT ( + qty ), 81 AS qty FROM items;
SELECT DISTINCT count(*) FROM items GROUP BY tag;
SELECT DISTINCT count(*) > 1, max(id) - max(id) FROM items GROUP BY tenantId;
-- Grouped under BINARY, distinct under NOCASE (the output keeps the column's collation).
SELECT DISTINCT max(name) FROM items GROUP BY tag;
SELECT DISTINCT max(tag) AS t FROM items GROUP BY tenantId ORDER BY t;
-- Which spelling of 'Bolt'/'bolt' DISTINCT keeps under NOCASE depends on row order.
-- expect: D1PLUS_UNSUPPORTED
SELECT DISTINCT min(name) COLLATE NOCASE AS n FROM items GROUP BY tenantId, tag ORDER BY n;
-- 'Bolt' and 'bolt' grouped under NOCASE: which spelling SQLite shows depends on row order.
-- expect: D1PLUS_UNSUPPORTED
SELECT DISTINCT name, count(*) FROM items GROUP BY name;
-- ordered
SELECT DISTINCT tag, count(*) AS c FROM items GROUP BY tag, qty ORDER BY c DESC, tag LIMIT 3;
-- expect: D1PLUS_UNSUPPORTED
SELECT DISTINCT count(*) FROM items GROUP BY tag ORDER BY max(id);
-- The outer DISTINCT once leaked into the shards' partial query, where it merged the
-- partial rows 3 and 3.0 and hid the ambiguity of sum(DISTINCT …) (generator, adversarial
-- query 1150: 2 where SQLite said 2.0).
INSERT INTO items VALUES ('zz', 60, 'q', 1, 3.0, 'a');
-- expect: D1PLUS_UNSUPPORTED
SELECT DISTINCT sum(DISTINCT qty) FROM items;
SELECT DISTINCT count(DISTINCT qty), 1 FROM items;
