-- found by the query generator (oracle_reads, query 2368)
-- 1 shards: rows differ
SELECT max(tenantId), price FROM items;
