-- Streaming part of the MariaDB types workload: the same rows again (ids +100), an update,
-- a delete, then ALTER TABLE mid-stream and rows decoded with the new layout.
SET time_zone = '+00:00';
SET sql_mode = '';
INSERT INTO all_types SELECT id + 100, c_tinyint, c_tinyint_u, c_smallint, c_smallint_u, c_mediumint,
  c_mediumint_u, c_int, c_int_u, c_bigint, c_bigint_u, c_bool, c_decimal, c_decimal0, c_float, c_double,
  c_bit1, c_bit12, c_date, c_datetime, c_datetime3, c_datetime6, c_timestamp, c_timestamp3, c_time,
  c_time6, c_year, c_char, c_varchar, c_text, c_latin1, c_binary, c_varbinary, c_blob, c_enum, c_set,
  c_json, c_point FROM all_types ORDER BY id;
UPDATE all_types SET c_int = c_int + 1, c_varchar = 'changed', c_set = 'b' WHERE id = 101;
DELETE FROM all_types WHERE id = 102;
ALTER TABLE all_types ADD COLUMN c_added varchar(10) DEFAULT 'new' AFTER c_int, DROP COLUMN c_blob;
INSERT INTO all_types (id, c_int, c_added) VALUES (200, 7, 'after');
UPDATE all_types SET c_added = 'upd' WHERE id = 103;
