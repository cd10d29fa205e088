-- Aggregates that fan out: partials per shard, combined after the merge.
SELECT count(*) FROM events;
SELECT kind, count(*), sum(amount), avg(amount), min(amount), max(amount), total(amount) FROM events GROUP BY kind;
SELECT kind AS k, round(avg(amount), 2) AS a FROM events GROUP BY k HAVING count(*) > 2 ORDER BY a DESC LIMIT 3;
SELECT max(amount) - min(amount), count(*) * 2 FROM events WHERE amount > ?;
SELECT count(DISTINCT kind), group_concat(DISTINCT kind) FROM events;
SELECT tenantId, count(DISTINCT kind), sum(amount) FROM events GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT group_concat(kind, ' | ') FROM events;
SELECT count(DISTINCT kind), count(DISTINCT amount) FROM events;
SELECT kind, id FROM events GROUP BY kind;
SELECT name, count(*) FROM users GROUP BY name;
SELECT max(name) FROM users;
SELECT max(name COLLATE BINARY) FROM users;
SELECT kind, json_group_array(id) FROM events GROUP BY kind;
SELECT count(*) FILTER (WHERE amount > 1) FROM events;
SELECT kind || 'x' = 'ax' FROM events GROUP BY kind;
SELECT count(*) FROM events WHERE tenantId = 'acme';
SELECT u.tenantId, count(e.id) FROM users u LEFT JOIN events e ON e.tenantId = u.tenantId GROUP BY u.tenantId;
SELECT e.kind, count(*) FROM events e GROUP BY KIND ORDER BY E.KIND;
