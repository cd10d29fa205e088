-- found by the query generator (oracle_reads, query 46): run in another spelling (its IN
-- subquery computed first), the output `TENANTID` of a FROM subquery was named as written;
-- SQLite names it as the subquery does (`tenantId`, from `*`).
SELECT TENANTID FROM (SELECT * FROM items WHERE tenantId IS 'acme' LIMIT -1 OFFSET 0) AS items WHERE qty IN (SELECT qty FROM items WHERE tag = 'a') GROUP BY tenantId;
