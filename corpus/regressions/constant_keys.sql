-- A shard key given as a constant expression (`1 << 63`, `'ac' || 'me'`) is evaluated by
-- SQLite and routed like the literal it equals (sqllogictest evidence/slt_lang_aggfunc
-- inserts `1<<63`; before, such an INSERT was refused). sqlparser's spans leave out unary
-- operators and parentheses: `-9223372036854775807 - 1` once routed as 9223372036854775806.
INSERT INTO notes VALUES (1 << 63, 1, 'min'), (-9223372036854775807 - 1, 2, 'min again');
INSERT INTO notes VALUES (-(1 << 63), 3, 'real'), (- 2 || 'a', 4, 'text'), ((1) + (2) * 3, 5, 'seven');
INSERT INTO items VALUES ('ac' || 'me', 100, 'concat', NULL, ~0, 'a');
SELECT * FROM notes WHERE owner = -9223372036854775807 - 1;
SELECT * FROM notes WHERE owner = (1 << 63);
SELECT * FROM notes WHERE owner = -(1 << 63);
SELECT * FROM notes WHERE owner = -2 || 'a';
SELECT * FROM notes WHERE owner = ((1) + 2 * 3);
SELECT * FROM notes WHERE owner IN (1 << 63, 7);
SELECT * FROM items WHERE tenantId = 'a' || 'c' || 'me' ORDER BY id;
SELECT owner, count(*) FROM notes GROUP BY owner;
