import { randomBytes } from 'node:crypto';
import { Pool, type PoolConfig } from 'pg';

/** The PostgreSQL every outbox test uses: trust auth, user postgres, database `test`. */
export const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Host and port of PG_URL, for a TCP proxy in front of it. */
export function pgEndpoint(): { host: string; port: number } {
  const url = new URL(PG_URL);
  return { host: url.hostname, port: Number(url.port || 5432) };
}

/** A pool on PG_URL (or the same database through another port, e.g. a proxy's), with test-sized limits. */
export function pgPool(overrides: PoolConfig & { port?: number } = {}): Pool {
  const url = new URL(PG_URL);
  if (overrides.port !== undefined) url.port = String(overrides.port);
  const pool = new Pool({ max: 5, connectionTimeoutMillis: 2000, ...overrides, connectionString: url.toString() });
  // An idle client's failure is emitted on the pool; tests that cut connections expect them.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A schema of its own for one suite, dropped (with everything in it) by `drop()`:
 * tests of concurrent runs never see each other's tables.
 */
export async function testSchema(admin: Pool, prefix = 'outbox'): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `t_${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE SCHEMA "${name}"`);
  return { name, drop: async () => void (await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)) };
}
