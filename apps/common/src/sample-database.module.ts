import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { applyOutboxMigration } from '@warren/rabbitmq/outbox';
import { Pool } from 'pg';
import { maskUrl, type SampleConfig } from './sample-config';
import { sampleNames } from './sample-names';

/** The node-postgres pool of a service that writes orders and their events (orders, payments). */
export const ORDERS_DB = Symbol('ORDERS_DB');

/** Thrown at start-up when PostgreSQL does not answer; says what to do. */
export class DatabaseUnavailableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(
      `PostgreSQL does not answer at ${maskUrl(url)} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Start one ('pg_ctlcluster 15 main start' or 'docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16') or set DATABASE_URL.`,
      { cause },
    );
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * Connects and brings the schema up to date: the orders table and the outbox table. In the
 * sample this is the deploy step, run by each service that writes there before it serves (under
 * an advisory lock: services start side by side); a real deployment runs the same statements from
 * its migration tool (the outbox's are in @warren/rabbitmq/migrations/outbox.sql).
 */
async function connect(config: SampleConfig, service: string): Promise<Pool> {
  const { database } = sampleNames(config.namespace);
  const pool = new Pool({ connectionString: config.databaseUrl, max: 10, connectionTimeoutMillis: 3000, application_name: `${service}@${config.instanceId}` });
  // An idle connection's failure is emitted on the pool; the next query reports it.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [database.schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${database.schema}"`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${database.orders} (id text PRIMARY KEY, customer_id text NOT NULL, total_cents integer NOT NULL, ` +
          `state text NOT NULL, payment_id text, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      await applyOutboxMigration(client, { table: database.outbox });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseUnavailableError(config.databaseUrl, error);
  }
  return pool;
}

/** Closes the pool last, after the outbox relay has stopped. */
@Injectable()
class PoolCloser implements OnApplicationShutdown {
  constructor(@Inject(ORDERS_DB) private readonly pool: Pool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

@Global()
@Module({})
export class SampleDatabaseModule {
  static forRoot(config: SampleConfig, service: string): DynamicModule {
    return {
      module: SampleDatabaseModule,
      providers: [{ provide: ORDERS_DB, useFactory: () => connect(config, service) }, PoolCloser],
      exports: [ORDERS_DB],
    };
  }
}
