SELECT tenantId, id FROM events WHERE tenantId = 'acme' UNION ALL SELECT tenantId, id FROM users WHERE tenantId = 'acme';
SELECT tenantId, id FROM events UNION ALL SELECT tenantId, id FROM users ORDER BY 2 DESC LIMIT 5;
SELECT kind FROM events UNION SELECT name COLLATE BINARY FROM users ORDER BY kind;
SELECT kind FROM events INTERSECT SELECT kind FROM events WHERE amount > 1;
SELECT kind FROM events EXCEPT SELECT kind FROM events WHERE amount > 1;
SELECT kind FROM events UNION ALL SELECT name FROM plans;
SELECT name FROM plans UNION SELECT key FROM settings;
SELECT id, row_number() OVER (PARTITION BY tenantId ORDER BY id) FROM events WHERE tenantId = 'acme';
SELECT id, sum(amount) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM events;
SELECT id, rank() OVER w FROM events WHERE tenantId = 'acme' WINDOW w AS (ORDER BY amount);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) SELECT x FROM n, events WHERE events.tenantId = 'a';
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3) SELECT count(*) FROM n JOIN events ON events.id = n.x;
WITH recent AS (SELECT * FROM events WHERE tenantId = ? ORDER BY id DESC LIMIT 5) SELECT count(*) FROM recent;
VALUES (1, 'a'), (2, 'b');
-- Partitioned by the shard key: each shard computes its partitions whole.
SELECT tenantId, id, row_number() OVER (PARTITION BY tenantId ORDER BY id) AS rn FROM events ORDER BY id LIMIT 5;
