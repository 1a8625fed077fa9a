-- Tidemark / Debezium 3.6.3 golden workload: "pg-edge" (schema + seed rows, captured by the initial
-- snapshot). The streaming part (pg-edge-stream.sql) inserts the SAME rows again with ids +100, so
-- snapshot rendering (JDBC) and streaming rendering (pgoutput text) can be compared value by value.
-- See README.md ("pg-edge") and make-golden-pg-edge.sh for how tests/golden/dbz/pg-edge.jsonl is made.
DROP TABLE IF EXISTS edge;
DROP TYPE IF EXISTS mood;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');

CREATE TABLE edge (
  id           int PRIMARY KEY,
  c_date       date,
  c_time       time,
  c_time3      time(3),
  c_timetz     timetz,
  c_ts         timestamp,
  c_ts3        timestamp(3),
  c_tstz       timestamptz,
  c_tstz3      timestamptz(3),
  c_tstz0      timestamptz(0),
  c_interval   interval,
  c_num        numeric(10,3),
  c_num_u      numeric,
  c_money      money,
  c_real       real,
  c_double     double precision,
  c_bit4       bit(4),
  c_varbit     varbit,
  c_varbit5    varbit(5),
  c_int8_arr   int8[],
  c_float8_arr float8[],
  c_num_arr    numeric[],
  c_num62_arr  numeric(6,2)[],
  c_date_arr   date[],
  c_tstz_arr   timestamptz[],
  c_uuid_arr   uuid[],
  c_json_arr   json[],
  c_mood_arr   mood[],
  c_bpchar_arr bpchar(3)[],
  c_bool_arr   bool[],
  c_bytea_arr  bytea[],
  c_char1      char(1),
  c_ichar      "char",
  c_name       name,
  c_oid        oid,
  c_macaddr8   macaddr8,
  c_tsvector   tsvector,
  c_int4range  int4range,
  created      serial,
  d_text       text NOT NULL DEFAULT 'dflt',
  d_int        int DEFAULT 7,
  d_num        numeric(5,2) NOT NULL DEFAULT 1.5,
  d_ts         timestamptz DEFAULT now(),
  d_bool       boolean NOT NULL DEFAULT true
);
ALTER TABLE edge REPLICA IDENTITY FULL;

-- 1: typical values
INSERT INTO edge (id, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_tstz3, c_tstz0, c_interval, c_num, c_num_u, c_money, c_real, c_double, c_bit4, c_varbit, c_varbit5, c_int8_arr, c_float8_arr, c_num_arr, c_num62_arr, c_date_arr, c_tstz_arr, c_uuid_arr, c_json_arr, c_mood_arr, c_bpchar_arr, c_bool_arr, c_bytea_arr, c_char1, c_ichar, c_name, c_oid, c_macaddr8, c_tsvector, c_int4range, d_text, d_int, d_num, d_ts, d_bool) VALUES (1,
  '2024-02-29', '13:45:30.123456', '08:09:10.5', '12:34:56.789+05:30',
  '1965-03-04 05:06:07.123456', '2024-02-29 23:59:59.999', '2024-01-02 03:04:05.123456+02',
  '2024-01-02 03:04:05.123+02', '2024-01-02 03:04:05+02', '1 year 2 mons 3 days 04:05:06.789',
  -1234.567, 12345.6789, '1234.56', -3.14, 2.718281828459045,
  B'1010', B'1010101010101', B'101',
  '{1,-2,3000000000}', '{1.5,-2.25}', '{1.5,-2,3.14159}', '{1.50,-2.00}', '{2024-01-01,1969-07-20}',
  '{"2024-01-02 03:04:05.123456+02","1970-01-01 00:00:00+00"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
  ARRAY['{"a": 1}', '[1, 2]']::json[], '{sad,happy}', '{a,abc}', '{t,f}', '{"\\x00ff","\\xdeadbeef"}',
  'x', 'A', 'some_name', 12345, '08:00:2b:01:02:03:04:05', 'a fat cat sat', '[1,10)',
  'given', 42, 123.45, '2024-05-06 07:08:09.5+00', false);
-- 2: +infinity, NaN, 24:00:00, money min, tstz(3)/(0) fractions, timetz +05:45
INSERT INTO edge (id, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_tstz3, c_tstz0, c_interval, c_num, c_num_u, c_money, c_real, c_double, c_bit4, c_varbit, c_varbit5, c_int8_arr, c_float8_arr, c_num_arr, c_num62_arr, c_date_arr, c_tstz_arr, c_uuid_arr, c_json_arr, c_mood_arr, c_bpchar_arr, c_bool_arr, c_bytea_arr, c_char1, c_ichar, c_name, c_oid, c_macaddr8, c_tsvector, c_int4range, d_text, d_int, d_num, d_ts, d_bool) VALUES (2,
  'infinity', '24:00:00', '24:00:00', '12:34:56.789+05:45',
  'infinity', 'infinity', 'infinity', '2024-01-01 00:00:00.1+00', '2024-01-01 12:34:56.789+00', '1 year 2 mons',
  'NaN', 'NaN', '-92233720368547758.08', 'NaN', 'NaN',
  B'0000', B'', B'11111',
  '{-9223372036854775808,NULL,9223372036854775807}', '{NaN,Infinity,-Infinity,-0}', '{1.500,100,0.000,NaN}', '{1.5,100,0}',
  '{infinity,-infinity,NULL}', '{infinity,-infinity}', '{00000000-0000-0000-0000-000000000000,NULL}',
  ARRAY['"s"', 'null', NULL]::json[], '{ok,NULL}', '{"",NULL,"a b"}', '{NULL,t}', '{"\\x",NULL}',
  ' ', E'\\001', '', 0, '00:00:00:00:00:00:00:00', '', 'empty',
  DEFAULT, DEFAULT, DEFAULT, 'infinity', DEFAULT);
-- 3: -infinity, numeric Infinity, trailing zeros, money max, ISO interval
INSERT INTO edge (id, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_tstz3, c_tstz0, c_interval, c_num, c_num_u, c_money, c_real, c_double, c_bit4, c_varbit, c_varbit5, c_int8_arr, c_float8_arr, c_num_arr, c_num62_arr, c_date_arr, c_tstz_arr, c_uuid_arr, c_json_arr, c_mood_arr, c_bpchar_arr, c_bool_arr, c_bytea_arr, c_char1, c_ichar, c_name, c_oid, c_macaddr8, c_tsvector, c_int4range, d_text, d_int, d_num, d_ts, d_bool) VALUES (3,
  '-infinity', '00:00:00', '00:00:00.001', '00:00:00.000001-03:30',
  '-infinity', '-infinity', '-infinity', '1969-12-31 23:59:59.999+00', '1969-12-31 23:59:59.5+00', 'P-1Y-2M3DT-4H',
  1.500, 'Infinity', '92233720368547758.07', 'Infinity', '-Infinity',
  B'1111', B'0', B'0',
  '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
  'Z', 'z', 'name_with_63_chars_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 4294967295, 'ff:ff:ff:ff:ff:ff:ff:ff', 'the quick brown fox quick', '(,)',
  '', -2147483648, -999.99, '-infinity', DEFAULT);
-- 4: numeric 100, real/double -0.0, money 0, interval 1 µs, epoch, timetz +14:59
INSERT INTO edge (id, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_tstz3, c_tstz0, c_interval, c_num, c_num_u, c_money, c_real, c_double, c_bit4, c_varbit, c_varbit5, c_int8_arr, c_float8_arr, c_num_arr, c_num62_arr, c_date_arr, c_tstz_arr, c_uuid_arr, c_json_arr, c_mood_arr, c_bpchar_arr, c_bool_arr, c_bytea_arr, c_char1, c_ichar, c_name, c_oid, c_macaddr8, c_tsvector, c_int4range, d_text, d_int, d_num, d_ts, d_bool) VALUES (4,
  '1970-01-01', '23:59:59.999999', '23:59:59.999', '23:59:59.999999+14:59',
  '1970-01-01 00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1970-01-01 00:00:00+00', '1970-01-01 00:00:00+00', '00:00:00.000001',
  100, 100, '0', '-0.0', '-0.0',
  B'0001', B'1', B'1',
  '{0}', '{1e-10,123456789.0}', '{-Infinity,Infinity}', '{0.01}', '{0001-01-01}', '{"0001-01-01 00:00:00+00"}', '{ffffffff-ffff-ffff-ffff-ffffffffffff}',
  ARRAY['{}']::json[], '{happy,sad,ok}', '{abc,xy}', '{f}', '{"\\x00"}',
  'é', '0', 'x', 1, '01:23:45:67:89:ab:cd:ef', 'a:1A b:2B', 'empty',
  'a', 0, 0, '1970-01-01 00:00:00+00', true);
-- 5: numeric 0.000, real 1e-10, double 123456789.0, interval -1 days, year 1 / 4713 BC / 2262 / 9999, 72-bit varbit, arrays {NULL}
INSERT INTO edge (id, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_tstz3, c_tstz0, c_interval, c_num, c_num_u, c_money, c_real, c_double, c_bit4, c_varbit, c_varbit5, c_int8_arr, c_float8_arr, c_num_arr, c_num62_arr, c_date_arr, c_tstz_arr, c_uuid_arr, c_json_arr, c_mood_arr, c_bpchar_arr, c_bool_arr, c_bytea_arr, c_char1, c_ichar, c_name, c_oid, c_macaddr8, c_tsvector, c_int4range, d_text, d_int, d_num, d_ts, d_bool) VALUES (5,
  '0001-01-01', '00:00:00.5', '00:00:00.0005', '23:59:59-12',
  '0001-01-01 00:00:00', '4713-01-01 00:00:00 BC', '0001-01-01 00:00:00+00', '2262-04-11 23:47:16.854775+00', '9999-12-31 23:59:59.4+00', '-1 days',
  0.000, 0.000, '-1234.5', 1e-10, 123456789.0,
  B'0101', B'000000000000000000000000000000000000000000000000000000000000000000000001', B'00000',
  '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}',
  '0', '\', 'Ünïcode', 2147483648, '00:11:22:33:44:55:66:77', 'x', '[-5,5]',
  'b', 1, 1.5, '2024-06-01 00:00:00+00', false);
-- 6: numeric -0.001, numeric -Infinity, real 123456789.0, double 1e-10, tstz(0) .999 rounding
INSERT INTO edge (id, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_tstz3, c_tstz0, c_interval, c_num, c_num_u, c_money, c_real, c_double, c_bit4, c_varbit, c_varbit5, c_int8_arr, c_float8_arr, c_num_arr, c_num62_arr, c_date_arr, c_tstz_arr, c_uuid_arr, c_json_arr, c_mood_arr, c_bpchar_arr, c_bool_arr, c_bytea_arr, c_char1, c_ichar, c_name, c_oid, c_macaddr8, c_tsvector, c_int4range, d_text, d_int, d_num, d_ts, d_bool) VALUES (6,
  '2000-01-01', '12:00:00', '12:00:00', '12:00:00+00',
  '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00.001', '2000-01-01 00:00:00.000001+00', '2000-01-01 00:00:00.001+00', '2000-01-01 00:00:00.999+00', '-1 days -00:00:00.000001',
  -0.001, '-Infinity', '0.01', 123456789.0, 1e-10,
  B'1000', B'10', B'10',
  '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
  'a', 'a', 'n', 4294967294, '00:00:00:00:00:00:00:01', 'fat:1 cat:2', '[,5)',
  'c', 2, 2.5, '2024-06-01 00:00:00+05:45', true);
-- unconstrained numeric: trailing zeros / exponent input, everything else NULL except NOT NULL defaults
INSERT INTO edge (id, c_num_u, c_num, d_int, d_ts) VALUES (7, '1.500', '1.500', NULL, NULL);
INSERT INTO edge (id, c_num_u, c_num, d_int, d_ts) VALUES (8, '100', '100', NULL, NULL);
INSERT INTO edge (id, c_num_u, c_num, d_int, d_ts) VALUES (9, '0.000', '0.000', NULL, NULL);
INSERT INTO edge (id, c_num_u, c_num, d_int, d_ts) VALUES (10, '1.50E+2', '1.50E+2', NULL, NULL);
INSERT INTO edge (id, c_num_u, c_num, d_int, d_ts) VALUES (11, '-0.0000', '-0.0000', NULL, NULL);
INSERT INTO edge (id, c_num_u, d_int, d_ts) VALUES (12, '123456789012345678901234567890.123456789', NULL, NULL);
-- 13: every nullable column NULL (created/d_text/d_num/d_bool are NOT NULL -> their defaults)
INSERT INTO edge (id, d_int, d_ts) VALUES (13, NULL, NULL);
-- 14: every column defaulted (d_ts = now(): run-dependent)
INSERT INTO edge (id) VALUES (14);
