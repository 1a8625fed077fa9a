-- Tidemark / Debezium 3.6.3 golden workload: "pg-types" (schema + seed rows).
-- Everything here exists before Debezium starts, so it is captured by the initial snapshot.
-- The streaming part is pg-types-stream.sql. See README.md for how the golden files are made.
DROP TABLE IF EXISTS all_types, toasty, ri_default, nopk;
DROP DOMAIN IF EXISTS posint;
DROP TYPE IF EXISTS mood;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);

CREATE TABLE all_types (
  id          int PRIMARY KEY,
  c_smallint  smallint,
  c_int       integer,
  c_bigint    bigint,
  c_real      real,
  c_double    double precision,
  c_numeric   numeric(10,3),
  c_numeric_u numeric,
  c_money     money,
  c_bool      boolean,
  c_text      text,
  c_varchar   varchar(20),
  c_char      char(5),
  c_bytea     bytea,
  c_date      date,
  c_time      time,
  c_time3     time(3),
  c_timetz    timetz,
  c_ts        timestamp,
  c_ts3       timestamp(3),
  c_tstz      timestamptz,
  c_interval  interval,
  c_uuid      uuid,
  c_json      json,
  c_jsonb     jsonb,
  c_xml       xml,
  c_int_arr   int[],
  c_text_arr  text[],
  c_enum      mood,
  c_domain    posint,
  c_inet      inet,
  c_cidr      cidr,
  c_macaddr   macaddr,
  c_bit1      bit(1),
  c_bit8      bit(8),
  c_varbit    varbit(16),
  c_hstore    hstore,
  c_point     point
);
ALTER TABLE all_types REPLICA IDENTITY FULL;

-- 1: typical values (negatives, fractional seconds, pre-1970 dates, multi-byte text)
INSERT INTO all_types VALUES (
  1, -12, -123456, -9876543210, -3.14, 2.718281828459045, -1234.567, 12345.6789012345, '-1234.56',
  true, 'héllo wörld — 日本語 🎉', 'ünïcødé', 'ab', '\x00ff10deadbeef',
  '1969-07-20', '13:45:30.123456', '08:09:10.5', '12:34:56.789+05:30',
  '1965-03-04 05:06:07.123456', '2024-02-29 23:59:59.999', '2024-01-02 03:04:05.123456+02',
  '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"a": 1,  "b": [true, null], "s": "x"}', '{"b": [1, 2.5, "three"], "a": {"n": null}}',
  '<root attr="1"><child>text ü</child></root>', '{1,-2,3}', '{"a",NULL,"b c","d,e"}',
  'happy', 42, '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
  B'1', B'10100101', B'101', '"a"=>"1", "b"=>NULL, "k é"=>"v"', '(1.5,-2.25)');

-- 2: every nullable column NULL
INSERT INTO all_types (id) VALUES (2);

-- 3: edge values (extremes, infinities, empty arrays/strings/bytea, big numerics)
INSERT INTO all_types VALUES (
  3, -32768, 2147483647, -9223372036854775808, 3.4028235e38, -1.7976931348623157e308,
  9999999.999, 123456789012345678901234567890.123456789012345678901234567890, '92233720368547758.07',
  false, '', '', '', '\x',
  '0001-01-01', '00:00:00', '23:59:59.999', '23:59:59.999999-14:59',
  'infinity', '-infinity', 'infinity',
  '-178000000 years', '00000000-0000-0000-0000-000000000000',
  '{}', '[]', '<empty/>', '{}', '{}',
  'sad', 2147483647, '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff',
  B'0', B'00000000', B'', '', '(0,0)');

-- 4: special floating values and other corner cases
INSERT INTO all_types VALUES (
  4, 0, 0, 0, 'NaN', '-Infinity', -0.001, 'NaN', '0',
  NULL, E'tab\there\nnewline "quote" \\ backslash', 'x', 'äöü', '\x00',
  '-infinity', '24:00:00', '00:00:00.001', '00:00:00+00', '1900-01-01 00:00:00.000001',
  '1969-12-31 23:59:59.999', '1969-12-31 23:59:59.999999+00',
  '-1 days -02:03:04.000005', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '"just a string"', 'null', '<a>&amp;&lt;</a>', '{NULL,0}', '{""}',
  'ok', 1, '0.0.0.0', '0.0.0.0/0', '00:00:00:00:00:00',
  B'1', B'11111111', B'1111111111111111', '"x"=>""', '(-1e-7,1e10)');

-- tables for the streaming part
CREATE TABLE toasty (id int PRIMARY KEY, big text, small int);          -- REPLICA IDENTITY DEFAULT
CREATE TABLE ri_default (id int PRIMARY KEY, a text, b int);            -- REPLICA IDENTITY DEFAULT
INSERT INTO ri_default VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 30);
CREATE TABLE nopk (a int, b text);
ALTER TABLE nopk REPLICA IDENTITY FULL;
INSERT INTO nopk VALUES (1, 'first'), (2, 'second');
