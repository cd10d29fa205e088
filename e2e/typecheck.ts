// d1plus's declarations against @cloudflare/workers-types': a d1plus D1Database must be
// usable wherever code expects a D1 binding. `tsc -p tsconfig.json` fails if they drift.
import { D1Database as ShardedD1 } from "../js/d1plus.js";

declare const env: { SHARD_0: D1Database; SHARD_1: D1Database; D1PLUS_POLICY: string };

const sharded = ShardedD1.fromEnv(env, env.D1PLUS_POLICY);
export const asBinding: D1Database = sharded;
export const session: D1DatabaseSession = sharded.withSession("first-primary");
export const statement: D1PreparedStatement = sharded.prepare("SELECT 1").bind(1, "a", null);

export async function uses(db: D1Database): Promise<number> {
  const r: D1Result<{ n: number }> = await db.prepare("SELECT 1 AS n").all<{ n: number }>();
  const [cols, ...rows] = await db.prepare("SELECT 1").raw({ columnNames: true });
  const e: D1ExecResult = await db.exec("SELECT 1");
  return r.results[0].n + cols.length + rows.length + e.count;
}
export const used = uses(sharded);

// Realtime: changes() and its events, typed by row.
export async function follow(): Promise<string> {
  const { events, cursor } = await sharded.changes<{ tenantId: string; id: number }>({ tables: ["events"], key: "acme" });
  const first = events[0];
  if (first && first.op !== "delete" && first.row) return `${first.row.tenantId}/${first.row.id} ${first.cursor}`;
  return cursor;
}
