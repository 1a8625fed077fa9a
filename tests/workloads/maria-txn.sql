-- Transaction metadata workload (provide.transaction.metadata=true): snapshot part.
DROP TABLE IF EXISTS customers;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS ignored;
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, qty int);
-- In the captured database but not in table.include.list.
CREATE TABLE ignored (id int PRIMARY KEY);
INSERT INTO customers VALUES (1, 'Alice'), (2, 'Bob');
INSERT INTO orders VALUES (1, 1, 10), (2, 2, 20);
