-- json_group_array across shards is the shards' arrays joined (elements in shard order, as
-- group_concat's pieces: the reads here do not depend on it); its result must keep JSON's
-- subtype, or an enclosing JSON function quotes it as a string (found 2026-12-02:
-- `json_object('k', json_group_array(name))` gave {"k":"[\"washer\",…]"}).
SELECT id, json_object('k', json_group_array(id)) FROM items GROUP BY id;
SELECT id, json_array(json_group_array(price), 1) FROM items WHERE price IS NOT NULL GROUP BY id;
SELECT json_array_length(json_group_array(qty)), json_type(json_group_array(name)) FROM items;
SELECT json_type(json_object('ids', json_group_array(id)), '$.ids') FROM items;
SELECT tag, json_array_length(json_object('ids', json_group_array(id), 'n', count(*)), '$.ids') FROM items GROUP BY tag;
INSERT INTO items VALUES ('zz', 80, 'é "q" \ ✓', 1e300, 1.0, 'j');
SELECT id, json_object('k', json_group_array(price), 'n', json_group_array(name)) FROM items GROUP BY id;
