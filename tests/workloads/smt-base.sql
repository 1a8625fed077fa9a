-- Snapshot part of the SMT workload (Debezium golden files tests/golden/dbz/smt-*.jsonl).
-- Loaded before Debezium starts; captured by the initial snapshot (4 `r` events; outbox is empty).
DROP TABLE IF EXISTS customers;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS outbox;
CREATE TABLE customers (
  id serial PRIMARY KEY,
  name text,
  email text,
  balance numeric(10,2),
  created_at timestamptz,
  updated_at timestamp,
  active boolean,
  tenant text
);
ALTER TABLE customers REPLICA IDENTITY FULL;
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int,
  total numeric(10,2),
  placed_at timestamptz
);
CREATE TABLE outbox (
  id uuid PRIMARY KEY,
  aggregatetype text,
  aggregateid text,
  type text,
  payload jsonb
);
INSERT INTO customers (name, email, balance, created_at, updated_at, active, tenant) VALUES
  ('Alice', 'alice@example.com', 100.50, '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.123456', true,  'acme'),
  ('Bob',   'bob@example.com',   -7.25,  '2023-12-31 23:59:59+02',        '2023-12-31 23:59:59',        false, 'globex');
INSERT INTO orders VALUES
  (1, 1, 19.99, '2024-02-01 10:00:00+00'),
  (2, 2, 5.00,  '2024-02-02 11:30:00.5+00');
