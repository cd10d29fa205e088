-- policy: {"name": "northwind", "capacity": {"mode": "manual", "targetShardCount": 1}, "sharding": {"tables": [{"name": "orders", "keyColumn": "customerId"}, {"name": "order_details", "keyColumn": "customerId"}], "reference": ["products", "categories"]}}
CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, categoryId INTEGER, unitPrice REAL NOT NULL);
CREATE TABLE orders (customerId TEXT NOT NULL, id INTEGER NOT NULL, orderDate TEXT NOT NULL, shipCountry TEXT, freight REAL, PRIMARY KEY (customerId, id));
CREATE TABLE order_details (customerId TEXT NOT NULL, orderId INTEGER NOT NULL, productId INTEGER NOT NULL, quantity INTEGER NOT NULL, discount REAL NOT NULL DEFAULT 0, PRIMARY KEY (customerId, orderId, productId));
INSERT INTO categories VALUES (1, 'Beverages'), (2, 'Condiments'), (3, 'Seafood');
INSERT INTO products VALUES (1, 'Chai', 1, 18.0), (2, 'Chang', 1, 19.0), (3, 'Aniseed Syrup', 2, 10.0), (4, 'Ikura', 3, 31.0), (5, 'Konbu', 3, 6.0);
INSERT INTO orders VALUES ('ALFKI', 1, '2024-01-03', 'Germany', 29.5), ('ALFKI', 2, '2024-02-11', 'Germany', 61.0),
  ('ANATR', 3, '2024-01-20', 'Mexico', 1.25), ('BONAP', 4, '2024-03-02', 'France', 7.5), ('BONAP', 5, '2024-03-09', 'France', NULL),
  ('QUICK', 6, '2024-02-28', 'Germany', 210.0), ('QUICK', 7, '2024-03-15', 'Germany', 3.75);
INSERT INTO order_details VALUES ('ALFKI', 1, 1, 10, 0), ('ALFKI', 1, 4, 2, 0.1), ('ALFKI', 2, 2, 5, 0), ('ANATR', 3, 3, 12, 0.05),
  ('BONAP', 4, 5, 30, 0), ('BONAP', 5, 1, 1, 0), ('QUICK', 6, 4, 20, 0.2), ('QUICK', 6, 2, 8, 0), ('QUICK', 7, 3, 3, 0);
-- Revenue per country (fan-out aggregate with a reference join).
-- ordered
SELECT o.shipCountry, count(DISTINCT o.id) AS orders, round(sum(d.quantity * p.unitPrice * (1 - d.discount)), 2) AS revenue
FROM orders o JOIN order_details d ON d.customerId = o.customerId AND d.orderId = o.id JOIN products p ON p.id = d.productId
GROUP BY o.shipCountry ORDER BY revenue DESC, o.shipCountry;
-- Top products by quantity.
-- ordered
SELECT p.name, c.name AS category, sum(d.quantity) AS qty FROM order_details d JOIN products p ON p.id = d.productId
JOIN categories c ON c.id = p.categoryId GROUP BY p.name, c.name HAVING sum(d.quantity) >= 10 ORDER BY qty DESC, p.name LIMIT 3;
-- A page of orders.
-- params: [2, 2]
-- ordered
SELECT customerId, id, orderDate FROM orders ORDER BY orderDate DESC, id LIMIT ? OFFSET ?;
-- LIKE search over all customers.
-- ordered
SELECT customerId, id FROM orders WHERE shipCountry LIKE 'G%' AND orderDate BETWEEN '2024-01-01' AND '2024-02-29' ORDER BY id;
-- Freight statistics, NULLs ignored by the aggregates.
SELECT count(*), count(freight), min(freight), max(freight), avg(freight), total(freight) FROM orders;
-- One customer's order history (single shard).
-- params: ["QUICK"]
-- ordered
SELECT o.id, sum(d.quantity) FROM orders o JOIN order_details d ON d.customerId = o.customerId AND d.orderId = o.id WHERE o.customerId = ? GROUP BY o.id ORDER BY o.id;
-- Monthly order counts.
-- ordered
SELECT substr(orderDate, 1, 7) AS month, count(*) AS n FROM orders GROUP BY month ORDER BY month;
