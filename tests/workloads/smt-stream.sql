-- Streaming part of the SMT workload (run while Debezium streams; see make-golden-smt.sh).
-- Raw Debezium events (no SMT): customers c, c, u, PK update (d + tombstone + c), d + tombstone;
-- orders c, u, d + tombstone; outbox c, c; orders truncate (t, needs skipped.operations=none) = 15.
INSERT INTO customers (name, email, balance, created_at, updated_at, active, tenant) VALUES
  ('Carol', 'carol@example.com', 0.00, '2024-06-01 12:00:00+00', '2024-06-01 12:00:00', true, 'acme');
INSERT INTO customers (name, email, balance, created_at, updated_at, active, tenant) VALUES
  ('Dan', NULL, NULL, NULL, NULL, NULL, 'globex');
UPDATE customers SET email = 'alice@new.example.com' WHERE id = 1;
UPDATE customers SET id = 100 WHERE id = 2;
DELETE FROM customers WHERE id = 4;
INSERT INTO orders VALUES (3, 3, 42.00, '2024-06-02 08:15:00+00');
UPDATE orders SET total = 25.00 WHERE id = 1;
DELETE FROM orders WHERE id = 2;
INSERT INTO outbox VALUES
  ('0f5b4d52-3c2a-4c8e-9a57-1b2d3c4e5f60', 'Order', '3', 'OrderCreated', '{"id": 3, "total": 42.00, "lines": [{"sku": "A-1", "qty": 2}]}');
INSERT INTO outbox VALUES
  ('7a1e2f3d-4b5c-4d6e-8f90-a1b2c3d4e5f6', 'Customer', '1', 'CustomerEmailChanged', '{"id": 1, "email": "alice@new.example.com"}');
TRUNCATE orders;
