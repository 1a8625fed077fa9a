-- Transaction metadata workload: streaming part. Each block is one transaction.
BEGIN;
INSERT INTO customers VALUES (3, 'Carol');
INSERT INTO orders VALUES (3, 3, 1), (4, 3, 2);
COMMIT;
-- A single-statement transaction.
UPDATE customers SET name = 'Bobby' WHERE id = 2;
-- Update, delete (with its tombstone) and a primary-key change (d + tombstone + c).
BEGIN;
UPDATE orders SET qty = 5 WHERE id = 1;
DELETE FROM orders WHERE id = 2;
UPDATE customers SET id = 10 WHERE id = 1;
COMMIT;
-- Only a table that is not captured.
INSERT INTO ignored VALUES (1);
-- A captured and an uncaptured table.
BEGIN;
INSERT INTO ignored VALUES (2);
INSERT INTO customers VALUES (4, 'Dan');
COMMIT;
-- DDL (its own GTID, no XID) on a table that is not captured.
ALTER TABLE ignored ADD COLUMN v int;
-- Many events of one table in one transaction.
INSERT INTO orders VALUES (100, 4, 100), (101, 4, 101), (102, 4, 102), (103, 4, 103), (104, 4, 104);
