-- Parameter forms and their mixtures, numbered as SQLite numbers them.
SELECT * FROM events WHERE tenantId = ?1 AND id = ?1;
SELECT * FROM events WHERE tenantId = ?2 AND id = ?;
SELECT * FROM events WHERE tenantId = :t AND kind = :k AND data = :t;
SELECT * FROM events WHERE tenantId = $t AND kind = @k;
INSERT INTO events (tenantId, id, kind) VALUES (?3, ?1, :k), (?, ?2, :k);
-- Quoting styles and comments anywhere.
SELECT * FROM "events" WHERE "tenantId" = 'acme';
SELECT * FROM `events` WHERE `tenantId` = 'acme';
SELECT * FROM [events] WHERE [tenantId] = 'acme';
SELECT * FROM EVENTS WHERE TENANTID = 'acme';
SELECT * FROM "odd ""name""";
SELECT /* c1 */ * -- c2
  FROM events /* c3 */ WHERE tenantId /* c4 */ = /* c5 */ 'it''s' -- c6
;
INSERT /* x */ INTO events (tenantId, id) VALUES ('a' /* k */, 1) /* between */ , ( 'b', 2 ) -- end
;
-- Text sqlparser cannot parse: routed by a token scan.
SELECT * FROM settings INDEXED BY sqlite_autoindex_settings_1;
SELECT * FROM events INDEXED BY sqlite_autoindex_events_1 WHERE tenantId = 'a';
-- SQLite's IS with any right side, which sqlparser reads through d1plus's dialect (as
-- IS NOT DISTINCT FROM): the second is a key pin.
SELECT a IS b FROM "odd ""name""";
SELECT 1 FROM events WHERE tenantId IS 'acme';
