-- found by the query generator (oracle_reads, query 1557)
-- 1 shards: rows differ
SELECT max(tenantId), id FROM items;
