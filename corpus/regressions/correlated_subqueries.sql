-- LIMIT or OFFSET, or a window function, inside a subquery correlated on the shard key
-- (Drizzle's relational queries with `with: { posts: { limit } }`, a rank within the
-- tenant): every row the subquery can see sits on the outer row's shard, so each shard cuts
-- and numbers the same rows one database would.
INSERT INTO items VALUES ('acme', 7, 'Bolt', 9.5, 1, 'a'), ('acme', 8, 'nut', 0.5, 2, 'a'),
  ('globex', 9, 'Gear', 3, 3, 'a'), ('acme', 10, 'pin', 2.25, 4, 'b');
SELECT tenantId, id, (SELECT coalesce(json_group_array(json_array(x.id, x.name)), json_array()) FROM (SELECT * FROM items x WHERE x.tenantId = i.tenantId AND x.id <> i.id ORDER BY x.price DESC, x.id LIMIT 2) x) AS top FROM items i;
SELECT tenantId, id FROM items i WHERE id IN (SELECT id FROM items j WHERE j.tenantId = i.tenantId ORDER BY price DESC, id LIMIT 2);
SELECT tenantId, id, (SELECT price FROM items j WHERE j.tenantId = i.tenantId ORDER BY price DESC, id LIMIT 1 OFFSET 1) AS second FROM items i;
SELECT count(*) FROM items i WHERE price > (SELECT avg(price) FROM (SELECT price FROM items j WHERE j.tenantId = i.tenantId ORDER BY id LIMIT 2));
-- ordered
SELECT tenantId, id, EXISTS (SELECT 1 FROM items j WHERE j.tenantId = i.tenantId AND j.price > i.price LIMIT 1) AS beaten FROM items i ORDER BY tenantId, id;
SELECT tenantId, id, (SELECT r FROM (SELECT j.id, rank() OVER (ORDER BY j.price DESC) AS r FROM items j WHERE j.tenantId = i.tenantId) WHERE id = i.id) AS rank_in_tenant FROM items i;
SELECT tenantId, id FROM items i WHERE price > (SELECT avg(p) FROM (SELECT price AS p, row_number() OVER (ORDER BY id) AS rn FROM items j WHERE j.tenantId = i.tenantId) WHERE rn <= 3);
-- An uncorrelated subquery inside a correlated one runs first; a qualifier names only
-- the FROM items of its own query and those around it (`items` inside `FROM items j`
-- is the outer query's, though a nested query reads `items` unaliased).
SELECT tenantId, id, EXISTS (SELECT 1 FROM items j WHERE j.tenantId = items.tenantId AND id NOT IN (SELECT id FROM items WHERE price > 5)) AS e FROM items;
SELECT count(*) FROM items WHERE EXISTS (SELECT 1 FROM items j WHERE j.tenantId = items.tenantId AND j.price > (SELECT avg(price) FROM items));
-- A FROM subquery's columns are its query's: still uncorrelated, still run first.
SELECT tenantId, id FROM items WHERE id IN (SELECT id FROM (SELECT id FROM items WHERE id < 3));
SELECT tenantId, id FROM items WHERE price > (SELECT m FROM (SELECT avg(price) AS m FROM items));
-- Not correlated on the key: each shard would cut or number its own rows.
-- expect: D1PLUS_UNSUPPORTED
SELECT tenantId, id, (SELECT max(r) FROM (SELECT rank() OVER (ORDER BY t.label) AS r FROM tags t)) FROM items i;
-- expect: D1PLUS_UNSUPPORTED
SELECT tenantId, id, (SELECT label FROM tags ORDER BY tag LIMIT 1) FROM items;
-- expect: D1PLUS_CROSS_SHARD
SELECT tenantId, id FROM items i WHERE id IN (SELECT id FROM items j WHERE j.tag = i.tag ORDER BY price DESC, id LIMIT 2);
-- One correlated, one over a reference table only (which rows its LIMIT keeps without a
-- total order could differ from shard to shard).
-- expect: D1PLUS_UNSUPPORTED
SELECT tenantId, (SELECT count(*) FROM (SELECT 1 FROM items j WHERE j.tenantId = i.tenantId LIMIT 2)) + (SELECT count(*) FROM (SELECT 1 FROM tags LIMIT 1)) FROM items i;
