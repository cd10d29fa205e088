-- policy: {"name": "orm", "capacity": {"mode": "manual", "targetShardCount": 1}, "sharding": {"tables": [{"name": "users", "keyColumn": "tenant_id"}, {"name": "posts", "keyColumn": "tenant_id"}]}}
-- SQL exactly as drizzle-orm/d1 and kysely-d1 generate it (quoted identifiers, lower-case keywords).
create table "users" ("id" integer primary key autoincrement, "tenant_id" text not null, "name" text not null, "email" text, "created_at" integer not null default (0));
create unique index "users_tenant_email" on "users" ("tenant_id", "email");
create table "posts" ("id" integer not null, "tenant_id" text not null, "author_id" integer not null, "title" text not null, "published" integer default 0, primary key ("tenant_id", "id"));
-- Drizzle: db.insert(users).values([...]).returning()
-- params: [1, "t1", "Ada", "ada@x.io", 10, 2, "t2", "Bob", "bob@x.io", 20, 3, "t1", "Cy", null, 30]
insert into "users" ("id", "tenant_id", "name", "email", "created_at") values (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?) returning "id", "tenant_id", "name", "email", "created_at";
-- params: [1, "t1", 1, "Hello", 1, 2, "t1", 3, "Draft", 0, 1, "t2", 2, "Hi", 1]
insert into "posts" ("id", "tenant_id", "author_id", "title", "published") values (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?);
-- Drizzle: db.select().from(users).where(eq(users.tenantId, 't1')).orderBy(desc(users.createdAt)).limit(10)
-- params: ["t1", 10]
-- ordered
select "id", "tenant_id", "name", "email", "created_at" from "users" where "users"."tenant_id" = ? order by "users"."created_at" desc limit ?;
-- Drizzle relational join
-- params: ["t1", 1]
-- ordered
select "posts"."id", "posts"."title", "users"."name" from "posts" inner join "users" on ("posts"."tenant_id" = "users"."tenant_id" and "posts"."author_id" = "users"."id") where ("posts"."tenant_id" = ? and "posts"."published" = ?) order by "posts"."id";
-- Kysely: selectFrom('users').selectAll().where('tenant_id', '=', t).orderBy('created_at', 'desc').limit(n).offset(m)
-- params: ["t1", 1, 1]
-- ordered
select * from "users" where "tenant_id" = ? order by "created_at" desc limit ? offset ?;
-- Kysely: count per tenant across all tenants
-- ordered
select "tenant_id", count("id") as "count" from "users" group by "tenant_id" order by "tenant_id";
-- Drizzle: update ... set ... where ... returning
-- params: ["Ada L.", "t1", 1]
update "users" set "name" = ? where ("users"."tenant_id" = ? and "users"."id" = ?) returning "id", "name";
-- Drizzle: onConflictDoUpdate
-- params: [2, "t1", 3, "Draft v2", 0]
insert into "posts" ("id", "tenant_id", "author_id", "title", "published") values (?, ?, ?, ?, ?) on conflict ("tenant_id", "id") do update set "title" = excluded."title";
-- Kysely: delete by key
-- params: ["t2", 1]
delete from "posts" where "tenant_id" = ? and "id" = ?;
-- Drizzle's migrator and introspection
select name, sql from sqlite_master where type = 'table' and name not like 'sqlite_%';
-- ordered
select * from pragma_table_info('users') order by cid;
