-- Snapshot part of the MariaDB basic workload (copy of the oracle's workload-maria.sql)
DROP TABLE IF EXISTS customers;
DROP TABLE IF EXISTS scratch;
CREATE TABLE customers (
  id int AUTO_INCREMENT PRIMARY KEY,
  name varchar(100),
  email varchar(200),
  balance decimal(12,2),
  tags json,
  data json,
  created_at timestamp(6) NULL,
  active boolean,
  photo blob
);
CREATE TABLE scratch (id int PRIMARY KEY, note text);
INSERT INTO customers (name, email, balance, tags, data, created_at, active, photo) VALUES
  ('Alice', 'alice@example.com', 100.50, '["vip","eu"]', '{"age": 30, "city": "Paris"}', '2024-01-02 03:04:05.123456', true, x'deadbeef'),
  ('Bob',   'bob@example.com',   -7.25,  '[]', '{"nested": {"a": [1,2,3]}}', '2023-12-31 21:59:59', false, NULL);
INSERT INTO scratch VALUES (1, 'one'), (2, 'two');
