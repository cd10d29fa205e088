-- found by the query generator (oracle_reads, query 65): an ORDER BY expression over an
-- output alias beside a FROM subquery went to the shards as written (`no such column: o1`).
-- The subquery's columns are its table's (`*`), none named o1: the alias is read.
-- ordered
SELECT upper(tag) AS o1 FROM (SELECT * FROM items LIMIT -1 OFFSET 0) AS items ORDER BY coalesce(o1, 0) NULLS LAST, name COLLATE BINARY, tenantId DESC, tenantId, id;
