-- Streaming part of the MariaDB basic workload (copy of the oracle's workload-maria-stream.sql)
INSERT INTO customers (name, email, balance, tags, data, created_at, active, photo) VALUES
  ('Carol', 'carol@example.com', 0.00, '["new"]', '{"k": "v"}', '2024-06-01 12:00:00', true, x'00ff10'),
  ('Dan', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('Ève ünïcødé "quoted"', 'eve@example.com', 9999999999.99, '["a,b","c\\"d"]', '[1, "two", null, true]', '2038-01-19 03:14:07', true, x'');
UPDATE customers SET balance = balance + 1, active = NOT active WHERE name = 'Alice';
UPDATE customers SET id = 100 WHERE name = 'Bob';
DELETE FROM customers WHERE name = 'Dan';
BEGIN;
INSERT INTO scratch VALUES (3, 'three');
UPDATE scratch SET note = 'TWO' WHERE id = 2;
COMMIT;
TRUNCATE scratch;
