-- Window functions whose PARTITION BY holds the shard key run on each shard (each
-- partition's rows live on one shard) and merge like a plain SELECT; others read the
-- table's rows first and run on the coordinator (tests/oracle_windows.rs).
-- ordered
SELECT tenantId, id, row_number() OVER (PARTITION BY tenantId ORDER BY id) AS rn FROM items ORDER BY tenantId, id;
-- ordered
SELECT tenantId, id, sum(price) OVER (PARTITION BY tenantId, tag ORDER BY id) AS running, count(*) OVER (PARTITION BY tenantId) AS n FROM items ORDER BY id;
SELECT tenantId, name, rank() OVER (PARTITION BY i.tenantId ORDER BY name) FROM items i WHERE qty IS NOT NULL;
SELECT * FROM (SELECT tenantId, id, lag(id) OVER (PARTITION BY tenantId ORDER BY id) AS prev FROM items) WHERE prev IS NOT NULL;
-- ordered
SELECT tenantId, id, row_number() OVER (PARTITION BY tenantId ORDER BY id DESC) AS rn FROM items ORDER BY rn, tenantId LIMIT 3;
-- Partitions that span shards: read first, computed on the coordinator.
SELECT id, row_number() OVER (ORDER BY id, tenantId) FROM items;
SELECT id, row_number() OVER (PARTITION BY tag ORDER BY id, tenantId) FROM items;
-- A key NULL-filled by an outer join, over two tables.
-- expect: D1PLUS_UNSUPPORTED
SELECT t.tag, row_number() OVER (PARTITION BY i.tenantId) FROM tags t LEFT JOIN items i ON i.tag = t.tag;
