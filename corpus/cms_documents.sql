-- policy: {"name": "cms", "capacity": {"mode": "manual", "targetShardCount": 1}, "sharding": {"tables": [{"name": "docs", "keyColumn": "tenantId"}, {"name": "doc_versions", "keyColumn": "tenantId"}, {"name": "doc_tags", "keyColumn": "tenantId"}], "reference": ["locales"]}}
CREATE TABLE locales (code TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE docs (tenantId TEXT NOT NULL, id INTEGER NOT NULL, slug TEXT NOT NULL, locale TEXT NOT NULL REFERENCES locales(code),
  status TEXT NOT NULL DEFAULT 'draft', body TEXT NOT NULL DEFAULT '{}', version INTEGER NOT NULL DEFAULT 1,
  updatedAt INTEGER NOT NULL, PRIMARY KEY (tenantId, id), UNIQUE (tenantId, slug));
CREATE TABLE doc_versions (tenantId TEXT NOT NULL, docId INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
  savedAt INTEGER NOT NULL, PRIMARY KEY (tenantId, docId, version));
CREATE TABLE doc_tags (tenantId TEXT NOT NULL, docId INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (tenantId, docId, tag));
CREATE INDEX docs_by_updated ON docs (tenantId, updatedAt DESC, id DESC);
INSERT INTO locales VALUES ('en', 'English'), ('de', 'Deutsch'), ('ja', '日本語');
INSERT INTO docs (tenantId, id, slug, locale, status, body, updatedAt) VALUES
  ('acme', 1, 'home', 'en', 'published', '{"title": "Home", "words": 120, "tags": ["intro"]}', 1700000000),
  ('acme', 2, 'about', 'en', 'published', '{"title": "About us", "words": 340}', 1700000500),
  ('acme', 3, 'preise', 'de', 'draft', '{"title": "Preise", "words": 80}', 1700000500),
  ('acme', 4, 'blog-1', 'en', 'published', '{"title": "Launch", "words": 900}', 1700001000),
  ('globex', 1, 'home', 'en', 'published', '{"title": "Globex", "words": 50}', 1700000100),
  ('globex', 2, 'news', 'ja', 'archived', '{"title": "ニュース", "words": 230}', 1700000200),
  ('initech', 1, 'tps', 'en', 'draft', '{"title": "TPS reports", "words": 10}', 1700000300);
INSERT INTO doc_tags VALUES ('acme', 1, 'intro'), ('acme', 2, 'company'), ('acme', 4, 'news'), ('acme', 4, 'company'),
  ('globex', 2, 'news'), ('initech', 1, 'internal');

-- Keyset pagination, newest first, within a tenant.
-- params: ["acme", 1700000500, 3]
-- ordered
SELECT id, slug, json_extract(body, '$.title') AS title FROM docs
WHERE tenantId = ? AND (updatedAt < ? OR (updatedAt = ?2 AND id < ?)) ORDER BY updatedAt DESC, id DESC LIMIT 20;

-- params: ["acme"]
-- ordered
SELECT d.id, d.slug, l.name AS language FROM docs d JOIN locales l ON l.code = d.locale
WHERE d.tenantId = ? AND d.status = 'published' ORDER BY d.id;

-- Facets: tag counts for a tenant (co-located join on the key).
-- params: ["acme"]
-- ordered
SELECT t.tag, count(*) AS n FROM doc_tags t JOIN docs d ON d.tenantId = t.tenantId AND d.id = t.docId
WHERE t.tenantId = ? AND d.status = 'published' GROUP BY t.tag ORDER BY n DESC, t.tag;

-- Versioning: save the current body as a version, then bump it (one batch per tenant in an app).
-- params: ["acme", 4]
INSERT INTO doc_versions (tenantId, docId, version, body, savedAt)
SELECT tenantId, id, version, body, updatedAt FROM docs WHERE tenantId = ? AND id = ?;
-- params: ["{\"title\": \"Launch!\", \"words\": 950}", 1700002000, "acme", 4]
UPDATE docs SET body = ?, version = version + 1, updatedAt = ? WHERE tenantId = ? AND id = ?;
-- params: ["acme", 4]
-- ordered
SELECT v.version, json_extract(v.body, '$.title') FROM doc_versions v WHERE v.tenantId = ? AND v.docId = ? ORDER BY v.version;

-- Search across all tenants (fans out and merges).
-- ordered
SELECT tenantId, slug, json_extract(body, '$.words') AS words FROM docs WHERE json_extract(body, '$.words') > 100 ORDER BY words DESC, tenantId, slug LIMIT 3;
-- ordered
SELECT status, count(*), sum(json_extract(body, '$.words')) FROM docs GROUP BY status ORDER BY status;
-- ordered
SELECT locale, count(DISTINCT tenantId) AS tenants FROM docs GROUP BY locale ORDER BY tenants DESC, locale;
-- Copy every tenant's docs to a versions snapshot: rows keep their tenant, so every shard does its part.
INSERT INTO doc_versions (tenantId, docId, version, body, savedAt) SELECT tenantId, id, version + 100, body, updatedAt FROM docs;
SELECT count(*) FROM doc_versions;

-- A slug rename stays in the tenant; moving a doc to another tenant is refused.
-- params: ["home-page", "globex", 1]
UPDATE docs SET slug = ? WHERE tenantId = ? AND id = ?;
-- expect: D1PLUS_KEY_UPDATE
UPDATE docs SET tenantId = 'globex' WHERE tenantId = 'acme' AND id = 3;
-- expect: D1PLUS_NO_SHARD_KEY
DELETE FROM docs WHERE status = 'archived';
-- params: ["globex"]
DELETE FROM docs WHERE tenantId = ? AND status = 'archived';
