-- Tidemark / Debezium 3.6.3 golden workload: "pg-types" streaming part.
-- Run while Debezium is streaming (after the snapshot of pg-types.sql). Each statement is its own
-- transaction (autocommit). Expected events are listed per statement.

-- all_types (REPLICA IDENTITY FULL): c, u (with full before), d (full before) + tombstone
INSERT INTO all_types VALUES (
  10, 7, -7, 7000000000, 0.5, -0.25, 3.5, -0.000001, '19.99',
  true, 'stream ✓', 'streamed', 'xyz', '\xcafe',
  '1950-12-25', '06:07:08.000009', '06:07:08.123', '06:07:08-08:00',
  '1955-11-05 06:00:00.5', '2000-01-01 00:00:00.001', '1999-12-31 23:59:59.999999-05',
  '-3 mons +10 days -00:00:00.000001', '123e4567-e89b-12d3-a456-426614174000',
  '[{"x": 1}]', '{"z": true}', '<s/>', '{5,6}', '{"s"}',
  'sad', 7, '10.1.2.3', '192.168.100.0/22', '01:23:45:67:89:ab',
  B'0', B'00001111', B'0101010101', '"s"=>"t"', '(3,4)');
UPDATE all_types SET c_text = 'updated ✓', c_int = c_int - 1, c_jsonb = c_jsonb || '{"u": 1}',
                     c_int_arr = array_append(c_int_arr, 7), c_enum = 'happy', c_tstz = 'infinity'
  WHERE id = 10;
DELETE FROM all_types WHERE id = 10;

-- toasty (REPLICA IDENTITY DEFAULT): c with a ~20 kB TOASTed value, u of `small` only (big is an
-- unchanged TOAST value -> Debezium placeholder), d (before = key only) + tombstone
INSERT INTO toasty SELECT 1, string_agg(md5(g::text), '' ORDER BY g), 1 FROM generate_series(1, 640) g;
UPDATE toasty SET small = 2 WHERE id = 1;
DELETE FROM toasty WHERE id = 1;

-- ri_default (REPLICA IDENTITY DEFAULT): u (before = null), PK update (d + tombstone + c), d + tombstone
UPDATE ri_default SET a = 'ONE' WHERE id = 1;
UPDATE ri_default SET id = 20 WHERE id = 2;
DELETE FROM ri_default WHERE id = 3;
-- schema change while streaming, then c and u using the new column
ALTER TABLE ri_default ADD COLUMN c text DEFAULT 'x';
INSERT INTO ri_default (id, a, b, c) VALUES (4, 'four', 40, 'cee');
UPDATE ri_default SET c = 'changed' WHERE id = 1;

-- nopk (no primary key, REPLICA IDENTITY FULL): c, u, d (+ tombstone?), all with a null key
INSERT INTO nopk VALUES (3, 'third');
UPDATE nopk SET b = 'second!' WHERE a = 2;
DELETE FROM nopk WHERE a = 1;

-- TRUNCATE (op t, needs skipped.operations=none)
TRUNCATE nopk;
