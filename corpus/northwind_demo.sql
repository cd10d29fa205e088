-- policy: {"name": "northwind-demo", "capacity": {"mode": "manual", "targetShardCount": 1}, "sharding": {"tables": [{"name": "Order", "keyColumn": "Id"}, {"name": "OrderDetail", "keyColumn": "OrderId"}], "reference": ["Product", "Customer"]}}
-- The shapes of Cloudflare's Northwind D1 demo (worker/src/index.ts), with `Order` sharded by
-- Id and `OrderDetail` by OrderId: its orders page groups by the shard key, so every group
-- lives on one shard and its bare columns come from that shard's rows.
CREATE TABLE "Customer" (Id TEXT PRIMARY KEY, CompanyName TEXT, ContactName TEXT, Country TEXT);
CREATE TABLE "Product" (Id INTEGER PRIMARY KEY, ProductName TEXT, UnitPrice DECIMAL NOT NULL DEFAULT 0);
CREATE TABLE "Order" (Id INTEGER PRIMARY KEY, CustomerId TEXT, EmployeeId INTEGER, OrderDate TEXT, RequiredDate TEXT,
  ShippedDate TEXT, ShipVia INTEGER, Freight DECIMAL NOT NULL DEFAULT 0, ShipName TEXT, ShipCity TEXT, ShipCountry TEXT);
CREATE TABLE "OrderDetail" (Id TEXT PRIMARY KEY, OrderId INTEGER NOT NULL, ProductId INTEGER NOT NULL,
  UnitPrice DECIMAL NOT NULL, Quantity INTEGER NOT NULL, Discount DOUBLE NOT NULL);
INSERT INTO Customer VALUES ('ALFKI', 'Alfreds Futterkiste', 'Maria Anders', 'Germany'),
  ('ANATR', 'Ana Trujillo Emparedados', 'Ana Trujillo', 'Mexico'), ('BONAP', 'Bon app''', 'Laurence Lebihan', 'France');
INSERT INTO Product VALUES (1, 'Chai', 18), (2, 'Chang', 19), (3, 'Aniseed Syrup', 10), (11, 'Queso Cabrales', 21);
INSERT INTO "Order" VALUES
  (10248, 'ALFKI', 5, '2012-07-04', '2012-08-01', '2012-07-16', 3, 16.75, 'Vins et alcools', 'Reims', 'France'),
  (10249, 'ANATR', 6, '2012-07-05', '2012-08-16', '2012-07-10', 1, 22.25, 'Toms Spezialitäten', 'Münster', 'Germany'),
  (10250, 'BONAP', 4, '2012-07-08', '2012-08-05', NULL, 2, 65.83, 'Hanari Carnes', 'Rio de Janeiro', 'Brazil'),
  (10251, 'ALFKI', 3, '2012-07-08', '2012-08-05', '2012-07-15', 1, 41.34, 'Victuailles en stock', 'Lyon', 'France'),
  (10252, 'BONAP', 4, '2012-07-09', '2012-08-06', '2012-07-11', 2, 51.3, 'Suprêmes délices', 'Charleroi', 'Belgium'),
  (10253, 'ANATR', 3, '2012-07-10', '2012-07-24', '2012-07-16', 2, 58.17, 'Hanari Carnes', 'Rio de Janeiro', 'Brazil');
INSERT INTO OrderDetail VALUES ('10248/11', 10248, 11, 14, 12, 0), ('10248/1', 10248, 1, 9.8, 10, 0),
  ('10249/2', 10249, 2, 18.6, 9, 0), ('10249/3', 10249, 3, 42.4, 40, 0.05),
  ('10250/1', 10250, 1, 7.7, 10, 0), ('10250/11', 10250, 11, 42.4, 35, 0.15), ('10250/2', 10250, 2, 16.8, 15, 0.15),
  ('10251/3', 10251, 3, 16.8, 6, 0.05), ('10252/1', 10252, 1, 64.8, 40, 0.05), ('10253/2', 10253, 2, 10, 20, 0);

-- The orders page (with an ORDER BY, so the page is one answer).
-- params: [3, 1]
-- ordered
SELECT SUM(OrderDetail.UnitPrice * OrderDetail.Discount * OrderDetail.Quantity) AS TotalProductsDiscount,
  SUM(OrderDetail.UnitPrice * OrderDetail.Quantity) AS TotalProductsPrice, SUM(OrderDetail.Quantity) AS TotalProductsItems,
  COUNT(OrderDetail.OrderId) AS TotalProducts, "Order".Id, CustomerId, OrderDate, RequiredDate, ShippedDate, ShipVia,
  Freight, ShipName, ShipCity, ShipCountry
FROM "Order", OrderDetail WHERE OrderDetail.OrderId = "Order".Id GROUP BY "Order".Id ORDER BY "Order".Id LIMIT ?1 OFFSET ?2;

-- The whole list, bare columns and all.
SELECT SUM(OrderDetail.UnitPrice * OrderDetail.Quantity) AS TotalProductsPrice, "Order".Id, CustomerId, ShipName
FROM "Order", OrderDetail WHERE OrderDetail.OrderId = "Order".Id GROUP BY "Order".Id;

-- The order page: one order, its details with product names.
-- params: [10250]
-- ordered
SELECT OrderDetail.OrderId, OrderDetail.Quantity, OrderDetail.UnitPrice AS OrderUnitPrice, OrderDetail.Discount,
  Product.Id AS ProductId, ProductName FROM Product, OrderDetail
WHERE OrderDetail.OrderId = ? AND OrderDetail.ProductId = Product.Id ORDER BY Product.Id;

-- Totals per order, biggest first, with the order's customer from a reference table.
-- ordered
SELECT o.Id, c.CompanyName, count(*) AS lines, round(sum(d.UnitPrice * d.Quantity * (1 - d.Discount)), 2) AS net
FROM "Order" o JOIN OrderDetail d ON d.OrderId = o.Id JOIN Customer c ON c.Id = o.CustomerId
GROUP BY o.Id HAVING count(*) > 1 ORDER BY net DESC, o.Id;

-- Grouped by something else than the key: merged as partials.
-- ordered
SELECT CustomerId, count(*), sum(Freight) FROM "Order" GROUP BY CustomerId ORDER BY 1;
