-- Reads without a key fan out; the merge makes them exact.
SELECT id, kind FROM events ORDER BY amount DESC, id;
SELECT id, kind AS k FROM events ORDER BY k, 1 DESC NULLS FIRST;
SELECT id FROM events ORDER BY amount * 2 COLLATE NOCASE, data LIMIT 5 OFFSET 10;
SELECT id FROM events ORDER BY lower(kind) LIMIT 10, 5;
SELECT id FROM events ORDER BY id LIMIT ? OFFSET ?;
SELECT id FROM events ORDER BY id LIMIT -1 OFFSET 3;
SELECT id FROM events ORDER BY id LIMIT 1 + 1;
SELECT DISTINCT kind, amount FROM events ORDER BY amount;
SELECT DISTINCT kind FROM events ORDER BY amount;
SELECT DISTINCT name FROM users;
SELECT name FROM users ORDER BY name;
SELECT name AS n FROM users ORDER BY n DESC;
SELECT u.name, e.kind FROM users u JOIN events e ON e.tenantId = u.tenantId ORDER BY u.name, e.id LIMIT 3;
SELECT * FROM events WHERE tenantId IN ('acme', 'globex') ORDER BY 2;
SELECT kind FROM events UNION ALL SELECT name FROM users;
SELECT id, row_number() OVER (ORDER BY id) FROM events;
SELECT id FROM events WHERE id IN (SELECT id FROM events WHERE tenantId = 'a' LIMIT 3);
SELECT id, kind AS k FROM events ORDER BY k % 2;
